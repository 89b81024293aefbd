using System.Runtime.CompilerServices;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Caching;

public sealed class ResponseCacheTests : IDisposable
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "What is the capital of France?")];
    private readonly ServiceProvider _services;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TestChatClient _provider = new("provider");
    private int _produced;

    public ResponseCacheTests()
    {
        _services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        _provider.GetResponseAsyncCallback = (_, _, _) =>
        {
            int n = Interlocked.Increment(ref _produced);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"Paris #{n}")) { Usage = new UsageDetails { InputTokenCount = 12, OutputTokenCount = 3 } });
        };
        _provider.GetStreamingResponseAsyncCallback = (_, _, ct) => Stream(ct);
    }

    public void Dispose() => _services.Dispose();

    private ResponseCacheChatClient Cache(IChatClient? inner = null, Action<ResponseCacheOptions>? configure = null)
    {
        var options = new ResponseCacheOptions();
        configure?.Invoke(options);
        return new ResponseCacheChatClient(inner ?? _provider, _services.GetRequiredService<HybridCache>(), options, _time);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Stream([EnumeratorCancellation] CancellationToken ct = default)
    {
        int n = Interlocked.Increment(ref _produced);
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, "Par");
        yield return new ChatResponseUpdate(ChatRole.Assistant, $"is #{n}");
    }

    private static async Task<string> Streamed(IChatClient client, ChatOptions? options = null)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync(Prompt, options))
        {
            updates.Add(u);
        }

        return updates.ToChatResponse().Text;
    }

    [Fact]
    public async Task An_identical_request_is_served_from_the_cache()
    {
        ResponseCacheChatClient cache = Cache();

        ChatResponse first = await cache.GetResponseAsync(Prompt, new ChatOptions { ModelId = "chat" });
        ChatResponse second = await cache.GetResponseAsync(Prompt, new ChatOptions { ModelId = "chat" });

        Assert.Equal("Paris #1", first.Text);
        Assert.Equal("Paris #1", second.Text);
        Assert.NotSame(first, second);
        Assert.Equal(1, _produced);
        Assert.Equal(new ResponseCacheStatistics(Hits: 1, Misses: 1, Bypassed: 0, OutputTokensSaved: 3, InputTokensSaved: 12, CostSavedUsd: 0m), cache.Statistics);
    }

    [Fact]
    public async Task Each_hit_is_a_copy_the_caller_may_change()
    {
        ResponseCacheChatClient cache = Cache();
        await cache.GetResponseAsync(Prompt);

        ChatResponse first = await cache.GetResponseAsync(Prompt);
        first.Messages[0].Contents.Clear();
        first.Messages.Add(new ChatMessage(ChatRole.User, "extra"));
        first.Usage!.OutputTokenCount = 999;
        ChatResponse second = await cache.GetResponseAsync(Prompt);

        Assert.Equal("Paris #1", second.Text);
        Assert.Single(second.Messages);
        Assert.Equal(3, second.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Function_calls_survive_a_hit()
    {
        var caller = new TestChatClient("tools")
        {
            GetResponseAsyncCallback = (_, _, _) =>
            {
                Interlocked.Increment(ref _produced);
                return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })])));
            },
        };
        ResponseCacheChatClient cache = Cache(caller);

        await cache.GetResponseAsync(Prompt);
        ChatResponse hit = await cache.GetResponseAsync(Prompt);

        FunctionCallContent call = Assert.IsType<FunctionCallContent>(Assert.Single(hit.Messages[0].Contents));
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments!["city"]?.ToString());
        Assert.Equal(1, _produced);
    }

    [Fact]
    public async Task Requests_that_differ_only_in_tools_do_not_share_an_entry()
    {
        ResponseCacheChatClient cache = Cache();

        await cache.GetResponseAsync(Prompt, new ChatOptions { Tools = [AIFunctionFactory.Create(() => 1, "a")] });
        await cache.GetResponseAsync(Prompt, new ChatOptions { Tools = [AIFunctionFactory.Create(() => 1, "b")] });

        Assert.Equal(2, _produced);
    }

    [Fact]
    public async Task Concurrent_identical_misses_make_one_provider_call()
    {
        var release = new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new TestChatClient("slow")
        {
            GetResponseAsyncCallback = (_, _, _) =>
            {
                Interlocked.Increment(ref _produced);
                return release.Task;
            },
        };
        ResponseCacheChatClient cache = Cache(slow);

        Task<ChatResponse>[] callers = [.. Enumerable.Range(0, 16).Select(_ => Task.Run(() => cache.GetResponseAsync(Prompt)))];
        while (slow.Calls == 0)
        {
            await Task.Yield();
        }

        release.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Paris")));
        ChatResponse[] answers = await Task.WhenAll(callers);

        Assert.Equal(1, slow.Calls);
        Assert.All(answers, a => Assert.Equal("Paris", a.Text));
        Assert.Equal(15, cache.Statistics.Hits);
        Assert.Equal(1, cache.Statistics.Misses);
    }

    [Fact]
    public async Task A_streamed_miss_serves_a_later_non_streaming_call_and_a_hit_replays_as_a_stream()
    {
        ResponseCacheChatClient cache = Cache();

        string streamed = await Streamed(cache);
        ChatResponse after = await cache.GetResponseAsync(Prompt);

        Assert.Equal("Paris #1", streamed);
        Assert.Equal("Paris #1", after.Text);
        Assert.Equal(1, _produced);

        var other = new ChatOptions { Temperature = 0.1f };
        ChatResponse plain = await cache.GetResponseAsync(Prompt, other);
        string replayed = await Streamed(cache, other);
        Assert.Equal(plain.Text, replayed);
        Assert.Equal(2, _produced);
    }

    [Fact]
    public async Task Abandoned_and_failed_streams_are_not_stored()
    {
        ResponseCacheChatClient cache = Cache();
        await foreach (ChatResponseUpdate _ in cache.GetStreamingResponseAsync(Prompt))
        {
            break;
        }

        var failing = new TestChatClient("failing") { GetStreamingResponseAsyncCallback = (_, _, _) => Failing() };
        ResponseCacheChatClient failingCache = Cache(failing);
        await Assert.ThrowsAsync<IOException>(() => Streamed(failingCache));
        await Assert.ThrowsAsync<IOException>(() => Streamed(failingCache));

        await cache.GetResponseAsync(Prompt);
        Assert.Equal(2, _produced);
        Assert.Equal(2, failing.Calls);
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Failing()
    {
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, "Pa");
        throw new IOException("dropped");
    }

    [Fact]
    public async Task Errors_are_not_cached()
    {
        int calls = 0;
        var flaky = new TestChatClient("flaky")
        {
            GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref calls) == 1
                ? Task.FromException<ChatResponse>(Http.Status(503))
                : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))),
        };
        ResponseCacheChatClient cache = Cache(flaky);

        await Assert.ThrowsAsync<HttpRequestException>(() => cache.GetResponseAsync(Prompt));
        ChatResponse second = await cache.GetResponseAsync(Prompt);

        Assert.Equal("ok", second.Text);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Tenants_never_see_each_others_entries()
    {
        ResponseCacheChatClient cache = Cache(configure: o => o.Partition = opts => opts?.AdditionalProperties?["tenant"] as string);
        ChatOptions For(string tenant) => new() { AdditionalProperties = new() { ["tenant"] = tenant } };

        ChatResponse a = await cache.GetResponseAsync(Prompt, For("a"));
        ChatResponse b = await cache.GetResponseAsync(Prompt, For("b"));
        ChatResponse a2 = await cache.GetResponseAsync(Prompt, For("a"));
        ChatResponse explicitB = await cache.GetResponseAsync(Prompt, new ChatOptions().WithCacheControl(new CacheControl { Partition = "b" }));

        Assert.Equal("Paris #1", a.Text);
        Assert.Equal("Paris #2", b.Text);
        Assert.Equal("Paris #1", a2.Text);
        Assert.Equal(3, _produced);
        Assert.Equal("Paris #3", explicitB.Text);
    }

    [Fact]
    public async Task Per_request_controls_skip_lookup_skip_store_and_bound_age()
    {
        ResponseCacheChatClient cache = Cache();
        ChatOptions With(CacheControl c) => new ChatOptions().WithCacheControl(c);

        await cache.GetResponseAsync(Prompt);                                                   // #1 stored
        ChatResponse noCache = await cache.GetResponseAsync(Prompt, With(new CacheControl { NoCache = true }));
        Assert.Equal("Paris #2", noCache.Text);                                                 // looked past the cache, stored #2
        Assert.Equal("Paris #2", (await cache.GetResponseAsync(Prompt)).Text);

        ChatResponse ns = await cache.GetResponseAsync(Prompt, With(new CacheControl { Namespace = "v2", NoStore = true }));
        Assert.Equal("Paris #3", ns.Text);
        Assert.Equal("Paris #4", (await cache.GetResponseAsync(Prompt, With(new CacheControl { Namespace = "v2" }))).Text);

        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal("Paris #4", (await cache.GetResponseAsync(Prompt, With(new CacheControl { Namespace = "v2", MaxAge = TimeSpan.FromMinutes(11) }))).Text);
        Assert.Equal("Paris #5", (await cache.GetResponseAsync(Prompt, With(new CacheControl { Namespace = "v2", MaxAge = TimeSpan.FromMinutes(5) }))).Text);
        Assert.Equal("Paris #5", (await cache.GetResponseAsync(Prompt, With(new CacheControl { Namespace = "v2" }))).Text);
    }

    [Fact]
    public async Task Conversation_state_and_zero_data_retention_bypass_the_cache()
    {
        ResponseCacheChatClient cache = Cache();

        await cache.GetResponseAsync(Prompt, new ChatOptions { ConversationId = "conv-1" });
        await cache.GetResponseAsync(Prompt, new ChatOptions { ConversationId = "conv-1" });
        var zdr = new ChatOptions().WithRouteConstraints(new RouteConstraints { RequireZeroDataRetention = true });
        await cache.GetResponseAsync(Prompt, zdr);
        await cache.GetResponseAsync(Prompt, zdr);

        Assert.Equal(4, _produced);
        Assert.Equal(4, cache.Statistics.Bypassed);
    }

    [Fact]
    public async Task The_routers_report_is_not_stored_and_a_hit_carries_none()
    {
        var h = new RouterHarness();
        h.Add("a");
        using LlmRouterChatClient router = h.Build();
        ResponseCacheChatClient cache = Cache(router);

        ChatResponse miss = await cache.GetResponseAsync(Prompt);
        ChatResponse hit = await cache.GetResponseAsync(Prompt);

        Assert.Equal("a", miss.GetRoutingReport()!.Deployment);
        Assert.Null(hit.GetRoutingReport());
        Assert.Equal(miss.Text, hit.Text);
    }

    [Fact]
    public async Task UseResponseCache_resolves_the_HybridCache_service()
    {
        var services = new ServiceCollection();
        services.AddHybridCache();
        services.AddChatClient(_provider).UseResponseCache();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient client = provider.GetRequiredService<IChatClient>();

        await client.GetResponseAsync(Prompt);
        await client.GetResponseAsync(Prompt);

        Assert.Equal(1, _produced);
        Assert.NotNull(client.GetService<ResponseCacheChatClient>());
    }
}
