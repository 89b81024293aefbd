namespace LlmRouter;

/// <summary>How one attempt ended.</summary>
public enum AttemptOutcome
{
    /// <summary>The deployment answered (or, for streams, sent its first update).</summary>
    Succeeded,

    /// <summary>The deployment failed; see <see cref="AttemptRecord.FailureKind"/>.</summary>
    Failed,

    /// <summary>The attempt exceeded the deployment's attempt or time-to-first-token timeout.</summary>
    TimedOut,

    /// <summary>The caller cancelled the request during the attempt.</summary>
    Cancelled,

    /// <summary>A hedged attempt cancelled because another attempt of the same request answered first.</summary>
    Superseded,
}
