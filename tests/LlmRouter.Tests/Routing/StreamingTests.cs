using System.Runtime.CompilerServices;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

public class StreamingTests
{
    private static async IAsyncEnumerable<ChatResponseUpdate> BreaksAfterFirst([EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        yield return new ChatResponseUpdate(ChatRole.Assistant, "partial");
        throw new IOException("stream dropped");
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Empty([EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        yield break;
    }

    [Fact]
    public async Task An_error_after_the_first_update_propagates_unchanged_and_no_other_deployment_is_called()
    {
        var h = new RouterHarness();
        TestChatClient breaking = h.Add("breaking");
        breaking.GetStreamingResponseAsyncCallback = (_, _, ct) => BreaksAfterFirst(ct);
        TestChatClient other = h.Add("other");
        h.Route("chat", "Ordered", "breaking", "other");
        using LlmRouterChatClient router = h.Build();
        var received = new List<string>();

        IOException e = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
            {
                received.Add(u.Text);
            }
        });

        Assert.Equal("stream dropped", e.Message);
        Assert.Equal(["partial"], received);
        Assert.Equal(0, other.Calls);
        Assert.Equal((1L, 1L), router.Deployments[0].AttemptCounts);
    }

    [Fact]
    public async Task The_report_rides_on_the_first_update_only_and_survives_ToChatResponse()
    {
        var h = new RouterHarness();
        h.Add("a");
        using LlmRouterChatClient router = h.Build();

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt))
        {
            updates.Add(u);
        }

        Assert.Equal("a", updates[0].GetRoutingReport()!.Deployment);
        Assert.All(updates.Skip(1), u => Assert.Null(u.GetRoutingReport()));
        Assert.Equal("a", updates.ToChatResponse().GetRoutingReport()!.Deployment);
    }

    [Fact]
    public async Task An_empty_stream_is_a_success_with_no_updates()
    {
        var h = new RouterHarness();
        h.Add("empty").GetStreamingResponseAsyncCallback = (_, _, ct) => Empty(ct);
        TestChatClient other = h.Add("other");
        h.Route("chat", "Ordered", "empty", "other");
        using LlmRouterChatClient router = h.Build();

        int count = 0;
        await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
        {
            count++;
        }

        Assert.Equal(0, count);
        Assert.Equal(0, other.Calls);
        Assert.Equal((1L, 0L), router.Deployments[0].AttemptCounts);
    }

    [Fact]
    public async Task A_synchronously_throwing_stream_fails_over()
    {
        var h = new RouterHarness();
        h.Add("throws").GetStreamingResponseAsyncCallback = (_, _, _) => throw Http.Status(503);
        h.Add("ok");
        h.Route("chat", "Ordered", "throws", "ok");
        using LlmRouterChatClient router = h.Build();

        var texts = new List<string>();
        await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
        {
            texts.Add(u.Text);
        }

        Assert.Equal(["ok-0", "ok-1", "ok-2"], texts);
    }

    [Fact]
    public async Task A_bad_request_stream_is_not_failed_over()
    {
        var h = new RouterHarness();
        h.Add("bad").GetStreamingResponseAsyncCallback = (_, _, _) => throw Http.Status(400);
        TestChatClient ok = h.Add("ok");
        h.Route("chat", "Ordered", "bad", "ok");
        using LlmRouterChatClient router = h.Build();

        await Assert.ThrowsAsync<HttpRequestException>(async () =>
        {
            await foreach (ChatResponseUpdate u in router.GetStreamingResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")))
            {
            }
        });
        Assert.Equal(0, ok.Calls);
    }
}
