using System.Runtime.CompilerServices;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Caching;

public sealed class StreamingCoalescingTests : IDisposable
{
    private const int Chunks = 4;
    private const string Answer = "The capital is Paris";
    /// <summary>Only so that a regression fails instead of hanging; no test waits for it to pass.</summary>
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(30);
    private static readonly string[] ChunkTexts = ["The ", "capital ", "is ", "Paris"];
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "What is the capital of France?")];
    private readonly ServiceProvider _services;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly TestChatClient _provider = new("provider");
    private readonly TaskCompletionSource<GatedCall>[] _calls = [.. Enumerable.Range(0, 8).Select(_ => new TaskCompletionSource<GatedCall>(TaskCreationOptions.RunContinuationsAsynchronously))];
    private readonly CountingCache _cache;
    private int _streams;
    private int _responses;

    public StreamingCoalescingTests()
    {
        _services = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();
        _cache = new CountingCache(_services.GetRequiredService<HybridCache>());
        _provider.GetStreamingResponseAsyncCallback = (_, _, ct) =>
        {
            var call = new GatedCall(ct);
            _calls[Interlocked.Increment(ref _streams) - 1].SetResult(call);
            return call.Stream(ct);
        };
        _provider.GetResponseAsyncCallback = (_, _, _) =>
        {
            Interlocked.Increment(ref _responses);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "from a non-streaming call")));
        };
    }

    public void Dispose() => _services.Dispose();

    private ResponseCacheChatClient Cache() => new(_provider, _cache, new ResponseCacheOptions(), _time);

    /// <summary>The provider's n-th streaming call (from 0), once it has been made.</summary>
    private Task<GatedCall> Call(int index) => _calls[index].Task.WaitAsync(Watchdog);

    [Fact]
    public async Task Concurrent_identical_streams_make_one_provider_call_and_each_caller_gets_every_update_in_order()
    {
        ResponseCacheChatClient cache = Cache();

        Reader[] readers = [.. Enumerable.Range(0, 12).Select(_ => new Reader(cache))];
        await Eventually.Until(() => cache.Statistics.Hits + cache.Statistics.Misses == 12); // all joined: nothing is stored before the first gate opens
        GatedCall call = await Call(0);
        for (int i = 0; i < Chunks; i++)
        {
            call.Release(i);
            await Task.WhenAll(readers.Select(r => r.Received(i + 1)));    // followed live, chunk by chunk
        }

        await Task.WhenAll(readers.Select(r => r.Completion));

        Assert.Equal(1, _streams);
        Assert.All(readers, r => Assert.Equal(ChunkTexts, r.Updates.Select(u => u.Text)));
        Assert.All(readers, r => Assert.Equal(Answer, r.Updates.ToChatResponse().Text));
        Assert.Equal(new ResponseCacheStatistics(Hits: 11, Misses: 1, Bypassed: 0, OutputTokensSaved: 11 * 4, InputTokensSaved: 11 * 9, CostSavedUsd: 0m), cache.Statistics);

        // Nobody shares an update object or its contents list with anyone else.
        for (int i = 0; i < Chunks; i++)
        {
            ChatResponseUpdate[] copies = [.. readers.Select(r => r.Updates[i])];
            Assert.Equal(copies.Length, copies.Distinct(ReferenceEqualityComparer.Instance).Count());
            Assert.Equal(copies.Length, copies.Select(u => u.Contents).Distinct(ReferenceEqualityComparer.Instance).Count());
        }
    }

    [Fact]
    public async Task A_caller_joining_a_stream_passes_its_own_scope_policies_and_is_audited_with_the_cost_it_saved()
    {
        var audit = new Budgets.RecordingAuditSink();
        var policies = new BudgetOptions();
        policies.Scopes.Add(new ScopePolicy { Scope = "team:interns", DeniedRoutes = { "gpt-4o" } });
        var budgets = new BudgetChatClient(_provider, policies, auditSink: audit, timeProvider: _time);
        var cache = new ResponseCacheChatClient(budgets, _cache, new ResponseCacheOptions(), _time);
        ChatOptions As(string team) => new ChatOptions { ModelId = "gpt-4o" }.WithScopePath(new ScopePath($"team:{team}"));

        var producer = new Reader(cache, As("search"));
        GatedCall call = await Call(0);
        call.Release(0);
        await producer.Received(1);
        var denied = new Reader(cache, As("interns"));
        var joiner = new Reader(cache, As("ads"));
        await joiner.Received(1);
        call.ReleaseAll();
        await Task.WhenAll(producer.Completion, joiner.Completion);

        PolicyViolationException ex = await Assert.ThrowsAsync<PolicyViolationException>(() => denied.Completion);
        Assert.Equal(("team:interns", PolicyViolation.RouteDenied), (ex.Scope, ex.Violation));
        Assert.Empty(denied.Updates);
        Assert.Equal(Answer, joiner.Updates.ToChatResponse().Text);
        Assert.Equal(1, _streams);
        decimal cost = producer.Updates.ToChatResponse().GetCost()!.Usd;
        Assert.True(cost > 0m);
        AuditRecord hit = Assert.Single(audit.Records, r => r.Decision == AuditDecision.CacheHit);
        Assert.Equal(("team:ads", cost), (hit.ScopePath!.ToString(), hit.CostSavedUsd));
        Assert.Equal(cost, cache.Statistics.CostSavedUsd);
    }

    [Fact]
    public async Task A_caller_joining_mid_stream_gets_the_updates_from_the_start()
    {
        ResponseCacheChatClient cache = Cache();
        var first = new Reader(cache);
        GatedCall call = await Call(0);
        call.Release(0);
        call.Release(1);
        await first.Received(2);

        var late = new Reader(cache);
        await late.Received(2);                                              // replayed before the stream went on
        call.Release(2);
        call.Release(3);
        await Task.WhenAll(first.Completion, late.Completion);

        Assert.Equal(1, _streams);
        Assert.Equal(ChunkTexts, late.Updates.Select(u => u.Text));
        Assert.Equal(Answer, first.Updates.ToChatResponse().Text);
    }

    [Fact]
    public async Task A_slow_caller_does_not_hold_back_the_others()
    {
        ResponseCacheChatClient cache = Cache();
        var stalled = new Reader(cache, pauseAfter: 1);
        GatedCall call = await Call(0);
        call.Release(0);
        await stalled.Received(1);
        var other = new Reader(cache);
        await other.Received(1);

        call.ReleaseAll();
        await other.Completion;                                                // while the producer's caller reads nothing
        Assert.Equal(Answer, other.Updates.ToChatResponse().Text);

        stalled.Resume();
        await stalled.Completion;
        Assert.Equal(Answer, stalled.Updates.ToChatResponse().Text);
        Assert.Equal(1, _streams);
    }

    [Fact]
    public async Task A_caller_that_cancels_or_stops_just_leaves_and_the_stream_goes_on_for_the_others()
    {
        ResponseCacheChatClient cache = Cache();
        using var cancelled = new CancellationTokenSource();
        var first = new Reader(cache, cancellationToken: cancelled.Token);
        GatedCall call = await Call(0);
        call.Release(0);
        await first.Received(1);
        var stopping = new Reader(cache, stopAfter: 1);
        var staying = new Reader(cache);
        await Task.WhenAll(stopping.Completion, staying.Received(1));

        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.Completion);
        Assert.False(call.Token.IsCancellationRequested);

        call.ReleaseAll();
        await staying.Completion;
        Assert.Equal(Answer, staying.Updates.ToChatResponse().Text);
        Assert.Equal(1, _streams);
        Assert.Equal(1, _cache.Sets);
    }

    [Fact]
    public async Task When_every_caller_has_left_the_inner_stream_is_cancelled_and_a_later_request_makes_a_fresh_call()
    {
        ResponseCacheChatClient cache = Cache();
        using var a = new CancellationTokenSource();
        using var b = new CancellationTokenSource();
        var first = new Reader(cache, cancellationToken: a.Token);
        GatedCall call = await Call(0);
        call.Release(0);
        await first.Received(1);
        var second = new Reader(cache, cancellationToken: b.Token);
        await second.Received(1);

        await a.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.Completion);
        Assert.False(call.Token.IsCancellationRequested);
        await b.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.Completion);
        await call.Cancelled;                                                   // the provider saw the cancellation

        var later = new Reader(cache);
        GatedCall fresh = await Call(1);
        fresh.ReleaseAll();
        await later.Completion;

        Assert.Equal(2, _streams);
        Assert.Equal(Answer, later.Updates.ToChatResponse().Text);
        Assert.Equal(1, _cache.Sets);                                           // only the fresh call's answer
    }

    [Fact]
    public async Task An_inner_failure_reaches_every_caller_with_its_original_type_and_nothing_is_stored()
    {
        ResponseCacheChatClient cache = Cache();
        var first = new Reader(cache);
        GatedCall call = await Call(0);
        call.FailAt = 2;
        call.Release(0);
        await first.Received(1);
        var second = new Reader(cache);
        await second.Received(1);

        call.Release(1);
        call.Release(2);
        ProviderStreamException fromFirst = await Assert.ThrowsAsync<ProviderStreamException>(() => first.Completion);
        ProviderStreamException fromSecond = await Assert.ThrowsAsync<ProviderStreamException>(() => second.Completion);

        Assert.Same(fromFirst, fromSecond);
        Assert.Contains($"{nameof(GatedCall)}.{nameof(GatedCall.Stream)}", fromFirst.StackTrace, StringComparison.Ordinal);   // the provider's frames survive
        Assert.Equal(2, first.Updates.Count);                                  // every update before the failure
        Assert.Equal(2, second.Updates.Count);
        Assert.Equal(0, _cache.Sets);

        var later = new Reader(cache);
        (await Call(1)).ReleaseAll();
        await later.Completion;
        Assert.Equal(2, _streams);                                              // the failed stream was not joined
    }

    [Fact]
    public async Task A_completed_stream_is_stored_once_and_a_later_non_streaming_request_is_a_hit()
    {
        ResponseCacheChatClient cache = Cache();
        Reader[] readers = [.. Enumerable.Range(0, 3).Select(_ => new Reader(cache))];
        await Eventually.Until(() => cache.Statistics.Hits + cache.Statistics.Misses == 3);
        (await Call(0)).ReleaseAll();
        await Task.WhenAll(readers.Select(r => r.Completion));

        ChatResponse after = await cache.GetResponseAsync(Prompt);
        var replay = new Reader(cache);
        await replay.Completion;

        Assert.Equal(1, _cache.Sets);
        Assert.Equal(Answer, after.Text);
        Assert.Equal(Answer, replay.Updates.ToChatResponse().Text);
        Assert.Equal(1, _streams);
        Assert.Equal(0, _responses);
        Assert.Equal(new ResponseCacheStatistics(Hits: 4, Misses: 1, Bypassed: 0, OutputTokensSaved: 4 * 4, InputTokensSaved: 4 * 9, CostSavedUsd: 0m), cache.Statistics);
    }

    [Fact]
    public async Task A_caller_changing_its_updates_changes_nobody_elses_nor_the_stored_answer()
    {
        ResponseCacheChatClient cache = Cache();
        var vandal = new Reader(cache, vandalise: true);
        GatedCall call = await Call(0);
        call.Release(0);
        await vandal.Received(1);
        var other = new Reader(cache);
        await other.Received(1);
        call.ReleaseAll();
        await Task.WhenAll(vandal.Completion, other.Completion);

        ChatResponse stored = await cache.GetResponseAsync(Prompt);

        Assert.Empty(vandal.Updates.SelectMany(u => u.Contents));
        Assert.Equal(Answer, other.Updates.ToChatResponse().Text);
        Assert.All(other.Updates, u => Assert.Null(u.AdditionalProperties));
        Assert.Equal(Answer, stored.Text);
    }

    [Fact]
    public async Task A_no_store_producer_shares_its_stream_but_stores_nothing()
    {
        ResponseCacheChatClient cache = Cache();
        var first = new Reader(cache, new ChatOptions().WithCacheControl(new CacheControl { NoStore = true }));
        GatedCall call = await Call(0);
        call.Release(0);
        await first.Received(1);
        var joiner = new Reader(cache);
        await joiner.Received(1);
        call.ReleaseAll();
        await Task.WhenAll(first.Completion, joiner.Completion);

        Assert.Equal(1, _streams);
        Assert.Equal(0, _cache.Sets);
        Assert.Equal(Answer, joiner.Updates.ToChatResponse().Text);
    }

    [Fact]
    public async Task A_no_cache_request_does_not_join_a_stream_in_flight()
    {
        ResponseCacheChatClient cache = Cache();
        var first = new Reader(cache);
        GatedCall call = await Call(0);
        call.Release(0);
        await first.Received(1);

        var fresh = new Reader(cache, new ChatOptions().WithCacheControl(new CacheControl { NoCache = true }));
        GatedCall own = await Call(1);
        own.ReleaseAll();
        call.ReleaseAll();
        await Task.WhenAll(first.Completion, fresh.Completion);

        Assert.Equal(2, _streams);
        Assert.Equal(Answer, fresh.Updates.ToChatResponse().Text);
        Assert.Equal(2, cache.Statistics.Misses);
        Assert.Equal(0, cache.Statistics.Hits);
    }

    /// <summary>One provider streaming call whose chunks are let through one at a time by the test.</summary>
    private sealed class GatedCall
    {
        private readonly TaskCompletionSource[] _gates = [.. Enumerable.Range(0, Chunks).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public GatedCall(CancellationToken token)
        {
            Token = token;
            token.Register(() => _cancelled.TrySetResult());
        }

        public CancellationToken Token { get; }

        public Task Cancelled => _cancelled.Task.WaitAsync(Watchdog);

        /// <summary>The chunk whose gate throws instead of yielding; none by default.</summary>
        public int FailAt { get; set; } = -1;

        public void Release(int chunk) => _gates[chunk].TrySetResult();

        public void ReleaseAll()
        {
            for (int i = 0; i < Chunks; i++)
            {
                Release(i);
            }
        }

        public async IAsyncEnumerable<ChatResponseUpdate> Stream([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            for (int i = 0; i < Chunks; i++)
            {
                await _gates[i].Task.WaitAsync(cancellationToken);
                if (i == FailAt)
                {
                    throw new ProviderStreamException();
                }

                var update = new ChatResponseUpdate(ChatRole.Assistant, ChunkTexts[i]) { MessageId = "m1", ResponseId = "r1" };
                if (i == Chunks - 1)
                {
                    update.Contents.Add(new UsageContent(new UsageDetails { InputTokenCount = 9, OutputTokenCount = 4 }));
                    update.FinishReason = ChatFinishReason.Stop;
                }

                yield return update;
            }
        }
    }

    /// <summary>Reads one streaming request on the thread pool, signalling each update it receives.</summary>
    private sealed class Reader
    {
        private readonly List<ChatResponseUpdate> _updates = [];
        private readonly TaskCompletionSource[] _received = [.. Enumerable.Range(0, Chunks + 2).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))]; // + the budget layer's cost update;
        private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly bool _vandalise;
        private readonly Task _completion;

        public Reader(IChatClient client, ChatOptions? options = null, int stopAfter = int.MaxValue, int pauseAfter = int.MaxValue, bool vandalise = false, CancellationToken cancellationToken = default)
        {
            _vandalise = vandalise;
            _completion = Task.Run(() => ReadAsync(client, options, stopAfter, pauseAfter, cancellationToken), CancellationToken.None);
        }

        public Task Completion => _completion.WaitAsync(Watchdog);

        public IReadOnlyList<ChatResponseUpdate> Updates
        {
            get
            {
                lock (_updates)
                {
                    return [.. _updates];
                }
            }
        }

        /// <summary>Completes once <paramref name="count"/> updates have arrived; fails if the reading ends before.</summary>
        public Task Received(int count) => _received[count].Task.WaitAsync(Watchdog);

        public void Resume() => _resume.TrySetResult();

        private async Task ReadAsync(IChatClient client, ChatOptions? options, int stopAfter, int pauseAfter, CancellationToken cancellationToken)
        {
            try
            {
                await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(Prompt, options, cancellationToken))
                {
                    if (_vandalise)
                    {
                        update.Contents.Clear();
                        update.AdditionalProperties = new() { ["changed"] = true };
                    }

                    int count;
                    lock (_updates)
                    {
                        _updates.Add(update);
                        count = _updates.Count;
                    }

                    _received[count].TrySetResult();
                    if (count == stopAfter)
                    {
                        break;
                    }

                    if (count == pauseAfter)
                    {
                        await _resume.Task;
                    }
                }
            }
            finally
            {
                foreach (TaskCompletionSource pending in _received)
                {
                    pending.TrySetException(new InvalidOperationException("The stream ended before this many updates."));
                }
            }
        }
    }

    private sealed class ProviderStreamException : Exception
    {
        public ProviderStreamException()
            : base("The provider dropped the stream.")
        {
        }
    }

    /// <summary>Counts the writes to the cache.</summary>
    private sealed class CountingCache(HybridCache inner) : HybridCache
    {
        private int _sets;

        public int Sets => Volatile.Read(ref _sets);

        public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
            => inner.GetOrCreateAsync(key, state, factory, options, tags, cancellationToken);

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _sets);
            return inner.SetAsync(key, value, options, tags, cancellationToken);
        }

        public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

        public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);
    }
}
