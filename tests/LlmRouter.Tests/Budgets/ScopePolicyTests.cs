using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using static LlmRouter.Tests.Budgets.BudgetHarness;

namespace LlmRouter.Tests.Budgets;

public class ScopePolicyTests
{
    private static BudgetHarness TwoRoutes(out TestChatClient fast, out TestChatClient smart)
    {
        var h = new BudgetHarness();
        fast = h.Add("fast-1", configure: d => d.Region = "us");
        smart = h.Add("smart-1", configure: d => d.Region = "eu");
        h.Router.Route("fast", "Ordered", "fast-1");
        h.Router.Route("smart", "Ordered", "smart-1");
        return h;
    }

    [Fact]
    public async Task A_route_outside_the_allow_list_is_denied_before_any_provider_call()
    {
        BudgetHarness h = TwoRoutes(out TestChatClient fast, out TestChatClient smart);
        h.Scope("team:interns").AllowedRoutes.Add("fast");
        BudgetChatClient client = h.Build();

        PolicyViolationException ex = await Assert.ThrowsAsync<PolicyViolationException>(
            () => client.GetResponseAsync(Prompt, For("org:acme", "team:interns").Also(o => o.ModelId = "smart")));
        await client.GetResponseAsync(Prompt, For("org:acme", "team:interns").Also(o => o.ModelId = "fast"));

        Assert.Equal(("team:interns", PolicyViolation.RouteNotAllowed, "smart"), (ex.Scope, ex.Violation, ex.Route));
        Assert.Contains("allowed: fast", ex.Message, StringComparison.Ordinal);
        Assert.Equal((1, 0), (fast.Calls, smart.Calls));
        Assert.Equal(AuditDecision.Denied, h.Audit.Records[0].Decision);
    }

    [Fact]
    public async Task A_denied_route_at_any_level_of_the_path_wins()
    {
        BudgetHarness h = TwoRoutes(out _, out TestChatClient smart);
        h.Scope("org:acme").AllowedRoutes.Add("smart");
        h.Scope("user:bob").DeniedRoutes.Add("SMART");
        BudgetChatClient client = h.Build();

        PolicyViolationException ex = await Assert.ThrowsAsync<PolicyViolationException>(
            () => client.GetResponseAsync(Prompt, For("org:acme", "user:bob").Also(o => o.ModelId = "smart")));

        Assert.Equal(PolicyViolation.RouteDenied, ex.Violation);
        Assert.Equal(0, smart.Calls);
    }

    private static BudgetHarness FallingBack(out TestChatClient cheap, out TestChatClient premium)
    {
        var h = new BudgetHarness();
        cheap = h.Router.Add("cheap-1", TestChatClient.Throwing("cheap-1", () => new HttpRequestException("down", null, System.Net.HttpStatusCode.ServiceUnavailable)), d => d.Price = Price());
        premium = h.Add("premium-1", configure: d => d.ModelId = "gpt-premium");
        h.Router.Route("cheap", "Ordered", "cheap-1").Fallbacks.Add("premium");
        h.Router.Route("premium", "Ordered", "premium-1");
        return h;
    }

    [Fact]
    public async Task A_denied_route_is_never_reached_as_a_fallback()
    {
        BudgetHarness h = FallingBack(out TestChatClient cheap, out TestChatClient premium);
        h.Scope("team:interns").DeniedRoutes.Add("premium");
        BudgetChatClient client = h.Build();

        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => client.GetResponseAsync(Prompt, For("team:interns").Also(o => o.ModelId = "cheap")));
        ChatResponse other = await client.GetResponseAsync(Prompt, For("team:seniors").Also(o => o.ModelId = "cheap"));

