namespace LlmRouter;

/// <summary>
/// Whether a deployment can be selected now and, when it cannot, why. When several reasons apply the most severe one
/// is reported; the values are declared from least to most severe (<see cref="Available"/> &lt;
/// <see cref="CircuitHalfOpen"/> &lt; <see cref="CoolingDown"/> &lt; <see cref="CircuitOpen"/> &lt;
/// <see cref="OutOfBudget"/>), so they can be compared.
/// </summary>
public enum DeploymentStatus
{
    /// <summary>
    /// The router may select the deployment now. This includes a circuit that is still <see cref="CircuitState.Open"/>
    /// but whose break has passed: the next request that reaches it is its half-open probe.
    /// </summary>
    Available,

    /// <summary>The circuit's half-open probe is in flight; no other request reaches the deployment until it ends.</summary>
    CircuitHalfOpen,

    /// <summary>The deployment is cooling down (after a rate limit, a Retry-After or a misconfiguration) until <see cref="DeploymentSnapshot.CooldownUntil"/>.</summary>
    CoolingDown,

    /// <summary>The circuit breaker opened after repeated failures; it receives no request until <see cref="DeploymentSnapshot.CircuitOpenUntil"/>.</summary>
    CircuitOpen,

    /// <summary>One of the deployment's own budgets is exhausted: it is out of routing until the budget's window resets (for a Total budget, until the process restarts), whatever its health.</summary>
    OutOfBudget,
}
