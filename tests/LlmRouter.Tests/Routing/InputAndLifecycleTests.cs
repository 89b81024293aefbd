using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.Tests.Routing;

public class InputAndLifecycleTests
{
    private static readonly ChatMessage[] WithNull = [new(ChatRole.System, "be brief"), null!, new(ChatRole.User, "hi")];

    [Fact]
    public async Task A_null_message_is_rejected_naming_its_index()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        using LlmRouterChatClient router = h.Build();

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => router.GetResponseAsync(WithNull));

        Assert.Equal("messages", ex.ParamName);
        Assert.Contains("messages[1] is null", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, a.Calls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_null_message_is_rejected_naming_its_index_by_the_cache_and_budget_layers_too(bool streaming)
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a", configure: d => d.Price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m });
        using LlmRouterChatClient router = h.Build();
        using ServiceProvider services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        using var budgets = new BudgetChatClient(router, new BudgetOptions(), timeProvider: h.Time);
        using var cache = new ResponseCacheChatClient(budgets, services.GetRequiredService<HybridCache>(), timeProvider: h.Time);

        foreach (IChatClient client in new IChatClient[] { cache, budgets })
        {
            ArgumentException ex = streaming
                ? await Assert.ThrowsAsync<ArgumentException>(async () => await client.GetStreamingResponseAsync(WithNull).ToChatResponseAsync())
                : await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(WithNull));
            Assert.Equal("messages", ex.ParamName);
            Assert.Contains("messages[1] is null", ex.Message, StringComparison.Ordinal);
        }

        Assert.Equal(0, a.Calls);
    }

    [Fact]
    public async Task A_null_message_in_a_lazy_sequence_or_a_stream_is_rejected_naming_its_index()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        using LlmRouterChatClient router = h.Build();

        ArgumentException lazy = await Assert.ThrowsAsync<ArgumentException>(() => router.GetResponseAsync(WithNull.Where(_ => true)));
        ArgumentException streamed = await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (ChatResponseUpdate update in router.GetStreamingResponseAsync(WithNull))
            {
                Assert.Fail($"No update was expected, got '{update.Text}'.");
            }
        });

        Assert.Contains("messages[1] is null", lazy.Message, StringComparison.Ordinal);
        Assert.Contains("messages[1] is null", streamed.Message, StringComparison.Ordinal);
        Assert.Equal(0, a.Calls);
    }

    [Fact]
    public async Task Requests_after_Dispose_throw_ObjectDisposedException_and_charge_no_health()
    {
        // The router disposes the client its factory built; a disposed client fails every call, as real SDK clients do.
        TestChatClient built = DisposableClient("a");
        var h = new RouterHarness();
        h.Options.Deployments.Add(new DeploymentOptions { Name = "a", ClientFactory = _ => built });
        using ServiceProvider services = new ServiceCollection().BuildServiceProvider();
        var router = new LlmRouterChatClient(h.Options, services, h.Time);
        router.Dispose();

        for (int i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => router.GetResponseAsync(RouterHarness.Prompt));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
            {
                await foreach (ChatResponseUpdate update in router.GetStreamingResponseAsync(RouterHarness.Prompt))
                {
                    Assert.Fail($"No update was expected, got '{update.Text}'.");
                }
            });
        }

        DeploymentSnapshot a = router.GetSnapshot().Deployments[0];
        Assert.Equal(0, built.Calls);
        Assert.Equal((CircuitState.Closed, 0L), (a.CircuitState, a.FailedAttempts));
    }

    [Fact]
    public async Task A_stream_obtained_before_Dispose_and_read_after_it_throws_ObjectDisposedException()
    {
        var h = new RouterHarness();
        TestChatClient a = h.Add("a");
        LlmRouterChatClient router = h.Build();
        IAsyncEnumerable<ChatResponseUpdate> stream = router.GetStreamingResponseAsync(RouterHarness.Prompt);
        router.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (ChatResponseUpdate update in stream)
            {
                Assert.Fail($"No update was expected, got '{update.Text}'.");
            }
        });
        Assert.Equal(0, a.Calls);
    }

    [Fact]
    public async Task An_attempt_cut_off_by_Dispose_charges_no_health_and_fails_no_other_deployment()
    {
        var h = new RouterHarness();
        TestChatClient first = h.Add("first");
        TestChatClient second = h.Add("second");
        h.Route("chat", "Ordered", "first", "second");
        LlmRouterChatClient router = h.Build();
        first.GetResponseAsyncCallback = (_, _, _) =>
        {
            router.Dispose();
            return Task.FromException<ChatResponse>(new ObjectDisposedException("HttpClient"));
        };

        await Assert.ThrowsAsync<ObjectDisposedException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));

        DeploymentSnapshot a = router.GetSnapshot().Deployments[0];
        Assert.Equal((1, 0), (first.Calls, second.Calls));
        Assert.Equal((CircuitState.Closed, 0L, (DateTimeOffset?)null), (a.CircuitState, a.FailedAttempts, a.CooldownUntil));
    }

    private static TestChatClient DisposableClient(string name)
    {
        var client = new TestChatClient(name);
        client.GetResponseAsyncCallback = (_, _, _) => client.Disposed
            ? Task.FromException<ChatResponse>(new ObjectDisposedException(name))
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {name}")));
        return client;
    }
}
