using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.TestUtilities;

/// <summary>A callback-driven provider client for unit tests of routing logic.</summary>
public sealed class TestChatClient : IChatClient
{
    private int _calls;

    public TestChatClient(string name = "test")
    {
        Name = name;
    }

    public string Name { get; }

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Options received by the last call.</summary>
    public ChatOptions? LastOptions { get; private set; }

    public Func<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken, Task<ChatResponse>>? GetResponseAsyncCallback { get; set; }

    public Func<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken, IAsyncEnumerable<ChatResponseUpdate>>? GetStreamingResponseAsyncCallback { get; set; }

    public bool Disposed { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        LastOptions = options;
        return GetResponseAsyncCallback is { } callback
            ? callback(messages, options, cancellationToken)
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {Name}")));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        LastOptions = options;
        return GetStreamingResponseAsyncCallback is { } callback
            ? callback(messages, options, cancellationToken)
            : Updates(Name, 3, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() => Disposed = true;

    public static async IAsyncEnumerable<ChatResponseUpdate> Updates(string name, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, $"{name}-{i}");
        }
    }

    /// <summary>A client that always throws the given exception.</summary>
    public static TestChatClient Throwing(string name, Func<Exception> error) => new(name)
    {
        GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(error()),
        GetStreamingResponseAsyncCallback = (_, _, _) => ThrowingStream(error),
    };

    private static async IAsyncEnumerable<ChatResponseUpdate> ThrowingStream(Func<Exception> error)
    {
        await Task.Yield();
        throw error();
#pragma warning disable CS0162 // Unreachable: the iterator needs a yield to be one.
        yield break;
#pragma warning restore CS0162
    }
}
