using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Health;

public class LlmRouterHealthCheckTests
{
    private static Task<HealthCheckResult> Check(LlmRouterChatClient router, HealthStatus failureStatus = HealthStatus.Unhealthy)
    {
        var check = new LlmRouterHealthCheck(router);
        var context = new HealthCheckContext { Registration = new HealthCheckRegistration("llmrouter", check, failureStatus, null) };
        return check.CheckHealthAsync(context);
    }

    private static IReadOnlyDictionary<string, object?> RouteData(HealthCheckResult result, string route) =>
        Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(result.Data[route]);

    private static IReadOnlyList<IReadOnlyDictionary<string, object?>> Unavailable(HealthCheckResult result, string route) =>
        Assert.IsAssignableFrom<IReadOnlyList<IReadOnlyDictionary<string, object?>>>(RouteData(result, route)["unavailable"]);

    private static Exception RateLimited(int seconds) => new FakeClientResultException(429, new FakeHeaders(("retry-after", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture))));

    /// <summary>Two routes: "chat" over a and b (the default), "smart" over claude, falling back to "chat".</summary>
    private static RouterHarness TwoRoutes()
    {
        var h = new RouterHarness();
        h.Add("a");
        h.Add("b");
        h.Add("claude");
        h.Route("chat", "Ordered", "a", "b");
        h.Route("smart", "Ordered", "claude").Fallbacks.Add("chat");
        h.Options.DefaultRoute = "chat";
        h.Options.Health.ConsecutiveFailureThreshold = 1;
        h.Options.Health.BreakDuration = TimeSpan.FromSeconds(30);
        return h;
    }

    [Fact]
    public async Task Healthy_when_every_deployment_of_every_route_is_available()
    {
        using LlmRouterChatClient router = TwoRoutes().Build();

        HealthCheckResult result = await Check(router);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("All 3 deployments of 2 routes are available.", result.Description);
        Assert.Equal(["chat", "smart"], result.Data.Keys.Order());
        Assert.Equal(2, RouteData(result, "chat")["available"]);
        Assert.Equal(2, RouteData(result, "chat")["total"]);
        Assert.Empty(Unavailable(result, "chat"));
        Assert.Equal(["chat"], Assert.IsAssignableFrom<IEnumerable<string>>(RouteData(result, "smart")["fallbacks"]));
    }

    [Fact]
    public async Task Degraded_while_a_route_has_lost_some_deployments_and_healthy_again_after_the_cooldown()
    {
        RouterHarness h = TwoRoutes();
        h.Options.Health.ConsecutiveFailureThreshold = 5;
        h.Clients["a"].GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(RateLimited(20));
        using LlmRouterChatClient router = h.Build();
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
        DateTimeOffset failedAt = h.Time.GetUtcNow();

        HealthCheckResult result = await Check(router);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Equal("Route 'chat' has 1 of 2 deployments available ('a' CoolingDown until 2026-01-01T00:00:20Z unavailable).", result.Description);
        Assert.Equal(1, RouteData(result, "chat")["available"]);
        Assert.Equal(2, RouteData(result, "chat")["total"]);
        IReadOnlyDictionary<string, object?> a = Assert.Single(Unavailable(result, "chat"));
        Assert.Equal("a", a["deployment"]);
        Assert.Equal("CoolingDown", a["status"]);
        Assert.Equal(failedAt + TimeSpan.FromSeconds(20), a["cooldownUntil"]);
        Assert.Null(a["circuitOpenUntil"]);
        Assert.Empty(Unavailable(result, "smart"));

        h.Time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(HealthStatus.Healthy, (await Check(router)).Status);
    }

    [Fact]
    public async Task Unhealthy_when_a_route_has_no_deployment_left_even_though_its_fallback_serves()
    {
        RouterHarness h = TwoRoutes();
        h.Clients["claude"].GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(500));
        using LlmRouterChatClient router = h.Build();
        ChatResponse served = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("smart"));
        Assert.Equal("a", served.GetRoutingReport()!.Deployment);
        DateTimeOffset openedAt = h.Time.GetUtcNow();

        HealthCheckResult result = await Check(router);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("Route 'smart' has no deployment available ('claude' CircuitOpen until 2026-01-01T00:00:30Z); it still falls back to 'chat'.", result.Description);
        Assert.Equal(0, RouteData(result, "smart")["available"]);
        Assert.Equal(1, RouteData(result, "smart")["total"]);
        IReadOnlyDictionary<string, object?> claude = Assert.Single(Unavailable(result, "smart"));
        Assert.Equal("claude", claude["deployment"]);
        Assert.Equal("CircuitOpen", claude["status"]);
        Assert.Equal(openedAt + TimeSpan.FromSeconds(30), claude["circuitOpenUntil"]);
        Assert.Equal(2, RouteData(result, "chat")["available"]);

        Assert.Equal(HealthStatus.Degraded, (await Check(router, failureStatus: HealthStatus.Degraded)).Status);
    }

    [Fact]
    public async Task Unhealthy_routes_are_described_before_degraded_ones()
    {
        RouterHarness h = TwoRoutes();
        h.Clients["claude"].GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(500));
        h.Clients["a"].GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(RateLimited(20));
        using LlmRouterChatClient router = h.Build();
        await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("smart"));

        HealthCheckResult result = await Check(router);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal(
            "Route 'smart' has no deployment available ('claude' CircuitOpen until 2026-01-01T00:00:30Z); it still falls back to 'chat'; "
            + "route 'chat' has 1 of 2 deployments available ('a' CircuitOpen until 2026-01-01T00:00:30Z unavailable).",
            result.Description);
    }

    [Fact]
    public async Task Registered_with_AddLlmRouter_it_checks_the_router_of_the_container()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var a = new TestChatClient("a");
        var b = new TestChatClient("b");
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddLogging();
        services.AddLlmRouter(router => router
            .AddDeployment("a", a)
            .AddDeployment("b", b)
            .AddRoute("chat", r => { r.Deployments.Add("a"); r.Deployments.Add("b"); r.Strategy = "Ordered"; })
            .Configure(o => o.DefaultRoute = "chat"));
        services.AddHealthChecks().AddLlmRouter(tags: ["ready"]);
        await using ServiceProvider provider = services.BuildServiceProvider();
        HealthCheckService health = provider.GetRequiredService<HealthCheckService>();
        IChatClient client = provider.GetRequiredService<IChatClient>();

        HealthReport healthy = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(["ready"], healthy.Entries["llmrouter"].Tags);

        a.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(RateLimited(10));
        await client.GetResponseAsync(RouterHarness.Prompt);
        HealthReport degraded = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("'a' CoolingDown", degraded.Entries["llmrouter"].Description, StringComparison.Ordinal);

        b.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(RateLimited(10));
        time.Advance(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => client.GetResponseAsync(RouterHarness.Prompt));
        HealthReport unhealthy = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
        Assert.Equal(0, Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(unhealthy.Entries["llmrouter"].Data["chat"])["available"]);
    }

    [Fact]
    public async Task The_registration_name_and_failure_status_apply()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        services.AddLogging();
        services.AddLlmRouter(router => router.AddDeployment("a", TestChatClient.Throwing("a", () => Http.Status(500))));
        services.AddHealthChecks().AddLlmRouter("router", failureStatus: HealthStatus.Degraded);
        await using ServiceProvider provider = services.BuildServiceProvider();
        LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();
        for (int i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt));
        }

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        HealthReportEntry entry = Assert.Single(report.Entries).Value;
        Assert.Equal("router", Assert.Single(report.Entries).Key);
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("Route '*' has no deployment available ('a' CircuitOpen until 2026-01-01T00:00:30Z).", entry.Description);
    }
}
