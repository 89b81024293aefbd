using System.Runtime.CompilerServices;
using LlmRouter.Tests.Budgets;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Caching;

/// <summary>What the cache may serve and store: routing constraints, partitions, per-request controls, filtered answers, rejected routes.</summary>
public sealed class ResponseCacheAdmissibilityTests : IDisposable
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "What is the capital of France?")];
    private readonly ServiceProvider _services;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TestChatClient _provider = new("provider");
    private ChatFinishReason? _finish;
    private int _produced;

    public ResponseCacheAdmissibilityTests()
    {
        _services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        _provider.GetResponseAsyncCallback = (_, _, _) =>
        {
            int n = Interlocked.Increment(ref _produced);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"Paris #{n}")) { FinishReason = _finish });
        };
        _provider.GetStreamingResponseAsyncCallback = (_, _, ct) => Stream(ct);
    }

    public void Dispose() => _services.Dispose();

    private ResponseCacheChatClient Cache(IChatClient? inner = null) =>
        new(inner ?? _provider, _services.GetRequiredService<HybridCache>(), new ResponseCacheOptions(), _time);

    private async IAsyncEnumerable<ChatResponseUpdate> Stream([EnumeratorCancellation] CancellationToken ct = default)
    {
        int n = Interlocked.Increment(ref _produced);
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, "Par");
        yield return new ChatResponseUpdate(ChatRole.Assistant, $"is #{n}") { FinishReason = _finish };
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

    private static ChatOptions With(CacheControl control) => new ChatOptions().WithCacheControl(control);

    public static TheoryData<string, RouteConstraints> Constraints => new()
    {
        { "eu", new RouteConstraints { Regions = ["eu"] } },
        { "eu", new RouteConstraints { RequiredTags = ["residency-eu"] } },
        { "eu", new RouteConstraints { RequireZeroDataRetention = true } },
    };

    [Theory]
    [MemberData(nameof(Constraints))]
    public async Task A_constrained_request_is_never_served_an_answer_from_a_deployment_it_excludes(string allowed, RouteConstraints constraints)
    {
        var h = new RouterHarness();
        h.Add("us", configure: d => d.Region = "us");
        h.Add("eu", configure: d =>
        {
            d.Region = "eu";
            d.ZeroDataRetention = true;
            d.Tags.Add("residency-eu");
        });
        h.Route("chat", "Ordered", "us", "eu");
        using LlmRouterChatClient router = h.Build();
        ResponseCacheChatClient cache = Cache(router);

        ChatResponse unconstrained = await cache.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        ChatResponse constrained = await cache.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat").WithRouteConstraints(constraints));
        string streamed = await StreamedFrom(cache, RouterHarness.For("chat").WithRouteConstraints(constraints));

        Assert.Equal("us", unconstrained.GetRoutingReport()!.Deployment);
        Assert.Equal(allowed, constrained.GetRoutingReport()?.Deployment);
        Assert.Contains("eu", streamed, StringComparison.Ordinal);
        Assert.Equal(1, h.Clients["us"].Calls);
    }

    private static async Task<string> StreamedFrom(IChatClient client, ChatOptions options)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync(RouterHarness.Prompt, options))
        {
            updates.Add(u);
        }

        return updates.ToChatResponse().Text;
    }

    [Fact]
    public async Task A_scope_whose_policy_allows_one_region_is_never_served_an_answer_from_another()
    {
        var h = new BudgetHarness();
        TestChatClient us = h.Add("us", configure: d => d.Region = "us");
        TestChatClient eu = h.Add("eu", configure: d => d.Region = "eu");
        h.Router.Route("chat", "Ordered", "us", "eu");
        h.Scope("org:eu-only").AllowedRegions.Add("eu");
        ResponseCacheChatClient cache = Cache(h.Build());
        static ChatOptions From(string scope) => BudgetHarness.For(scope).Also(o => o.ModelId = "chat");

        ChatResponse anywhere = await cache.GetResponseAsync(BudgetHarness.Prompt, From("org:anywhere"));
        ChatResponse euOnly = await cache.GetResponseAsync(BudgetHarness.Prompt, From("org:eu-only"));
        string euStreamed = await StreamedFrom(cache, From("org:eu-only"));
        ChatResponse askedForEu = await cache.GetResponseAsync(BudgetHarness.Prompt, From("org:anywhere").WithRouteConstraints(new RouteConstraints { Regions = ["EU"] }));

        Assert.Equal("us", anywhere.GetRoutingReport()?.Deployment);
        Assert.Equal("eu", euOnly.GetRoutingReport()?.Deployment);
        Assert.Equal(euOnly.Text, euStreamed);
        Assert.Equal(euOnly.Text, askedForEu.Text);
        Assert.Equal((1, 1), (us.Calls, eu.Calls)); // the eu-only scope's entry serves whoever asks for eu
    }

    [Fact]
    public async Task Requests_under_the_same_constraints_share_an_entry_whatever_the_order_and_case_of_regions()
    {
        ResponseCacheChatClient cache = Cache();

        await cache.GetResponseAsync(Prompt, new ChatOptions().WithRouteConstraints(new RouteConstraints { Regions = ["eu", "uk"] }));
        ChatResponse hit = await cache.GetResponseAsync(Prompt, new ChatOptions().WithRouteConstraints(new RouteConstraints { Regions = ["UK", "eu", "eu"], MaxAttempts = 2 }));
        ChatResponse unconstrained = await cache.GetResponseAsync(Prompt, new ChatOptions().WithRouteConstraints(new RouteConstraints { Regions = [] }));
        ChatResponse none = await cache.GetResponseAsync(Prompt);

        Assert.Equal("Paris #1", hit.Text);
        Assert.Equal("Paris #2", unconstrained.Text);
        Assert.Equal("Paris #2", none.Text);
    }

    public static TheoryData<CacheControl, CacheControl> DistinctScopes => new()
    {
        { new CacheControl { Partition = "acme\u001Fx" }, new CacheControl { Partition = "acme", Namespace = "x" } },
        { new CacheControl { Partition = string.Empty }, new CacheControl() },
        { new CacheControl { Namespace = string.Empty }, new CacheControl() },
        { new CacheControl { Partition = "a", Namespace = "b\u001Fc" }, new CacheControl { Partition = "a\u001Fb", Namespace = "c" } },
    };

    [Theory]
    [MemberData(nameof(DistinctScopes))]
    public async Task Distinct_partitions_and_namespaces_never_share_an_entry(CacheControl first, CacheControl second)
    {
        ResponseCacheChatClient cache = Cache();

        ChatResponse a = await cache.GetResponseAsync(Prompt, With(first));
        ChatResponse b = await cache.GetResponseAsync(Prompt, With(second));

        Assert.Equal("Paris #1", a.Text);
        Assert.Equal("Paris #2", b.Text);
    }

    public static TheoryData<TimeSpan, bool> BadTimesToLive => new()
    {
        { TimeSpan.Zero, false },
        { TimeSpan.FromSeconds(-1), false },
        { TimeSpan.Zero, true },
        { TimeSpan.FromSeconds(-1), true },
    };

    [Theory]
    [MemberData(nameof(BadTimesToLive))]
    public async Task A_non_positive_time_to_live_is_rejected_before_any_provider_call(TimeSpan ttl, bool streaming)
    {
        ResponseCacheChatClient cache = Cache();
        ChatOptions options = With(new CacheControl { TimeToLive = ttl });

        ArgumentOutOfRangeException error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => streaming ? Streamed(cache, options) : cache.GetResponseAsync(Prompt, options));

        Assert.Equal(0, _provider.Calls);
        Assert.Equal("options", error.ParamName);
        Assert.Equal(ttl, error.ActualValue);
        Assert.Contains("CacheControl.TimeToLive", error.Message, StringComparison.Ordinal);
        Assert.Contains("positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_positive_time_to_live_is_rejected_even_when_the_request_bypasses_the_cache()
    {
        ResponseCacheChatClient cache = Cache();
        ChatOptions options = With(new CacheControl { TimeToLive = TimeSpan.Zero });
        options.ConversationId = "conv-1";

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cache.GetResponseAsync(Prompt, options));
        Assert.Equal(0, _provider.Calls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Content_filtered_answers_are_not_stored(bool streaming)
    {
        ResponseCacheChatClient cache = Cache();
        Task<string> Ask(ChatOptions? options = null) => streaming ? Streamed(cache, options) : cache.GetResponseAsync(Prompt, options).ContinueWith(t => t.Result.Text, TaskScheduler.Default);

        _finish = ChatFinishReason.ContentFilter;
        string filtered = await Ask();
        string fresh = await Ask(With(new CacheControl { NoCache = true }));
        _finish = ChatFinishReason.Stop;
        string third = await Ask();
        string hit = await Ask();

        Assert.Equal("Paris #1", filtered);
        Assert.Equal("Paris #2", fresh);
        Assert.Equal("Paris #3", third);
        Assert.Equal("Paris #3", hit);
    }

    [Fact]
    public async Task Concurrent_identical_misses_share_a_content_filtered_answer_that_is_then_not_stored()
    {
        var release = new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new TestChatClient("slow")
        {
            GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref _produced) == 1
                ? release.Task
                : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Paris"))),
        };
        var counting = new CountingCache(_services.GetRequiredService<HybridCache>());
        var cache = new ResponseCacheChatClient(slow, counting, new ResponseCacheOptions(), _time);

        Task<ChatResponse>[] callers = [.. Enumerable.Range(0, 8).Select(_ => Task.Run(() => cache.GetResponseAsync(Prompt)))];
        await Eventually.Until(() => slow.Calls == 1 && counting.Lookups == 8); // all eight joined the one miss
        release.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "I can't help with that.")) { FinishReason = ChatFinishReason.ContentFilter });
        ChatResponse[] answers = await Task.WhenAll(callers);
        ChatResponse after = await cache.GetResponseAsync(Prompt);

        Assert.All(answers, a => Assert.Equal(ChatFinishReason.ContentFilter, a.FinishReason));
        Assert.Equal(8, answers.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.Equal("Paris", after.Text);
        Assert.Equal(2, slow.Calls);
    }

    [Theory]
    [InlineData("")]
    [InlineData("no-such-route")]
    public async Task A_route_the_router_rejects_gets_the_routers_error_not_a_cached_answer(string modelId)
    {
        var h = new RouterHarness();
        h.Add("a");
        using LlmRouterChatClient router = h.Build();
        ResponseCacheChatClient cache = Cache(router);
        await cache.GetResponseAsync(RouterHarness.Prompt);
        await StreamedFrom(cache, new ChatOptions());

        UnknownRouteException error = await Assert.ThrowsAsync<UnknownRouteException>(() => cache.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = modelId }));
        await Assert.ThrowsAsync<UnknownRouteException>(() => StreamedFrom(cache, new ChatOptions { ModelId = modelId }));

        Assert.Equal(modelId, error.Route);
        Assert.Equal(2, cache.Statistics.Bypassed);
        Assert.Equal(1, h.Clients["a"].Calls);
    }

    /// <summary>Counts lookups that have reached HybridCache (which joins a caller to a running miss before returning its task).</summary>
    private sealed class CountingCache(HybridCache inner) : HybridCache
    {
        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            ValueTask<T> lookup = inner.GetOrCreateAsync(key, state, factory, options, tags, cancellationToken);
            Interlocked.Increment(ref _lookups);
            return lookup;
        }

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default) =>
            inner.SetAsync(key, value, options, tags, cancellationToken);

        public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

        public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);
    }
}
