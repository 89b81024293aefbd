using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>The failover path: the first deployment fails with a fresh 503 on every call, the second answers.</summary>
[MemoryDiagnoser]
public class FailoverBenchmarks
{
    private IChatClient _orderedFailover = null!;
    private LlmRouterChatClient _router = null!;

    [GlobalSetup]
    public void Setup()
    {
        IChatClient[] clients = [new FailingChatClient(), new NoOpChatClient(), new NoOpChatClient()];
        _orderedFailover = new OrderedFailoverChatClient(clients);
        _router = Routers.Create(clients, strategy: "Ordered", configure: o => Routers.NeverTrip(o.Health));
    }

    [Benchmark(Description = "throw + catch a 503 HttpRequestException (reference)")]
    public int ThrowCatch()
    {
        try
        {
            throw new HttpRequestException("Service Unavailable", null, HttpStatusCode.ServiceUnavailable);
        }
        catch (HttpRequestException e)
        {
            return (int)e.StatusCode!;
        }
    }

    [Benchmark(Baseline = true, Description = "M.E.AI OrderedFailover, first throws 503")]
    public Task<ChatResponse> OrderedFailover() => _orderedFailover.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter Ordered, first throws 503")]
    public Task<ChatResponse> Router() => _router.GetResponseAsync(Routers.Prompt);
}
