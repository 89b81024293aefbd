using Microsoft.Extensions.AI;

namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>What one soak request does, drawn from the seed and its number so a run's mix is repeatable.</summary>
/// <param name="Number">The request's number in the run.</param>
/// <param name="Streaming">Whether it streams (half do).</param>
/// <param name="Route">The route it names: <c>chat</c> 55%, <c>hedged</c> 30%, <c>primary</c> (Ordered, falling back to chat) 15%.</param>
/// <param name="CancelAfter">When the caller cancels it (3% of requests, 0 to 50 ms in), or <see langword="null"/>.</param>
/// <param name="Abandon">Whether the caller stops reading a stream after its first update (2% of streams).</param>
/// <param name="Capped">Whether it is asked under the capped scope, whose budget runs out mid-run (10%).</param>
/// <param name="SharedPrompt">Which of 40 shared prompts it asks, cacheable (20%); otherwise a prompt of its own, not stored.</param>
internal sealed record SoakRequest(int Number, bool Streaming, string Route, TimeSpan? CancelAfter, bool Abandon, bool Capped, int? SharedPrompt)
{
    private static readonly ScopePath Main = new("org:soak", ChaosRig.MainScope);
    private static readonly ScopePath Capping = new("org:soak", ChaosRig.CappedScope);
    private static readonly CacheControl Unique = new() { NoStore = true };

    public static SoakRequest Draw(int seed, int number)
    {
        var random = new Random(unchecked((seed * 1_000_003) + number)); // not HashCode: it is seeded per process
        bool streaming = random.NextDouble() < 0.5;
        double route = random.NextDouble();
        return new SoakRequest(
            number,
            streaming,
            route < 0.55 ? ChaosRig.Chat : route < 0.85 ? ChaosRig.Hedged : ChaosRig.Primary,
            random.NextDouble() < 0.03 ? TimeSpan.FromMilliseconds(random.Next(0, 50)) : null,
            streaming && random.NextDouble() < 0.02,
            random.NextDouble() < 0.10,
            random.NextDouble() < 0.20 ? random.Next(40) : null);
    }

    public ChatMessage[] Messages() =>
        [new(ChatRole.User, SharedPrompt is int shared ? $"Shared question {shared}: what does the router do?" : $"Soak request {Number}: summarise item {Number}.")];

    /// <summary>
    /// The options: the route, a 64-token output cap (a realistic, small reservation), the scope path, and for prompts of
    /// their own no caching (the soak measures the router's memory, not a cache filling up with a million distinct answers).
    /// </summary>
    public ChatOptions Options()
    {
        ChatOptions options = new ChatOptions { ModelId = Route, MaxOutputTokens = ChaosRig.MaxOutputTokens }.WithScopePath(Capped ? Capping : Main);
        return SharedPrompt is null ? options.WithCacheControl(Unique) : options;
    }

    public override string ToString() =>
        $"#{Number} {(Streaming ? "stream" : "response")} {Route}{(CancelAfter is { } c ? $" cancel@{c.TotalMilliseconds:0}ms" : "")}{(Abandon ? " abandon" : "")}{(Capped ? " capped" : "")}{(SharedPrompt is { } s ? $" shared{s}" : "")}";
}
