using System.Text.Json;
using LlmRouter.Caching.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Caching;

public class ResponseCacheKeyTests
{
    private static readonly AIFunction Weather = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "Gets the weather.");
    private static readonly AIFunction Time = AIFunctionFactory.Create((string zone) => "noon", "get_time", "Gets the time.");

    private static List<ChatMessage> Conversation() =>
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "What's the weather in Paris?"),
        new(ChatRole.Assistant, [new FunctionCallContent("call-1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })]),
        new(ChatRole.Tool, [new FunctionResultContent("call-1", "sunny")]),
    ];

    private static ChatOptions Options() => new()
    {
        Temperature = 0.2f,
        TopP = 0.9f,
        TopK = 40,
        MaxOutputTokens = 256,
        FrequencyPenalty = 0.1f,
        PresencePenalty = 0.2f,
        Seed = 7,
        StopSequences = ["END"],
        Instructions = "Be brief.",
        ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"string"}}}""").RootElement, "answer", "The answer."),
        Tools = [Weather, Time],
        ToolMode = ChatToolMode.Auto,
    };

    private static string Key(IEnumerable<ChatMessage> messages, ChatOptions? options, string? route = "chat", string? partition = "tenant-a", string? @namespace = null) =>
        ResponseCacheKey.Compute(messages, options, route, partition, @namespace, options.GetRouteConstraints());

    [Fact]
    public void The_key_has_a_fixed_short_form()
    {
        string key = Key(Conversation(), Options());

        Assert.StartsWith("llmr2:", key, StringComparison.Ordinal);
        Assert.Equal(38, key.Length);
        Assert.Equal(key, Key(Conversation(), Options()));
    }

    public static TheoryData<string, Action<List<ChatMessage>, ChatOptions>> Changes => new()
    {
        { "message text", (m, _) => m[1] = new ChatMessage(ChatRole.User, "What's the weather in Lyon?") },
        { "role", (m, _) => m[0] = new ChatMessage(ChatRole.User, "You are terse.") },
        { "author", (m, _) => m[1].AuthorName = "bob" },
        { "extra message", (m, _) => m.Add(new ChatMessage(ChatRole.User, "and tomorrow?")) },
        { "image bytes", (m, _) => m[1].Contents.Add(new DataContent(new byte[] { 1, 2, 3 }, "image/png")) },
        { "image type", (m, _) => m[1].Contents.Add(new DataContent(new byte[] { 1, 2 }, "image/jpeg")) },
        { "uri", (m, _) => m[1].Contents.Add(new UriContent(new Uri("https://example.com/a.png"), "image/png")) },
        { "function arguments", (m, _) => m[2] = new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("call-1", "get_weather", new Dictionary<string, object?> { ["city"] = "Lyon" })]) },
        { "function result", (m, _) => m[3] = new ChatMessage(ChatRole.Tool, [new FunctionResultContent("call-1", "rainy")]) },
        { "temperature", (_, o) => o.Temperature = 0.3f },
        { "top-p", (_, o) => o.TopP = null },
        { "top-k", (_, o) => o.TopK = 41 },
        { "max tokens", (_, o) => o.MaxOutputTokens = 512 },
        { "frequency penalty", (_, o) => o.FrequencyPenalty = 0 },
        { "presence penalty", (_, o) => o.PresencePenalty = 0 },
        { "seed", (_, o) => o.Seed = 8 },
        { "stop sequences", (_, o) => o.StopSequences!.Add("STOP") },
        { "instructions", (_, o) => o.Instructions = "Be verbose." },
        { "response format", (_, o) => o.ResponseFormat = ChatResponseFormat.Json },
        { "response schema", (_, o) => o.ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("""{"type":"object"}""").RootElement, "answer", "The answer.") },
        { "tools", (_, o) => o.Tools!.RemoveAt(1) },
        { "tool description", (_, o) => o.Tools![0] = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "Gets the forecast.") },
        { "tool schema", (_, o) => o.Tools![0] = AIFunctionFactory.Create((string city, int days) => "sunny", "get_weather", "Gets the weather.") },
        { "tool mode", (_, o) => o.ToolMode = ChatToolMode.RequireSpecific("get_time") },
        { "provider setting", (_, o) => (o.AdditionalProperties ??= [])["reasoning_effort"] = "high" },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Every_field_that_shapes_the_answer_changes_the_key(string field, Action<List<ChatMessage>, ChatOptions> change)
    {
        List<ChatMessage> messages = Conversation();
        ChatOptions options = Options();
        string before = Key(messages, options);

        change(messages, options);

        Assert.True(before != Key(messages, options), field);
    }

    [Fact]
    public void Route_and_partition_change_the_key()
    {
        string key = Key(Conversation(), Options());

        Assert.NotEqual(key, Key(Conversation(), Options(), route: "smart"));
        Assert.NotEqual(key, Key(Conversation(), Options(), partition: "tenant-b"));
        Assert.NotEqual(key, Key(Conversation(), Options(), partition: null));
        Assert.NotEqual(key, Key(Conversation(), Options(), @namespace: "v2"));
    }

    [Fact]
    public void Partition_namespace_and_route_are_separate_fields_and_none_differs_from_empty()
    {
        string Of(string? partition, string? @namespace, string? route) => Key(Conversation(), Options(), route, partition, @namespace);

        string[] keys =
        [
            Of("acme\u001Fx", null, "chat"),
            Of("acme", "x", "chat"),
            Of("acme", null, "x\u001Fchat"),
            Of(null, null, null),
            Of(string.Empty, null, null),
            Of(null, string.Empty, null),
            Of(null, null, string.Empty),
            Of(string.Empty, string.Empty, string.Empty),
        ];

        Assert.Equal(keys.Length, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Requests_built_differently_but_equal_match()
    {
        var a = new List<ChatMessage> { new(ChatRole.User, "hello") };
        var b = new List<ChatMessage> { new(ChatRole.User, [new TextContent("hello")]) };
        var optionsA = new ChatOptions { Temperature = 0.5f, Tools = [AIFunctionFactory.Create((string city) => "x", "get_weather", "Gets the weather.")] };
        optionsA.AdditionalProperties = new() { ["x"] = 1, ["y"] = "two" };
        var optionsB = new ChatOptions { Tools = [AIFunctionFactory.Create((string city) => "y", "get_weather", "Gets the weather.")] };
        optionsB.AdditionalProperties = new() { ["y"] = "two", ["x"] = 1 };
        optionsB.Temperature = 0.5f;

        Assert.Equal(Key(a, optionsA), Key(b, optionsB));
    }

    [Fact]
    public void No_options_and_empty_options_match()
    {
        Assert.Equal(Key(Conversation(), null), Key(Conversation(), new ChatOptions()));
        Assert.Equal(Key(Conversation(), null), Key(Conversation(), new ChatOptions().WithCacheControl(new CacheControl { NoStore = true })));
    }

    [Fact]
    public void The_routers_own_properties_other_than_constraints_and_the_model_id_do_not_change_the_key()
    {
        ChatOptions plain = Options();
        ChatOptions other = Options().WithCacheControl(new CacheControl { MaxAge = TimeSpan.FromMinutes(1) });
        (other.AdditionalProperties ??= [])["llmrouter.something"] = "x";
        other.ModelId = "something-else";

        Assert.Equal(Key(Conversation(), plain), Key(Conversation(), other));
    }

    public static TheoryData<string, RouteConstraints> ConstraintChanges => new()
    {
        { "region", new RouteConstraints { Regions = ["eu"] } },
        { "tag", new RouteConstraints { RequiredTags = ["hipaa"] } },
        { "zero data retention", new RouteConstraints { RequireZeroDataRetention = true } },
        { "no fallbacks", new RouteConstraints { DisableFallbacks = true } },
    };

    [Theory]
    [MemberData(nameof(ConstraintChanges))]
    public void Every_constraint_on_who_may_serve_changes_the_key(string constraint, RouteConstraints constraints)
    {
        string unconstrained = Key(Conversation(), Options());

        Assert.True(unconstrained != Key(Conversation(), Options().WithRouteConstraints(constraints)), constraint);
    }

    [Fact]
    public void Equal_constraints_written_differently_match_and_attempt_limits_do_not_count()
    {
        static string With(RouteConstraints c) => Key(Conversation(), Options().WithRouteConstraints(c));

        Assert.Equal(With(new RouteConstraints { Regions = ["eu", "uk"], RequiredTags = ["A", "b"] }), With(new RouteConstraints { Regions = ["UK", "EU", "eu"], RequiredTags = ["B", "a"], MaxAttempts = 1 }));
        Assert.Equal(Key(Conversation(), Options()), With(new RouteConstraints { Regions = [], RequiredTags = [] }));
        Assert.NotEqual(With(new RouteConstraints { Regions = ["eu"] }), With(new RouteConstraints { RequiredTags = ["eu"] }));
        Assert.NotEqual(With(new RouteConstraints { Regions = ["eu", "us"] }), With(new RouteConstraints { Regions = ["eu"] }));
    }

    [Fact]
    public void Strings_that_only_concatenate_alike_do_not_collide()
    {
        var ab = new List<ChatMessage> { new(ChatRole.User, [new TextContent("ab"), new TextContent("c")]) };
        var a_bc = new List<ChatMessage> { new(ChatRole.User, [new TextContent("a"), new TextContent("bc")]) };

        Assert.NotEqual(Key(ab, null), Key(a_bc, null));
    }
}
