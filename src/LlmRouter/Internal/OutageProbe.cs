namespace LlmRouter.Internal;

/// <summary>
/// Whether a remote dependency (the distributed cache, the budget store) is known to be down, and the background probe
/// that finds it back. A failure seen on the request path opens the outage; from then on callers read
/// <see cref="IsDown"/> (one volatile read) and skip the dependency instead of waiting for its timeout, while a probe
/// runs every <c>interval</c> on the <see cref="TimeProvider"/>, off the request path, until one succeeds.
/// </summary>
internal sealed class OutageProbe : IDisposable
{
    private readonly Func<CancellationToken, ValueTask> _probe;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Action<Exception> _started;
    private readonly Action _ended;
    private readonly CancellationTokenSource _disposal = new();
    private readonly CancellationToken _disposed;
    private Exception? _lastFailure;
    private int _down;
    private int _disposedOnce;

    /// <param name="probe">Checks the dependency once; completing without an exception ends the outage.</param>
    /// <param name="time">The clock the probe waits on.</param>
    /// <param name="interval">The wait before the first probe and between probes; positive.</param>
    /// <param name="started">Called once when an outage starts, with the failure that showed it (for a log line).</param>
    /// <param name="ended">Called once when a probe succeeds.</param>
    public OutageProbe(Func<CancellationToken, ValueTask> probe, TimeProvider time, TimeSpan interval, Action<Exception> started, Action ended)
    {
        _probe = probe;
        _time = time;
        _interval = interval;
        _started = started;
        _ended = ended;
        _disposed = _disposal.Token;
    }

    /// <summary>Gets whether the dependency is known to be down: skip it.</summary>
    public bool IsDown => Volatile.Read(ref _down) == 1;

    /// <summary>Gets the last failure of the dependency (from the request path or a probe); set whenever <see cref="IsDown"/> is.</summary>
    public Exception? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>Records a failure of the dependency; the first one of an outage starts the probe.</summary>
    public void Failed(Exception ex)
    {
        Volatile.Write(ref _lastFailure, ex);
        if (Interlocked.CompareExchange(ref _down, 1, 0) == 0)
        {
            _started(ex);
            if (!_disposed.IsCancellationRequested)
            {
                _ = ProbeUntilBackAsync();
            }
        }
    }

    /// <summary>Stops the probe; a later outage starts none.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposedOnce, 1) == 0)
        {
            _disposal.Cancel();
            _disposal.Dispose();
        }
    }

    private async Task ProbeUntilBackAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(_interval, _time, _disposed).ConfigureAwait(false);
                try
                {
                    await _probe(_disposed).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // Any failure of the probe means the dependency is still down.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Volatile.Write(ref _lastFailure, ex);
                    continue;
                }

                _ended();
                Volatile.Write(ref _down, 0);
                return;
            }
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
        }
    }
}
