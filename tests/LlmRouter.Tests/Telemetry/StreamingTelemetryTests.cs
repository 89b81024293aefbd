using System.Diagnostics;
using System.Runtime.CompilerServices;
using LlmRouter.Pricing.Internal;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>
/// Scenario: streams. The first deployment fails before its first update, the second streams three updates (the first
/// after 200 ms, the others 300 ms apart) and then its usage (3 input, 4 output tokens).
/// </summary>
public sealed class StreamingTelemetryTests : IDisposable
{
    private readonly string _failing = Fixture.Unique("failing");
    private readonly string _serving = Fixture.Unique("serving");
    private readonly string _route = Fixture.Unique("route");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _bad = Fixture.Provider("prov-bad");
    private readonly TestChatClient _good = Fixture.Provider("prov-good");

    public StreamingTelemetryTests()
    {
        _bad.GetStreamingResponseAsyncCallback = (_, _, ct) => Failing(Http.Status(503), cancellationToken: ct);
        _good.GetStreamingResponseAsyncCallback = (_, _, ct) => Fixture.Updates(
            ["one", "two", "three"],
            i => _time.Advance(TimeSpan.FromMilliseconds(i == 0 ? 200 : 300)),
            new UsageDetails { InputTokenCount = 3, OutputTokenCount = 4 },
            "stream-model-v2",
            ct);
    }

    public void Dispose()
    {
        _bad.Dispose();
        _good.Dispose();
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Failing(Exception error, bool afterFirst = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        if (afterFirst)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, "partial");
        }

