namespace LlmRouter;

/// <summary>How to reach the Anthropic Messages API.</summary>
public sealed class AnthropicDeploymentOptions
{
    /// <summary>Gets or sets the API base address. Default (<see langword="null"/>): the SDK's, <c>https://api.anthropic.com</c>.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Gets or sets the API key. Required.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Gets or sets the model, for example "claude-sonnet-4-5". Required; it also becomes the deployment's <see cref="DeploymentOptions.ModelId"/>.</summary>
    public string? Model { get; set; }

    /// <summary>Gets or sets the max_tokens sent when a request sets no <c>ChatOptions.MaxOutputTokens</c> (Anthropic requires one). Default: the SDK adapter's.</summary>
    public int? DefaultMaxOutputTokens { get; set; }

    /// <summary>Gets or sets the SDK's timeout per HTTP request. Default: 10 minutes, so long generations are not cut off.</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Gets the prompt-caching options: when <see cref="AnthropicPromptCachingOptions.Enabled"/>, the deployment's client
    /// places cache breakpoints at the end of a long system prompt and of the conversation so far. Default: off.
    /// </summary>
    public AnthropicPromptCachingOptions PromptCaching { get; } = new();

    /// <summary>Gets the transport resilience options (connection retries, connect timeout).</summary>
    public LlmHttpResilienceOptions Transport { get; } = new();
}
