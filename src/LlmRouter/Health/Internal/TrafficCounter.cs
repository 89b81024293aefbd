namespace LlmRouter.Health.Internal;

/// <summary>
/// The requests one router has begun, counted so evidence about a deployment can fade with the traffic the router sees
/// and not only with wall-clock time: under light traffic a minute is only a few requests.
/// </summary>
internal sealed class TrafficCounter
{
    private long _requests;

    /// <summary>Gets the number of requests begun so far.</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// Counts a request. Not atomic on purpose: the count only paces re-probes, so an increment lost when two threads race
    /// changes nothing that matters, and the hot path pays no locked instruction.
    /// </summary>
    public void Add() => Volatile.Write(ref _requests, _requests + 1);
}
