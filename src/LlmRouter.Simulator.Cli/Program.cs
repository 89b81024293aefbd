using System.Globalization;
using LlmRouter.Simulator;

// llmrouter-simulator [--port N]: three providers (fast, slow: OpenAI protocol; claude: Anthropic protocol) until Ctrl+C.
// Change them at run time through http://127.0.0.1:PORT/_control/ (see docs/simulator.md).
int port = 0;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--port" && i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p is >= 0 and <= 65535)
    {
        port = p;
        i++;
    }
    else
    {
        Console.Error.WriteLine($"Unknown or invalid argument '{args[i]}'. Usage: llmrouter-simulator [--port 0-65535]");
        return 2;
    }
}

var options = new SimulatorOptions
{
    Port = port,
    Providers =
    {
        new SimulatedProviderOptions { Name = "fast", Api = ProviderApi.OpenAI, Seed = 1, Profile = { Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(60), 0.4) } },
        new SimulatedProviderOptions { Name = "slow", Api = ProviderApi.OpenAI, Seed = 2, Profile = { Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(400), 0.5), FaultRates = { [FaultKind.Unavailable] = 0.05 } } },
        new SimulatedProviderOptions { Name = "claude", Api = ProviderApi.Anthropic, Seed = 3, Profile = { Latency = LatencyModel.LogNormal(TimeSpan.FromMilliseconds(150), 0.4) } },
    },
};

await using SimulatorServer server = await SimulatorServer.StartAsync(options);
Console.WriteLine($"LlmRouter simulator listening on {server.BaseAddress}");
foreach (SimulatedProvider provider in server.Providers)
{
    string hint = provider.Api == ProviderApi.OpenAI ? "OpenAI endpoint" : "Anthropic base URL";
    Uri endpoint = provider.Api == ProviderApi.OpenAI ? new Uri(server.GetBaseUri(provider.Name), "v1") : server.GetBaseUri(provider.Name);
    Console.WriteLine($"  {provider.Name,-8} {hint}: {endpoint}");
}

Console.WriteLine($"Control API: {server.BaseAddress}_control/providers  (Ctrl+C to stop)");
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

return 0;
