using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmRouter;

/// <summary>
/// Wraps the distributed (L2) cache under HybridCache so that its failures never fail a request: while it is down,
/// reads miss and writes are dropped (HybridCache then serves from its local tier or the provider), it is skipped for
/// <see cref="ResilientDistributedCacheOptions.RetryAfter"/> between attempts, the outage is logged once when it starts
/// and once when it ends, and it is used again as soon as it answers.
/// </summary>
public sealed partial class ResilientDistributedCache : IDistributedCache
{
    private readonly IDistributedCache _inner;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryAfter;
    private long _skipUntilTicks = long.MinValue;
    private int _down;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="inner">The distributed cache (for example Redis).</param>
    /// <param name="options">The options; defaults when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for the retry window; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">Where outages are logged.</param>
    public ResilientDistributedCache(IDistributedCache inner, ResilientDistributedCacheOptions? options = null, TimeProvider? timeProvider = null, ILogger<ResilientDistributedCache>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _retryAfter = (options ?? new ResilientDistributedCacheOptions()).RetryAfter;
        if (_retryAfter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _retryAfter, "ResilientDistributedCacheOptions.RetryAfter must not be negative.");
        }
    }

    /// <summary>Gets whether the distributed cache is currently considered down.</summary>
    public bool IsDown => Volatile.Read(ref _down) == 1;

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

    private bool Skipping() => _time.GetUtcNow().UtcTicks < Volatile.Read(ref _skipUntilTicks);

#pragma warning disable CA1031 // An L2 failure of any kind must not fail the request; it is logged and the tier skipped.
    private T? Guard<T>(Func<T> operation)
    {
        try
        {
            T result = operation();
            Recovered();
            return result;
        }
        catch (Exception ex)
        {
            Failed(ex);
            return default;
        }
    }

    private async Task<T?> GuardAsync<T>(Func<Task<T>> operation, CancellationToken token)
    {
        try
        {
            T result = await operation().ConfigureAwait(false);
            Recovered();
            return result;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Failed(ex);
            return default;
        }
    }
#pragma warning restore CA1031

    private void Failed(Exception ex)
    {
        Volatile.Write(ref _skipUntilTicks, (_time.GetUtcNow() + _retryAfter).UtcTicks);
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            LogOutage(_logger, _retryAfter, ex.GetType().Name, ex.Message);
        }
    }

    private void Recovered()
    {
        if (Volatile.Read(ref _down) == 1 && Interlocked.Exchange(ref _down, 0) == 1)
        {
            LogRecovered(_logger);
        }
    }

    [LoggerMessage(20, LogLevel.Warning, "The distributed cache is unavailable ({ErrorType}: {Error}); requests are served from the local cache or the provider, and it is retried every {RetryAfter}.")]
    private static partial void LogOutage(ILogger logger, TimeSpan retryAfter, string errorType, string error);

    [LoggerMessage(21, LogLevel.Information, "The distributed cache is available again.")]
    private static partial void LogRecovered(ILogger logger);
}
