namespace LlmRouter.Simulator;

/// <summary>One simulated provider, served at <c>http://127.0.0.1:{port}/{Name}/</c>.</summary>
public sealed class SimulatedProviderOptions
{
    /// <summary>Gets or sets the name, also the base path segment. Required; letters, digits, '-' and '_'.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Gets or sets the protocol. Default: OpenAI.</summary>
    public ProviderApi Api { get; set; } = ProviderApi.OpenAI;

    /// <summary>Gets or sets the seed of the provider's random source (latency and fault draws). Default: 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Gets or sets the behaviour outside any phase.</summary>
    public ProviderProfile Profile { get; set; } = new();

    /// <summary>
    /// Gets or sets whether <see cref="SimulatedProvider.Received"/> keeps every request. Off, a long run (a soak of
    /// hundreds of thousands of requests) holds no memory per request; <see cref="SimulatedProvider.RequestCount"/> still
    /// counts them. Default: <see langword="true"/>.
    /// </summary>
    public bool RecordRequests { get; set; } = true;

    /// <summary>
    /// Gets or sets whether <see cref="ReceivedRequest.Body"/> keeps each request's JSON body, for tests that check what
    /// a client sent (cache breakpoints, tools). Default: <see langword="false"/> (bodies hold whole prompts).
    /// </summary>
    public bool RecordBodies { get; set; }

    /// <summary>
    /// Gets or sets whether an Anthropic-protocol provider simulates prompt caching: it remembers each prefix that ends
    /// at a <c>cache_control</c> breakpoint, and a later request reads the longest remembered prefix that ends at one of
    /// its blocks up to its last breakpoint. Usage then reports <c>cache_read_input_tokens</c> (the prefix read) and
    /// <c>cache_creation_input_tokens</c> (the rest up to the last breakpoint) instead of
    /// <see cref="ProviderProfile.CachedPromptShare"/>. No lifetime, minimum length or look-back limit; a failed request
    /// writes nothing; <see cref="SimulatedProvider.Reset"/> empties the cache. Default: <see langword="false"/>.
    /// </summary>
    public bool SimulatePromptCache { get; set; }

    /// <summary>Gets the phases, in priority order.</summary>
    public IList<SimulatedPhase> Phases { get; } = [];
}
