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

    [Theory]
    [InlineData(2.0, "2")]
    [InlineData(null, null)]
    public async Task A_429_carries_the_profiles_Retry_After_or_none(double? seconds, string? expected)
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].Profile.RetryAfter = seconds is double s ? TimeSpan.FromSeconds(s) : null);
        sim.OpenAI.EnqueueFaults(FaultKind.RateLimited);
        using var http = new HttpClient();

        using HttpResponseMessage response = await http.PostAsync(
            new Uri(sim.Server.GetBaseUri("openai"), "v1/chat/completions"),
            new StringContent("""{"model":"m","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(429, (int)response.StatusCode);
        Assert.Equal(expected, response.Headers.TryGetValues("Retry-After", out IEnumerable<string>? values) ? string.Join(",", values) : null);
    }

    [Fact]
    public async Task A_provider_that_does_not_record_requests_still_counts_them()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].RecordRequests = false);
        await using ServiceProvider services = sim.Build();

        await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "chat" });

        Assert.Equal(1, sim.OpenAI.RequestCount);
        Assert.Empty(sim.OpenAI.Received);
    }
}
