using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>As <see cref="RouterOverheadBenchmarks"/>, but the provider returns a new response object per call, like a real one.</summary>
[MemoryDiagnoser]
public class FreshResponseBenchmarks
{
    private IChatClient _direct = null!;
    private IChatClient _orderedFailover = null!;
    private LlmRouterChatClient _router = null!;

    [GlobalSetup]
    public void Setup()
    {
        IChatClient[] clients = [new NoOpChatClient(freshResponse: true), new NoOpChatClient(freshResponse: true), new NoOpChatClient(freshResponse: true)];
        _direct = clients[0];
        _orderedFailover = new OrderedFailoverChatClient(clients);
        _router = Routers.Create(clients);
    }

    [Benchmark(Baseline = true, Description = "direct call, fresh response")]
    public Task<ChatResponse> Direct() => _direct.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "M.E.AI OrderedFailover, fresh response")]
    public Task<ChatResponse> OrderedFailover() => _orderedFailover.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter LowestLatency, fresh response")]
    public Task<ChatResponse> Router() => _router.GetResponseAsync(Routers.Prompt);
}
