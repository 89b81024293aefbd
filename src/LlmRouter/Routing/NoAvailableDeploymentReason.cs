namespace LlmRouter;

/// <summary>Why no deployment could be attempted.</summary>
public enum NoAvailableDeploymentReason
{
    /// <summary>No deployment of the route or its fallbacks satisfies the request's constraints (region, zero data retention, tags).</summary>
    NoneMatchConstraints,

    /// <summary>Every deployment that satisfies the constraints is cooling down or has an open circuit.</summary>
    AllUnavailable,

    /// <summary>Every deployment that satisfies the constraints has exhausted one of its own budgets (<see cref="DeploymentOptions.Budgets"/>).</summary>
    DeploymentBudgetsExhausted,

    /// <summary>
    /// The prompt (counted with the o200k tokenizer) plus the request's output cap does not fit the context window of any
    /// deployment the route and its fallbacks can reach; nothing was sent.
    /// </summary>
    ContextWindowTooSmall,
}
