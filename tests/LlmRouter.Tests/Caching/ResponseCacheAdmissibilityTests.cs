using System.Runtime.CompilerServices;
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
    private int _produced;

    public ResponseCacheAdmissibilityTests()
    {
        _services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        _provider.GetResponseAsyncCallback = (_, _, _) =>
        {
            int n = Interlocked.Increment(ref _produced);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"Paris #{n}")));
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
}
