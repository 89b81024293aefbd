using System.Diagnostics.CodeAnalysis;
using LlmRouter.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmRouter.Routing.Internal;

/// <summary>Registers the router itself: its options (bound, validated at start-up), the builder's additions and the router singleton.</summary>
internal static class RouterRegistration
{
    /// <summary>Registers the router's options, the builder's additions and the router.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The router's section, or null.</param>
    /// <param name="configure">The code configuration.</param>
    /// <param name="featureSections">Children of the section that feature options bind (budgets, cache): not router settings.</param>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Binding only happens through AddLlmRouter's configuration overload, which carries the requirement to its callers.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "As above.")]
    public static LlmRouterBuilder Add(IServiceCollection services, IConfiguration? configuration, Action<LlmRouterBuilder>? configure, params string[] featureSections)
    {
        OptionsBuilder<LlmRouterOptions> options = services.AddOptions<LlmRouterOptions>();
        if (configuration is not null)
        {
            options.BindStrictly(configuration, featureSections);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmRouterOptions>, LlmRouterOptionsValidator>(sp => new LlmRouterOptionsValidator(sp)));
        var builder = new LlmRouterBuilder(services);
        configure?.Invoke(builder);

        services.TryAddSingleton(sp => new LlmRouterChatClient(
            sp.GetRequiredService<IOptions<LlmRouterOptions>>().Value,
            sp,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()));
        return builder;
    }
}
