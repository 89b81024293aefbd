using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Simulation;

/// <summary>What a simulated call does.</summary>
public enum SimulatedOutcome
{
    Succeeded,

    /// <summary>503 after a short delay.</summary>
    Unavailable,

    /// <summary>429 with a Retry-After, quickly.</summary>
    RateLimited,

    /// <summary>No answer until the call is cancelled.</summary>
    Hang,
}

/// <summary>
/// A simulated provider behind <see cref="IChatClient"/>. Each call's fate is drawn from a stream keyed by (seed,
/// request, provider) (see <see cref="Rng.For"/>), plus the provider's state at the call's virtual start: its rate
/// limit, its outage, its degradation. Calls complete from timers on the run's <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/>,
/// through TaskCompletionSources that run continuations inline, so the router continues on the loop thread at the
/// exact virtual completion time. A cancelled call completes as cancelled at once; its input tokens are billed.
/// </summary>
public sealed class SimulatedDeployment : IChatClient
{
    private const int TokensPerChunk = 64;
    private readonly SimulationRun _run;
    private readonly int _provider;
    private readonly ProviderProfile _profile;
    private readonly ChatClientMetadata _metadata;

    public SimulatedDeployment(SimulationRun run, int provider)
    {
        ArgumentNullException.ThrowIfNull(run);
        _run = run;
        _provider = provider;
        _profile = run.Scenario.Providers[provider];
        _metadata = new ChatClientMetadata("simulated", null, _profile.Name);
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        _run.CheckThread();
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<ChatResponse>(cancellationToken);
        }

        SimRequest request = _run.RequestOf(messages);
        _run.AttemptStarted(request, _provider);
        var call = new Call(this, request, Decide(request));
        if (call.Plan.Outcome != SimulatedOutcome.Hang)
        {
            call.Timer = _run.Time.CreateTimer(static s => ((Call)s!).Fire(), call, call.Due - _run.Now, Timeout.InfiniteTimeSpan);
        }

        if (cancellationToken.CanBeCanceled)
        {
            call.Registration = cancellationToken.UnsafeRegister(static (s, token) => ((Call)s!).Cancel(token), call);
        }

