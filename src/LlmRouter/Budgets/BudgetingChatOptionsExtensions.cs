using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>Typed access to the budget layer's per-request settings on <see cref="ChatOptions"/>.</summary>
public static class BudgetingChatOptionsExtensions
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key of the <see cref="ScopePath"/>; never sent to providers.</summary>
    internal const string ScopePathKey = "llmrouter.scope";

    /// <summary>Sets who is asking (overriding the <see cref="IScopePathSource"/>) and returns the same options, for chaining.</summary>
    /// <param name="options">The request's options.</param>
    /// <param name="path">The scope path, outermost first.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithScopePath(this ChatOptions options, ScopePath path)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(path);
        (options.AdditionalProperties ??= [])[ScopePathKey] = path;
        return options;
    }

    /// <summary>Gets the scope path set on the options, if any.</summary>
    /// <param name="options">The request's options.</param>
    /// <returns>The path, or <see langword="null"/>.</returns>
    public static ScopePath? GetScopePath(this ChatOptions? options) =>
        options?.AdditionalProperties is { } props && props.TryGetValue(ScopePathKey, out object? value) ? value as ScopePath : null;
}
