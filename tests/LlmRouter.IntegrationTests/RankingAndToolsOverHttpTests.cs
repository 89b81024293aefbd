using System.Net.Http.Json;
using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.IntegrationTests;

public class RankingAndToolsOverHttpTests
{
    private static readonly ChatOptions Chat = new() { ModelId = "chat" };

    private static async Task<Dictionary<string, int>> Serve(IChatClient chat, int count)
    {
        var served = new Dictionary<string, int>();
        for (int i = 0; i < count; i++)
        {
            string d = (await chat.GetResponseAsync(SimulatedVendors.Prompt, Chat)).GetRoutingReport()!.Deployment;
            served[d] = served.GetValueOrDefault(d) + 1;
        }

        return served;
    }

    [Fact]
    public async Task Latency_ranking_converges_on_the_fastest_provider_moves_when_it_degrades_and_back_when_it_recovers()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o =>
        {
            o.Providers[0].Profile.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(5));
            o.Providers[1].Profile.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(100));
        });
        // Warm the SDKs' code paths (JIT) with a throwaway router, so the measured one does not rank first-call costs.
        await using (ServiceProvider warm = sim.Build(more: r => r.AddRoute("gpt", "openai").AddRoute("claude", "anthropic")))
        {
            IChatClient warmChat = warm.GetRequiredService<IChatClient>();
            for (int i = 0; i < 3; i++)
            {
                await warmChat.GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "gpt" });
                await warmChat.GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "claude" });
            }
        }

        await using ServiceProvider services = sim.Build(strategy: "LowestLatency", more: r => r.Configure(o =>
        {
            o.LatencyRanking.ExplorationRate = 0.1;
            o.LatencyRanking.LatencyBuffer = 0;
            o.LatencyRanking.HalfLife = TimeSpan.FromSeconds(1);
        }));
        IChatClient chat = services.GetRequiredService<IChatClient>();

        // Shares, not exact counts: real HTTP on a shared 2-core machine, with 10% exploration.
        await Serve(chat, 10);
        Dictionary<string, int> converged = await Serve(chat, 30);
        LlmRouterChatClient router = services.GetRequiredService<LlmRouterChatClient>();
        Assert.True(converged.GetValueOrDefault("openai") >= 21, $"converged: {string.Join(", ", converged)}; " + string.Join("; ", router.Deployments.Select(d =>
            $"{d.Name}: {d.GetLatencyEstimate(false)?.TotalMilliseconds} ms, failure {d.FailureRate:0.00}, counts {d.AttemptCounts}, circuit {d.CircuitState}")));

        sim.OpenAI.Configure(p => p.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(400)));
        await Serve(chat, 10);
        Dictionary<string, int> degraded = await Serve(chat, 30);
        Assert.True(degraded.GetValueOrDefault("anthropic") >= 21, $"degraded: {string.Join(", ", degraded)}");

        sim.OpenAI.Configure(p => p.Latency = LatencyModel.Fixed(TimeSpan.FromMilliseconds(5)));
        await Serve(chat, 60);
        Dictionary<string, int> recovered = await Serve(chat, 30);
        Assert.True(recovered.GetValueOrDefault("openai") >= 21, $"recovered: {string.Join(", ", recovered)}");
    }

    [Fact]
    public async Task Function_invocation_over_the_router_completes_a_tool_loop_across_a_failover()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        var services = sim.Build();
        await using (services)
        {
            IChatClient chat = services.GetRequiredService<IChatClient>().AsBuilder().UseFunctionInvocation().Build();
            int calls = 0;
            AIFunction weather = AIFunctionFactory.Create(() =>
            {
                calls++;
                return "sunny, 21 C";
            }, "get_weather", "Gets the weather in Paris.");

            // The first round (tool call) is served by OpenAI; its second round fails there and goes to Anthropic.
            sim.OpenAI.EnqueueFaults(FaultKind.None, FaultKind.Unavailable);
            ChatResponse response = await chat.GetResponseAsync(
                [new ChatMessage(ChatRole.User, "What's the weather in Paris?")],
                new ChatOptions { ModelId = "chat", Tools = [weather] });

            Assert.Equal(1, calls);
            Assert.StartsWith("[anthropic] tool said:", response.Text, StringComparison.Ordinal);
            Assert.Contains("sunny, 21 C", response.Text, StringComparison.Ordinal);
            Assert.Equal(2, sim.OpenAI.RequestCount);
            Assert.Equal(1, sim.Anthropic.RequestCount);
        }
    }

    [Fact]
    public async Task Streaming_over_both_sdks_reports_usage()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].Profile.CachedPromptShare = 0.5);
        await using ServiceProvider services = sim.Build(more: r => r.AddRoute("claude", "anthropic").AddRoute("gpt", "openai"));
        IChatClient chat = services.GetRequiredService<IChatClient>();

        foreach (string route in new[] { "gpt", "claude" })
        {
            List<ChatResponseUpdate> updates = [];
            await foreach (ChatResponseUpdate u in chat.GetStreamingResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = route }))
            {
                updates.Add(u);
            }

            ChatResponse combined = updates.ToChatResponse();
            Assert.StartsWith($"[{(route == "gpt" ? "openai" : "anthropic")}] reply to:", combined.Text, StringComparison.Ordinal);
            Assert.True(combined.Usage?.OutputTokenCount > 0, $"{route}: no usage");
            Assert.True(combined.Usage?.InputTokenCount > 0, $"{route}: no input usage");
            Assert.True(combined.GetRoutingReport() is not null, $"{route}: first update props: {string.Join(",", updates[0].AdditionalProperties?.Keys ?? [])}; combined: {string.Join(",", combined.AdditionalProperties?.Keys ?? [])}; message props: {string.Join(",", combined.Messages.SelectMany(m => m.AdditionalProperties?.Keys ?? []))}");
            Assert.Equal(route == "gpt" ? "openai" : "anthropic", combined.GetRoutingReport()!.Deployment);
        }

        Assert.True(sim.OpenAI.Received[0].Stream);
        Assert.Equal("gpt-4o-mini", sim.OpenAI.Received[0].Model);
        Assert.False(sim.OpenAI.Received[0].Headers.ContainsKey("Authorization"));
        Assert.False(sim.Anthropic.Received[0].Headers.ContainsKey("x-api-key"));
    }

    [Fact]
    public async Task Phases_by_request_count_and_the_control_endpoint_change_behaviour()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o =>
            o.Providers[0].Phases.Add(new SimulatedPhase { Name = "outage", FromRequest = 2, ToRequest = 4, Profile = { FaultRates = { [FaultKind.Unavailable] = 1 } } }));
        await using ServiceProvider services = sim.Build();
        IChatClient chat = services.GetRequiredService<IChatClient>();

        var servedBy = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            servedBy.Add((await chat.GetResponseAsync(SimulatedVendors.Prompt, Chat)).GetRoutingReport()!.Deployment);
        }

        Assert.Equal(["openai", "openai", "anthropic", "anthropic"], servedBy);
        Assert.Equal(["outage", "outage"], sim.OpenAI.Received.Skip(2).Select(r => r.Phase));

        using var http = new HttpClient { BaseAddress = sim.Server.BaseAddress };
        using HttpResponseMessage put = await http.PutAsJsonAsync("_control/providers/anthropic", new { faultRates = new Dictionary<string, double> { ["Overloaded"] = 1 } });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, put.StatusCode);
        Assert.Equal(1, sim.Anthropic.Profile.FaultRates[FaultKind.Overloaded]);

        using HttpResponseMessage faults = await http.PostAsJsonAsync("_control/providers/openai/faults", new[] { "RateLimited" });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, faults.StatusCode);
        string list = await http.GetStringAsync(new Uri("_control/providers", UriKind.Relative));
        Assert.Contains("\"name\":\"openai\"", list, StringComparison.Ordinal);

        using HttpResponseMessage bad = await http.PostAsJsonAsync("_control/providers/openai/faults", new[] { "Meteor" });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);

        using HttpResponseMessage limited = await http.PutAsJsonAsync("_control/providers/openai", new { requestsPerMinute = 90 });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, limited.StatusCode);
        Assert.Equal(90, sim.OpenAI.Profile.RequestsPerMinute);
        using HttpResponseMessage zero = await http.PutAsJsonAsync("_control/providers/openai", new { requestsPerMinute = 0 });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, zero.StatusCode);
        Assert.Contains("requestsPerMinute is 0", await zero.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using HttpResponseMessage unlimited = await http.PutAsJsonAsync("_control/providers/openai", new Dictionary<string, object?> { ["requestsPerMinute"] = null });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, unlimited.StatusCode);
        Assert.Null(sim.OpenAI.Profile.RequestsPerMinute);
    }
}
