using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Testing;

/// <summary>
/// A provider client for tests, in the shape of Microsoft.Extensions.AI's own test client: each call runs
/// <see cref="GetResponseAsyncCallback"/> or <see cref="GetStreamingResponseAsyncCallback"/> (by default a short answer
/// naming <see cref="Name"/>). Every call is counted and recorded before its callback runs.
/// </summary>
public sealed class TestChatClient : IChatClient
{
    private readonly Lock _gate = new();
    private readonly List<TestChatCall> _received = [];
    private int _calls;
    private int _disposed;

    /// <param name="name">Names the client in its default answers.</param>
    /// <param name="providerName">
    /// The provider name of the <see cref="ChatClientMetadata"/> the client reports (the router tags telemetry with it);
    /// <see langword="null"/> for no metadata, as most hand-written clients have.
    /// </param>
    public TestChatClient(string name = "test", string? providerName = null)
    {
        Name = name;
        Metadata = providerName is null ? null : new ChatClientMetadata(providerName);
    }

    public string Name { get; }

    /// <summary>What <see cref="GetService"/> returns for <see cref="ChatClientMetadata"/>; <see langword="null"/> for none.</summary>
    public ChatClientMetadata? Metadata { get; set; }

    /// <summary>Runs for each non-streaming call; <see langword="null"/> answers "from {Name}".</summary>
    public Func<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken, Task<ChatResponse>>? GetResponseAsyncCallback { get; set; }

    /// <summary>Runs for each streaming call; <see langword="null"/> streams "{Name}-0" to "{Name}-2".</summary>
    public Func<IEnumerable<ChatMessage>, ChatOptions?, CancellationToken, IAsyncEnumerable<ChatResponseUpdate>>? GetStreamingResponseAsyncCallback { get; set; }

    /// <summary>Calls made, streaming or not.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Every call so far, in the order they were made.</summary>
    public IReadOnlyList<TestChatCall> Received
    {
        get
        {
            lock (_gate)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>The messages of the last call, as passed (the same object).</summary>
    public IEnumerable<ChatMessage>? LastMessages { get; private set; }

    /// <summary>The options of the last call.</summary>
    public ChatOptions? LastOptions { get; private set; }

    public bool Disposed => Volatile.Read(ref _disposed) != 0;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Record(messages, options);
        return GetResponseAsyncCallback is { } callback
            ? callback(messages, options, cancellationToken)
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {Name}")));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Record(messages, options);
        return GetStreamingResponseAsyncCallback is { } callback
            ? callback(messages, options, cancellationToken)
            : Updates(Name, 3, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? Metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    public void Dispose() => Volatile.Write(ref _disposed, 1);

    /// <summary>A stream of <paramref name="count"/> updates "{name}-0", "{name}-1"..., each after a yield.</summary>
    public static async IAsyncEnumerable<ChatResponseUpdate> Updates(string name, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, $"{name}-{i}");
        }
    }

    /// <summary>A client whose every call (streams: on the first read, after a yield) throws a fresh <paramref name="error"/>.</summary>
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

    private void Record(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        Interlocked.Increment(ref _calls);
        var call = new TestChatCall([.. messages], options, Activity.Current);
        lock (_gate)
        {
            _received.Add(call);
            LastMessages = messages;
            LastOptions = options;
        }
    }
}

/// <summary>One call a <see cref="TestChatClient"/> received.</summary>
/// <param name="Messages">The messages as they were when the call was made (a copy of the list).</param>
/// <param name="Options">The options passed.</param>
/// <param name="Activity"><see cref="System.Diagnostics.Activity.Current"/> when the call was made (for streams: when the stream was opened).</param>
public sealed record TestChatCall(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options, Activity? Activity);
