using System.Globalization;
using StackExchange.Redis;

namespace LlmRouter;

/// <summary>
/// A <see cref="BudgetStore"/> in Redis, so every instance of an application shares one ledger: each account's window is
/// one hash at <see cref="RedisBudgetStoreOptions.KeyPrefix"/> + <see cref="BudgetAccount.WindowKey"/> with the integer
/// fields <c>spent</c> and <c>reserved</c> (nano-dollars). A reservation checks and charges all of a request's accounts
/// in one Lua script, which Redis runs atomically, so concurrent requests from any number of instances never overspend
/// a limit by more than one request's reservation.
/// </summary>
/// <remarks>
/// <para>
/// Window keys expire <see cref="RedisBudgetStoreOptions.WindowKeyGrace"/> after their window ends (keys of
/// <see cref="BudgetWindow.Total"/> budgets never do); run Redis with <c>maxmemory-policy noeviction</c> (or a
/// <c>allkeys-*</c> policy on a dedicated instance) so live counters are never evicted, and with persistence
/// (<c>appendonly yes</c>): a Redis that restarts without it starts every budget again at zero.
/// </para>
/// <para>
/// The scripts touch several keys at once, which a Redis Cluster allows only within one slot: the store refuses a
/// cluster unless <see cref="RedisBudgetStoreOptions.KeyPrefix"/> carries a hash tag, which puts every key on one shard.
/// </para>
/// <para>
/// Connection and timeout errors (<see cref="RedisConnectionException"/>, <see cref="RedisTimeoutException"/>) propagate:
/// the budget layer applies <see cref="BudgetOptions.OnLedgerFailure"/> and, until a background read finds Redis back,
/// no longer calls the store on the request path. A command is not abandoned once sent (cancellation
/// is checked before), so a reservation Redis made is always returned, and settled, rather than leaked. Limits are
/// compared in Lua's double-precision numbers: exact up to 2^53 nano-dollars (about 9 million US dollars) per window.
/// </para>
/// </remarks>
public sealed class RedisBudgetStore : BudgetStore
{
    // KEYS[i]: the accounts' window hashes. ARGV[1]: the amount; ARGV[1 + i]: the limit of KEYS[i];
    // ARGV[1 + #KEYS + i]: its expiry in Unix milliseconds, 0 for none. Checks every key before charging any.
    private const string ReserveScript = """
        local n = #KEYS
        local amount = tonumber(ARGV[1])
        for i = 1, n do
          local v = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
          if (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0) + amount > tonumber(ARGV[1 + i]) then
            return {0, i, v[1] or '0', v[2] or '0'}
          end
        end
        for i = 1, n do
          redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[1])
          local at = ARGV[1 + n + i]
          if at ~= '0' then redis.call('PEXPIREAT', KEYS[i], at) end
        end
        return {1}
        """;

    // ARGV[1]: minus the amount reserved; ARGV[2]: the amount spent; ARGV[2 + i]: the expiry of KEYS[i], 0 for none.
    private const string SettleScript = """
        for i = 1, #KEYS do
          if redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[1]) < 0 then
            redis.call('HSET', KEYS[i], 'reserved', 0)
          end
          redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
          local at = ARGV[2 + i]
          if at ~= '0' then redis.call('PEXPIREAT', KEYS[i], at) end
        end
        return 1
        """;

    // ARGV[1]: the amount spent; ARGV[2]: the expiry, 0 for none. Returns the spend as Redis stores it (exact, unlike a Lua number).
    private const string ChargeScript = """
        redis.call('HINCRBY', KEYS[1], 'spent', ARGV[1])
        local spent = redis.call('HGET', KEYS[1], 'spent')
        if ARGV[2] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
        return spent
        """;

    private static readonly RedisValue[] Fields = ["spent", "reserved"];

