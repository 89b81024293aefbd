using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class RouteResolutionTests
{
    [Fact]
    public async Task An_unknown_route_fails_before_any_provider_call_and_lists_the_known_routes()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a", configure: d => d.ModelId = "gpt-4o-mini");
        h.Route("fast", "Ordered", "a");
        using LlmRouterChatClient router = h.Build();

        UnknownRouteException e = await Assert.ThrowsAsync<UnknownRouteException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("slow")));

        Assert.Equal("slow", e.Route);
        Assert.Equal(["fast", "gpt-4o-mini"], e.KnownRoutes);
        Assert.Contains("'fast'", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, a.Calls);
    }

    [Fact]
    public async Task Requests_without_a_model_id_use_the_default_route()
    {
        var h = new RouterHarness();
        h.Add("a");
        TestChatClient b = h.Add("b");
        h.Route("only-b", "Ordered", "b");
        h.Options.DefaultRoute = "only-b";
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt);

        Assert.Equal("b", response.GetRoutingReport()!.Deployment);
        Assert.Equal("only-b", response.GetRoutingReport()!.RequestedRoute);
    }

    [Fact]
    public async Task Without_a_default_route_requests_without_a_model_id_may_go_to_any_deployment()
    {
        var h = new RouterHarness();
        h.Add("a");
        h.Add("b");
        h.Options.LatencyRanking.LatencyBuffer = 10;
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 40);

        Assert.True(served.ContainsKey("a") && served.ContainsKey("b"), string.Join(",", served));
    }

    [Fact]
    public async Task A_model_id_served_by_deployments_is_an_implicit_route()
    {
        var h = new RouterHarness();
        h.Add("openai", configure: d => d.ModelId = "gpt-4o-mini");
        h.Add("azure", configure: d => d.ModelId = "gpt-4o-mini");
        TestChatClient claude = h.Add("claude", configure: d => d.ModelId = "claude-haiku");
        using LlmRouterChatClient router = h.Build();

        Dictionary<string, int> served = await RouterHarness.Serve(router, 20, RouterHarness.For("gpt-4o-mini"));

        Assert.DoesNotContain("claude", served.Keys);
        Assert.Equal(0, claude.Calls);
        Assert.Contains("claude-haiku", router.Routes);
    }

    [Fact]
    public async Task The_provider_receives_the_deployments_model_id_and_a_copy_of_the_options_without_router_properties()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a", configure: d => d.ModelId = "gpt-4o-mini");
        h.Route("fast", "Ordered", "a");
        using LlmRouterChatClient router = h.Build();
        var options = new ChatOptions { ModelId = "fast", Temperature = 0.2f }
            .WithRouteConstraints(new RouteConstraints { MaxAttempts = 2 });
        options.AdditionalProperties!["custom"] = "kept";

        await router.GetResponseAsync(RouterHarness.Prompt, options);

        ChatOptions sent = a.LastOptions!;
        Assert.NotSame(options, sent);
        Assert.Equal("gpt-4o-mini", sent.ModelId);
        Assert.Equal(0.2f, sent.Temperature);
        Assert.Equal("kept", sent.AdditionalProperties!["custom"]);
        Assert.False(sent.AdditionalProperties.ContainsKey("llmrouter.constraints"));
        Assert.Equal("fast", options.ModelId);
        Assert.NotNull(options.GetRouteConstraints());
    }

    [Fact]
    public async Task A_deployment_without_a_model_id_gets_none_rather_than_the_route_alias()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        h.Route("fast", "Ordered", "a");
        using LlmRouterChatClient router = h.Build();

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("fast"));

        Assert.Null(a.LastOptions!.ModelId);
    }

    [Fact]
    public async Task Fallback_routes_are_tried_breadth_first_and_no_deployment_twice()
    {
        var h = new RouterHarness();
        var calls = new List<string>();
        foreach (string name in new[] { "a1", "b1", "c1", "d1" })
        {
            h.Add(name).GetResponseAsyncCallback = (_, _, _) =>
            {
                calls.Add(name);
                return Task.FromException<ChatResponse>(Http.Status(503));
            };
        }

        TestChatClient ok = h.Add("ok");
        RouteOptions a = h.Route("a", "Ordered", "a1");
        a.Fallbacks.Add("b");
        a.Fallbacks.Add("c");
        h.Route("b", "Ordered", "b1", "a1").Fallbacks.Add("d");
        h.Route("c", "Ordered", "c1");
        h.Route("d", "Ordered", "d1", "ok");
        h.Options.MaxAttempts = 10;
        using LlmRouterChatClient router = h.Build();

        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("a"));

        Assert.Equal(["a1", "b1", "c1", "d1"], calls);
        Assert.Equal("ok", response.GetRoutingReport()!.Deployment);
        Assert.Equal("d", response.GetRoutingReport()!.Route);
        Assert.Equal("a", response.GetRoutingReport()!.RequestedRoute);
    }

    [Fact]
    public async Task A_request_can_opt_out_of_fallbacks()
    {
        var h = new RouterHarness();
        h.Add("a").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        TestChatClient b = h.Add("b");
        h.Route("main", "Ordered", "a").Fallbacks.Add("backup");
        h.Route("backup", "Ordered", "b");
        using LlmRouterChatClient router = h.Build();

        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(
            RouterHarness.Prompt, RouterHarness.For("main").WithRouteConstraints(new RouteConstraints { DisableFallbacks = true })));
        Assert.Equal(0, b.Calls);

        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("main"));
        Assert.Equal(1, b.Calls);
    }

    [Theory]
    [InlineData(null, null, null, 3)]
    [InlineData(2, null, null, 2)]
    [InlineData(null, 1, null, 1)]
    [InlineData(5, null, 4, 4)]
    public async Task Attempts_are_capped_by_the_router_the_route_and_the_request(int? routerMax, int? routeMax, int? requestMax, int expectedAttempts)
    {
        var h = new RouterHarness();
        for (int i = 0; i < 6; i++)
        {
            h.Add($"d{i}").GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(503));
        }

        RouteOptions route = h.Route("chat", "Ordered", "d0", "d1", "d2", "d3", "d4", "d5");
        route.MaxAttempts = routeMax;
        if (routerMax is int max)
        {
            h.Options.MaxAttempts = max;
        }

        using LlmRouterChatClient router = h.Build();
        ChatOptions options = RouterHarness.For("chat");
        if (requestMax is int rm)
        {
            options.WithRouteConstraints(new RouteConstraints { MaxAttempts = rm });
        }

        AllAttemptsFailedException e = await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, options));

        Assert.Equal(expectedAttempts, e.Attempts.Count);
        Assert.Equal(expectedAttempts, h.Clients.Values.Sum(c => c.Calls));
    }

    [Fact]
    public void GetService_returns_metadata_and_the_router_itself()
    {
        var h = new RouterHarness();
        h.Add("a");
        h.Route("fast", "Ordered", "a");
        h.Options.DefaultRoute = "fast";
        using LlmRouterChatClient router = h.Build();
        IChatClient pipeline = router.AsBuilder().UseFunctionInvocation().Build();

        ChatClientMetadata metadata = Assert.IsType<ChatClientMetadata>(pipeline.GetService(typeof(ChatClientMetadata)));
        Assert.Equal("llmrouter", metadata.ProviderName);
        Assert.Equal("fast", metadata.DefaultModelId);
        Assert.Same(router, pipeline.GetService<LlmRouterChatClient>());
        Assert.Null(router.GetService(typeof(LlmRouterChatClient), serviceKey: "other"));
        Assert.Null(router.GetService(typeof(string)));
    }
}
