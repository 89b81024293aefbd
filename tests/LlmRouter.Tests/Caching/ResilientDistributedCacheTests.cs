using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace LlmRouter.Tests.Caching;

public class ResilientDistributedCacheTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly IDistributedCache _inner = Substitute.For<IDistributedCache>();
    private readonly FakeLogger<ResilientDistributedCache> _logger = new();

    private ResilientDistributedCache Create() =>
        new(_inner, new ResilientDistributedCacheOptions { RetryAfter = TimeSpan.FromSeconds(5) }, _time, _logger);

    [Fact]
    public async Task Failures_become_misses_the_tier_is_skipped_for_the_window_and_the_outage_is_logged_once()
    {
        _inner.GetAsync(Arg.Any<string>(), Arg.Any<CancellationToken>()).ThrowsAsync(new TimeoutException("redis down"));
        _inner.SetAsync(Arg.Any<string>(), Arg.Any<byte[]>(), Arg.Any<DistributedCacheEntryOptions>(), Arg.Any<CancellationToken>()).ThrowsAsync(new TimeoutException("redis down"));
        ResilientDistributedCache cache = Create();

        Assert.Null(await cache.GetAsync("k"));
        await cache.SetAsync("k", [1], new DistributedCacheEntryOptions());
        Assert.Null(await cache.GetAsync("k"));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(await cache.GetAsync("k"));

        Assert.True(cache.IsDown);
        await _inner.Received(2).GetAsync("k", Arg.Any<CancellationToken>());
        await _inner.DidNotReceive().SetAsync(Arg.Any<string>(), Arg.Any<byte[]>(), Arg.Any<DistributedCacheEntryOptions>(), Arg.Any<CancellationToken>());
        Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
    }

    [Fact]
    public async Task The_tier_is_used_again_when_it_answers_and_recovery_is_logged()
    {
        int calls = 0;
        _inner.GetAsync("k", Arg.Any<CancellationToken>()).Returns(_ => Interlocked.Increment(ref calls) == 1
            ? Task.FromException<byte[]?>(new IOException("reset"))
            : Task.FromResult<byte[]?>([42]));
        ResilientDistributedCache cache = Create();

        Assert.Null(await cache.GetAsync("k"));
        _time.Advance(TimeSpan.FromSeconds(6));
        byte[]? value = await cache.GetAsync("k");

        Assert.Equal([42], value);
        Assert.False(cache.IsDown);
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Information && r.Message.Contains("available again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Caller_cancellation_is_not_an_outage()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        _inner.GetAsync("k", cts.Token).ThrowsAsync(new OperationCanceledException(cts.Token));
        ResilientDistributedCache cache = Create();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.GetAsync("k", cts.Token));
        Assert.False(cache.IsDown);
    }
}
