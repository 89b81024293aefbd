using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace LlmRouter.Demo;

/// <summary>
/// Three simulated providers behind the real OpenAI and Anthropic SDKs, over HTTP on 127.0.0.1: "flaky" is the fastest
/// until an outage (503s and hangs) from 4 s to 10 s, "fast" is a little slower, "slow" is slow. A steady stream of
/// requests shows the router converging on flaky, moving off it during the outage, and returning when it recovers.
/// With <c>--budget USD</c> every request belongs to team "demo", whose total budget is that many dollars: the budget
/// layer reserves each request's worst case, settles it at the real cost and rejects requests once the budget is spent.
/// With <c>--otel</c> the router's traces and metrics, and M.E.AI's <c>UseOpenTelemetry</c> spans and metrics of each
/// provider client, go to the console through the OpenTelemetry SDK instead of the live table (as with <c>--no-live</c>):
/// 5% of traces, chosen by trace id when each request starts (failed-over requests are not favoured), and metrics every
/// 5 s as deltas, then once more at the end (see <see cref="DemoTelemetry"/>). It combines with <c>--budget</c>.
/// </summary>
internal static class SimulatedDemo
{
    private const int RequestsPerSecond = 25;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(16);
    private static readonly TimeSpan OutageStart = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan OutageEnd = TimeSpan.FromSeconds(10);
    private const int FastRequestsPerMinute = 120;
    private static readonly string[] Names = ["flaky", "fast", "slow"];
    private static readonly ScopePath DemoTeam = new("org:demo", "team:demo");

