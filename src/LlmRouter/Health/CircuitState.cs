namespace LlmRouter;

/// <summary>The state of a deployment's circuit breaker.</summary>
public enum CircuitState
{
    /// <summary>Requests flow normally.</summary>
    Closed,

    /// <summary>Too many failures: the deployment receives no requests until the break duration passes.</summary>
    Open,

    /// <summary>The break passed and one probe request is in flight; its outcome closes or reopens the circuit.</summary>
    HalfOpen,
}
