using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>Typed access to the response cache's per-request controls on <see cref="ChatOptions"/>.</summary>
public static class CachingChatOptionsExtensions
{
    internal const string CacheControlKey = "llmrouter.cache";

    /// <summary>Attaches cache controls to the options and returns the same options, for chaining.</summary>
    /// <param name="options">The request's options.</param>
    /// <param name="control">The controls.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithCacheControl(this ChatOptions options, CacheControl control)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(control);
        (options.AdditionalProperties ??= [])[CacheControlKey] = control;
        return options;
    }

    /// <summary>Gets the cache controls attached to the options, if any.</summary>
    /// <param name="options">The request's options.</param>
    /// <returns>The controls, or <see langword="null"/>.</returns>
    public static CacheControl? GetCacheControl(this ChatOptions? options) =>
        options?.AdditionalProperties is { } props && props.TryGetValue(CacheControlKey, out object? value) ? value as CacheControl : null;
}
