using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>
/// Four simulated providers (two on the OpenAI protocol, two on Anthropic's) with every fault the simulator offers, and
/// the full stack <c>AddLlmRouter</c> builds over them with the real SDKs: response cache (in-memory HybridCache) over
/// budgets (scope budgets and a deployment budget) over the router, one route hedged.
/// </summary>
internal sealed class ChaosRig : IAsyncDisposable
{
    public const string Chat = "chat";
    public const string Hedged = "hedged";
    public const string Primary = "primary";
    public const string MainScope = "team:main";
    public const string CappedScope = "team:capped";
    public const int MaxAttempts = 3;
    public const int MaxOutputTokens = 64;

    /// <summary>The per-attempt fault rates every provider draws from: 14% of attempts fail (one kind or another).</summary>
    public static readonly IReadOnlyDictionary<FaultKind, double> BaseFaults = new Dictionary<FaultKind, double>
    {
        [FaultKind.RateLimited] = 0.03,
        [FaultKind.ServerError] = 0.02,
        [FaultKind.Unavailable] = 0.02,
        [FaultKind.Overloaded] = 0.02,
        [FaultKind.Hang] = 0.005,
        [FaultKind.ConnectionReset] = 0.02,
        [FaultKind.StreamDrop] = 0.02,
        [FaultKind.MalformedJson] = 0.01,
    };

    /// <summary>Deployment name, protocol, model, and what sets it apart.</summary>
    public static readonly (string Name, ProviderApi Api, string Model)[] Deployments =
    [
        ("oai-a", ProviderApi.OpenAI, "gpt-4o-mini"),      // 128k window: injected context overflows fail over to larger ones; mid-stream drops
        ("oai-b", ProviderApi.OpenAI, "gpt-4.1-mini"),     // 429s without Retry-After, an occasional 401, paced streams
        ("ant-a", ProviderApi.Anthropic, "claude-haiku-4-5"), // heavy latency tail, mid-stream drops, periodic outages
        ("ant-b", ProviderApi.Anthropic, "claude-3-5-haiku"), // heaviest tail (slow first tokens), a deployment budget
    ];

    private readonly ServiceProvider _services;

    /// <summary>The simulator's clock: its bad stretches go by it, and <see cref="Heal"/> moves it past the last one.</summary>
    private readonly ShiftedTimeProvider _simulatorTime;

    private ChaosRig(SimulatorServer server, ServiceProvider services, ShiftedTimeProvider time, ShiftedTimeProvider simulatorTime, SoakSettings settings)
    {
        Server = server;
        _simulatorTime = simulatorTime;
        _services = services;
        Time = time;
        Settings = settings;
        Client = services.GetRequiredService<IChatClient>();
        Router = services.GetRequiredService<LlmRouterChatClient>();
    }

    public SimulatorServer Server { get; }

    public ShiftedTimeProvider Time { get; }

    public SoakSettings Settings { get; }

    /// <summary>The application's client: cache over budgets over the router.</summary>
    public IChatClient Client { get; }

    public LlmRouterChatClient Router { get; }

    public static async Task<ChaosRig> StartAsync(SoakSettings settings)
    {
        SimulatorOptions simulator = Simulator(settings);
        var simulatorTime = new ShiftedTimeProvider();
        simulator.TimeProvider = simulatorTime;
        SimulatorServer server = await SimulatorServer.StartAsync(simulator);
        var time = new ShiftedTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        return new ChaosRig(server, Build(services, server, settings), time, simulatorTime, settings);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Server.DisposeAsync();
    }

