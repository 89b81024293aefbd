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

    /// <summary>Counts a request.</summary>
    public void Add() => Interlocked.Increment(ref _requests);
}
