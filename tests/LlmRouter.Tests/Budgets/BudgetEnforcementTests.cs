using System.Runtime.CompilerServices;
using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using NSubstitute;
using static LlmRouter.Tests.Budgets.BudgetHarness;

namespace LlmRouter.Tests.Budgets;

public class BudgetEnforcementTests
{
    [Fact]
    public async Task A_thousand_concurrent_requests_never_overspend_a_one_dollar_budget_by_more_than_one_reservation()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        provider.GetResponseAsyncCallback = async (_, _, _) =>
        {
            await Task.Yield(); // interleave: many requests are in flight at once
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")) { Usage = new UsageDetails { InputTokenCount = 5, OutputTokenCount = 500 } };
        };
        h.Scope("org:acme", Usd(1m, BudgetWindow.Total));
        BudgetChatClient client = h.Build();

        int served = 0, denied = 0;
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => Task.Run(async () =>
        {
            try
            {
                await client.GetResponseAsync(Prompt, For("org:acme"));
                Interlocked.Increment(ref served);
            }
            catch (BudgetExceededException)
            {
                Interlocked.Increment(ref denied);
            }
        })));

        (decimal spent, decimal reserved) = await h.UsageAsync(client, "org:acme");
        long reservation = Cost.Of(Price(), TokenEstimator.UpperBound(Prompt, null), 500);
        Assert.True(spent <= 1m + Cost.ToUsd(reservation), $"spent {spent}");
        Assert.Equal(0m, reserved);
        Assert.Equal(served * 0.001005m, spent);
        Assert.Equal(1000, served + denied);
        Assert.True(denied > 0 && served > 900, $"served {served}, denied {denied}");
        Assert.Equal(served, provider.Calls);
    }

    [Fact]
    public async Task A_team_budget_that_is_exhausted_rejects_a_user_whose_own_budget_has_room()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("team:search", Usd(0.0015m));
        h.Scope("user:*", Usd(100m));
        BudgetChatClient client = h.Build();
        await client.GetResponseAsync(Prompt, For("org:acme", "team:search", "user:alice"));

        BudgetExceededException ex = await Assert.ThrowsAsync<BudgetExceededException>(
            () => client.GetResponseAsync(Prompt, For("org:acme", "team:search", "user:bob")));

        Assert.Equal("team:search", ex.Scope);
        Assert.Equal(BudgetWindow.Day, ex.Window);
        Assert.Equal(0.0015m, ex.LimitUsd);
        Assert.Equal(0.001005m, ex.SpentUsd);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero), ex.ResetsAt);
        Assert.Equal(1, provider.Calls);
        Assert.Contains(h.Audit.Records, r => r.Decision == AuditDecision.Denied && r.ScopePath!.Scopes[2] == "user:bob");
    }

    [Fact]
    public async Task Each_id_of_a_wildcard_scope_has_its_own_budget()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("user:*", Usd(0.0015m));
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("user:alice"));
        await client.GetResponseAsync(Prompt, For("user:bob"));
        await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync(Prompt, For("user:alice")));

        Assert.Equal(0.001005m, (await h.UsageAsync(client, "user:bob")).Spent);
    }

    [Fact]
    public async Task Usage_of_every_known_budget_lists_configured_scopes_seen_template_ids_and_deployments()
    {
        var h = new BudgetHarness();
        h.Add("a", configure: d => d.Budgets.Add(Usd(10m, BudgetWindow.Month)));
        h.Scope("org:acme", Usd(5m, BudgetWindow.Month));
        h.Scope("user:*", Usd(1m));
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("org:acme", "user:alice"));
        IReadOnlyList<BudgetUsage> usage = await client.GetUsageAsync();

        Assert.Equal(["org:acme", "user:alice", "a"], usage.Select(u => u.Account.Owner));
        Assert.All(usage, u => Assert.Equal(0.001005m, u.SpentUsd));
        Assert.Equal(1m - 0.001005m, usage[1].RemainingUsd);
        Assert.True(usage[2].Account.IsDeployment);
    }

    [Fact]
    public async Task A_daily_budget_resets_at_midnight_utc()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("user:alice", Usd(0.0015m));
        BudgetChatClient client = h.Build();
        h.Router.Time.SetUtcNow(new DateTimeOffset(2026, 3, 10, 23, 59, 0, TimeSpan.Zero));
        await client.GetResponseAsync(Prompt, For("user:alice"));
        await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync(Prompt, For("user:alice")));

        h.Router.Time.Advance(TimeSpan.FromMinutes(1));
        await client.GetResponseAsync(Prompt, For("user:alice"));

        Assert.Equal(0.001005m, (await h.UsageAsync(client, "user:alice")).Spent);
    }

    [Theory]
    [InlineData(BudgetWindow.Minute, "2026-03-11T10:16:00Z")]
    [InlineData(BudgetWindow.Hour, "2026-03-11T11:00:00Z")]
    [InlineData(BudgetWindow.Day, "2026-03-12T00:00:00Z")]
    [InlineData(BudgetWindow.Week, "2026-03-16T00:00:00Z")]
    [InlineData(BudgetWindow.Month, "2026-04-01T00:00:00Z")]
    public void Windows_are_aligned_in_utc(BudgetWindow window, string resets)
    {
        var account = new BudgetAccount("s", new BudgetLimit { LimitUsd = 1, Window = window }, isDeployment: false);
        var now = new DateTimeOffset(2026, 3, 11, 12, 15, 30, TimeSpan.FromHours(2)); // a Wednesday, 10:15:30 UTC

        Assert.Equal(DateTimeOffset.Parse(resets, System.Globalization.CultureInfo.InvariantCulture), account.WindowEnd(now));
        Assert.True(account.WindowStart(now) <= now && now < account.WindowEnd(now));
    }

    [Fact]
    public async Task A_failed_request_releases_its_reservation_and_costs_nothing()
    {
        var h = new BudgetHarness();
        h.Router.Add("a", TestChatClient.Throwing("a", () => new InvalidOperationException("bad request")), d => d.Price = Price());
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        await Assert.ThrowsAnyAsync<Exception>(() => client.GetResponseAsync(Prompt, For("user:alice")));

        Assert.Equal((0m, 0m), await h.UsageAsync(client, "user:alice"));
        Assert.Equal(AuditDecision.Failed, h.Audit.Records.Single().Decision);
    }

    [Fact]
    public async Task Cost_comes_from_the_serving_deployments_prices_including_cached_input()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a", price: new ModelPrice { InputPerMillion = 2m, OutputPerMillion = 8m, CachedInputPerMillion = 0.5m });
        provider.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            Usage = new UsageDetails { InputTokenCount = 1000, CachedInputTokenCount = 800, OutputTokenCount = 100 },
        });
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        ChatResponse response = await client.GetResponseAsync(Prompt, For("user:alice"));

        // 200 uncached x $2/M + 800 cached x $0.5/M + 100 x $8/M
        decimal expected = 0.0004m + 0.0004m + 0.0008m;
        Assert.Equal(new RequestCost(expected, false, 1000, 100), response.GetCost());
        Assert.Equal(expected, (await h.UsageAsync(client, "user:alice")).Spent);
        AuditRecord audit = h.Audit.Records.Single();
        Assert.Equal((AuditDecision.Served, "a", expected, false), (audit.Decision, audit.Deployment, audit.CostUsd, audit.CostEstimated));
    }

    [Fact]
    public async Task Without_reported_usage_the_cost_is_estimated_and_marked()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        provider.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Hello, world!")));
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        RequestCost cost = (await client.GetResponseAsync(Prompt, For("user:alice"))).GetCost()!;

        Assert.True(cost.Estimated);
        Assert.Equal(4, cost.OutputTokens);
        Assert.True(cost.InputTokens > 0);
        Assert.Equal(cost.Usd, (await h.UsageAsync(client, "user:alice")).Spent);
    }

    [Fact]
    public async Task A_stream_abandoned_midway_is_settled_at_an_estimate_and_its_reservation_released()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        provider.GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Updates("word", 10, ct);
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync(Prompt, For("user:alice")).Take(2))
        {
        }

        (decimal spent, decimal reserved) = await h.UsageAsync(client, "user:alice");
        Assert.Equal(0m, reserved);
        Assert.True(spent > 0m);
        AuditRecord audit = h.Audit.Records.Single();
        Assert.Equal(AuditDecision.Abandoned, audit.Decision);
        Assert.True(audit.CostEstimated);
        Assert.Equal(spent, audit.CostUsd);
    }

    [Fact]
    public async Task A_completed_stream_is_settled_from_its_usage_and_the_cost_reaches_the_combined_response()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        provider.GetStreamingResponseAsyncCallback = (_, _, ct) => StreamWithUsage(ct);
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        ChatResponse combined = await client.GetStreamingResponseAsync(Prompt, For("user:alice")).ToChatResponseAsync();

        Assert.Equal(new RequestCost(0.001005m, false, 5, 500), combined.GetCost());
        Assert.Equal((0.001005m, 0m), await h.UsageAsync(client, "user:alice"));

        static async IAsyncEnumerable<ChatResponseUpdate> StreamWithUsage([EnumeratorCancellation] CancellationToken ct)
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, "hello");
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = 5, OutputTokenCount = 500 })]);
        }
    }

    [Fact]
    public async Task A_stream_that_fails_before_its_first_update_releases_everything()
    {
        var h = new BudgetHarness();
        h.Router.Add("a", TestChatClient.Throwing("a", () => new InvalidOperationException("bad")), d => d.Price = Price());
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync(Prompt, For("user:alice")))
            {
            }
        });

        Assert.Equal((0m, 0m), await h.UsageAsync(client, "user:alice"));
    }

    [Fact]
    public async Task A_request_that_would_exceed_the_budget_is_downgraded_to_the_cheaper_route_when_configured()
    {
        var h = new BudgetHarness();
        TestChatClient smart = h.Add("smart-1", price: Price(10m, 40m));
        TestChatClient cheap = h.Add("cheap-1", price: Price(0.1m, 0.2m));
        h.Router.Route("smart", "Ordered", "smart-1");
        h.Router.Route("cheap", "Ordered", "cheap-1");
        h.Scope("user:alice", Usd(0.01m)).DowngradeRoute = "cheap";
        BudgetChatClient client = h.Build();

        ChatResponse response = await client.GetResponseAsync(Prompt, For("user:alice").Also(o => o.ModelId = "smart"));

        Assert.Equal("cheap-1", response.GetRoutingReport()!.Deployment);
        Assert.Equal(0, smart.Calls);
        Assert.Equal(1, cheap.Calls);
    }

    [Fact]
    public async Task The_default_output_cap_is_applied_to_requests_that_set_none_so_the_reservation_is_a_true_worst_case()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Options.DefaultMaxOutputTokens = 300;
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, new ChatOptions().WithScopePath(new ScopePath("user:alice")));

        Assert.Equal(300, provider.LastOptions!.MaxOutputTokens);
    }

    [Fact]
    public async Task Unscoped_requests_pass_without_reservation()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("user:alice", Usd(0.000001m));
        BudgetChatClient client = h.Build();

        ChatResponse response = await client.GetResponseAsync(Prompt);

        Assert.Equal(1, provider.Calls);
        Assert.Equal(0.001005m, response.GetCost()!.Usd);
    }

    [Fact]
    public async Task An_ambient_scope_path_source_applies_when_the_request_names_none()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("user:alice", Usd(0.0015m));
        var router = new LlmRouterChatClient(h.Router.Options, timeProvider: h.Router.Time);
        var source = Substitute.For<IScopePathSource>();
        source.GetScopePath(Arg.Any<ChatOptions?>()).Returns(new ScopePath("user:alice"));
        var client = new BudgetChatClient(router, h.Options, h.Store, source, h.Audit, h.Router.Time);

        await client.GetResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 500 });
        await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 500 }));
    }

    [Fact]
    public async Task A_deployment_that_exhausts_its_own_budget_drops_out_of_routing_until_the_window_resets()
    {
        var h = new BudgetHarness();
        TestChatClient first = h.Add("first", configure: d => d.Budgets.Add(Usd(0.002m)));
        TestChatClient second = h.Add("second");
        h.Router.Route("r", "Ordered", "first", "second");
        BudgetChatClient client = h.Build();
        var options = new ChatOptions { ModelId = "r" };

        string[] served = new string[4];
        for (int i = 0; i < served.Length; i++)
        {
            served[i] = (await client.GetResponseAsync(Prompt, options)).GetRoutingReport()!.Deployment;
        }

        Assert.Equal(["first", "first", "second", "second"], served);
        h.Router.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal("first", (await client.GetResponseAsync(Prompt, options)).GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task When_every_deployment_is_out_of_budget_the_router_says_so()
    {
        var h = new BudgetHarness();
        h.Add("only", configure: d => d.Budgets.Add(Usd(0.001m)));
        BudgetChatClient client = h.Build();
        await client.GetResponseAsync(Prompt);

        NoAvailableDeploymentException ex = await Assert.ThrowsAsync<NoAvailableDeploymentException>(() => client.GetResponseAsync(Prompt));

        Assert.Equal(NoAvailableDeploymentReason.DeploymentBudgetsExhausted, ex.Reason);
    }

    [Fact]
    public async Task Store_outage_fails_closed_by_default_and_is_logged_once()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("user:alice", Usd(1m));
        var broken = new UnreachableStore();
        BudgetChatClient client = h.Build(store: broken);

        BudgetLedgerUnavailableException ex = await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => client.GetResponseAsync(Prompt, For("user:alice")));

        Assert.IsType<TimeoutException>(ex.InnerException);
        Assert.Equal(0, provider.Calls);
    }

    [Fact]
    public async Task Store_outage_fails_open_when_configured()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("user:alice", Usd(1m));
        var broken = new UnreachableStore();
        BudgetChatClient client = h.Build(LedgerFailureMode.FailOpen, broken);

        await client.GetResponseAsync(Prompt, For("user:alice"));
        await client.GetResponseAsync(Prompt, For("user:alice"));

        Assert.Equal(2, provider.Calls);
        Assert.Equal(1, broken.Calls); // the first failure showed the outage: the second request does not wait on the store
    }

    [Fact]
    public void A_budget_over_a_deployment_without_a_price_fails_at_construction_naming_it()
    {
        var h = new BudgetHarness();
        h.Router.Add("mystery", configure: d => d.ModelId = "in-house-model-7");
        h.Scope("user:*", Usd(1m));

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => h.Build());

        Assert.Contains(ex.Failures, f => f.Contains("'mystery'", StringComparison.Ordinal) && f.Contains("Price", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_budget_options_list_every_problem()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("user:*", Usd(0m)).RequestsPerMinute = 0;
        h.Options.Scopes.Add(new ScopePolicy { Scope = "team*", DowngradeRoute = "nowhere" });
        h.Options.Scopes.Add(new ScopePolicy { Scope = "user:*" });
        h.Options.DefaultMaxOutputTokens = -1;

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => h.Build());

        Assert.Contains(ex.Failures, f => f.Contains("Scopes:0 ('user:*'):Budgets:0:LimitUsd", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Scopes:2 ('user:*'):Scope 'user:*' has more than one policy", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("RequestsPerMinute", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Scope 'team*' is not valid", StringComparison.Ordinal) && f.Contains("kind:*", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("DowngradeRoute 'nowhere'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("DefaultMaxOutputTokens", StringComparison.Ordinal));
    }
}

/// <summary>A store whose every call fails, as Redis does while it is down.</summary>
internal sealed class UnreachableStore : BudgetStore
{
    private int _calls;

    public int Calls => _calls;

    public override ValueTask<BudgetReservation> ReserveAsync(IReadOnlyList<BudgetAccount> accounts, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken) => Fail<BudgetReservation>();

    public override ValueTask SettleAsync(IReadOnlyList<BudgetAccount> accounts, DateTimeOffset reservedAt, long reservedNanos, long actualNanos, CancellationToken cancellationToken) => new(Fail<bool>().AsTask());

    public override ValueTask<long> ChargeAsync(BudgetAccount account, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken) => Fail<long>();

    public override ValueTask<(long SpentNanos, long ReservedNanos)> GetAsync(BudgetAccount account, DateTimeOffset now, CancellationToken cancellationToken) => Fail<(long, long)>();

    private ValueTask<T> Fail<T>()
    {
        Interlocked.Increment(ref _calls);
        return ValueTask.FromException<T>(new TimeoutException("redis timeout"));
    }
}

public static class ChatOptionsTestExtensions
{
    public static ChatOptions Also(this ChatOptions options, Action<ChatOptions> change)
    {
        change(options);
        return options;
    }
}
