using System.Net;
using LlmRouter.Providers;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Providers;

/// <summary>Providers' rate-limit response headers, read by the transport handler and used by ranking.</summary>
public class RateLimitHeadersTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("20ms", 0.02)]
    [InlineData("1.5s", 1.5)]
    [InlineData("6m0s", 360)]
    [InlineData("1h2m3s", 3723)]
    [InlineData("250us", 0.00025)]
    public void OpenAI_reset_durations_are_parsed(string text, double seconds)
    {
        Assert.Equal(seconds, ResponseHeadersCaptureHandler.GoDuration(text)!.Value.TotalSeconds, 6);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("5x")]
    [InlineData("ms")]
    public void Malformed_durations_are_ignored(string? text)
    {
        Assert.Null(ResponseHeadersCaptureHandler.GoDuration(text));
    }

    [Theory]
    [InlineData(60, 5, null, null)]       // room
    [InlineData(60, 1, null, 0.2)]        // under 2% (at least one request) left: 0.2 of a request at one a second
    [InlineData(60, 0, 0.1, 0.1)]         // the provider says it is full again sooner
    [InlineData(10_000, 100, null, 0.6)]  // 2% is 200: 100 tokens to come back at 10,000 a minute
    [InlineData(0, 0, null, null)]        // no limit reported
    public void A_limit_is_low_below_two_percent_until_that_share_is_back(long limit, long remaining, double? reset, double? expected)
    {
        TimeSpan? lowFor = ReportedRateLimit.LowFor(limit, remaining, reset is double r ? TimeSpan.FromSeconds(r) : null);

        Assert.Equal(expected, lowFor?.TotalSeconds is double s ? Math.Round(s, 6) : null);
    }

    [Fact]
    public void OpenAI_and_Anthropic_headers_are_read_and_the_scarcest_limit_decides()
    {
        using var openAi = new HttpResponseMessage(HttpStatusCode.OK);
        openAi.Headers.TryAddWithoutValidation("x-ratelimit-limit-requests", "600");
        openAi.Headers.TryAddWithoutValidation("x-ratelimit-remaining-requests", "599");
        openAi.Headers.TryAddWithoutValidation("x-ratelimit-reset-requests", "100ms");
        openAi.Headers.TryAddWithoutValidation("x-ratelimit-limit-tokens", "60000");
        openAi.Headers.TryAddWithoutValidation("x-ratelimit-remaining-tokens", "600");
        openAi.Headers.TryAddWithoutValidation("x-ratelimit-reset-tokens", "59.4s");

        using var anthropic = new HttpResponseMessage(HttpStatusCode.OK);
        anthropic.Headers.TryAddWithoutValidation("anthropic-ratelimit-requests-limit", "50");
        anthropic.Headers.TryAddWithoutValidation("anthropic-ratelimit-requests-remaining", "0");
        anthropic.Headers.TryAddWithoutValidation("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:00.5Z");

        using var none = new HttpResponseMessage(HttpStatusCode.OK);

        Assert.True(ResponseHeadersCaptureHandler.ReadRateLimits(openAi.Headers, Now, out TimeSpan? openAiLow));
        Assert.Equal(0.6, openAiLow!.Value.TotalSeconds, 6); // tokens: 1,200 is 2%, 600 to come back at 1,000 a second
        Assert.True(ResponseHeadersCaptureHandler.ReadRateLimits(anthropic.Headers, Now, out TimeSpan? anthropicLow));
        Assert.Equal(TimeSpan.FromMilliseconds(500), anthropicLow); // the reset comes before a request's refill (1.2 s)
        Assert.False(ResponseHeadersCaptureHandler.ReadRateLimits(none.Headers, Now, out _));
    }

    [Fact]
    public async Task A_deployment_whose_headers_report_no_room_ranks_last_until_the_room_is_back()
    {
        var services = new ServiceCollection();
        var time = new FakeTimeProvider(Now);
        services.AddSingleton<TimeProvider>(time);
        int remaining = 0;
        services.AddHttpClient("limited")
            .AddLlmResilienceHandler()
            .ConfigurePrimaryHttpMessageHandler(() => new HeadersHandler(() =>
            [
                ("x-ratelimit-limit-requests", "60"),
                ("x-ratelimit-remaining-requests", remaining.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("x-ratelimit-reset-requests", "1m0s"),
            ]));
        services.AddLlmRouter(router => router
            .AddDeployment("limited", sp => new PlainHttpClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient("limited")), d => d.HttpClientName = "limited")
            .AddDeployment("spare", new TestChatClient("spare"))
            .AddRoute("chat", r => { r.Deployments.Add("limited"); r.Deployments.Add("spare"); r.Strategy = "Ordered"; }));
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();
        var options = new ChatOptions { ModelId = "chat" };

        // No report yet: the first request goes first in order, and its answer says nothing is left (1.2 s to 2%).
        Assert.Equal("limited", (await chat.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
        Assert.True(router.Deployments[0].IsAtRateLimit);
        Assert.Equal("spare", (await chat.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
        Assert.Equal(["spare", "limited"], router.GetSnapshot().Routes.Single(r => r.Name == "chat").Deployments.Select(d => d.Name));

        time.Advance(TimeSpan.FromSeconds(1.2));
        remaining = 30;

        Assert.False(router.Deployments[0].IsAtRateLimit);
        Assert.Equal("limited", (await chat.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
        Assert.False(router.Deployments[0].IsAtRateLimit); // the new answer reported room
    }

    private sealed class HeadersHandler(Func<(string Name, string Value)[]> headers) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK);
            foreach ((string name, string value) in headers())
            {
                response.Headers.TryAddWithoutValidation(name, value);
            }

            return Task.FromResult(response);
        }
    }

    /// <summary>A provider client over a named HttpClient: one GET per request.</summary>
    private sealed class PlainHttpClient(HttpClient http) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            using HttpResponseMessage response = await http.GetAsync(new Uri("http://provider.invalid/v1/chat"), cancellationToken);
            response.EnsureSuccessStatusCode();
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
