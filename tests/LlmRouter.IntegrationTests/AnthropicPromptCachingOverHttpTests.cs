using System.Text.Json;
using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter.IntegrationTests;

/// <summary>Prompt caching through the real Anthropic SDK: the breakpoints on the wire, the cache reads in usage, and their price.</summary>
public class AnthropicPromptCachingOverHttpTests
{
    // 6,000 characters: 1,500 tokens at the simulator's (and the wrapper's) four characters a token.
    private static readonly string Document = string.Concat(Enumerable.Repeat("The quarterly report covers revenue, costs and risks. ", 111)) + "Final.";

    private static readonly ModelPrice Price = new() { InputPerMillion = 1m, OutputPerMillion = 5m, CachedInputPerMillion = 0.1m };

    [Fact]
    public async Task A_long_prefix_carries_cache_control_and_the_repeat_reads_it_at_the_cached_price()
    {
        SimulatedProviderOptions claude = SimulatedVendors.Fast("anthropic", ProviderApi.Anthropic, 2);
        claude.RecordBodies = true;
        claude.SimulatePromptCache = true;
        await using SimulatorServer sim = await SimulatorServer.StartAsync(new SimulatorOptions { Providers = { claude } });
        var services = new ServiceCollection();
        services.AddLlmRouter(router => router
            .AddAnthropicDeployment(
                "anthropic",
                p =>
                {
                    p.Endpoint = sim.GetBaseUri("anthropic");
                    p.ApiKey = "sk-ant-test";
                    p.Model = "claude-haiku-4-5";
                    p.DefaultMaxOutputTokens = 256;
                    p.PromptCaching.Enabled = true;
                },
                d => d.Price = Price)
            .AddRoute("chat", "anthropic")
            .ConfigureBudgets(_ => { }));
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        var options = new ChatOptions { ModelId = "chat", Instructions = Document };

        // Turn 1: the instructions are the long prefix; the question is the current turn.
        List<ChatMessage> history = [new(ChatRole.User, "What does the report cover?")];
        ChatResponse first = await chat.GetResponseAsync(history, options);

        // Turn 2 (streamed): the same instructions, the conversation so far, a new question.
        history.AddRange(first.Messages);
        history.Add(new ChatMessage(ChatRole.User, "And the risks?"));
        ChatResponse second = await chat.GetStreamingResponseAsync(history, options).ToChatResponseAsync();

        IReadOnlyList<ReceivedRequest> received = sim.Provider("anthropic").Received;
        Assert.Equal(2, received.Count);

        // On the wire: the system prompt's block ends with a breakpoint in both; the second also marks the assistant's
        // reply (the conversation so far) and leaves the new question unmarked.
        using (JsonDocument body = JsonDocument.Parse(received[0].Body!))
        {
            JsonElement system = body.RootElement.GetProperty("system");
            Assert.Equal(1, system.GetArrayLength());
            Assert.Equal(Document, system[0].GetProperty("text").GetString());
            Assert.Equal("ephemeral", system[0].GetProperty("cache_control").GetProperty("type").GetString());
            Assert.DoesNotContain("cache_control", body.RootElement.GetProperty("messages").GetRawText(), StringComparison.Ordinal);
        }

        using (JsonDocument body = JsonDocument.Parse(received[1].Body!))
        {
            Assert.True(body.RootElement.GetProperty("system")[0].TryGetProperty("cache_control", out _));
            JsonElement messages = body.RootElement.GetProperty("messages");
            Assert.Equal(["user", "assistant", "user"], messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()));
            Assert.DoesNotContain(Blocks(messages[0]), b => b.TryGetProperty("cache_control", out _));
            Assert.True(Blocks(messages[1]).Last().TryGetProperty("cache_control", out _));
            Assert.DoesNotContain(Blocks(messages[2]), b => b.TryGetProperty("cache_control", out _));
        }

        // The caller's history was not marked.
        Assert.All(history.SelectMany(m => m.Contents), c => Assert.DoesNotContain(c.AdditionalProperties?.Values ?? [], v => v is global::Anthropic.Models.Messages.CacheControlEphemeral));
        Assert.Equal(Document, options.Instructions);

        // Usage as the SDK reports it: cache writes in AdditionalCounts, cache reads as CachedInputTokenCount, both
        // inside InputTokenCount. Turn 1 wrote the instructions (1,500 tokens); turn 2 read them and wrote the rest.
        UsageDetails u1 = first.Usage!;
        Assert.Equal(0, u1.CachedInputTokenCount ?? 0);
        Assert.Equal(1_500, u1.AdditionalCounts!["CacheCreationInputTokens"]);
        Assert.True(u1.InputTokenCount > 1_500);

        UsageDetails u2 = second.Usage!;
        Assert.Equal(1_500, u2.CachedInputTokenCount);
        Assert.True(u2.AdditionalCounts!["CacheCreationInputTokens"] > 0);
        Assert.True(u2.InputTokenCount > u2.CachedInputTokenCount + u2.AdditionalCounts["CacheCreationInputTokens"]);

        // The budget layer prices the cached part at the cached price.
        RequestCost cost = second.GetCost()!;
        long input = u2.InputTokenCount!.Value;
        long output = u2.OutputTokenCount!.Value;
        decimal expected = (((input - 1_500) * 1m) + (1_500 * 0.1m) + (output * 5m)) / 1_000_000m;
        Assert.False(cost.Estimated);
        Assert.Equal((input, output), (cost.InputTokens, cost.OutputTokens));
        Assert.Equal(expected, cost.Usd);
        Assert.True(cost.Usd < ((input * 1m) + (output * 5m)) / 1_000_000m);
    }

    private static IEnumerable<JsonElement> Blocks(JsonElement message)
    {
        JsonElement content = message.GetProperty("content");
        return content.ValueKind == JsonValueKind.Array ? content.EnumerateArray().ToArray() : [];
    }
}
