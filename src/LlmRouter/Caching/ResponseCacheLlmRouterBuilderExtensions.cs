using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter;

/// <summary>Turns on the response cache from <c>AddLlmRouter</c>.</summary>
public static class ResponseCacheLlmRouterBuilderExtensions
{
    /// <summary>
    /// Adds the response cache (<see cref="ResponseCacheChatClient"/>, over the application's HybridCache) over the router
    /// and the budget layer, and changes its <see cref="ResponseCacheOptions"/> in code, after any binding of the
    /// "ResponseCache" child of the configuration section. Without this call the cache is added only when that section
    /// exists. Either way it is added only while <see cref="ResponseCacheOptions.Enabled"/> is <see langword="true"/>.
    /// Defaults: <see cref="ResponseCacheOptions.Enabled"/> <see langword="true"/>, <see cref="ResponseCacheOptions.TimeToLive"/>
    /// 1 hour, one shared partition (<see cref="ResponseCacheOptions.Partition"/> unset). The options are validated at start-up.
    /// The cache is part of the <see cref="IChatClient"/> that <c>AddLlmRouter</c> registers; <see cref="LlmRouterChatClient.Create"/>
    /// returns the router alone.
    /// </summary>
    /// <param name="builder">The router builder.</param>
    /// <param name="configure">Changes the options; pass <c>_ =&gt; { }</c> for the defaults.</param>
    /// <returns>The builder.</returns>
    public static LlmRouterBuilder ConfigureResponseCache(this LlmRouterBuilder builder, Action<ResponseCacheOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        builder.ConfiguredLayers.Add(typeof(ResponseCacheOptions));
        return builder;
    }
}
