using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;

namespace LlmRouter;

/// <summary>
/// List prices and token limits of models, keyed by model id, with a lookup that tolerates the decorations providers put
/// around model ids (provider prefixes, dated snapshots, <c>-latest</c>, <c>-preview</c>).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Default"/> is the catalogue shipped in the assembly; <see cref="Load"/> reads an application's own file of the
/// same format:
/// </para>
/// <code>
/// {
///   "asOf": "2025-12-01",
///   "source": "https://example.com/pricing",
///   "models": {
///     "gpt-4o-mini": { "input": 0.15, "output": 0.60, "cachedInput": 0.075, "contextWindow": 128000, "maxOutput": 16384 }
///   }
/// }
/// </code>
/// <para>
/// Prices are USD per million tokens; <c>cachedInput</c> (cached prompt reads), <c>cacheWrite</c> (prompt-cache writes,
/// where billed above the input price), <c>reasoning</c> (only where reasoning
/// tokens are billed differently from output), <c>contextWindow</c> and <c>maxOutput</c> are optional.
/// </para>
/// </remarks>
public sealed class PriceCatalog
{
    private const string DefaultResourceName = "LlmRouter.Budgets.prices.json";

    // Find results are cached per input id; the cap keeps ids that come from requests from growing the cache without bound.
    private const int MaxCachedLookups = 4096;

    private static readonly Lazy<PriceCatalog> DefaultCatalog = new(LoadDefault);

    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    private readonly FrozenDictionary<string, ModelPrice> _models;
    private readonly string[] _idsLongestFirst;
    private readonly ConcurrentDictionary<string, ModelPrice?> _found = new(StringComparer.Ordinal);
    private int _foundCount;

    private PriceCatalog(DateOnly asOf, string source, Dictionary<string, ModelPrice> models)
    {
        AsOf = asOf;
        Source = source;
        _models = models.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _idsLongestFirst = [.. models.Keys];
        Array.Sort(_idsLongestFirst, static (a, b) => b.Length != a.Length ? b.Length - a.Length : string.CompareOrdinal(a, b));
    }

    /// <summary>Gets the catalogue shipped with the library, read once from the assembly on first use.</summary>
    /// <remarks>List prices go stale: check <see cref="AsOf"/>, and override prices per deployment where they matter.</remarks>
    public static PriceCatalog Default => DefaultCatalog.Value;

    /// <summary>Gets the date on which the prices were taken from their <see cref="Source"/>.</summary>
    public DateOnly AsOf { get; }

    /// <summary>Gets where the prices come from (the vendors' pricing pages, by URL); empty when the file names none.</summary>
    public string Source { get; }

    /// <summary>Gets the prices by model id; lookups on this dictionary are case-insensitive and exact (see <see cref="Find"/> for a tolerant lookup).</summary>
    public IReadOnlyDictionary<string, ModelPrice> Models => _models;

    /// <summary>
    /// Reads a catalogue from UTF-8 JSON in the format of the shipped one (see the remarks on <see cref="PriceCatalog"/>).
    /// Comments and trailing commas are allowed.
    /// </summary>
    /// <param name="utf8Json">The JSON; read to its end, not disposed.</param>
    /// <returns>The catalogue.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="utf8Json"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not JSON, or a field is missing or wrong; the message names the model and the field.
    /// </exception>
    public static PriceCatalog Load(Stream utf8Json)
    {
        ArgumentNullException.ThrowIfNull(utf8Json);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Price catalogue: the file is not valid JSON ({ex.Message}).", ex);
        }

