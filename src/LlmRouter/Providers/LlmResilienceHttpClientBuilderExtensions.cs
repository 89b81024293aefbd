using System.Net.Http;
using LlmRouter;
using LlmRouter.Providers;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures an <see cref="IHttpClientBuilder"/> for LLM provider calls routed by LlmRouter.</summary>
public static class LlmResilienceHttpClientBuilderExtensions
{
    /// <summary>The name of the resilience pipeline this extension adds.</summary>
    public const string PipelineName = "llmrouter-transport";

    /// <summary>
    /// Makes the HttpClient fit for LLM calls under a router: no HttpClient timeout (the default 100 s would cut long
    /// generations; the router's attempt timeouts own timing), a bounded connect timeout, and retries only for requests that
    /// never reached the provider. Status-code failures (429, 5xx, 529) are not retried here: they surface at once so the
    /// router fails over to another deployment and cools this one down for Retry-After (captured here even when the SDK's
    /// exception drops the headers; set <see cref="DeploymentOptions.HttpClientName"/> to this client's name). Response bodies are never buffered,
    /// so streaming works unchanged. Do not add <c>AddStandardResilienceHandler</c> as well: its 10 s attempt timeout, 30 s
    /// total timeout and status-code retries would fight the router.
    /// </summary>
    /// <param name="builder">The named or typed HttpClient of a provider.</param>
    /// <param name="configure">Changes the defaults of <see cref="LlmHttpResilienceOptions"/>.</param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddLlmResilienceHandler(this IHttpClientBuilder builder, Action<LlmHttpResilienceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new LlmHttpResilienceOptions();
        configure?.Invoke(options);
        Validate(options);

        builder.Services.TryAddSingleton<RetryAfterHints>();
        builder.Services.TryAddSingleton(sp => new RateLimitReports(sp.GetService<TimeProvider>()));
        builder.ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan);
        builder.ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        });
        builder.AddResilienceHandler(PipelineName, pipeline =>
        {
            if (options.TotalTimeout is TimeSpan total)
            {
                pipeline.AddTimeout(total);
            }

            if (options.MaxConnectionRetries > 0)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = options.MaxConnectionRetries,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = options.RetryDelay,
                    ShouldHandle = static args => ValueTask.FromResult(NeverReachedProvider(args.Outcome, args.Context.CancellationToken)),
                });
            }
        });

        // Inside the retry handler: it sees every response that reaches the transport (retries never follow a status).
        string name = builder.Name;
        builder.AddHttpMessageHandler(sp => new ResponseHeadersCaptureHandler(
            name, sp.GetRequiredService<RetryAfterHints>(), sp.GetRequiredService<RateLimitReports>().For(name), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return builder;
    }

    /// <summary>True for failures before the request was sent: retrying cannot bill or run a generation twice.</summary>
    internal static bool NeverReachedProvider(Outcome<HttpResponseMessage> outcome, CancellationToken requestToken) => outcome.Exception switch
    {
        HttpRequestException { StatusCode: null } e => e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
            or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError,
        OperationCanceledException { InnerException: TimeoutException } => !requestToken.IsCancellationRequested, // SocketsHttpHandler.ConnectTimeout
        _ => false,
    };

    private static void Validate(LlmHttpResilienceOptions options)
    {
        if (options.MaxConnectionRetries < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxConnectionRetries, "LlmHttpResilienceOptions.MaxConnectionRetries must be 0 or more.");
        }

        if (options.RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RetryDelay, "LlmHttpResilienceOptions.RetryDelay must not be negative.");
        }

        if (options.ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ConnectTimeout, "LlmHttpResilienceOptions.ConnectTimeout must be positive.");
        }

        if (options.TotalTimeout is TimeSpan t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), t, "LlmHttpResilienceOptions.TotalTimeout must be positive, or null for none.");
        }
    }
}
