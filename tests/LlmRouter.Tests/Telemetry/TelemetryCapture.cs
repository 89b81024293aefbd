using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>
/// Records every span of the "LlmRouter" source while it lives. The listener is global and tests run in parallel, so a
/// test only looks at the spans of its own trace: it starts a root activity (<see cref="Root"/>) and asks for that trace.
/// </summary>
internal sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _started = new();
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmRouterTelemetry.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            SampleUsingParentId = static (ref ActivityCreationOptions<string> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = _started.Enqueue,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Starts a root activity (no source: no listener needed) whose trace identifies the test's spans.</summary>
    public static Activity Root(string name = "telemetry-test") => new Activity(name).SetIdFormat(ActivityIdFormat.W3C).Start();

    /// <summary>The spans of the trace that have ended, in the order they ended.</summary>
    public IReadOnlyList<Activity> Stopped(ActivityTraceId trace) => [.. _stopped.Where(a => a.TraceId == trace)];

    /// <summary>The spans of the trace that have started, in the order they started.</summary>
    public IReadOnlyList<Activity> Started(ActivityTraceId trace) => [.. _started.Where(a => a.TraceId == trace)];

    public void Dispose() => _listener.Dispose();
}

/// <summary>One <see cref="MetricCollector{T}"/> per LlmRouter instrument, subscribed by meter and instrument name.</summary>
internal sealed class RouterMetrics : IDisposable
{
    public MetricCollector<long> Requests { get; } = Long("llmrouter.requests");

    public MetricCollector<double> RequestDuration { get; } = Double("llmrouter.request.duration");

    public MetricCollector<long> Attempts { get; } = Long("llmrouter.attempts");

    public MetricCollector<double> AttemptDuration { get; } = Double("llmrouter.attempt.duration");

    public MetricCollector<double> TimeToFirstChunk { get; } = Double("llmrouter.time_to_first_chunk");

    public MetricCollector<long> Failovers { get; } = Long("llmrouter.failovers");

    public MetricCollector<long> Cooldowns { get; } = Long("llmrouter.deployment.cooldowns");

    public MetricCollector<long> RateLimitDeferrals { get; } = Long("llmrouter.rate_limit.deferrals");

    public MetricCollector<long> CircuitTransitions { get; } = Long("llmrouter.circuit.transitions");

    public MetricCollector<long> Tokens { get; } = Long("llmrouter.tokens");

    public MetricCollector<double> Cost { get; } = Double("llmrouter.cost");

    public MetricCollector<long> CacheHits { get; } = Long("llmrouter.cache.hits");

    public MetricCollector<long> CacheMisses { get; } = Long("llmrouter.cache.misses");

    public MetricCollector<double> CacheCostSaved { get; } = Double("llmrouter.cache.cost_saved");

    public MetricCollector<long> BudgetRejections { get; } = Long("llmrouter.budget.rejections");

    public MetricCollector<double> BudgetRemaining { get; } = Double("llmrouter.budget.remaining");

    private IEnumerable<IDisposable> All =>
    [
        Requests, RequestDuration, Attempts, AttemptDuration, TimeToFirstChunk, Failovers, Cooldowns, RateLimitDeferrals, CircuitTransitions,
        Tokens, Cost, CacheHits, CacheMisses, CacheCostSaved, BudgetRejections, BudgetRemaining,
    ];

    public void Dispose()
    {
        foreach (IDisposable collector in All)
        {
            collector.Dispose();
        }
    }

    private static MetricCollector<long> Long(string instrument) => new((object?)null, LlmRouterTelemetry.MeterName, instrument);

    private static MetricCollector<double> Double(string instrument) => new((object?)null, LlmRouterTelemetry.MeterName, instrument);
}

internal static class TelemetryAssertions
{
    /// <summary>The measurements whose tag <paramref name="tag"/> equals <paramref name="value"/> (tests filter by their own unique names).</summary>
    public static IReadOnlyList<CollectedMeasurement<T>> Where<T>(this MetricCollector<T> collector, string tag, object? value)
        where T : struct =>
        [.. collector.GetMeasurementSnapshot().Where(m => m.Tags.TryGetValue(tag, out object? v) && Equals(v, value))];

    public static object? Tag(this CollectedMeasurement<long> m, string name) => m.Tags.TryGetValue(name, out object? v) ? v : null;

    public static object? Tag(this CollectedMeasurement<double> m, string name) => m.Tags.TryGetValue(name, out object? v) ? v : null;

    public static Activity Span(this IReadOnlyList<Activity> spans, string name) => Assert.Single(spans, s => s.OperationName == name);

    public static IReadOnlyList<Activity> ChildrenOf(this IReadOnlyList<Activity> spans, Activity parent) => [.. spans.Where(s => s.ParentSpanId == parent.SpanId)];

    public static void Tagged(this Activity span, string name, object? expected) => Assert.Equal(expected, span.GetTagItem(name));

    public static void Untagged(this Activity span, string name) => Assert.Null(span.GetTagItem(name));

    public static void Close(double expected, double actual) => Assert.InRange(actual, expected - 1e-6, expected + 1e-6);
}

internal static class Fixture
{
    /// <summary>A provider client whose <see cref="ChatClientMetadata"/> names the provider (the router's telemetry tags carry it).</summary>
    public static TestChatClient Provider(string providerName) => new(providerName, providerName);

    /// <summary>A stream of text updates; <paramref name="each"/> runs before each update (to advance a fake clock), the usage comes last.</summary>
    public static async IAsyncEnumerable<ChatResponseUpdate> Updates(
        string[] texts, Action<int>? each, UsageDetails? usage, string? modelId = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < texts.Length; i++)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            each?.Invoke(i);
            yield return new ChatResponseUpdate(ChatRole.Assistant, texts[i]) { ModelId = modelId };
        }

        if (usage is not null)
        {
            yield return new ChatResponseUpdate { Contents = [new UsageContent(usage)], ModelId = modelId };
        }
    }

    public static FakeTimeProvider Clock() => new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>A fresh message list: requests are matched to their spans by this object.</summary>
    public static ChatMessage[] Prompt(string text = "hi") => [new(ChatRole.User, text)];

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static DeploymentOptions Deployment(string name, IChatClient client, string? modelId = null, ModelPrice? price = null) =>
        new() { Name = name, Client = client, ModelId = modelId, Price = price };

    public static RouteOptions Route(string name, params string[] deployments)
    {
        var route = new RouteOptions { Name = name, Strategy = RouterDefaults.Ordered };
        foreach (string d in deployments)
        {
            route.Deployments.Add(d);
        }

        return route;
    }

    public static async Task<List<ChatResponseUpdate>> ReadAll(IAsyncEnumerable<ChatResponseUpdate> stream)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in stream)
        {
            updates.Add(u);
        }

        return updates;
    }
}