    /// <summary>Turns every fault and phase off: from now on each provider answers at once and correctly.</summary>
    public void Heal()
    {
        _simulatorTime.Shift(Settings.HangGuard + TimeSpan.FromDays(1)); // past the last bad stretch

        foreach (SimulatedProvider p in Server.Providers)
        {
            p.Configure(profile =>
            {
                profile.FaultRates.Clear();
                profile.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(1));
            });
        }
    }

    private static SimulatorOptions Simulator(SoakSettings settings)
    {
        var options = new SimulatorOptions();
        for (int i = 0; i < Deployments.Length; i++)
        {
            (string name, ProviderApi api, _) = Deployments[i];
            var provider = new SimulatedProviderOptions
            {
                Name = name,
                Api = api,
                Seed = settings.Seed + i,
                RecordRequests = false, // flat memory over hundreds of thousands of requests
                Profile = { TokensPerSecond = 0, CompletionTokens = 16, RetryAfter = TimeSpan.FromSeconds(1) },
            };
            foreach (KeyValuePair<FaultKind, double> fault in BaseFaults)
            {
                provider.Profile.FaultRates[fault.Key] = fault.Value;
            }

            Distinguish(provider.Profile, name);
            AddPhases(provider, name, settings.HangGuard);
            options.Providers.Add(provider);
        }

        return options;
    }

    private static void Distinguish(ProviderProfile profile, string name)
    {
        switch (name)
        {
            case "oai-a":
                profile.Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(2), 0.5);
                profile.StreamDropAfterChunks = 3;
                profile.FaultRates[FaultKind.ContextLengthExceeded] = 0.01;
                break;
            case "oai-b":
                profile.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(2));
                profile.TokensPerSecond = 2_000;
                profile.RetryAfter = null;
                profile.FaultRates[FaultKind.Unauthorized] = 0.002;
                break;
            case "ant-a":
                profile.Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(3), 1.0);
                profile.StreamDropAfterChunks = 3;
                profile.FaultRates[FaultKind.Overloaded] = 0.03;
                break;
            default:
                profile.Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(2), 1.5); // p99.9 about 200 ms
                break;
        }
    }

    /// <summary>
    /// Every six seconds of the run (from the second after warm-up), each provider has a bad second of its own, staggered so
    /// that at most one is bad at a time: an outage (every call 503: the circuit opens, half-open probes fail, then close), a slowdown (150 ms to the
    /// first token: hedges and ranking move traffic), a rate-limit storm (half the calls 429: a real limit, cooldowns), and
    /// a flaky network (resets and hangs). Phases go by the simulator's clock so circuits see them end.
    /// </summary>
    private static void AddPhases(SimulatedProviderOptions provider, string name, TimeSpan runFor)
    {
        (double start, string phase, Action<ProviderProfile> change) = name switch
        {
            "ant-a" => (1.5, "outage", (Action<ProviderProfile>)(p => { p.FaultRates.Clear(); p.FaultRates[FaultKind.Unavailable] = 1; })),
            "oai-b" => (3.0, "slow", p => p.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(150))),
            "oai-a" => (4.5, "rate-limit storm", p => p.FaultRates[FaultKind.RateLimited] = 0.5),
            _ => (6.0, "flaky network", p => { p.FaultRates[FaultKind.ConnectionReset] = 0.3; p.FaultRates[FaultKind.Hang] = 0.05; }),
        };
        ProviderProfile bad = provider.Profile.Clone();
        change(bad);
        for (double at = start; at < runFor.TotalSeconds; at += 6)
        {
            provider.Phases.Add(new SimulatedPhase { Name = phase, From = TimeSpan.FromSeconds(at), To = TimeSpan.FromSeconds(at + 1), Profile = bad });
        }
    }

    private static ServiceProvider Build(ServiceCollection services, SimulatorServer server, SoakSettings settings)
    {
        // The capped scope's total budget: about half of what its tenth of the requests cost, so it runs out mid-run.
        decimal cappedLimit = settings.Requests * 0.000_002m;

        // ant-b's daily budget: it runs out part-way through, and the deployment leaves routing until the day ends.
        decimal deploymentLimit = settings.Requests * 0.000_008m;
        services.AddLlmRouter(router =>
        {
            foreach ((string name, ProviderApi api, string model) in Deployments)
            {
                void Configure(DeploymentOptions d)
                {
                    // Hangs fail over after 2 s: room for a busy 2-core machine, where 128 requests in flight queue for CPU.
                    d.AttemptTimeout = TimeSpan.FromSeconds(2);
                    d.TimeToFirstTokenTimeout = TimeSpan.FromSeconds(2);
                    if (name == "ant-b")
                    {
                        d.Budgets.Add(new BudgetLimit { Window = BudgetWindow.Day, LimitUsd = deploymentLimit });
                    }
                }

                if (api == ProviderApi.OpenAI)
                {
                    router.AddOpenAIDeployment(name, p => { p.Endpoint = new Uri(server.GetBaseUri(name), "v1"); p.ApiKey = "sk-test"; p.Model = model; }, Configure);
                }
                else
                {
                    router.AddAnthropicDeployment(name, p => { p.Endpoint = server.GetBaseUri(name); p.ApiKey = "sk-ant-test"; p.Model = model; p.DefaultMaxOutputTokens = MaxOutputTokens; }, Configure);
                }

                // One single-deployment route each, for the recovery check after the run.
                router.AddRoute("only-" + name, name);
            }

            string[] all = [.. Deployments.Select(d => d.Name)];
            router
                .AddRoute(Chat, all)
                .AddRoute(Hedged, r =>
                {
                    foreach (string d in all)
                    {
                        r.Deployments.Add(d);
                    }

                    r.Hedging = new HedgingOptions { Delay = TimeSpan.FromMilliseconds(30), DelayPercentile = 0.9, MaxHedgedShare = 0.2 };
                })
                .AddRoute(Primary, r =>
                {
                    r.Deployments.Add("oai-b");
                    r.Deployments.Add("ant-a");
                    r.Strategy = "Ordered";
                    r.Fallbacks.Add(Chat);
                })
                .Configure(o =>
                {
                    o.MaxAttempts = MaxAttempts;
                    o.Random = new Random(settings.Seed);
                    o.Health.BreakDuration = TimeSpan.FromSeconds(1);
                    o.Health.MisconfiguredCooldown = TimeSpan.FromSeconds(2);

                    // With every deployment out, try the one that failed least recently rather than fail fast: the soak's
                    // callers never pause, so fail-fast answers would swamp the figures (see the notes on the served floor).
                    o.Health.AttemptWhenAllUnavailable = true;
                })
                .ConfigureBudgets(o =>
                {
                    o.DefaultMaxOutputTokens = MaxOutputTokens;
                    o.Scopes.Add(new ScopePolicy { Scope = MainScope, Budgets = { new() { Window = BudgetWindow.Total, LimitUsd = 1_000_000 } } });
                    o.Scopes.Add(new ScopePolicy { Scope = CappedScope, Budgets = { new() { Window = BudgetWindow.Total, LimitUsd = cappedLimit } } });
                })
                .ConfigureResponseCache(o => o.TimeToLive = TimeSpan.FromMinutes(10));
        });
        return services.BuildServiceProvider();
    }
}
