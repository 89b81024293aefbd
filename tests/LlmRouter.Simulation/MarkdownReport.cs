using System.Globalization;
using System.Text;

namespace LlmRouter.Simulation;

/// <summary>The markdown tables of a comparison (numbers formatted with the current culture: the program sets the invariant one).</summary>
public static class MarkdownReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Write(Scenario scenario, IReadOnlyList<RunResult> results, string command)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(results);
        var md = new StringBuilder();
        Line(md, $"Command: `{command}`");
        Line(md);
        Line(md, $"{scenario.Requests:N0} requests, Poisson arrivals at {scenario.RequestsPerSecond:0.##}/s over {Seconds(scenario.Duration)} of virtual time, seed {scenario.Seed}, "
            + $"{scenario.StreamingShare:P0} streaming; every deployment has a {scenario.AttemptTimeout.TotalSeconds:0} s attempt timeout and the router's default health rules, MaxAttempts 3.");
        Line(md);
        WriteScenario(md, scenario);
        WriteSummary(md, results);
        WritePhases(md, scenario, results);
        WriteProviders(md, scenario, results);
        return md.ToString();
    }

    private static void WriteScenario(StringBuilder md, Scenario scenario)
    {
        Line(md, "### Providers");
        Line(md);
        Line(md, "| Provider | $ per M tokens in / out | time to first token: median, sigma | tokens/s | slow tail (Pareto from 10 s, cap 25 s) | alone, normal operation: p50 / p99 | rate limit | events |");
        Line(md, "|---|---:|---:|---:|---:|---:|---:|---|");
        for (int i = 0; i < scenario.Providers.Count; i++)
        {
            ProviderProfile p = scenario.Providers[i];
            var events = new List<string>();
            if (scenario.Outage.Provider == i)
            {
                Outage o = scenario.Outage;
                events.Add($"outage {Seconds(o.Phase.Start)}-{Seconds(o.Phase.End)}: {o.ErrorRate:P0} 503s, {o.HangRate:P0} hang");
            }

            if (scenario.Degradation.Provider == i)
            {
                Degradation d = scenario.Degradation;
                events.Add($"latency x1 to x{d.Factor:0.#} over {Seconds(d.Phase.Start)}-{Seconds(d.Phase.End)}, then stays");
            }

            (double alone50, double alone99) = scenario.NormalLatency(i);
            Line(md, $"| {p.Name} | {p.Price.InputPerMillion.ToString("0.00", Inv)} / {p.Price.OutputPerMillion.ToString("0.00", Inv)} | {p.TimeToFirstTokenMedian.TotalMilliseconds:0} ms, {p.TimeToFirstTokenSigma:0.0#} | {p.TokensPerSecond:0} | {p.SlowProbability:P1} | {Secs(alone50)} / {Secs(alone99)} | "
                + $"{(p.RequestsPerMinute is int rpm ? string.Create(Inv, $"{rpm}/min (429 + Retry-After)") : "none")} | {(events.Count == 0 ? "" : string.Join("; ", events))} |");
        }

        Line(md);
        Line(md, $"Phases: {string.Join(", ", scenario.Phases.Select(p => $"{p.Name} {Seconds(p.Start)}-{(p.End == TimeSpan.MaxValue ? "end" : Seconds(p.End))}"))}. "
            + $"Background: {scenario.Providers[0].TransientErrorRate:P1} 503s everywhere. Prompts log-normal (median {scenario.InputTokensMedian:0} tokens), answers log-normal (median {scenario.OutputTokensMedian:0} tokens).");
        Line(md);
    }

    private static void WriteSummary(StringBuilder md, IReadOnlyList<RunResult> results)
    {
        Line(md, "### Results");
        Line(md);
        Line(md, "Latency is what the caller waited, failovers included, over successful requests (time to first update for streams). "
            + "Cost counts every call: input tokens of failed, timed-out and cancelled calls too (not of 429s), output tokens of successes. "
            + $"Outage columns, in windows of {RunResult.ConvergenceWindow} consecutive requests: requests into the outage until the first window with under {RunResult.ConvergenceShare:P0} of its requests calling the broken provider, "
            + "and until every later window stays under it (with the virtual time since the outage began); how many of the outage's requests called it at all; "
            + "and, after the outage, requests until a window gives the provider at least half the share of calls it had in the first phase.");
        Line(md);
        Line(md, "| Strategy | p50 | p95 | p99 | success | $ / 1k requests | extra calls / request | requests with >1 call | outage: requests until off it (first / for good) | outage requests that called it | back on it after the outage |");
        Line(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (RunResult r in results)
        {
            (int? first, int? forGood, TimeSpan? after, int hits, int of) = r.OutageConvergence();
            string off = $"{(first is int f ? f.ToString(Inv) : "never")} / {(forGood is int k ? string.Create(Inv, $"{k} ({after!.Value.TotalSeconds:0.0} s)") : "never")}";
            (int? back, TimeSpan? backAfter) = r.ReturnAfterRecovery();
            string returned = back is int b ? string.Create(Inv, $"{b} requests ({backAfter!.Value.TotalSeconds:0.0} s)") : "not by the end";
            Line(md, $"| {r.Strategy.Label} | {Secs(r.Percentile(0.50))} | {Secs(r.Percentile(0.95))} | {Secs(r.Percentile(0.99))} | {r.SuccessRate:P2} | "
                + $"{r.CostPer1000Requests:0.000} | {r.ExtraAttemptsPerRequest:0.000} | {r.MultiAttemptShare:P1} | {off} | {hits} of {of} | {returned} |");
        }
        Line(md);
    }

    private static void WritePhases(StringBuilder md, Scenario scenario, IReadOnlyList<RunResult> results)
    {
        Line(md, "### p50 / p99 by phase (success rate below when under 100%)");
        Line(md);
        Line(md, $"| Strategy | {string.Join(" | ", scenario.Phases.Select(p => p.Name))} |");
        Line(md, $"|---|{string.Concat(scenario.Phases.Select(_ => "---:|"))}");
        foreach (RunResult r in results)
        {
            IEnumerable<string> cells = scenario.Phases.Select(phase =>
            {
                (double p50, double p99, double success, _) = r.InPhase(phase);
                string cell = $"{Secs(p50)} / {Secs(p99)}";
                return success < 1 ? string.Create(Inv, $"{cell}<br>{success:P1}") : cell;
            });
            Line(md, $"| {r.Strategy.Label} | {string.Join(" | ", cells)} |");
        }

        Line(md);
    }

    private static void WriteProviders(StringBuilder md, Scenario scenario, IReadOnlyList<RunResult> results)
    {
        Line(md, "### Share of calls per provider, and what they got");
        Line(md);
        Line(md, $"| Strategy | {string.Join(" | ", scenario.Providers.Select(p => p.Name))} | 503s | 429s | hung | cancelled by the router |");
        Line(md, $"|---|{string.Concat(scenario.Providers.Select(_ => "---:|"))}---:|---:|---:|---:|");
        foreach (RunResult r in results)
        {
            double[] share = r.AttemptShare();
            Line(md, $"| {r.Strategy.Label} | {string.Join(" | ", share.Select(s => s.ToString("P1", Inv)))} | "
                + $"{r.Providers.Sum(p => p.Unavailable)} | {r.Providers.Sum(p => p.RateLimited)} | {r.Providers.Sum(p => p.Hung)} | {r.Providers.Sum(p => p.Cancelled)} |");
        }

        Line(md);
    }

    private static string Secs(double seconds) => double.IsNaN(seconds) ? "-" : seconds.ToString("0.00", Inv) + " s";

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0", Inv) + " s";

    private static void Line(StringBuilder md, string text = "") => md.Append(text).Append('\n');
}
