using Anthropic.Models.Messages;
using LlmRouter.Anthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.Tests.Providers;

public class AnthropicPromptCachingTests
{
    // 1,024 tokens at four characters a token is 4,096 characters.
    private static readonly string Long = new('x', 5_000);
    private static readonly string Half = new('y', 2_100);

    [Fact]
    public async Task A_long_system_prompt_and_the_conversation_so_far_end_with_breakpoints()
    {
        var (client, inner) = Build();
        ChatMessage[] messages =
        [
            new(ChatRole.System, Long),
            new(ChatRole.User, "Summarise the document."),
            new(ChatRole.Assistant, "It is about x."),
            new(ChatRole.User, "And the second half?"),
        ];

        await client.GetResponseAsync(messages);

        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        Assert.Equal(4, sent.Count);
        Assert.NotNull(Mark(sent[0].Contents[0]));
        Assert.Null(Mark(sent[1].Contents[0]));
        Assert.NotNull(Mark(sent[2].Contents[0]));
        Assert.Null(Mark(sent[3].Contents[0]));
        Assert.Equal(2, sent.SelectMany(m => m.Contents).Count(c => Mark(c) is not null));
        Assert.Null(Mark(sent[0].Contents[0])!.Ttl);

        // The unmarked messages are the caller's own objects; the marked ones are copies with the same text and role.
        Assert.Same(messages[1], sent[1]);
        Assert.Same(messages[3], sent[3]);
        Assert.NotSame(messages[2], sent[2]);
        Assert.Equal((ChatRole.Assistant, "It is about x."), (sent[2].Role, sent[2].Text));
    }

    [Fact]
    public async Task The_callers_messages_contents_and_options_are_never_changed()
    {
        var (client, inner) = Build();
        var systemText = new TextContent(Long) { AdditionalProperties = new() { ["mine"] = 1 } };
        var reply = new TextContent("It is about x.") { RawRepresentation = "raw", Annotations = [new CitationAnnotation { Title = "doc" }] };
        List<AIContent> replyContents = [reply];
        var assistant = new ChatMessage(ChatRole.Assistant, replyContents) { AuthorName = "bot", MessageId = "m1" };
        List<ChatMessage> messages = [new(ChatRole.System, [systemText]), new(ChatRole.User, Half), assistant, new(ChatRole.User, "Next?")];
        var options = new ChatOptions { Instructions = "Be brief.", Temperature = 0.5f };

        await client.GetResponseAsync(messages, options);
        await client.GetStreamingResponseAsync(messages, options).ToChatResponseAsync();

        // The caller's list, messages, content lists, contents and options are as they were.
        Assert.Equal(4, messages.Count);
        Assert.Same(replyContents, assistant.Contents);
        Assert.Same(reply, assistant.Contents[0]);
        Assert.Null(reply.AdditionalProperties);
        Assert.Equal([KeyValuePair.Create("mine", (object?)1)], systemText.AdditionalProperties!);
        Assert.Equal("Be brief.", options.Instructions);
        Assert.All(messages.SelectMany(m => m.Contents), c => Assert.Null(Mark(c)));

        // The copy keeps the text, raw representation, annotations and message properties, and has its own dictionary.
        foreach (IReadOnlyList<ChatMessage> sent in inner.Received.Select(c => c.Messages))
        {
            Assert.Equal(5, sent.Count); // the instructions moved into a system message
            AIContent copy = sent[3].Contents[0];
            Assert.NotSame(reply, copy);
            Assert.NotNull(Mark(copy));
            Assert.Equal(("It is about x.", "raw"), (((TextContent)copy).Text, copy.RawRepresentation));
            Assert.Same(reply.Annotations, copy.Annotations);
            Assert.Equal(("bot", "m1", ChatRole.Assistant), (sent[3].AuthorName, sent[3].MessageId, sent[3].Role));
        }
    }

