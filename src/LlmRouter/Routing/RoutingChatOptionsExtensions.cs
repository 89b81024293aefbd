using LlmRouter.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>Typed access to LlmRouter's per-request settings on <see cref="ChatOptions"/> and to its report on responses.</summary>
public static class RoutingChatOptionsExtensions
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key of <see cref="RouteConstraints"/>. The router strips it before calling a provider.</summary>
    internal const string ConstraintsKey = "llmrouter.constraints";

    /// <summary>The <see cref="AdditionalPropertiesDictionary"/> key of the <see cref="RoutingReport"/> on responses and updates.</summary>
    internal const string ReportKey = "llmrouter.report";

    /// <summary>Attaches routing constraints to the options and returns the same options, for chaining.</summary>
    /// <param name="options">The request's options.</param>
    /// <param name="constraints">The constraints.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithRouteConstraints(this ChatOptions options, RouteConstraints constraints)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(constraints);
        (options.AdditionalProperties ??= [])[ConstraintsKey] = constraints;
        return options;
    }

    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key of the affinity key. The router strips it before calling a provider.</summary>
    internal const string AffinityKey = "llmrouter.affinity";

    /// <summary>
    /// Sets the request's affinity key (a user, a conversation, a tenant): on "Weighted" routes, every request with the
    /// same key goes to the same deployment while it is available (rendezvous hashing by weight, so the split still follows
    /// the weights across keys, and a deployment leaving or returning moves only its own keys). For canary releases, A/B
    /// tests and conversations that should stay on one model. Returns the same options, for chaining.
    /// </summary>
    /// <param name="options">The request's options.</param>
    /// <param name="key">The key; any string, hashed (never sent to a provider).</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithAffinityKey(this ChatOptions options, string key)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(key);
        (options.AdditionalProperties ??= [])[AffinityKey] = key;
        return options;
    }

    /// <summary>Gets the affinity key set with <see cref="WithAffinityKey"/>, if any.</summary>
    /// <param name="options">The request's options.</param>
    /// <returns>The key, or <see langword="null"/>.</returns>
    public static string? GetAffinityKey(this ChatOptions? options) =>
        options?.AdditionalProperties is { } props && props.TryGetValue(AffinityKey, out object? value) ? value as string : null;

    /// <summary>Gets the routing constraints attached to the options, if any.</summary>
    /// <param name="options">The request's options.</param>
    /// <returns>The constraints, or <see langword="null"/>.</returns>
    public static RouteConstraints? GetRouteConstraints(this ChatOptions? options) =>
        options?.AdditionalProperties is { } props && props.TryGetValue(ConstraintsKey, out object? value) ? value as RouteConstraints : null;

    /// <summary>Gets the router's report (serving deployment and attempts) from a response, including one combined from streamed updates.</summary>
    /// <param name="response">A response returned by the router (or by middleware above it).</param>
    /// <returns>The report, or <see langword="null"/> when the response did not come through the router.</returns>
    public static RoutingReport? GetRoutingReport(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return ResponseAnnotations.Find<RoutingReport>(response, ReportKey);
    }

    /// <summary>
    /// Gets the router's report from a streaming update. The router attaches it to the first update it yields
    /// (failover is over by then); <c>ToChatResponse()</c> carries it over to the combined response.
    /// </summary>
    /// <param name="update">An update yielded by the router.</param>
    /// <returns>The report, or <see langword="null"/> on other updates.</returns>
    public static RoutingReport? GetRoutingReport(this ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return ResponseAnnotations.Find<RoutingReport>(update.AdditionalProperties, ReportKey);
    }
}
