namespace LlmRouter.Simulator;

/// <summary>What a simulated provider received, for assertions. Authorization and API-key headers are never recorded.</summary>
/// <param name="Number">The provider's request number, from 0.</param>
/// <param name="ReceivedAt">When it arrived (server clock).</param>
/// <param name="Path">The request path.</param>
/// <param name="Model">The model the request named.</param>
/// <param name="Stream">Whether the client asked for a stream.</param>
/// <param name="MessageCount">How many messages the request carried.</param>
/// <param name="LastUserText">The text of the last user message.</param>
/// <param name="Headers">The request headers, without credentials.</param>
/// <param name="Fault">The fault injected, or <see cref="FaultKind.None"/>.</param>
/// <param name="Phase">The active phase's name, or <see langword="null"/>.</param>
public sealed record ReceivedRequest(
    long Number,
    DateTimeOffset ReceivedAt,
    string Path,
    string? Model,
    bool Stream,
    int MessageCount,
    string? LastUserText,
    IReadOnlyDictionary<string, string> Headers,
    FaultKind Fault,
    string? Phase)
{
    /// <summary>Gets the status the simulator answered with (0 for a reset or an aborted request).</summary>
    public int Status { get; internal set; }

    /// <summary>Gets the request's JSON body when the provider records bodies (<see cref="SimulatedProviderOptions.RecordBodies"/>), otherwise <see langword="null"/>.</summary>
    public string? Body { get; internal set; }

    /// <summary>Gets whether the client went away before the response was complete (cancellation, timeout).</summary>
    public bool ClientAborted { get; internal set; }
}