        Assert.Equal("premium-1", other.GetRoutingReport()!.Deployment);
        Assert.Equal((2, 1), (cheap.Calls, premium.Calls));
    }

    [Fact]
    public async Task A_fallback_outside_the_allow_list_is_skipped()
    {
        BudgetHarness h = FallingBack(out TestChatClient cheap, out TestChatClient premium);
        h.Scope("team:interns").AllowedRoutes.Add("cheap");
        BudgetChatClient client = h.Build();

        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => client.GetResponseAsync(Prompt, For("team:interns").Also(o => o.ModelId = "cheap")));

        Assert.Equal((1, 0), (cheap.Calls, premium.Calls));
    }

    [Fact]
    public async Task A_denied_model_id_excludes_the_deployments_serving_it()
    {
        var h = new BudgetHarness();
        TestChatClient premium = h.Add("premium-1", configure: d => d.ModelId = "gpt-premium");
        TestChatClient basic = h.Add("basic-1", configure: d => d.ModelId = "gpt-basic");
        h.Router.Route("chat", "Ordered", "premium-1", "basic-1");
        h.Scope("team:interns").DeniedRoutes.Add("gpt-premium");
        BudgetChatClient client = h.Build();

        ChatResponse response = await client.GetResponseAsync(Prompt, For("team:interns").Also(o => o.ModelId = "chat"));

        Assert.Equal("basic-1", response.GetRoutingReport()!.Deployment);
        Assert.Equal((0, 1), (premium.Calls, basic.Calls));
    }

    [Fact]
    public async Task Allowed_regions_constrain_routing_through_every_failover()
    {
        var h = new BudgetHarness();
        TestChatClient us = h.Router.Add("us-1", TestChatClient.Throwing("us-1", () => new HttpRequestException("down", null, System.Net.HttpStatusCode.ServiceUnavailable)), d => { d.Region = "us"; d.Price = Price(); });
        TestChatClient eu = h.Add("eu-1", configure: d => d.Region = "eu");
        h.Router.Route("r", "Ordered", "eu-1", "us-1");
        h.Scope("org:eu-only").AllowedRegions.Add("eu");
        BudgetChatClient client = h.Build();
        eu.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new HttpRequestException("down", null, System.Net.HttpStatusCode.ServiceUnavailable));

        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => client.GetResponseAsync(Prompt, For("org:eu-only").Also(o => o.ModelId = "r")));

        Assert.Equal(0, us.Calls);
        Assert.Equal(1, eu.Calls);
    }

    [Fact]
    public async Task A_request_asking_for_a_region_the_scope_does_not_allow_is_denied()
    {
        BudgetHarness h = TwoRoutes(out TestChatClient fast, out _);
        h.Scope("org:eu-only").AllowedRegions.Add("eu");
        BudgetChatClient client = h.Build();
        ChatOptions options = For("org:eu-only").WithRouteConstraints(new RouteConstraints { Regions = ["us"] });

        PolicyViolationException ex = await Assert.ThrowsAsync<PolicyViolationException>(() => client.GetResponseAsync(Prompt, options));

        Assert.Equal(PolicyViolation.RegionNotAllowed, ex.Violation);
        Assert.Equal(0, fast.Calls);
    }

    [Fact]
    public async Task The_smallest_output_cap_on_the_path_applies()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("org:acme").MaxOutputTokensPerRequest = 800;
        h.Scope("user:alice").MaxOutputTokensPerRequest = 200;
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("org:acme", "user:alice"));

        Assert.Equal(200, provider.LastOptions!.MaxOutputTokens);
    }

    [Fact]
    public async Task Requests_per_minute_are_limited_per_scope_and_come_back_as_the_window_slides()
    {
        var h = new BudgetHarness();
        TestChatClient provider = h.Add("a");
        h.Scope("key:k1").RequestsPerMinute = 2;
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("key:k1"));
        await client.GetResponseAsync(Prompt, For("key:k1"));
        PolicyViolationException ex = await Assert.ThrowsAsync<PolicyViolationException>(() => client.GetResponseAsync(Prompt, For("key:k1")));
        await client.GetResponseAsync(Prompt, For("key:k2"));
        h.Router.Time.Advance(TimeSpan.FromSeconds(61));
        await client.GetResponseAsync(Prompt, For("key:k1"));

        Assert.Equal(PolicyViolation.RequestRateExceeded, ex.Violation);
        Assert.NotNull(ex.RetryAfter);
        Assert.Equal(4, provider.Calls);
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_prompt_estimate_and_the_output_cap()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("key:k1").TokensPerMinute = 1200;
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("key:k1"));
        await client.GetResponseAsync(Prompt, For("key:k1"));
        PolicyViolationException ex = await Assert.ThrowsAsync<PolicyViolationException>(() => client.GetResponseAsync(Prompt, For("key:k1")));

        Assert.Equal(PolicyViolation.TokenRateExceeded, ex.Violation);
    }

    [Fact]
    public async Task Audit_content_is_opt_in_and_never_recorded_for_zero_data_retention_requests()
    {
        var h = new BudgetHarness();
        h.Add("a", configure: d => d.ZeroDataRetention = true);
        h.Options.AuditContent = true;
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("user:alice"));
        await client.GetResponseAsync(Prompt, For("user:alice").WithRouteConstraints(new RouteConstraints { RequireZeroDataRetention = true }));

        Assert.Equal("hi", h.Audit.Records[0].Prompt!.Single().Text);
        Assert.Equal("from a", h.Audit.Records[0].ResponseText);
        Assert.Null(h.Audit.Records[1].Prompt);
        Assert.Null(h.Audit.Records[1].ResponseText);
    }

    [Fact]
    public async Task Audit_records_carry_scope_route_deployment_tokens_and_cost_but_no_content_by_default()
    {
        var h = new BudgetHarness();
        h.Add("a");
        h.Scope("user:alice", Usd(1m));
        BudgetChatClient client = h.Build();

        await client.GetResponseAsync(Prompt, For("org:acme", "user:alice"));

        AuditRecord r = h.Audit.Records.Single();
        Assert.Equal(["org:acme", "user:alice"], r.ScopePath!.Scopes);
        Assert.Equal(("*", "a", 1, 5L, 500L, 0.001005m), (r.Route, r.Deployment, r.Attempts, r.InputTokens, r.OutputTokens, r.CostUsd));
        Assert.Equal(h.Router.Time.GetUtcNow(), r.Timestamp);
        Assert.Null(r.Prompt);
    }
}
