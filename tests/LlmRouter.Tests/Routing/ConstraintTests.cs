using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class ConstraintTests
{
    private static RouterHarness Regions()
    {
        var h = new RouterHarness();
        h.Add("eu-1", configure: d => d.Region = "eu").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        h.Add("us-1", configure: d => d.Region = "us");
        h.Add("eu-2", configure: d => { d.Region = "EU"; d.ZeroDataRetention = true; d.Tags.Add("vision"); })
            .GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(500));
        h.Add("us-2", configure: d => { d.Region = "us"; d.ZeroDataRetention = true; d.Tags.Add("vision"); });
        h.Route("chat", "Ordered", "eu-1", "us-1", "eu-2").Fallbacks.Add("backup");
        h.Route("backup", "Ordered", "us-2");
        h.Options.MaxAttempts = 10;
        return h;
    }

    [Fact]
    public async Task An_eu_only_request_never_reaches_a_us_deployment_whatever_fails()
    {
        RouterHarness h = Regions();
        using LlmRouterChatClient router = h.Build();

        AllAttemptsFailedException e = await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(
            RouterHarness.Prompt, RouterHarness.For("chat").WithRouteConstraints(new RouteConstraints { Regions = ["eu"] })));

        Assert.Equal(["eu-1", "eu-2"], e.Attempts.Select(a => a.Deployment));
        Assert.Equal(0, h.Clients["us-1"].Calls);
        Assert.Equal(0, h.Clients["us-2"].Calls);
    }

    [Fact]
    public async Task Without_constraints_the_same_failures_fail_over_to_us()
    {
        RouterHarness h = Regions();
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("us-1", response.GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task Zero_data_retention_and_tags_filter_every_route()
    {
        RouterHarness h = Regions();
        using LlmRouterChatClient router = h.Build();

        ChatResponse zdr = await router.GetResponseAsync(
            RouterHarness.Prompt, RouterHarness.For("chat").WithRouteConstraints(new RouteConstraints { RequireZeroDataRetention = true }));
        ChatResponse tagged = await router.GetResponseAsync(
            RouterHarness.Prompt, RouterHarness.For("chat").WithRouteConstraints(new RouteConstraints { RequiredTags = ["VISION"] }));

        Assert.Equal(["eu-2", "us-2"], zdr.GetRoutingReport()!.Attempts.Select(a => a.Deployment));
        Assert.Equal("us-2", tagged.GetRoutingReport()!.Deployment);
        Assert.Equal(0, h.Clients["eu-1"].Calls);
        Assert.Equal(0, h.Clients["us-1"].Calls);
    }

    [Fact]
    public async Task No_matching_deployment_fails_fast_with_a_typed_error()
    {
        RouterHarness h = Regions();
        using LlmRouterChatClient router = h.Build();

        NoAvailableDeploymentException e = await Assert.ThrowsAsync<NoAvailableDeploymentException>(() => router.GetResponseAsync(
            RouterHarness.Prompt, RouterHarness.For("chat").WithRouteConstraints(new RouteConstraints { Regions = ["ap"] })));

        Assert.Equal(NoAvailableDeploymentReason.NoneMatchConstraints, e.Reason);
        Assert.Equal("chat", e.Route);
        Assert.Equal(0, h.Clients.Values.Sum(c => c.Calls));
    }
}
