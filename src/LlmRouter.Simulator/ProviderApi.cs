namespace LlmRouter.Simulator;

/// <summary>The wire protocol a simulated provider speaks.</summary>
public enum ProviderApi
{
    /// <summary>OpenAI Chat Completions: <c>POST {base}/v1/chat/completions</c>, JSON or SSE with <c>stream_options.include_usage</c>.</summary>
    OpenAI,

    /// <summary>Anthropic Messages: <c>POST {base}/v1/messages</c>, JSON or SSE events.</summary>
    Anthropic,
}
