using System.Diagnostics;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>Scenario: the first deployment answers 503, the second serves (spans, failover and attempt metrics, logs).</summary>
public sealed class FailoverTelemetryTests : IDisposable
{
    private const string ProviderSecret = "PROVIDER-BODY-SECRET-4c1d";

    private readonly string _failing = Fixture.Unique("failing");
    private readonly string _serving = Fixture.Unique("serving");
    private readonly string _route = Fixture.Unique("route");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _bad = Fixture.Provider("prov-bad");
    private readonly TestChatClient _good = Fixture.Provider("prov-good");

    public FailoverTelemetryTests()
    {
        _bad.GetResponseAsyncCallback = (_, _, _) =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
            return Task.FromException<ChatResponse>(Http.Status(503, $"upstream said: {ProviderSecret}"));
        };
        _good.GetResponseAsyncCallback = (_, _, _) =>
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
            {
                ModelId = "good-model-2026-01-01",
                Usage = new UsageDetails { InputTokenCount = 7, OutputTokenCount = 11 },
            });
        };
    }

    public void Dispose()
    {
        _bad.Dispose();
        _good.Dispose();
    }

    private LlmRouterChatClient Router(ILoggerFactory? loggerFactory = null, int maxAttempts = 3)
    {
        var options = new LlmRouterOptions { MaxAttempts = maxAttempts, DefaultRoute = _route };
        options.Deployments.Add(Fixture.Deployment(_failing, _bad, "bad-model"));
        options.Deployments.Add(Fixture.Deployment(_serving, _good, "good-model"));
        options.Routes.Add(Fixture.Route(_route, _failing, _serving));
        return new LlmRouterChatClient(options, timeProvider: _time, loggerFactory: loggerFactory);
    }

    [Fact]
    public async Task Failover_gives_one_request_span_with_an_attempt_span_per_provider_call()
    {
        using var spans = new SpanRecorder();
        using LlmRouterChatClient router = Router();
        Activity root = SpanRecorder.Root();
        ChatResponse response;
        try
        {
            response = await router.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _route });
        }
        finally
        {
            root.Stop();
        }

        Assert.Equal(_serving, response.GetRoutingReport()!.Deployment);
        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Assert.Equal(3, trace.Count);

        Activity request = trace.Span($"chat {_route}");
        Assert.Equal(root.SpanId, request.ParentSpanId);
        Assert.Equal(ActivityKind.Internal, request.Kind);
        request.Tagged("gen_ai.operation.name", "chat");
        request.Tagged("gen_ai.request.model", _route);
        request.Tagged("llmrouter.streaming", false);
        request.Tagged("llmrouter.route", _route);
        request.Tagged("llmrouter.served_route", _route);
        request.Tagged("llmrouter.deployment", _serving);
        request.Tagged("llmrouter.attempts", 2);
        request.Tagged("gen_ai.provider.name", "prov-good");
        request.Tagged("gen_ai.response.model", "good-model-2026-01-01");
        request.Tagged("gen_ai.usage.input_tokens", 7L);
        request.Tagged("gen_ai.usage.output_tokens", 11L);
        request.Tagged("llmrouter.outcome", "served");
        request.Untagged("error.type");
        Assert.Equal(ActivityStatusCode.Unset, request.Status);

        // Both attempts are children of the request span, in the order they were made.
        IReadOnlyList<Activity> attempts = trace.ChildrenOf(request);
        Assert.Equal([$"attempt {_failing}", $"attempt {_serving}"], attempts.Select(a => a.OperationName));
        Activity failed = attempts[0];
        failed.Tagged("llmrouter.deployment", _failing);
        failed.Tagged("llmrouter.route", _route);
        failed.Tagged("gen_ai.provider.name", "prov-bad");
        failed.Tagged("gen_ai.request.model", "bad-model");
        failed.Tagged("llmrouter.attempt.number", 1);
        failed.Tagged("llmrouter.attempt.outcome", "failed");
        failed.Tagged("error.type", typeof(HttpRequestException).FullName);
        failed.Tagged("llmrouter.failure.kind", "transient");
        failed.Tagged("http.response.status_code", 503);
        failed.Untagged("llmrouter.failover.reason");
        failed.Untagged("llmrouter.failover.from");
        failed.Untagged("llmrouter.attempt.probe");
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.DoesNotContain(ProviderSecret, failed.StatusDescription ?? string.Empty, StringComparison.Ordinal);

        Activity served = attempts[1];
        served.Tagged("llmrouter.deployment", _serving);
        served.Tagged("llmrouter.route", _route);
        served.Tagged("gen_ai.provider.name", "prov-good");
        served.Tagged("gen_ai.request.model", "good-model");
        served.Tagged("llmrouter.attempt.number", 2);
        served.Tagged("llmrouter.attempt.outcome", "succeeded");
        served.Untagged("error.type");

        // The attempt that exists because of the failover says why and from where.
        served.Tagged("llmrouter.failover.reason", "transient");
        served.Tagged("llmrouter.failover.from", _failing);
        Assert.Equal(ActivityStatusCode.Unset, served.Status);

        // No span carries the provider's message.
        Assert.All(trace, s => Assert.DoesNotContain(s.TagObjects, t => t.Value is string v && v.Contains(ProviderSecret, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Failover_records_attempts_failovers_tokens_requests_and_durations()
    {
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router();

        await router.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _route });

        CollectedMeasurement<long> failover = Assert.Single(metrics.Failovers.Where("llmrouter.route", _route));
        Assert.Equal(1, failover.Value);
        Assert.Equal(_failing, failover.Tag("llmrouter.deployment"));
        Assert.Equal("transient", failover.Tag("llmrouter.failover.reason"));

        CollectedMeasurement<long> failedAttempt = Assert.Single(metrics.Attempts.Where("llmrouter.deployment", _failing));
        Assert.Equal(1, failedAttempt.Value);
        Assert.Equal("failed", failedAttempt.Tag("llmrouter.attempt.outcome"));
        Assert.Equal(_route, failedAttempt.Tag("llmrouter.route"));
        Assert.Equal("prov-bad", failedAttempt.Tag("gen_ai.provider.name"));
        Assert.Equal(typeof(HttpRequestException).FullName, failedAttempt.Tag("error.type"));

        CollectedMeasurement<long> servedAttempt = Assert.Single(metrics.Attempts.Where("llmrouter.deployment", _serving));
        Assert.Equal("succeeded", servedAttempt.Tag("llmrouter.attempt.outcome"));
        Assert.Equal("prov-good", servedAttempt.Tag("gen_ai.provider.name"));
        Assert.Null(servedAttempt.Tag("error.type"));

        // Durations come from the router's clock (the fake one): 250 ms to the 503, then 1 s to the answer.
        TelemetryAssertions.Close(0.25, Assert.Single(metrics.AttemptDuration.Where("llmrouter.deployment", _failing)).Value);
        TelemetryAssertions.Close(1.0, Assert.Single(metrics.AttemptDuration.Where("llmrouter.deployment", _serving)).Value);
        Assert.Empty(metrics.TimeToFirstChunk.Where("llmrouter.deployment", _serving));

        CollectedMeasurement<long> request = Assert.Single(metrics.Requests.Where("llmrouter.route", _route));
        Assert.Equal(1, request.Value);
        Assert.Equal("served", request.Tag("llmrouter.outcome"));
        Assert.Null(request.Tag("error.type"));
        CollectedMeasurement<double> duration = Assert.Single(metrics.RequestDuration.Where("llmrouter.route", _route));
        TelemetryAssertions.Close(1.25, duration.Value);
        Assert.Equal("served", duration.Tag("llmrouter.outcome"));

        IReadOnlyList<CollectedMeasurement<long>> tokens = metrics.Tokens.Where("llmrouter.deployment", _serving);
        Assert.Equal(7, Assert.Single(tokens, t => Equals(t.Tag("gen_ai.token.type"), "input")).Value);
        Assert.Equal(11, Assert.Single(tokens, t => Equals(t.Tag("gen_ai.token.type"), "output")).Value);
        Assert.All(tokens, t => Assert.Equal(_route, t.Tag("llmrouter.route")));
        Assert.Empty(metrics.Tokens.Where("llmrouter.deployment", _failing));

        // A failover is not a cooldown (503 without Retry-After) and no circuit moved after one failure.
        Assert.Empty(metrics.Cooldowns.Where("llmrouter.deployment", _failing));
        Assert.Empty(metrics.CircuitTransitions.Where("llmrouter.deployment", _failing));
    }

    [Fact]
    public async Task A_request_for_the_default_route_gets_a_span_named_chat()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router();
        Activity root = SpanRecorder.Root();
        try
        {
            await router.GetResponseAsync(Fixture.Prompt());
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = trace.Span("chat");
        request.Untagged("gen_ai.request.model");
        request.Tagged("llmrouter.route", _route);
        request.Tagged("llmrouter.deployment", _serving);
        Assert.Equal(2, trace.ChildrenOf(request).Count);
        Assert.Equal("served", Assert.Single(metrics.Requests.Where("llmrouter.route", _route)).Tag("llmrouter.outcome"));
    }

    [Fact]
    public async Task When_every_attempt_fails_the_request_span_is_an_error_and_the_request_is_counted_failed()
    {
        _good.GetResponseAsyncCallback = _bad.GetResponseAsyncCallback;
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router(maxAttempts: 2);
        Activity root = SpanRecorder.Root();
        try
        {
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _route }));
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity request = trace.Span($"chat {_route}");
        Assert.Equal(ActivityStatusCode.Error, request.Status);
        request.Tagged("error.type", typeof(AllAttemptsFailedException).FullName);
        request.Tagged("llmrouter.outcome", "failed");
        request.Tagged("llmrouter.attempts", 2);
        request.Tagged("llmrouter.route", _route);
        request.Untagged("llmrouter.deployment");
        request.Untagged("gen_ai.provider.name");
        Assert.DoesNotContain(ProviderSecret, request.StatusDescription ?? string.Empty, StringComparison.Ordinal);
        Assert.Equal(2, trace.ChildrenOf(request).Count);
        Assert.All(trace.ChildrenOf(request), a => a.Tagged("llmrouter.attempt.outcome", "failed"));
        trace.Span($"attempt {_serving}").Tagged("llmrouter.failover.from", _failing);

        CollectedMeasurement<long> counted = Assert.Single(metrics.Requests.Where("llmrouter.route", _route));
        Assert.Equal("failed", counted.Tag("llmrouter.outcome"));
        Assert.Equal(typeof(AllAttemptsFailedException).FullName, counted.Tag("error.type"));
        TelemetryAssertions.Close(0.5, Assert.Single(metrics.RequestDuration.Where("llmrouter.route", _route)).Value);
    }

    [Fact]
    public async Task A_failover_logs_a_warning_naming_the_deployment_and_the_error_type_never_the_provider_message()
    {
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)));
        using LlmRouterChatClient router = Router(loggerFactory);

        await router.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _route });

        IReadOnlyList<FakeLogRecord> logs = collector.GetSnapshot();
        FakeLogRecord warning = Assert.Single(logs, r => r.Level == LogLevel.Warning);
        Assert.Contains(_failing, warning.Message, StringComparison.Ordinal);
        Assert.Contains(_route, warning.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(HttpRequestException), warning.Message, StringComparison.Ordinal);
        Assert.Contains("503", warning.Message, StringComparison.Ordinal);
        Assert.Equal(_failing, warning.GetStructuredStateValue("Deployment"));
        Assert.Equal(nameof(HttpRequestException), warning.GetStructuredStateValue("ErrorType"));
        Assert.Null(warning.Exception);
        Assert.All(logs, r =>
        {
            Assert.Null(r.Exception);
            Assert.DoesNotContain(ProviderSecret, r.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(r.StructuredState ?? [], kv => kv.Value is { } v && v.Contains(ProviderSecret, StringComparison.Ordinal));
        });
    }
}
