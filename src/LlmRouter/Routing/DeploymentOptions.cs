using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>
/// Describes one deployment: a provider <see cref="IChatClient"/>, the model it serves, and the attributes
/// that routing filters and ranks on. The deployment is the unit of health and latency statistics.
/// </summary>
/// <remarks>
/// Exactly one client source must be set: <see cref="Client"/> (an instance), <see cref="ClientFactory"/>
/// (built once from the service provider) or <see cref="ClientKey"/> (a keyed <see cref="IChatClient"/> service,
/// the form configuration uses). The router reads these options once, when it is built.
/// </remarks>
public sealed class DeploymentOptions
{
    /// <summary>Gets or sets the unique name of the deployment (case-insensitive). Required.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the model id sent to the provider in <see cref="ChatOptions.ModelId"/>.
    /// <see langword="null"/> (the default) sends no model id, so the client's own default model is used.
    /// Deployments with a model id also form an implicit route of that name.
    /// </summary>
    public string? ModelId { get; set; }

    /// <summary>Gets or sets the provider client instance. Code only; configuration uses <see cref="ClientKey"/>.</summary>
    public IChatClient? Client { get; set; }

    /// <summary>Gets or sets a factory that builds the provider client once, from the application's services. Code only.</summary>
    public Func<IServiceProvider, IChatClient>? ClientFactory { get; set; }

    /// <summary>
    /// Gets or sets the service key of a keyed <see cref="IChatClient"/> registration
    /// (for example with <c>services.AddKeyedChatClient("openai", ...)</c>) that serves this deployment.
    /// </summary>
    public string? ClientKey { get; set; }

    /// <summary>
    /// Gets or sets the name of the <c>IHttpClientFactory</c> client this deployment's provider client sends through, when
    /// that client has <c>AddLlmResilienceHandler</c>: the router then honours Retry-After values the transport captured,
    /// even when the SDK's exception does not carry the headers. Default: none.
    /// </summary>
    public string? HttpClientName { get; set; }

    /// <summary>Gets or sets the region the deployment runs in (for example "eu" or "us-east"), matched case-insensitively. Default: none.</summary>
    public string? Region { get; set; }

    /// <summary>Gets or sets whether the provider retains no prompt or response data for this deployment. Default: <see langword="false"/>.</summary>
    public bool ZeroDataRetention { get; set; }

    /// <summary>
    /// Gets or sets the context window in tokens: prompts that cannot fit are not sent here, and a context overflow elsewhere
    /// fails over only to larger windows. Default: the price catalogue's window for <see cref="ModelId"/>, else unknown.
    /// </summary>
    public int? ContextWindow { get; set; }

    /// <summary>Gets or sets the relative weight for the Weighted strategy. Must be positive. Default: 1.</summary>
    public double Weight { get; set; } = RouterDefaults.Weight;

    /// <summary>Gets the free-form tags a request can require (for example "vision" or "canary"), matched case-insensitively.</summary>
    public IList<string> Tags { get; } = [];

    /// <summary>
    /// Gets or sets the per-attempt timeout of a non-streaming call; an attempt that exceeds it fails over and counts as slow.
    /// Default: none (the provider client's own timeout applies).
    /// </summary>
    public TimeSpan? AttemptTimeout { get; set; }

    /// <summary>
    /// Gets or sets how long a streaming call may take to produce its first update before it fails over.
    /// Once the first update arrives the router applies no further timeout, so long generations are not cut off.
    /// Default: <see cref="AttemptTimeout"/> when set, else none.
    /// </summary>
    public TimeSpan? TimeToFirstTokenTimeout { get; set; }

    /// <summary>
    /// Gets or sets the deployment's prices, overriding the price catalogue shipped with LlmRouter
    /// (<see cref="PriceCatalog.Default"/>, looked up by <see cref="ModelId"/>). Default: the catalogue's entry, if any.
    /// </summary>
    public ModelPrice? Price { get; set; }

    /// <summary>
    /// Gets or sets the provider's request rate limit for this deployment (requests per minute, as the provider account
    /// has it). The router counts the attempts it sends and, once the deployment has used its rate (allowing a burst of ten
    /// seconds' worth), ranks it after every deployment with room left
    /// until the rate frees up: traffic spreads before the provider answers 429, not after. A deployment at its limit is
    /// never refused outright: when every candidate is at its limit they are tried in the strategy's order. Counts are per
    /// router instance (per process). Default: none (no limit known; 429s still cool the deployment down).
    /// </summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>
    /// Gets or sets the provider's token rate limit for this deployment (tokens per minute). Each attempt counts its prompt
    /// (estimated from its length, about four characters a token) when it is sent, and its output tokens when the provider
    /// reports usage; otherwise as <see cref="RequestsPerMinute"/>. Default: none.
    /// </summary>
    public int? TokensPerMinute { get; set; }

    /// <summary>
    /// Gets the deployment's own spend limits (for example a provider account's monthly cap): once one is reached the
    /// deployment drops out of routing until its window resets (a <see cref="BudgetWindow.Total"/> budget never resets: until
    /// the process restarts with a higher limit), and traffic goes to the others. Enforced by the budget
    /// layer (added by <c>AddLlmRouter</c> when any deployment has budgets, or by <c>UseBudgets</c>). Default: none.
    /// </summary>
    public IList<BudgetLimit> Budgets { get; } = [];
}
