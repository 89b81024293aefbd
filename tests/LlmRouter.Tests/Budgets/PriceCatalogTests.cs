using System.Text;

namespace LlmRouter.Tests.Budgets;

public class PriceCatalogTests
{
    public static TheoryData<string> RequiredModels =>
    [
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o1", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano",
        "claude-3-5-haiku", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1",
        "gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite",
        "mistral-large", "mistral-medium", "mistral-small", "codestral",
        "deepseek-chat", "deepseek-reasoner",
        "llama-3.3-70b", "llama-3.1-8b", "llama-4-maverick", "llama-4-scout",
    ];

    private static PriceCatalog LoadJson(string json) => PriceCatalog.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void The_embedded_catalogue_loads_once_with_its_date_and_sources()
    {
        PriceCatalog catalog = PriceCatalog.Default;

        Assert.Same(catalog, PriceCatalog.Default);
        Assert.True(catalog.AsOf >= new DateOnly(2025, 1, 1), $"asOf {catalog.AsOf}");
        Assert.Contains("https://", catalog.Source, StringComparison.Ordinal);
        Assert.Contains("anthropic.com", catalog.Source, StringComparison.Ordinal);
        Assert.Contains("LlmRouter.Budgets.prices.json", typeof(PriceCatalog).Assembly.GetManifestResourceNames());
    }

    [Theory]
    [MemberData(nameof(RequiredModels))]
    public void The_embedded_catalogue_covers_the_popular_models(string id)
    {
        Assert.True(PriceCatalog.Default.Models.ContainsKey(id), $"missing {id}");
    }

    [Fact]
    public void Every_embedded_model_has_positive_prices_and_a_context_window()
    {
        foreach ((string id, ModelPrice price) in PriceCatalog.Default.Models)
        {
            Assert.True(price.InputPerMillion > 0, $"{id} input");
            Assert.True(price.OutputPerMillion > 0, $"{id} output");
            Assert.True(price.ContextWindow > 0, $"{id} contextWindow");
            Assert.True(price.CachedInputPerMillion is null || price.CachedInputPerMillion < price.InputPerMillion, $"{id} cachedInput");
            Assert.True(price.CacheWritePerMillion is null || price.CacheWritePerMillion > price.InputPerMillion, $"{id} cacheWrite");
            Assert.Equal(id.StartsWith("claude", StringComparison.Ordinal), price.CacheWritePerMillion is not null);
            Assert.True(price.MaxOutputTokens is null || price.MaxOutputTokens <= price.ContextWindow, $"{id} maxOutput");
        }
    }

    [Fact]
    public void Embedded_prices_match_the_known_list_prices()
    {
        ModelPrice mini = PriceCatalog.Default.Models["gpt-4o-mini"];
        Assert.Equal(0.15m, mini.InputPerMillion);
        Assert.Equal(0.60m, mini.OutputPerMillion);
        Assert.Equal(0.075m, mini.CachedInputPerMillion);
        Assert.Equal(128_000, mini.ContextWindow);

        ModelPrice sonnet = PriceCatalog.Default.Models["claude-sonnet-4"];
        Assert.Equal(3m, sonnet.InputPerMillion);
        Assert.Equal(15m, sonnet.OutputPerMillion);
        Assert.Equal(0.30m, sonnet.CachedInputPerMillion);
    }

    [Fact]
    public void Models_are_keyed_case_insensitively()
    {
        Assert.Same(PriceCatalog.Default.Models["gpt-4o-mini"], PriceCatalog.Default.Models["GPT-4o-Mini"]);
    }

