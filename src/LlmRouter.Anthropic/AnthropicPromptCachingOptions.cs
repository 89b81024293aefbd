using Anthropic.Models.Messages;

namespace LlmRouter;

/// <summary>
/// Automatic Anthropic prompt caching for a deployment (<see cref="AnthropicDeploymentOptions.PromptCaching"/>): the
/// deployment's client places cache breakpoints (<c>cache_control</c>) at the end of a long system prompt and at the end
/// of the conversation so far, so requests that repeat a long prefix read it from Anthropic's cache.
/// </summary>
/// <remarks>
/// Cache reads are billed at a tenth of the input price; cache writes (the first request with a prefix, and every
/// request after the 5-minute lifetime lapses) at 1.25 times it (twice it for a 1-hour lifetime). Caching pays off as
/// soon as a marked prefix is read once within its lifetime.
/// </remarks>
public sealed class AnthropicPromptCachingOptions
{
    /// <summary>Gets or sets whether the deployment's client places cache breakpoints.</summary>
    /// <value>
    /// Default <see langword="false"/>: caching changes what a request is billed (writes cost 25% more than plain input,
    /// and pay off only when the prefix is read again within its lifetime) and uses up to two of the four breakpoints a
    /// request may carry, so it is a per-deployment decision.
    /// </value>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets the estimated length, in tokens, a prefix must reach before a breakpoint is placed at its end; tokens
    /// are estimated at four characters each (text, tool calls and results, and tool definitions; images and documents
    /// count as nothing).
    /// </summary>
    /// <value>
    /// Default 1,024: the smallest prefix any Claude model caches. Anthropic silently processes a shorter marked prefix
    /// without caching it (no error, no extra charge); the minimum is 1,024 tokens for most models and 2,048 or 4,096 for
    /// Haiku and some newer models (see Anthropic's prompt-caching documentation). Raise it to the model's minimum to keep
    /// breakpoints off prefixes that cannot be cached. 0 marks every non-empty prefix.
    /// </value>
    public int MinimumPrefixTokens { get; set; } = 1_024;

    /// <summary>
    /// Gets or sets the lifetime of the system prompt's cache entry. The conversation's breakpoint always uses the
    /// default, 5 minutes (refreshed on every read), unless a later breakpoint the caller set asks for an hour (Anthropic
    /// requires longer lifetimes to come first).
    /// </summary>
    /// <value>
    /// Default <see langword="null"/>: Anthropic's default, 5 minutes. <see cref="Ttl.Ttl1h"/> keeps a stable system
    /// prompt cached across quiet periods, at twice the input price per write instead of 1.25 times.
    /// </value>
    public Ttl? SystemPromptTtl { get; set; }
}
