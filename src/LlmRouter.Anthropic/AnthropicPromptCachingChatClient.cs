using System.Text.Json;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.Anthropic;

/// <summary>
/// Places Anthropic prompt-cache breakpoints on the requests it passes to an Anthropic SDK chat client (from
/// <c>AnthropicClient.AsIChatClient</c>): one at the end of the system prompt (system messages, then
/// <see cref="ChatOptions.Instructions"/>) and one at the end of the conversation so far (the last block before the
/// current user or tool-result turn), each only when the prefix up to it reaches
/// <see cref="AnthropicPromptCachingOptions.MinimumPrefixTokens"/>. Requests that repeat such a prefix then read it from
/// Anthropic's cache at a tenth of the input price.
/// </summary>
/// <remarks>
/// <para>
/// The caller's messages and contents are never changed: a marked block is a copy (same text or call, same properties)
/// in a copied message, in a new list; the instructions, when marked, move into a copied system message at the place the
/// SDK would have put them (after the leading system messages), with a copy of the options whose instructions are unset.
/// A request it does not mark goes through unchanged.
/// </para>
/// <para>
/// Breakpoints the caller set (<c>WithCacheControl</c> on a content, <c>CacheControl</c> on a tool's additional
/// properties, or an Anthropic block given as the content's raw representation) are left alone and count towards
/// Anthropic's limit of four per request; when the system prompt or the conversation already ends with one, no other is
/// added there. Markable blocks are text, function calls and function results; the search for the last one skips
/// blocks it cannot copy (images, reasoning, whitespace-only text).
/// </para>
/// <para>
/// Usage: the SDK reports <c>cache_read_input_tokens</c> as <see cref="UsageDetails.CachedInputTokenCount"/> and
/// includes them, with <c>cache_creation_input_tokens</c>, in <see cref="UsageDetails.InputTokenCount"/>; cache writes
/// appear in <see cref="UsageDetails.AdditionalCounts"/> as <c>CacheCreationInputTokens</c>. Nothing needs remapping.
/// </para>
/// </remarks>
public sealed class AnthropicPromptCachingChatClient : DelegatingChatClient
{
    /// <summary>The most cache breakpoints Anthropic accepts in one request (tools, system and messages together).</summary>
    public const int MaxBreakpoints = 4;

    private const int CharactersPerToken = 4;

    // The key of a tool's breakpoint in AITool.AdditionalProperties, as the SDK reads it: nameof(Tool.CacheControl).
    private const string ToolCacheControlKey = nameof(Tool.CacheControl);

    // The key WithCacheControl stores a content's breakpoint under; the SDK keeps it internal, so read it off a probe.
    private static readonly string ContentCacheControlKey = DiscoverContentKey();

    private readonly long _minimumCharacters;
    private readonly bool _systemOneHour;

