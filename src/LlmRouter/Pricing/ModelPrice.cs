namespace LlmRouter;

/// <summary>
/// The list price of one model, in US dollars per million tokens, and its token limits. A plain class so it binds from
/// <c>IConfiguration</c>; instances handed out by <see cref="PriceCatalog"/> are shared, so treat them as read-only.
/// </summary>
public sealed class ModelPrice
{
    /// <summary>Gets or sets the price of one million input (prompt) tokens that were not served from the provider's prompt cache, in USD.</summary>
    /// <value>USD per million tokens; zero or positive. Default 0.</value>
    public decimal InputPerMillion { get; set; }

    /// <summary>Gets or sets the price of one million output (completion) tokens, in USD.</summary>
    /// <value>USD per million tokens; zero or positive. Default 0.</value>
    public decimal OutputPerMillion { get; set; }

    /// <summary>Gets or sets the price of one million input tokens read from the provider's prompt cache, in USD.</summary>
    /// <value>USD per million tokens; zero or positive. Default <see langword="null"/>: cached input costs <see cref="InputPerMillion"/>.</value>
    public decimal? CachedInputPerMillion { get; set; }

    /// <summary>
    /// Gets or sets the price of one million input tokens written to the provider's prompt cache, in USD (Anthropic bills
    /// cache writes at 1.25 times the input price for the 5-minute cache). Applied to the usage's
    /// <c>AdditionalCounts["CacheCreationInputTokens"]</c>, which the Anthropic SDK reports as part of the input tokens.
    /// </summary>
    /// <value>USD per million tokens; zero or positive. Default <see langword="null"/>: cache writes cost <see cref="InputPerMillion"/>.</value>
    public decimal? CacheWritePerMillion { get; set; }

    /// <summary>
    /// Gets or sets the price of one million reasoning (thinking) tokens, in USD, for the rare model that bills them differently
    /// from its other output.
    /// </summary>
    /// <value>USD per million tokens; zero or positive. Default <see langword="null"/>: reasoning tokens cost <see cref="OutputPerMillion"/>.</value>
    public decimal? ReasoningPerMillion { get; set; }

    /// <summary>Gets or sets the context window: the most tokens (input and output together) one request may use.</summary>
    /// <value>Tokens. Default <see langword="null"/>: unknown, no limit is enforced.</value>
    public int? ContextWindow { get; set; }

    /// <summary>Gets or sets the most output tokens the model produces in one response.</summary>
    /// <value>Tokens. Default <see langword="null"/>: unknown, bounded only by <see cref="ContextWindow"/>.</value>
    public int? MaxOutputTokens { get; set; }
}
