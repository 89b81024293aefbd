using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Health;

/// <summary>
/// Under light traffic a known-bad deployment must not be re-probed optimistically each time its evidence fades with
/// wall-clock time: evidence fades with the traffic the router sees, so it gets exploration-level traffic only.
/// </summary>
public class LightTrafficEvidenceTests
{
    [Fact]
    public async Task A_deployment_failing_most_calls_gets_at_most_one_request_in_ten_at_one_request_every_two_seconds()
    {
        var h = new RouterHarness();
        var random = new Random(7);
        foreach (string name in new[] { "good1", "good2" })
        {
            h.Add(name, TimeSpan.FromMilliseconds(300));
        }

        h.Add("bad").GetResponseAsyncCallback = (_, _, _) =>
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(300));
            return random.NextDouble() < 0.6
                ? Task.FromException<ChatResponse>(Http.Status(500))
                : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "bad ok")));
        };
        h.Route("chat", "LowestLatency", "good1", "good2", "bad");
        using LlmRouterChatClient router = h.Build();

        const int Requests = 2_000;
        int firstToBad = 0;
        for (int i = 0; i < Requests; i++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(2));
            ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
            RoutingReport report = response.GetRoutingReport()!;
            string first = report.Attempts[0].Deployment;
            firstToBad += first == "bad" ? 1 : 0;
        }

        Assert.True(firstToBad <= Requests / 10, $"the bad deployment was tried first by {firstToBad} of {Requests} requests");
    }
}
