using ScottPlot;
using ScottPlot.Plottables;
using ScottPlot.TickGenerators;

namespace LlmRouter.Simulation;

/// <summary>The PNG plots of a comparison (ScottPlot 5).</summary>
public static class Plots
{
    private const int Width = 1100;

    // One colour per row of Strategies.All, in its order, so a strategy keeps its colour whichever rows ran.
    private static readonly Color[] StrategyColors =
    [
        Color.FromHex("#d62728"), Color.FromHex("#ff9896"), Color.FromHex("#8c564b"), Color.FromHex("#e377c2"),
        Color.FromHex("#bcbd22"), Color.FromHex("#17becf"), Color.FromHex("#aec7e8"), Color.FromHex("#7f7f7f"),
        Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e"), Color.FromHex("#9467bd"), Color.FromHex("#2ca02c"),
        Color.FromHex("#98df8a"), Color.FromHex("#111111"),
    ];

    private static readonly Color[] ProviderColors =
    [
        Color.FromHex("#4e79a7"), Color.FromHex("#e15759"), Color.FromHex("#59a14f"), Color.FromHex("#f28e2b"),
        Color.FromHex("#b07aa1"), Color.FromHex("#76b7b2"),
    ];

    /// <summary>Writes every plot into <paramref name="directory"/>; returns the files written.</summary>
    public static IReadOnlyList<string> WriteAll(IReadOnlyList<RunResult> results, string directory)
    {
        ArgumentNullException.ThrowIfNull(results);
        Directory.CreateDirectory(directory);
        var written = new List<string>
        {
            LatencyCdf(results, Path.Combine(directory, "latency-cdf.png"), tail: false),
            LatencyCdf(results, Path.Combine(directory, "latency-cdf-tail.png"), tail: true),
        };

        RunResult? ours = results.FirstOrDefault(r => r.Strategy.Key == "lowest-latency");
        RunResult? random = results.FirstOrDefault(r => r.Strategy.Key == "random");
        RunResult[] pair = [.. new[] { ours, random }.OfType<RunResult>()];
        if (pair.Length > 0)
        {
            Scenario scenario = pair[0].Scenario;
            Phase outage = scenario.Outage.Phase;
            TimeSpan margin = (outage.End - outage.Start) / 2;
            TimeSpan bucket = TimeSpan.FromSeconds(Math.Max(1, Math.Round((outage.End - outage.Start + margin + margin).TotalSeconds / 90)));
            written.Add(TrafficShare(pair, Path.Combine(directory, "traffic-outage.png"), outage.Start - margin, outage.End + margin, bucket, "through the outage"));
        }

        if (results.Count > 0)
        {
            Scenario scenario = results[0].Scenario;
            TimeSpan end = results.Max(r => r.VirtualTime);
            TimeSpan bucket = TimeSpan.FromSeconds(Math.Max(1, Math.Round(scenario.Duration.TotalSeconds / 120)));
            written.Add(TrafficShare(results, Path.Combine(directory, "traffic-all.png"), TimeSpan.Zero, end < scenario.Duration ? end : scenario.Duration, bucket, "over the whole run"));
        }

        return written;
    }

