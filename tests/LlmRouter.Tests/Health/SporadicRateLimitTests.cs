using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Health;

/// <summary>
/// A 429 is evidence, not a verdict: sporadic rate limits among successes keep every deployment in routing (ranked last
/// for the Retry-After), while a real limit (every call refused) still takes deployments out and fails fast.
/// </summary>
public class SporadicRateLimitTests
{
    private const int Requests = 20_000;

    /// <summary>
    /// Three deployments at 500 requests a second (one every 2 ms of fake time), each call failing 2% with a 429
    /// carrying Retry-After 1 s and 5% with a 500: the router serves at least 99% of requests.
    /// </summary>
    [Fact]
    public async Task Sporadic_429s_and_500s_on_three_deployments_leave_at_least_99_percent_served()
    {
        var h = new RouterHarness();
        foreach (string name in new[] { "a", "b", "c" })
        {
            var random = new Random(name[0]);
            h.Add(name).GetResponseAsyncCallback = (_, _, _) =>
            {
                double u = random.NextDouble();
                return u < 0.02 ? Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "1"))))
                    : u < 0.07 ? Task.FromException<ChatResponse>(Http.Status(500))
                    : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, name)));
            };
        }

        h.Route("chat", "LowestLatency", "a", "b", "c");
        using LlmRouterChatClient router = h.Build();

        int served = 0;
        var failures = new Dictionary<string, int>();
        for (int i = 0; i < Requests; i++)
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(2));
            try
            {
                await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));
                served++;
            }
            catch (LlmRouterException e)
            {
                string key = e is NoAvailableDeploymentException n ? $"{e.GetType().Name}({n.Reason})" : e.GetType().Name;
                failures[key] = failures.GetValueOrDefault(key) + 1;
            }
        }

        Assert.True(served >= Requests * 0.99, $"served {served} of {Requests}; failures: {string.Join(", ", failures.Select(f => $"{f.Key} {f.Value}"))}");
        Assert.All(router.Deployments, d => Assert.True(d.AttemptCounts.Succeeded > Requests / 10, $"{d.Name} served {d.AttemptCounts.Succeeded}"));
    }

    [Fact]
    public async Task Persistent_429s_on_every_deployment_still_fail_fast()
    {
        var h = new RouterHarness();
        foreach (string name in new[] { "a", "b", "c" })
        {
            h.Add(name).GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "1"))));
        }

        h.Route("chat", "LowestLatency", "a", "b", "c");
        using LlmRouterChatClient router = h.Build();

        // Each request tries all three (MaxAttempts 3); by the third request each deployment has three 429s in its window.
        for (int i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));
        }

        int calls = h.Clients.Values.Sum(c => c.Calls);
        NoAvailableDeploymentException e = await Assert.ThrowsAsync<NoAvailableDeploymentException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        Assert.Equal(NoAvailableDeploymentReason.AllUnavailable, e.Reason);
        Assert.Equal(calls, h.Clients.Values.Sum(c => c.Calls)); // failed fast: no provider call
        Assert.All(router.Deployments, d => Assert.NotNull(d.CooldownUntil));
    }

    [Fact]
    public async Task A_sporadic_429_keeps_the_deployment_as_a_last_resort()
    {
        var h = new RouterHarness();
        int calls = 0;
        h.Add("only").GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref calls) == 1
            ? Task.FromException<ChatResponse>(new FakeClientResultException(429, new FakeHeaders(("retry-after", "1"))))
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        h.Route("chat", "Ordered", "only");
        using LlmRouterChatClient router = h.Build();
        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        // Within the Retry-After the only deployment is still tried (it was throttled, not taken out).
        ChatResponse response = await router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat"));

        Assert.Equal("only", response.GetRoutingReport()!.Deployment);
        Assert.Null(router.Deployments[0].CooldownUntil);
    }
}
