using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter;

/// <summary>Turns on the budget and governance layer from <c>AddLlmRouter</c>.</summary>
public static class BudgetLlmRouterBuilderExtensions
{
    /// <summary>
    /// Adds the budget and governance layer (<see cref="BudgetChatClient"/>) over the router, under the response cache,
    /// and changes its <see cref="BudgetOptions"/> in code, after any binding of the "Budgets" child of the configuration
    /// section. Without this call the layer is added only when that section exists or a deployment has budgets of its
    /// own (<see cref="DeploymentOptions.Budgets"/>). Defaults: no scope policies, <see cref="BudgetOptions.DefaultMaxOutputTokens"/>
    /// 4,096, <see cref="BudgetOptions.OnLedgerFailure"/> <see cref="LedgerFailureMode.FailClosed"/>,
    /// <see cref="BudgetOptions.AuditContent"/> <see langword="false"/>; counters in the registered <see cref="BudgetStore"/>
    /// (default in memory). The options are validated at start-up with the router's. The layer is part of the
    /// <see cref="IChatClient"/> that <c>AddLlmRouter</c> registers; <see cref="LlmRouterChatClient.Create"/> returns the router alone.
    /// </summary>
    /// <param name="builder">The router builder.</param>
    /// <param name="configure">Adds scope policies and changes the other options.</param>
    /// <returns>The builder.</returns>
    public static LlmRouterBuilder ConfigureBudgets(this LlmRouterBuilder builder, Action<BudgetOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        builder.ConfiguredLayers.Add(typeof(BudgetOptions));
        return builder;
    }
}
