using System.Diagnostics;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

/// <summary>
/// Scenario: a budget layer over the router with a scope whose budget is too small, a <c>user:*</c> policy denying a
/// route, and a scope and a deployment with budgets to spend from. $1 / $2 per million tokens; each answer uses 5 input
/// and 500 output tokens, so it costs $0.001005.
/// </summary>
public sealed class BudgetTelemetryTests : IDisposable
{
    private const decimal AnswerCost = 0.001005m;

    private readonly string _id = Guid.NewGuid().ToString("N");
    private readonly string _deployment = Fixture.Unique("budgeted");
    private readonly string _route = Fixture.Unique("route");
    private readonly string _deniedRoute = Fixture.Unique("denied");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _provider = Fixture.Provider("prov-budget");

    public BudgetTelemetryTests()
    {
        _provider.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            Usage = new UsageDetails { InputTokenCount = 5, OutputTokenCount = 500 },
        });
    }

    private string Tiny => $"team:tiny-{_id}";

    private string Rich => $"team:rich-{_id}";

    private string User => $"user:alice-{_id}";

    public void Dispose() => _provider.Dispose();

    private BudgetChatClient Build()
    {
        var options = new LlmRouterOptions();
        DeploymentOptions d = Fixture.Deployment(_deployment, _provider, "budget-model", new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m });
        d.Budgets.Add(new BudgetLimit { LimitUsd = 10m, Window = BudgetWindow.Month });
        options.Deployments.Add(d);
        options.Routes.Add(Fixture.Route(_route, _deployment));
        options.Routes.Add(Fixture.Route(_deniedRoute, _deployment));
        var router = new LlmRouterChatClient(options, timeProvider: _time);

        var budgets = new BudgetOptions();
        var tiny = new ScopePolicy { Scope = Tiny };
        tiny.Budgets.Add(new BudgetLimit { LimitUsd = 0.0001m, Window = BudgetWindow.Day });
        var rich = new ScopePolicy { Scope = Rich };
        rich.Budgets.Add(new BudgetLimit { LimitUsd = 1m, Window = BudgetWindow.Day });
        var users = new ScopePolicy { Scope = "user:*" };
        users.DeniedRoutes.Add(_deniedRoute);
        users.Budgets.Add(new BudgetLimit { LimitUsd = 0.0001m, Window = BudgetWindow.Hour });
        budgets.Scopes.Add(tiny);
        budgets.Scopes.Add(rich);
        budgets.Scopes.Add(users);
        return new BudgetChatClient(router, budgets, timeProvider: _time);
    }

    private static ChatOptions For(string route, params string[] scopes) =>
        new ChatOptions { ModelId = route, MaxOutputTokens = 500 }.WithScopePath(new ScopePath(scopes));

    private static async Task<(Exception? Error, IReadOnlyList<Activity> Trace)> Traced(SpanRecorder spans, Func<Task> call)
    {
        Activity root = SpanRecorder.Root();
        Exception? error = null;
        try
        {
            await call();
        }
#pragma warning disable CA1031 // The test asserts on the exception.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ex;
        }
        finally
        {
            root.Stop();
        }

        return (error, spans.Stopped(root.TraceId));
    }

    [Fact]
    public async Task A_budget_too_small_rejects_before_any_attempt_with_an_error_span_and_a_rejection()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using BudgetChatClient client = Build();

        (Exception? error, IReadOnlyList<Activity> trace) = await Traced(spans, () => client.GetResponseAsync(Fixture.Prompt(), For(_route, Tiny)));

        Assert.IsType<BudgetExceededException>(error);
        Activity request = Assert.Single(trace);
        Assert.Equal($"chat {_route}", request.OperationName);
        Assert.Equal(ActivityStatusCode.Error, request.Status);
        request.Tagged("error.type", typeof(BudgetExceededException).FullName);
        request.Tagged("llmrouter.outcome", "failed");
        request.Tagged("llmrouter.scope", Tiny);
        request.Tagged("llmrouter.budget.window", "Day");
        Assert.Equal(0, _provider.Calls);

        CollectedMeasurement<long> rejection = Assert.Single(metrics.BudgetRejections.Where("llmrouter.route", _route));
        Assert.Equal(1, rejection.Value);
        Assert.Equal("budget_exceeded", rejection.Tag("llmrouter.reason"));
        Assert.Equal(Tiny, rejection.Tag("llmrouter.scope"));

        // The router never saw the request.
        Assert.Empty(metrics.Requests.Where("llmrouter.route", _route));
        Assert.Empty(metrics.Attempts.Where("llmrouter.deployment", _deployment));
    }

    [Fact]
    public async Task A_user_policy_denying_the_route_is_counted_under_the_template_never_the_user_id()
    {
        using var spans = new SpanRecorder();
        using var metrics = new RouterMetrics();
        using BudgetChatClient client = Build();

        (Exception? error, IReadOnlyList<Activity> trace) = await Traced(spans, () => client.GetResponseAsync(Fixture.Prompt(), For(_deniedRoute, Rich, User)));

        PolicyViolationException denied = Assert.IsType<PolicyViolationException>(error);
        Assert.Equal(PolicyViolation.RouteDenied, denied.Violation);
        Activity request = Assert.Single(trace);
        Assert.Equal(ActivityStatusCode.Error, request.Status);
        request.Tagged("error.type", typeof(PolicyViolationException).FullName);
        request.Tagged("llmrouter.reason", "route_denied");
        request.Tagged("llmrouter.outcome", "failed");
        Assert.NotNull(request.GetTagItem("llmrouter.scope"));

        CollectedMeasurement<long> rejection = Assert.Single(metrics.BudgetRejections.Where("llmrouter.route", _deniedRoute));
        Assert.Equal("route_denied", rejection.Tag("llmrouter.reason"));
        Assert.Equal("user:*", rejection.Tag("llmrouter.scope"));
        Assert.Equal(0, _provider.Calls);
    }

    [Fact]
    public async Task A_user_budget_exceeded_is_counted_under_the_template_never_the_user_id()
    {
        using var metrics = new RouterMetrics();
        using BudgetChatClient client = Build();

        await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync(Fixture.Prompt(), For(_route, Rich, User)));

        CollectedMeasurement<long> rejection = Assert.Single(metrics.BudgetRejections.Where("llmrouter.route", _route));
        Assert.Equal("budget_exceeded", rejection.Tag("llmrouter.reason"));
        Assert.Equal("user:*", rejection.Tag("llmrouter.scope"));

        // No instrument carries the user's id in any tag.
        Assert.DoesNotContain(metrics.BudgetRejections.GetMeasurementSnapshot(), m => m.Tags.Values.Any(v => v is string s && s.Contains(User, StringComparison.Ordinal)));
        metrics.BudgetRemaining.RecordObservableInstruments();
        Assert.DoesNotContain(metrics.BudgetRemaining.GetMeasurementSnapshot(), m => m.Tags.Values.Any(v => v is string s && (s.Contains(User, StringComparison.Ordinal) || s == "user:*")));
    }

    [Fact]
    public async Task Remaining_budgets_of_configured_scopes_and_deployments_are_observed_after_spending()
    {
        using var metrics = new RouterMetrics();
        using BudgetChatClient client = Build();

        metrics.BudgetRemaining.RecordObservableInstruments();
        TelemetryAssertions.Close(1.0, Remaining(metrics, "llmrouter.scope", Rich).Value);
        metrics.BudgetRemaining.Clear();

        ChatResponse response = await client.GetResponseAsync(Fixture.Prompt(), For(_route, Rich));
        Assert.Equal(AnswerCost, response.GetCost()!.Usd);

        metrics.BudgetRemaining.RecordObservableInstruments();
        CollectedMeasurement<double> rich = Remaining(metrics, "llmrouter.scope", Rich);
        TelemetryAssertions.Close((double)(1m - AnswerCost), rich.Value);
        Assert.Equal("Day", rich.Tag("llmrouter.budget.window"));
        TelemetryAssertions.Close(0.0001, Remaining(metrics, "llmrouter.scope", Tiny).Value);
        CollectedMeasurement<double> deployment = Remaining(metrics, "llmrouter.deployment", _deployment);
        TelemetryAssertions.Close((double)(10m - AnswerCost), deployment.Value);
        Assert.Equal("Month", deployment.Tag("llmrouter.budget.window"));

        // The cost of the served request.
        CollectedMeasurement<double> cost = Assert.Single(metrics.Cost.Where("llmrouter.route", _route));
        TelemetryAssertions.Close((double)AnswerCost, cost.Value);
        Assert.Equal(_deployment, cost.Tag("llmrouter.deployment"));
        Assert.Equal("false", cost.Tag("llmrouter.cost.estimated"));
        Assert.Empty(metrics.BudgetRejections.Where("llmrouter.route", _route));
    }

    [Fact]
    public async Task The_budget_layer_owns_the_request_span_and_puts_the_cost_on_it()
    {
        using var spans = new SpanRecorder();
        using BudgetChatClient client = Build();

        (Exception? error, IReadOnlyList<Activity> trace) = await Traced(spans, () => client.GetResponseAsync(Fixture.Prompt(), For(_route, Rich)));

        Assert.Null(error);
        Activity request = Assert.Single(trace, s => s.OperationName.StartsWith("chat", StringComparison.Ordinal));
        request.Tagged("llmrouter.cost.usd", (double)AnswerCost);
        request.Tagged("llmrouter.cost.estimated", false);
        request.Tagged("llmrouter.deployment", _deployment);
        request.Tagged("llmrouter.outcome", "served");
        Activity attempt = Assert.Single(trace.ChildrenOf(request));
        Assert.Equal($"attempt {_deployment}", attempt.OperationName);
    }

    private static CollectedMeasurement<double> Remaining(RouterMetrics metrics, string tag, string owner) =>
        Assert.Single(metrics.BudgetRemaining.Where(tag, owner));
}
