using BenchmarkDotNet.Attributes;
using LlmRouter.Providers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.Benchmarks;

/// <summary>What the router adds to a non-streaming call on the happy path, against a direct call and M.E.AI's OrderedFailoverChatClient.</summary>
[MemoryDiagnoser]
public class RouterOverheadBenchmarks
{
    private readonly ChatOptions _routeOptions = new() { ModelId = "chat" };
    private IChatClient _direct = null!;
    private IChatClient _orderedFailover = null!;
    private LlmRouterChatClient _router = null!;
    private LlmRouterChatClient _routerWithModelIds = null!;
    private LlmRouterChatClient _routerWithTimeouts = null!;
    private LlmRouterChatClient _routerOrdered = null!;
    private LlmRouterChatClient _routerWithRateLimits = null!;
    private LlmRouterChatClient _routerWithReportedLimits = null!;
    private ServiceProvider _reportServices = null!;

    [GlobalSetup]
    public void Setup()
    {
        IChatClient[] clients = [new NoOpChatClient(), new NoOpChatClient(), new NoOpChatClient()];
        _direct = clients[0];
        _orderedFailover = new OrderedFailoverChatClient(clients);
        _router = Routers.Create(clients);
        _routerWithModelIds = Routers.Create(clients, modelIds: true);
        _routerWithTimeouts = Routers.Create(clients, attemptTimeout: TimeSpan.FromSeconds(30));
        _routerOrdered = Routers.Create(clients, strategy: "Ordered");

        // Limits far above what the benchmark sends: the bookkeeping of every request, never a deferral.
        _routerWithRateLimits = Routers.Create(clients, configure: o =>
        {
            foreach (DeploymentOptions d in o.Deployments)
            {
                d.RequestsPerMinute = int.MaxValue;
                d.TokensPerMinute = int.MaxValue;
            }
        });

        // Limits the providers reported in their headers (what AddLlmResilienceHandler records), far above the load.
        var reports = new RateLimitReports();
        _reportServices = new ServiceCollection().AddSingleton(reports).BuildServiceProvider();
        var reported = new LlmRouterOptions();
        var route = new RouteOptions { Name = "chat" };
        for (int i = 0; i < clients.Length; i++)
        {
            reported.Deployments.Add(new DeploymentOptions { Name = $"d{i}", Client = clients[i], HttpClientName = $"d{i}" });
            route.Deployments.Add($"d{i}");
            ReportedRateLimit report = reports.For($"d{i}");
            report.Requests.Report(int.MaxValue, int.MaxValue, TimeSpan.Zero, reports.Clock.Now());
            report.Tokens.Report(int.MaxValue, int.MaxValue, TimeSpan.Zero, reports.Clock.Now());
        }

        reported.Routes.Add(route);
        reported.DefaultRoute = "chat";
        _routerWithReportedLimits = new LlmRouterChatClient(reported, _reportServices);
    }

    [Benchmark(Baseline = true, Description = "direct call")]
    public Task<ChatResponse> Direct() => _direct.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "M.E.AI OrderedFailover, 3 clients")]
    public Task<ChatResponse> OrderedFailover() => _orderedFailover.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter, 3 deployments, LowestLatency")]
    public Task<ChatResponse> Router() => _router.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter, route by name, per-deployment model ids")]
    public Task<ChatResponse> RouterWithModelIds() => _routerWithModelIds.GetResponseAsync(Routers.Prompt, _routeOptions);

    [Benchmark(Description = "LlmRouter, 30 s attempt timeouts")]
    public Task<ChatResponse> RouterWithTimeouts() => _routerWithTimeouts.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter, Ordered")]
    public Task<ChatResponse> RouterOrdered() => _routerOrdered.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter, LowestLatency, RequestsPerMinute + TokensPerMinute on every deployment")]
    public Task<ChatResponse> RouterWithRateLimits() => _routerWithRateLimits.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter, LowestLatency, rate limits reported by provider headers")]
    public Task<ChatResponse> RouterWithReportedLimits() => _routerWithReportedLimits.GetResponseAsync(Routers.Prompt);

    [GlobalCleanup]
    public void Cleanup() => _reportServices.Dispose();
}
