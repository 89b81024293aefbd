using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace LlmRouter.Pricing.Internal;

/// <summary>
/// Token counts of prompts and responses: a fast, deliberately high estimate for budget reservations on the hot path,
/// and exact o200k_base (GPT-4o family) counts for responses whose provider reported no usage.
/// </summary>
internal static class TokenEstimator
{
    // English averages about 4 characters per token and code or JSON about 3 to 3.5 in o200k_base; dividing UTF-8 bytes by 3
    // over-estimates on purpose. Counting bytes, not chars, charges non-Latin scripts more (a CJK char is 3 bytes: 1 token).
    private const int BytesPerToken = 3;

    // OpenAI's chat format costs 3 or 4 tokens per message around its content, and 3 to prime the reply.
    private const int TokensPerMessage = 4;
    private const int TokensPerReply = 3;
    private const int ExactTokensPerMessage = 3;

    // An image, audio clip or file: vendors charge images roughly 85 to 1,600 tokens depending on size and detail.
    private const int TokensPerMediaItem = 1_000;

    // The wrapper a vendor puts around each tool definition, beyond its name, description and schema.
    private const int TokensPerTool = 16;

    // A function argument or result that is neither text nor JSON (a number, or an object serialized later): an allowance.
    private const int BytesPerOpaqueValue = 768;

    /// <summary>What <see cref="CharCount"/> counts for a message's own overhead (3 chars bound 9 tokens, above the 3-4 used).</summary>
    private const int CharsPerMessage = 4;

    /// <summary>What <see cref="CharCount"/> counts per image, file or opaque value (bounding 3,000 tokens).</summary>
    private const int CharsPerMediaItem = 1_000;

    /// <summary>
    /// The longest piece of text the tokenizer encodes at once. Byte-pair encoding a word the o200k pre-tokenizer cannot
    /// split (a long run of one letter) costs the square of its length (a 100,000-char run took 13 s), so text is
    /// encoded in pieces cut at spaces, where the count does not change, and a longer run is cut at this length, which
    /// makes the count linear and a little high (0.1% on base64 or random letters, about 1% on minified JSON or URLs).
    /// </summary>
    internal const int MaxPieceChars = 256;

