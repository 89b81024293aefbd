using System.ClientModel;
using System.ClientModel.Primitives;
using LlmRouter;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds OpenAI-protocol deployments to LlmRouter.</summary>
public static class OpenAILlmRouterBuilderExtensions
{
    /// <summary>
    /// Adds a deployment served by the official OpenAI SDK (through <c>AsIChatClient</c>) over a named HttpClient with
    /// LLM-tuned transport resilience. The SDK's own retries are disabled: the router fails over across deployments
    /// and honours Retry-After with a cooldown instead of retrying the same deployment.
    /// </summary>
    /// <param name="router">The router builder.</param>
    /// <param name="name">The unique deployment name.</param>
    /// <param name="provider">Sets the endpoint, key and model.</param>
    /// <param name="configure">Sets the region, timeouts and other deployment attributes.</param>
    /// <returns>The router builder.</returns>
    /// <exception cref="ArgumentException">The key or model is missing.</exception>
    public static LlmRouterBuilder AddOpenAIDeployment(this LlmRouterBuilder router, string name, Action<OpenAIDeploymentOptions> provider, Action<DeploymentOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(provider);
        var options = new OpenAIDeploymentOptions();
        provider(options);
        if (string.IsNullOrWhiteSpace(options.ApiKey))
        {
            throw new ArgumentException($"OpenAI deployment '{name}': ApiKey is missing. Set it (any non-empty value for hosts that ignore keys).", nameof(provider));
        }

        if (string.IsNullOrWhiteSpace(options.Model))
        {
            throw new ArgumentException($"OpenAI deployment '{name}': Model is missing. Set the model (or Azure deployment) name, for example \"gpt-4o-mini\".", nameof(provider));
        }

        return router.AddHttpDeployment(
            name,
            (http, _) => CreateChatClient(options, http),
            d =>
            {
                d.ModelId = options.Model;
                configure?.Invoke(d);
            },
            t => Copy(options.Transport, t));
    }

    /// <summary>Builds the SDK client over the given HttpClient, with SDK retries off.</summary>
    internal static IChatClient CreateChatClient(OpenAIDeploymentOptions options, HttpClient http)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = options.NetworkTimeout,
        };
        if (options.Endpoint is { } endpoint)
        {
            clientOptions.Endpoint = endpoint;
        }

        return new ChatClient(options.Model, new ApiKeyCredential(options.ApiKey!), clientOptions).AsIChatClient();
    }

    private static void Copy(LlmHttpResilienceOptions from, LlmHttpResilienceOptions to)
    {
        to.MaxConnectionRetries = from.MaxConnectionRetries;
        to.RetryDelay = from.RetryDelay;
        to.ConnectTimeout = from.ConnectTimeout;
        to.TotalTimeout = from.TotalTimeout;
    }
}
