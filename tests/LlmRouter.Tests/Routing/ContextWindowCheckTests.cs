using System.Collections;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Routing;

/// <summary>The context-window check before any call: bounded on adversarial prompts, cancellable, and saying what it found.</summary>
public class ContextWindowCheckTests
{
    private static readonly ChatMessage[] LongPrompt = [new(ChatRole.User, string.Concat(Enumerable.Repeat("hello ", 2_000)))];

    /// <summary>One run of a single letter: the o200k pre-tokenizer cannot split it, so encoding it whole is quadratic.</summary>
    private static readonly ChatMessage[] LetterRun = [new(ChatRole.User, new string('a', 1_000_000))];

    [Fact(Timeout = 60_000)]
    public async Task A_prompt_of_one_long_run_of_a_letter_is_checked_against_the_windows()
    {
        var h = new RouterHarness();
        TestChatClient small = h.Add("small", configure: d => d.ContextWindow = 1_000);
        TestChatClient large = h.Add("large", configure: d => d.ContextWindow = 2_000_000);
        h.Route("chat", "Ordered", "small", "large");
        using LlmRouterChatClient router = h.Build();

        // A hang guard, not a timing: before the check was bounded, a 512K-char run did not finish in a minute.
        ChatResponse response = await Task.Run(() => router.GetResponseAsync(LetterRun, RouterHarness.For("chat")));

        Assert.Equal("large", response.GetRoutingReport()!.Deployment);
        Assert.Equal((0, 1), (small.Calls, large.Calls));
    }

    [Fact(Timeout = 60_000)]
    public async Task Cancelling_while_the_prompt_is_counted_stops_the_count()
    {
        var h = new RouterHarness();
        TestChatClient small = h.Add("small", configure: d => d.ContextWindow = 1_000);
        TestChatClient large = h.Add("large", configure: d => d.ContextWindow = 2_000_000);
        h.Route("chat", "Ordered", "small", "large");
        using LlmRouterChatClient router = h.Build();
        using var response = new CancellationTokenSource();
        using var stream = new CancellationTokenSource();

        // Each token is live when its request starts and cancelled as soon as the router reads the messages.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(() => router.GetResponseAsync(new CancelOnRead(response, LetterRun), RouterHarness.For("chat"), response.Token)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(async () =>
        {
            await foreach (ChatResponseUpdate update in router.GetStreamingResponseAsync(new CancelOnRead(stream, LetterRun), RouterHarness.For("chat"), stream.Token))
            {
                Assert.Fail($"No update was expected, got '{update.Text}'.");
            }
        }));

        Assert.Equal((0, 0), (small.Calls, large.Calls));
    }

    [Fact]
    public async Task When_no_window_fits_the_error_says_how_much_context_the_request_needs()
    {
        var h = new RouterHarness();
        h.Add("small", configure: d => d.ContextWindow = 1_000);
        h.Route("chat", "Ordered", "small");
        using LlmRouterChatClient router = h.Build();

        NoAvailableDeploymentException ex = await Assert.ThrowsAsync<NoAvailableDeploymentException>(() => router.GetResponseAsync(LongPrompt, RouterHarness.For("chat")));

        Assert.Equal(NoAvailableDeploymentReason.ContextWindowTooSmall, ex.Reason);
        Assert.StartsWith("The request needs at least 1,", ex.Message, StringComparison.Ordinal);
        Assert.Contains("tokens of context", ex.Message, StringComparison.Ordinal);
        Assert.Contains("route 'chat'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("cooling down", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(NoAvailableDeploymentReason.NoneMatchConstraints, "constraints")]
    [InlineData(NoAvailableDeploymentReason.DeploymentBudgetsExhausted, "budget")]
    [InlineData(NoAvailableDeploymentReason.ContextWindowTooSmall, "context window")]
    public void Each_reason_has_its_own_message(NoAvailableDeploymentReason reason, string mentions)
    {
        var ex = new NoAvailableDeploymentException("chat", reason, null, []);

        Assert.Contains(mentions, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("cooling down", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("()", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Messages that cancel a token the first time anyone reads them.</summary>
    private sealed class CancelOnRead(CancellationTokenSource cts, IReadOnlyCollection<ChatMessage> messages) : IReadOnlyCollection<ChatMessage>
    {
        public int Count => messages.Count;

        public IEnumerator<ChatMessage> GetEnumerator()
        {
            cts.Cancel();
            return messages.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
