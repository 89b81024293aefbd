using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace LlmRouter.Simulator.Internal;

/// <summary>Response bodies and error shapes of the two vendor protocols.</summary>
internal static class Wire
{
    /// <summary>The vendor's rate-limit headers: OpenAI's with Go-style durations, Anthropic's with an RFC 3339 reset time.</summary>
    public static void RateLimitHeaders(IHeaderDictionary headers, ProviderApi api, RequestQuota quota, DateTimeOffset now)
    {
        string limit = quota.Limit.ToString(CultureInfo.InvariantCulture);
        string remaining = Math.Max(0, quota.Remaining).ToString(CultureInfo.InvariantCulture);
        if (api == ProviderApi.OpenAI)
        {
            headers["x-ratelimit-limit-requests"] = limit;
            headers["x-ratelimit-remaining-requests"] = remaining;
            headers["x-ratelimit-reset-requests"] = GoDuration(quota.ResetAfter);
        }
        else
        {
            headers["anthropic-ratelimit-requests-limit"] = limit;
            headers["anthropic-ratelimit-requests-remaining"] = remaining;
            headers["anthropic-ratelimit-requests-reset"] = (now + quota.ResetAfter).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>A duration as OpenAI writes it: "120ms", "1.5s", "6m0s".</summary>
    private static string GoDuration(TimeSpan span)
    {
        if (span < TimeSpan.FromSeconds(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)span.TotalMilliseconds)}ms");
        }

        int minutes = (int)span.TotalMinutes;
        double seconds = span.TotalSeconds - (minutes * 60);
        return minutes > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{minutes}m{seconds:0.###}s")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds:0.###}s");
    }

    /// <summary>The error response of an HTTP error fault; with <paramref name="echo"/>, the request echoed in the message and as <c>request</c>.</summary>
    public static (int Status, string Body, string? RetryAfter) Error(ProviderApi api, FaultKind fault, ProviderProfile profile, int promptTokens, JsonObject? echo = null)
    {
        (int status, string openAiType, string? openAiCode, string anthropicType, string message) = fault switch
        {
            FaultKind.RateLimited => (429, "rate_limit_exceeded", "rate_limit_exceeded", "rate_limit_error", "Rate limit reached. Please try again later."),
            FaultKind.ServerError => (500, "server_error", null, "api_error", "The server had an error while processing your request."),
            FaultKind.Unavailable => (503, "server_error", null, "api_error", "The service is temporarily unavailable."),
            FaultKind.Overloaded => (529, "server_error", "overloaded", "overloaded_error", "Overloaded"),
            FaultKind.Unauthorized => (401, "invalid_request_error", "invalid_api_key", "authentication_error", "Incorrect API key provided."),
            FaultKind.ContextLengthExceeded => (400, "invalid_request_error", "context_length_exceeded", "invalid_request_error",
                api == ProviderApi.OpenAI
                    ? $"This model's maximum context length is {profile.ContextWindow ?? 0} tokens. However, your messages resulted in {promptTokens} tokens."
                    : $"prompt is too long: {promptTokens} tokens > {profile.ContextWindow ?? 0} maximum"),
            _ => throw new ArgumentOutOfRangeException(nameof(fault), fault, "Not an HTTP error fault."),
        };

        if (echo is not null)
        {
            message += " Request: " + echo.ToJsonString();
        }

        JsonObject error = api == ProviderApi.OpenAI
            ? new JsonObject { ["message"] = message, ["type"] = openAiType, ["param"] = null, ["code"] = openAiCode }
            : new JsonObject { ["type"] = anthropicType, ["message"] = message };
        if (echo is not null)
        {
            error["request"] = echo;
        }

        JsonObject body = api == ProviderApi.OpenAI ? new JsonObject { ["error"] = error } : new JsonObject { ["type"] = "error", ["error"] = error };
        string? retryAfter = fault == FaultKind.RateLimited && profile.RetryAfter is TimeSpan after
            ? Math.Max(0, after.TotalSeconds).ToString("0.###", CultureInfo.InvariantCulture)
            : null;
        return (status, body.ToJsonString(), retryAfter);
    }

    /// <summary>The request as an error echoes it: every header (credentials included) and the body.</summary>
    public static JsonObject Echo(IHeaderDictionary headers, JsonElement body)
    {
        var copy = new JsonObject();
        foreach (KeyValuePair<string, StringValues> h in headers)
        {
            copy[h.Key] = h.Value.ToString();
        }

        return new JsonObject { ["headers"] = copy, ["body"] = JsonNode.Parse(body.GetRawText()) };
    }

    public static string OpenAICompletion(string id, string model, string? text, string? toolName, int promptTokens, int completionTokens, int cachedTokens)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = text };
        if (toolName is not null)
        {
            message["tool_calls"] = new JsonArray(OpenAIToolCall(toolName, includeIndex: false));
        }

