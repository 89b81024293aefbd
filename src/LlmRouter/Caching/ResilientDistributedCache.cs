using LlmRouter.Internal;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmRouter;

/// <summary>
/// Wraps the distributed (L2) cache under HybridCache so that its failures never fail a request: the first failure marks
/// it down, and from then on reads miss and writes are dropped at once (HybridCache serves from its local tier or the
/// provider) without touching it, until a background probe, every <see cref="ResilientDistributedCacheOptions.RetryAfter"/>,
/// finds it answering again. The outage is logged once when it starts and once when it ends.
/// </summary>
/// <remarks>
/// Only requests in flight when the outage begins wait for the distributed cache's own timeout; the probe (a read of one
/// key) is the only traffic to it while it is down. Dispose the instance to stop the probe.
/// </remarks>
public sealed partial class ResilientDistributedCache : IDistributedCache, IDisposable
{
    /// <summary>The key the probe reads; it is never written.</summary>
    internal const string ProbeKey = "llmrouter:probe";

    private readonly IDistributedCache _inner;
    private readonly OutageProbe _outage;
    private readonly bool _ownsInner;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="inner">The distributed cache (for example Redis); not disposed by this instance.</param>
    /// <param name="options">The options; defaults when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock of the background probe; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">Where outages are logged.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ResilientDistributedCacheOptions.RetryAfter"/> is not positive or longer than a day.</exception>
    public ResilientDistributedCache(IDistributedCache inner, ResilientDistributedCacheOptions? options = null, TimeProvider? timeProvider = null, ILogger<ResilientDistributedCache>? logger = null)
        : this(inner, options, timeProvider, logger, ownsInner: false)
    {
    }

    internal ResilientDistributedCache(IDistributedCache inner, ResilientDistributedCacheOptions? options, TimeProvider? timeProvider, ILogger? logger, bool ownsInner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        TimeSpan interval = Validate(options ?? new ResilientDistributedCacheOptions(), nameof(options));
        ILogger log = logger ?? NullLogger.Instance;
        _inner = inner;
        _ownsInner = ownsInner;
        _outage = new OutageProbe(
            async token => await inner.GetAsync(ProbeKey, token).ConfigureAwait(false),
            timeProvider ?? TimeProvider.System,
            interval,
            ex => LogOutage(log, interval, ex.GetType().Name, ex.Message),
            () => LogRecovered(log));
    }

    /// <summary>Gets whether the distributed cache is currently considered down.</summary>
    public bool IsDown => _outage.IsDown;

    /// <inheritdoc />
    public byte[]? Get(string key) => Skipping() ? null : Guard(() => _inner.Get(key));

    /// <inheritdoc />
    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default) =>
        Skipping() ? null : await GuardAsync(async () => await _inner.GetAsync(key, token).ConfigureAwait(false), token).ConfigureAwait(false);

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        if (!Skipping())
        {
            Guard(() =>
            {
                _inner.Set(key, value, options);
                return true;
            });
        }
    }

    /// <inheritdoc />
    public async Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        if (!Skipping())
        {
            await GuardAsync(async () =>
            {
                await _inner.SetAsync(key, value, options, token).ConfigureAwait(false);
                return true;
            }, token).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Refresh(string key)
    {
        if (!Skipping())
        {
            Guard(() =>
            {
                _inner.Refresh(key);
                return true;
            });
        }
    }

    /// <inheritdoc />
    public async Task RefreshAsync(string key, CancellationToken token = default)
    {
        if (!Skipping())
        {
            await GuardAsync(async () =>
            {
                await _inner.RefreshAsync(key, token).ConfigureAwait(false);
                return true;
            }, token).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Remove(string key)
    {
        if (!Skipping())
        {
            Guard(() =>
            {
                _inner.Remove(key);
                return true;
            });
        }
    }

    /// <inheritdoc />
    public async Task RemoveAsync(string key, CancellationToken token = default)
    {
        if (!Skipping())
        {
            await GuardAsync(async () =>
            {
                await _inner.RemoveAsync(key, token).ConfigureAwait(false);
                return true;
            }, token).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the background probe (and disposes the distributed cache when <c>AddResilientDistributedCache</c> created it).</summary>
    public void Dispose()
    {
        _outage.Dispose();
        if (_ownsInner)
        {
            (_inner as IDisposable)?.Dispose();
        }
    }

    /// <summary>Checks the options; the message names the option and what is valid.</summary>
    internal static TimeSpan Validate(ResilientDistributedCacheOptions options, string parameter)
    {
        TimeSpan interval = options.RetryAfter;
        if (interval <= TimeSpan.Zero || interval > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(parameter, interval, $"ResilientDistributedCacheOptions.RetryAfter is {interval}: it must be greater than zero and at most one day (for example \"00:00:05\").");
        }

        return interval;
    }

    private bool Skipping() => _outage.IsDown;

#pragma warning disable CA1031 // An L2 failure of any kind must not fail the request; it is logged and the tier skipped.
    private T? Guard<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception ex)
        {
            _outage.Failed(ex);
            return default;
        }
    }

    private async Task<T?> GuardAsync<T>(Func<Task<T>> operation, CancellationToken token)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _outage.Failed(ex);
            return default;
        }
    }
#pragma warning restore CA1031

    [LoggerMessage(20, LogLevel.Warning, "The distributed cache is unavailable ({ErrorType}: {Error}); requests are served from the local cache or the provider without it, and a background probe checks every {RetryAfter} whether it is back.")]
    private static partial void LogOutage(ILogger logger, TimeSpan retryAfter, string errorType, string error);

    [LoggerMessage(21, LogLevel.Information, "The distributed cache is available again.")]
    private static partial void LogRecovered(ILogger logger);
}
