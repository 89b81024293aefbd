using System.Globalization;
using System.Net;
using LlmRouter.Tests.TestUtilities;

namespace LlmRouter.Tests.Routing;

public class FailureClassifierTests
{
    private readonly FailureClassifier _classifier = new();

    [Theory]
    [InlineData(408, FailureKind.Transient)]
    [InlineData(429, FailureKind.RateLimited)]
    [InlineData(500, FailureKind.Transient)]
    [InlineData(502, FailureKind.Transient)]
    [InlineData(503, FailureKind.Transient)]
    [InlineData(504, FailureKind.Transient)]
    [InlineData(507, FailureKind.Transient)]
    [InlineData(529, FailureKind.RateLimited)]
    [InlineData(401, FailureKind.Misconfigured)]
    [InlineData(403, FailureKind.Misconfigured)]
    [InlineData(404, FailureKind.Misconfigured)]
    [InlineData(400, FailureKind.InvalidRequest)]
    [InlineData(422, FailureKind.InvalidRequest)]
    [InlineData(418, FailureKind.InvalidRequest)]
    public void Http_status_codes_map_to_the_table(int status, FailureKind expected)
    {
        FailureClassification c = _classifier.Classify(Http.Status(status));

        Assert.Equal(expected, c.Kind);
        Assert.Equal(status, c.StatusCode);
    }

    [Theory]
    [InlineData("This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.")]
    [InlineData("Error code: context_length_exceeded")]
    [InlineData("prompt is too long: 210000 tokens > 200000 maximum")]
    public void A_400_that_reports_a_context_overflow_is_ContextWindowExceeded(string message)
    {
        Assert.Equal(FailureKind.ContextWindowExceeded, _classifier.Classify(Http.Status(400, message)).Kind);
    }

    [Fact]
    public void Connection_errors_without_status_are_transient()
    {
        Assert.Equal(FailureKind.Transient, _classifier.Classify(new HttpRequestException(HttpRequestError.ConnectionError, "refused")).Kind);
        Assert.Equal(FailureKind.Transient, _classifier.Classify(new IOException("reset")).Kind);
        Assert.Equal(FailureKind.Transient, _classifier.Classify(new InvalidOperationException("unknown")).Kind);
        Assert.Null(_classifier.Classify(new IOException("reset")).StatusCode);
    }

    [Fact]
    public void Status_is_found_in_inner_exceptions()
    {
        var wrapped = new InvalidOperationException("wrapper", Http.Status(429));

        FailureClassification c = _classifier.Classify(wrapped);

        Assert.Equal(FailureKind.RateLimited, c.Kind);
        Assert.Equal(429, c.StatusCode);
    }

    [Fact]
    public void ClientResultException_shaped_errors_give_status_and_retry_after_by_reflection()
    {
        var error = new FakeClientResultException(429, new FakeHeaders(("retry-after", "7")));

        FailureClassification c = _classifier.Classify(error);

        Assert.Equal(FailureKind.RateLimited, c.Kind);
        Assert.Equal(429, c.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), c.RetryAfter);
    }

    [Fact]
    public void Retry_after_ms_takes_precedence_over_retry_after()
    {
        var error = new FakeClientResultException(429, new FakeHeaders(("retry-after-ms", "1500"), ("retry-after", "9")));

        Assert.Equal(TimeSpan.FromMilliseconds(1500), _classifier.Classify(error).RetryAfter);
    }

    [Fact]
    public void Anthropic_shaped_errors_give_status_from_an_HttpStatusCode_property()
    {
        FailureClassification c = _classifier.Classify(new FakeAnthropicException(HttpStatusCode.ServiceUnavailable));

        Assert.Equal(FailureKind.Transient, c.Kind);
        Assert.Equal(503, c.StatusCode);
        Assert.Equal(FailureKind.RateLimited, _classifier.Classify(new FakeAnthropicException((HttpStatusCode)529)).Kind);
    }

    [Fact]
    public void An_http_date_retry_after_becomes_the_time_until_that_date()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        var classifier = new FailureClassifier { TimeProvider = time };
        string date = new DateTimeOffset(2026, 1, 1, 12, 0, 30, TimeSpan.Zero).ToString("r", CultureInfo.InvariantCulture);

        FailureClassification c = classifier.Classify(new FakeClientResultException(429, new FakeHeaders(("retry-after", date))));

        Assert.Equal(TimeSpan.FromSeconds(30), c.RetryAfter);
    }

    [Fact]
    public void The_status_table_can_be_overridden()
    {
        _classifier.StatusCodes[409] = FailureKind.InvalidRequest;
        _classifier.StatusCodes[500] = FailureKind.InvalidRequest;

        Assert.Equal(FailureKind.InvalidRequest, _classifier.Classify(Http.Status(409)).Kind);
        Assert.Equal(FailureKind.InvalidRequest, _classifier.Classify(Http.Status(500)).Kind);
    }

    [Fact]
    public void The_context_window_markers_can_be_extended()
    {
        Assert.Equal(FailureKind.InvalidRequest, _classifier.Classify(Http.Status(400, "input exceeds model limit")).Kind);
        _classifier.ContextWindowExceededMarkers.Add("exceeds model limit");
        Assert.Equal(FailureKind.ContextWindowExceeded, _classifier.Classify(Http.Status(400, "input exceeds model limit")).Kind);
    }

    [Fact]
    public async Task A_subclass_decides_for_the_router()
    {
        var h = new RouterHarness();
        h.Add("a");
        h.Options.FailureClassifier = new StopOnEverything();
        h.Clients["a"].GetResponseAsyncCallback = (_, _, _) => Task.FromException<Microsoft.Extensions.AI.ChatResponse>(Http.Status(503));
        TestChatClient b = h.Add("b");
        h.Route("chat", "Ordered", "a", "b");
        using LlmRouterChatClient router = h.Build();

        await Assert.ThrowsAsync<HttpRequestException>(() => router.GetResponseAsync(RouterHarness.Prompt, RouterHarness.For("chat")));
        Assert.Equal(0, b.Calls);
    }

    [Fact]
    public void An_exception_type_with_an_ambiguous_status_property_is_classified_as_transient_not_thrown()
    {
        FailureClassification c = _classifier.Classify(new HidingStatusException());

        Assert.Equal(FailureKind.Transient, c.Kind);
        Assert.Null(c.StatusCode);
    }

    private class StatusBaseException : Exception
    {
        public int StatusCode => 500;
    }

    private sealed class HidingStatusException : StatusBaseException
    {
        public new string StatusCode => "hidden";
    }

    private sealed class StopOnEverything : FailureClassifier
    {
        public override FailureClassification Classify(Exception exception) => new(FailureKind.InvalidRequest);
    }
}