    private static readonly Lazy<Tokenizer> O200kBase = new(static () => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    /// <summary>
    /// A fast estimate of the input tokens of a request that is meant to be at or above the real count, for reserving budget
    /// before the call: ceil(UTF-8 bytes of all text / 3), plus 4 tokens per message and 3 for the reply, plus 1,000 tokens
    /// per image, audio or file item and a fixed allowance per tool and per opaque function value.
    /// </summary>
    /// <remarks>
    /// Counts text and reasoning content, author names, function call names, ids and arguments, function results (text,
    /// JSON, or an allowance for other values), text data items, <see cref="ChatOptions.Instructions"/>, tool names,
    /// descriptions and JSON schemas, and the response format's schema. Allocates nothing when
    /// <paramref name="messages"/> is an <see cref="IList{T}"/> and function arguments are a
    /// <see cref="Dictionary{TKey, TValue}"/>. Not a guarantee: text that tokenizes worse than 3 bytes a token (random
    /// identifiers, base64, rare scripts) can exceed it, and providers bill images by size.
    /// </remarks>
    public static int UpperBound(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        Debug.Assert(messages is not null);

        var tally = new Tally();
        if (messages is IList<ChatMessage> list)
        {
            for (int i = 0; i < list.Count; i++)
            {
                tally.Add(list[i]);
            }
        }
        else
        {
            foreach (ChatMessage message in messages)
            {
                tally.Add(message);
            }
        }

        tally.Tokens += TokensPerReply;
        if (options is not null)
        {
            tally.Add(options);
        }

        return tally.Total;
    }

    /// <summary>
    /// Counts the tokens of messages with the o200k_base encoding: the tokens of every text, reasoning text, function call
    /// (name and arguments) and function result, plus 3 per message and 1 per author name for the chat format.
    /// </summary>
    /// <remarks>
    /// Exact for OpenAI's GPT-4o, GPT-4.1, o-series and GPT-5 models (up to the cuts of <see cref="MaxPieceChars"/>); a
    /// close estimate for other vendors, whose tokenizers differ. Allocates; meant for the occasional response whose
    /// provider reported no usage.
    /// </remarks>
    public static int Count(IEnumerable<ChatMessage> messages) => Saturate(Count(messages, null, long.MaxValue, CancellationToken.None));

    /// <summary>
    /// Counts like <see cref="Count(IEnumerable{ChatMessage})"/>, plus <paramref name="instructions"/>, and stops as soon
    /// as the count passes <paramref name="limit"/> (the result is then above the limit, by at most one piece of text).
    /// Linear in the length of the text; checks <paramref name="cancellationToken"/> between pieces.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static long Count(IEnumerable<ChatMessage> messages, string? instructions, long limit, CancellationToken cancellationToken)
    {
        Debug.Assert(messages is not null);

        cancellationToken.ThrowIfCancellationRequested();
        var counter = new Counter(limit, cancellationToken);
        counter.Add(instructions);
        foreach (ChatMessage message in messages)
        {
            if (counter.Done)
            {
                break;
            }

            counter.Tokens += ExactTokensPerMessage;
            if (!string.IsNullOrEmpty(message.AuthorName))
            {
                counter.Tokens++;
                counter.Add(message.AuthorName);
            }

            foreach (AIContent content in message.Contents)
            {
                switch (content)
                {
                    case TextContent text:
                        counter.Add(text.Text);
                        break;
                    case TextReasoningContent reasoning:
                        counter.Add(reasoning.Text);
                        break;
                    case FunctionCallContent call:
                        counter.Add(call.Name);
                        counter.AddArguments(call.Arguments);
                        break;
                    case FunctionResultContent result:
                        counter.AddValue(result.Result);
                        break;
                }
            }
        }

        return counter.Tokens;
    }

    /// <summary>
    /// The UTF-16 length of everything in the prompt that becomes tokens (texts, reasoning, function names and arguments,
    /// function results, instructions, tool schemas), plus <see cref="CharsPerMediaItem"/> per image or file: a bound read
    /// from string lengths alone, with no pass over the text. Three times it bounds the prompt's UTF-8 bytes, and so its tokens.
    /// </summary>
    public static long CharCount(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        long chars = 0;
        if (messages is IList<ChatMessage> list)
        {
            // Indexed: no enumerator allocated on the hot path (the router counts prompts for token rate limits).
            for (int i = 0; i < list.Count; i++)
            {
                chars += MessageChars(list[i]);
            }
        }
        else
        {
            foreach (ChatMessage message in messages)
            {
                chars += MessageChars(message);
            }
        }

        if (options is not null)
        {
            chars += options.Instructions?.Length ?? 0;
            foreach (AITool tool in options.Tools ?? [])
            {
                chars += tool.Name.Length + (tool.Description?.Length ?? 0) + (tool is AIFunctionDeclaration f ? JsonMarshal.GetRawUtf8Value(f.JsonSchema).Length : 0);
            }
        }

        return chars;
    }

    private static long ValueChars(object? value) => value switch
    {
        null => 0,
        string text => text.Length,
        JsonElement json when json.ValueKind != JsonValueKind.Undefined => JsonMarshal.GetRawUtf8Value(json).Length,
        _ => CharsPerMediaItem,
    };

    private static long MessageChars(ChatMessage message)
    {
        long chars = (message.AuthorName?.Length ?? 0) + CharsPerMessage;
        IList<AIContent> contents = message.Contents;
        for (int i = 0; i < contents.Count; i++)
        {
            chars += contents[i] switch
            {
                TextContent text => text.Text?.Length ?? 0,
                TextReasoningContent reasoning => (reasoning.Text?.Length ?? 0) + (reasoning.ProtectedData?.Length ?? 0),
                FunctionCallContent call => call.Name.Length + (call.Arguments?.Sum(a => a.Key.Length + ValueChars(a.Value)) ?? 0),
                FunctionResultContent result => ValueChars(result.Result),
                DataContent data when data.HasTopLevelMediaType("text") => data.Data.Length,
                _ => CharsPerMediaItem,
            };
        }

        return chars;
    }

    /// <summary>Counts the tokens of a text with the o200k_base encoding; 0 for <see langword="null"/> or empty.</summary>
    public static int Count(string? text) => Count(text, CancellationToken.None);

    /// <summary>
    /// Counts the tokens of a text with the o200k_base encoding, piece by piece (<see cref="MaxPieceChars"/>): linear in
    /// the length of the text, checking <paramref name="cancellationToken"/> between pieces.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static int Count(string? text, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var counter = new Counter(long.MaxValue, cancellationToken);
        counter.Add(text);
        return Saturate(counter.Tokens);
    }

    /// <summary>
    /// The length of the next piece of <paramref name="text"/> to encode: all of it up to <see cref="MaxPieceChars"/>;
    /// else up to the last space within that length that follows a non-space, where the o200k pre-tokenizer starts a new
    /// word whatever precedes it (so the cut changes no count); else, in a run with no such space (letters, base64,
    /// minified JSON), <see cref="MaxPieceChars"/>, never inside a surrogate pair.
    /// </summary>
    internal static int PieceLength(ReadOnlySpan<char> text)
    {
        if (text.Length <= MaxPieceChars)
        {
            return text.Length;
        }

        for (int i = MaxPieceChars; i > 0; i--)
        {
            if (text[i] == ' ' && !char.IsWhiteSpace(text[i - 1]))
            {
                return i;
            }
        }

        return char.IsHighSurrogate(text[MaxPieceChars - 1]) ? MaxPieceChars - 1 : MaxPieceChars;
    }

