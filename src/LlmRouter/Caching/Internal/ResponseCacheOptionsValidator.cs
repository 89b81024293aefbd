using Microsoft.Extensions.Options;
using static LlmRouter.Internal.OptionsChecks;

namespace LlmRouter.Caching.Internal;

/// <summary>
/// Checks the <see cref="ResponseCacheOptions"/> that <c>AddLlmRouter</c> registers (at start-up with
/// <c>ValidateOnStart</c>); each failure names its configuration key.
/// </summary>
internal sealed class ResponseCacheOptionsValidator : IValidateOptions<ResponseCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, ResponseCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrEmpty(name))
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>();
        Validate(options, RouterDefaults.ConfigurationSection + ":ResponseCache", failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static void Validate(ResponseCacheOptions options, string at, List<string> failures)
    {
        CheckPositive(failures, $"{at}:TimeToLive", options.TimeToLive);
    }
}