    /// <summary>Initializes a new instance of the <see cref="AnthropicPromptCachingChatClient"/> class.</summary>
    /// <param name="innerClient">The Anthropic SDK's chat client (or a client that delegates to it).</param>
    /// <param name="options">The minimum prefix and the system prompt's lifetime; read once, here. <see cref="AnthropicPromptCachingOptions.Enabled"/> is not consulted.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="AnthropicPromptCachingOptions.MinimumPrefixTokens"/> is negative.</exception>
    public AnthropicPromptCachingChatClient(IChatClient innerClient, AnthropicPromptCachingOptions options)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MinimumPrefixTokens, nameof(options));
        _minimumCharacters = Math.Max(1, (long)options.MinimumPrefixTokens * CharactersPerToken);
        _systemOneHour = options.SystemPromptTtl == Ttl.Ttl1h;
    }

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        (IEnumerable<ChatMessage> marked, ChatOptions? markedOptions) = Mark(messages, options);
        return base.GetResponseAsync(marked, markedOptions, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        (IEnumerable<ChatMessage> marked, ChatOptions? markedOptions) = Mark(messages, options);
        return base.GetStreamingResponseAsync(marked, markedOptions, cancellationToken);
    }

    /// <summary>The request with its breakpoints: the caller's objects when none is added, copies where one is.</summary>
    private (IEnumerable<ChatMessage> Messages, ChatOptions? Options) Mark(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        int count = list.Count;

        // The SDK sends the leading run of system messages, then the instructions, as the system prompt.
        int systemEnd = 0;
        while (systemEnd < count && list[systemEnd].Role == ChatRole.System)
        {
            systemEnd++;
        }

        string? instructions = options?.Instructions;
        bool hasInstructions = !string.IsNullOrWhiteSpace(instructions);
        Block systemTarget = hasInstructions ? Block.Instructions : FindTarget(list, systemEnd - 1, 0);

        // The current turn: the trailing user and tool-result messages (after an assistant prefill, if any).
        int last = count - 1;
        while (last >= 0 && !IsInput(list[last].Role))
        {
            last--;
        }

        while (last >= 0 && IsInput(list[last].Role))
        {
            last--;
        }

        Block conversationTarget = last >= systemEnd ? FindTarget(list, last, systemEnd) : Block.None;
        if (systemTarget.IsNone && conversationTarget.IsNone)
        {
            return (list, options);
        }

        // One pass in prompt order (tools, system, messages): the estimated prefix up to each target and the caller's marks.
        var existing = new List<(int Position, bool OneHour)>();
        long characters = 0;
        if (options?.Tools is { } tools)
        {
            foreach (AITool tool in tools)
            {
                characters += ToolCharacters(tool);
                if (tool.AdditionalProperties.TryGetValue(ToolCacheControlKey, out object? value) && value is CacheControlEphemeral toolMark)
                {
                    existing.Add((-1, IsOneHour(toolMark)));
                }
            }
        }

        long systemPrefix = -1;
        long conversationPrefix = -1;
        int position = 0;
        int instructionsPosition = -1;
        for (int m = 0; m <= count; m++)
        {
            if (m == systemEnd && hasInstructions)
            {
                characters += instructions!.Length;
                instructionsPosition = position++;
                systemPrefix = characters;
            }

            if (m == count)
            {
                break;
            }

            ChatMessage message = list[m];
            IList<AIContent> contents = message.Contents;
            for (int c = 0; c < contents.Count; c++, position++)
            {
                AIContent? content = contents[c];
                if (content is null)
                {
                    continue;
                }

                characters += Characters(content);
                if (GetMark(content, message.Role) is { } mark)
                {
                    existing.Add((position, IsOneHour(mark)));
                }

                if (systemTarget.Is(m, c))
                {
                    systemPrefix = characters;
                    systemTarget = systemTarget with { Position = position };
                }
                else if (conversationTarget.Is(m, c))
                {
                    conversationPrefix = characters;
                    conversationTarget = conversationTarget with { Position = position };
                }
            }
        }

        if (hasInstructions)
        {
            systemTarget = systemTarget with { Position = instructionsPosition };
        }

        // Within Anthropic's limit, the system prompt first: it is shared by every conversation that uses it.
        int available = MaxBreakpoints - existing.Count;
        bool markSystem = !systemTarget.IsNone && systemPrefix >= _minimumCharacters && available > 0;
        bool markConversation = !conversationTarget.IsNone && conversationPrefix >= _minimumCharacters && available > (markSystem ? 1 : 0);
        if (!markSystem && !markConversation)
        {
            return (list, options);
        }

        // Anthropic requires longer lifetimes before shorter ones: a later 1-hour mark lifts an earlier mark to an hour,
        // an earlier 5-minute mark keeps a later one at 5 minutes. The conversation's mark is the later of the two.
        bool conversationOneHour = markConversation && LaterOneHour(existing, conversationTarget.Position);
        CacheControlEphemeral? conversationMark = markConversation ? Control(conversationOneHour) : null;
        CacheControlEphemeral? systemMark = null;
        if (markSystem)
        {
            bool oneHour = _systemOneHour;
            if (LaterOneHour(existing, systemTarget.Position) || conversationOneHour)
            {
                oneHour = true;
            }
            else if (oneHour && existing.Exists(e => e.Position < systemTarget.Position && !e.OneHour))
            {
                oneHour = false;
            }

            systemMark = Control(oneHour);
        }

        var marked = new List<ChatMessage>(count + 1);
        ChatOptions? markedOptions = options;
        for (int m = 0; m <= count; m++)
        {
            if (m == systemEnd && systemMark is not null && hasInstructions)
            {
                // The instructions become the system prompt's last block, where the SDK would have put them.
                marked.Add(new ChatMessage(ChatRole.System, [new TextContent(instructions).WithCacheControl(systemMark)]));
                markedOptions = options!.Clone();
                markedOptions.Instructions = null;
            }

            if (m == count)
            {
                break;
            }

            ChatMessage message = list[m];
            if (systemMark is not null && !hasInstructions && systemTarget.Message == m)
            {
                message = CopyWithMark(message, systemTarget.Content, systemMark);
            }
            else if (conversationMark is not null && conversationTarget.Message == m)
            {
                message = CopyWithMark(message, conversationTarget.Content, conversationMark);
            }

            marked.Add(message);
        }

        return (marked, markedOptions);
    }

    /// <summary>
    /// The last block of messages <paramref name="from"/> down to <paramref name="to"/> that can carry a breakpoint, or
    /// none when the section ends with a block the caller already marked (or has no markable block).
    /// </summary>
    private static Block FindTarget(IReadOnlyList<ChatMessage> list, int from, int to)
    {
        for (int m = from; m >= to; m--)
        {
            ChatMessage message = list[m];
            IList<AIContent> contents = message.Contents;
            for (int c = contents.Count - 1; c >= 0; c--)
            {
                AIContent? content = contents[c];
                if (content is null)
                {
                    continue;
                }

                if (GetMark(content, message.Role) is not null)
                {
                    return Block.None;
                }

                if (IsMarkable(content, message.Role))
                {
                    return new Block(m, c, -1);
                }
            }
        }

        return Block.None;
    }

    private static bool IsInput(ChatRole role) => role == ChatRole.User || role == ChatRole.Tool;

    /// <summary>Whether the SDK would send this content as a block that takes a breakpoint, and it can be copied.</summary>
    private static bool IsMarkable(AIContent content, ChatRole role)
    {
        if (role == ChatRole.System)
        {
            // The SDK sends a system content's raw TextBlockParam as it is, and only text otherwise.
            return content is TextContent { RawRepresentation: not TextBlockParam } text && !string.IsNullOrWhiteSpace(text.Text);
        }

        if (content.RawRepresentation is ContentBlockParam)
        {
            return false;
        }

        return content switch
        {
            TextContent text => !string.IsNullOrWhiteSpace(text.Text), // the SDK drops whitespace-only text
            _ => content.GetType() == typeof(FunctionCallContent) || content.GetType() == typeof(FunctionResultContent),
        };
    }

    /// <summary>The breakpoint the caller put on a content, or <see langword="null"/>.</summary>
    private static CacheControlEphemeral? GetMark(AIContent content, ChatRole role)
    {
        if (content.AdditionalProperties is { } properties && properties.TryGetValue(ContentCacheControlKey, out object? value) && value is CacheControlEphemeral mark)
        {
            return mark;
        }

        return content.RawRepresentation switch
        {
            TextBlockParam text when role == ChatRole.System => text.CacheControl,
            ContentBlockParam block when role != ChatRole.System => block.CacheControl,
            _ => null,
        };
    }

    private static bool IsOneHour(CacheControlEphemeral mark) => mark.Ttl is { } ttl && ttl.Raw() == "1h";

    private static bool LaterOneHour(List<(int Position, bool OneHour)> marks, int position) => marks.Exists(e => e.Position > position && e.OneHour);

    private static CacheControlEphemeral Control(bool oneHour) => oneHour ? new CacheControlEphemeral { Ttl = Ttl.Ttl1h } : new CacheControlEphemeral();

    /// <summary>A copy of the message whose contents are a new list with a marked copy of one content.</summary>
    private static ChatMessage CopyWithMark(ChatMessage message, int index, CacheControlEphemeral mark)
    {
        ChatMessage copy = message.Clone();
        var contents = new List<AIContent>(message.Contents);
        AIContent original = contents[index];
        AIContent marked = original switch
        {
            TextContent text => new TextContent(text.Text),
            FunctionCallContent call => new FunctionCallContent(call.CallId, call.Name, call.Arguments) { Exception = call.Exception, InformationalOnly = call.InformationalOnly },
            FunctionResultContent result => new FunctionResultContent(result.CallId, result.Result) { Exception = result.Exception },
            _ => throw new InvalidOperationException($"Cannot copy a {original.GetType().Name} to mark it."),
        };
        marked.Annotations = original.Annotations;
        marked.RawRepresentation = original.RawRepresentation;

        // A copy of the properties: WithCacheControl writes into the dictionary, which must not be the caller's.
        marked.AdditionalProperties = original.AdditionalProperties?.Clone() ?? [];
        contents[index] = marked.WithCacheControl(mark);
        copy.Contents = contents;
        return copy;
    }

    /// <summary>The estimated characters a content adds to the prompt; images, documents and unknown results count as nothing.</summary>
    private static long Characters(AIContent content) => content switch
    {
        TextContent text => text.Text.Length,
        TextReasoningContent reasoning => reasoning.Text.Length,
        FunctionCallContent call => call.Name.Length + ArgumentCharacters(call.Arguments),
        FunctionResultContent result => ValueCharacters(result.Result),
        DataContent data when data.HasTopLevelMediaType("text") => data.Data.Length,
        _ => 0,
    };

    private static long ArgumentCharacters(IDictionary<string, object?>? arguments)
    {
        long total = 0;
        if (arguments is not null)
        {
            foreach (KeyValuePair<string, object?> argument in arguments)
            {
                total += argument.Key.Length + ValueCharacters(argument.Value);
            }
        }

        return total;
    }

    private static long ValueCharacters(object? value) => value switch
    {
        string s => s.Length,
        JsonElement json => json.ValueKind switch
        {
            JsonValueKind.Undefined => 0,
            JsonValueKind.String => json.GetString()!.Length,
            _ => json.GetRawText().Length,
        },
        AIContent content => Characters(content),
        IEnumerable<AIContent> contents => contents.Sum(Characters),
        _ => 0,
    };

    private static long ToolCharacters(AITool tool)
    {
        long total = tool.Name.Length + tool.Description.Length;
        if (tool is AIFunctionDeclaration function && function.JsonSchema.ValueKind != JsonValueKind.Undefined)
        {
            total += function.JsonSchema.GetRawText().Length;
        }

        return total;
    }

    private static string DiscoverContentKey()
    {
        TextContent probe = new TextContent(null).WithCacheControl(new CacheControlEphemeral());
        foreach (KeyValuePair<string, object?> property in probe.AdditionalProperties!)
        {
            if (property.Value is CacheControlEphemeral)
            {
                return property.Key;
            }
        }

        throw new InvalidOperationException("The Anthropic SDK's WithCacheControl stored no CacheControlEphemeral in AdditionalProperties.");
    }

    /// <summary>A block: message and content index, and its position in prompt order; the instructions have message -1.</summary>
    private readonly record struct Block(int Message, int Content, int Position)
    {
        public static Block None => new(-2, -1, -1);

        public static Block Instructions => new(-1, -1, -1);

        public bool IsNone => Message == -2;

        public bool Is(int message, int content) => Message == message && Content == content;
    }
}
