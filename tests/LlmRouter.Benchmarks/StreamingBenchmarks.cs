using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>A three-update stream, read to the end, directly and through the router.</summary>
[MemoryDiagnoser]
public class StreamingBenchmarks
{
    private IChatClient _direct = null!;
    private IChatClient _orderedFailover = null!;
    private LlmRouterChatClient _router = null!;

    [GlobalSetup]
    public void Setup()
    {
        IChatClient[] clients = [new NoOpChatClient(), new NoOpChatClient(), new NoOpChatClient()];
        _direct = clients[0];
        _orderedFailover = new OrderedFailoverChatClient(clients);
        _router = Routers.Create(clients);
    }

    [Benchmark(Baseline = true, Description = "direct stream, 3 updates")]
    public Task<int> Direct() => Drain(_direct);

    [Benchmark(Description = "M.E.AI OrderedFailover stream, 3 updates")]
    public Task<int> OrderedFailover() => Drain(_orderedFailover);

    [Benchmark(Description = "LlmRouter stream, 3 updates")]
    public Task<int> Router() => Drain(_router);

    private static async Task<int> Drain(IChatClient client)
    {
        int n = 0;
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(Routers.Prompt))
        {
            n += update.Contents.Count;
        }

        return n;
    }
}
