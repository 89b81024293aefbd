using LlmRouter;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the LlmRouter health check to an <see cref="IHealthChecksBuilder"/>.</summary>
public static class LlmRouterHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds an <see cref="LlmRouterHealthCheck"/> over the <see cref="LlmRouterChatClient"/> registered by
    /// <c>services.AddLlmRouter(...)</c>: healthy when every deployment of every route is available, degraded when some
    /// are not, <paramref name="failureStatus"/> when some route has none left.
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="name">The check's name. Default: "llmrouter".</param>
    /// <param name="failureStatus">The status reported when some route has no deployment available. Default: <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks (for example "ready").</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddLlmRouter(this IHealthChecksBuilder builder, string name = "llmrouter", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new LlmRouterHealthCheck(sp.GetRequiredService<LlmRouterChatClient>()),
            failureStatus,
            tags));
    }
}
