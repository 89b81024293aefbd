using System.Globalization;
using Microsoft.Extensions.AI;

namespace LlmRouter.Simulation;

/// <summary>One simulated provider: its price, its latency distribution, its heavy tail and its rate limit.</summary>
public sealed class ProviderProfile
{
    public required string Name { get; init; }

    /// <summary>List price, put on the deployment (<see cref="DeploymentOptions.Price"/>) and used for cost.</summary>
    public required ModelPrice Price { get; init; }

    /// <summary>Median time to first token; the body of the distribution is log-normal around it.</summary>
    public required TimeSpan TimeToFirstTokenMedian { get; init; }

    /// <summary>Sigma of the log-normal time to first token (0.4-0.8 is typical of hosted LLM APIs).</summary>
    public required double TimeToFirstTokenSigma { get; init; }

    /// <summary>Generation speed: output tokens per second after the first token.</summary>
    public required double TokensPerSecond { get; init; }

    /// <summary>Probability that a call is very slow: its time to first token is Pareto-distributed from <see cref="SlowScale"/>.</summary>
    public double SlowProbability { get; init; }

    /// <summary>Minimum of the slow tail (Pareto scale).</summary>
    public TimeSpan SlowScale { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pareto shape of the slow tail (3: half of the slow calls within 10-12.6 s, 1 in 27 beyond 20 s).</summary>
    public double SlowAlpha { get; init; } = 3;

    /// <summary>Longest slow call.</summary>
    public TimeSpan SlowCap { get; init; } = TimeSpan.FromSeconds(25);

    /// <summary>Requests accepted per virtual minute, as a token bucket holding ten seconds of the rate; beyond it the provider answers 429 with a Retry-After. Null: no limit.</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Share of calls that fail with a 503 at any time (background noise).</summary>
    public double TransientErrorRate { get; init; } = 0.002;

    /// <summary>Median time a provider takes to answer with an error (503); 429s come back in a quarter of it.</summary>
    public TimeSpan ErrorLatencyMedian { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// A successful call's time to first token and total time, in seconds, from its draws: the log-normal body (or the
    /// capped Pareto tail when the call is slow) plus generation, all times <paramref name="factor"/> (degradation).
    /// </summary>
    public (double FirstToken, double Total) SuccessSeconds(double body, bool slow, double slowSeconds, int outputTokens, double factor)
    {
        double firstToken = (slow ? Math.Min(slowSeconds, SlowCap.TotalSeconds) : body) * factor;
        return (firstToken, firstToken + (outputTokens / TokensPerSecond * factor));
    }
}

/// <summary>A named stretch of virtual time, for per-phase results and the oracle.</summary>
public sealed record Phase(string Name, TimeSpan Start, TimeSpan End)
{
    public bool Contains(TimeSpan at) => at >= Start && at < End;
}

/// <summary>During <see cref="Phase"/>, <see cref="Provider"/> fails: a share of calls get a 503, a share hang until cancelled.</summary>
public sealed record Outage(int Provider, Phase Phase, double ErrorRate, double HangRate);

/// <summary>Over <see cref="Phase"/>, <see cref="Provider"/>'s latency grows linearly to <see cref="Factor"/> times its normal; it stays there after.</summary>
public sealed record Degradation(int Provider, Phase Phase, double Factor);

/// <summary>One request of the workload: when it arrives, how long its prompt and answer are, whether it streams.</summary>
public sealed class SimRequest
{
    public required int Id { get; init; }

    public required TimeSpan Arrival { get; init; }

    public required int InputTokens { get; init; }

    public required int OutputTokens { get; init; }

    public required bool Streaming { get; init; }

    /// <summary>The messages sent: a fresh message per request, which is how provider clients recognise the request.</summary>
    public required ChatMessage[] Messages { get; init; }
}

/// <summary>
/// The seeded workload and the world it runs in: providers, phases, an outage with recovery and a slow degradation.
/// Everything random is drawn from <see cref="Seed"/>; the same scenario gives the same requests to every strategy.
/// </summary>
public sealed class Scenario
{
    public required int Seed { get; init; }

    public required int Requests { get; init; }

    /// <summary>Mean arrival rate (Poisson arrivals), requests per virtual second.</summary>
    public required double RequestsPerSecond { get; init; }

    /// <summary>Share of requests that stream (their latency is time to first update).</summary>
    public double StreamingShare { get; init; }

    /// <summary>Per-attempt timeout on every deployment (<see cref="DeploymentOptions.AttemptTimeout"/>).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public double InputTokensMedian { get; init; } = 1200;

    public double InputTokensSigma { get; init; } = 0.8;

    public double OutputTokensMedian { get; init; } = 250;

    public double OutputTokensSigma { get; init; } = 0.6;

    public required IReadOnlyList<ProviderProfile> Providers { get; init; }

    public required IReadOnlyList<Phase> Phases { get; init; }

    public required Outage Outage { get; init; }

    public required Degradation Degradation { get; init; }

    /// <summary>The planned length of the run (requests / rate); phases are laid out over it.</summary>
    public TimeSpan Duration => TimeSpan.FromSeconds(Requests / RequestsPerSecond);

    /// <summary>
    /// The default scenario: four providers at four price points, 8 requests per second, and five phases over the run:
    /// steady (20%), outage of "flash" (15%: 70% 503s, 20% hangs), recovered (20%), "mini" degrading to 3x its latency
    /// (25%), degraded (20%). "flash" (the fastest) and "mini" (the cheapest) have rate limits a single-provider
    /// strategy runs into.
    /// </summary>
    public static Scenario Default(int requests = 20_000, int seed = 1, double requestsPerSecond = 8, double streamingShare = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 100);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requestsPerSecond);
        TimeSpan duration = TimeSpan.FromSeconds(requests / requestsPerSecond);
        Phase At(string name, double from, double to) => new(name, duration * from, to >= 1 ? TimeSpan.MaxValue : duration * to);
        Phase[] phases =
        [
            At("steady", 0, 0.20),
            At("outage", 0.20, 0.35),
            At("recovered", 0.35, 0.55),
            At("degrading", 0.55, 0.80),
            At("degraded", 0.80, 1),
        ];

        return new Scenario
        {
            Seed = seed,
            Requests = requests,
            RequestsPerSecond = requestsPerSecond,
            StreamingShare = streamingShare,
            Providers =
            [
                new ProviderProfile
                {
                    Name = "mini", Price = new ModelPrice { InputPerMillion = 0.15m, OutputPerMillion = 0.60m },
                    TimeToFirstTokenMedian = TimeSpan.FromMilliseconds(450), TimeToFirstTokenSigma = 0.5, TokensPerSecond = 120,
                    SlowProbability = 0.015, RequestsPerMinute = 420,
                },
                new ProviderProfile
                {
                    Name = "flash", Price = new ModelPrice { InputPerMillion = 0.25m, OutputPerMillion = 1.25m },
                    TimeToFirstTokenMedian = TimeSpan.FromMilliseconds(350), TimeToFirstTokenSigma = 0.4, TokensPerSecond = 160,
                    SlowProbability = 0.01, RequestsPerMinute = 300,
                },
                new ProviderProfile
                {
                    Name = "pro", Price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 4m },
                    TimeToFirstTokenMedian = TimeSpan.FromMilliseconds(800), TimeToFirstTokenSigma = 0.6, TokensPerSecond = 110,
                    SlowProbability = 0.008,
                },
                new ProviderProfile
                {
                    Name = "max", Price = new ModelPrice { InputPerMillion = 3m, OutputPerMillion = 15m },
                    TimeToFirstTokenMedian = TimeSpan.FromMilliseconds(1000), TimeToFirstTokenSigma = 0.5, TokensPerSecond = 140,
                    SlowProbability = 0.005,
                },
            ],
            Phases = phases,
            Outage = new Outage(Provider: 1, phases[1], ErrorRate: 0.70, HangRate: 0.20),
            Degradation = new Degradation(Provider: 0, phases[3], Factor: 3),
        };
    }

    /// <summary>The phase at a virtual time (the last one after the planned end).</summary>
    public Phase PhaseAt(TimeSpan at)
    {
        foreach (Phase phase in Phases)
        {
            if (phase.Contains(at))
            {
                return phase;
            }
        }

        return Phases[^1];
    }

    /// <summary>How many times slower than normal a provider is at a virtual time (the degradation ramp).</summary>
    public double LatencyFactor(int provider, TimeSpan at)
    {
        Degradation d = Degradation;
        if (provider != d.Provider || at < d.Phase.Start)
        {
            return 1;
        }

        double progress = at >= d.Phase.End ? 1 : (at - d.Phase.Start) / (d.Phase.End - d.Phase.Start);
        return 1 + ((d.Factor - 1) * progress);
    }

    /// <summary>Whether a provider is in its outage at a virtual time.</summary>
    public bool IsBroken(int provider, TimeSpan at) => provider == Outage.Provider && Outage.Phase.Contains(at);

    /// <summary>
    /// The true mean latency of a successful call of typical length on a provider at a virtual time, from the model
    /// (what only the oracle knows): the log-normal mean of the first token, the slow tail, and generation.
    /// </summary>
    public double ExpectedSeconds(int provider, TimeSpan at, bool streaming)
    {
        ProviderProfile p = Providers[provider];
        double sigma = p.TimeToFirstTokenSigma;
        double body = p.TimeToFirstTokenMedian.TotalSeconds * Math.Exp(sigma * sigma / 2);
        double alpha = p.SlowAlpha;
        double slow = Math.Min(p.SlowScale.TotalSeconds * alpha / (alpha - 1), p.SlowCap.TotalSeconds);
        double firstToken = ((1 - p.SlowProbability) * body) + (p.SlowProbability * slow);
        double generation = streaming ? 0 : MeanOutputTokens / p.TokensPerSecond;
        return (firstToken + generation) * LatencyFactor(provider, at);
    }

    /// <summary>Mean output length of the workload (log-normal mean).</summary>
    public double MeanOutputTokens => OutputTokensMedian * Math.Exp(OutputTokensSigma * OutputTokensSigma / 2);

    /// <summary>
    /// A provider's latency on its own in normal operation (no rate limit, outage or degradation) over the workload's
    /// answer lengths, by sampling its model: the yardstick for "below the best single provider".
    /// </summary>
    public (double P50, double P99) NormalLatency(int provider, int samples = 100_000)
    {
        ProviderProfile p = Providers[provider];
        var rng = Rng.For(Seed, -2, provider);
        var totals = new double[samples];
        for (int i = 0; i < samples; i++)
        {
            int output = (int)Math.Clamp(Math.Round(rng.NextLogNormal(OutputTokensMedian, OutputTokensSigma)), 16, 2_048);
            double body = rng.NextLogNormal(p.TimeToFirstTokenMedian.TotalSeconds, p.TimeToFirstTokenSigma);
            bool slow = rng.NextDouble() < p.SlowProbability;
            double slowSeconds = rng.NextPareto(p.SlowScale.TotalSeconds, p.SlowAlpha);
            totals[i] = p.SuccessSeconds(body, slow, slowSeconds, output, 1).Total;
        }

        Array.Sort(totals);
        return (RunResult.Percentile(totals, 0.50), RunResult.Percentile(totals, 0.99));
    }

    /// <summary>The workload: Poisson arrivals and log-normal prompt and answer lengths, from <see cref="Seed"/>.</summary>
    public SimRequest[] GenerateRequests()
    {
        var requests = new SimRequest[Requests];
        var rng = Rng.For(Seed, -1);
        double t = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            t += rng.NextExponential(RequestsPerSecond);
            int input = (int)Math.Clamp(Math.Round(rng.NextLogNormal(InputTokensMedian, InputTokensSigma)), 50, 30_000);
            int output = (int)Math.Clamp(Math.Round(rng.NextLogNormal(OutputTokensMedian, OutputTokensSigma)), 16, 2_048);
            bool streaming = rng.NextDouble() < StreamingShare;
            requests[i] = new SimRequest
            {
                Id = i,
                Arrival = TimeSpan.FromTicks((long)Math.Round(t * TimeSpan.TicksPerSecond)),
                InputTokens = input,
                OutputTokens = output,
                Streaming = streaming,
                Messages = [new ChatMessage(ChatRole.User, string.Create(CultureInfo.InvariantCulture, $"simulated request {i}"))],
            };
        }

        return requests;
    }
}
