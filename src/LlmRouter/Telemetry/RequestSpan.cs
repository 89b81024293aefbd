using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using static LlmRouter.Telemetry.RouterTelemetry;

namespace LlmRouter.Telemetry;

/// <summary>
/// The one span of a request (<c>chat {route}</c>), whichever of the library's layers (response cache, budgets, router)
/// sees the request first: that layer starts and ends it, the layers below find it (<see cref="Find"/>) and add their
/// attributes to it, and the router hangs an attempt span per provider call under it.
/// </summary>
/// <remarks>
/// A span is matched to its request by the message list object the caller passed, which every layer passes down
/// unchanged; a nested request (a tool calling the router again) has its own list and gets its own span. Spans are only
/// started inside async methods, so <see cref="Activity.Current"/> never leaks to a caller.
/// </remarks>
internal static class RequestSpan
{
    private const string MessagesProperty = "llmrouter.request.messages";

    /// <summary>The request span a layer above started for these messages, if any.</summary>
    public static Activity? Find(IEnumerable<ChatMessage> messages) =>
        Activity.Current is { } current && ReferenceEquals(current.Source, Source) && ReferenceEquals(current.GetCustomProperty(MessagesProperty), messages)
            ? current
            : null;

    /// <summary>Whether this layer must start the request's span: someone listens and no layer above has started it.</summary>
    public static bool ShouldStart(IEnumerable<ChatMessage> messages) => Source.HasListeners() && Find(messages) is null;

    /// <summary>Starts a request span (call from an async method only). <see langword="null"/> when nobody samples it.</summary>
    public static Activity? Start(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming)
    {
        string? model = options?.ModelId;
        Activity? span = Source.StartActivity(model is null ? "chat" : $"chat {model}", ActivityKind.Internal);
        if (span is null)
        {
            return null;
        }

        span.SetCustomProperty(MessagesProperty, messages);
        if (span.IsAllDataRequested)
        {
            span.SetTag(Tags.Operation, "chat");
            span.SetTag(Tags.RequestModel, model);
            span.SetTag(Tags.Streaming, streaming);
        }

        return span;
    }

    /// <summary>Records a served request: usage, response model and cost (from the budget layer's annotation).</summary>
    public static void Served(Activity? span, UsageDetails? usage, string? responseModel, RequestCost? cost)
    {
        if (span is not { IsAllDataRequested: true })
        {
            return;
        }

        span.SetTag(Tags.Outcome, "served");
        span.SetTag(Tags.ResponseModel, responseModel);
        if (usage?.InputTokenCount is long input)
        {
            span.SetTag(Tags.InputTokens, input);
        }

        if (usage?.OutputTokenCount is long output)
        {
            span.SetTag(Tags.OutputTokens, output);
        }

        if (cost is not null)
        {
            span.SetTag(Tags.CostUsd, (double)cost.Usd);
            span.SetTag(Tags.CostEstimated, cost.Estimated);
        }
    }

    /// <summary>
    /// Records a failed request: <c>error.type</c>, an error status and what the library's own exceptions know. The status
    /// description is the exception's message only for the library's exceptions (composed from names and numbers); a
    /// provider's message can carry a response body, so other exceptions are described by their type alone.
    /// </summary>
    public static void Failed(Activity? span, Exception error)
    {
        if (span is null)
        {
            return;
        }

        bool ours = error is LlmRouterException;
        span.SetStatus(ActivityStatusCode.Error, ours ? error.Message : error.GetType().Name);
        if (!span.IsAllDataRequested)
        {
            return;
        }

        span.SetTag(Tags.Outcome, error is OperationCanceledException ? "cancelled" : "failed");
        span.SetTag(Tags.ErrorType, error.GetType().FullName);
        if (error is LlmRouterException routerError)
        {
            routerError.TagSpan(span);
        }
    }

    /// <summary>Runs a non-streaming call inside a request span this layer owns.</summary>
    public static async Task<ChatResponse> TraceAsync<TState>(
        TState state, IEnumerable<ChatMessage> messages, ChatOptions? options, Func<TState, Task<ChatResponse>> call)
    {
        using Activity? span = Start(messages, options, streaming: false);
        try
        {
            ChatResponse response = await call(state).ConfigureAwait(false);
            Served(span, response.Usage, response.ModelId, response.GetCost());
            return response;
        }
        catch (Exception ex)
        {
            Failed(span, ex);
            throw;
        }
    }

    /// <summary>Runs a stream inside a request span this layer owns, from the first read to the end (or abandonment) of the stream.</summary>
    public static async IAsyncEnumerable<ChatResponseUpdate> TraceStreamAsync<TState>(
        TState state,
        IEnumerable<ChatMessage> messages,
        ChatOptions? options,
        Func<TState, CancellationToken, IAsyncEnumerable<ChatResponseUpdate>> open,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using Activity? span = Start(messages, options, streaming: true);
        UsageDetails? usage = null;
        RequestCost? cost = null;
        string? model = null;
        bool completed = false;
        IAsyncEnumerator<ChatResponseUpdate> updates = open(state, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = updates.Current;
                }
                catch (Exception ex)
                {
                    Failed(span, ex);
                    throw;
                }

                model ??= update.ModelId;
                if (span is { IsAllDataRequested: true })
                {
                    foreach (AIContent content in update.Contents)
                    {
                        if (content is UsageContent u)
                        {
                            (usage ??= new UsageDetails()).Add(u.Details);
                        }
                    }

                    cost = update.AdditionalProperties?.TryGetValue(RequestCostExtensions.CostKey, out object? c) == true && c is RequestCost rc ? rc : cost;
                }

                yield return update;
            }

            completed = true;
            Served(span, usage, model, cost);
        }
        finally
        {
            if (!completed && span is { IsAllDataRequested: true } && span.GetTagItem(Tags.Outcome) is null)
            {
                span.SetTag(Tags.Outcome, "abandoned");
            }

            await updates.DisposeAsync().ConfigureAwait(false);
        }
    }
}
