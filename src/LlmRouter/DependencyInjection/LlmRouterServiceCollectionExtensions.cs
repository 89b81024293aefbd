using System.Diagnostics.CodeAnalysis;
using LlmRouter;
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
    private const string BindingMessage = "Binds LlmRouterOptions from configuration by reflection; in trimmed or native AOT apps configure the router in code instead.";

    /// <summary>
    /// Registers an <see cref="LlmRouterChatClient"/> configured in code and the <see cref="IChatClient"/> built over it.
    /// Options are validated at start-up (<c>ValidateOnStart</c>) when a host runs, otherwise when the client is first resolved.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adds deployments and routes.</param>
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
        OptionsBuilder<LlmRouterOptions> options = services.AddOptions<LlmRouterOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmRouterOptions>, LlmRouterOptionsValidator>(sp => new LlmRouterOptionsValidator(sp)));
        configure?.Invoke(new LlmRouterBuilder(services));

        services.TryAddSingleton(sp => new LlmRouterChatClient(
            sp.GetRequiredService<IOptions<LlmRouterOptions>>().Value,
            sp,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));

        // Used only when the options turn the cache on; registering it is cheap and lets configuration alone enable it.
        services.AddHybridCache();

        // The layers the options turn on, innermost first: router, budgets, cache (hits cost nothing, denied requests never reach a provider).
        return services.AddChatClient(sp =>
        {
            LlmRouterOptions options = sp.GetRequiredService<IOptions<LlmRouterOptions>>().Value;
            IChatClient client = sp.GetRequiredService<LlmRouterChatClient>();
            if (options.Budgets is not null || options.Deployments.Any(d => d.Budgets.Count > 0))
            {
                client = BudgetChatClientBuilderExtensions.Create(client, options.Budgets ?? new BudgetOptions(), sp);
            }

            if (options.ResponseCache is { Enabled: true } cache)
            {
                client = new ResponseCacheChatClient(client, sp.GetRequiredService<HybridCache>(), cache, sp.GetService<TimeProvider>());
            }

            return client;
        });
    }
}
