using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>Ranking one route of 1,000 deployments per request (LiteLLM measured 51 ms for this in its issue #21270).</summary>
[MemoryDiagnoser]
public class LargeRouteBenchmarks
{
    private LlmRouterChatClient _warm = null!;
    private LlmRouterChatClient _cold = null!;
    private LlmRouterChatClient _weighted = null!;

    [Params(1000)]
    public int Deployments { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var client = new NoOpChatClient();
        IChatClient[] clients = Enumerable.Repeat<IChatClient>(client, Deployments).ToArray();
        _warm = Routers.Create(clients);
        _cold = Routers.Create(clients, configure: o => o.LatencyRanking.MinimumSamples = int.MaxValue);
        _weighted = Routers.Create(clients, strategy: "Weighted");

        // Warm every deployment past MinimumSamples so LowestLatency ranks on measured data, not cold probes.
        for (int i = 0; i < Deployments * 10; i++)
        {
            _warm.GetResponseAsync(Routers.Prompt).GetAwaiter().GetResult();
        }
    }

    [Benchmark(Baseline = true, Description = "1,000 deployments, LowestLatency, warm")]
    public Task<ChatResponse> Warm() => _warm.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "1,000 deployments, LowestLatency, all cold")]
    public Task<ChatResponse> Cold() => _cold.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "1,000 deployments, Weighted")]
    public Task<ChatResponse> Weighted() => _weighted.GetResponseAsync(Routers.Prompt);
}
