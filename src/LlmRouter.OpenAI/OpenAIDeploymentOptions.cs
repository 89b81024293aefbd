namespace LlmRouter;

/// <summary>How to reach an OpenAI Chat Completions endpoint: OpenAI itself, Azure OpenAI's v1 endpoint, or any OpenAI-compatible host.</summary>
public sealed class OpenAIDeploymentOptions
{
    /// <summary>
    /// Gets or sets the API base address, ending in the version segment: <c>https://api.openai.com/v1</c> (the default when
    /// <see langword="null"/>), <c>https://{resource}.openai.azure.com/openai/v1/</c> for Azure OpenAI, or
    /// <c>http://localhost:11434/v1</c> for Ollama.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Gets or sets the API key. Required (OpenAI-compatible hosts that ignore keys accept any value).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Gets or sets the model (or Azure deployment) name. Required; it also becomes the deployment's <see cref="DeploymentOptions.ModelId"/>.</summary>
    public string? Model { get; set; }

    /// <summary>
    /// Gets or sets the SDK's network timeout per HTTP request. Default: 10 minutes, so long generations are not cut off;
    /// use the deployment's <see cref="DeploymentOptions.AttemptTimeout"/> to fail over sooner.
    /// </summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets the transport resilience options (connection retries, connect timeout).</summary>
    public LlmHttpResilienceOptions Transport { get; } = new();
}
