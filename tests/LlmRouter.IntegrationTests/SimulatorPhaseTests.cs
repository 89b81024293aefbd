using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.IntegrationTests;

public class SimulatorPhaseTests
{
    [Fact]
    public async Task Time_based_phases_follow_the_simulators_clock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        SimulatedProviderOptions openai = SimulatedVendors.Fast("openai", ProviderApi.OpenAI, 1, milliseconds: 0);
        openai.Phases.Add(new SimulatedPhase { Name = "outage", From = TimeSpan.FromSeconds(10), To = TimeSpan.FromSeconds(20), Profile = { Latency = LatencyModel.Fixed(TimeSpan.Zero), FaultRates = { [FaultKind.Unavailable] = 1 } } });
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o =>
        {
            o.TimeProvider = time;
            o.Providers[0] = openai;
            o.Providers[1] = SimulatedVendors.Fast("anthropic", ProviderApi.Anthropic, 2, milliseconds: 0);
        });
        await using ServiceProvider services = sim.Build();
        IChatClient chat = services.GetRequiredService<IChatClient>();
        var served = new List<string>();

        foreach (int advance in new[] { 0, 10, 10 })
        {
            time.Advance(TimeSpan.FromSeconds(advance));
            served.Add((await chat.GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "chat" })).GetRoutingReport()!.Deployment);
        }

        Assert.Equal(["openai", "anthropic", "openai"], served);
        Assert.Equal([null, "outage", null], sim.OpenAI.Received.Select(r => r.Phase));
    }

    [Fact]
    public async Task Invalid_simulator_options_are_rejected_with_the_reason()
    {
        ArgumentException none = await Assert.ThrowsAsync<ArgumentException>(() => SimulatorServer.StartAsync(new SimulatorOptions()));
        Assert.Contains("Providers is empty", none.Message, StringComparison.Ordinal);

        var tooMuch = new SimulatorOptions { Providers = { new SimulatedProviderOptions { Name = "p", Profile = { FaultRates = { [FaultKind.Hang] = 0.7, [FaultKind.Unavailable] = 0.5 } } } } };
        ArgumentException rates = await Assert.ThrowsAsync<ArgumentException>(() => SimulatorServer.StartAsync(tooMuch));
        Assert.Contains("add up to 1.2", rates.Message, StringComparison.Ordinal);

        var badName = new SimulatorOptions { Providers = { new SimulatedProviderOptions { Name = "_control" } } };
        await Assert.ThrowsAsync<ArgumentException>(() => SimulatorServer.StartAsync(badName));
    }
}
