using System.Diagnostics;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>Scenario: 429 and 503 failures cool a deployment down and open its circuit; after the break a probe closes it.</summary>
public sealed class HealthTelemetryTests : IDisposable
{
    private readonly string _flaky = Fixture.Unique("flaky");
    private readonly string _spare = Fixture.Unique("spare");
    private readonly string _route = Fixture.Unique("route");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _flakyClient = Fixture.Provider("prov-flaky");
    private readonly TestChatClient _spareClient = Fixture.Provider("prov-spare");
    private int _status = 429;

    public HealthTelemetryTests()
    {
        _flakyClient.GetResponseAsyncCallback = (_, _, _) =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            return _status == 200
                ? Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "recovered")))
                : Task.FromException<ChatResponse>(_status == 429 ? new FakeClientResultException(429, new FakeHeaders(("retry-after", "10"))) : Http.Status(_status));
        };
    }

    public void Dispose()
    {
        _flakyClient.Dispose();
        _spareClient.Dispose();
    }

    private LlmRouterChatClient Router()
    {
        var options = new LlmRouterOptions();
        options.Deployments.Add(Fixture.Deployment(_flaky, _flakyClient));
        options.Deployments.Add(Fixture.Deployment(_spare, _spareClient));
        options.Routes.Add(Fixture.Route(_route, _flaky, _spare));
        options.Health.ConsecutiveFailureThreshold = 3;
        options.Health.RateLimitCooldown = TimeSpan.FromSeconds(5);
        options.Health.BreakDuration = TimeSpan.FromSeconds(30);
        options.Health.ProbesToClose = 1; // one probe closes: the scenario follows open, half-open, closed in one step each
        return new LlmRouterChatClient(options, timeProvider: _time);
    }

    private async Task<ChatResponse> Send(LlmRouterChatClient router, SpanRecorder spans, List<IReadOnlyList<Activity>> traces)
    {
        Activity root = SpanRecorder.Root();
        try
        {
            return await router.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _route });
        }
        finally
        {
            root.Stop();
            traces.Add(spans.Stopped(root.TraceId));
        }
    }

    [Fact]
    public async Task Cooldown_circuit_open_half_open_probe_and_close_are_recorded()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using LlmRouterChatClient router = Router();
        var traces = new List<IReadOnlyList<Activity>>();

        // 1: 429 with a long Retry-After (10 s, LongRetryAfter): a rate-limit cooldown, failover to the spare.
        await Send(router, spans, traces);
        CollectedMeasurement<long> cooldown = Assert.Single(metrics.Cooldowns.Where("llmrouter.deployment", _flaky));
        Assert.Equal(1, cooldown.Value);
        Assert.Equal("rate_limited", cooldown.Tag("llmrouter.failure.kind"));
        Assert.Equal(_time.GetUtcNow().AddSeconds(10), router.Deployments.Single(d => d.Name == _flaky).CooldownUntil);

        // 2: while it cools down the flaky deployment is skipped (no attempt span for it).
        await Send(router, spans, traces);
        Assert.Equal(1, _flakyClient.Calls);
        Assert.Equal([$"attempt {_spare}"], traces[1].Where(s => s.OperationName.StartsWith("attempt ", StringComparison.Ordinal)).Select(s => s.OperationName));

        // 3, 4: past the cooldown, two 503s: three consecutive failures open the circuit.
        _time.Advance(TimeSpan.FromSeconds(11));
        _status = 503;
        await Send(router, spans, traces);
        Assert.Empty(metrics.CircuitTransitions.Where("llmrouter.deployment", _flaky));
        await Send(router, spans, traces);
        Assert.Equal(CircuitState.Open, router.Deployments.Single(d => d.Name == _flaky).CircuitState);
        CollectedMeasurement<long> opened = Assert.Single(metrics.CircuitTransitions.Where("llmrouter.deployment", _flaky));
        Assert.Equal("open", opened.Tag("llmrouter.circuit.state"));
        Assert.Equal(1, opened.Value);

        // 5: past the break, the next request is the half-open probe; it succeeds and closes the circuit.
        _time.Advance(TimeSpan.FromSeconds(31));
        _status = 200;
        ChatResponse probed = await Send(router, spans, traces);
        Assert.Equal(_flaky, probed.GetRoutingReport()!.Deployment);
        Assert.Equal(CircuitState.Closed, router.Deployments.Single(d => d.Name == _flaky).CircuitState);

        Assert.Equal(["open", "half_open", "closed"], metrics.CircuitTransitions.Where("llmrouter.deployment", _flaky).Select(m => m.Tag("llmrouter.circuit.state")));
        Assert.All(metrics.CircuitTransitions.Where("llmrouter.deployment", _flaky), m => Assert.Equal(1, m.Value));
        Assert.Empty(metrics.CircuitTransitions.Where("llmrouter.deployment", _spare));

        // Only the 429 cooled the deployment down (503s without Retry-After do not).
        Assert.Single(metrics.Cooldowns.Where("llmrouter.deployment", _flaky));

        // The probe's attempt span says so; no other attempt span does.
        Activity probe = Assert.Single(traces[4], s => s.OperationName == $"attempt {_flaky}");
        probe.Tagged("llmrouter.attempt.probe", true);
        probe.Tagged("llmrouter.attempt.outcome", "succeeded");
        probe.Tagged("llmrouter.attempt.number", 1);
        Activity request = traces[4].Span($"chat {_route}");
        Assert.Equal(request.SpanId, probe.ParentSpanId);
        request.Tagged("llmrouter.deployment", _flaky);
        request.Tagged("gen_ai.provider.name", "prov-flaky");
        Assert.All(traces.Take(4).SelectMany(t => t), s => s.Untagged("llmrouter.attempt.probe"));

        // The failed attempts: 429 rate limited, then 503 transient.
        Activity limited = Assert.Single(traces[0], s => s.OperationName == $"attempt {_flaky}");
        limited.Tagged("http.response.status_code", 429);
        limited.Tagged("llmrouter.failure.kind", "rate_limited");
        limited.Untagged("llmrouter.failover.reason");
        limited.Tagged("llmrouter.attempt.outcome", "failed");
        Activity afterLimited = Assert.Single(traces[0], s => s.OperationName == $"attempt {_spare}");
        afterLimited.Tagged("llmrouter.failover.reason", "rate_limited");
        afterLimited.Tagged("llmrouter.failover.from", _flaky);
        afterLimited.Tagged("llmrouter.attempt.number", 2);
        Activity unavailable = Assert.Single(traces[3], s => s.OperationName == $"attempt {_flaky}");
        unavailable.Tagged("http.response.status_code", 503);
        unavailable.Tagged("llmrouter.failure.kind", "transient");
        Assert.Single(traces[3], s => s.OperationName == $"attempt {_spare}").Tagged("llmrouter.failover.reason", "transient");

        Assert.Equal(
            ["rate_limited", "transient", "transient"],
            metrics.Failovers.Where("llmrouter.route", _route).Select(m => m.Tag("llmrouter.failover.reason")));
        Assert.All(metrics.Failovers.Where("llmrouter.route", _route), m => Assert.Equal(_flaky, m.Tag("llmrouter.deployment")));

        IReadOnlyList<CollectedMeasurement<long>> flakyAttempts = metrics.Attempts.Where("llmrouter.deployment", _flaky);
        Assert.Equal(["failed", "failed", "failed", "succeeded"], flakyAttempts.Select(m => m.Tag("llmrouter.attempt.outcome")));
        Assert.Equal(4, metrics.Attempts.Where("llmrouter.deployment", _spare).Count);
        Assert.Equal(5, metrics.Requests.Where("llmrouter.route", _route).Count(m => Equals(m.Tag("llmrouter.outcome"), "served")));
    }
}