    private static int Saturate(long tokens) => (int)Math.Min(tokens, int.MaxValue);

    /// <summary>An o200k count in progress: piece by piece, checking for cancellation between pieces, until past its limit.</summary>
    private struct Counter(long limit, CancellationToken cancellationToken)
    {
        public long Tokens;

        public readonly bool Done => Tokens > limit;

        public void Add(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return;
            }

            Tokenizer tokenizer = O200kBase.Value;
            ReadOnlySpan<char> rest = text;
            while (rest.Length > 0 && Tokens <= limit)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int length = PieceLength(rest);
                Tokens += tokenizer.CountTokens(rest[..length]);
                rest = rest[length..];
            }
        }

        public void AddArguments(IDictionary<string, object?>? arguments)
        {
            if (arguments is null)
            {
                return;
            }

            foreach (KeyValuePair<string, object?> argument in arguments)
            {
                Add(argument.Key);
                AddValue(argument.Value);
            }
        }

        public void AddValue(object? value)
        {
            switch (value)
            {
                case null:
                    break;
                case string text:
                    Add(text);
                    break;
                case JsonElement { ValueKind: not JsonValueKind.Undefined } json:
                    Add(json.GetRawText());
                    break;
                default:
                    Add(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }
    }

    private struct Tally
    {
        public long Bytes;
        public long Tokens;

        public readonly int Total => (int)Math.Min(Tokens + ((Bytes + BytesPerToken - 1) / BytesPerToken), int.MaxValue);

        public void Add(ChatMessage message)
        {
            Tokens += TokensPerMessage;
            AddText(message.AuthorName);

            IList<AIContent> contents = message.Contents;
            for (int i = 0; i < contents.Count; i++)
            {
                switch (contents[i])
                {
                    case TextContent text:
                        AddText(text.Text);
                        break;
                    case TextReasoningContent reasoning:
                        AddText(reasoning.Text);
                        AddText(reasoning.ProtectedData);
                        break;
                    case FunctionCallContent call:
                        AddText(call.CallId);
                        AddText(call.Name);
                        AddArguments(call.Arguments);
                        break;
                    case FunctionResultContent result:
                        AddText(result.CallId);
                        AddValue(result.Result);
                        break;
                    case DataContent data:
                        if (data.HasTopLevelMediaType("text"))
                        {
                            Bytes += data.Data.Length;
                        }
                        else
                        {
                            Tokens += TokensPerMediaItem;
                        }

                        break;
                    case UriContent or HostedFileContent:
                        Tokens += TokensPerMediaItem;
                        break;
                }
            }
        }

        public void Add(ChatOptions options)
        {
            AddText(options.Instructions);

            if (options.Tools is { } tools)
            {
                for (int i = 0; i < tools.Count; i++)
                {
                    AITool tool = tools[i];
                    Tokens += TokensPerTool;
                    AddText(tool.Name);
                    AddText(tool.Description);
                    if (tool is AIFunctionDeclaration function)
                    {
                        AddJson(function.JsonSchema);
                    }
                }
            }

            if (options.ResponseFormat is ChatResponseFormatJson { Schema: { } schema } format)
            {
                AddText(format.SchemaName);
                AddText(format.SchemaDescription);
                AddJson(schema);
            }
        }

        private void AddArguments(IDictionary<string, object?>? arguments)
        {
            if (arguments is Dictionary<string, object?> dictionary)
            {
                foreach (KeyValuePair<string, object?> argument in dictionary)
                {
                    AddText(argument.Key);
                    AddValue(argument.Value);
                }
            }
            else if (arguments is not null)
            {
                foreach (KeyValuePair<string, object?> argument in arguments)
                {
                    AddText(argument.Key);
                    AddValue(argument.Value);
                }
            }
        }

        private void AddValue(object? value)
        {
            switch (value)
            {
                case null:
                    break;
                case string text:
                    AddText(text);
                    break;
                case JsonElement json:
                    AddJson(json);
                    break;
                default:
                    Bytes += BytesPerOpaqueValue;
                    break;
            }
        }

        private void AddText(string? text)
        {
            if (!string.IsNullOrEmpty(text))
            {
                Bytes += Encoding.UTF8.GetByteCount(text);
            }
        }

        private void AddJson(JsonElement json)
        {
            if (json.ValueKind != JsonValueKind.Undefined)
            {
                Bytes += JsonMarshal.GetRawUtf8Value(json).Length;
            }
        }
    }
}
