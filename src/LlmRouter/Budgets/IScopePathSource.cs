using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// Supplies the scope path of requests that carry none of their own (<see cref="BudgetingChatOptionsExtensions.WithScopePath"/>),
/// for example from the current HTTP user. Register it in the services; it is called once per request, on the request's path.
/// </summary>
public interface IScopePathSource
{
    /// <summary>Gets the scope path of the current request.</summary>
    /// <param name="options">The request's options.</param>
    /// <returns>The path, or <see langword="null"/> for an unscoped request (only deployment budgets apply).</returns>
    ScopePath? GetScopePath(ChatOptions? options);
}
