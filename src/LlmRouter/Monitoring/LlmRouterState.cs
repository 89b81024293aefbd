using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// The state of every LlmRouter layer of a client pipeline at one moment: routing (deployments and routes), budgets and
/// the response cache. A layer the pipeline does not have is <see langword="null"/>.
/// </summary>
/// <param name="Router">Deployments' health, latency and counts, and routes' current ranks (<see cref="LlmRouterChatClient.GetSnapshot"/>).</param>
/// <param name="Budgets">Every known budget in its current window: spent, reserved, remaining, reset (<see cref="BudgetChatClient.GetUsageAsync(CancellationToken)"/>).</param>
/// <param name="Cache">Hits, misses, tokens and cost saved (<see cref="ResponseCacheChatClient.Statistics"/>).</param>
public sealed record LlmRouterState(RouterSnapshot? Router, IReadOnlyList<BudgetUsage>? Budgets, ResponseCacheStatistics? Cache);

/// <summary>Reads <see cref="LlmRouterState"/> from the client <c>AddLlmRouter</c> registered (or any pipeline holding LlmRouter layers).</summary>
public static class LlmRouterStateExtensions
{
    /// <summary>Finds the pipeline's router, budget layer and response cache (through <see cref="IChatClient.GetService"/>) and reads their state.</summary>
    /// <param name="client">The outermost client, for example the <see cref="IChatClient"/> that <c>AddLlmRouter</c> registers.</param>
    /// <param name="cancellationToken">Cancels the budget store reads.</param>
    /// <returns>The state; <see langword="null"/> for each layer the pipeline does not have.</returns>
    public static async Task<LlmRouterState> GetLlmRouterStateAsync(this IChatClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        RouterSnapshot? router = client.GetService<LlmRouterChatClient>()?.GetSnapshot();
        IReadOnlyList<BudgetUsage>? budgets = client.GetService<BudgetChatClient>() is { } b ? await b.GetUsageAsync(cancellationToken).ConfigureAwait(false) : null;
        ResponseCacheStatistics? cache = client.GetService<ResponseCacheChatClient>()?.Statistics;
        return new LlmRouterState(router, budgets, cache);
    }
}