    [Fact]
    public async Task Long_instructions_move_into_a_marked_system_message_after_the_system_messages()
    {
        var (client, inner) = Build();
        ChatMessage[] messages = [new(ChatRole.System, "You are terse."), new(ChatRole.User, "Hi")];
        var options = new ChatOptions { Instructions = Long, ModelId = "claude-sonnet-4-5" };

        await client.GetResponseAsync(messages, options);

        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        Assert.Equal([ChatRole.System, ChatRole.System, ChatRole.User], sent.Select(m => m.Role));
        Assert.Same(messages[0], sent[0]);
        Assert.Equal(Long, sent[1].Text);
        Assert.NotNull(Mark(sent[1].Contents[0]));
        Assert.Null(inner.LastOptions!.Instructions);
        Assert.Equal("claude-sonnet-4-5", inner.LastOptions.ModelId);
        Assert.NotSame(options, inner.LastOptions);
        Assert.Equal(Long, options.Instructions);
    }

    [Fact]
    public async Task Short_prompts_go_through_untouched()
    {
        var (client, inner) = Build();
        ChatMessage[] messages = [new(ChatRole.System, "You are terse."), new(ChatRole.User, "Hi"), new(ChatRole.Assistant, "Hello"), new(ChatRole.User, "Bye")];
        var options = new ChatOptions { Instructions = "Be brief." };

        await client.GetResponseAsync(messages, options);

        Assert.Same(messages, inner.LastMessages);
        Assert.Same(options, inner.LastOptions);
        Assert.All(inner.Received[^1].Messages.SelectMany(m => m.Contents), c => Assert.Null(Mark(c)));
    }

    [Fact]
    public async Task The_minimum_counts_the_whole_prefix_so_a_short_system_prompt_is_skipped_while_the_longer_conversation_is_marked()
    {
        var (client, inner) = Build();
        ChatMessage[] messages =
        [
            new(ChatRole.System, "You are terse."),
            new(ChatRole.User, Half),
            new(ChatRole.Assistant, Half),
            new(ChatRole.User, "Next?"),
        ];

        await client.GetResponseAsync(messages);

        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        Assert.Null(Mark(sent[0].Contents[0]));
        Assert.NotNull(Mark(sent[2].Contents[0]));
        Assert.Same(messages[0], sent[0]);
    }

    [Fact]
    public async Task A_block_the_caller_marked_is_left_alone_and_its_hour_lifts_the_earlier_system_mark_to_an_hour()
    {
        var (client, inner) = Build();
        TextContent reply = new TextContent("It is about x.").WithCacheControl(Ttl.Ttl1h);
        ChatMessage[] messages = [new(ChatRole.System, Long), new(ChatRole.User, "Summarise."), new(ChatRole.Assistant, [reply]), new(ChatRole.User, "More?")];

        await client.GetResponseAsync(messages);

        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        Assert.Same(messages[2], sent[2]);
        Assert.Same(reply, sent[2].Contents[0]);

        // Anthropic rejects a 5-minute breakpoint before a 1-hour one.
        Assert.Equal("1h", Mark(sent[0].Contents[0])!.Ttl?.Raw());
    }

    [Fact]
    public async Task The_system_prompt_lifetime_applies_to_the_system_mark_only()
    {
        var (client, inner) = Build(o => o.SystemPromptTtl = Ttl.Ttl1h);
        ChatMessage[] messages = [new(ChatRole.System, Long), new(ChatRole.User, "Summarise."), new(ChatRole.Assistant, "Done."), new(ChatRole.User, "More?")];

        await client.GetResponseAsync(messages);

        Assert.Equal("1h", Mark(inner.Received[^1].Messages[0].Contents[0])!.Ttl?.Raw());
        Assert.Null(Mark(inner.Received[^1].Messages[2].Contents[0])!.Ttl);
    }

