using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LlmRouter.Caching;
using LlmRouter.Caching.Internal;
using LlmRouter.Internal;
using LlmRouter.Pricing.Internal;
using LlmRouter.Routing.Internal;
using LlmRouter.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;

namespace LlmRouter;

/// <summary>
/// Caches answers in a <see cref="HybridCache"/> (a local tier, and a distributed tier such as Redis when one is
/// registered): identical concurrent misses make one call to the inner client, streaming and non-streaming requests
/// share entries, and each tenant partition sees only its own entries.
/// </summary>
/// <remarks>
/// <para>
/// Not cached: requests with a <see cref="ChatOptions.ConversationId"/> (the answer depends on server-side state), requests
/// naming a route the router under the cache does not have (they get the router's <see cref="UnknownRouteException"/>),
/// zero-data-retention requests (<see cref="RouteConstraints.RequireZeroDataRetention"/>), errors, answers a content filter
/// stopped (<see cref="ChatFinishReason.ContentFilter"/>, streamed or not: identical requests made while one is in flight
/// share it, later ones are sent again), and streams that fail or are abandoned before their end.
/// </para>
/// <para>
/// Non-streaming misses are coalesced by HybridCache's stampede protection. Streaming misses are coalesced per
/// instance: the first one starts a single enumeration of the inner stream, and every identical streaming request that
/// arrives while it runs replays its updates from the start and then follows it live. Each caller gets its own copy of
/// each update (a shallow one: the <see cref="AIContent"/> objects are shared and are to be treated as read-only). A
/// caller that cancels or stops enumerating just leaves; the inner stream is cancelled only when every caller has left.
/// If it fails, every caller still reading gets the original exception and nothing is stored. The answer is stored
/// once, when the first caller reads it to its end (so a stream every caller abandoned is not stored), under the first
/// request's <see cref="CacheControl"/> (<see cref="CacheControl.NoStore"/>, <see cref="CacheControl.TimeToLive"/>);
/// callers that joined count as hits. <see cref="CacheControl.NoCache"/> requests never join: they stream live on their
/// own. A non-streaming request that arrives while an identical stream is in flight does not join it either: it goes
/// through HybridCache as usual, so it may make a provider call of its own.
/// </para>
/// </remarks>
public sealed class ResponseCacheChatClient : DelegatingChatClient
{
    private const HybridCacheEntryFlags LookupOnly = HybridCacheEntryFlags.DisableUnderlyingData
        | HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite;

    private static readonly JsonSerializerOptions Json = AIJsonUtilities.DefaultOptions;
    private static readonly CacheControl Default = new();

    private readonly HybridCache _cache;
    private readonly ResponseCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, SharedStream> _inFlight = new(StringComparer.Ordinal);
    private long _hits;
    private long _misses;
    private long _bypassed;
    private long _outputTokensSaved;
    private long _inputTokensSaved;
    private long _costSavedNanos;
    private readonly ICacheHitAdmission? _admission;
    private readonly IRouterTopology? _router;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="innerClient">The client whose answers are cached (typically the router).</param>
    /// <param name="cache">The cache.</param>
    /// <param name="options">The options; defaults when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for entry ages; default <see cref="TimeProvider.System"/>.</param>
    public ResponseCacheChatClient(IChatClient innerClient, HybridCache cache, ResponseCacheOptions? options = null, TimeProvider? timeProvider = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
        _options = options ?? new ResponseCacheOptions();
        if (_options.TimeToLive <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.TimeToLive, "ResponseCacheOptions.TimeToLive must be positive.");
        }

