using System.Diagnostics;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>
/// Scenario: the stack AddLlmRouter builds (response cache over budgets over the router); a second identical request is
/// a cache hit. $1 / $2 per million tokens, 1000 input and 500 output tokens: every answer costs $0.002.
/// </summary>
public sealed class CacheTelemetryTests : IAsyncDisposable
{
    private const double AnswerCost = 0.002;

    private readonly string _deployment = Fixture.Unique("cached");
    private readonly string _route = Fixture.Unique("route");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _provider = Fixture.Provider("prov-cache");
    private readonly ServiceProvider _services;
    private readonly IChatClient _client;

    public CacheTelemetryTests()
    {
        _provider.GetResponseAsyncCallback = (_, _, _) =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(400));
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Paris"))
            {
                ModelId = "cache-model-v1",
                Usage = new UsageDetails { InputTokenCount = 1000, OutputTokenCount = 500 },
            });
        };
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddLlmRouter(b => b
            .AddDeployment(_deployment, _provider, d =>
            {
                d.ModelId = "cache-model";
                d.Price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m };
            })
            .AddRoute(_route, _deployment)
            .ConfigureResponseCache(_ => { })
            .ConfigureBudgets(_ => { }));
        _services = services.BuildServiceProvider();
        _client = _services.GetRequiredService<IChatClient>();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        _provider.Dispose();
    }

    private ChatOptions Options() => new() { ModelId = _route };

    private async Task<(ChatResponse Response, IReadOnlyList<Activity> Trace)> Traced(SpanRecorder spans, CancellationToken cancellationToken = default)
    {
        Activity root = SpanRecorder.Root();
        try
        {
            ChatResponse response = await _client.GetResponseAsync(Fixture.Prompt("capital of France?"), Options(), cancellationToken);
            return (response, spans.Stopped(root.TraceId));
        }
        finally
        {
            root.Stop();
        }
    }

    [Fact]
    public void The_container_builds_the_cache_over_the_budgets_over_the_router()
    {
        Assert.IsType<ResponseCacheChatClient>(_client);
        Assert.NotNull(_client.GetService<BudgetChatClient>());
        Assert.NotNull(_client.GetService<LlmRouterChatClient>());
    }

    [Fact]
    public async Task A_miss_then_a_hit_one_request_span_each_attempt_spans_only_on_the_miss()
    {
        using var spans = new SpanRecorder();

        (ChatResponse missResponse, IReadOnlyList<Activity> miss) = await Traced(spans);
        (ChatResponse hitResponse, IReadOnlyList<Activity> hit) = await Traced(spans);

        Assert.Equal("Paris", hitResponse.Text);
        Assert.Equal(1, _provider.Calls);

        // The miss: one request span (the cache's; the layers below add to it), one attempt under it.
        Activity missSpan = miss.Span($"chat {_route}");
        Assert.Single(miss, s => s.OperationName.StartsWith("chat", StringComparison.Ordinal));
        missSpan.Tagged("llmrouter.cache.hit", false);
        missSpan.Untagged("llmrouter.cache.cost_saved");
        missSpan.Tagged("llmrouter.outcome", "served");
        missSpan.Tagged("llmrouter.route", _route);
        missSpan.Tagged("llmrouter.served_route", _route);
        missSpan.Tagged("llmrouter.deployment", _deployment);
        missSpan.Tagged("llmrouter.attempts", 1);
        missSpan.Tagged("gen_ai.provider.name", "prov-cache");
        missSpan.Tagged("gen_ai.response.model", "cache-model-v1");
        missSpan.Tagged("gen_ai.usage.input_tokens", 1000L);
        missSpan.Tagged("gen_ai.usage.output_tokens", 500L);
        missSpan.Tagged("llmrouter.cost.usd", AnswerCost);
        missSpan.Tagged("llmrouter.cost.estimated", false);
        Assert.Equal(0.002m, missResponse.GetCost()!.Usd);
        Activity attempt = Assert.Single(miss.ChildrenOf(missSpan));
        Assert.Equal($"attempt {_deployment}", attempt.OperationName);
        Assert.Equal(2, miss.Count);

        // The hit: the request span alone, marked as a hit, with the answer's usage and no provider attempt.
        Activity hitSpan = Assert.Single(hit);
        Assert.Equal($"chat {_route}", hitSpan.OperationName);
        hitSpan.Tagged("llmrouter.cache.hit", true);
        TelemetryAssertions.Close(AnswerCost, Assert.IsType<double>(hitSpan.GetTagItem("llmrouter.cache.cost_saved")));
        hitSpan.Tagged("llmrouter.outcome", "served");
        hitSpan.Tagged("llmrouter.streaming", false);
        hitSpan.Tagged("gen_ai.request.model", _route);
        hitSpan.Tagged("gen_ai.response.model", "cache-model-v1");
        hitSpan.Tagged("gen_ai.usage.output_tokens", 500L);
        hitSpan.Untagged("llmrouter.deployment");
        hitSpan.Untagged("llmrouter.cost.usd");
        Assert.Equal(ActivityStatusCode.Unset, hitSpan.Status);
    }

    [Fact]
    public async Task A_miss_then_a_hit_count_misses_hits_cost_and_cost_saved()
    {
        using var metrics = new RouterMetrics();

        await _client.GetResponseAsync(Fixture.Prompt("capital of France?"), Options());
        await _client.GetResponseAsync(Fixture.Prompt("capital of France?"), Options());

        Assert.Equal(1, Assert.Single(metrics.CacheMisses.Where("llmrouter.route", _route)).Value);
        Assert.Equal(1, Assert.Single(metrics.CacheHits.Where("llmrouter.route", _route)).Value);
        TelemetryAssertions.Close(AnswerCost, Assert.Single(metrics.CacheCostSaved.Where("llmrouter.route", _route)).Value);

        // The cost is counted once, on the miss, with the serving deployment; the hit cost nothing.
        CollectedMeasurement<double> cost = Assert.Single(metrics.Cost.Where("llmrouter.route", _route));
        TelemetryAssertions.Close(AnswerCost, cost.Value);
        Assert.Equal(_deployment, cost.Tag("llmrouter.deployment"));
        Assert.Equal("false", cost.Tag("llmrouter.cost.estimated"));

        // The router saw one request.
        Assert.Single(metrics.Requests.Where("llmrouter.route", _route));
        Assert.Single(metrics.Attempts.Where("llmrouter.deployment", _deployment));
    }

    [Fact]
    public async Task A_streaming_request_served_from_an_entry_is_a_hit_on_a_streaming_request_span()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        await _client.GetResponseAsync(Fixture.Prompt("capital of France?"), Options());

        Activity root = SpanRecorder.Root();
        try
        {
            List<ChatResponseUpdate> updates = await Fixture.ReadAll(_client.GetStreamingResponseAsync(Fixture.Prompt("capital of France?"), Options()));
            Assert.Equal("Paris", updates.ToChatResponse().Text);
        }
        finally
        {
            root.Stop();
        }

        Activity span = Assert.Single(spans.Stopped(root.TraceId));
        Assert.Equal($"chat {_route}", span.OperationName);
        span.Tagged("llmrouter.streaming", true);
        span.Tagged("llmrouter.cache.hit", true);
        span.Tagged("llmrouter.outcome", "served");
        TelemetryAssertions.Close(AnswerCost, Assert.IsType<double>(span.GetTagItem("llmrouter.cache.cost_saved")));
        Assert.Equal(1, _provider.Calls);
        Assert.Single(metrics.CacheHits.Where("llmrouter.route", _route));
        TelemetryAssertions.Close(AnswerCost, Assert.Single(metrics.CacheCostSaved.Where("llmrouter.route", _route)).Value);
    }

    [Fact]
    public async Task A_model_id_naming_no_route_is_tagged_unknown_on_every_instrument_never_as_given()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        string typo = Fixture.Unique("no-such-route");
        Activity root = SpanRecorder.Root();
        try
        {
            await Assert.ThrowsAsync<UnknownRouteException>(() => _client.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = typo }));
        }
        finally
        {
            root.Stop();
        }

        // The span is per request: it names the model id as given.
        Activity request = Assert.Single(spans.Stopped(root.TraceId));
        Assert.Equal($"chat {typo}", request.OperationName);
        Assert.Equal(ActivityStatusCode.Error, request.Status);
        request.Tagged("error.type", typeof(UnknownRouteException).FullName);

        // Metrics never carry it: the router tags "(unknown)".
        Assert.Contains(metrics.Requests.Where("llmrouter.route", "(unknown)"), m => Equals(m.Tag("error.type"), typeof(UnknownRouteException).FullName));
        Assert.Empty(metrics.RequestDuration.Where("error.type", typeof(UnknownRouteException).FullName));
        Assert.Empty(metrics.Requests.Where("llmrouter.route", typo));
        Assert.Empty(metrics.CacheMisses.Where("llmrouter.route", typo));
        Assert.Empty(metrics.Cost.Where("llmrouter.route", typo));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_cacheable_request_passed_on_is_a_miss_even_when_the_layers_below_fail(bool streaming)
    {
        // docs/observability.md: llmrouter.cache.hit is false for a cacheable request "passed on", and
        // llmrouter.cache.misses counts "cacheable requests passed on". Here the provider fails (every attempt).
        _provider.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new HttpRequestException("boom", null, System.Net.HttpStatusCode.BadGateway));
        _provider.GetStreamingResponseAsyncCallback = (_, _, _) => throw new HttpRequestException("boom", null, System.Net.HttpStatusCode.BadGateway);
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        Activity root = SpanRecorder.Root();
        try
        {
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => streaming
                ? Fixture.ReadAll(_client.GetStreamingResponseAsync(Fixture.Prompt(), Options()))
                : _client.GetResponseAsync(Fixture.Prompt(), Options()));
        }
        finally
        {
            root.Stop();
        }

        Activity request = spans.Stopped(root.TraceId).Span($"chat {_route}");
        request.Tagged("llmrouter.outcome", "failed");
        request.Tagged("llmrouter.cache.hit", false);
        Assert.Single(metrics.CacheMisses.Where("llmrouter.route", _route));
    }

    [Fact]
    public async Task A_miss_with_a_cancellable_token_still_hangs_the_attempt_under_the_one_request_span()
    {
        // HybridCache runs the factory of a miss whose token can be cancelled on the thread pool, without the caller's
        // ExecutionContext (it runs it inline for a token that cannot be cancelled, the case the tests above cover). The
        // request span must still be the one the layers below find: one request span, the attempt under it, in the
        // caller's trace. Fails today: the budget layer starts a second, parentless request span in a new trace.
        using var spans = new SpanRecorder();
        using var cts = new CancellationTokenSource();

        (_, IReadOnlyList<Activity> miss) = await Traced(spans, cts.Token);

        Activity request = Assert.Single(miss, s => s.OperationName == $"chat {_route}");
        Activity attempt = Assert.Single(miss, s => s.OperationName == $"attempt {_deployment}");
        Assert.Equal(request.SpanId, attempt.ParentSpanId);
        request.Tagged("llmrouter.cache.hit", false);
        request.Tagged("llmrouter.deployment", _deployment);
        request.Tagged("llmrouter.cost.usd", AnswerCost);
    }
}
