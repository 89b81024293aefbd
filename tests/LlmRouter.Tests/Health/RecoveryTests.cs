using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Health;

public class RecoveryTests
{
    [Fact]
    public async Task Under_LowestLatency_an_open_circuit_past_its_break_is_probed_first_and_then_re_measured()
    {
        var h = new RouterHarness();
        TestChatClient flaky = h.Add("flaky", TimeSpan.FromMilliseconds(20));
        h.Add("steady", TimeSpan.FromMilliseconds(80));
        h.Options.LatencyRanking.ExplorationRate = 0;
        h.Options.LatencyRanking.LatencyBuffer = 0;
        h.Options.Health.ConsecutiveFailureThreshold = 2;
        h.Options.Health.BreakDuration = TimeSpan.FromSeconds(10);
        h.Options.Health.ProbesToClose = 1;
        using LlmRouterChatClient router = h.Build();
        await RouterHarness.Serve(router, 10);

        // Outage: two failures open the circuit; the slow timeouts-and-failures history would keep it ranked last.
        flaky.GetResponseAsyncCallback = (_, _, _) =>
        {
            h.Time.Advance(TimeSpan.FromSeconds(2));
            return Task.FromException<ChatResponse>(Http.Status(503));
        };
        Dictionary<string, int> during = await RouterHarness.Serve(router, 10);
        Assert.Equal(10, during["steady"]);
        Assert.Equal(CircuitState.Open, router.Deployments[0].CircuitState);
        int outageCalls = flaky.Calls;

        // Recovery: once the break passes the very next request probes it, success closes it, and its stats restart cold.
        h.SetLatency(flaky, TimeSpan.FromMilliseconds(20));
        h.Time.Advance(TimeSpan.FromSeconds(10));
        ChatResponse probe = await router.GetResponseAsync(RouterHarness.Prompt);
        Assert.Equal("flaky", probe.GetRoutingReport()!.Deployment);
        Assert.Equal(CircuitState.Closed, router.Deployments[0].CircuitState);
        Assert.Equal(0.0, router.Deployments[0].FailureRate);
        Assert.Equal(TimeSpan.FromMilliseconds(20), router.Deployments[0].GetLatencyEstimate(streaming: false));

        Dictionary<string, int> after = await RouterHarness.Serve(router, 10);
        Assert.Equal(10, after["flaky"]);
        Assert.Equal(outageCalls + 11, flaky.Calls);
    }
}
