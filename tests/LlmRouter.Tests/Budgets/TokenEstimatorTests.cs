using System.Text.Json;
using LlmRouter.Budgets.Internal;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace LlmRouter.Tests.Budgets;

public class TokenEstimatorTests
{
    private const string English =
        "The quick brown fox jumps over the lazy dog. Budgets reserve an estimated cost before the call and settle the actual " +
        "cost afterwards, so a team that spends its monthly allowance is refused before any provider is asked. Please " +
        "summarise the following meeting notes in three bullet points, keeping names and dates exactly as written.";

    private const string Code = """
        public static async Task<int> CountAsync(IAsyncEnumerable<string> lines, CancellationToken ct = default)
        {
            int n = 0;
            await foreach (string line in lines.WithCancellation(ct).ConfigureAwait(false))
            {
                if (line.Length > 0 && line[0] != '#') { n += line.Split(',', StringSplitOptions.TrimEntries).Length; }
            }
            return n; // lines without comments
        }
        """;

    private const string Json = """
        {"id":"chatcmpl-9xYz","object":"chat.completion","created":1731000000,"model":"gpt-4o-mini-2024-07-18",
         "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_a1","type":"function",
         "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"c\"}"}}]},"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"prompt_tokens_details":{"cached_tokens":0}}}
        """;

    private const string Mixed = "Grüße aus Köln! Café, naïve, façade. 東京で会いましょう。Привет, как дела? 🙂👍";

    public static TheoryData<string> Samples => [English, Code, Json, Mixed, "Hello, world!", "a", "{}"];

    [Theory]
    [InlineData("Hello, world!", 4)]
    [InlineData("Hello", 1)]
    [InlineData("", 0)]
    [InlineData(null, 0)]
    public void Count_is_exact_in_o200k_base(string? text, int expected)
    {
        Assert.Equal(expected, TokenEstimator.Count(text));
    }

