namespace LlmRouter;

/// <summary>
/// The names to subscribe to for LlmRouter's OpenTelemetry traces and metrics:
/// <c>tracing.AddSource(LlmRouterTelemetry.ActivitySourceName)</c> and <c>metrics.AddMeter(LlmRouterTelemetry.MeterName)</c>.
/// </summary>
/// <remarks>
/// Every request gets one span (<c>chat {route}</c>) with a child span per provider attempt (<c>attempt {deployment}</c>);
/// M.E.AI's <c>UseOpenTelemetry</c> around a provider client nests its own span under the attempt. docs/observability.md
/// lists every span, attribute and instrument. Nothing is recorded, and nothing allocated for it, while nobody listens.
/// </remarks>
public static class LlmRouterTelemetry
{
    /// <summary>The name of the <see cref="System.Diagnostics.ActivitySource"/> of request and attempt spans.</summary>
    public const string ActivitySourceName = "LlmRouter";

    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> of every LlmRouter instrument.</summary>
    public const string MeterName = "LlmRouter";
}
