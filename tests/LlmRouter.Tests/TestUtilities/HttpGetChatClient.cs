using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.TestUtilities;

/// <summary>
/// A provider client over a named HttpClient: one GET per request, then <c>EnsureSuccessStatusCode</c>, so its exception
/// keeps the status and loses the headers (as some SDKs do). What the transport handler sees is what a real SDK sends.
/// </summary>
public sealed class HttpGetChatClient(HttpClient http) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using HttpResponseMessage response = await http.GetAsync(new Uri("http://provider.invalid/v1/chat"), cancellationToken);
        response.EnsureSuccessStatusCode();
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
