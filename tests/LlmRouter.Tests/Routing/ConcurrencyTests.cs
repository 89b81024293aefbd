using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class ConcurrencyTests
{
    [Fact]
    public async Task Statistics_and_health_stay_consistent_under_many_threads()
    {
        var options = new LlmRouterOptions { MaxAttempts = 2, Random = Random.Shared };
        options.Health.ConsecutiveFailureThreshold = 3;
        options.Health.BreakDuration = TimeSpan.FromMilliseconds(1);
        options.Health.RateLimitCooldown = TimeSpan.FromMilliseconds(1);
        var clients = new TestChatClient[4];
        for (int i = 0; i < clients.Length; i++)
        {
            int failPercent = i * 15; // 0%, 15%, 30%, 45%
            var random = new ThreadLocal<Random>(() => new Random(Environment.CurrentManagedThreadId * 31 + failPercent));
            var client = new TestChatClient($"d{i}");
            client.GetResponseAsyncCallback = async (_, _, _) =>
            {
                await Task.Yield();
                int roll = random.Value!.Next(100);
                if (roll < failPercent)
                {
                    throw roll % 3 == 0 ? Http.Status(429) : Http.Status(503);
                }

                return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"));
            };
            clients[i] = client;
            options.Deployments.Add(new DeploymentOptions { Name = client.Name, Client = client });
        }

        using var router = new LlmRouterChatClient(options);
        int succeeded = 0;
        int failedTyped = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 20_000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
        {
            try
            {
                await router.GetResponseAsync(RouterHarness.Prompt, cancellationToken: ct);
                Interlocked.Increment(ref succeeded);
            }
            catch (Exception e) when (e is AllAttemptsFailedException or NoAvailableDeploymentException)
            {
                Interlocked.Increment(ref failedTyped);
            }
        });

        Assert.Equal(20_000, succeeded + failedTyped);
        Assert.True(succeeded > 15_000, $"only {succeeded} succeeded");
        for (int i = 0; i < clients.Length; i++)
        {
            (long ok, long failed) = router.Deployments[i].AttemptCounts;
            Assert.Equal(clients[i].Calls, ok + failed);
            Assert.NotEqual(CircuitState.HalfOpen, router.Deployments[i].CircuitState);
        }

        // Every cold-probe slot was released: a brand-new cold route over the same deployments can still probe each one.
        Assert.All(router.Deployments, d => Assert.True(d.Stats.TryAcquireColdProbe(1), $"{d.Name} leaked a cold probe"));
    }
}