        return new JsonObject
        {
            ["id"] = id,
            ["object"] = "chat.completion",
            ["created"] = 1_700_000_000,
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = message,
                ["finish_reason"] = toolName is null ? "stop" : "tool_calls",
            }),
            ["usage"] = OpenAIUsage(promptTokens, completionTokens, cachedTokens),
        }.ToJsonString();
    }

    public static string OpenAIChunk(string id, string model, JsonObject delta, string? finishReason) => new JsonObject
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = 1_700_000_000,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
    }.ToJsonString();

    public static string OpenAIUsageChunk(string id, string model, int promptTokens, int completionTokens, int cachedTokens) => new JsonObject
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = 1_700_000_000,
        ["model"] = model,
        ["choices"] = new JsonArray(),
        ["usage"] = OpenAIUsage(promptTokens, completionTokens, cachedTokens),
    }.ToJsonString();

    public static JsonObject OpenAIToolCall(string toolName, bool includeIndex)
    {
        var call = new JsonObject
        {
            ["id"] = "call_sim_1",
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = toolName, ["arguments"] = "{}" },
        };
        if (includeIndex)
        {
            call["index"] = 0;
        }

        return call;
    }

    public static string AnthropicMessage(string id, string model, string? text, string? toolName, int promptTokens, int completionTokens, int cachedTokens, int cacheWriteTokens = 0)
    {
        JsonObject block = toolName is null
            ? new JsonObject { ["type"] = "text", ["text"] = text }
            : new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_sim_1", ["name"] = toolName, ["input"] = new JsonObject() };
        return new JsonObject
        {
            ["id"] = id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = new JsonArray(block),
            ["stop_reason"] = toolName is null ? "end_turn" : "tool_use",
            ["stop_sequence"] = null,
            ["usage"] = AnthropicUsage(promptTokens, completionTokens, cachedTokens, cacheWriteTokens),
        }.ToJsonString();
    }

    public static string AnthropicMessageStart(string id, string model, int promptTokens, int cachedTokens, int cacheWriteTokens = 0) => new JsonObject
    {
        ["type"] = "message_start",
        ["message"] = new JsonObject
        {
            ["id"] = id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = new JsonArray(),
            ["stop_reason"] = null,
            ["stop_sequence"] = null,
            ["usage"] = AnthropicUsage(promptTokens, 1, cachedTokens, cacheWriteTokens),
        },
    }.ToJsonString();

    /// <summary>Anthropic's usage: <c>input_tokens</c> excludes the tokens read from and written to the cache.</summary>
    public static JsonObject AnthropicUsage(int promptTokens, int completionTokens, int cachedTokens, int cacheWriteTokens = 0) => new()
    {
        ["input_tokens"] = promptTokens - cachedTokens - cacheWriteTokens,
        ["output_tokens"] = completionTokens,
        ["cache_read_input_tokens"] = cachedTokens,
        ["cache_creation_input_tokens"] = cacheWriteTokens,
    };

    private static JsonObject OpenAIUsage(int promptTokens, int completionTokens, int cachedTokens) => new()
    {
        ["prompt_tokens"] = promptTokens,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = promptTokens + completionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cachedTokens },
    };
}
