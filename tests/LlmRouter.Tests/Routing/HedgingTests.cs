using System.Net;
using LlmRouter.Tests.Budgets;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Routing;

public class HedgingTests
{
    private readonly RouterHarness _h = new();

    /// <summary>A deployment answering after <paramref name="latency"/> of fake time (concurrent calls each wait their own), honouring cancellation.</summary>
    private Delayed AddDelayed(string name, TimeSpan latency, Action<DeploymentOptions>? configure = null)
    {
        var delayed = new Delayed(name, latency, _h.Time);
        _h.Add(name, delayed.Client, configure);
        return delayed;
    }

    /// <summary>
    /// Moves the fake clock forward in small steps until the condition holds (bounded). The router registers its hedging
    /// delay just after the first attempt started, so a single jump could come before the delay exists.
    /// </summary>
    private Task AdvanceUntil(Func<bool> condition, TimeSpan? step = null) => AdvanceUntil(_h.Time, condition, step);

    private static async Task AdvanceUntil(FakeTimeProvider time, Func<bool> condition, TimeSpan? step = null)
    {
        for (int i = 0; !condition(); i++)
        {
            Assert.True(i < 5_000, "The condition never became true.");
            time.Advance(step ?? TimeSpan.FromMilliseconds(10));
            await Task.Delay(1);
        }
    }

    private RouteOptions Hedged(HedgingOptions hedging, params string[] deployments)
    {
        RouteOptions route = _h.Route("chat", "Ordered", deployments);
        route.Hedging = hedging;
        return route;
    }

    [Theory]
    [InlineData(false, "from fast")]                // the hedge answered first
    [InlineData(true, "fast first fast second")]    // OnFirstUpdate: the attempts were streams; the first to speak, collected
    public async Task A_slow_first_attempt_is_hedged_after_the_delay_and_the_faster_hedge_wins(bool onFirstUpdate, string text)
    {
        Delayed slow = AddDelayed("slow", TimeSpan.FromSeconds(20));
        Delayed fast = AddDelayed("fast", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1, OnFirstUpdate = onFirstUpdate }, "slow", "fast");
        using LlmRouterChatClient router = _h.Build();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await Eventually.Until(() => slow.Started == 1);
        await AdvanceUntil(() => fast.Started == 1);
        Assert.True(fast.FirstStart - slow.FirstStart >= TimeSpan.FromMilliseconds(500), $"hedged after {fast.FirstStart - slow.FirstStart}");
        _h.Time.Advance(TimeSpan.FromMilliseconds(100));
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(30));

        await FastServedAndSlowSuperseded(response, slow, text);
    }

    [Fact]
    public async Task A_stream_whose_first_update_is_late_is_hedged_and_the_first_to_speak_serves_the_whole_stream()
    {
        Delayed slow = AddDelayed("slow", TimeSpan.FromSeconds(20));
        Delayed fast = AddDelayed("fast", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1 }, "slow", "fast");
        using LlmRouterChatClient router = _h.Build();

        Task<List<ChatResponseUpdate>> read = Task.Run(async () =>
        {
            var updates = new List<ChatResponseUpdate>();
            await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
            {
                updates.Add(u);
            }

            return updates;
        });
        await Eventually.Until(() => slow.Started == 1);
        await AdvanceUntil(() => fast.Started == 1);
        Assert.True(fast.FirstStart - slow.FirstStart >= TimeSpan.FromMilliseconds(500), $"hedged after {fast.FirstStart - slow.FirstStart}");
        _h.Time.Advance(TimeSpan.FromMilliseconds(100));
        List<ChatResponseUpdate> updates = await read.WaitAsync(TimeSpan.FromSeconds(30));

        await FastServedAndSlowSuperseded(updates.ToChatResponse(), slow);
    }

    [Fact]
    public async Task A_stream_whose_first_update_is_ready_at_once_is_served_by_that_attempt()
    {
        // A first read that completes synchronously with true (the update was already buffered) is the cached Task<bool>
        // that every such result shares: the race must still see it as the attempt's first update, not as "hedge due".
        _h.Add("ready", new TestChatClient("ready") { GetStreamingResponseAsyncCallback = (_, _, _) => ReadyAtOnce("ready now") });
        _h.Add("spare");
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1 }, "ready", "spare");
        using LlmRouterChatClient router = _h.Build();

        List<ChatResponseUpdate> updates = await Task.Run(async () =>
        {
            var read = new List<ChatResponseUpdate>();
            await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
            {
                read.Add(u);
            }

            return read;
        }).WaitAsync(TimeSpan.FromSeconds(30));

        ChatResponse response = updates.ToChatResponse();
        Assert.Equal("ready now", response.Text);
        Assert.Equal(("ready", 1), (response.GetRoutingReport()!.Deployment, response.GetRoutingReport()!.AttemptCount));
        Assert.Equal(0, _h.Clients["spare"].Calls);
    }

