using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Routing;

public class RouterBasicsTests
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "hi")];

    [Fact]
    public async Task Fails_over_on_503_and_reports_both_attempts()
    {
        var broken = TestChatClient.Throwing("a", () => Http.Status(503));
        var healthy = new TestChatClient("b");
        using var router = new LlmRouterChatClient(new LlmRouterOptions
        {
            Deployments = { new() { Name = "a", Client = broken }, new() { Name = "b", Client = healthy } },
            Routes = { new() { Name = "chat", Deployments = { "a", "b" }, Strategy = "Ordered" } },
        }, timeProvider: new FakeTimeProvider());

        ChatResponse response = await router.GetResponseAsync(Prompt, new ChatOptions { ModelId = "chat" });

        Assert.Equal("from b", response.Text);
        RoutingReport report = Assert.IsType<RoutingReport>(response.GetRoutingReport());
        Assert.Equal("b", report.Deployment);
        Assert.Equal(2, report.AttemptCount);
        Assert.Equal(AttemptOutcome.Failed, report.Attempts[0].Outcome);
        Assert.Equal(503, report.Attempts[0].StatusCode);
        Assert.Equal(FailureKind.Transient, report.Attempts[0].FailureKind);
    }

    [Fact]
    public async Task Streams_fail_over_before_the_first_update()
    {
        var broken = TestChatClient.Throwing("a", () => Http.Status(500));
        var healthy = new TestChatClient("b");
        using var router = new LlmRouterChatClient(new LlmRouterOptions
        {
            Deployments = { new() { Name = "a", Client = broken }, new() { Name = "b", Client = healthy } },
            Routes = { new() { Name = "chat", Deployments = { "a", "b" }, Strategy = "Ordered" } },
        }, timeProvider: new FakeTimeProvider());

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(Prompt, new ChatOptions { ModelId = "chat" }))
        {
            updates.Add(u);
        }

        Assert.Equal(["b-0", "b-1", "b-2"], updates.Select(u => u.Text));
        Assert.Equal("b", updates[0].GetRoutingReport()?.Deployment);
        Assert.Equal("b", updates.ToChatResponse().GetRoutingReport()?.Deployment);
    }
}
