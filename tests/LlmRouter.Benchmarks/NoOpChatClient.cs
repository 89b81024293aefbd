using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>
/// A provider that does no work: a cached response wrapped in a fresh completed Task (72 B per call), the same model of
/// a provider as the anchor measurements (direct ~85 ns / 72 B). Every benchmark row uses it, so differences are the
/// cost of what sits in front of it. <c>response</c> replaces the cached "ok" (one with usage, for the budget rows).
/// </summary>
public sealed class NoOpChatClient(bool freshResponse = false, ChatResponse? response = null) : IChatClient
{
    private readonly ChatResponse _response = response ?? new(new ChatMessage(ChatRole.Assistant, "ok"));
    private readonly ChatResponseUpdate[] _updates =
    [
        new(ChatRole.Assistant, "a"),
        new(ChatRole.Assistant, "b"),
        new(ChatRole.Assistant, "c"),
    ];

    /// <summary>
    /// With <c>freshResponse</c>, every call returns a new ChatResponse, as a real provider does: the router then also pays
    /// for the AdditionalProperties dictionary that carries its report (a cached response keeps the first one).
    /// </summary>
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(freshResponse ? new ChatResponse(_response.Messages) : _response);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Stream(cancellationToken);

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Stream([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (ChatResponseUpdate update in _updates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return update;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}

/// <summary>A provider that fails every call with a fresh 503, like an overloaded deployment.</summary>
public sealed class FailingChatClient : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromException<ChatResponse>(new HttpRequestException("Service Unavailable", null, HttpStatusCode.ServiceUnavailable));

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new HttpRequestException("Service Unavailable", null, HttpStatusCode.ServiceUnavailable);

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
