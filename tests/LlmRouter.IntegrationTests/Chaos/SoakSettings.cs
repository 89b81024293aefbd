using System.Globalization;

namespace LlmRouter.IntegrationTests.Chaos;

/// <summary>
/// The size of a chaos soak, from environment variables so the same test runs at CI scale in the normal test command and
/// much longer from <c>scripts/soak.sh</c>.
/// </summary>
/// <param name="Requests">How many requests the soak sends (<c>LLMROUTER_SOAK_REQUESTS</c>, default 3,000).</param>
/// <param name="Concurrency">How many are in flight at once (<c>LLMROUTER_SOAK_CONCURRENCY</c>, default 128).</param>
/// <param name="Seed">Seeds the request mix and the simulated providers (<c>LLMROUTER_SOAK_SEED</c>, default 1).</param>
/// <param name="HangGuard">How long the run may take before it fails as hung (<c>LLMROUTER_SOAK_TIMEOUT_SECONDS</c>).</param>
internal sealed record SoakSettings(int Requests, int Concurrency, int Seed, TimeSpan HangGuard)
{
    public const string RequestsVariable = "LLMROUTER_SOAK_REQUESTS";
    public const string ConcurrencyVariable = "LLMROUTER_SOAK_CONCURRENCY";
    public const string SeedVariable = "LLMROUTER_SOAK_SEED";
    public const string TimeoutVariable = "LLMROUTER_SOAK_TIMEOUT_SECONDS";

    public static SoakSettings FromEnvironment() => From(Environment.GetEnvironmentVariable);

    /// <summary>Reads the settings; a value that is not a whole number in range fails with the variable's name and the valid range.</summary>
    public static SoakSettings From(Func<string, string?> read)
    {
        int requests = Read(read, RequestsVariable, 3_000, 500, 10_000_000);
        int concurrency = Read(read, ConcurrencyVariable, 128, 1, 4_096);
        int seed = Read(read, SeedVariable, 1, 0, int.MaxValue);

        // A hang guard, not a speed check: about twenty times what 2 busy cores need (3,000 requests take a few seconds).
        int guard = Read(read, TimeoutVariable, 120 + (requests / 100), 10, 7 * 24 * 3600);
        return new SoakSettings(requests, concurrency, seed, TimeSpan.FromSeconds(guard));
    }

    private static int Read(Func<string, string?> read, string variable, int fallback, int min, int max)
    {
        string? text = read(variable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!int.TryParse(text.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
            || value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(variable, text, $"{variable} is '{text}': it must be a whole number from {min} to {max} (default {fallback}).");
        }

        return value;
    }
}
