using BenchmarkDotNet.Attributes;
using LlmRouter.Caching.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>
/// The response-cache key of a 20-message, ~16 KB conversation with 5 tools (issue #4 target: under 5 us), against the
/// JSON-serialise-then-SHA-384 key M.E.AI's DistributedCachingChatClient computes (AIJsonUtilities.HashDataToString).
/// </summary>
[MemoryDiagnoser]
public class CacheKeyBenchmarks
{
    private readonly List<ChatMessage> _messages = [];
    private readonly ChatOptions _options = new() { Temperature = 0.2f, MaxOutputTokens = 512, ModelId = "chat" };

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < 20; i++)
        {
            _messages.Add(new ChatMessage(i % 2 == 0 ? ChatRole.User : ChatRole.Assistant, new string((char)('a' + (i % 26)), 800)));
        }

        _options.Tools = [];
        for (int i = 0; i < 5; i++)
        {
            _options.Tools.Add(AIFunctionFactory.Create((string city, int days, bool metric) => "sunny", $"tool_{i}", $"Tool number {i} with a description of some length."));
        }

        // Tool encodings are cached per tool instance, as in a real app where tools are created once.
        _ = ResponseCacheKey.Compute(_messages, _options, "chat", "tenant", @namespace: null, constraints: null);
    }

    [Benchmark(Baseline = true, Description = "M.E.AI key: JSON + SHA-384 (DistributedCachingChatClient)")]
    public string MeaiKey() => AIJsonUtilities.HashDataToString([_messages, _options, false], AIJsonUtilities.DefaultOptions);

    [Benchmark(Description = "LlmRouter key: canonical encoding + XxHash128")]
    public string RouterKey() => ResponseCacheKey.Compute(_messages, _options, "chat", "tenant", @namespace: null, constraints: null);
}
