using static LlmRouter.Internal.OptionsChecks;

namespace LlmRouter.Routing.Internal;

/// <summary>Checks <see cref="LatencyRankingOptions"/>; each failure names its configuration key under <c>at</c>.</summary>
internal static class LatencyRankingOptionsValidator
{
    public static void Validate(LatencyRankingOptions lr, string at, List<string> failures)
    {
        CheckPositive(failures, $"{at}:HalfLife", lr.HalfLife);
        CheckPositive(failures, $"{at}:StaleAfter", lr.StaleAfter);
        if (lr.MinimumSamples < 1)
        {
            failures.Add($"{at}:MinimumSamples is {lr.MinimumSamples}: it must be at least 1.");
        }

        if (!(lr.ExplorationRate is >= 0 and <= 1))
        {
            failures.Add($"{at}:ExplorationRate is {lr.ExplorationRate}: it must be between 0 and 1.");
        }

        if (!(lr.LatencyBuffer >= 0) || double.IsInfinity(lr.LatencyBuffer))
        {
            failures.Add($"{at}:LatencyBuffer is {lr.LatencyBuffer}: it must be 0 or a positive fraction (0.1 = 10%).");
        }

        if (lr.ReferenceOutputTokens < 1)
        {
            failures.Add($"{at}:ReferenceOutputTokens is {lr.ReferenceOutputTokens}: it must be at least 1.");
        }

        if (lr.MaxConcurrentColdProbes < 1)
        {
            failures.Add($"{at}:MaxConcurrentColdProbes is {lr.MaxConcurrentColdProbes}: it must be at least 1.");
        }
    }
}
