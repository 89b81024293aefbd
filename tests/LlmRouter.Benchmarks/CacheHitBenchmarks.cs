using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LlmRouter.Benchmarks;

/// <summary>
/// A cache hit on a 2 KB prompt (issue #4 target: at least 10x faster than M.E.AI's DistributedCachingChatClient over
/// MemoryDistributedCache, at most a quarter of its allocation).
/// </summary>
[MemoryDiagnoser]
public class CacheHitBenchmarks
{
    private IChatClient _meai = null!;
    private ResponseCacheChatClient _ours = null!;
    private ServiceProvider _services = null!;

    [GlobalSetup]
    public void Setup()
    {
        var inner = new NoOpChatClient(freshResponse: true);
        _meai = new DistributedCachingChatClient(inner, new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions())));
        _services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        _ours = new ResponseCacheChatClient(inner, _services.GetRequiredService<HybridCache>());

        // Prime both caches.
        _meai.GetResponseAsync(Routers.Prompt).GetAwaiter().GetResult();
        _ours.GetResponseAsync(Routers.Prompt).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true, Description = "M.E.AI DistributedCachingChatClient hit (MemoryDistributedCache)")]
    public Task<ChatResponse> Meai() => _meai.GetResponseAsync(Routers.Prompt);

    [Benchmark(Description = "LlmRouter ResponseCacheChatClient hit (HybridCache L1)")]
    public Task<ChatResponse> Ours() => _ours.GetResponseAsync(Routers.Prompt);
}
