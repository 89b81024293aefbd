using System.Net;
using System.Net.Sockets;
using LlmRouter.Providers;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace LlmRouter.Tests.Providers;

public class LlmResilienceTests
{
    [Theory]
    [InlineData(HttpRequestError.ConnectionError, true)]
    [InlineData(HttpRequestError.NameResolutionError, true)]
    [InlineData(HttpRequestError.SecureConnectionError, true)]
    [InlineData(HttpRequestError.ResponseEnded, false)]
    [InlineData(HttpRequestError.InvalidResponse, false)]
    public void Only_failures_before_the_request_was_sent_are_retried_in_place(HttpRequestError error, bool retried)
    {
        Outcome<HttpResponseMessage> outcome = Outcome.FromException<HttpResponseMessage>(new HttpRequestException(error, "x"));

        Assert.Equal(retried, LlmResilienceHttpClientBuilderExtensions.NeverReachedProvider(outcome, CancellationToken.None));
    }

    [Fact]
    public void Status_responses_and_caller_cancellation_are_never_retried_in_place()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        Assert.False(LlmResilienceHttpClientBuilderExtensions.NeverReachedProvider(Outcome.FromResult(response), CancellationToken.None));
        Assert.False(LlmResilienceHttpClientBuilderExtensions.NeverReachedProvider(
            Outcome.FromException<HttpResponseMessage>(new HttpRequestException("503", null, HttpStatusCode.ServiceUnavailable)), CancellationToken.None));

        var connectTimeout = new TaskCanceledException("connect", new TimeoutException());
        Assert.True(LlmResilienceHttpClientBuilderExtensions.NeverReachedProvider(Outcome.FromException<HttpResponseMessage>(connectTimeout), CancellationToken.None));
        Assert.False(LlmResilienceHttpClientBuilderExtensions.NeverReachedProvider(Outcome.FromException<HttpResponseMessage>(connectTimeout), new CancellationToken(true)));
    }

    [Fact]
    public async Task A_refused_connection_is_retried_by_the_transport_then_surfaces_to_the_router()
    {
        // A loopback port with nothing listening refuses connections immediately.
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        int attempts = 0;
        var services = new ServiceCollection();
        services.AddHttpClient("refused")
            .AddLlmResilienceHandler(o => { o.MaxConnectionRetries = 2; o.RetryDelay = TimeSpan.Zero; })
            .AddHttpMessageHandler(() => new CountingHandler(() => Interlocked.Increment(ref attempts)));
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("refused");

        HttpRequestException e = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri($"http://127.0.0.1:{port}/")));

        Assert.Equal(HttpRequestError.ConnectionError, e.HttpRequestError);
        Assert.Equal(3, attempts);
        Assert.Equal(Timeout.InfiniteTimeSpan, http.Timeout);
    }

    [Fact]
    public async Task Retry_after_captured_by_the_transport_cools_the_deployment_down()
    {
        var services = new ServiceCollection();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        services.AddSingleton<TimeProvider>(time);
        services.AddHttpClient("limited")
            .AddLlmResilienceHandler()
            .ConfigurePrimaryHttpMessageHandler(() => new StatusHandler(HttpStatusCode.TooManyRequests, ("Retry-After", "12")));
        services.AddLlmRouter(router => router
            .AddDeployment("limited", sp => new HttpGetChatClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient("limited")), d => d.HttpClientName = "limited")
            .AddDeployment("spare", new TestChatClient("spare"))
            .AddRoute("chat", r => { r.Deployments.Add("limited"); r.Deployments.Add("spare"); r.Strategy = "Ordered"; }));
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();

        ChatResponse response = await chat.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "chat" });

        Assert.Equal("spare", response.GetRoutingReport()!.Deployment);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(12), provider.GetRequiredService<LlmRouterChatClient>().Deployments[0].CooldownUntil);
    }

    [Fact]
    public async Task A_retry_after_captured_from_a_429_is_not_read_into_another_status()
    {
        // Under load a deployment's 429 (with Retry-After) and its next 500 (without) arrive within the Retry-After: the
        // 500 must not borrow the 429's hint, or one sporadic 429 cools the deployment down on its next transient error.
        var services = new ServiceCollection();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        services.AddSingleton<TimeProvider>(time);
        var statuses = new Queue<HttpStatusCode>([HttpStatusCode.TooManyRequests, HttpStatusCode.InternalServerError]);
        services.AddHttpClient("limited")
            .AddLlmResilienceHandler()
            .ConfigurePrimaryHttpMessageHandler(() => new QueuedStatusHandler(statuses, ("Retry-After", "2")));
        services.AddLlmRouter(router => router
            .AddDeployment("limited", sp => new HttpGetChatClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient("limited")), d => d.HttpClientName = "limited")
            .AddDeployment("spare", new TestChatClient("spare"))
            .AddRoute("chat", r => { r.Deployments.Add("limited"); r.Deployments.Add("spare"); r.Strategy = "Ordered"; })
            .AddRoute("solo", "limited"));
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        Deployment limited = provider.GetRequiredService<LlmRouterChatClient>().Deployments[0];

        await chat.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "chat" });        // 429, Retry-After 2 s: sporadic, ranks last
        await Assert.ThrowsAsync<AllAttemptsFailedException>(() => chat.GetResponseAsync(RouterHarness.Prompt, new ChatOptions { ModelId = "solo" })); // 500, no Retry-After

        Assert.Null(limited.CooldownUntil);
        Assert.Equal((0L, 2L), limited.AttemptCounts);
    }

    [Fact]
    public void AddHttpDeployment_names_the_client_and_links_it_for_retry_after()
    {
        var services = new ServiceCollection();
        services.AddLlmRouter(router => router.AddHttpDeployment("svc", (http, _) => new HttpGetChatClient(http), d => d.ModelId = "m"));
        using ServiceProvider provider = services.BuildServiceProvider();

        LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();

        Assert.Equal("llmrouter.svc", router.Deployments[0].HttpClientName);
        Assert.NotNull(provider.GetService<RetryAfterHints>());
    }

    [Fact]
    public void Invalid_transport_options_throw_naming_the_option()
    {
        var services = new ServiceCollection();
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            services.AddHttpClient("x").AddLlmResilienceHandler(o => o.ConnectTimeout = TimeSpan.Zero));
        Assert.Contains("ConnectTimeout", e.Message, StringComparison.Ordinal);
    }

    private sealed class CountingHandler(Action onSend) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            onSend();
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Answers each request with the next status; the headers go with every answer, as the transport sees them only on 429/503/529.</summary>
    private sealed class QueuedStatusHandler(Queue<HttpStatusCode> statuses, params (string Name, string Value)[] headers) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            HttpStatusCode status = statuses.Dequeue();
            var response = new HttpResponseMessage(status);
            if (status != HttpStatusCode.InternalServerError)
            {
                foreach ((string name, string value) in headers)
                {
                    response.Headers.TryAddWithoutValidation(name, value);
                }
            }

            return Task.FromResult(response);
        }
    }

    private sealed class StatusHandler(HttpStatusCode status, params (string Name, string Value)[] headers) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(status);
            foreach ((string name, string value) in headers)
            {
                response.Headers.TryAddWithoutValidation(name, value);
            }

            return Task.FromResult(response);
        }
    }
}
