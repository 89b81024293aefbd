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

    /// <summary>Gets the phases, in priority order.</summary>
    public IList<SimulatedPhase> Phases { get; } = [];
}