        throw error;
    }

    private LlmRouterOptions Options()
    {
        var options = new LlmRouterOptions();
        options.Deployments.Add(Fixture.Deployment(_failing, _bad, "bad-model", new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m }));
        options.Deployments.Add(Fixture.Deployment(_serving, _good, "good-model", new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m }));
        options.Routes.Add(Fixture.Route(_route, _failing, _serving));
        return options;
    }

    private LlmRouterChatClient Router() => new(Options(), timeProvider: _time);

    private ChatOptions For() => new() { ModelId = _route };

    private static bool Is(Activity span, string name) => span.OperationName == name;

    [Fact]
    public async Task The_serving_attempt_span_lasts_until_the_stream_ends_and_the_request_is_served()
    {
        using var spans = new SpanRecorder();
        using LlmRouterChatClient router = Router();
        Activity root = SpanRecorder.Root();
        try
        {
            await using IAsyncEnumerator<ChatResponseUpdate> updates = router.GetStreamingResponseAsync(Fixture.Prompt(), For()).GetAsyncEnumerator();
            Assert.True(await updates.MoveNextAsync());

            // After the first update: the failed attempt has ended, the serving attempt and the request have not.
            IReadOnlyList<Activity> stopped = spans.Stopped(root.TraceId);
            Assert.Contains(stopped, s => Is(s, $"attempt {_failing}"));
            Assert.Contains(spans.Started(root.TraceId), s => Is(s, $"attempt {_serving}"));
            Assert.DoesNotContain(stopped, s => Is(s, $"attempt {_serving}"));
            Assert.DoesNotContain(stopped, s => Is(s, $"chat {_route}"));

            // Between updates the caller's current activity is its own.
            Assert.Same(root, Activity.Current);
            Assert.True(await updates.MoveNextAsync());
            Assert.Same(root, Activity.Current);
            Assert.DoesNotContain(spans.Stopped(root.TraceId), s => Is(s, $"attempt {_serving}"));
            while (await updates.MoveNextAsync())
            {
            }

            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = trace.Span($"chat {_route}");
        Activity serving = trace.Span($"attempt {_serving}");
        Activity failed = trace.Span($"attempt {_failing}");
        Assert.Equal(root.SpanId, request.ParentSpanId);
        Assert.Equal(request.SpanId, serving.ParentSpanId);
        Assert.Equal(request.SpanId, failed.ParentSpanId);

        // The serving attempt ends before its request does (it is the request's last child to end).
        Assert.True(IndexOf(trace, serving) < IndexOf(trace, request));

        request.Tagged("llmrouter.streaming", true);
        request.Tagged("llmrouter.outcome", "served");
        request.Tagged("llmrouter.deployment", _serving);
        request.Tagged("llmrouter.route", _route);
        request.Tagged("llmrouter.attempts", 2);
        request.Tagged("gen_ai.provider.name", "prov-good");
        request.Tagged("gen_ai.response.model", "stream-model-v2");
        request.Tagged("gen_ai.usage.input_tokens", 3L);
        request.Tagged("gen_ai.usage.output_tokens", 4L);
        Assert.Equal(ActivityStatusCode.Unset, request.Status);

        serving.Tagged("llmrouter.attempt.outcome", "succeeded");
        serving.Tagged("llmrouter.outcome", "completed");
        serving.Tagged("llmrouter.attempt.number", 2);
        failed.Tagged("llmrouter.attempt.outcome", "failed");
        failed.Tagged("http.response.status_code", 503);
        failed.Untagged("llmrouter.failover.reason");
        serving.Tagged("llmrouter.failover.reason", "transient");
        serving.Tagged("llmrouter.failover.from", _failing);
    }

    [Fact]
    public async Task Time_to_first_chunk_attempt_and_request_durations_and_tokens_of_a_stream()
    {
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router();

        List<ChatResponseUpdate> updates = await Fixture.ReadAll(router.GetStreamingResponseAsync(Fixture.Prompt(), For()));
        Assert.Equal("onetwothree", updates.ToChatResponse().Text);

        CollectedMeasurement<double> ttfc = Assert.Single(metrics.TimeToFirstChunk.Where("llmrouter.deployment", _serving));
        TelemetryAssertions.Close(0.2, ttfc.Value);
        Assert.Equal(_route, ttfc.Tag("llmrouter.route"));
        Assert.Empty(metrics.TimeToFirstChunk.Where("llmrouter.deployment", _failing));
        TelemetryAssertions.Close(0.2, Assert.Single(metrics.AttemptDuration.Where("llmrouter.deployment", _serving)).Value);

        CollectedMeasurement<long> request = Assert.Single(metrics.Requests.Where("llmrouter.route", _route));
        Assert.Equal("served", request.Tag("llmrouter.outcome"));
        TelemetryAssertions.Close(0.8, Assert.Single(metrics.RequestDuration.Where("llmrouter.route", _route)).Value);

        IReadOnlyList<CollectedMeasurement<long>> tokens = metrics.Tokens.Where("llmrouter.deployment", _serving);
        Assert.Equal(3, Assert.Single(tokens, t => Equals(t.Tag("gen_ai.token.type"), "input")).Value);
        Assert.Equal(4, Assert.Single(tokens, t => Equals(t.Tag("gen_ai.token.type"), "output")).Value);
        Assert.Single(metrics.Failovers.Where("llmrouter.route", _route));
        Assert.Equal("failed", Assert.Single(metrics.Attempts.Where("llmrouter.deployment", _failing)).Tag("llmrouter.attempt.outcome"));
    }

    [Fact]
    public async Task A_stream_the_caller_abandons_is_marked_abandoned()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router();
        Activity root = SpanRecorder.Root();
        try
        {
            await foreach (ChatResponseUpdate _ in router.GetStreamingResponseAsync(Fixture.Prompt(), For()))
            {
                break;
            }

            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = trace.Span($"chat {_route}");
        request.Tagged("llmrouter.outcome", "abandoned");
        trace.Span($"attempt {_serving}").Tagged("llmrouter.outcome", "abandoned");
        Assert.Equal(ActivityStatusCode.Unset, request.Status);

        Assert.Equal("cancelled", Assert.Single(metrics.Requests.Where("llmrouter.route", _route)).Tag("llmrouter.outcome"));
        Assert.Empty(metrics.Tokens.Where("llmrouter.deployment", _serving));
    }

    [Fact]
    public async Task A_stream_abandoned_under_the_budget_layer_is_marked_abandoned_on_its_request_span()
    {
        using var spans = new SpanRecorder();
        using var client = new BudgetChatClient(Router(), new BudgetOptions(), timeProvider: _time);
        Activity root = SpanRecorder.Root();
        try
        {
            await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync(Fixture.Prompt(), For()))
            {
                break;
            }

            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = Assert.Single(trace, s => s.OperationName.StartsWith("chat", StringComparison.Ordinal));
        request.Tagged("llmrouter.outcome", "abandoned");
        request.Tagged("llmrouter.deployment", _serving);
        Assert.Equal(2, trace.ChildrenOf(request).Count);
    }

    [Fact]
    public async Task A_stream_that_breaks_after_its_first_update_fails_the_request_span()
    {
        _good.GetStreamingResponseAsyncCallback = (_, _, ct) => Failing(Http.Status(502), afterFirst: true, ct);
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router();
        Activity root = SpanRecorder.Root();
        try
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => Fixture.ReadAll(router.GetStreamingResponseAsync(Fixture.Prompt(), For())));
            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = trace.Span($"chat {_route}");
        Assert.Equal(ActivityStatusCode.Error, request.Status);
        request.Tagged("llmrouter.outcome", "failed");
        request.Tagged("error.type", typeof(HttpRequestException).FullName);
        Activity serving = trace.Span($"attempt {_serving}");
        serving.Tagged("llmrouter.outcome", "broken");
        serving.Tagged("error.type", typeof(HttpRequestException).FullName);
        Assert.Equal(ActivityStatusCode.Error, serving.Status);
        Assert.Equal("failed", Assert.Single(metrics.Requests.Where("llmrouter.route", _route)).Tag("llmrouter.outcome"));
    }

    [Fact]
    public async Task A_streamed_miss_through_cache_and_budgets_has_one_request_span_with_cost_and_attempts()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddLlmRouter(b => b
            .Configure(o =>
            {
                LlmRouterOptions built = Options();
                foreach (DeploymentOptions d in built.Deployments)
                {
                    o.Deployments.Add(d);
                }

                o.Routes.Add(built.Routes[0]);
            })
            .ConfigureResponseCache(_ => { })
            .ConfigureBudgets(_ => { }));
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient client = provider.GetRequiredService<IChatClient>();
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        Activity root = SpanRecorder.Root();
        try
        {
            await Fixture.ReadAll(client.GetStreamingResponseAsync(Fixture.Prompt(), For()));
            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = Assert.Single(trace, s => s.OperationName.StartsWith("chat", StringComparison.Ordinal));
        Assert.Equal(root.SpanId, request.ParentSpanId);
        request.Tagged("llmrouter.streaming", true);
        request.Tagged("llmrouter.cache.hit", false);
        request.Tagged("llmrouter.outcome", "served");
        request.Tagged("llmrouter.deployment", _serving);
        request.Tagged("gen_ai.usage.output_tokens", 4L);
        TelemetryAssertions.Close(0.000011, Assert.IsType<double>(request.GetTagItem("llmrouter.cost.usd")));
        request.Tagged("llmrouter.cost.estimated", false);
        Assert.Equal([$"attempt {_failing}", $"attempt {_serving}"], trace.ChildrenOf(request).Select(s => s.OperationName));
        Assert.Single(metrics.CacheMisses.Where("llmrouter.route", _route));
        TelemetryAssertions.Close(0.000011, Assert.Single(metrics.Cost.Where("llmrouter.route", _route)).Value);
    }

    private static int IndexOf(IReadOnlyList<Activity> spans, Activity span)
    {
        for (int i = 0; i < spans.Count; i++)
        {
            if (ReferenceEquals(spans[i], span))
            {
                return i;
            }
        }

        return -1;
    }
}
