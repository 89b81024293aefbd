using LlmRouter;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.AI;

/// <summary>Adds the response cache to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class ResponseCacheChatClientBuilderExtensions
{
    /// <summary>
    /// Caches answers in the application's <see cref="HybridCache"/> (register one with <c>services.AddHybridCache()</c>;
    /// it uses Redis as its distributed tier when an <c>IDistributedCache</c> such as StackExchangeRedis is registered).
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="cache">The cache to use; default: the <see cref="HybridCache"/> service.</param>
    /// <param name="configure">Changes the options.</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UseResponseCache(this ChatClientBuilder builder, HybridCache? cache = null, Action<ResponseCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = new ResponseCacheOptions();
            configure?.Invoke(options);
            if (!options.Enabled)
            {
                return inner;
            }

            HybridCache resolved = cache ?? services.GetService<HybridCache>()
                ?? throw new InvalidOperationException("UseResponseCache needs a HybridCache: call services.AddHybridCache() or pass one.");
            return new ResponseCacheChatClient(inner, resolved, options, services.GetService<TimeProvider>());
        });
    }
}
