using System.Diagnostics;
using System.Globalization;
using LlmRouter.Simulation;

// The routing simulation of issue #7: the real router against simulated providers, in virtual time.
//   dotnet run -c Release --project tests/LlmRouter.Simulation -- [--requests N] [--seed S] [--out DIR] [--quick]
//       [--rate R] [--streaming-share X] [--strategies a,b] [--parallel N] [--no-plots] [--verify-determinism] [--trace KEY]
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;

int requests = 20_000;
int seed = 1;
double rate = 8;
double streamingShare = 0;
string outDir = Path.Combine("docs", "images", "simulation");
IReadOnlyList<StrategySpec> strategies = Strategies.All;
int parallelism = Environment.ProcessorCount;
bool plots = true;
bool verify = false;
string? trace = null;

for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--requests":
            requests = int.Parse(Value(), CultureInfo.InvariantCulture);
            break;
        case "--quick":
            requests = 2_000;
            break;
        case "--seed":
            seed = int.Parse(Value(), CultureInfo.InvariantCulture);
            break;
        case "--rate":
            rate = double.Parse(Value(), CultureInfo.InvariantCulture);
            break;
        case "--streaming-share":
            streamingShare = double.Parse(Value(), CultureInfo.InvariantCulture);
            break;
        case "--out":
            outDir = Value();
            break;
        case "--strategies":
            strategies = Strategies.Select(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            break;
        case "--parallel":
            parallelism = int.Parse(Value(), CultureInfo.InvariantCulture);
            break;
        case "--no-plots":
            plots = false;
            break;
        case "--trace":
            trace = Value();
            break;
        case "--verify-determinism":
            verify = true;
            break;
        case "--help" or "-h":
            Console.WriteLine("Options: --requests N (20000) | --quick (2000 requests) | --seed S (1) | --rate R (8/s) | --streaming-share X (0) | --out DIR (docs/images/simulation)");
            Console.WriteLine("         --strategies " + string.Join(",", Strategies.All.Select(s => s.Key)) + " | --parallel N (cores) | --no-plots | --verify-determinism");
            Console.WriteLine("         --trace KEY: the router's view of each deployment every 10 virtual seconds during KEY's run, to stderr");
            return 0;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]} (--help lists them).");
            return 2;
    }
}

var scenario = Scenario.Default(requests, seed, rate, streamingShare);
long started = Stopwatch.GetTimestamp();
IReadOnlyList<RunOutcome> outcomes = Comparison.TryRun(scenario, strategies, parallelism, trace, Console.Error);
TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
IReadOnlyList<RunResult> results = [.. outcomes.Select(o => o.Result).OfType<RunResult>()];

string command = "dotnet run -c Release --project tests/LlmRouter.Simulation -- " + string.Join(' ', args);
Console.WriteLine(MarkdownReport.Write(scenario, results, command.TrimEnd()));
Console.WriteLine($"Simulated {results.Count} strategies x {requests:N0} requests in {elapsed.TotalSeconds:0.0} s wall time "
    + $"({parallelism} in parallel; per run: {string.Join(", ", results.Select(r => $"{r.Strategy.Key} {r.WallTime.TotalSeconds:0.0} s"))}).");
Console.WriteLine($"Digests: {string.Join(", ", results.Select(r => $"{r.Strategy.Key} {r.Digest}"))}");
foreach (RunOutcome failed in outcomes.Where(o => o.Error is not null))
{
    Console.WriteLine();
    Console.WriteLine($"NOT RUN: {failed.Strategy.Label} ({failed.Strategy.Key}): {failed.Error!.Message}");
}

if (verify)
{
    IReadOnlyList<RunOutcome> again = Comparison.TryRun(scenario, [.. results.Select(r => r.Strategy)], parallelism);
    string[] differing = [.. results.Zip(again).Where(p => p.First.Digest != p.Second.Result?.Digest).Select(p => p.First.Strategy.Key)];
    if (differing.Length > 0)
    {
        Console.Error.WriteLine($"NOT deterministic: a second run differs for {string.Join(", ", differing)}.");
        return 1;
    }

    Console.WriteLine("Deterministic: a second run of every strategy gave identical digests.");
}

if (plots)
{
    foreach (string file in Plots.WriteAll(results, outDir))
    {
        Console.WriteLine($"Wrote {file}");
    }
}

return outcomes.Any(o => o.Error is not null) ? 3 : 0;
