using static LlmRouter.Internal.OptionsChecks;

namespace LlmRouter.Health.Internal;

/// <summary>Checks <see cref="HealthOptions"/>; each failure names its configuration key under <c>at</c>.</summary>
internal static class HealthOptionsValidator
{
    public static void Validate(HealthOptions h, string at, List<string> failures)
    {
        CheckPositive(failures, $"{at}:RateLimitCooldown", h.RateLimitCooldown, allowZero: true);
        CheckPositive(failures, $"{at}:MisconfiguredCooldown", h.MisconfiguredCooldown, allowZero: true);
        CheckPositive(failures, $"{at}:MaxCooldown", h.MaxCooldown, allowZero: true);
        CheckPositive(failures, $"{at}:LongRetryAfter", h.LongRetryAfter, allowZero: true);
        if (!(h.RateLimitRatioThreshold is > 0 and <= 1))
        {
            failures.Add($"{at}:RateLimitRatioThreshold is {h.RateLimitRatioThreshold}: it must be greater than 0 and at most 1.");
        }

        CheckPositive(failures, $"{at}:SamplingDuration", h.SamplingDuration);
        CheckPositive(failures, $"{at}:BreakDuration", h.BreakDuration);
        if (h.ProbesToClose < 1)
        {
            failures.Add($"{at}:ProbesToClose is {h.ProbesToClose}: it must be at least 1.");
        }

        if (h.ConsecutiveFailureThreshold < 1)
        {
            failures.Add($"{at}:ConsecutiveFailureThreshold is {h.ConsecutiveFailureThreshold}: it must be at least 1.");
        }

        if (!(h.FailureRatioThreshold is > 0 and <= 1))
        {
            failures.Add($"{at}:FailureRatioThreshold is {h.FailureRatioThreshold}: it must be greater than 0 and at most 1.");
        }

        if (h.MinimumThroughput < 1)
        {
            failures.Add($"{at}:MinimumThroughput is {h.MinimumThroughput}: it must be at least 1.");
        }
    }
}