    [Theory]
    [InlineData("gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("GPT-4O-MINI", "gpt-4o-mini")]
    [InlineData("gpt-4o-mini-2024-07-18", "gpt-4o-mini")]
    [InlineData("gpt-4o-2024-08-06", "gpt-4o")]
    [InlineData("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano")]
    [InlineData("o3-mini-2025-01-31", "o3-mini")]
    [InlineData("gpt-5-chat-latest", "gpt-5")]
    [InlineData("openai/gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("claude-3-5-haiku-20241022", "claude-3-5-haiku")]
    [InlineData("claude-3-5-haiku-latest", "claude-3-5-haiku")]
    [InlineData("claude-3-5-haiku@20241022", "claude-3-5-haiku")]
    [InlineData("anthropic/claude-sonnet-4-20250514", "claude-sonnet-4")]
    [InlineData("claude-opus-4-1-20250805", "claude-opus-4-1")]
    [InlineData("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4")]
    [InlineData("google/gemini-2.5-flash-preview-05-20", "gemini-2.5-flash")]
    [InlineData("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite")]
    [InlineData("gemini-2.0-flash-001", "gemini-2.0-flash")]
    [InlineData("gemini-2.0-flash-exp", "gemini-2.0-flash")]
    [InlineData("models/gemini-2.5-pro", "gemini-2.5-pro")]
    [InlineData("mistral-large-latest", "mistral-large")]
    [InlineData("mistral-small-2503", "mistral-small")]
    [InlineData("codestral-2501", "codestral")]
    [InlineData("deepseek/deepseek-chat", "deepseek-chat")]
    [InlineData("meta-llama/Llama-3.3-70B-Instruct-Turbo", "llama-3.3-70b")]
    [InlineData("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "llama-3.1-8b")]
    [InlineData("llama-3.1-8b-instant", "llama-3.1-8b")]
    [InlineData("meta-llama/llama-4-maverick-17b-128e-instruct", "llama-4-maverick")]
    [InlineData("openrouter/meta-llama/llama-4-scout", "llama-4-scout")]
    public void Find_tolerates_prefixes_dates_versions_and_case(string modelId, string expected)
    {
        Assert.Same(PriceCatalog.Default.Models[expected], PriceCatalog.Default.Find(modelId));
    }

    [Theory]
    [InlineData("gpt-4o", "gpt-4o")]
    [InlineData("gpt-4o-mini", "gpt-4o-mini")]
    [InlineData("gpt-4.1", "gpt-4.1")]
    [InlineData("o3", "o3")]
    [InlineData("o3-2025-04-16", "o3")]
    [InlineData("gemini-2.5-flash", "gemini-2.5-flash")]
    [InlineData("claude-opus-4-20250514", "claude-opus-4")]
    public void Find_never_picks_a_sibling(string modelId, string expected)
    {
        Assert.Same(PriceCatalog.Default.Models[expected], PriceCatalog.Default.Find(modelId));
    }

    [Fact]
    public void An_exact_dated_entry_wins_over_its_family()
    {
        ModelPrice? snapshot = PriceCatalog.Default.Find("openai/gpt-4o-2024-05-13");

        Assert.Same(PriceCatalog.Default.Models["gpt-4o-2024-05-13"], snapshot);
        Assert.Equal(5m, snapshot!.InputPerMillion);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("gpt-4")]
    [InlineData("gpt-4omini")]
    [InlineData("my-gpt-4o")]
    [InlineData("claude")]
    [InlineData("openai/")]
    [InlineData("some-local-model")]
    public void Find_returns_null_for_unknown_models(string? modelId)
    {
        Assert.Null(PriceCatalog.Default.Find(modelId));
    }

    [Fact]
    public void Find_returns_the_same_answer_again()
    {
        ModelPrice? first = PriceCatalog.Default.Find("azure/gpt-4.1-mini-2025-04-14");

        Assert.NotNull(first);
        Assert.Same(first, PriceCatalog.Default.Find("azure/gpt-4.1-mini-2025-04-14"));
        Assert.Same(PriceCatalog.Default.Models["gpt-4.1-mini"], first);
    }

    [Fact]
    public void Load_reads_an_applications_own_file()
    {
        PriceCatalog catalog = LoadJson("""
            {
              // our negotiated prices
              "asOf": "2026-03-15",
              "models": {
                "our-model": { "input": 0, "output": 1.5, "cachedInput": 0.1, "reasoning": 3, "contextWindow": 32768, "maxOutput": 4096 },
                "our-model-large": { "input": 2, "output": 4 },
              }
            }
            """);

        Assert.Equal(new DateOnly(2026, 3, 15), catalog.AsOf);
        Assert.Equal(string.Empty, catalog.Source);
        Assert.Equal(2, catalog.Models.Count);
        ModelPrice price = catalog.Models["our-model"];
        Assert.Equal(0m, price.InputPerMillion);
        Assert.Equal(1.5m, price.OutputPerMillion);
        Assert.Equal(0.1m, price.CachedInputPerMillion);
        Assert.Equal(3m, price.ReasoningPerMillion);
        Assert.Equal(32768, price.ContextWindow);
        Assert.Equal(4096, price.MaxOutputTokens);
        Assert.Null(catalog.Models["our-model-large"].CachedInputPerMillion);
        Assert.Same(catalog.Models["our-model-large"], catalog.Find("our-model-large-2026-01-01"));
        Assert.Same(price, catalog.Find("our-model-2026-01-01"));
    }

    [Theory]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": -1, "output": 1 } } }""", "'m1'", "'input'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": 1, "output": -0.01 } } }""", "'m1'", "'output'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": 1, "output": 1, "cachedInput": -1 } } }""", "'m1'", "'cachedInput'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": 1 } } }""", "'m1'", "'output'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "ok": { "input": 1, "output": 2 }, "m2": { "output": 1 } } }""", "'m2'", "'input'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": "0.15", "output": 1 } } }""", "'m1'", "'input'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": 1, "ouput": 1 } } }""", "'m1'", "'ouput'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": 1, "output": 1, "contextWindow": 0 } } }""", "'m1'", "'contextWindow'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": { "input": 1, "output": 1, "maxOutput": 1.5 } } }""", "'m1'", "'maxOutput'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "m1": [1, 2] } }""", "'m1'", "object")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { "M1": { "input": 1, "output": 1 }, "m1": { "input": 1, "output": 1 } } }""", "'m1'", "twice")]
    [InlineData("""{ "asOf": "01/02/2025", "models": {} }""", "'asOf'", "yyyy-MM-dd")]
    [InlineData("""{ "models": {} }""", "'asOf'", "missing")]
    [InlineData("""{ "asOf": "2025-01-01" }""", "'models'", "missing")]
    [InlineData("""{ "asOf": "2025-01-01", "models": {}, "extra": 1 }""", "'extra'", "'models'")]
    [InlineData("""[1, 2]""", "object", "'models'")]
    [InlineData("""{ "asOf": "2025-01-01", "models": { """, "not valid JSON", "Price catalogue")]
    public void Load_rejects_a_bad_file_naming_the_model_and_field(string json, string first, string second)
    {
        InvalidDataException ex = Assert.Throws<InvalidDataException>(() => LoadJson(json));

        Assert.Contains(first, ex.Message, StringComparison.Ordinal);
        Assert.Contains(second, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_guards_its_argument()
    {
        Assert.Throws<ArgumentNullException>(() => PriceCatalog.Load(null!));
    }
}
