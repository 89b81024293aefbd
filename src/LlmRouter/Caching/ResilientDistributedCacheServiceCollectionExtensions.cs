using LlmRouter;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Makes the registered distributed cache (HybridCache's L2) fail safe.</summary>
public static class ResilientDistributedCacheServiceCollectionExtensions
{
    /// <summary>
    /// Wraps the <see cref="IDistributedCache"/> registered so far (for example by <c>AddStackExchangeRedisCache</c>) in a
    /// <see cref="ResilientDistributedCache"/>: call it after registering the distributed cache. A distributed cache
    /// registered by type or factory is then created, and disposed with the container, by the wrapper.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Changes the options.</param>
    /// <returns>The services.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="IDistributedCache"/> is registered yet.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ResilientDistributedCacheOptions.RetryAfter"/> is not positive or longer than a day.</exception>
    public static IServiceCollection AddResilientDistributedCache(this IServiceCollection services, Action<ResilientDistributedCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ServiceDescriptor? registered = services.LastOrDefault(d => d.ServiceType == typeof(IDistributedCache) && !d.IsKeyedService);
        if (registered is null)
        {
            throw new InvalidOperationException("AddResilientDistributedCache wraps the distributed cache registered before it: call AddStackExchangeRedisCache (or another IDistributedCache registration) first.");
        }

        var options = new ResilientDistributedCacheOptions();
        configure?.Invoke(options);
        ResilientDistributedCache.Validate(options, nameof(configure));
        services.Remove(registered);
        services.AddSingleton<IDistributedCache>(sp => new ResilientDistributedCache(
            Create(sp, registered), options, sp.GetService<TimeProvider>(), sp.GetService<ILogger<ResilientDistributedCache>>(), ownsInner: registered.ImplementationInstance is null));
        return services;
    }

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "The implementation type was registered by the application and is preserved by that registration.")]
    private static IDistributedCache Create(IServiceProvider sp, ServiceDescriptor d) =>
        (IDistributedCache)(d.ImplementationInstance
            ?? d.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, d.ImplementationType!));
}
