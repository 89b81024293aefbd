using LlmRouter;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="RedisBudgetStore"/> as the <see cref="BudgetStore"/> the budget layer uses (<c>UseBudgets</c>, <c>AddLlmRouter</c>).</summary>
public static class RedisBudgetStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="RedisBudgetStore"/> over a connection of its own, opened when the store is first resolved and
    /// disposed with the service provider. The connection does not abort when Redis is down at start-up
    /// (<c>abortConnect=false</c> is added unless <paramref name="configuration"/> sets it): it reconnects by itself, and
    /// meanwhile the budget layer applies <see cref="BudgetOptions.OnLedgerFailure"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">A StackExchange.Redis configuration string, for example <c>redis:6379,password=...</c>.</param>
    /// <param name="configure">Changes the store's options.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddRedisBudgetStore(this IServiceCollection services, string configuration, Action<RedisBudgetStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        ConfigurationOptions parsed = ConfigurationOptions.Parse(configuration);
        if (!configuration.Contains("abortConnect", StringComparison.OrdinalIgnoreCase))
        {
            parsed.AbortOnConnectFail = false;
        }

        services.AddSingleton(_ => new OwnedConnection(parsed));
        return services.AddRedisBudgetStore(sp => sp.GetRequiredService<OwnedConnection>().Multiplexer, configure);
    }

    /// <summary>Registers a <see cref="RedisBudgetStore"/> over a connection the application owns (for example one it registered as a service).</summary>
    /// <param name="services">The services.</param>
    /// <param name="multiplexer">Returns the connection to Redis; called once, when the store is first resolved. The store does not dispose it.</param>
    /// <param name="configure">Changes the store's options.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddRedisBudgetStore(this IServiceCollection services, Func<IServiceProvider, IConnectionMultiplexer> multiplexer, Action<RedisBudgetStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(multiplexer);
        var options = new RedisBudgetStoreOptions();
        configure?.Invoke(options);
        services.AddSingleton<BudgetStore>(sp => new RedisBudgetStore(multiplexer(sp), options));
        return services;
    }

    /// <summary>A connection the container opens and disposes.</summary>
    private sealed class OwnedConnection(ConfigurationOptions options) : IDisposable
    {
        public ConnectionMultiplexer Multiplexer { get; } = ConnectionMultiplexer.Connect(options);

        public void Dispose() => Multiplexer.Dispose();
    }
}
