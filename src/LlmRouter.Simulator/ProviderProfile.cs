namespace LlmRouter.Simulator;

/// <summary>How a simulated provider behaves: latency, pacing, usage and faults. A phase replaces it for a while.</summary>
public sealed class ProviderProfile
{
    /// <summary>Gets or sets the delay before the response (non-streaming) or the first chunk (streaming). Default: fixed 50 ms.</summary>
    public LatencyModel Latency { get; set; } = LatencyModel.Fixed(TimeSpan.FromMilliseconds(50));

    /// <summary>Gets or sets the pace of streamed tokens after the first chunk; 0 sends them all at once. Default: 200.</summary>
    public double TokensPerSecond { get; set; } = 200;

    /// <summary>Gets or sets how many completion tokens (words) a response has. Default: 24.</summary>
    public int CompletionTokens { get; set; } = 24;

    /// <summary>Gets or sets the share (0 to 1) of prompt tokens reported as cached. Default: 0.</summary>
    public double CachedPromptShare { get; set; }

    /// <summary>Gets or sets the context window in tokens (prompt tokens are estimated at 4 characters each); larger prompts fail with 400. Default: none.</summary>
    public int? ContextWindow { get; set; }

    /// <summary>Gets the probability (0 to 1) of each fault per request; the rest succeed.</summary>
    public IDictionary<FaultKind, double> FaultRates { get; } = new Dictionary<FaultKind, double>();

    /// <summary>
    /// Gets or sets the Retry-After sent with a <see cref="FaultKind.RateLimited"/> 429; <see langword="null"/> sends the
    /// 429 without one, as some providers and proxies do. Default: 2 seconds.
    /// </summary>
    public TimeSpan? RetryAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets or sets the provider's request rate limit, per minute: a bucket holding a minute of requests, refilled
    /// continuously. Every answer carries the vendor's rate-limit headers (OpenAI: <c>x-ratelimit-limit-requests</c>,
    /// <c>x-ratelimit-remaining-requests</c>, <c>x-ratelimit-reset-requests</c>; Anthropic:
    /// <c>anthropic-ratelimit-requests-limit</c>, <c>-remaining</c>, <c>-reset</c>), and a request that finds the bucket
    /// empty gets 429 with a Retry-After of the time to the next request. Default: none (no limit, no headers).
    /// </summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>Gets or sets after how many chunks a <see cref="FaultKind.StreamDrop"/> aborts the stream. Default: 0 (before the first).</summary>
    public int StreamDropAfterChunks { get; set; }

    /// <summary>
    /// Gets or sets whether HTTP error responses (429, 5xx, 529, 400, 401) echo the request, as some real providers do in
    /// parts: every request header, credentials included (<c>Authorization: Bearer ...</c>, <c>x-api-key</c>), and the
    /// request body (the prompt), both in the error message and as a <c>request</c> object next to it. For tests that
    /// check secrets and prompts stay out of logs. Default: <see langword="false"/>.
    /// </summary>
    public bool EchoRequestInErrors { get; set; }

    /// <summary>Returns a copy, so a running provider's profile is never changed under a request.</summary>
    /// <returns>The copy.</returns>
    public ProviderProfile Clone()
    {
        var copy = new ProviderProfile
        {
            Latency = Latency,
            TokensPerSecond = TokensPerSecond,
            CompletionTokens = CompletionTokens,
            CachedPromptShare = CachedPromptShare,
            ContextWindow = ContextWindow,
            RetryAfter = RetryAfter,
            RequestsPerMinute = RequestsPerMinute,
            StreamDropAfterChunks = StreamDropAfterChunks,
            EchoRequestInErrors = EchoRequestInErrors,
        };
        foreach (KeyValuePair<FaultKind, double> rate in FaultRates)
        {
            copy.FaultRates[rate.Key] = rate.Value;
        }

        return copy;
    }
}
