using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.TestUtilities;

/// <summary>The shared test utilities of LlmRouter.Testing do what the tests that use them rely on.</summary>
public class TestingLibraryTests
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "hi")];

    [Fact]
    public async Task Eventually_returns_once_something_asynchronous_makes_the_condition_hold()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(done.SetResult);

        await Eventually.Until(() => done.Task.IsCompleted);

        Assert.True(done.Task.IsCompleted);
    }

    [Fact]
    public async Task Eventually_fails_after_its_timeout_naming_the_condition()
    {
        bool never = false;

        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.Until(() => never, timeout: TimeSpan.FromMilliseconds(20)));

        Assert.Contains("() => never", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eventually_awaits_an_asynchronous_condition()
    {
        int checks = 0;

        await Eventually.Until(async () =>
        {
            await Task.Yield();
            return ++checks == 3;
        });

        Assert.Equal(3, checks);
    }

    [Fact]
    public async Task The_test_client_answers_from_its_callbacks_or_by_default_with_its_name()
    {
        var client = new TestChatClient("a");

        Assert.Equal("from a", (await client.GetResponseAsync(Prompt)).Text);
        Assert.Equal("a-0a-1a-2", (await client.GetStreamingResponseAsync(Prompt).ToChatResponseAsync()).Text);

        client.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "custom")));
        client.GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Updates("b", 1, ct);
        Assert.Equal("custom", (await client.GetResponseAsync(Prompt)).Text);
        Assert.Equal("b-0", (await client.GetStreamingResponseAsync(Prompt).ToChatResponseAsync()).Text);
        Assert.Equal(4, client.Calls);
    }

    [Fact]
    public async Task The_test_client_records_each_calls_messages_options_and_current_activity()
    {
        var client = new TestChatClient();
        var messages = new List<ChatMessage>(Prompt);
        var options = new ChatOptions { ModelId = "m" };
        using var activity = new Activity("caller");
        activity.Start();

        await client.GetResponseAsync(messages, options);
        activity.Stop();
        messages.Add(new ChatMessage(ChatRole.User, "added after the call"));
        await client.GetStreamingResponseAsync(messages).ToChatResponseAsync();

        TestChatCall first = client.Received[0];
        Assert.Equal(["hi"], first.Messages.Select(m => m.Text)); // a copy, as the call saw it
        Assert.Same(options, first.Options);
        Assert.Same(activity, first.Activity);
        Assert.Equal(2, client.Received[1].Messages.Count);
        Assert.Null(client.Received[1].Activity);
        Assert.Same(messages, client.LastMessages);
        Assert.Null(client.LastOptions);
    }

    [Fact]
    public void The_test_client_reports_a_provider_name_only_when_given_one()
    {
        IChatClient named = new TestChatClient("a", providerName: "openai");
        IChatClient anonymous = new TestChatClient("b");

        Assert.Equal("openai", named.GetService<ChatClientMetadata>()?.ProviderName);
        Assert.Null(anonymous.GetService<ChatClientMetadata>());
        Assert.Same(named, named.GetService<TestChatClient>());
        Assert.Null(named.GetService(typeof(TestChatClient), serviceKey: "key"));
    }

    [Fact]
    public async Task A_throwing_test_client_fails_every_call_with_a_fresh_error()
    {
        TestChatClient client = TestChatClient.Throwing("down", () => new InvalidOperationException("boom"));

        InvalidOperationException first = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync(Prompt));
        InvalidOperationException second = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetStreamingResponseAsync(Prompt).ToChatResponseAsync());

        Assert.NotSame(first, second);
        Assert.Equal(2, client.Calls);
    }
}
