using System.Diagnostics.CodeAnalysis;
using LlmRouter;
using LlmRouter.Internal;
using LlmRouter.Routing.Internal;
using LlmRouter.Budgets.Internal;
using LlmRouter.Caching.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers LlmRouter as the application's <see cref="IChatClient"/>.</summary>
public static class LlmRouterServiceCollectionExtensions
{
    private const string BindingMessage = "Binds LlmRouterOptions, BudgetOptions and ResponseCacheOptions from configuration by reflection; in trimmed or native AOT apps configure the router in code instead.";
    private const string BudgetsSection = "Budgets";
    private const string ResponseCacheSection = "ResponseCache";

    /// <summary>
    /// Registers an <see cref="LlmRouterChatClient"/> configured in code and the <see cref="IChatClient"/> built over it:
    /// the budget layer when <see cref="BudgetLlmRouterBuilderExtensions.ConfigureBudgets"/> is called or a deployment has budgets, and the
    /// response cache when <see cref="ResponseCacheLlmRouterBuilderExtensions.ConfigureResponseCache"/> is called. Options
    /// (<see cref="LlmRouterOptions"/>, <see cref="BudgetOptions"/>, <see cref="ResponseCacheOptions"/>) are validated at
    /// start-up (<c>ValidateOnStart</c>) when a host runs, otherwise when the client is first resolved.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adds deployments and routes, and configures the budget and cache layers.</param>
    /// <returns>A <see cref="ChatClientBuilder"/> for middleware over the router (UseOpenTelemetry, UseFunctionInvocation, UseLogging...).</returns>
    public static ChatClientBuilder AddLlmRouter(this IServiceCollection services, Action<LlmRouterBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(services, configuration: null, configure);
    }

    /// <summary>
    /// Registers an <see cref="LlmRouterChatClient"/> bound from configuration (usually the "LlmRouter" section), where
    /// deployments name keyed <see cref="IChatClient"/> services in <c>ClientKey</c>, plus optional code configuration.
    /// The section's "Budgets" child binds <see cref="BudgetOptions"/> and adds the budget layer (also added when a
    /// deployment has budgets); its "ResponseCache" child binds <see cref="ResponseCacheOptions"/> and adds the response
    /// cache unless it says <c>"Enabled": false</c>. Nothing in the section is ignored: a key no setting has, a value that
    /// does not convert, and a setting only code can supply fail start-up with an <see cref="OptionsValidationException"/>
    /// naming the key and what would be valid.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind, for example <c>builder.Configuration.GetSection("LlmRouter")</c>.</param>
    /// <param name="configure">Adds deployments and routes in code, after binding.</param>
    /// <returns>A <see cref="ChatClientBuilder"/> for middleware over the router.</returns>
    [RequiresUnreferencedCode(BindingMessage)]
    [RequiresDynamicCode(BindingMessage)]
    public static ChatClientBuilder AddLlmRouter(this IServiceCollection services, IConfiguration configuration, Action<LlmRouterBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return AddCore(services, configuration, configure);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Binding only happens through the configuration overload, which carries the requirement to its callers.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "As above.")]
    private static ChatClientBuilder AddCore(IServiceCollection services, IConfiguration? configuration, Action<LlmRouterBuilder>? configure)
    {
        // Feature options are bound before the builder runs, so code configuration applies after configuration binding.
        OptionsBuilder<BudgetOptions> budgetOptions = services.AddOptions<BudgetOptions>();
        OptionsBuilder<ResponseCacheOptions> cacheOptions = services.AddOptions<ResponseCacheOptions>();
        IConfigurationSection? budgetsSection = configuration?.GetSection(BudgetsSection);
        IConfigurationSection? cacheSection = configuration?.GetSection(ResponseCacheSection);
        if (configuration is not null)
        {
            budgetOptions.BindStrictly(budgetsSection!);
            cacheOptions.BindStrictly(cacheSection!);
        }

        budgetOptions.ValidateOnStart();
        cacheOptions.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BudgetOptions>, BudgetOptionsValidator>(
            sp => new BudgetOptionsValidator(sp.GetRequiredService<IOptions<LlmRouterOptions>>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ResponseCacheOptions>, ResponseCacheOptionsValidator>());
        LlmRouterBuilder builder = RouterRegistration.Add(services, configuration, configure, BudgetsSection, ResponseCacheSection);

        // Used only when the options turn the cache on; registering it is cheap and lets configuration alone enable it.
        services.AddHybridCache();

        // The layers the options turn on, innermost first: router, budgets, cache (hits cost nothing, denied requests never reach a provider).
        // A layer is on when its configuration section exists (read now, as binding is) or the builder configured it in code.
        return services.AddChatClient(sp =>
        {
            IChatClient client = sp.GetRequiredService<LlmRouterChatClient>();
            if (builder.ConfiguredLayers.Contains(typeof(BudgetOptions))
                || budgetsSection?.Exists() == true
                || sp.GetRequiredService<IOptions<LlmRouterOptions>>().Value.Deployments.Any(d => d.Budgets.Count > 0))
            {
                client = BudgetChatClientBuilderExtensions.Create(client, sp.GetRequiredService<IOptions<BudgetOptions>>().Value, sp);
            }

            if ((builder.ConfiguredLayers.Contains(typeof(ResponseCacheOptions)) || cacheSection?.Exists() == true)
                && sp.GetRequiredService<IOptions<ResponseCacheOptions>>().Value is { Enabled: true } cache)
            {
                client = new ResponseCacheChatClient(client, sp.GetRequiredService<HybridCache>(), cache, sp.GetService<TimeProvider>());
            }

            return client;
        });
    }
}
