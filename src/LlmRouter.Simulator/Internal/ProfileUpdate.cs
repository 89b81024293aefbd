using System.Text.Json;

namespace LlmRouter.Simulator.Internal;

/// <summary>
/// The control endpoint's profile change: <c>{"latencyMs": 80, "latencySigma": 0.5, "tokensPerSecond": 100,
/// "completionTokens": 30, "retryAfterSeconds": 3, "contextWindow": 8000, "requestsPerMinute": 120, "echoRequestInErrors": true,
/// "faultRates": {"Unavailable": 0.5}}</c>; every field optional. <c>latencySigma</c> makes the latency log-normal around
/// <c>latencyMs</c>; <c>"requestsPerMinute": null</c> removes the rate limit.
/// </summary>
internal static class ProfileUpdate
{
    public static string? Apply(SimulatedProvider provider, JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return "The body must be a JSON object.";
        }

        var rates = new Dictionary<FaultKind, double>();
        if (body.TryGetProperty("faultRates", out JsonElement faultRates))
        {
            foreach (JsonProperty rate in faultRates.EnumerateObject())
            {
                if (!Enum.TryParse(rate.Name, ignoreCase: true, out FaultKind kind))
                {
                    return $"Unknown fault '{rate.Name}'. Valid: {string.Join(", ", Enum.GetNames<FaultKind>())}.";
                }

                double value = rate.Value.GetDouble();
                if (value is < 0 or > 1)
                {
                    return $"Fault rate of {rate.Name} is {value}; it must be between 0 and 1.";
                }

                rates[kind] = value;
            }
        }

        int? requestsPerMinute = null;
        bool setsRequestsPerMinute = body.TryGetProperty("requestsPerMinute", out JsonElement rpm);
        if (setsRequestsPerMinute && rpm.ValueKind != JsonValueKind.Null)
        {
            if (!rpm.TryGetInt32(out int limit) || limit <= 0)
            {
                return $"requestsPerMinute is {rpm.GetRawText()}; it must be a positive whole number of requests a minute, or null for no limit.";
            }

            requestsPerMinute = limit;
        }

        provider.Configure(p =>
        {
            if (setsRequestsPerMinute)
            {
                p.RequestsPerMinute = requestsPerMinute;
            }

            if (body.TryGetProperty("latencyMs", out JsonElement ms))
            {
                TimeSpan latency = TimeSpan.FromMilliseconds(ms.GetDouble());
                p.Latency = body.TryGetProperty("latencySigma", out JsonElement sigma)
                    ? LatencyModel.LogNormal(latency, sigma.GetDouble())
                    : LatencyModel.Fixed(latency);
            }

            if (body.TryGetProperty("tokensPerSecond", out JsonElement tps))
            {
                p.TokensPerSecond = tps.GetDouble();
            }

            if (body.TryGetProperty("completionTokens", out JsonElement ct))
            {
                p.CompletionTokens = ct.GetInt32();
            }

            if (body.TryGetProperty("retryAfterSeconds", out JsonElement ra))
            {
                p.RetryAfter = ra.ValueKind == JsonValueKind.Null ? null : TimeSpan.FromSeconds(ra.GetDouble());
            }

            if (body.TryGetProperty("contextWindow", out JsonElement cw))
            {
                p.ContextWindow = cw.ValueKind == JsonValueKind.Null ? null : cw.GetInt32();
            }

            if (body.TryGetProperty("echoRequestInErrors", out JsonElement echo))
            {
                p.EchoRequestInErrors = echo.GetBoolean();
            }

            if (body.TryGetProperty("faultRates", out _))
            {
                p.FaultRates.Clear();
                foreach (KeyValuePair<FaultKind, double> rate in rates)
                {
                    p.FaultRates[rate.Key] = rate.Value;
                }
            }
        });
        return null;
    }
}
