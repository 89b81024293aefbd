namespace LlmRouter.Simulator;

/// <summary>
/// A stretch of a provider's life with its own profile (healthy, outage, recovery...). A phase is active by request
/// count (<see cref="FromRequest"/> to <see cref="ToRequest"/>, deterministic for tests) or by time since the server
/// started (<see cref="From"/> to <see cref="To"/>, on the server's TimeProvider); the first active phase wins, and
/// outside every phase the provider's own profile applies.
/// </summary>
public sealed class SimulatedPhase
{
    /// <summary>Gets or sets a name for displays ("outage").</summary>
    public string Name { get; set; } = "phase";

    /// <summary>Gets or sets the first request number (0-based, inclusive) the phase applies to.</summary>
    public long? FromRequest { get; set; }

    /// <summary>Gets or sets the request number (exclusive) the phase ends at.</summary>
    public long? ToRequest { get; set; }

    /// <summary>Gets or sets the time since start the phase begins at.</summary>
    public TimeSpan? From { get; set; }

    /// <summary>Gets or sets the time since start the phase ends at.</summary>
    public TimeSpan? To { get; set; }

    /// <summary>Gets or sets the profile during the phase.</summary>
    public ProviderProfile Profile { get; set; } = new();

    internal bool IsActive(long request, TimeSpan sinceStart)
    {
        bool byCount = FromRequest is not null || ToRequest is not null;
        bool byTime = From is not null || To is not null;
        if (!byCount && !byTime)
        {
            return false;
        }

        return (!byCount || (request >= (FromRequest ?? 0) && request < (ToRequest ?? long.MaxValue)))
            && (!byTime || (sinceStart >= (From ?? TimeSpan.Zero) && sinceStart < (To ?? TimeSpan.MaxValue)));
    }
}
