using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.IntegrationTests;

/// <summary>A simulator with one OpenAI-protocol and one Anthropic-protocol provider, and routers over them built with the real SDKs.</summary>
public sealed class SimulatedVendors : IAsyncDisposable
{
    public static readonly ChatMessage[] Prompt = [new(ChatRole.User, "What is the capital of France?")];

    private readonly List<ServiceProvider> _providers = [];

    private SimulatedVendors(SimulatorServer server)
    {
        Server = server;
    }

    public SimulatorServer Server { get; }

    public SimulatedProvider OpenAI => Server.Provider("openai");

    public SimulatedProvider Anthropic => Server.Provider("anthropic");

    public static async Task<SimulatedVendors> StartAsync(Action<SimulatorOptions>? configure = null)
    {
        var options = new SimulatorOptions
        {
            Providers =
            {
                Fast("openai", ProviderApi.OpenAI, 1),
                Fast("anthropic", ProviderApi.Anthropic, 2),
            },
        };
        configure?.Invoke(options);
        return new SimulatedVendors(await SimulatorServer.StartAsync(options));
    }

    public static SimulatedProviderOptions Fast(string name, ProviderApi api, int seed, double milliseconds = 1) => new()
    {
        Name = name,
        Api = api,
        Seed = seed,
        Profile = { Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(milliseconds)), TokensPerSecond = 0, CompletionTokens = 12 },
    };

    /// <summary>Builds a DI container whose IChatClient routes "chat" over the OpenAI then the Anthropic provider (Ordered).</summary>
    public ServiceProvider Build(Action<LlmRouterBuilder>? more = null, Action<DeploymentOptions>? openAi = null, Action<DeploymentOptions>? anthropic = null, string strategy = "Ordered", TimeProvider? time = null)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddLlmRouter(router =>
        {
            router
                .AddOpenAIDeployment("openai", p => { p.Endpoint = new Uri(Server.GetBaseUri("openai"), "v1"); p.ApiKey = "sk-test"; p.Model = "gpt-4o-mini"; }, openAi)
                .AddAnthropicDeployment("anthropic", p => { p.Endpoint = Server.GetBaseUri("anthropic"); p.ApiKey = "sk-ant-test"; p.Model = "claude-haiku-4-5"; p.DefaultMaxOutputTokens = 256; }, anthropic)
                .AddRoute("chat", r => { r.Deployments.Add("openai"); r.Deployments.Add("anthropic"); r.Strategy = strategy; });
            more?.Invoke(router);
        });
        ServiceProvider provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ServiceProvider p in _providers)
        {
            await p.DisposeAsync();
        }

        await Server.DisposeAsync();
    }
}
