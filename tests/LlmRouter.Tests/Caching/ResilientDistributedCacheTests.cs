using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
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
    public async Task Failures_become_misses_writes_are_dropped_and_the_outage_is_logged_once()
    {
        _inner.GetAsync(Arg.Any<string>(), Arg.Any<CancellationToken>()).ThrowsAsync(new TimeoutException("redis down"));
        _inner.SetAsync(Arg.Any<string>(), Arg.Any<byte[]>(), Arg.Any<DistributedCacheEntryOptions>(), Arg.Any<CancellationToken>()).ThrowsAsync(new TimeoutException("redis down"));
        using ResilientDistributedCache cache = Create();

        Assert.Null(await cache.GetAsync("k"));
        await cache.SetAsync("k", [1], new DistributedCacheEntryOptions());
        Assert.Null(await cache.GetAsync("k"));

        Assert.True(cache.IsDown);
        await _inner.Received(1).GetAsync("k", Arg.Any<CancellationToken>());
        await _inner.DidNotReceive().SetAsync(Arg.Any<string>(), Arg.Any<byte[]>(), Arg.Any<DistributedCacheEntryOptions>(), Arg.Any<CancellationToken>());
        Assert.Single(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
    }

    [Fact]
    public async Task After_an_outage_requests_never_touch_the_tier_and_a_background_probe_finds_it_back_without_any_request()
    {
        bool up = false;
        _inner.GetAsync(Arg.Any<string>(), Arg.Any<CancellationToken>()).Returns(_ => Volatile.Read(ref up)
            ? Task.FromResult<byte[]?>([42])
            : Task.FromException<byte[]?>(new IOException("reset")));
        using ResilientDistributedCache cache = Create();
        Assert.Null(await cache.GetAsync("k"));

        for (int i = 1; i <= 3; i++)
        {
            await ProbedAsync(i); // the probe runs in the background, off the request path
            Assert.Null(await cache.GetAsync("k"));
            cache.Set("k", [1], new DistributedCacheEntryOptions());
            await cache.RefreshAsync("k");
            await cache.RemoveAsync("k");
        }

        Assert.True(cache.IsDown);
        await _inner.Received(1).GetAsync("k", Arg.Any<CancellationToken>());
        Assert.DoesNotContain(_inner.ReceivedCalls(), c => c.GetMethodInfo().Name != nameof(IDistributedCache.GetAsync));

        Volatile.Write(ref up, true);
        await ProbedAsync(4);
        await Eventually.Until(() => !cache.IsDown);

        Assert.Equal(4, Probes());
        Assert.Equal([42], await cache.GetAsync("k"));
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Information && r.Message.Contains("available again", StringComparison.Ordinal));
    }

    [Fact]
    public void A_probe_interval_that_is_not_positive_is_refused_naming_the_option()
    {
        var services = new ServiceCollection();
        services.AddSingleton(_inner);

        ArgumentOutOfRangeException ex = Assert.Throws<ArgumentOutOfRangeException>(() => services.AddResilientDistributedCache(o => o.RetryAfter = TimeSpan.Zero));

        Assert.Contains("ResilientDistributedCacheOptions.RetryAfter", ex.Message, StringComparison.Ordinal);
        Assert.Contains("greater than zero", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_dispose_an_outage_starts_no_probe_and_disposing_again_is_harmless()
    {
        _inner.GetAsync(Arg.Any<string>(), Arg.Any<CancellationToken>()).ThrowsAsync(new TimeoutException("redis down"));
        ResilientDistributedCache cache = Create();
        cache.Dispose();
        cache.Dispose();

        Assert.Null(await cache.GetAsync("k"));
        _time.Advance(TimeSpan.FromSeconds(15));

        Assert.True(cache.IsDown);
        Assert.Equal(0, Probes());
    }

    /// <summary>
    /// Moves time on, an interval at a time, until the probe has run <paramref name="count"/> times (a probe registers its
    /// next wait on the clock after it has run, possibly on another thread, so one move may come too early).
    /// </summary>
    private Task ProbedAsync(int count) => Eventually.Until(() =>
    {
        if (Probes() >= count)
        {
            return true;
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        return false;
    });

    private int Probes() => _inner.ReceivedCalls().Count(c => c.GetArguments()[0] is string key && key != "k");

    [Fact]
    public async Task Caller_cancellation_is_not_an_outage()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        _inner.GetAsync("k", cts.Token).ThrowsAsync(new OperationCanceledException(cts.Token));
        using ResilientDistributedCache cache = Create();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.GetAsync("k", cts.Token));
        Assert.False(cache.IsDown);
    }
}