        _time = timeProvider ?? TimeProvider.System;
        _admission = innerClient.GetService<ICacheHitAdmission>();
        _router = innerClient.GetService<IRouterTopology>();
    }

    /// <summary>Gets the hit, miss and bypass counts and the tokens the hits saved.</summary>
    public ResponseCacheStatistics Statistics => new(
        Interlocked.Read(ref _hits), Interlocked.Read(ref _misses), Interlocked.Read(ref _bypassed),
        Interlocked.Read(ref _outputTokensSaved), Interlocked.Read(ref _inputTokensSaved), Pricing.Internal.Cost.ToUsd(Interlocked.Read(ref _costSavedNanos)));

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfAnyNull(messages);
        return RequestSpan.ShouldStart(messages)
            ? RequestSpan.TraceAsync((Self: this, Messages: messages, Options: options, Token: cancellationToken), messages, options, static s => s.Self.GetResponseCoreAsync(s.Messages, s.Options, s.Token))
            : GetResponseCoreAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfAnyNull(messages);
        return RequestSpan.ShouldStart(messages)
            ? RequestSpan.TraceStreamAsync((Self: this, Messages: messages, Options: options), messages, options, static (s, ct) => s.Self.StreamCoreAsync(s.Messages, s.Options, ct), cancellationToken)
            : StreamCoreAsync(messages, options, cancellationToken);
    }

    private async Task<ChatResponse> GetResponseCoreAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        if (!Applies(options, out CacheControl control))
        {
            Interlocked.Increment(ref _bypassed);
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        string key = Key(messages, options, control);
        if (control.NoCache)
        {
            Missed(messages, options);
            ChatResponse fresh = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            await StoreAsync(key, fresh, control, cancellationToken).ConfigureAwait(false);
            return fresh;
        }

        var state = new Produce(this, messages, options);
        CachedResponse entry;
        try
        {
            entry = await _cache.GetOrCreateAsync(
                key,
                state,
                static async (s, ct) =>
                {
                    // HybridCache may run this on the thread pool without the caller's ExecutionContext (it does when the token
                    // can be cancelled): restore it, so the layers below see the caller's AsyncLocals (Activity.Current, an
                    // IScopePathSource reading the current HTTP user). In an async lambda this does not leak to HybridCache.
                    if (s.Context is { } context)
                    {
                        ExecutionContext.Restore(context);
                    }

                    s.Owner.Missed(s.Messages, s.Options);
                    ChatResponse response = s.Response = await s.Owner.InnerClient.GetResponseAsync(s.Messages, s.Options, ct).ConfigureAwait(false);
                    CachedResponse made = s.Owner.ToEntry(response);

                    // HybridCache stores whatever the factory returns; failing the factory is the only way to not store it.
                    return Storable(response) ? made : throw new UnstoredAnswerException(made);
                },
                EntryOptions(control, control.NoStore ? HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite : HybridCacheEntryFlags.None),
                tags: null,
                cancellationToken).ConfigureAwait(false);
        }
        catch (UnstoredAnswerException unstored)
        {
            entry = unstored.Entry; // a caller that joined the miss is served its answer, as one joining a stream is
        }

        if (state.Response is { } produced)
        {
            return produced; // counted as a miss when the factory ran, also when it failed
        }

        if (control.MaxAge is TimeSpan maxAge && _time.GetUtcNow() - entry.CreatedAt > maxAge)
        {
            Missed(messages, options);
            ChatResponse fresh = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            await StoreAsync(key, fresh, control, cancellationToken).ConfigureAwait(false);
            return fresh;
        }

        return Hit(entry, messages, options, streaming: false);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamCoreAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Applies(options, out CacheControl control))
        {
            Interlocked.Increment(ref _bypassed);
            await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        string key = Key(messages, options, control);
        if (control.NoCache)
        {
            // A fresh answer was asked for: no lookup and no joining a stream that may have started before the request.
            Missed(messages, options);
            var updates = new List<ChatResponseUpdate>();
            await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                updates.Add(update);
                yield return update;
            }

            // Only a stream that reached its end is stored; a failure or an abandoned enumeration never gets here.
            await StoreAsync(key, updates.ToChatResponse(), control, cancellationToken).ConfigureAwait(false);
            yield break;
        }

        SharedStream stream;
        bool producer = false;
        DateTimeOffset? admitted = null;
        while (true)
        {
            if (_inFlight.TryGetValue(key, out SharedStream? running))
            {
                // A caller joining another's stream is served by the cache: its scope's policies apply first (once).
                admitted ??= _admission?.Check(messages, options, streaming: true) ?? default;
                if (running.TryJoin())
                {
                    stream = running;
                    break;
                }

                // Abandoned or just ended (then it is stored): drop it if it is still there and look again.
                _inFlight.TryRemove(new KeyValuePair<string, SharedStream>(key, running));
            }

            CachedResponse? entry = await _cache.GetOrCreateAsync<CachedResponse?>(
                key, static _ => ValueTask.FromResult<CachedResponse?>(null), EntryOptions(control, LookupOnly), tags: null, cancellationToken).ConfigureAwait(false);
            if (entry is not null && (control.MaxAge is not TimeSpan maxAge || _time.GetUtcNow() - entry.CreatedAt <= maxAge))
            {
                foreach (ChatResponseUpdate update in Hit(entry, messages, options, streaming: true).ToChatResponseUpdates())
                {
                    yield return update;
                }

                yield break;
            }

            var started = new SharedStream(
                _inFlight,
                key,
                ct => InnerClient.GetStreamingResponseAsync(messages, options, ct),
                response => StoreAsync(key, response, control, CancellationToken.None)); // one caller's cancellation must not drop the others' store
            if (_inFlight.TryAdd(key, started))
            {
                started.Start();
                stream = started;
                producer = true;
                break;
            }
        }

        if (producer)
        {
            Missed(messages, options);
        }
        else
        {
            Interlocked.Increment(ref _hits);
            Served(messages, options, costSavedUsd: null);
        }
        try
        {
            await foreach (ChatResponseUpdate update in stream.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }
        }
        finally
        {
            stream.Leave();
        }

        if (!producer)
        {
            JoinedStreamEnded(stream, options, admitted);
        }
    }

    /// <summary>Counts what a caller that joined another caller's stream saved (statistics, metric), and audits its cache hit.</summary>
    private void JoinedStreamEnded(SharedStream stream, ChatOptions? options, DateTimeOffset? admitted)
    {
        decimal saved = stream.Response?.GetCost()?.Usd ?? 0m;
        Interlocked.Add(ref _costSavedNanos, Pricing.Internal.Cost.ToNanos(saved));
        RecordCostSaved(options, saved);
        Saved(stream.Response?.Usage);
        _admission?.Audit(options, streaming: true, saved, admitted ?? default);
    }

    /// <summary>Counts a cacheable request passed on to the inner client (statistics, metric, span attribute).</summary>
    private void Missed(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        Interlocked.Increment(ref _misses);
        RequestSpan.Find(messages)?.SetTag(RouterTelemetry.Tags.CacheHit, false);
        if (RouterTelemetry.CacheMisses.Enabled)
        {
            RouterTelemetry.CacheMisses.Add(1, new KeyValuePair<string, object?>(RouterTelemetry.Tags.Route, RouteTag(options)));
        }
    }

    /// <summary>Records a request the cache answered (metric, span attribute); the hit counter itself is the caller's.</summary>
    private void Served(IEnumerable<ChatMessage> messages, ChatOptions? options, decimal? costSavedUsd)
    {
        if (RequestSpan.Find(messages) is { } span)
        {
            span.SetTag(RouterTelemetry.Tags.CacheHit, true);
            span.SetTag(RouterTelemetry.Tags.CacheCostSaved, costSavedUsd is decimal usd ? (double)usd : null);
        }

        if (RouterTelemetry.CacheHits.Enabled)
        {
            RouterTelemetry.CacheHits.Add(1, new KeyValuePair<string, object?>(RouterTelemetry.Tags.Route, RouteTag(options)));
        }

        if (costSavedUsd is decimal saved)
        {
            RecordCostSaved(options, saved);
        }
    }

    private void RecordCostSaved(ChatOptions? options, decimal saved)
    {
        if (saved > 0m && RouterTelemetry.CacheCostSaved.Enabled)
        {
            RouterTelemetry.CacheCostSaved.Add((double)saved, new KeyValuePair<string, object?>(RouterTelemetry.Tags.Route, RouteTag(options)));
        }
    }

    /// <summary>The route a request names, as the router names it (or its model id / the default label over another client).</summary>
    private string RouteTag(ChatOptions? options) => _router?.RouteTag(options?.ModelId) ?? options?.ModelId ?? RouterDefaults.ImplicitDefaultRouteName;

    /// <summary>Whether the cache takes part in the request; first rejects bad controls, before anything reaches a provider.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The request's <see cref="CacheControl.TimeToLive"/> is not positive.</exception>
    private bool Applies(ChatOptions? options, out CacheControl control)
    {
        control = options.GetCacheControl() ?? Default;
        if (control.TimeToLive is TimeSpan ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), ttl,
                $"CacheControl.TimeToLive must be positive; it was {ttl}. Leave it null to keep the answer for ResponseCacheOptions.TimeToLive ({_options.TimeToLive}).");
        }

        // A model id the router has no route for (an empty one included) passes through, so the caller gets the router's
        // error: nothing is served from, or stored under, a route that does not exist.
        return options?.ConversationId is null
            && options.GetRouteConstraints() is not { RequireZeroDataRetention: true }
            && !(control.NoCache && control.NoStore)
            && (_router is null || options?.ModelId is not { } model || _router.ResolveRouteName(model) is not null);
    }

    private string Key(IEnumerable<ChatMessage> messages, ChatOptions? options, CacheControl control)
    {
        string? partition = control.Partition ?? _options.Partition?.Invoke(options);
        RouteConstraints? constraints = _admission is null ? options.GetRouteConstraints() : _admission.Constraints(options);
        return ResponseCacheKey.Compute(messages, options, options?.ModelId, partition, control.Namespace, constraints);
    }

    private HybridCacheEntryOptions EntryOptions(CacheControl control, HybridCacheEntryFlags flags) => new()
    {
        Expiration = control.TimeToLive ?? _options.TimeToLive,
        Flags = flags,
    };

    /// <summary>Whether an answer may be stored: not one a content filter stopped (filters misfire, and a replay would repeat it for the whole time to live).</summary>
    private static bool Storable(ChatResponse response) => response.FinishReason != ChatFinishReason.ContentFilter;

    private async ValueTask StoreAsync(string key, ChatResponse response, CacheControl control, CancellationToken cancellationToken)
    {
        if (!control.NoStore && Storable(response))
        {
            await _cache.SetAsync(key, ToEntry(response), EntryOptions(control, HybridCacheEntryFlags.None), tags: null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Serialises the answer without the per-request annotations of the layers below (the router's report and the budget
    /// layer's cost), which would be wrong on a hit; the cost is kept beside the answer as what a hit saves.
    /// </summary>
    private CachedResponse ToEntry(ChatResponse response)
    {
        decimal cost = response.GetCost()?.Usd ?? 0m;
        var removed = new List<(AdditionalPropertiesDictionary, string, object?)>();
        Strip(response.AdditionalProperties, removed);
        foreach (ChatMessage m in response.Messages)
        {
            Strip(m.AdditionalProperties, removed);
        }

        try
        {
            return new CachedResponse(JsonSerializer.SerializeToUtf8Bytes(response, Json.GetTypeInfo(typeof(ChatResponse))), _time.GetUtcNow(), cost);
        }
        finally
        {
            foreach ((AdditionalPropertiesDictionary props, string key, object? value) in removed)
            {
                props[key] = value;
            }
        }

        static void Strip(AdditionalPropertiesDictionary? props, List<(AdditionalPropertiesDictionary, string, object?)> removed)
        {
            foreach (string key in (ReadOnlySpan<string>)[RoutingChatOptionsExtensions.ReportKey, RequestCostExtensions.CostKey])
            {
                if (props?.Remove(key, out object? value) == true)
                {
                    removed.Add((props, key, value));
                }
            }
        }
    }

    private ChatResponse Hit(CachedResponse entry, IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming)
    {
        // A denied request is never served, not even from the cache; the budget layer also audits the hit.
        _admission?.Admit(messages, options, streaming, entry.CostUsd);
        ChatResponse response = entry.CreateResponse(Json);
        Interlocked.Increment(ref _hits);
        Interlocked.Add(ref _costSavedNanos, Pricing.Internal.Cost.ToNanos(entry.CostUsd));
        Served(messages, options, entry.CostUsd);
        Saved(response.Usage);
        return response;
    }

    private void Saved(UsageDetails? usage)
    {
        Interlocked.Add(ref _outputTokensSaved, usage?.OutputTokenCount ?? 0);
        Interlocked.Add(ref _inputTokensSaved, usage?.InputTokenCount ?? 0);
    }

    /// <summary>The factory's state; <see cref="Response"/> is set only for the caller whose factory ran (the miss).</summary>
    private sealed class Produce(ResponseCacheChatClient owner, IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        public ResponseCacheChatClient Owner { get; } = owner;

        public IEnumerable<ChatMessage> Messages { get; } = messages;

        public ChatOptions? Options { get; } = options;

        public ChatResponse? Response { get; set; }

        /// <summary>The caller's execution context (captured before HybridCache may hop threads without it).</summary>
        public ExecutionContext? Context { get; } = ExecutionContext.Capture(); // null when the caller suppressed flow
    }
}