    /// <summary>Latency CDF per strategy on a log time axis; <paramref name="tail"/> zooms on the slowest 5%.</summary>
    private static string LatencyCdf(IReadOnlyList<RunResult> results, string path, bool tail)
    {
        using var plot = new Plot();
        Style(plot);
        double from = tail ? 0.95 : 0;
        for (int i = 0; i < results.Count; i++)
        {
            double[] sorted = results[i].SortedLatencies;
            if (sorted.Length == 0)
            {
                continue;
            }

            // One point per quantile step (finer in the tail), on log10(seconds).
            const int Points = 600;
            var xs = new double[Points + 1];
            var ys = new double[Points + 1];
            for (int k = 0; k <= Points; k++)
            {
                double q = from + ((1 - from) * k / Points);
                xs[k] = Math.Log10(Math.Max(1e-3, RunResult.Percentile(sorted, Math.Max(q, 1.0 / sorted.Length))));
                ys[k] = q;
            }

            var line = plot.Add.ScatterLine(xs, ys, ColorOf(results[i].Strategy));
            line.LineWidth = results[i].Strategy.Key == "lowest-latency" ? 3 : 1.8f;
            line.LegendText = results[i].Strategy.Label;
        }

        LogAxis(plot.Axes.Bottom);
        plot.Axes.Bottom.Label.Text = "end-to-end latency of successful requests (s, log scale)";
        plot.Axes.Left.Label.Text = tail ? "fraction of requests (slowest 5%)" : "fraction of requests";
        plot.Axes.SetLimitsY(from, 1.0005);
        plot.Title(tail ? "Latency CDF per strategy: the tail" : "Latency CDF per strategy");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, 650);
        return path;
    }

    /// <summary>Stacked share of calls per provider over time, one panel per run, phases shaded.</summary>
    private static string TrafficShare(IReadOnlyList<RunResult> results, string path, TimeSpan from, TimeSpan to, TimeSpan bucket, string what)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(results.Count);
        Scenario scenario = results[0].Scenario;
        for (int r = 0; r < results.Count; r++)
        {
            Plot plot = multiplot.GetPlot(r);
            Style(plot);
            (double[] starts, double[][] shares) = results[r].TrafficShares(from, to, bucket);
            if (starts.Length == 0)
            {
                continue;
            }

            double half = bucket.TotalSeconds / 2;
            double[] xs = [.. starts.Select(s => s + half)];
            var lower = new double[xs.Length];
            for (int p = 0; p < scenario.Providers.Count; p++)
            {
                double[] upper = [.. lower.Select((l, i) => l + shares[i][p])];
                var fill = plot.Add.FillY(xs, lower, upper);
                fill.FillColor = ProviderColors[p % ProviderColors.Length].WithAlpha(0.85);
                fill.LineColor = ProviderColors[p % ProviderColors.Length];
                fill.LineWidth = 0;
                fill.LegendText = scenario.Providers[p].Name;
                lower = upper;
            }

            Mark(plot, scenario, from, to);
            plot.Axes.SetLimits(from.TotalSeconds, to.TotalSeconds, 0, 1.12);
            plot.Title($"{results[r].Strategy.Label}: share of calls per provider, {what}");
            plot.Axes.Left.Label.Text = "share of calls";
            plot.Axes.Bottom.Label.Text = r == results.Count - 1 ? "virtual time (s)" : "";
            plot.ShowLegend(Alignment.UpperRight);
        }

        multiplot.SavePng(path, Width, Math.Max(400, 330 * results.Count));
        return path;
    }

    /// <summary>Marks the outage and the degradation: dashed lines at their ends, a band and a label above the data.</summary>
    private static void Mark(Plot plot, Scenario scenario, TimeSpan from, TimeSpan to)
    {
        Outage outage = scenario.Outage;
        Degradation degradation = scenario.Degradation;
        Mark(plot, outage.Phase.Start, outage.Phase.End, from, to, Color.FromHex("#c0392b"), $"outage of {scenario.Providers[outage.Provider].Name}");
        Mark(plot, degradation.Phase.Start, degradation.Phase.End, from, to, Color.FromHex("#b7950b"), $"{scenario.Providers[degradation.Provider].Name} slowing to x{degradation.Factor:0.#}");
    }

    private static void Mark(Plot plot, TimeSpan start, TimeSpan end, TimeSpan from, TimeSpan to, Color color, string label)
    {
        double x1 = Math.Max(start.TotalSeconds, from.TotalSeconds);
        double x2 = Math.Min(end == TimeSpan.MaxValue ? to.TotalSeconds : end.TotalSeconds, to.TotalSeconds);
        if (x2 <= x1)
        {
            return;
        }

        foreach (double x in (double[])[x1, x2])
        {
            if (x > from.TotalSeconds && x < to.TotalSeconds)
            {
                VerticalLine line = plot.Add.VerticalLine(x, 1.5f, color);
                line.LinePattern = LinePattern.Dashed;
            }
        }

        Rectangle band = plot.Add.Rectangle(x1, x2, 1.01, 1.11);
        band.FillColor = color.WithAlpha(0.18);
        band.LineWidth = 0;
        Text text = plot.Add.Text(label, x1, 1.06);
        text.LabelFontSize = 12;
        text.LabelFontColor = color;
        text.LabelAlignment = Alignment.MiddleLeft;
    }

    /// <summary>Labels a log10-scaled axis in plain seconds: majors at 1-2-5 steps, minors at every unit between.</summary>
    private static void LogAxis(IAxis axis)
    {
        var ticks = new NumericManual();
        foreach (double decade in (double[])[0.1, 1, 10, 100])
        {
            for (int m = 1; m < 10; m++)
            {
                double value = decade * m;
                if (m is 1 or 2 or 5)
                {
                    ticks.AddMajor(Math.Log10(value), value.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture));
                }
                else
                {
                    ticks.AddMinor(Math.Log10(value));
                }
            }
        }

        axis.TickGenerator = ticks;
    }

    private static Color ColorOf(StrategySpec strategy)
    {
        int row = Strategies.All.ToList().FindIndex(s => s.Key == strategy.Key);
        return row >= 0 && row < StrategyColors.Length ? StrategyColors[row] : Color.FromHex("#8c564b");
    }

    private static void Style(Plot plot)
    {
        plot.Font.Set("DejaVu Sans");
        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.12);
    }
}
