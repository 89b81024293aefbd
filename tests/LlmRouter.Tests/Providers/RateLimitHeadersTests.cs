using System.Net;
using LlmRouter.Health.Internal;
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
    [InlineData(60, 5, 55.0, 0.0, true)]     // 5 left: room (the margin is 2%, at least one request)
    [InlineData(60, 1, 59.0, 0.0, false)]    // 1 left: the margin takes it
    [InlineData(60, 1, 59.0, 1.2, true)]     // 1.2 s later a request more has refilled
    [InlineData(60, 0, null, 2.1, false)]    // no reset sent: a minute's bucket refilling at the limit is assumed
    [InlineData(60, 0, null, 2.2, true)]
    public void A_reported_limit_keeps_a_two_percent_margin_and_refills_at_its_rate(long limit, long remaining, double? reset, double later, bool room)
    {
        var quota = new RateQuota(TimeSpan.TicksPerSecond); // a clock of UTC ticks
        Assert.True(quota.HasRoom(Now.UtcTicks, 1)); // no report yet

        quota.Report(limit, remaining, reset is double r ? TimeSpan.FromSeconds(r) : null, Now.UtcTicks);

        Assert.Equal(room, quota.HasRoom((Now + TimeSpan.FromSeconds(later)).UtcTicks, 1));
    }

    [Fact]
    public void What_the_router_sends_after_a_report_counts_until_the_next_report()
    {
        var quota = new RateQuota(TimeSpan.TicksPerSecond); // a clock of UTC ticks
        quota.Report(limit: 60, remaining: 10, resetAfter: TimeSpan.FromSeconds(50), Now.UtcTicks);

        // Seven sent since (in flight, in no report yet) leave three: room for one. Eight leave two: one more would eat into
        // the margin (1.2 requests).
        quota.Use(Now.UtcTicks, 7);
        Assert.True(quota.HasRoom(Now.UtcTicks, 1));
        quota.Use(Now.UtcTicks, 1);
        Assert.False(quota.HasRoom(Now.UtcTicks, 1));

        // A report from before those sends (it says 10 left again) does not erase them.
        quota.Report(limit: 60, remaining: 10, resetAfter: TimeSpan.FromSeconds(50), Now.UtcTicks);
        Assert.False(quota.HasRoom(Now.UtcTicks, 1));
    }

    [Fact]
    public void OpenAI_and_Anthropic_headers_are_read_and_the_scarcest_token_limit_counts()
    {
        using HttpResponseMessage openAi = WithHeaders(
            ("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "599"), ("x-ratelimit-reset-requests", "100ms"),
            ("x-ratelimit-limit-tokens", "60000"), ("x-ratelimit-remaining-tokens", "600"), ("x-ratelimit-reset-tokens", "59.4s"));
        using HttpResponseMessage anthropic = WithHeaders(
            ("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "40"), ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:12Z"),
            ("anthropic-ratelimit-input-tokens-limit", "40000"), ("anthropic-ratelimit-input-tokens-remaining", "39000"), ("anthropic-ratelimit-input-tokens-reset", "2026-01-01T00:00:02Z"),
            ("anthropic-ratelimit-output-tokens-limit", "8000"), ("anthropic-ratelimit-output-tokens-remaining", "100"), ("anthropic-ratelimit-output-tokens-reset", "2026-01-01T00:00:59Z"));
        using HttpResponseMessage none = WithHeaders();

        var reports = new RateLimitReports(new FakeTimeProvider(Now));
        long now = reports.Clock.Now();
        ReportedRateLimit fromOpenAi = reports.For("openai");
        Assert.True(ResponseHeadersCaptureHandler.ReadRateLimits(openAi.Headers, Now, fromOpenAi));
        Assert.True(fromOpenAi.Requests.HasRoom(now, 1));
        Assert.False(fromOpenAi.Tokens.HasRoom(now, 1)); // 600 of 60,000 tokens left: under the 2% margin
        Assert.False(fromOpenAi.HasRoom(now, 1));

        ReportedRateLimit fromAnthropic = reports.For("anthropic");
        Assert.True(ResponseHeadersCaptureHandler.ReadRateLimits(anthropic.Headers, Now, fromAnthropic));
        Assert.True(fromAnthropic.Requests.HasRoom(now, 1));
        Assert.False(fromAnthropic.Tokens.HasRoom(now, 1)); // output tokens, the scarcest share, decide

        ReportedRateLimit untouched = reports.For("none");
        Assert.False(ResponseHeadersCaptureHandler.ReadRateLimits(none.Headers, Now, untouched));
        Assert.False(untouched.IsKnown);
    }

    [Fact]
    public async Task A_deployment_whose_headers_report_no_room_ranks_last_until_the_room_is_back()
    {
        var time = new FakeTimeProvider(Now);
        await using ServiceProvider provider = Build(time, ("x-ratelimit-limit-requests", "60"), ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "1m0s"));
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        LlmRouterChatClient router = provider.GetRequiredService<LlmRouterChatClient>();
        var options = new ChatOptions { ModelId = "chat" };

        // No report yet: the first request goes first in order, and its answer says nothing is left.
        Assert.Equal("limited", (await chat.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
        Assert.True(router.Deployments[0].IsAtRateLimit);
        Assert.Equal("spare", (await chat.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
        Assert.Equal(["spare", "limited"], router.GetSnapshot().Routes.Single(r => r.Name == "chat").Deployments.Select(d => d.Name));

        // One request a second refills; with the margin (1.2 requests) one more fits after 2.2 s.
        time.Advance(TimeSpan.FromSeconds(2.1));
        Assert.True(router.Deployments[0].IsAtRateLimit);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.False(router.Deployments[0].IsAtRateLimit);
        Assert.Equal("limited", (await chat.GetResponseAsync(RouterHarness.Prompt, options)).GetRoutingReport()!.Deployment);
        Assert.True(router.Deployments[0].IsAtRateLimit); // sent one, and the answer says nothing is left again
    }

    [Fact]
    public async Task A_reported_token_limit_counts_each_prompt_sent_until_the_next_report()
    {
        // 6,000 tokens a minute (100 a second), 1,000 left, full again in 50 s; every answer says the same.
        var time = new FakeTimeProvider(Now);
        await using ServiceProvider provider = Build(time, ("x-ratelimit-limit-tokens", "6000"), ("x-ratelimit-remaining-tokens", "1000"), ("x-ratelimit-reset-tokens", "50s"));
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        ChatMessage[] prompt = [new(ChatRole.User, new string('x', 800))]; // about 200 tokens

        var served = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            served.Add((await chat.GetResponseAsync(prompt, new ChatOptions { ModelId = "chat" })).GetRoutingReport()!.Deployment);
        }

        // The first answer brings the report; 1,000 left less the 2% margin (120) takes four more prompts of ~200, counted
        // by the router while the answers keep saying 1,000 (a report never erases sends made since); the fifth would not fit.
        Assert.Equal(["limited", "limited", "limited", "limited", "limited", "spare"], served);
    }

    /// <summary>A router over "limited" (a client on an HttpClient with the LlmRouter transport handler, answering with these headers) then "spare", Ordered.</summary>
    private static ServiceProvider Build(FakeTimeProvider time, params (string Name, string Value)[] headers)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddHttpClient("limited")
            .AddLlmResilienceHandler()
            .ConfigurePrimaryHttpMessageHandler(() => new HeadersHandler(() => headers));
        services.AddLlmRouter(router => router
            .AddDeployment("limited", sp => new HttpGetChatClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient("limited")), d => d.HttpClientName = "limited")
            .AddDeployment("spare", new TestChatClient("spare"))
            .AddRoute("chat", r => { r.Deployments.Add("limited"); r.Deployments.Add("spare"); r.Strategy = "Ordered"; }));
        return services.BuildServiceProvider();
    }

    private static HttpResponseMessage WithHeaders(params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK);
        foreach ((string name, string value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return response;
    }

    private sealed class HeadersHandler(Func<(string Name, string Value)[]> headers) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            return Task.FromResult(WithHeaders(headers()));
        }
    }
}