        return call.Completion.Task;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        _run.CheckThread();
        cancellationToken.ThrowIfCancellationRequested();
        SimRequest request = _run.RequestOf(messages);
        _run.AttemptStarted(request, _provider);
        TimeSpan start = _run.Now;
        Plan plan = Decide(request);
        bool ended = false;
        try
        {
            switch (plan.Outcome)
            {
                case SimulatedOutcome.Hang:
                    await Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
                    break;
                case SimulatedOutcome.Unavailable or SimulatedOutcome.RateLimited:
                    await Delay(plan.FirstToken, cancellationToken).ConfigureAwait(false);
                    _run.DeliverRateLimitHeaders(_provider, plan.RateLimit);
                    ended = true;
                    _run.AttemptFailed(request, _provider, plan.Outcome);
                    throw plan.Error();
            }

            await Delay(plan.FirstToken, cancellationToken).ConfigureAwait(false);
            _run.DeliverRateLimitHeaders(_provider, plan.RateLimit); // headers come before the first chunk
            TimeSpan firstToken = _run.Now;
            int chunks = Math.Max(1, (request.OutputTokens + TokensPerChunk - 1) / TokensPerChunk);
            TimeSpan perChunk = (plan.Total - plan.FirstToken) / chunks;
            yield return new ChatResponseUpdate(ChatRole.Assistant, "chunk") { ModelId = _profile.Name };
            for (int i = 1; i < chunks; i++)
            {
                await Delay(perChunk, cancellationToken).ConfigureAwait(false);
                yield return new ChatResponseUpdate(ChatRole.Assistant, "chunk") { ModelId = _profile.Name };
            }

            await Delay(perChunk, cancellationToken).ConfigureAwait(false);
            ended = true;
            _run.AttemptSucceeded(request, _provider, start, firstToken, streaming: true);
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ModelId = _profile.Name,
                FinishReason = ChatFinishReason.Stop,
                Contents = [new UsageContent(Usage(request))],
            };
        }
        finally
        {
            if (!ended)
            {
                // Cancelled (timeout, or a hedge that lost), or abandoned by the consumer: the prompt was processed.
                _run.CheckThread();
                _run.AttemptCancelled(request, _provider, start);
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    public void Dispose()
    {
    }

    private static UsageDetails Usage(SimRequest request) =>
        new() { InputTokenCount = request.InputTokens, OutputTokenCount = request.OutputTokens, TotalTokenCount = request.InputTokens + request.OutputTokens };

    /// <summary>
    /// Decides a call at its virtual start. Every random value is drawn, in a fixed order, whatever the outcome, so a
    /// request gets the same draws on a provider under every strategy.
    /// </summary>
    private Plan Decide(SimRequest request)
    {
        TimeSpan now = _run.Now;
        Scenario scenario = _run.Scenario;
        ProviderProfile p = _profile;
        var rng = Rng.For(scenario.Seed, request.Id, _provider + 1);
        double fault = rng.NextDouble();
        double noise = rng.NextDouble();
        double body = rng.NextLogNormal(p.TimeToFirstTokenMedian.TotalSeconds, p.TimeToFirstTokenSigma);
        bool slow = rng.NextDouble() < p.SlowProbability;
        double slowSeconds = rng.NextPareto(p.SlowScale.TotalSeconds, p.SlowAlpha);
        double errorSeconds = rng.NextLogNormal(p.ErrorLatencyMedian.TotalSeconds, 0.3);

        TimeSpan? overLimit = _run.Admit(_provider);
        RateReport? report = _run.RateLimitReport(_provider);
        if (overLimit is TimeSpan retryAfter)
        {
            return new Plan(SimulatedOutcome.RateLimited, Seconds(errorSeconds / 4), Seconds(errorSeconds / 4), retryAfter) { RateLimit = report };
        }

        if (scenario.IsBroken(_provider, now))
        {
            Outage outage = scenario.Outage;
            if (fault < outage.ErrorRate)
            {
                return new Plan(SimulatedOutcome.Unavailable, Seconds(errorSeconds), Seconds(errorSeconds), null) { RateLimit = report };
            }

            if (fault < outage.ErrorRate + outage.HangRate)
            {
                _run.AttemptHung(_provider);
                return new Plan(SimulatedOutcome.Hang, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan, null);
            }
        }

        if (noise < p.TransientErrorRate)
        {
            return new Plan(SimulatedOutcome.Unavailable, Seconds(errorSeconds), Seconds(errorSeconds), null) { RateLimit = report };
        }

        (double firstToken, double total) = p.SuccessSeconds(body, slow, slowSeconds, request.OutputTokens, scenario.LatencyFactor(_provider, now));
        return new Plan(SimulatedOutcome.Succeeded, Seconds(firstToken), Seconds(total), null) { RateLimit = report };
    }

    private static TimeSpan Seconds(double seconds) => TimeSpan.FromTicks(Math.Max(1, (long)Math.Round(seconds * TimeSpan.TicksPerSecond)));

    /// <summary>A wait on the virtual clock that completes inline on the loop thread, or as cancelled when the token is.</summary>
    private Task Delay(TimeSpan delay, CancellationToken cancellationToken)
    {
        var wait = new Wait(_run, delay == Timeout.InfiniteTimeSpan ? TimeSpan.MaxValue : _run.Now + delay);
        if (delay != Timeout.InfiniteTimeSpan)
        {
            wait.Timer = _run.Time.CreateTimer(static s => ((Wait)s!).Fire(), wait, delay, Timeout.InfiniteTimeSpan);
        }

        if (cancellationToken.CanBeCanceled)
        {
            wait.Registration = cancellationToken.UnsafeRegister(static (s, token) => ((Wait)s!).Cancel(token), wait);
        }

        return wait.Completion.Task;
    }

    /// <summary>What a call will do: its outcome, when its first token (or error) comes, when it ends.</summary>
    private readonly record struct Plan(SimulatedOutcome Outcome, TimeSpan FirstToken, TimeSpan Total, TimeSpan? RetryAfter)
    {
        /// <summary>The rate-limit headers the answer carries (read by the router when the run says providers report them).</summary>
        public RateReport? RateLimit { get; init; }

        public Exception Error() => Outcome == SimulatedOutcome.RateLimited ? ProviderErrors.RateLimited(RetryAfter!.Value) : ProviderErrors.Unavailable();
    }

    /// <summary>One non-streaming call in flight.</summary>
    private sealed class Call(SimulatedDeployment owner, SimRequest request, Plan plan)
    {
        private readonly TimeSpan _start = owner._run.Now;
        private bool _done;

        public Plan Plan { get; } = plan;

        public TimeSpan Due { get; } = plan.Outcome == SimulatedOutcome.Hang ? TimeSpan.MaxValue : owner._run.Now + plan.Total;

        // Continuations run inline (no RunContinuationsAsynchronously): the router resumes on the loop thread, now.
        public TaskCompletionSource<ChatResponse> Completion { get; } = new();

        public ITimer? Timer { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public void Fire()
        {
            SimulationRun run = owner._run;
            run.CheckThread();
            run.CheckDue(Due);
            if (_done)
            {
                return;
            }

            _done = true;
            Timer?.Dispose();
            Registration.Dispose();
            run.DeliverRateLimitHeaders(owner._provider, Plan.RateLimit);
            if (Plan.Outcome == SimulatedOutcome.Succeeded)
            {
                run.AttemptSucceeded(request, owner._provider, _start, _start + Plan.FirstToken, streaming: false);
                Completion.SetResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "simulated answer"))
                {
                    ModelId = owner._profile.Name,
                    FinishReason = ChatFinishReason.Stop,
                    Usage = Usage(request),
                });
            }
            else
            {
                run.AttemptFailed(request, owner._provider, Plan.Outcome);
                Completion.SetException(Plan.Error());
            }
        }

        public void Cancel(CancellationToken token)
        {
            SimulationRun run = owner._run;
            run.CheckThread();
            if (_done)
            {
                return;
            }

            _done = true;
            Timer?.Dispose();
            run.AttemptCancelled(request, owner._provider, _start);
            Completion.SetCanceled(token);
        }
    }

    /// <summary>A wait of a streaming call.</summary>
    private sealed class Wait(SimulationRun run, TimeSpan due)
    {
        private bool _done;

        public TaskCompletionSource Completion { get; } = new();

        public ITimer? Timer { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public void Fire()
        {
            run.CheckThread();
            run.CheckDue(due);
            if (_done)
            {
                return;
            }

            _done = true;
            Timer?.Dispose();
            Registration.Dispose();
            Completion.SetResult();
        }

        public void Cancel(CancellationToken token)
        {
            run.CheckThread();
            if (_done)
            {
                return;
            }

            _done = true;
            Timer?.Dispose();
            Completion.SetCanceled(token);
        }
    }
}