#pragma warning disable CS1998 // Synchronous on purpose: every read completes at once.
    private static async IAsyncEnumerable<ChatResponseUpdate> ReadyAtOnce(string text)
#pragma warning restore CS1998
    {
        yield return new ChatResponseUpdate(ChatRole.Assistant, text);
    }

    private static async Task FastServedAndSlowSuperseded(ChatResponse response, Delayed slow, string text = "fast first fast second")
    {
        Assert.Equal(text, response.Text);
        RoutingReport report = response.GetRoutingReport()!;
        Assert.Equal("fast", report.Deployment);
        Assert.Equal(AttemptOutcome.Superseded, Assert.Single(report.Attempts, a => a.Deployment == "slow").Outcome);
        await Eventually.Until(() => slow.Cancelled == 1);
    }

    [Fact]
    public async Task On_first_update_a_long_answer_that_started_within_the_delay_is_never_hedged()
    {
        Delayed talkative = AddDelayed("talkative", TimeSpan.FromMilliseconds(100));
        talkative.Body = TimeSpan.FromSeconds(3); // the whole answer takes far longer than the delay
        Delayed spare = AddDelayed("spare", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1, OnFirstUpdate = true }, "talkative", "spare");
        using LlmRouterChatClient router = _h.Build();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await Eventually.Until(() => talkative.Started == 1);
        await AdvanceUntil(() => call.IsCompleted, TimeSpan.FromMilliseconds(50));
        ChatResponse response = await call;

        Assert.Equal(0, spare.Started);
        Assert.Equal("talkative first talkative second", response.Text);
        Assert.Equal(("talkative", 1), (response.GetRoutingReport()!.Deployment, response.GetRoutingReport()!.AttemptCount));
    }

    [Fact]
    public async Task On_first_update_a_failure_after_the_first_update_still_fails_over()
    {
        Delayed breaking = AddDelayed("breaking", TimeSpan.FromMilliseconds(100));
        breaking.FailAfterFirstUpdate = () => new HttpRequestException("connection reset", null, HttpStatusCode.ServiceUnavailable);
        Delayed spare = AddDelayed("spare", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1, OnFirstUpdate = true }, "breaking", "spare");
        using LlmRouterChatClient router = _h.Build();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await AdvanceUntil(() => call.IsCompleted);
        ChatResponse response = await call;

        // Nothing had reached the caller: the broken answer is dropped and the next deployment answers in full.
        Assert.Equal("spare first spare second", response.Text);
        RoutingReport report = response.GetRoutingReport()!;
        Assert.Equal("spare", report.Deployment);
        Assert.Equal(("breaking", AttemptOutcome.Failed), (report.Attempts[0].Deployment, report.Attempts[0].Outcome));
    }

    [Fact]
    public async Task An_attempt_that_answers_within_the_delay_is_never_hedged()
    {
        AddDelayed("quick", TimeSpan.FromMilliseconds(200));
        Delayed spare = AddDelayed("spare", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1 }, "quick", "spare");
        using LlmRouterChatClient router = _h.Build();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await Eventually.Until(() => _h.Clients["quick"].Calls == 1);
        _h.Time.Advance(TimeSpan.FromMilliseconds(200));
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(30));
        _h.Time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(("quick", 1), (response.GetRoutingReport()!.Deployment, response.GetRoutingReport()!.AttemptCount));
        Assert.Equal(0, spare.Started);
    }

    [Fact]
    public async Task A_percentile_delay_follows_the_deployments_measured_latency()
    {
        Delayed primary = AddDelayed("primary", TimeSpan.FromMilliseconds(100));
        Delayed backup = AddDelayed("backup", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { DelayPercentile = 0.9, MaxHedgedShare = 1 }, "primary", "backup");
        _h.Route("primary-only", "Ordered", "primary").Hedging = new HedgingOptions { DelayPercentile = 0.9, MaxHedgedShare = 1 };
        using LlmRouterChatClient router = _h.Build();
        for (int i = 0; i < 6; i++)
        {
            // Without data there is no delay to hedge at (no fixed Delay): these run alone and teach the router 100 ms.
            Task<ChatResponse> warm = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("primary-only"));
            await Eventually.Until(() => primary.Started == i + 1);
            _h.Time.Advance(TimeSpan.FromMilliseconds(100));
            await warm.WaitAsync(TimeSpan.FromSeconds(30));
        }

        primary.Latency = TimeSpan.FromSeconds(30);
        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await Eventually.Until(() => primary.Started == 7);
        DateTimeOffset started = _h.Time.GetUtcNow();
        await AdvanceUntil(() => backup.Started == 1, TimeSpan.FromMilliseconds(1));

        // Identical samples: the 90th percentile is 100 ms (no Delay is set, so without the fit there would be no hedge).
        Assert.True(backup.FirstStart - started >= TimeSpan.FromMilliseconds(100), $"hedged after {backup.FirstStart - started}");
        _h.Time.Advance(TimeSpan.FromMilliseconds(100));

        Assert.Equal("backup", (await call.WaitAsync(TimeSpan.FromSeconds(30))).GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task A_failure_before_the_delay_fails_over_at_once()
    {
        _h.Add("broken", TestChatClient.Throwing("broken", () => new HttpRequestException("down", null, HttpStatusCode.ServiceUnavailable)));
        Delayed backup = AddDelayed("backup", TimeSpan.FromMilliseconds(100));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromSeconds(5), MaxHedgedShare = 1 }, "broken", "backup");
        using LlmRouterChatClient router = _h.Build();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await Eventually.Until(() => backup.Started == 1);
        _h.Time.Advance(TimeSpan.FromMilliseconds(100));
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["broken", "backup"], response.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
        Assert.Equal(AttemptOutcome.Failed, response.GetRoutingReport()!.Attempts[0].Outcome);
    }

    [Fact]
    public async Task When_the_first_attempt_fails_after_the_hedge_started_the_hedge_still_serves()
    {
        Delayed flaky = AddDelayed("flaky", TimeSpan.FromSeconds(1));
        flaky.FailWith = () => new HttpRequestException("boom", null, HttpStatusCode.InternalServerError);
        Delayed backup = AddDelayed("backup", TimeSpan.FromSeconds(1));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1 }, "flaky", "backup");
        using LlmRouterChatClient router = _h.Build();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        await Eventually.Until(() => flaky.Started == 1);
        await AdvanceUntil(() => backup.Started == 1);
        _h.Time.Advance(flaky.FirstStart + TimeSpan.FromSeconds(1) - _h.Time.GetUtcNow()); // flaky fails now; backup is half-way
        await Eventually.Until(() => router.Deployments[0].AttemptCounts.Failed == 1); // the router has seen the failure
        _h.Time.Advance(TimeSpan.FromMilliseconds(600));
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("backup", response.GetRoutingReport()!.Deployment);
        Assert.Equal(AttemptOutcome.Failed, Assert.Single(response.GetRoutingReport()!.Attempts, a => a.Deployment == "flaky").Outcome);
    }

    [Fact]
    public void Hedging_stops_at_the_routes_share_of_hedged_requests()
    {
        var route = new LlmRouter.Routing.Internal.CompiledRoute("chat", [], new LlmRouter.Routing.Internal.OrderedStrategy(), null);
        int hedged = 0;
        for (int i = 0; i < 8; i++)
        {
            route.CountRequest();
            hedged += route.TryTakeHedge(0.25) ? 1 : 0; // every request is slow and asks for a hedge
        }

        // The first hedge is always allowed, then at most a quarter of the route's requests: 2 of 8.
        Assert.Equal(2, hedged);
    }

    [Fact]
    public async Task A_caller_cancelling_cancels_every_running_attempt()
    {
        Delayed a = AddDelayed("a", TimeSpan.FromSeconds(10));
        Delayed b = AddDelayed("b", TimeSpan.FromSeconds(10));
        Hedged(new HedgingOptions { Delay = TimeSpan.FromMilliseconds(100), MaxHedgedShare = 1 }, "a", "b");
        using LlmRouterChatClient router = _h.Build();
        using var cts = new CancellationTokenSource();

        Task<ChatResponse> call = router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"), cts.Token);
        await Eventually.Until(() => a.Started == 1);
        await AdvanceUntil(() => b.Started == 1);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromSeconds(30)));
        await Eventually.Until(() => a.Cancelled == 1 && b.Cancelled == 1);
    }

    [Fact]
    public async Task The_budget_layer_reserves_for_every_attempt_that_may_run_and_charges_the_superseded_one_its_prompt()
    {
        var b = new BudgetHarness();
        var slow = new Delayed("slow", TimeSpan.FromSeconds(20), b.Router.Time);
        var fast = new Delayed("fast", TimeSpan.FromMilliseconds(100), b.Router.Time);
        b.Router.Add("slow", slow.Client, d => d.Price = BudgetHarness.Price());
        b.Router.Add("fast", fast.Client, d => d.Price = BudgetHarness.Price());
        b.Router.Route("chat", "Ordered", "slow", "fast").Hedging = new HedgingOptions { Delay = TimeSpan.FromMilliseconds(500), MaxHedgedShare = 1 };
        b.Scope("team:a", BudgetHarness.Usd(1m));
        BudgetChatClient client = b.Build();

        Task<ChatResponse> call = client.GetResponseAsync(BudgetHarness.Prompt, BudgetHarness.For("team:a").Also(o => o.ModelId = "chat"));
        await Eventually.Until(() => slow.Started == 1);
        (decimal _, decimal reserved) = await b.UsageAsync(client, "team:a");
        await AdvanceUntil(b.Router.Time, () => fast.Started > 0); // small steps: the hedging delay is registered just after the first attempt started

        b.Router.Time.Advance(TimeSpan.FromMilliseconds(100));
        ChatResponse response = await call.WaitAsync(TimeSpan.FromSeconds(30));
        (decimal spent, decimal afterwards) = await b.UsageAsync(client, "team:a");

        // One attempt's worst case: prompt bound (a few tokens) at $1/M + 500 output tokens at $2/M, about $0.001; twice that reserved.
        Assert.InRange(reserved, 0.002m, 0.0021m);
        Assert.Equal(0m, afterwards);

        // The winner's usage (5 in, 500 out: $0.001005) plus the superseded attempt's prompt at the input price.
        Assert.True(spent > 0.001005m && spent < 0.00102m, $"spent {spent}");
        Assert.Equal(spent, response.GetCost()!.Usd);
    }

    [Theory]
    [InlineData(null, null, "Hedging needs Delay, DelayPercentile or both")]
    [InlineData(0.0, null, "DelayPercentile is 0")]
    [InlineData(1.5, null, "DelayPercentile is 1.5")]
    [InlineData(0.9, 0, "MaxExtraAttempts is 0")]
    public void Invalid_hedging_fails_at_start_up(double? percentile, int? extra, string expected)
    {
        _h.Add("a");
        Hedged(new HedgingOptions { DelayPercentile = percentile, MaxExtraAttempts = extra ?? 1 }, "a");

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => _h.Build());

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A provider whose calls each finish after a latency of fake time, with counters.</summary>
    private sealed class Delayed
    {
        private int _started;
        private int _cancelled;
        private int _finished;

        public Delayed(string name, TimeSpan latency, TimeProvider time)
        {
            Latency = latency;
            Client = new TestChatClient(name)
            {
                GetStreamingResponseAsyncCallback = (_, _, ct) => Stream(name, time, ct),
                GetResponseAsyncCallback = async (_, _, ct) =>
                {
                    await Answer(time, ct);
                    return FailWith is { } fail
                        ? throw fail()
                        : new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {name}")) { Usage = new UsageDetails { InputTokenCount = 5, OutputTokenCount = 500 } };
                },
            };
        }

        public TestChatClient Client { get; }

        private async IAsyncEnumerable<ChatResponseUpdate> Stream(string name, TimeProvider time, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            await Answer(time, ct);
            yield return new ChatResponseUpdate(ChatRole.Assistant, $"{name} first");
            if (FailAfterFirstUpdate is { } fail)
            {
                throw fail();
            }

            if (Body > TimeSpan.Zero)
            {
                await Task.Delay(Body, time, ct);
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant, $" {name} second");
        }

        public TimeSpan Latency { get; set; }

        /// <summary>Streams: the time between the first update and the rest.</summary>
        public TimeSpan Body { get; set; }

        public Func<Exception>? FailWith { get; set; }

        /// <summary>Streams: an error thrown after the first update.</summary>
        public Func<Exception>? FailAfterFirstUpdate { get; set; }

        public int Started => Volatile.Read(ref _started);

        /// <summary>The fake time of the first call.</summary>
        public DateTimeOffset FirstStart { get; private set; }

        /// <summary>Waits out the latency (or the cancellation), counting starts, cancellations and finishes.</summary>
        private async Task Answer(TimeProvider time, CancellationToken ct)
        {
            // The delay first, then the count: a test that sees the start may move the clock at once.
            Task delay = Task.Delay(Latency, time, ct);
            MarkStarted(time);
            try
            {
                await delay;
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _cancelled);
                throw;
            }

            Interlocked.Increment(ref _finished);
        }

        private void MarkStarted(TimeProvider time)
        {
            if (Interlocked.Increment(ref _started) == 1)
            {
                FirstStart = time.GetUtcNow();
            }
        }

        public int Cancelled => Volatile.Read(ref _cancelled);

        public int Finished => Volatile.Read(ref _finished);
    }
}
