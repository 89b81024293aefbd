using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

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
}