    [Fact]
    public async Task At_most_four_breakpoints_counting_the_callers_the_system_prompt_first()
    {
        var (client, inner) = Build();
        ChatMessage[] messages =
        [
            new(ChatRole.System, Long),
            new(ChatRole.User, "Summarise."),
            new(ChatRole.Assistant, "Done."),
            new(ChatRole.User, [new TextContent("a").WithCacheControl(Ttl.Ttl5m), new TextContent("b").WithCacheControl(Ttl.Ttl5m)]),
        ];
        AIFunction tool = AIFunctionFactory.Create(() => 1, new AIFunctionFactoryOptions
        {
            Name = "one",
            AdditionalProperties = new Dictionary<string, object?> { [nameof(Tool.CacheControl)] = new CacheControlEphemeral() },
        });

        await client.GetResponseAsync(messages, new ChatOptions { Tools = [tool] });

        // Three of the caller's (two blocks, one tool) leave room for one: the system prompt's.
        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        Assert.NotNull(Mark(sent[0].Contents[0]));
        Assert.Null(Mark(sent[2].Contents[0]));
        Assert.Equal(3, sent.SelectMany(m => m.Contents).Count(c => Mark(c) is not null));

        // With four of the caller's there is no room at all: the request goes through as it was.
        messages[1] = new ChatMessage(ChatRole.User, [new TextContent("Summarise.").WithCacheControl(Ttl.Ttl5m)]);
        await client.GetResponseAsync(messages, new ChatOptions { Tools = [tool] });
        Assert.Same(messages, inner.LastMessages);
    }

    [Fact]
    public async Task In_a_tool_loop_the_assistants_function_call_before_the_tool_result_is_marked()
    {
        var (client, inner) = Build();
        var call = new FunctionCallContent("call-1", "search", new Dictionary<string, object?> { ["q"] = "x" });
        ChatMessage[] messages =
        [
            new(ChatRole.System, Long),
            new(ChatRole.User, "Find x."),
            new(ChatRole.Assistant, [new TextContent("Searching."), call]),
            new(ChatRole.Tool, [new FunctionResultContent("call-1", "found x")]),
        ];

        await client.GetStreamingResponseAsync(messages).ToChatResponseAsync();

        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        var copy = Assert.IsType<FunctionCallContent>(sent[2].Contents[1]);
        Assert.NotSame(call, copy);
        Assert.Equal(("call-1", "search"), (copy.CallId, copy.Name));
        Assert.Same(call.Arguments, copy.Arguments);
        Assert.NotNull(Mark(copy));
        Assert.Null(Mark(sent[2].Contents[0]));
        Assert.Same(messages[2].Contents[0], sent[2].Contents[0]);
        Assert.Null(call.AdditionalProperties);
        Assert.Null(Mark(sent[3].Contents[0]));
    }

    [Fact]
    public async Task Blocks_the_SDK_drops_or_cannot_mark_are_skipped_for_the_last_markable_one()
    {
        var (client, inner) = Build();
        ChatMessage[] messages =
        [
            new(ChatRole.User, Long),
            new(ChatRole.Assistant, [new TextContent("Answer."), new TextReasoningContent("thinking"), new TextContent("  ")]),
            new(ChatRole.User, "More?"),
        ];

        await client.GetResponseAsync(messages);

        IReadOnlyList<ChatMessage> sent = inner.Received[^1].Messages;
        Assert.NotNull(Mark(sent[1].Contents[0]));
        Assert.Null(Mark(sent[1].Contents[1]));
        Assert.Null(Mark(sent[1].Contents[2]));
        Assert.Same(messages[1].Contents[1], sent[1].Contents[1]);
    }

    [Fact]
    public void A_negative_minimum_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnthropicPromptCachingChatClient(new TestChatClient(), new AnthropicPromptCachingOptions { MinimumPrefixTokens = -1 }));
        ArgumentException e = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddLlmRouter(router => router.AddAnthropicDeployment("claude", p =>
        {
            p.ApiKey = "k";
            p.Model = "claude-sonnet-4-5";
            p.PromptCaching.MinimumPrefixTokens = -5;
        })));
        Assert.Contains("MinimumPrefixTokens", e.Message, StringComparison.Ordinal);
    }

    private static (AnthropicPromptCachingChatClient Client, TestChatClient Inner) Build(Action<AnthropicPromptCachingOptions>? configure = null)
    {
        var options = new AnthropicPromptCachingOptions { Enabled = true };
        configure?.Invoke(options);
        var inner = new TestChatClient(); // records what reached the SDK's place
        return (new AnthropicPromptCachingChatClient(inner, options), inner);
    }

    /// <summary>The breakpoint the Anthropic SDK will send for a content (it reads the value <c>WithCacheControl</c> stored).</summary>
    private static CacheControlEphemeral? Mark(AIContent content) =>
        content.AdditionalProperties?.Values.OfType<CacheControlEphemeral>().SingleOrDefault();
}
