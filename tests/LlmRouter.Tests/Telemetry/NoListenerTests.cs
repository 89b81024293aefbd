using System.Collections.Concurrent;
using System.Diagnostics;
using LlmRouter.Telemetry;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>
/// Activity listeners are process-wide and the other telemetry tests register one for "LlmRouter" while they run, so
/// the tests that need nobody listening run alone: xunit runs a collection with parallelization disabled after the
/// parallel ones, one test at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NoListenerGroup
{
    public const string Name = "LlmRouter telemetry without listeners";
}

/// <summary>Scenario: nobody listens to the "LlmRouter" source, so no activity of it is created.</summary>
[Collection(NoListenerGroup.Name)]
public sealed class NoListenerTests : IAsyncDisposable
{
    private readonly string _failing = Fixture.Unique("failing");
    private readonly string _serving = Fixture.Unique("serving");
    private readonly string _route = Fixture.Unique("route");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _bad = Fixture.Provider("prov-bad");
    private readonly TestChatClient _good = Fixture.Provider("prov-good");
    private readonly ServiceProvider _services;
    private readonly IChatClient _client;

    public NoListenerTests()
    {
        _bad.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        _bad.GetStreamingResponseAsyncCallback = (_, _, _) => throw Http.Status(503);
        _good.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")) { Usage = new UsageDetails { InputTokenCount = 1, OutputTokenCount = 1 } });
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        var price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m };
        services.AddLlmRouter(b => b
            .AddDeployment(_failing, _bad, d => d.Price = price)
            .AddDeployment(_serving, _good, d => d.Price = price)
            .AddRoute(_route, r =>
            {
                r.Strategy = "Ordered";
                r.Deployments.Add(_failing);
                r.Deployments.Add(_serving);
            })
            .ConfigureResponseCache(_ => { })
            .ConfigureBudgets(_ => { }));
        _services = services.BuildServiceProvider();
        _client = _services.GetRequiredService<IChatClient>();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        _bad.Dispose();
        _good.Dispose();
    }

    /// <summary>A failover, a cache miss, a cache hit and a streamed failover through the whole pipeline.</summary>
    private async Task Exercise()
    {
        var options = new ChatOptions { ModelId = _route };
        await _client.GetResponseAsync(Fixture.Prompt("q1"), options);
        await _client.GetResponseAsync(Fixture.Prompt("q1"), options);
        await Fixture.ReadAll(_client.GetStreamingResponseAsync(Fixture.Prompt("q2"), options));
    }

    [Fact]
    public async Task Without_a_listener_for_the_source_no_activity_is_created_even_when_other_sources_are_listened_to()
    {
        Assert.False(RouterTelemetry.Source.HasListeners(), "A listener of the LlmRouter source outlived its test.");
        var others = new ConcurrentQueue<Activity>();
        using var otherListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name != LlmRouterTelemetry.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = others.Enqueue,
        };
        ActivitySource.AddActivityListener(otherListener);
        Assert.False(RouterTelemetry.Source.HasListeners());

        Activity root = SpanRecorder.Root();
        try
        {
            await Exercise();
            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        // Each provider call ran under the caller's own activity: nothing of ours in between.
        Assert.Equal(4, _bad.Received.Count + _good.Received.Count);
        Assert.All(_bad.Received.Concat(_good.Received).Select(c => c.Activity), current => Assert.Same(root, current));
        Assert.DoesNotContain(others, a => a.Source.Name == LlmRouterTelemetry.ActivitySourceName);
    }

    [Fact]
    public async Task Without_any_listener_and_without_a_caller_activity_the_provider_sees_no_current_activity()
    {
        Assert.False(RouterTelemetry.Source.HasListeners(), "A listener of the LlmRouter source outlived its test.");
        Assert.Null(Activity.Current);

        await Exercise();

        Assert.Null(Activity.Current);
        Assert.Equal(4, _bad.Received.Count + _good.Received.Count);
        Assert.All(_bad.Received.Concat(_good.Received).Select(c => c.Activity), Assert.Null);
    }

    [Fact]
    public async Task A_listener_that_samples_nothing_gets_no_activity_and_nothing_leaks()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmRouterTelemetry.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.None,
        };
        ActivitySource.AddActivityListener(listener);
        Assert.True(RouterTelemetry.Source.HasListeners());

        Activity root = SpanRecorder.Root();
        try
        {
            await Exercise();
            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        Assert.Equal(4, _bad.Received.Count + _good.Received.Count);
        Assert.All(_bad.Received.Concat(_good.Received).Select(c => c.Activity), current => Assert.Same(root, current));
    }
}
