using Microsoft.Extensions.AI;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LlmRouter.Demo;

/// <summary>
/// The demo's <c>--otel</c> flag: LlmRouter's traces and metrics (and those of M.E.AI's <c>UseOpenTelemetry</c> around each
/// provider client) exported to the console through the OpenTelemetry SDK.
/// </summary>
/// <remarks>
/// <para>
/// Traces are sampled: 5% of traces by trace id (<see cref="TraceIdRatioBasedSampler"/> under a
/// <see cref="ParentBasedSampler"/>, so a sampled request keeps all its attempt and provider spans). The simulated run sends
/// 400 requests; printing every span would bury the rest of the output. The decision is taken when the request span
/// starts, before anyone knows whether the request will fail over, so failed and failed-over requests are sampled at the
/// same 5% as the others. Tail sampling (keep every trace with an error) needs a collector, not the SDK.
/// </para>
/// <para>
/// Metrics are not sampled. A periodic reader exports every 5 s with delta temporality, so each export shows what
/// happened in the last 5 s (only series that changed); the final export happens when the requests are done, before the summary tables.
/// </para>
/// </remarks>
internal sealed class DemoTelemetry : IDisposable
{
    /// <summary>The share of traces exported.</summary>
    public const double SamplingRatio = 0.05;

    /// <summary>The activity source and meter name M.E.AI's <c>UseOpenTelemetry</c> uses when given none.</summary>
    public const string ProviderSourceName = "Experimental.Microsoft.Extensions.AI";

    private const int ExportIntervalMilliseconds = 5000;

    private readonly TracerProvider _tracing;
    private readonly MeterProvider _metrics;
    private bool _disposed;

    private DemoTelemetry()
    {
        _tracing = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => r.AddService("LlmRouter.Demo"))
            .AddSource(LlmRouterTelemetry.ActivitySourceName)
            .AddSource(ProviderSourceName)
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(SamplingRatio)))
            .AddConsoleExporter()
            .Build();
        _metrics = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService("LlmRouter.Demo"))
            .AddMeter(LlmRouterTelemetry.MeterName)
            .AddMeter(ProviderSourceName)
            .AddConsoleExporter((_, reader) =>
            {
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = ExportIntervalMilliseconds;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Delta;
            })
            .Build();
    }

    /// <summary>Starts exporting when the arguments contain <c>--otel</c>; otherwise returns <see langword="null"/>.</summary>
    public static DemoTelemetry? Start(string[] args) => args.Contains("--otel") ? new DemoTelemetry() : null;

    /// <summary>
    /// Wraps a deployment's provider client in M.E.AI's <c>UseOpenTelemetry</c>, so its <c>gen_ai</c> span nests under the
    /// router's attempt span. Call from the <c>configure</c> callback of <c>AddOpenAIDeployment</c> or
    /// <c>AddAnthropicDeployment</c>, which runs after the builder has set <see cref="DeploymentOptions.ClientFactory"/>.
    /// </summary>
    public void Decorate(DeploymentOptions deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Func<IServiceProvider, IChatClient> inner = deployment.ClientFactory
            ?? throw new InvalidOperationException($"Deployment '{deployment.Name}' has no ClientFactory to decorate.");
        deployment.ClientFactory = services => inner(services).AsBuilder().UseOpenTelemetry(sourceName: ProviderSourceName).Build(services);
    }

    /// <summary>Exports what is left (the last spans and a final metrics collection) and stops exporting.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Console.WriteLine("--- OpenTelemetry: final export ---");
        _tracing.Dispose();   // shuts the exporter down after the last spans
        _metrics.Dispose();   // one last collection and export
    }
}