    /// <summary>A run of letters the o200k pre-tokenizer cannot split: byte-pair encoding it whole costs the square of its length.</summary>
    public static TheoryData<string> LongRuns => [new string('a', 1_000_000), RandomLetters(1_000_000)];

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(LongRuns))]
    public async Task Count_of_a_long_run_of_letters_completes(string run)
    {
        // A hang guard, not a timing: encoded whole, a 512K-char run did not finish in a minute.
        int tokens = await Task.Run(() => TokenEstimator.Count(run));

        Assert.InRange(tokens, run.Length / 64, run.Length);
    }

    [Fact]
    public void Counting_with_a_cancelled_token_throws()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.Throws<OperationCanceledException>(() => TokenEstimator.Count(English, cancelled.Token));
        Assert.Throws<OperationCanceledException>(() => TokenEstimator.Count([new(ChatRole.User, English)], null, long.MaxValue, cancelled.Token));
    }

    [Fact]
    public void Ordinary_text_counts_exactly_as_the_tokenizer_encoding_it_whole()
    {
        Tokenizer whole = TiktokenTokenizer.CreateForEncoding("o200k_base");
        string[] texts = [English, Code, Json, Mixed, string.Concat(Enumerable.Repeat(English + "\n\n", 40)), string.Concat(Enumerable.Repeat(Code, 30)), "  leading   and trailing spaces  "];

        foreach (string text in texts)
        {
            Assert.Equal(whole.CountTokens(text), TokenEstimator.Count(text));
        }
    }

    [Fact]
    public void Text_without_spaces_counts_within_two_percent_of_the_tokenizer_encoding_it_whole()
    {
        Tokenizer whole = TiktokenTokenizer.CreateForEncoding("o200k_base");
        byte[] bytes = new byte[30_000];
        new Random(7).NextBytes(bytes);
        string minifiedJson = string.Concat(Enumerable.Repeat(Json.Replace(" ", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal), 40));
        string[] texts = [Convert.ToBase64String(bytes), minifiedJson, RandomLetters(20_000)];

        foreach (string text in texts)
        {
            int exact = whole.CountTokens(text);
            Assert.InRange(TokenEstimator.Count(text), exact * 0.98, exact * 1.02);
        }
    }

    [Fact]
    public void A_count_with_a_limit_stops_above_it()
    {
        ChatMessage[] messages = [new(ChatRole.User, string.Concat(Enumerable.Repeat("hello ", 20_000)))];

        long limited = TokenEstimator.Count(messages, null, 1_000, CancellationToken.None);

        Assert.InRange(limited, 1_001, 2_000);
        Assert.Equal(TokenEstimator.Count(messages), TokenEstimator.Count(messages, null, long.MaxValue, CancellationToken.None));
    }

    [Fact]
    public void Count_of_messages_adds_the_chat_format_overhead()
    {
        ChatMessage[] messages =
        [
            new(ChatRole.User, "Hello, world!"),
            new(ChatRole.Assistant, "Hello, world!") { AuthorName = "Hello" },
        ];

        // (3 + 4) + (3 + 4 + 1 + 1).
        Assert.Equal(16, TokenEstimator.Count(messages));
    }

    [Fact]
    public void Count_of_messages_includes_function_calls_and_results()
    {
        ChatMessage[] messages =
        [
            new(ChatRole.Assistant, [new FunctionCallContent("call-1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call-1", JsonDocument.Parse("""{"sky":"sunny"}""").RootElement)]),
        ];

        int expected = 3 + TokenEstimator.Count("get_weather") + TokenEstimator.Count("city") + TokenEstimator.Count("Paris")
            + 3 + TokenEstimator.Count("""{"sky":"sunny"}""");
        Assert.Equal(expected, TokenEstimator.Count(messages));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void The_upper_bound_is_at_least_the_exact_count(string text)
    {
        ChatMessage[] messages = [new(ChatRole.System, "You are terse."), new(ChatRole.User, text)];

        int exact = TokenEstimator.Count(messages);
        int bound = TokenEstimator.UpperBound(messages, null);

        Assert.True(bound >= exact, $"bound {bound} < exact {exact}");
    }

    [Theory]
    [InlineData(English)]
    [InlineData(Code)]
    public void The_upper_bound_stays_within_twice_the_exact_count_for_long_text(string text)
    {
        ChatMessage[] messages = [new(ChatRole.User, text)];

        Assert.True(TokenEstimator.UpperBound(messages, null) <= 2 * TokenEstimator.Count(messages));
    }

    [Fact]
    public void The_upper_bound_is_a_third_of_the_utf8_bytes_plus_overheads()
    {
        // 4 per message + 3 for the reply + ceil(bytes / 3): "abcdefg" is 7 bytes, "é" 2.
        Assert.Equal(4 + 3 + 3, TokenEstimator.UpperBound([new(ChatRole.User, "abcdefg")], null));
        Assert.Equal(4 + 4 + 3 + 3, TokenEstimator.UpperBound([new(ChatRole.User, "abc"), new(ChatRole.User, "déf")], null));
        Assert.Equal(3, TokenEstimator.UpperBound([], null));
    }

    [Fact]
    public void The_upper_bound_counts_instructions_tools_and_the_response_schema()
    {
        ChatMessage[] messages = [new(ChatRole.User, "hi")];
        int bare = TokenEstimator.UpperBound(messages, new ChatOptions());

        int withInstructions = TokenEstimator.UpperBound(messages, new ChatOptions { Instructions = new string('x', 300) });
        Assert.Equal(bare + 100, withInstructions);

        AIFunction tool = AIFunctionFactory.Create((string city, string unit) => "sunny", "get_weather", "Gets the current weather for a city.");
        int withTool = TokenEstimator.UpperBound(messages, new ChatOptions { Tools = [tool] });
        int schemaBytes = tool.JsonSchema.GetRawText().Length;
        Assert.True(withTool >= bare + 16 + ((schemaBytes + "get_weather".Length + tool.Description.Length) / 3), $"{withTool}");

        JsonElement schema = JsonDocument.Parse("""{"type":"object","properties":{"answer":{"type":"string"}}}""").RootElement;
        int withSchema = TokenEstimator.UpperBound(messages, new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) });
        Assert.True(withSchema >= bare + (schema.GetRawText().Length / 3), $"{withSchema}");
    }

    [Fact]
    public void The_upper_bound_counts_function_calls_results_and_media()
    {
        int empty = TokenEstimator.UpperBound([new(ChatRole.User, [])], null);

        var call = new FunctionCallContent("call-1", "get_weather", new Dictionary<string, object?> { ["city"] = new string('p', 300) });
        Assert.True(TokenEstimator.UpperBound([new(ChatRole.Assistant, [call])], null) >= empty + 100);

        var textResult = new FunctionResultContent("call-1", new string('r', 600));
        Assert.True(TokenEstimator.UpperBound([new(ChatRole.Tool, [textResult])], null) >= empty + 200);

        JsonElement json = JsonDocument.Parse($$"""{"forecast":"{{new string('s', 900)}}"}""").RootElement;
        var jsonResult = new FunctionResultContent("call-1", json);
        Assert.True(TokenEstimator.UpperBound([new(ChatRole.Tool, [jsonResult])], null) >= empty + 300);

        var image = new DataContent(new byte[50_000], "image/png");
        Assert.Equal(empty + 1_000, TokenEstimator.UpperBound([new(ChatRole.User, [image])], null));

        var url = new UriContent(new Uri("https://example.com/cat.jpg"), "image/jpeg");
        Assert.Equal(empty + 1_000, TokenEstimator.UpperBound([new(ChatRole.User, [url])], null));

        var textFile = new DataContent(new byte[3_000], "text/plain");
        Assert.Equal(empty + 1_000, TokenEstimator.UpperBound([new(ChatRole.User, [textFile])], null));
    }

    [Fact]
    public void A_lazy_sequence_gives_the_same_bound_as_a_list()
    {
        List<ChatMessage> list = [new(ChatRole.System, "You are terse."), new(ChatRole.User, English), new(ChatRole.Assistant, Code)];

        Assert.Equal(TokenEstimator.UpperBound(list, null), TokenEstimator.UpperBound(list.Where(_ => true), null));
    }

    [Fact]
    public void The_upper_bound_allocates_nothing_for_a_list()
    {
        AIFunction tool = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "Gets the weather.");
        List<ChatMessage> messages =
        [
            new(ChatRole.System, "You are terse."),
            new(ChatRole.User, English),
            new(ChatRole.Assistant, [new FunctionCallContent("call-1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call-1", JsonDocument.Parse("\"sunny\"").RootElement)]),
        ];
        var options = new ChatOptions { Instructions = "Be brief.", Tools = [tool] };
        long sum = TokenEstimator.UpperBound(messages, options);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            sum += TokenEstimator.UpperBound(messages, options);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum > 0);
    }

    private static string RandomLetters(int length)
    {
        var random = new Random(42);
        char[] letters = new char[length];
        for (int i = 0; i < letters.Length; i++)
        {
            letters[i] = (char)('a' + random.Next(26));
        }

        return new string(letters);
    }
}
