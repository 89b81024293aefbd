using LlmRouter.Demo;

// --otel: traces and metrics to the console through the OpenTelemetry SDK (see DemoTelemetry).
using DemoTelemetry? telemetry = DemoTelemetry.Start(args);

// With API keys: a few real requests through the router. Without: the simulated run.
string? openAiKey = Environment.GetEnvironmentVariable("OPENAI_API_KEY");
string? anthropicKey = Environment.GetEnvironmentVariable("ANTHROPIC_API_KEY");
if (!string.IsNullOrWhiteSpace(openAiKey) || !string.IsNullOrWhiteSpace(anthropicKey))
{
    return await RealProvidersDemo.RunAsync(openAiKey, anthropicKey, telemetry);
}

return await SimulatedDemo.RunAsync(args, telemetry);