    public static async Task<int> RunAsync(string[] args, DemoTelemetry? telemetry)
    {
        bool live = telemetry is null && !args.Contains("--no-live") && AnsiConsole.Profile.Capabilities.Interactive;
        decimal? budget = Budget(args);
        await using SimulatorServer sim = await SimulatorServer.StartAsync(new SimulatorOptions
        {
            Providers =
            {
                new SimulatedProviderOptions
                {
                    Name = "flaky", Api = ProviderApi.OpenAI, Seed = 3,
                    Profile = { Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(35), 0.3), TokensPerSecond = 0 },
                },
                new SimulatedProviderOptions
                {
                    Name = "fast", Api = ProviderApi.OpenAI, Seed = 1,
                    Profile = { Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(70), 0.35), TokensPerSecond = 0, RequestsPerMinute = FastRequestsPerMinute },
                },
                new SimulatedProviderOptions
                {
                    Name = "slow", Api = ProviderApi.Anthropic, Seed = 2,
                    Profile = { Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(220), 0.3), TokensPerSecond = 0 },
                },
            },
        });

        var services = new ServiceCollection();
        services.AddLlmRouter(router =>
        {
            router
                .AddOpenAIDeployment("flaky", p => { p.Endpoint = new Uri(sim.GetBaseUri("flaky"), "v1"); p.ApiKey = "sk-sim"; p.Model = "gpt-4o-mini"; }, d => { d.AttemptTimeout = TimeSpan.FromSeconds(1); telemetry?.Decorate(d); })
                .AddOpenAIDeployment("fast", p => { p.Endpoint = new Uri(sim.GetBaseUri("fast"), "v1"); p.ApiKey = "sk-sim"; p.Model = "gpt-4o-mini"; }, d => { d.AttemptTimeout = TimeSpan.FromSeconds(1); telemetry?.Decorate(d); })
                .AddAnthropicDeployment("slow", p => { p.Endpoint = sim.GetBaseUri("slow"); p.ApiKey = "sk-ant-sim"; p.Model = "claude-haiku-4-5"; p.DefaultMaxOutputTokens = 100; }, d => { d.AttemptTimeout = TimeSpan.FromSeconds(2); telemetry?.Decorate(d); })
                .AddRoute("chat", Names)
                .AddRoute("warm-up-flaky", "flaky")
                .AddRoute("warm-up-fast", "fast")
                .AddRoute("warm-up-slow", "slow")
                .Configure(o =>
                {
                    o.LatencyRanking.HalfLife = TimeSpan.FromSeconds(2);
                    o.LatencyRanking.ExplorationRate = 0.05;
                    o.Health.ConsecutiveFailureThreshold = 3;
                    o.Health.BreakDuration = TimeSpan.FromSeconds(2);
                });
            if (budget is decimal usd)
            {
                // Prices come from the catalogue by model id (gpt-4o-mini, claude-haiku-4-5).
                router.ConfigureBudgets(b => b.Scopes.Add(new ScopePolicy { Scope = "team:demo", Budgets = { new BudgetLimit { LimitUsd = usd, Window = BudgetWindow.Total } } }));
            }
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();

        AnsiConsole.MarkupLine("[bold]LlmRouter demo[/]: three simulated providers over HTTP on 127.0.0.1, through the real OpenAI and Anthropic SDKs.");
        AnsiConsole.MarkupLine($"[grey]flaky is the fastest until an outage from {OutageStart.TotalSeconds:0} s to {OutageEnd.TotalSeconds:0} s (70% 503, 30% hangs); {RequestsPerSecond} requests/s for {Duration.TotalSeconds:0} s.[/]");
        AnsiConsole.MarkupLine($"[grey]fast allows {FastRequestsPerMinute} requests a minute and says how many are left in its rate-limit headers, which the router reads.[/]");

        // Warm-up, as an app's start-up would: the first calls pay for JIT and connections, not for the providers.
        foreach (string name in Names)
        {
            for (int i = 0; i < 3; i++)
            {
                await chat.GetResponseAsync("warm-up", new ChatOptions { ModelId = $"warm-up-{name}" });
            }
        }

        if (budget is decimal limit)
        {
            AnsiConsole.MarkupLine($"[grey]Budget: team \"demo\" may spend ${limit} in total; each request reserves its worst case (up to 100 output tokens at the route's dearest price).[/]");
        }

        var results = new ConcurrentBag<Outcome>();
        var clock = Stopwatch.StartNew();
        Task load = RunLoadAsync(chat, results, clock);
        Task outage = ScriptOutageAsync(sim.Provider("flaky"), clock);
        if (live)
        {
            await AnsiConsole.Live(Render(router, results, clock.Elapsed)).StartAsync(async ctx =>
            {
                while (!load.IsCompleted)
                {
                    ctx.UpdateTarget(Render(router, results, clock.Elapsed));
                    await Task.WhenAny(load, Task.Delay(250));
                }

                ctx.UpdateTarget(Render(router, results, clock.Elapsed));
            });
        }
        else
        {
            while (!load.IsCompleted)
            {
                await Task.WhenAny(load, Task.Delay(2000));
                int done = results.Count;
                AnsiConsole.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds,5:0.0} s: {done} requests done, {results.Count(r => r.Deployment is null)} failed[/]");
            }
        }

        await load;
        await outage;

        // The final export before the summary, so the tables stay the last lines on the console.
        telemetry?.Dispose();
        WriteSummary(router, [.. results]);
        IReadOnlyList<ReceivedRequest> toFast = sim.Provider("fast").Received;
        AnsiConsole.MarkupLine($"[bold]Rate limit[/]: fast took {toFast.Count(r => r.Status == 200)} requests at up to {FastRequestsPerMinute} a minute and answered 429 to {toFast.Count(r => r.Status == 429)}: " +
            "the router moved traffic on when its headers said the limit was close, not after a 429.");
        if (budget is not null && chat.GetService<BudgetChatClient>() is { } budgets)
        {
            BudgetUsage usage = (await budgets.GetUsageAsync("team:demo")).Single();
            AnsiConsole.MarkupLine($"[bold]Budget[/]: spent ${usage.SpentUsd:0.000000} of ${usage.Account.Limit} (reserved now ${usage.ReservedUsd:0.000000}); " +
                $"[yellow]{results.Count(r => r.OverBudget)}[/] requests rejected by the budget before any provider call.");
        }

        return 0;
    }

    private static decimal? Budget(string[] args)
    {
        int at = Array.IndexOf(args, "--budget");
        if (at < 0)
        {
            return null;
        }

        if (at + 1 >= args.Length || !decimal.TryParse(args[at + 1], NumberStyles.Number, CultureInfo.InvariantCulture, out decimal usd) || usd <= 0)
        {
            throw new ArgumentException($"--budget needs a positive amount in US dollars, for example --budget 0.005; got '{(at + 1 < args.Length ? args[at + 1] : "")}'.", nameof(args));
        }

        return usd;
    }

    /// <summary>Changes the running provider through the simulator's run-time API: healthy, outage, recovery.</summary>
    private static async Task ScriptOutageAsync(SimulatedProvider flaky, Stopwatch clock)
    {
        await Task.Delay(OutageStart - clock.Elapsed);
        flaky.Configure(p =>
        {
            p.FaultRates[FaultKind.Unavailable] = 0.7;
            p.FaultRates[FaultKind.Hang] = 0.3;
        });
        await Task.Delay(OutageEnd - clock.Elapsed);
        flaky.Configure(p => p.FaultRates.Clear());
    }

    private static async Task RunLoadAsync(IChatClient chat, ConcurrentBag<Outcome> results, Stopwatch clock)
    {
        var inFlight = new List<Task>();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / RequestsPerSecond));
        int n = 0;
        while (clock.Elapsed < Duration && await timer.WaitForNextTickAsync())
        {
            int number = n++;
            inFlight.Add(Task.Run(async () =>
            {
                TimeSpan started = clock.Elapsed;
                try
                {
                    ChatOptions options = new ChatOptions { ModelId = "chat", MaxOutputTokens = 100 }.WithScopePath(DemoTeam);
                    ChatResponse response = await chat.GetResponseAsync($"Request {number}: summarise the news.", options);
                    RoutingReport report = response.GetRoutingReport()!;
                    results.Add(new Outcome(started, clock.Elapsed - started, report.Deployment, report.Attempts));
                }
                catch (BudgetExceededException)
                {
                    results.Add(new Outcome(started, clock.Elapsed - started, null, [], OverBudget: true));
                }
                catch (LlmRouterException e)
                {
                    results.Add(new Outcome(started, clock.Elapsed - started, null, e is AllAttemptsFailedException all ? all.Attempts : []));
                }
            }));
        }

        await Task.WhenAll(inFlight);
    }

    private static Table Render(LlmRouterChatClient router, ConcurrentBag<Outcome> results, TimeSpan elapsed)
    {
        Outcome[] all = [.. results];
        TimeSpan windowStart = elapsed - TimeSpan.FromSeconds(1);
        bool outage = elapsed >= OutageStart && elapsed < OutageEnd;
        var table = new Table()
            .Title($"{elapsed.TotalSeconds:0.0} s  flaky: {(outage ? "[red]OUTAGE[/]" : "[green]healthy[/]")}  requests done: {all.Length}")
            .AddColumns("deployment", "served", "served last 1 s", "failed attempts", "latency estimate", "circuit");
        foreach (Deployment d in router.Deployments)
        {
            int served = all.Count(o => o.Deployment == d.Name);
            int recent = all.Count(o => o.Deployment == d.Name && o.Started >= windowStart);
            int failed = all.Sum(o => o.Attempts.Count(a => a.Deployment == d.Name && a.Outcome != AttemptOutcome.Succeeded));
            TimeSpan? estimate = d.GetLatencyEstimate(streaming: false);
            table.AddRow(
                d.Name,
                served.ToString(CultureInfo.InvariantCulture),
                new string('#', recent),
                failed.ToString(CultureInfo.InvariantCulture),
                estimate is TimeSpan e ? $"{e.TotalMilliseconds:0} ms" : "-",
                Health(d));
        }

        return table;
    }

    private static string Health(Deployment d) => d.CircuitState switch
    {
        CircuitState.Open => "[red]open[/]",
        CircuitState.HalfOpen => "[yellow]half-open[/]",
        _ => d.CooldownUntil is not null ? "[yellow]cooling down[/]" : "[green]closed[/]",
    };

    private static void WriteSummary(LlmRouterChatClient router, Outcome[] all)
    {
        var timeline = new Table().Title("Who served each second (requests)").AddColumn("second");
        foreach (string name in Names)
        {
            timeline.AddColumn(name);
        }

        timeline.AddColumn("failed");
        int seconds = (int)Math.Ceiling(Duration.TotalSeconds);
        for (int s = 0; s < seconds; s++)
        {
            Outcome[] bucket = [.. all.Where(o => (int)o.Started.TotalSeconds == s)];
            var cells = new List<IRenderable> { new Markup(s >= OutageStart.TotalSeconds && s < OutageEnd.TotalSeconds ? $"[red]{s}[/]" : $"{s}") };
            foreach (string name in Names)
            {
                cells.Add(new Text(bucket.Count(o => o.Deployment == name).ToString(CultureInfo.InvariantCulture)));
            }

            cells.Add(new Text(bucket.Count(o => o.Deployment is null).ToString(CultureInfo.InvariantCulture)));
            timeline.AddRow(cells);
        }

        AnsiConsole.Write(timeline);

        var summary = new Table().Title("Per deployment").AddColumns("deployment", "requests served", "failed attempts", "failovers away", "p50", "p99", "health");
        foreach (Deployment d in router.Deployments)
        {
            double[] latencies = [.. all.Where(o => o.Deployment == d.Name).Select(o => o.Elapsed.TotalMilliseconds).Order()];
            int failedAttempts = all.Sum(o => o.Attempts.Count(a => a.Deployment == d.Name && a.Outcome != AttemptOutcome.Succeeded));
            int failovers = all.Count(o => o.Attempts.Count > 1 && o.Attempts[0].Deployment == d.Name && o.Deployment != d.Name);
            summary.AddRow(
                d.Name,
                latencies.Length.ToString(CultureInfo.InvariantCulture),
                failedAttempts.ToString(CultureInfo.InvariantCulture),
                failovers.ToString(CultureInfo.InvariantCulture),
                Percentile(latencies, 0.50),
                Percentile(latencies, 0.99),
                Health(d));
        }

        AnsiConsole.Write(summary);
        double[] overall = [.. all.Where(o => o.Deployment is not null).Select(o => o.Elapsed.TotalMilliseconds).Order()];
        int ok = overall.Length;
        AnsiConsole.MarkupLine($"[bold]{all.Length}[/] requests, [green]{ok}[/] served ({100.0 * ok / Math.Max(1, all.Length):0.0}%), " +
            $"{all.Count(o => o.Attempts.Count > 1 && o.Deployment is not null)} after a failover; end-to-end p50 {Percentile(overall, 0.5)}, p99 {Percentile(overall, 0.99)}.");
    }

    private static string Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? "-" : $"{sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)]:0} ms";

    private sealed record Outcome(TimeSpan Started, TimeSpan Elapsed, string? Deployment, IReadOnlyList<AttemptRecord> Attempts, bool OverBudget = false);
}
