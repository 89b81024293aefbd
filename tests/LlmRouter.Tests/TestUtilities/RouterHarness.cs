using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.TestUtilities;

/// <summary>Builds routers over test clients on a fake clock.</summary>
public sealed class RouterHarness
{
    public static readonly ChatMessage[] Prompt = [new(ChatRole.User, "hi")];

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public LlmRouterOptions Options { get; } = new() { Random = new Random(42) };

    public Dictionary<string, TestChatClient> Clients { get; } = [];

    /// <summary>Adds a deployment served by a client that answers after <paramref name="latency"/> of fake time.</summary>
    public TestChatClient Add(string name, TimeSpan? latency = null, Action<DeploymentOptions>? configure = null)
    {
        var client = new TestChatClient(name);
        if (latency is TimeSpan l)
        {
            SetLatency(client, l);
        }

        return Add(name, client, configure);
    }

    public TestChatClient Add(string name, TestChatClient client, Action<DeploymentOptions>? configure = null)
    {
        var d = new DeploymentOptions { Name = name, Client = client };
        configure?.Invoke(d);
        Options.Deployments.Add(d);
        Clients[name] = client;
        return client;
    }

    /// <summary>Makes the client answer after advancing the fake clock by the latency (non-streaming and first streamed update).</summary>
    public void SetLatency(TestChatClient client, TimeSpan latency, long? outputTokens = null)
    {
        client.GetResponseAsyncCallback = (_, _, _) =>
        {
            Time.Advance(latency);
            var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {client.Name}"));
            if (outputTokens is long tokens)
            {
                response.Usage = new UsageDetails { OutputTokenCount = tokens };
            }

            return Task.FromResult(response);
        };
        client.GetStreamingResponseAsyncCallback = (_, _, ct) => DelayedStream(client.Name, latency, TimeSpan.Zero, ct);
    }

    /// <summary>A stream whose first update comes after <paramref name="firstToken"/> and each further one after <paramref name="perUpdate"/>.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> DelayedStream(string name, TimeSpan firstToken, TimeSpan perUpdate, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        await Task.Yield();
        Time.Advance(firstToken);
        yield return new ChatResponseUpdate(ChatRole.Assistant, $"{name}-0");
        for (int i = 1; i < 3; i++)
        {
            ct.ThrowIfCancellationRequested();
            Time.Advance(perUpdate);
            yield return new ChatResponseUpdate(ChatRole.Assistant, $"{name}-{i}");
        }
    }

    public RouteOptions Route(string name, string strategy, params string[] deployments)
    {
        var route = new RouteOptions { Name = name, Strategy = strategy };
        foreach (string d in deployments)
        {
            route.Deployments.Add(d);
        }

        Options.Routes.Add(route);
        return route;
    }

    public LlmRouterChatClient Build() => new(Options, timeProvider: Time);

    public static ChatOptions For(string route) => new() { ModelId = route };

    /// <summary>Sends <paramref name="count"/> requests and counts which deployment served each.</summary>
    public static async Task<Dictionary<string, int>> Serve(IChatClient router, int count, ChatOptions? options = null)
    {
        var served = new Dictionary<string, int>();
        for (int i = 0; i < count; i++)
        {
            ChatResponse response = await router.GetResponseAsync(Prompt, options);
            string d = response.GetRoutingReport()!.Deployment;
            served[d] = served.GetValueOrDefault(d) + 1;
        }

        return served;
    }
}
