using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LlmRouter.Budgets.Internal;
using LlmRouter.IntegrationTests.Caching;
using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace LlmRouter.IntegrationTests.Budgets;

/// <summary>
/// The budget layer over <see cref="RedisBudgetStore"/> and a real redis-server: several application instances (each its
/// own connection, router and budget layer) share one ledger.
/// </summary>
public class RedisBudgetStoreTests
{
    private const long NanosPerRequest = 1_005_000; // 5 tokens in at $1/M + 500 out at $2/M = $0.001005
    private const string TotalKey = "llmrouter:budget:scope:org:acme:total";

    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "hi")];

    [Fact]
    public async Task Four_instances_sending_a_thousand_concurrent_requests_never_overspend_a_shared_one_dollar_budget_by_more_than_one_reservation()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        FakeTimeProvider time = RealNow();
        var instances = new Instance[4];
        for (int i = 0; i < instances.Length; i++)
        {
            instances[i] = await Instance.StartAsync(Patient(redis), time, LedgerFailureMode.FailClosed, Usd(1m, BudgetWindow.Total));
        }

        try
        {
            int served = 0, denied = 0;
            await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(async () =>
            {
                try
                {
                    await instances[i % instances.Length].AskAsync();
                    Interlocked.Increment(ref served);
                }
                catch (BudgetExceededException)
                {
                    Interlocked.Increment(ref denied);
                }
            })));

            (long spent, long reserved) = await ReadAsync(instances[0].Connection, TotalKey);
            long reservation = Cost.Of(Price(), TokenEstimator.UpperBound(Prompt, null), 500);
            Assert.True(spent <= Cost.NanosPerUsd + reservation, $"spent {spent} nano-USD");
            Assert.Equal(0, reserved);
            Assert.Equal(served * NanosPerRequest, spent);
            Assert.Equal(1000, served + denied);
            Assert.True(denied > 0 && served > 900, $"served {served}, denied {denied}");
            Assert.Equal(served, instances.Sum(x => x.Provider.Calls));
        }
        finally
        {
            foreach (Instance instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_second_instance_sees_the_first_ones_spend_and_a_day_key_expires_after_its_window_while_a_total_key_never_does()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        FakeTimeProvider time = RealNow();
        BudgetLimit[] budgets = [Usd(0.0015m, BudgetWindow.Day), Usd(1m, BudgetWindow.Total)];
        await using Instance first = await Instance.StartAsync(Patient(redis), time, LedgerFailureMode.FailClosed, budgets);
        await using Instance second = await Instance.StartAsync(Patient(redis), time, LedgerFailureMode.FailClosed, budgets);

        await first.AskAsync();

        BudgetUsage day = (await second.Client.GetUsageAsync("org:acme")).Single(u => u.Account.Window == BudgetWindow.Day);
        Assert.Equal((0.001005m, 0m), (day.SpentUsd, day.ReservedUsd));
        BudgetExceededException ex = await Assert.ThrowsAsync<BudgetExceededException>(second.AskAsync);
        Assert.Equal((BudgetWindow.Day, 0.001005m), (ex.Window, ex.SpentUsd));
        Assert.Equal(0, second.Provider.Calls);

        DateTimeOffset now = time.GetUtcNow();
        string dayKey = "llmrouter:budget:scope:org:acme:day:" + now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        IDatabase db = first.Connection.GetDatabase();
        Assert.Equal((NanosPerRequest, 0L), await ReadAsync(first.Connection, dayKey));
        Assert.Equal((NanosPerRequest, 0L), await ReadAsync(first.Connection, TotalKey));
        TimeSpan expected = now.UtcDateTime.Date.AddDays(1).AddHours(1) - now.UtcDateTime; // window end + 1 hour of grace
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(dayKey);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, expected - TimeSpan.FromSeconds(10), expected);
        Assert.True(await db.KeyExistsAsync(TotalKey));
        Assert.Null(await db.KeyTimeToLiveAsync(TotalKey));
    }

    [Fact]
    public async Task While_redis_is_down_requests_fail_closed_without_reaching_the_provider_or_pass_when_fail_open_and_reservations_work_again_after_a_restart()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        FakeTimeProvider time = RealNow();
        await using Instance closed = await Instance.StartAsync(redis.Configuration, time, LedgerFailureMode.FailClosed, Usd(1m, BudgetWindow.Total));
        await using Instance open = await Instance.StartAsync(redis.Configuration, time, LedgerFailureMode.FailOpen, Usd(1m, BudgetWindow.Total));
        await closed.AskAsync();
        await open.AskAsync();

        await redis.StopAsync();
        Task<BudgetLedgerUnavailableException> denied = Assert.ThrowsAsync<BudgetLedgerUnavailableException>(closed.AskAsync);
        Task<ChatResponse> served = open.AskAsync();
        await Task.WhenAll(denied, served);

        Assert.True((await denied).InnerException is RedisConnectionException or RedisTimeoutException, (await denied).InnerException?.GetType().Name);
        Assert.Equal(1, closed.Provider.Calls);
        Assert.Equal(2, open.Provider.Calls);

        await redis.RestartAsync();
        await Eventually.Until(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(5)); // the ledger's background probe
            try
            {
                await closed.AskAsync();
                return true;
            }
            catch (BudgetLedgerUnavailableException)
            {
                return false;
            }
        }, interval: TimeSpan.FromMilliseconds(50)); // Redis coming back
        (long spent, long reserved) = await ReadAsync(closed.Connection, TotalKey);
        await closed.AskAsync();
        Assert.Equal((spent + NanosPerRequest, reserved), await ReadAsync(closed.Connection, TotalKey));
    }

    [Fact]
    public async Task Once_redis_is_known_down_fail_closed_requests_are_rejected_without_a_command_to_redis_and_usage_reads_throw_the_typed_exception()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        FakeTimeProvider time = RealNow();
        await using Instance app = await Instance.StartAsync(redis.Configuration, time, LedgerFailureMode.FailClosed, Usd(1m, BudgetWindow.Total));
        await app.AskAsync();

        await redis.StopAsync();
        await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(app.AskAsync); // shows the outage
        int reservations = app.Store.Reservations;
        for (int i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5)); // past the probe interval: only the probe may go to Redis
            BudgetLedgerUnavailableException denied = await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(app.AskAsync);
            Assert.True(denied.InnerException is RedisConnectionException or RedisTimeoutException, denied.InnerException?.GetType().Name);
        }

        BudgetLedgerUnavailableException usage = await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => app.Client.GetUsageAsync("org:acme"));
        Assert.True(usage.InnerException is RedisConnectionException or RedisTimeoutException, usage.InnerException?.GetType().Name);
        Assert.Equal(reservations, app.Store.Reservations);
        Assert.Equal(1, app.Provider.Calls);
        await Eventually.Until(() => app.Store.Reads > 0); // the probe

        await redis.RestartAsync();
        await Eventually.Until(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(5));
            try
            {
                await app.Client.GetUsageAsync("org:acme");
                return true;
            }
            catch (BudgetLedgerUnavailableException)
            {
                return false;
            }
        }, interval: TimeSpan.FromMilliseconds(50)); // no request on the way: the probe alone finds Redis back
        Assert.Equal(reservations, app.Store.Reservations);
        await app.AskAsync();
        Assert.Equal((NanosPerRequest, 0L), await ReadAsync(app.Connection, TotalKey)); // Redis ran without persistence: the first request's spend is gone
    }

    [Fact]
    public async Task With_appendonly_yes_the_spend_survives_a_redis_restart_and_without_persistence_it_is_lost()
    {
        await using RedisServer durable = await RedisServer.StartAsync(appendOnly: true);
        await using RedisServer volatileRedis = await RedisServer.StartAsync();
        FakeTimeProvider time = RealNow();
        await using Instance onDurable = await Instance.StartAsync(Patient(durable), time, LedgerFailureMode.FailClosed, Usd(1m, BudgetWindow.Total));
        await using Instance onVolatile = await Instance.StartAsync(Patient(volatileRedis), time, LedgerFailureMode.FailClosed, Usd(1m, BudgetWindow.Total));
        await onDurable.AskAsync();
        await onDurable.AskAsync();
        await onVolatile.AskAsync();

        await durable.ShutDownAsync(); // only what Redis persisted survives (a kill, unlike a shutdown, can lose the last second or two with appendfsync everysec)
        await volatileRedis.ShutDownAsync();
        await durable.RestartAsync();
        await volatileRedis.RestartAsync();

        BudgetUsage kept = await UsageAfterRestartAsync(onDurable, time);
        BudgetUsage lost = await UsageAfterRestartAsync(onVolatile, time);
        Assert.Equal(2 * 0.001005m, kept.SpentUsd);
        Assert.Equal(0m, lost.SpentUsd);
    }

    [Fact]
    public async Task A_request_settled_after_its_window_rolled_lands_in_the_window_it_reserved_in_and_the_new_window_starts_at_zero()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        FakeTimeProvider time = RealNow();
        await using Instance app = await Instance.StartAsync(Patient(redis), time, LedgerFailureMode.FailClosed, Usd(1m, BudgetWindow.Minute));
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.Holding = () =>
        {
            entered.TrySetResult();
            return release.Task;
        };
        DateTimeOffset reservedAt = time.GetUtcNow();
        string firstWindow = "llmrouter:budget:scope:org:acme:minute:" + reservedAt.UtcDateTime.ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture);
        long reservation = Cost.Of(Price(), TokenEstimator.UpperBound(Prompt, null), 500);

        Task<ChatResponse> request = app.AskAsync();
        await entered.Task;
        Assert.Equal((0L, reservation), await ReadAsync(app.Connection, firstWindow));
        time.Advance(TimeSpan.FromMinutes(1));
        release.SetResult();
        await request;

        Assert.Equal((NanosPerRequest, 0L), await ReadAsync(app.Connection, firstWindow));
        BudgetUsage second = (await app.Client.GetUsageAsync("org:acme")).Single();
        Assert.Equal((0m, 0m), (second.SpentUsd, second.ReservedUsd));
        Assert.True(second.WindowStart > reservedAt);
        TimeSpan? ttl = await app.Connection.GetDatabase().KeyTimeToLiveAsync(firstWindow);
        Assert.NotNull(ttl);
        Assert.True(ttl > TimeSpan.FromMinutes(59) && ttl <= TimeSpan.FromMinutes(61), $"PTTL {ttl}");
    }

    [Fact]
    public async Task AddRedisBudgetStore_starts_while_redis_is_down_and_the_budget_layer_uses_it_once_redis_is_up()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        FakeTimeProvider time = RealNow();
        TestChatClient provider = Provider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddRedisBudgetStore($"127.0.0.1:{redis.Port},connectTimeout=500,syncTimeout=1000,asyncTimeout=1000", o => o.KeyPrefix = "app1:");
        services.AddChatClient(sp => new LlmRouterChatClient(RouterOptions(provider), sp, time))
            .UseBudgets(o => o.Scopes.Add(Policy("org:acme", Usd(1m, BudgetWindow.Total))));
        await using ServiceProvider container = services.BuildServiceProvider();

        IChatClient client = container.GetRequiredService<IChatClient>(); // no abortConnect in the string: it must not throw

        Assert.IsType<RedisBudgetStore>(client.GetService<BudgetChatClient>()!.Store);
        await Assert.ThrowsAsync<BudgetLedgerUnavailableException>(() => client.GetResponseAsync(Prompt, ForAcme()));
        await redis.RestartAsync();
        await Eventually.Until(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(5)); // the ledger's background probe
            try
            {
                await client.GetResponseAsync(Prompt, ForAcme());
                return true;
            }
            catch (BudgetLedgerUnavailableException)
            {
                return false;
            }
        }, interval: TimeSpan.FromMilliseconds(50)); // Redis coming back
        await using ConnectionMultiplexer probe = await ConnectionMultiplexer.ConnectAsync(Patient(redis));
        Assert.Equal((NanosPerRequest, 0L), await ReadAsync(probe, "app1:scope:org:acme:total"));
    }

    [Fact]
    public async Task On_a_redis_cluster_the_store_refuses_keys_without_a_hash_tag_and_reserves_across_scopes_with_one()
    {
        await using ClusterNode node = await ClusterNode.StartAsync();
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(node.Configuration);

        NotSupportedException ex = Assert.Throws<NotSupportedException>(() => new RedisBudgetStore(connection));
        Assert.Contains("KeyPrefix", ex.Message, StringComparison.Ordinal);

        FakeTimeProvider time = RealNow();
        TestChatClient provider = Provider();
        var options = new BudgetOptions();
        options.Scopes.Add(Policy("org:acme", Usd(1m, BudgetWindow.Total)));
        options.Scopes.Add(Policy("team:search", Usd(0.0015m, BudgetWindow.Day)));
        var store = new RedisBudgetStore(connection, new RedisBudgetStoreOptions { KeyPrefix = "{budget}:" });
        var client = new BudgetChatClient(new LlmRouterChatClient(RouterOptions(provider), timeProvider: time), options, store, timeProvider: time);
        ChatOptions both = new ChatOptions { MaxOutputTokens = 500 }.WithScopePath(new ScopePath("org:acme", "team:search"));

        await client.GetResponseAsync(Prompt, both);
        await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync(Prompt, both));

        Assert.Equal((NanosPerRequest, 0L), await ReadAsync(connection, "{budget}:scope:org:acme:total"));
        Assert.Equal(1, provider.Calls);
    }

    /// <summary>Reads the one budget of org:acme once the instance's connection is back (Redis was restarted).</summary>
    private static async Task<BudgetUsage> UsageAfterRestartAsync(Instance app, FakeTimeProvider time)
    {
        BudgetUsage? usage = null;
        await Eventually.Until(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(5)); // the ledger's background probe, should a read have failed
            try
            {
                usage = (await app.Client.GetUsageAsync("org:acme")).Single();
                return true;
            }
            catch (BudgetLedgerUnavailableException)
            {
                return false;
            }
        }, interval: TimeSpan.FromMilliseconds(50));
        return usage!.Value;
    }

    private static FakeTimeProvider RealNow() => new(TimeProvider.System.GetUtcNow()); // key expiries are absolute: keep them in Redis's future

    /// <summary>The fixture's connection string with timeouts that a loaded CI machine will not hit.</summary>
    private static string Patient(RedisServer redis) => $"127.0.0.1:{redis.Port},abortConnect=false,connectTimeout=2000,syncTimeout=5000,asyncTimeout=5000";

    private static ModelPrice Price() => new() { InputPerMillion = 1, OutputPerMillion = 2 };

    private static BudgetLimit Usd(decimal limit, BudgetWindow window) => new() { LimitUsd = limit, Window = window };

    private static ChatOptions ForAcme() => new ChatOptions { MaxOutputTokens = 500 }.WithScopePath(new ScopePath("org:acme"));

    private static ScopePolicy Policy(string scope, params BudgetLimit[] budgets)
    {
        var policy = new ScopePolicy { Scope = scope };
        foreach (BudgetLimit b in budgets)
        {
            policy.Budgets.Add(b);
        }

        return policy;
    }

    private static LlmRouterOptions RouterOptions(IChatClient provider)
    {
        var options = new LlmRouterOptions();
        options.Deployments.Add(new DeploymentOptions { Name = "a", Client = provider, Price = Price() });
        return options;
    }

    private static async Task<(long Spent, long Reserved)> ReadAsync(IConnectionMultiplexer connection, string key)
    {
        RedisValue[] v = await connection.GetDatabase().HashGetAsync(key, ["spent", "reserved"]);
        return ((long)v[0], (long)v[1]);
    }

    /// <summary>One application instance: its own Redis connection, router and budget layer.</summary>
    private sealed class Instance : IAsyncDisposable
    {
        private Instance(ConnectionMultiplexer connection, FakeTimeProvider time, LedgerFailureMode mode, BudgetLimit[] budgets)
        {
            Connection = connection;
            Provider = RedisBudgetStoreTests.Provider(() => Holding?.Invoke() ?? Task.CompletedTask);
            var options = new BudgetOptions { OnLedgerFailure = mode };
            options.Scopes.Add(Policy("org:acme", budgets));
            Store = new CountingStore(new RedisBudgetStore(connection));
            Client = new BudgetChatClient(new LlmRouterChatClient(RouterOptions(Provider), timeProvider: time), options, Store, timeProvider: time);
        }

        public ConnectionMultiplexer Connection { get; }

        /// <summary>The instance's <see cref="RedisBudgetStore"/>, counting the calls the budget layer makes.</summary>
        public CountingStore Store { get; }

        public TestChatClient Provider { get; }

        /// <summary>Awaited by the provider before answering, to hold a request in flight.</summary>
        public Func<Task>? Holding { get; set; }

        public BudgetChatClient Client { get; }

        public static async Task<Instance> StartAsync(string configuration, FakeTimeProvider time, LedgerFailureMode mode, params BudgetLimit[] budgets) =>
            new(await ConnectionMultiplexer.ConnectAsync(configuration), time, mode, budgets);

        public Task<ChatResponse> AskAsync() => Client.GetResponseAsync(Prompt, ForAcme());

        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }

    /// <summary>
    /// A provider that reports 5 tokens in and 500 out, yielding first so concurrent requests interleave; it awaits
    /// <paramref name="holding"/>, if given, before answering, to hold a request in flight.
    /// </summary>
    private static TestChatClient Provider(Func<Task>? holding = null) => new("a")
    {
        GetResponseAsyncCallback = async (_, _, _) =>
        {
            await Task.Yield();
            if (holding is not null)
            {
                await holding();
            }

            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")) { Usage = new UsageDetails { InputTokenCount = 5, OutputTokenCount = 500 } };
        },
    };

    /// <summary>Passes every call to a store and counts reservations and reads.</summary>
    private sealed class CountingStore(BudgetStore inner) : BudgetStore
    {
        private int _reservations;
        private int _reads;

        public int Reservations => Volatile.Read(ref _reservations);

        public int Reads => Volatile.Read(ref _reads);

        public override ValueTask<BudgetReservation> ReserveAsync(IReadOnlyList<BudgetAccount> accounts, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reservations);
            return inner.ReserveAsync(accounts, amountNanos, now, cancellationToken);
        }

        public override ValueTask SettleAsync(IReadOnlyList<BudgetAccount> accounts, DateTimeOffset reservedAt, long reservedNanos, long actualNanos, CancellationToken cancellationToken) =>
            inner.SettleAsync(accounts, reservedAt, reservedNanos, actualNanos, cancellationToken);

        public override ValueTask<long> ChargeAsync(BudgetAccount account, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken) =>
            inner.ChargeAsync(account, amountNanos, now, cancellationToken);

        public override ValueTask<(long SpentNanos, long ReservedNanos)> GetAsync(BudgetAccount account, DateTimeOffset now, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return inner.GetAsync(account, now, cancellationToken);
        }
    }

    /// <summary>A one-node Redis Cluster owning every slot, so StackExchange.Redis sees cluster mode.</summary>
    private sealed class ClusterNode : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _directory;

        private ClusterNode(Process process, string directory, int port)
        {
            _process = process;
            _directory = directory;
            Configuration = $"127.0.0.1:{port},abortConnect=false,connectTimeout=2000,syncTimeout=5000,asyncTimeout=5000";
        }

        public string Configuration { get; }

        public static async Task<ClusterNode> StartAsync()
        {
            string binary = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("redis-server is not installed: run 'bash scripts/test.sh', which installs it (apt-get install -y redis-server).");
            int port = FreePort();
            string directory = Directory.CreateTempSubdirectory("llmrouter-cluster-").FullName;
            var process = Process.Start(new ProcessStartInfo(binary, $"--port {port} --bind 127.0.0.1 --cluster-enabled yes --save \"\" --appendonly no --protected-mode no")
            {
                WorkingDirectory = directory, // where the node writes nodes.conf
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var node = new ClusterNode(process, directory, port);
            try
            {
                await Until(port, "PING", "+PONG");
                await Until(port, "CLUSTER ADDSLOTSRANGE 0 16383", "+OK");
                await Until(port, "CLUSTER INFO", "cluster_state:ok");
                return node;
            }
            catch
            {
                await node.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }

        private static Task Until(int port, string command, string expected) =>
            Eventually.Until(() => AnswersAsync(port, command, expected), interval: TimeSpan.FromMilliseconds(10));

        /// <summary>Whether the node answers <paramref name="command"/> with a reply containing <paramref name="expected"/> (false while it is not listening yet).</summary>
        private static async Task<bool> AnswersAsync(int port, string command, string expected)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                NetworkStream stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
                byte[] buffer = new byte[4096];
                int n = await stream.ReadAsync(buffer);
                return Encoding.ASCII.GetString(buffer, 0, n).Contains(expected, StringComparison.Ordinal);
            }
            catch (SocketException)
            {
                return false;
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
