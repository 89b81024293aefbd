using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter;

/// <summary>
/// Adds deployments, routes and strategies to the router registered by <c>AddLlmRouter</c>, and turns on the budget and
/// response-cache layers over it. Every call appends to the options (<see cref="LlmRouterOptions"/>,
/// <see cref="BudgetOptions"/>, <see cref="ResponseCacheOptions"/>) after any configuration binding, so code and
/// configuration combine.
/// </summary>
public sealed class LlmRouterBuilder
{
    internal LlmRouterBuilder(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>Gets the service collection the router is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets whether <see cref="ConfigureBudgets"/> was called: the budget layer is added even without a configuration section.</summary>
    internal bool BudgetsConfigured { get; private set; }

    /// <summary>Gets whether <see cref="ConfigureResponseCache"/> was called: the cache is added, if its options say Enabled, even without a configuration section.</summary>
    internal bool ResponseCacheConfigured { get; private set; }

    /// <summary>Adds a deployment served by an existing client instance (the router does not dispose it).</summary>
    /// <param name="name">The unique deployment name.</param>
    /// <param name="client">The provider client.</param>
    /// <param name="configure">Sets the model id, region, timeouts and other attributes.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddDeployment(string name, IChatClient client, Action<DeploymentOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        return Add(name, d => d.Client = client, configure);
    }

    /// <summary>Adds a deployment whose client the router builds once from the services (and disposes with itself).</summary>
    /// <param name="name">The unique deployment name.</param>
    /// <param name="factory">Builds the provider client.</param>
    /// <param name="configure">Sets the model id, region, timeouts and other attributes.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddDeployment(string name, Func<IServiceProvider, IChatClient> factory, Action<DeploymentOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return Add(name, d => d.ClientFactory = factory, configure);
    }

    /// <summary>Adds a deployment served by a keyed <see cref="IChatClient"/> service (for example one added with <c>AddKeyedChatClient</c>).</summary>
    /// <param name="name">The unique deployment name.</param>
    /// <param name="serviceKey">The service key of the client.</param>
    /// <param name="configure">Sets the model id, region, timeouts and other attributes.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddKeyedDeployment(string name, string serviceKey, Action<DeploymentOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceKey);
        return Add(name, d => d.ClientKey = serviceKey, configure);
    }

    /// <summary>
    /// Adds a deployment whose provider client sends through its own named <see cref="HttpClient"/> from
    /// <c>IHttpClientFactory</c>, with <c>AddLlmResilienceHandler</c> under it (connection retries only, no HTTP timeout
    /// that would cut long generations, Retry-After captured for the router), and without IHttpClientFactory's request
    /// loggers, whose structured state would carry API keys at Trace level. Use it with any SDK that accepts an
    /// <see cref="HttpClient"/>; LlmRouter.OpenAI and LlmRouter.Anthropic build on it.
    /// </summary>
    /// <param name="name">The unique deployment name; the HttpClient is named <c>"llmrouter." + name</c>.</param>
    /// <param name="createClient">Builds the provider client over the HttpClient. Disable the SDK's own retries: the router fails over instead.</param>
    /// <param name="configure">Sets the model id, region, timeouts and other attributes.</param>
    /// <param name="transport">Changes the transport resilience defaults.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddHttpDeployment(
        string name, Func<HttpClient, IServiceProvider, IChatClient> createClient, Action<DeploymentOptions>? configure = null, Action<LlmHttpResilienceOptions>? transport = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(createClient);
        string httpClientName = "llmrouter." + name;
        // No IHttpClientFactory request loggers: at Trace their structured state carries raw header values (API keys) on
        // Microsoft.Extensions.Http 10.0 even though the message text is redacted; the router logs each attempt itself.
        Services.AddHttpClient(httpClientName).RemoveAllLoggers().AddLlmResilienceHandler(transport);
        return Add(
            name,
            d =>
            {
                d.ClientFactory = sp => createClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient(httpClientName), sp);
                d.HttpClientName = httpClientName;
            },
            configure);
    }

    /// <summary>Adds a route over the named deployments, ranked LowestLatency, without fallbacks.</summary>
    /// <param name="name">The route name callers put in <c>ChatOptions.ModelId</c>.</param>
    /// <param name="deployments">The deployment names, in priority order.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddRoute(string name, params string[] deployments)
    {
        ArgumentNullException.ThrowIfNull(deployments);
        return AddRoute(name, r =>
        {
            foreach (string d in deployments)
            {
                r.Deployments.Add(d);
            }
        });
    }

    /// <summary>Adds a route.</summary>
    /// <param name="name">The route name callers put in <c>ChatOptions.ModelId</c>.</param>
    /// <param name="configure">Lists the deployments and fallbacks and sets the strategy.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddRoute(string name, Action<RouteOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure<LlmRouterOptions>(o =>
        {
            var route = new RouteOptions { Name = name };
            configure(route);
            o.Routes.Add(route);
        });
        return this;
    }

    /// <summary>Registers a custom ranking strategy that routes can name in <see cref="RouteOptions.Strategy"/>.</summary>
    /// <param name="name">The strategy name.</param>
    /// <param name="strategy">The strategy.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder AddRankingStrategy(string name, RankingStrategy strategy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(strategy);
        Services.Configure<LlmRouterOptions>(o => o.Strategies[name] = strategy);
        return this;
    }

    /// <summary>Changes any router option in code.</summary>
    /// <param name="configure">Edits the options.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder Configure(Action<LlmRouterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return this;
    }

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
    /// <param name="configure">Adds scope policies and changes the other options.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder ConfigureBudgets(Action<BudgetOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        BudgetsConfigured = true;
        return this;
    }

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
    /// <param name="configure">Changes the options; pass <c>_ =&gt; { }</c> for the defaults.</param>
    /// <returns>This builder.</returns>
    public LlmRouterBuilder ConfigureResponseCache(Action<ResponseCacheOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        ResponseCacheConfigured = true;
        return this;
    }

    private LlmRouterBuilder Add(string name, Action<DeploymentOptions> source, Action<DeploymentOptions>? configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Services.Configure<LlmRouterOptions>(o =>
        {
            var deployment = new DeploymentOptions { Name = name };
            source(deployment);
            configure?.Invoke(deployment);
            o.Deployments.Add(deployment);
        });
        return this;
    }
}
