using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.IntegrationTests.Caching;

/// <summary>The response cache with Redis as HybridCache's distributed tier, against a real redis-server.</summary>
public class RedisCacheTests
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "What is the capital of Italy?")];

    private sealed class Instance : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        public Instance(RedisServer redis, TestChatClient provider, ListLoggerProvider? logs = null)
        {
            var services = new ServiceCollection();
            services.AddLogging(b =>
            {
                if (logs is not null)
                {
                    b.AddProvider(logs);
                }
            });
            services.AddStackExchangeRedisCache(o => o.Configuration = redis.Configuration);
            services.AddResilientDistributedCache(o => o.RetryAfter = TimeSpan.FromMilliseconds(200));
            services.AddHybridCache();
            services.AddChatClient(provider).UseResponseCache();
            _services = services.BuildServiceProvider();
            Client = _services.GetRequiredService<IChatClient>();
        }

        public IChatClient Client { get; }

        /// <summary>Waits until the instance has a live Redis connection, so a cold connect under load is not an "outage".</summary>
        public Task ConnectedAsync() => Eventually.Until(async () =>
        {
            var l2 = (ResilientDistributedCache)_services.GetRequiredService<Microsoft.Extensions.Caching.Distributed.IDistributedCache>();
            await l2.GetAsync("warm-up");
            return !l2.IsDown;
        }, interval: TimeSpan.FromMilliseconds(50));

        public ValueTask DisposeAsync() => _services.DisposeAsync();
    }

    [Fact]
    public async Task Two_instances_share_hits_through_redis()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        TestChatClient provider = CountingProvider();
        await using var first = new Instance(redis, provider);
        await using var second = new Instance(redis, provider);
        await first.ConnectedAsync();
        await second.ConnectedAsync();

        ChatResponse a = await first.Client.GetResponseAsync(Prompt);
        await redis.WaitForKeysAsync(1); // HybridCache writes its distributed tier in the background, after the caller has the answer
        ChatResponse b = await second.Client.GetResponseAsync(Prompt);

        Assert.Equal("Rome #1", a.Text);
        Assert.Equal("Rome #1", b.Text);
        Assert.Equal(1, provider.Calls);
    }

    [Fact]
    public async Task Requests_succeed_while_redis_is_down_the_outage_is_logged_once_and_redis_is_used_again_after_restart()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        TestChatClient provider = CountingProvider();
        var logs = new ListLoggerProvider();
        await using var first = new Instance(redis, provider, logs);
        await first.ConnectedAsync();
        await first.Client.GetResponseAsync(Prompt);
        int outages = Count(logs, "distributed cache is unavailable"), recoveries = Count(logs, "available again");

        await redis.StopAsync();
        ChatResponse fromLocal = await first.Client.GetResponseAsync(Prompt);
        ChatResponse fresh1 = await first.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "and of Spain?")]);
        ChatResponse fresh2 = await first.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "and of Portugal?")]);

        Assert.Equal("Rome #1", fromLocal.Text);
        Assert.StartsWith("Rome #", fresh1.Text, StringComparison.Ordinal);
        Assert.StartsWith("Rome #", fresh2.Text, StringComparison.Ordinal);
        Assert.Equal(outages + 1, Count(logs, "distributed cache is unavailable"));

        await redis.RestartAsync();
        var probe = new ChatMessage[] { new(ChatRole.User, "after the restart") };
        await Eventually.Until(async () =>
        {
            await first.Client.GetResponseAsync([new ChatMessage(ChatRole.User, $"nudge {Guid.NewGuid()}")]);
            return Count(logs, "available again") == recoveries + 1;
        }, interval: TimeSpan.FromMilliseconds(50));
        int keys = await redis.CountKeysAsync();
        await first.Client.GetResponseAsync(probe);
        await redis.WaitForKeysAsync(keys + 1);
        int calls = provider.Calls;

        await using var second = new Instance(redis, provider);
        await second.ConnectedAsync();
        await second.Client.GetResponseAsync(probe);
        Assert.Equal(calls, provider.Calls);
    }

    [Fact]
    public async Task Once_redis_is_known_down_requests_do_not_touch_it_and_a_background_probe_finds_it_back_after_a_restart()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        var time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var redisCache = new CountingDistributedCache(new RedisCache(new RedisCacheOptions { Configuration = redis.Configuration }));
        TestChatClient provider = CountingProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<IDistributedCache>(_ => redisCache);
        services.AddResilientDistributedCache(o => o.RetryAfter = TimeSpan.FromSeconds(5));
        services.AddHybridCache();
        services.AddChatClient(provider).UseResponseCache();
        await using ServiceProvider container = services.BuildServiceProvider();
        IChatClient client = container.GetRequiredService<IChatClient>();
        var l2 = (ResilientDistributedCache)container.GetRequiredService<IDistributedCache>();
        await Eventually.Until(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(5)); // a cold connect that timed out is probed again
            return await l2.GetAsync("warm-up") is null && !l2.IsDown;
        }, interval: TimeSpan.FromMilliseconds(50));
        await client.GetResponseAsync(Prompt);
        await redis.WaitForKeysAsync(1);

        await redis.StopAsync();
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "and of Spain?")]); // shows the outage
        Assert.True(l2.IsDown);
        int requestCalls = redisCache.RequestCalls;
        for (int i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5)); // past the probe interval: only the probe may go to Redis
            ChatResponse fresh = await client.GetResponseAsync([new ChatMessage(ChatRole.User, $"and of country {i}?")]);
            Assert.StartsWith("Rome #", fresh.Text, StringComparison.Ordinal);
        }

        Assert.Equal(requestCalls, redisCache.RequestCalls);
        await Eventually.Until(() => redisCache.ProbeCalls > 0);

        await redis.RestartAsync();
        await Eventually.Until(() =>
        {
            time.Advance(TimeSpan.FromSeconds(5));
            return !l2.IsDown;
        }, interval: TimeSpan.FromMilliseconds(50)); // no request on the way: the probe alone finds Redis back
        Assert.Equal(requestCalls, redisCache.RequestCalls);
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "after the restart")]);
        await redis.WaitForKeysAsync(1);
        Assert.True(redisCache.RequestCalls > requestCalls);
    }

    private static int Count(ListLoggerProvider logs, string text) => logs.Messages.Count(m => m.Contains(text, StringComparison.Ordinal));

    /// <summary>A provider answering "Rome #n" to its n-th call, so a cached answer tells itself apart from a fresh one.</summary>
    private static TestChatClient CountingProvider()
    {
        int answers = 0;
        return new TestChatClient("provider")
        {
            GetResponseAsyncCallback = (_, _, _) =>
                Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"Rome #{Interlocked.Increment(ref answers)}"))),
        };
    }
}

public sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();

    public IReadOnlyList<string> Messages => [.. _messages];

    public ILogger CreateLogger(string categoryName) => new Logger(_messages);

    public void Dispose()
    {
    }

    private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            messages.Enqueue(formatter(state, exception));
    }
}

/// <summary>Counts the calls that reach a distributed cache: the resilient wrapper's probe apart from everything else.</summary>
public sealed class CountingDistributedCache(IDistributedCache inner) : IDistributedCache, IDisposable
{
    private int _probeCalls;
    private int _requestCalls;

    public int ProbeCalls => Volatile.Read(ref _probeCalls);

    public int RequestCalls => Volatile.Read(ref _requestCalls);

    public byte[]? Get(string key) => inner.Get(Count(key));

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => inner.GetAsync(Count(key), token);

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => inner.Set(Count(key), value, options);

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) => inner.SetAsync(Count(key), value, options, token);

    public void Refresh(string key) => inner.Refresh(Count(key));

    public Task RefreshAsync(string key, CancellationToken token = default) => inner.RefreshAsync(Count(key), token);

    public void Remove(string key) => inner.Remove(Count(key));

    public Task RemoveAsync(string key, CancellationToken token = default) => inner.RemoveAsync(Count(key), token);

    public void Dispose() => (inner as IDisposable)?.Dispose();

    private string Count(string key)
    {
        Interlocked.Increment(ref key == ResilientDistributedCache.ProbeKey ? ref _probeCalls : ref _requestCalls);
        return key;
    }
}
