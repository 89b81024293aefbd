using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Caching.Internal;

/// <summary>
/// One enumeration of an inner client's stream shared by every identical concurrent request: the updates are kept in
/// a chain of nodes, each completing its successor's task when it arrives, so a consumer replays the chain from the
/// start and then awaits the next node without polling or locks.
/// </summary>
/// <remarks>
/// The consumer count works like HybridCache's stampede state: joining increments it only while it is above zero, the
/// last consumer to leave cancels the inner stream, and the end of the stream closes it to joins before the entry leaves
/// the in-flight table, so nobody joins an abandoned or finished stream. The answer is stored by the first consumer that
/// reads it to its end (the others wait for that store), so a stream every consumer abandoned is never stored even when
/// the inner stream outran them.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Disposed when the stream ends; no caller owns the stream.")]
internal sealed class SharedStream
{
    /// <summary>The consumer count once the stream has ended: far enough below zero that leaving never brings it to zero.</summary>
    private const int Closed = int.MinValue / 2;

    private readonly ConcurrentDictionary<string, SharedStream> _inFlight;
    private readonly string _key;
    private readonly Func<CancellationToken, IAsyncEnumerable<ChatResponseUpdate>> _open;
    private readonly Func<ChatResponse, ValueTask> _store;
    private readonly Node _head = new(update: null, error: null);
    private readonly CancellationTokenSource _abandoned = new();
    private int _consumers = 1;
    private ChatResponse? _response;
    private Task<ExceptionDispatchInfo?>? _stored;

    /// <summary>Initializes a new instance whose first consumer is the request that creates it.</summary>
    /// <param name="inFlight">The table the stream is registered in under <paramref name="key"/>; it removes itself when it ends.</param>
    /// <param name="key">The cache key.</param>
    /// <param name="open">Opens the inner stream with the token that is cancelled when every consumer has left.</param>
    /// <param name="store">Stores the combined answer; called at most once.</param>
    public SharedStream(
        ConcurrentDictionary<string, SharedStream> inFlight, string key, Func<CancellationToken, IAsyncEnumerable<ChatResponseUpdate>> open, Func<ChatResponse, ValueTask> store)
    {
        _inFlight = inFlight;
        _key = key;
        _open = open;
        _store = store;
    }

    /// <summary>Gets the combined answer once the inner stream has completed; <see langword="null"/> before.</summary>
    public ChatResponse? Response => Volatile.Read(ref _response);

    /// <summary>Starts pumping the inner stream on the thread pool, independently of any consumer.</summary>
    public void Start() => _ = Task.Run(PumpAsync);

    /// <summary>Adds a consumer unless every consumer has already left or the stream has ended.</summary>
    /// <returns><see langword="true"/> when joined; the caller must then call <see cref="Leave"/> exactly once.</returns>
    public bool TryJoin()
    {
        int count = Volatile.Read(ref _consumers);
        while (count > 0)
        {
            int seen = Interlocked.CompareExchange(ref _consumers, count + 1, count);
            if (seen == count)
            {
                return true;
            }

            count = seen;
        }

        return false;
    }

    /// <summary>Removes a consumer; the last one to leave before the end cancels the inner stream.</summary>
    public void Leave()
    {
        if (Interlocked.Decrement(ref _consumers) == 0)
        {
            _inFlight.TryRemove(new KeyValuePair<string, SharedStream>(_key, this));
            _abandoned.Cancel();
        }
    }

    /// <summary>
    /// Every update from the start, each a copy of its own (shallow: the content objects are shared and must be treated
    /// as read-only), then the end once the answer is stored, or the inner stream's exception with its original type and
    /// stack trace.
    /// </summary>
    /// <param name="cancellationToken">Stops this consumer only.</param>
    /// <returns>The updates.</returns>
    public async IAsyncEnumerable<ChatResponseUpdate> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Node node = _head;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            node = await node.Next.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (node.Update is { } update)
            {
                yield return Copy(update);
                continue;
            }

            node.Error?.Throw();
            ExceptionDispatchInfo? storeError = await StoreOnceAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            storeError?.Throw();
            yield break;
        }
    }

    private static ChatResponseUpdate Copy(ChatResponseUpdate update)
    {
        ChatResponseUpdate copy = update.Clone();
        copy.Contents = [.. update.Contents];
        copy.AdditionalProperties = update.AdditionalProperties is { } properties ? new(properties) : null;
        return copy;
    }

    private async Task PumpAsync()
    {
        Node tail = _head;
        Node end;
        try
        {
            var updates = new List<ChatResponseUpdate>();
            await foreach (ChatResponseUpdate update in _open(_abandoned.Token).WithCancellation(_abandoned.Token).ConfigureAwait(false))
            {
                updates.Add(update);
                var node = new Node(update, error: null);
                tail.Next.SetResult(node);
                tail = node;
            }

            Volatile.Write(ref _response, updates.ToChatResponse());
            end = new Node(update: null, error: null);
        }
#pragma warning disable CA1031 // Every failure, whatever its type, is handed to the consumers still reading.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            End();
            end = new Node(update: null, ExceptionDispatchInfo.Capture(ex));
        }

        tail.Next.SetResult(end);
    }

    /// <summary>The first consumer to reach the end stores the answer; the others wait for the same store.</summary>
    private Task<ExceptionDispatchInfo?> StoreOnceAsync()
    {
        if (Volatile.Read(ref _stored) is { } running)
        {
            return running;
        }

        var stored = new TaskCompletionSource<ExceptionDispatchInfo?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _stored, stored.Task, null) is { } other)
        {
            return other;
        }

        _ = StoreAsync(stored);
        return stored.Task;
    }

    private async Task StoreAsync(TaskCompletionSource<ExceptionDispatchInfo?> stored)
    {
        ExceptionDispatchInfo? error = null;
        try
        {
            await _store(_response!).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Handed to the consumers, as an inner failure would be.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ExceptionDispatchInfo.Capture(ex);
        }

        End();
        stored.SetResult(error);
    }

    /// <summary>Closes the stream to joins, then takes it out of the table: a request still finding it looks again.</summary>
    private void End()
    {
        if (Interlocked.Exchange(ref _consumers, Closed) != 0)
        {
            _abandoned.Dispose();   // nobody can cancel it any more; at zero the last consumer may be cancelling it right now
        }

        _inFlight.TryRemove(new KeyValuePair<string, SharedStream>(_key, this));
    }

    /// <summary>An update, or the end of the stream (no update) with the inner failure if any.</summary>
    private sealed class Node(ChatResponseUpdate? update, ExceptionDispatchInfo? error)
    {
        public ChatResponseUpdate? Update { get; } = update;

        public ExceptionDispatchInfo? Error { get; } = error;

        /// <summary>Completed with the following node; continuations run asynchronously so no consumer slows the pump.</summary>
        public TaskCompletionSource<Node> Next { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