        using (document)
        {
            return Parse(document.RootElement);
        }
    }

    /// <summary>
    /// Finds the price of a model by id, tolerating the decorations providers add. In order: an exact case-insensitive
    /// match; the id without a provider prefix (anything up to the last <c>/</c>, e.g. <c>openai/</c>,
    /// <c>meta-llama/</c>, and a Bedrock prefix such as <c>us.anthropic.</c>) and a <c>@version</c> suffix; then the longest catalogue id that the id starts with, followed by
    /// <c>-</c> (so <c>gpt-4o-mini-2024-07-18</c> finds <c>gpt-4o-mini</c>, never <c>gpt-4o</c>, and <c>gpt-4o</c> never
    /// finds <c>gpt-4o-mini</c>); then the same after stripping date and version suffixes (<c>-2024-08-06</c>,
    /// <c>-20241022</c>, <c>-2411</c>, <c>-001</c>, <c>-latest</c>, <c>-preview…</c>, <c>-exp…</c>, <c>-v1:0</c>).
    /// Results are cached per id.
    /// </summary>
    /// <param name="modelId">The model id as a provider or a deployment names it; may be <see langword="null"/>.</param>
    /// <returns>The price, or <see langword="null"/> when the catalogue has no matching model.</returns>
    public ModelPrice? Find(string? modelId)
    {
        if (string.IsNullOrWhiteSpace(modelId))
        {
            return null;
        }

        if (_found.TryGetValue(modelId, out ModelPrice? price))
        {
            return price;
        }

        price = Resolve(modelId);
        if (Volatile.Read(ref _foundCount) < MaxCachedLookups && _found.TryAdd(modelId, price))
        {
            Interlocked.Increment(ref _foundCount);
        }

        return price;
    }

    private ModelPrice? Resolve(string modelId)
    {
        string id = modelId.Trim();
        if (_models.TryGetValue(id, out ModelPrice? price))
        {
            return price;
        }

        string bare = StripProvider(id);
        if (_models.TryGetValue(bare, out price) || (price = LongestPrefix(bare)) is not null)
        {
            return price;
        }

        string stripped = StripVersionSuffixes(bare);
        if (stripped.Length == bare.Length)
        {
            return null;
        }

        return _models.TryGetValue(stripped, out price) ? price : LongestPrefix(stripped);
    }

    private ModelPrice? LongestPrefix(string id)
    {
        foreach (string candidate in _idsLongestFirst)
        {
            if (id.Length > candidate.Length && id[candidate.Length] == '-' && id.StartsWith(candidate, StringComparison.OrdinalIgnoreCase))
            {
                return _models[candidate];
            }
        }

        return null;
    }

    // "openai/gpt-4o" -> "gpt-4o"; "claude-3-5-haiku@20241022" (Vertex AI) -> "claude-3-5-haiku";
    // "anthropic.claude-3-5-haiku-20241022-v1:0" (Bedrock) -> "claude-3-5-haiku-20241022-v1:0";
    // "meta-llama/Meta-Llama-3.1-8B-Instruct" -> "Llama-3.1-8B-Instruct".
    private static string StripProvider(string id)
    {
        ReadOnlySpan<char> bare = id;
        int slash = bare.LastIndexOf('/');
        if (slash >= 0)
        {
            bare = bare[(slash + 1)..];
        }

        // Amazon Bedrock: "us.anthropic.claude-sonnet-4-20250514-v1:0"; a dotted prefix of letters only, so "gpt-4.1" stays.
        int dot;
        while ((dot = bare.IndexOf('.')) > 0 && IsLetters(bare[..dot]))
        {
            bare = bare[(dot + 1)..];
        }

        int at = bare.IndexOf('@');
        if (at >= 0)
        {
            bare = bare[..at];
        }

        if (bare.StartsWith("meta-llama-", StringComparison.OrdinalIgnoreCase))
        {
            bare = bare["meta-".Length..];
        }

        return bare.Length == id.Length ? id : bare.ToString();
    }

    private static string StripVersionSuffixes(string id)
    {
        ReadOnlySpan<char> rest = id;
        int cut = Math.Min(IndexOfSegment(rest, "preview"), IndexOfSegment(rest, "exp"));
        if (cut < rest.Length)
        {
            rest = rest[..cut];
        }

        while (true)
        {
            int dash = rest.LastIndexOf('-');
            if (dash <= 0)
            {
                break;
            }

            ReadOnlySpan<char> last = rest[(dash + 1)..];
            if (last.Equals("latest", StringComparison.OrdinalIgnoreCase)
                || (last.Length is 3 or 4 or 8 && IsDigits(last))
                || IsBedrockVersion(last))
            {
                rest = rest[..dash];
            }
            else if (rest.Length > 11 && IsIsoDateSuffix(rest[^11..]))
            {
                rest = rest[..^11];
            }
            else
            {
                break;
            }
        }

        return rest.Length == id.Length ? id : rest.ToString();
    }

    // Index of "-segment" where it is a whole '-'-separated segment, or int.MaxValue.
    private static int IndexOfSegment(ReadOnlySpan<char> id, string segment)
    {
        int from = 0;
        while (true)
        {
            int i = id[from..].IndexOf(segment, StringComparison.OrdinalIgnoreCase);
            if (i < 0)
            {
                return int.MaxValue;
            }

            i += from;
            int end = i + segment.Length;
            if (i > 0 && id[i - 1] == '-' && (end == id.Length || id[end] == '-'))
            {
                return i - 1;
            }

            from = end;
        }
    }

    private static bool IsLetters(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiLetter(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDigits(ReadOnlySpan<char> s) => !s.IsEmpty && !s.ContainsAnyExceptInRange('0', '9');

    // "-2024-08-06"
    private static bool IsIsoDateSuffix(ReadOnlySpan<char> s) =>
        s[0] == '-' && IsDigits(s[1..5]) && s[5] == '-' && IsDigits(s[6..8]) && s[8] == '-' && IsDigits(s[9..11]);

    // Amazon Bedrock: "anthropic.claude-3-5-haiku-20241022-v1:0".
    private static bool IsBedrockVersion(ReadOnlySpan<char> s)
    {
        if (s.Length < 2 || (s[0] != 'v' && s[0] != 'V'))
        {
            return false;
        }

        ReadOnlySpan<char> version = s[1..];
        int colon = version.IndexOf(':');
        return colon < 0 ? IsDigits(version) : IsDigits(version[..colon]) && IsDigits(version[(colon + 1)..]);
    }

    private static PriceCatalog LoadDefault()
    {
        using Stream stream = typeof(PriceCatalog).Assembly.GetManifestResourceStream(DefaultResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{DefaultResourceName}' is missing from the LlmRouter assembly.");
        return Load(stream);
    }

    private static PriceCatalog Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Price catalogue: the file must be a JSON object with 'asOf', 'source' and 'models', not {Describe(root)}.");
        }

        DateOnly? asOf = null;
        string source = string.Empty;
        Dictionary<string, ModelPrice>? models = null;
        foreach (JsonProperty property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "asOf":
                    if (property.Value.ValueKind != JsonValueKind.String
                        || !DateOnly.TryParseExact(property.Value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly date))
                    {
                        throw new InvalidDataException($"Price catalogue: 'asOf' must be a date string like \"2025-12-01\" (yyyy-MM-dd), not {Describe(property.Value)}.");
                    }

                    asOf = date;
                    break;
                case "source":
                    if (property.Value.ValueKind != JsonValueKind.String)
                    {
                        throw new InvalidDataException($"Price catalogue: 'source' must be a string naming where the prices come from, not {Describe(property.Value)}.");
                    }

                    source = property.Value.GetString()!;
                    break;
                case "models":
                    models = ParseModels(property.Value);
                    break;
                case "$schema":
                    break;
                default:
                    throw new InvalidDataException($"Price catalogue: unknown field '{property.Name}'; valid fields are 'asOf', 'source' and 'models'.");
            }
        }

        if (asOf is null)
        {
            throw new InvalidDataException("Price catalogue: 'asOf' is missing; give the date the prices were taken, like \"2025-12-01\".");
        }

        if (models is null)
        {
            throw new InvalidDataException("Price catalogue: 'models' is missing; give an object keyed by model id.");
        }

        return new PriceCatalog(asOf.Value, source, models);
    }

    private static Dictionary<string, ModelPrice> ParseModels(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Price catalogue: 'models' must be an object keyed by model id, not {Describe(element)}.");
        }

        var models = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        foreach (JsonProperty model in element.EnumerateObject())
        {
            string id = model.Name;
            if (string.IsNullOrWhiteSpace(id) || id.Trim().Length != id.Length)
            {
                throw new InvalidDataException($"Price catalogue: model id '{id}' must be non-empty, without leading or trailing spaces.");
            }

            if (!models.TryAdd(id, ParseModel(id, model.Value)))
            {
                throw new InvalidDataException($"Price catalogue: model '{id}' is listed twice (model ids are case-insensitive).");
            }
        }

        return models;
    }

    private static ModelPrice ParseModel(string id, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Price catalogue: model '{id}' must be an object like {{ \"input\": 0.15, \"output\": 0.60 }}, not {Describe(element)}.");
        }

        decimal? input = null;
        decimal? output = null;
        var price = new ModelPrice();
        foreach (JsonProperty field in element.EnumerateObject())
        {
            switch (field.Name)
            {
                case "input":
                    input = ReadPrice(id, field);
                    break;
                case "output":
                    output = ReadPrice(id, field);
                    break;
                case "cachedInput":
                    price.CachedInputPerMillion = ReadPrice(id, field);
                    break;
                case "reasoning":
                    price.ReasoningPerMillion = ReadPrice(id, field);
                    break;
                case "cacheWrite":
                    price.CacheWritePerMillion = ReadPrice(id, field);
                    break;
                case "contextWindow":
                    price.ContextWindow = ReadTokens(id, field);
                    break;
                case "maxOutput":
                    price.MaxOutputTokens = ReadTokens(id, field);
                    break;
                default:
                    throw new InvalidDataException(
                        $"Price catalogue: model '{id}' has an unknown field '{field.Name}'; valid fields are 'input', 'output', 'cachedInput', 'cacheWrite', 'reasoning', 'contextWindow' and 'maxOutput'.");
            }
        }

        price.InputPerMillion = input ?? throw new InvalidDataException($"Price catalogue: model '{id}' is missing 'input' (USD per million input tokens).");
        price.OutputPerMillion = output ?? throw new InvalidDataException($"Price catalogue: model '{id}' is missing 'output' (USD per million output tokens).");
        return price;
    }

    private static decimal ReadPrice(string id, JsonProperty field)
    {
        if (field.Value.ValueKind != JsonValueKind.Number || !field.Value.TryGetDecimal(out decimal value))
        {
            throw new InvalidDataException($"Price catalogue: model '{id}' field '{field.Name}' must be a number of USD per million tokens, not {Describe(field.Value)}.");
        }

        if (value < 0)
        {
            throw new InvalidDataException($"Price catalogue: model '{id}' field '{field.Name}' is {value.ToString(CultureInfo.InvariantCulture)}; a price must be zero or positive.");
        }

        return value;
    }

    private static int ReadTokens(string id, JsonProperty field)
    {
        if (field.Value.ValueKind != JsonValueKind.Number || !field.Value.TryGetInt32(out int value) || value <= 0)
        {
            throw new InvalidDataException($"Price catalogue: model '{id}' field '{field.Name}' must be a positive whole number of tokens, not {Describe(field.Value)}.");
        }

        return value;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"\"{element.GetString()}\"",
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => element.GetRawText(),
        JsonValueKind.Array => "an array",
        _ => "an object",
    };
}
