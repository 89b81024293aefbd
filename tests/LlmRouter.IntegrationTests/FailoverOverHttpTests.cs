using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.IntegrationTests;

/// <summary>The router over the real OpenAI and Anthropic SDKs, talking HTTP to the simulator on 127.0.0.1.</summary>
public class FailoverOverHttpTests
{
    private static readonly ChatOptions Chat = new() { ModelId = "chat" };

    [Theory]
    [InlineData(FaultKind.RateLimited, 429)]
    [InlineData(FaultKind.Unavailable, 503)]
    [InlineData(FaultKind.ServerError, 500)]
    [InlineData(FaultKind.Overloaded, 529)]
    [InlineData(FaultKind.Unauthorized, 401)]
    public async Task Fails_over_from_OpenAI_to_Anthropic_on_status(FaultKind fault, int status)
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        sim.OpenAI.EnqueueFaults(fault);
        await using ServiceProvider services = sim.Build();

        ChatResponse response = await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat);

        RoutingReport report = response.GetRoutingReport()!;
        Assert.Equal("anthropic", report.Deployment);
        Assert.Equal(status, report.Attempts[0].StatusCode);
        Assert.StartsWith("[anthropic] reply to: What is the capital", response.Text, StringComparison.Ordinal);
        Assert.Equal(1, sim.Anthropic.RequestCount);
    }

    [Theory]
    [InlineData(FaultKind.ConnectionReset)]
    [InlineData(FaultKind.MalformedJson)]
    public async Task Fails_over_on_transport_and_protocol_errors(FaultKind fault)
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        sim.OpenAI.EnqueueFaults(fault);
        await using ServiceProvider services = sim.Build();

        ChatResponse response = await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat);

        Assert.Equal("anthropic", response.GetRoutingReport()!.Deployment);
        Assert.Equal(AttemptOutcome.Failed, response.GetRoutingReport()!.Attempts[0].Outcome);
    }

    [Fact]
    public async Task Fails_over_from_Anthropic_to_OpenAI_on_529()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        sim.Anthropic.EnqueueFaults(FaultKind.Overloaded);
        await using ServiceProvider services = sim.Build(more: r => r.AddRoute("claude-first", r => { r.Deployments.Add("anthropic"); r.Deployments.Add("openai"); r.Strategy = "Ordered"; }));

        ChatResponse response = await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "claude-first" });

        Assert.Equal("openai", response.GetRoutingReport()!.Deployment);
        Assert.Equal(529, response.GetRoutingReport()!.Attempts[0].StatusCode);
        Assert.Equal(FailureKind.RateLimited, response.GetRoutingReport()!.Attempts[0].FailureKind);
    }

    [Fact]
    public async Task A_context_overflow_with_no_larger_window_is_not_failed_over()
    {
        // The provider's real window (5 tokens) is smaller than the configured one, so the pre-check lets the prompt through.
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].Profile.ContextWindow = 5);
        await using ServiceProvider services = sim.Build(openAi: d => d.ContextWindow = 100_000, anthropic: d => d.ContextWindow = 100_000);

        await Assert.ThrowsAnyAsync<Exception>(() => services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat));

        Assert.Equal(0, sim.Anthropic.RequestCount);
    }

    [Fact]
    public async Task A_context_overflow_goes_to_the_larger_window()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].Profile.ContextWindow = 5);
        await using ServiceProvider services = sim.Build(openAi: d => d.ContextWindow = 100_000, anthropic: d => d.ContextWindow = 200_000);

        ChatResponse response = await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat);

        Assert.Equal("anthropic", response.GetRoutingReport()!.Deployment);
        Assert.Equal(FailureKind.ContextWindowExceeded, response.GetRoutingReport()!.Attempts[0].FailureKind);
    }

    [Fact]
    public async Task A_prompt_that_cannot_fit_a_known_window_is_never_sent_there()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        await using ServiceProvider services = sim.Build(openAi: d => d.ContextWindow = 5, anthropic: d => d.ContextWindow = 200_000);

        ChatResponse response = await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat);

        Assert.Equal(("anthropic", 1), (response.GetRoutingReport()!.Deployment, response.GetRoutingReport()!.AttemptCount));
        Assert.Equal(0, sim.OpenAI.RequestCount);
    }

    [Fact]
    public async Task A_hang_fails_over_after_the_attempt_timeout_and_the_simulator_sees_the_abort()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        sim.OpenAI.EnqueueFaults(FaultKind.Hang);
        await using ServiceProvider services = sim.Build(openAi: d => d.AttemptTimeout = TimeSpan.FromSeconds(30), time: time);

        Task<ChatResponse> pending = services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat);
        await Eventually.Until(() => sim.OpenAI.RequestCount == 1);
        time.Advance(TimeSpan.FromSeconds(30));
        ChatResponse response = await pending;

        Assert.Equal("anthropic", response.GetRoutingReport()!.Deployment);
        Assert.Equal(AttemptOutcome.TimedOut, response.GetRoutingReport()!.Attempts[0].Outcome);
        await Eventually.Until(() => sim.OpenAI.Received[0].ClientAborted);
    }

    [Fact]
    public async Task A_stream_dropped_before_the_first_chunk_fails_over()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        sim.OpenAI.EnqueueFaults(FaultKind.StreamDrop);
        await using ServiceProvider services = sim.Build();

        var text = new List<string>();
        RoutingReport? report = null;
        await foreach (ChatResponseUpdate u in services.GetRequiredService<IChatClient>().GetStreamingResponseAsync(SimulatedVendors.Prompt, Chat))
        {
            report ??= u.GetRoutingReport();
            text.Add(u.Text);
        }

        Assert.Equal("anthropic", report!.Deployment);
        Assert.StartsWith("[anthropic] reply to:", string.Concat(text), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_dropped_after_chunks_propagates_without_failover()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].Profile.StreamDropAfterChunks = 3);
        sim.OpenAI.EnqueueFaults(FaultKind.StreamDrop);
        await using ServiceProvider services = sim.Build();
        int received = 0;

        var texts = new List<string>();
        Exception? caught = null;
        try
        {
            await foreach (ChatResponseUpdate u in services.GetRequiredService<IChatClient>().GetStreamingResponseAsync(SimulatedVendors.Prompt, Chat))
            {
                received++;
                texts.Add(u.Text + "|" + u.FinishReason);
            }
        }
        catch (Exception e)
        {
            caught = e;
        }

        Assert.True(caught is not null, $"no error after {received} updates: {string.Join(",", texts)}; status {sim.OpenAI.Received[0].Status} fault {sim.OpenAI.Received[0].Fault}");

        Assert.True(received >= 1);
        Assert.Equal(0, sim.Anthropic.RequestCount);
    }

    [Fact]
    public async Task Retry_after_cools_the_deployment_for_the_stated_time()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[0].Profile.RetryAfter = TimeSpan.FromSeconds(20));
        sim.OpenAI.EnqueueFaults(FaultKind.RateLimited);
        await using ServiceProvider services = sim.Build(time: time);
        IChatClient chat = services.GetRequiredService<IChatClient>();

        await chat.GetResponseAsync(SimulatedVendors.Prompt, Chat);
        time.Advance(TimeSpan.FromSeconds(19));
        ChatResponse during = await chat.GetResponseAsync(SimulatedVendors.Prompt, Chat);
        time.Advance(TimeSpan.FromSeconds(1));
        ChatResponse after = await chat.GetResponseAsync(SimulatedVendors.Prompt, Chat);

        Assert.Equal("anthropic", during.GetRoutingReport()!.Deployment);
        Assert.Equal("openai", after.GetRoutingReport()!.Deployment);
        Assert.Equal(2, sim.OpenAI.RequestCount);
    }

    [Fact]
    public async Task Retry_after_from_Anthropic_is_honoured_through_the_transport_capture()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers[1].Profile.RetryAfter = TimeSpan.FromSeconds(15));
        sim.Anthropic.EnqueueFaults(FaultKind.RateLimited);
        await using ServiceProvider services = sim.Build(more: r => r.AddRoute("claude-first", r => { r.Deployments.Add("anthropic"); r.Deployments.Add("openai"); r.Strategy = "Ordered"; }), time: time);

        await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "claude-first" });

        LlmRouterChatClient router = services.GetRequiredService<LlmRouterChatClient>();
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(15), router.Deployments[1].CooldownUntil);
    }

    [Fact]
    public async Task Caller_cancellation_aborts_the_http_request_and_does_not_fail_over()
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        sim.OpenAI.EnqueueFaults(FaultKind.Hang);
        await using ServiceProvider services = sim.Build();
        using var cts = new CancellationTokenSource();

        Task<ChatResponse> pending = services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, Chat, cts.Token);
        await Eventually.Until(() => sim.OpenAI.RequestCount == 1);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        await Eventually.Until(() => sim.OpenAI.Received[0].ClientAborted);
        Assert.Equal(0, sim.Anthropic.RequestCount);
    }

    [Theory]
    [InlineData("openai", "anthropic")]
    [InlineData("anthropic", "openai")]
    public async Task Hedging_on_first_update_streams_underneath_and_keeps_the_usage(string first, string second)
    {
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync();
        await using ServiceProvider services = sim.Build(more: r => r.AddRoute("hedged", route =>
        {
            route.Deployments.Add(first);
            route.Deployments.Add(second);
            route.Strategy = "Ordered";
            route.Hedging = new HedgingOptions { Delay = TimeSpan.FromSeconds(30), OnFirstUpdate = true };
        }));

        ChatResponse response = await services.GetRequiredService<IChatClient>().GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "hedged" });

        // One response, collected from the SDK's stream, with the usage the stream reported (cost and budgets read it).
        Assert.Equal(first, response.GetRoutingReport()!.Deployment);
        Assert.StartsWith($"[{first}] reply to: What is the capital", response.Text, StringComparison.Ordinal);
        Assert.True(response.Usage?.InputTokenCount > 0, "input tokens reported");
        Assert.True(response.Usage?.OutputTokenCount > 0, "output tokens reported");
        Assert.True(Assert.Single(sim.Server.Provider(first).Received).Stream, "the attempt called the streaming API");
    }

    [Theory]
    [InlineData("openai", "anthropic")]
    [InlineData("anthropic", "openai")]
    public async Task A_provider_whose_rate_limit_headers_say_it_is_nearly_out_ranks_last_before_any_429(string limited, string other)
    {
        // 60 a minute, refilled at one a second: the bucket's first 60 go at once, then one a second.
        await using SimulatedVendors sim = await SimulatedVendors.StartAsync(o => o.Providers.Single(p => p.Name == limited).Profile.RequestsPerMinute = 60);
        await using ServiceProvider services = sim.Build(more: r => r.AddRoute("limited-first", route =>
        {
            route.Deployments.Add(limited);
            route.Deployments.Add(other);
            route.Strategy = "Ordered";
        }));
        IChatClient chat = services.GetRequiredService<IChatClient>();

        var served = new Dictionary<string, int> { [limited] = 0, [other] = 0 };
        for (int i = 0; i < 100; i++)
        {
            ChatResponse response = await chat.GetResponseAsync(SimulatedVendors.Prompt, new ChatOptions { ModelId = "limited-first" });
            RoutingReport report = response.GetRoutingReport()!;
            Assert.DoesNotContain(report.Attempts, a => a.StatusCode == 429);
            served[report.Deployment]++;
        }

        // The headers (OpenAI's durations, Anthropic's reset times) moved traffic before the bucket ran dry: no 429 at all.
        Assert.Equal(0, sim.Server.Provider(limited).Received.Count(r => r.Status == 429));
        Assert.InRange(served[limited], 55, 75); // the bucket's 60 less the 2% margin, plus what refills meanwhile
        Assert.Equal(100 - served[limited], served[other]);
    }
}
