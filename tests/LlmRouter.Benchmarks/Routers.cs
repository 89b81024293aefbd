using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

internal static class Routers
{
    /// <summary>One user message of 2,048 characters: the anchors' 2 KB prompt.</summary>
    public static readonly ChatMessage[] Prompt = [new(ChatRole.User, new string('x', 2048))];

    /// <summary>Health settings under which a failing deployment is never cooled down or opened, so every call takes the failover path.</summary>
    public static void NeverTrip(HealthOptions health)
    {
        health.ConsecutiveFailureThreshold = int.MaxValue;
        health.MinimumThroughput = int.MaxValue;
        health.FailureRatioThreshold = 1;
    }

    public static LlmRouterChatClient Create(IChatClient[] clients, string strategy = "LowestLatency", bool modelIds = false, TimeSpan? attemptTimeout = null, Action<LlmRouterOptions>? configure = null)
    {
        var options = new LlmRouterOptions();
        var route = new RouteOptions { Name = "chat", Strategy = strategy };
        for (int i = 0; i < clients.Length; i++)
        {
            options.Deployments.Add(new DeploymentOptions
            {
                Name = $"d{i}",
                Client = clients[i],
                ModelId = modelIds ? $"model-{i}" : null,
                AttemptTimeout = attemptTimeout,
            });
            route.Deployments.Add($"d{i}");
        }

        options.Routes.Add(route);
        options.DefaultRoute = "chat";
        configure?.Invoke(options);
        return new LlmRouterChatClient(options);
    }
}
