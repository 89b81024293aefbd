using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter;

/// <summary>
/// Adds deployments, routes and strategies to the router registered by <c>AddLlmRouter</c>; features add their own
/// methods as extensions (<c>ConfigureBudgets</c>, <c>ConfigureResponseCache</c>). Every call appends to the options after
/// any configuration binding, so code and configuration combine.
/// </summary>
public sealed class LlmRouterBuilder
{
    internal LlmRouterBuilder(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>Gets the service collection the router is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The options types of the layers a feature's <c>Configure...</c> extension turned on in code (added even without a configuration section).</summary>
    internal HashSet<Type> ConfiguredLayers { get; } = [];

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
