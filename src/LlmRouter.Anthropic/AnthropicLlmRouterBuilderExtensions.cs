using Anthropic;
using LlmRouter;
using LlmRouter.Anthropic;
using Microsoft.Extensions.AI;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Anthropic deployments to LlmRouter.</summary>
public static class AnthropicLlmRouterBuilderExtensions
{
    /// <summary>
    /// Adds a deployment served by the official Anthropic SDK (through <c>AsIChatClient</c>) over a named HttpClient with
    /// LLM-tuned transport resilience. The SDK's own retries are disabled: the router fails over across deployments. The
    /// Anthropic SDK's exceptions carry the status code but not the headers, so the transport captures Retry-After for
    /// the router.
    /// </summary>
    /// <param name="router">The router builder.</param>
    /// <param name="name">The unique deployment name.</param>
    /// <param name="provider">Sets the endpoint, key and model.</param>
    /// <param name="configure">Sets the region, timeouts and other deployment attributes.</param>
    /// <returns>The router builder.</returns>
    /// <exception cref="ArgumentException">The key or model is missing, or <see cref="AnthropicPromptCachingOptions.MinimumPrefixTokens"/> is negative.</exception>
    public static LlmRouterBuilder AddAnthropicDeployment(this LlmRouterBuilder router, string name, Action<AnthropicDeploymentOptions> provider, Action<DeploymentOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(provider);
        var options = new AnthropicDeploymentOptions();
        provider(options);
        if (string.IsNullOrWhiteSpace(options.ApiKey))
        {
            throw new ArgumentException($"Anthropic deployment '{name}': ApiKey is missing.", nameof(provider));
        }

        if (string.IsNullOrWhiteSpace(options.Model))
        {
            throw new ArgumentException($"Anthropic deployment '{name}': Model is missing. Set the model, for example \"claude-sonnet-4-5\".", nameof(provider));
        }

        if (options.PromptCaching.MinimumPrefixTokens < 0)
        {
            throw new ArgumentException($"Anthropic deployment '{name}': PromptCaching.MinimumPrefixTokens is {options.PromptCaching.MinimumPrefixTokens}; it must be 0 or more.", nameof(provider));
        }

        return router.AddHttpDeployment(
            name,
            (http, _) => CreateChatClient(options, http),
            d =>
            {
                d.ModelId = options.Model;
                configure?.Invoke(d);
            },
            t =>
            {
                t.MaxConnectionRetries = options.Transport.MaxConnectionRetries;
                t.RetryDelay = options.Transport.RetryDelay;
                t.ConnectTimeout = options.Transport.ConnectTimeout;
                t.TotalTimeout = options.Transport.TotalTimeout;
            });
    }

    /// <summary>Builds the SDK client over the given HttpClient, with SDK retries off, and prompt caching when enabled.</summary>
    internal static IChatClient CreateChatClient(AnthropicDeploymentOptions options, HttpClient http)
    {
        // BaseUrl is init-only; leave the SDK's default (which honours ANTHROPIC_BASE_URL) unless an endpoint is given.
        AnthropicClient client = options.Endpoint is { } endpoint
            ? new AnthropicClient { ApiKey = options.ApiKey!, HttpClient = http, MaxRetries = 0, Timeout = options.NetworkTimeout, BaseUrl = endpoint.ToString().TrimEnd('/') }
            : new AnthropicClient { ApiKey = options.ApiKey!, HttpClient = http, MaxRetries = 0, Timeout = options.NetworkTimeout };
        IChatClient chat = client.AsIChatClient(options.Model!, options.DefaultMaxOutputTokens);
        return options.PromptCaching.Enabled ? new AnthropicPromptCachingChatClient(chat, options.PromptCaching) : chat;
    }
}
