using LlmRouter;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.AI;

/// <summary>Adds the budget and governance layer to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class BudgetChatClientBuilderExtensions
{
    /// <summary>
    /// Enforces scope policies and budgets and audits every request (<see cref="BudgetChatClient"/>). Uses the
    /// <see cref="BudgetStore"/>, <see cref="IScopePathSource"/>, <see cref="IAuditSink"/>, <see cref="TimeProvider"/> and
    /// logger factory registered in the services, if any. Put it under <c>UseResponseCache</c> so hits cost nothing.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Sets policies per scope and other options.</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UseBudgets(this ChatClientBuilder builder, Action<BudgetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = new BudgetOptions();
            configure?.Invoke(options);
            return Create(inner, options, services);
        });
    }

    internal static BudgetChatClient Create(IChatClient inner, BudgetOptions options, IServiceProvider services) => new(
        inner,
        options,
        services.GetService<BudgetStore>(),
        services.GetService<IScopePathSource>(),
        services.GetService<IAuditSink>(),
        services.GetService<TimeProvider>(),
        services.GetService<ILoggerFactory>());
}