    private readonly IConnectionMultiplexer _multiplexer;
    private readonly string _prefix;
    private readonly TimeSpan _grace;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="multiplexer">The connection to Redis; the store does not dispose it.</param>
    /// <param name="options">Key prefix and expiry grace; default <see cref="RedisBudgetStoreOptions"/>'s defaults. Read once.</param>
    /// <exception cref="ArgumentException">The key prefix is null or the grace is negative.</exception>
    /// <exception cref="NotSupportedException">
    /// The connection is to a Redis Cluster and the key prefix has no hash tag, so one request's keys could live on
    /// different shards and could not be reserved atomically.
    /// </exception>
    public RedisBudgetStore(IConnectionMultiplexer multiplexer, RedisBudgetStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        options ??= new RedisBudgetStoreOptions();
        if (options.KeyPrefix is null)
        {
            throw new ArgumentException("RedisBudgetStoreOptions.KeyPrefix must not be null; use an empty string for no prefix.", nameof(options));
        }

        if (options.WindowKeyGrace < TimeSpan.Zero)
        {
            throw new ArgumentException($"RedisBudgetStoreOptions.WindowKeyGrace must not be negative; it is {options.WindowKeyGrace}.", nameof(options));
        }

        if (!HasHashTag(options.KeyPrefix))
        {
            foreach (IServer server in multiplexer.GetServers())
            {
                if (server.ServerType == ServerType.Cluster)
                {
                    throw new NotSupportedException(
                        $"RedisBudgetStore reserves all of a request's budgets in one atomic script, which a Redis Cluster runs only on keys of one slot, and {server.EndPoint} is a cluster node. "
                        + "Use a non-cluster Redis (or a single shard), or give RedisBudgetStoreOptions.KeyPrefix a hash tag, for example '{llmrouter:budget}:', to keep every budget key in one slot.");
                }
            }
        }

        _multiplexer = multiplexer;
        _prefix = options.KeyPrefix;
        _grace = options.WindowKeyGrace;
    }

    /// <inheritdoc />
    public override async ValueTask<BudgetReservation> ReserveAsync(IReadOnlyList<BudgetAccount> accounts, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        int n = accounts.Count;
        if (n == 0)
        {
            return BudgetReservation.Success;
        }

        var keys = new RedisKey[n];
        var args = new RedisValue[1 + (2 * n)];
        args[0] = amountNanos;
        for (int i = 0; i < n; i++)
        {
            BudgetAccount a = accounts[i];
            keys[i] = Key(a, now);
            args[1 + i] = a.LimitNanos;
            args[1 + n + i] = ExpiresAt(a, now);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await _multiplexer.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys, args).ConfigureAwait(false))!;
        return (int)reply[0] == 1
            ? BudgetReservation.Success
            : new BudgetReservation(false, (int)reply[1] - 1, (long)reply[2], (long)reply[3]);
    }

    /// <inheritdoc />
    public override async ValueTask SettleAsync(IReadOnlyList<BudgetAccount> accounts, DateTimeOffset reservedAt, long reservedNanos, long actualNanos, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        int n = accounts.Count;
        if (n == 0)
        {
            return;
        }

        var keys = new RedisKey[n];
        var args = new RedisValue[2 + n];
        args[0] = -reservedNanos;
        args[1] = actualNanos;
        for (int i = 0; i < n; i++)
        {
            keys[i] = Key(accounts[i], reservedAt);
            args[2 + i] = ExpiresAt(accounts[i], reservedAt);
        }

        cancellationToken.ThrowIfCancellationRequested();
        await _multiplexer.GetDatabase().ScriptEvaluateAsync(SettleScript, keys, args).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async ValueTask<long> ChargeAsync(BudgetAccount account, long amountNanos, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        cancellationToken.ThrowIfCancellationRequested();
        RedisResult spent = await _multiplexer.GetDatabase()
            .ScriptEvaluateAsync(ChargeScript, [Key(account, now)], [amountNanos, ExpiresAt(account, now)])
            .ConfigureAwait(false);
        return (long)spent;
    }

    /// <inheritdoc />
    public override async ValueTask<(long SpentNanos, long ReservedNanos)> GetAsync(BudgetAccount account, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        cancellationToken.ThrowIfCancellationRequested();
        RedisValue[] values = await _multiplexer.GetDatabase().HashGetAsync(Key(account, now), Fields).ConfigureAwait(false);
        return (ToLong(values[0]), ToLong(values[1]));
    }

    /// <summary>Whether every key that starts with <paramref name="prefix"/> hashes by the prefix's hash tag alone (a non-empty <c>{...}</c>).</summary>
    private static bool HasHashTag(string prefix)
    {
        int open = prefix.IndexOf('{', StringComparison.Ordinal);
        return open >= 0 && prefix.IndexOf('}', open + 1) > open + 1;
    }

    private static long ToLong(RedisValue value) => value.IsNull ? 0 : long.Parse((string)value!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private RedisKey Key(BudgetAccount account, DateTimeOffset at) => _prefix + account.WindowKey(at);

    /// <summary>When the key of the window containing <paramref name="at"/> may go, in Unix milliseconds; 0 for never.</summary>
    private long ExpiresAt(BudgetAccount account, DateTimeOffset at) =>
        account.WindowEnd(at) is { } end ? (end + _grace).ToUnixTimeMilliseconds() : 0;
}
