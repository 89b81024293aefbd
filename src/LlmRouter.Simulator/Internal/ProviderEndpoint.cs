using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmRouter.Simulator.Internal;

/// <summary>Serves one chat request for a simulated provider: plan, record, then answer or fail as planned.</summary>
internal sealed class ProviderEndpoint(SimulatedProvider provider, TimeProvider time, DateTimeOffset startedAt)
{
    private static readonly string[] Filler = ["the", "router", "sends", "each", "request", "to", "a", "healthy", "deployment", "and", "measures", "how", "fast", "it", "answers"];

    public async Task HandleAsync(HttpContext context)
    {
        CancellationToken aborted = context.RequestAborted;
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: aborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"error":{"message":"request body is not JSON","type":"invalid_request_error"}}""", aborted).ConfigureAwait(false);
            return;
        }

        using (document)
        {
            ChatRequest request = ChatRequest.Parse(document.RootElement, provider.Api);
            int promptTokens = Math.Max(1, request.PromptCharacters / 4);
            RequestPlan plan = provider.Plan(time.GetUtcNow() - startedAt, promptTokens);
            var received = new ReceivedRequest(
                plan.Number, time.GetUtcNow(), context.Request.Path.Value ?? string.Empty, request.Model, request.Stream, request.MessageCount,
                request.LastUserText, Headers(context.Request.Headers), plan.Fault, plan.Phase)
            {
                Body = provider.RecordBodies ? document.RootElement.GetRawText() : null,
            };
            provider.Record(received);
            try
            {
                await RespondAsync(context, request, plan, promptTokens, received, document.RootElement, aborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                received.ClientAborted = true;
            }
            catch (IOException) when (aborted.IsCancellationRequested)
            {
                received.ClientAborted = true;
            }
        }
    }

    private async Task RespondAsync(HttpContext context, ChatRequest request, RequestPlan plan, int promptTokens, ReceivedRequest received, JsonElement body, CancellationToken aborted)
    {
        HttpResponse response = context.Response;
        if (plan.Quota is { } quota)
        {
            Wire.RateLimitHeaders(response.Headers, provider.Api, quota, time.GetUtcNow());
        }

        switch (plan.Fault)
        {
            case FaultKind.Hang:
                await Task.Delay(Timeout.InfiniteTimeSpan, time, aborted).ConfigureAwait(false);
                return;
            case FaultKind.ConnectionReset:
            case FaultKind.StreamDrop when !request.Stream || plan.Profile.StreamDropAfterChunks == 0:
                await Task.Delay(plan.Latency, time, aborted).ConfigureAwait(false);
                context.Abort();
                return;
            case FaultKind.RateLimited or FaultKind.ServerError or FaultKind.Unavailable or FaultKind.Overloaded or FaultKind.Unauthorized or FaultKind.ContextLengthExceeded:
                JsonObject? echo = plan.Profile.EchoRequestInErrors ? Wire.Echo(context.Request.Headers, body) : null;
                (int status, string error, string? retryAfter) = Wire.Error(provider.Api, plan.Fault, plan.Profile, promptTokens, echo);
                response.StatusCode = status;
                received.Status = status;
                response.ContentType = "application/json";
                if (plan.Quota?.RetryAfter is TimeSpan untilNextSlot)
                {
                    // The bucket is empty: the wait for its next request, rounded up to whole seconds as real providers send it.
                    retryAfter = Math.Ceiling(untilNextSlot.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                }

                if (retryAfter is not null)
                {
                    response.Headers["Retry-After"] = retryAfter;
                }

                await response.WriteAsync(error, aborted).ConfigureAwait(false);
                return;
            case FaultKind.MalformedJson:
                await Task.Delay(plan.Latency, time, aborted).ConfigureAwait(false);
                response.StatusCode = 200;
                received.Status = 200;
                response.ContentType = request.Stream ? "text/event-stream" : "application/json";
                await response.WriteAsync(request.Stream ? "data: {\"id\": oops\n\n" : "{\"id\": \"chatcmpl-sim\", \"choices\": [", aborted).ConfigureAwait(false);
                return;
        }

        string? tool = request.ToolResult is null ? request.FirstTool : null;
        string[] words = Words(request, plan.Profile.CompletionTokens);
        int completionTokens = tool is null ? words.Length : 8;
        int cached = (int)(promptTokens * Math.Clamp(plan.Profile.CachedPromptShare, 0, 1));
        int written = 0;
        if (provider.PromptCache is { } cache)
        {
            (cached, written) = cache.Apply(body, promptTokens);
        }

        string id = $"sim-{provider.Name}-{plan.Number.ToString(CultureInfo.InvariantCulture)}";
        string model = request.Model ?? provider.Name;

        await Task.Delay(plan.Latency, time, aborted).ConfigureAwait(false);
        received.Status = 200;
        if (!request.Stream)
        {
            response.ContentType = "application/json";
            string text = string.Concat(words).TrimEnd();
            await response.WriteAsync(provider.Api == ProviderApi.OpenAI
                ? Wire.OpenAICompletion(id, model, tool is null ? text : null, tool, promptTokens, completionTokens, cached)
                : Wire.AnthropicMessage(id, model, text, tool, promptTokens, completionTokens, cached, written), aborted).ConfigureAwait(false);
            return;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        int dropAfter = plan.Fault == FaultKind.StreamDrop ? plan.Profile.StreamDropAfterChunks : int.MaxValue;
        TimeSpan pace = plan.Profile.TokensPerSecond > 0 ? TimeSpan.FromSeconds(1 / plan.Profile.TokensPerSecond) : TimeSpan.Zero;
        if (provider.Api == ProviderApi.OpenAI)
        {
            await StreamOpenAIAsync(context, request, id, model, words, tool, promptTokens, completionTokens, cached, dropAfter, pace, aborted).ConfigureAwait(false);
        }
        else
        {
            await StreamAnthropicAsync(context, id, model, words, tool, promptTokens, completionTokens, cached, written, dropAfter, pace, aborted).ConfigureAwait(false);
        }
    }

    private async Task StreamOpenAIAsync(
        HttpContext context, ChatRequest request, string id, string model, string[] words, string? tool,
        int promptTokens, int completionTokens, int cached, int dropAfter, TimeSpan pace, CancellationToken aborted)
    {
        int chunks = 0;
        if (tool is not null)
        {
            await SendAsync(context, null, Wire.OpenAIChunk(id, model, new JsonObject { ["role"] = "assistant", ["tool_calls"] = new JsonArray(Wire.OpenAIToolCall(tool, includeIndex: true)) }, null), aborted).ConfigureAwait(false);
            await SendAsync(context, null, Wire.OpenAIChunk(id, model, new JsonObject(), "tool_calls"), aborted).ConfigureAwait(false);
        }
        else
        {
            for (int i = 0; i < words.Length; i++)
            {
                if (chunks++ == dropAfter)
                {
                    await DropAsync(context, aborted).ConfigureAwait(false);
                    return;
                }

                if (i > 0 && pace > TimeSpan.Zero)
                {
                    await Task.Delay(pace, time, aborted).ConfigureAwait(false);
                }

                var delta = new JsonObject { ["content"] = words[i] };
                if (i == 0)
                {
                    delta["role"] = "assistant";
                }

                await SendAsync(context, null, Wire.OpenAIChunk(id, model, delta, null), aborted).ConfigureAwait(false);
            }

            await SendAsync(context, null, Wire.OpenAIChunk(id, model, new JsonObject(), "stop"), aborted).ConfigureAwait(false);
        }

        if (request.IncludeUsage)
        {
            await SendAsync(context, null, Wire.OpenAIUsageChunk(id, model, promptTokens, completionTokens, cached), aborted).ConfigureAwait(false);
        }

        await SendAsync(context, null, "[DONE]", aborted).ConfigureAwait(false);
    }

    private async Task StreamAnthropicAsync(
        HttpContext context, string id, string model, string[] words, string? tool,
        int promptTokens, int completionTokens, int cached, int written, int dropAfter, TimeSpan pace, CancellationToken aborted)
    {
        await SendAsync(context, "message_start", Wire.AnthropicMessageStart(id, model, promptTokens, cached, written), aborted).ConfigureAwait(false);
        if (tool is not null)
        {
            await SendAsync(context, "content_block_start", new JsonObject
            {
                ["type"] = "content_block_start",
                ["index"] = 0,
                ["content_block"] = new JsonObject { ["type"] = "tool_use", ["id"] = "toolu_sim_1", ["name"] = tool, ["input"] = new JsonObject() },
            }.ToJsonString(), aborted).ConfigureAwait(false);
            await SendAsync(context, "content_block_delta", new JsonObject
            {
                ["type"] = "content_block_delta",
                ["index"] = 0,
                ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = "{}" },
            }.ToJsonString(), aborted).ConfigureAwait(false);
        }
        else
        {
            await SendAsync(context, "content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}""", aborted).ConfigureAwait(false);
            for (int i = 0; i < words.Length; i++)
            {
                if (i == dropAfter)
                {
                    await DropAsync(context, aborted).ConfigureAwait(false);
                    return;
                }

                if (i > 0 && pace > TimeSpan.Zero)
                {
                    await Task.Delay(pace, time, aborted).ConfigureAwait(false);
                }

                await SendAsync(context, "content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta",
                    ["index"] = 0,
                    ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = words[i] },
                }.ToJsonString(), aborted).ConfigureAwait(false);
            }
        }

        await SendAsync(context, "content_block_stop", """{"type":"content_block_stop","index":0}""", aborted).ConfigureAwait(false);
        await SendAsync(context, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = tool is null ? "end_turn" : "tool_use", ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = completionTokens },
        }.ToJsonString(), aborted).ConfigureAwait(false);
        await SendAsync(context, "message_stop", """{"type":"message_stop"}""", aborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Aborts a stream that has sent chunks. A reset discards data the client has not read yet, so the client first gets
    /// a moment to read what was sent: the drop then lands after those chunks, as a real mid-stream failure does.
    /// </summary>
    private async Task DropAsync(HttpContext context, CancellationToken aborted)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(100), time, aborted).ConfigureAwait(false);
        context.Abort();
    }

    private static async Task SendAsync(HttpContext context, string? eventName, string data, CancellationToken aborted)
    {
        string frame = eventName is null ? $"data: {data}\n\n" : $"event: {eventName}\ndata: {data}\n\n";
        await context.Response.WriteAsync(frame, aborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
    }

    private string[] Words(ChatRequest request, int count)
    {
        string lead = request.ToolResult is { } result
            ? $"[{provider.Name}] tool said: {Truncate(result, 60)}"
            : $"[{provider.Name}] reply to: {Truncate(request.LastUserText ?? string.Empty, 40)}";
        var words = new List<string>();
        foreach (string w in lead.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            words.Add(w + " ");
        }

        for (int i = 0; words.Count < count; i++)
        {
            words.Add(Filler[i % Filler.Length] + " ");
        }

        return [.. words];
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];

    private static Dictionary<string, string> Headers(IHeaderDictionary headers)
    {
        var copy = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> h in headers)
        {
            if (h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || h.Key.Equals("x-api-key", StringComparison.OrdinalIgnoreCase)
                || h.Key.Equals("api-key", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            copy[h.Key] = h.Value.ToString();
        }

        return copy;
    }
}
