using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>
/// The attempt loop of a non-streaming request: pick, call, conclude (serve, fail over, or stop), until served or out
/// of deployments. Attempts start synchronously: while providers complete synchronously (in-memory clients, caches below
/// the router) the loop adds no Task of its own, and a synchronous failure is classified from the faulted task without
/// the throw and catch an await would cost. The first attempt that needs to wait moves the loop into
/// <see cref="RunAsync"/>; a hedged route hands the request to <see cref="HedgedRequest"/>.
/// </summary>
internal static class ResponseRunner
{
    /// <summary>Cancels the given source; registered on the caller's token for an attempt with its own cancellation.</summary>
    public static readonly Action<object?> CancelSource = static state => ((CancellationTokenSource)state!).Cancel();

    /// <summary>Runs a request whose routing has begun; releases it when done.</summary>
    public static Task<ChatResponse> Run(RoutedRequest request, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        bool handedOff = false;
        try
        {
            return RunSynchronously(request, messages, cancellationToken, ref handedOff);
        }
#pragma warning disable CA1031 // Not swallowed: the caller gets it on the returned task.
        catch (Exception ex) when (!handedOff)
#pragma warning restore CA1031
        {
            // A custom strategy's bug (Score, SelectFirst) fails the returned task, as on the traced path, not the call.
            request.End(ex);
            return Task.FromException<ChatResponse>(ex);
        }
        finally
        {
            if (!handedOff)
            {
                request.Release();
            }
        }
    }

    /// <summary>
    /// The loop itself, kept free of exception handling regions so its locals stay in registers; sets
    /// <paramref name="handedOff"/> when an async continuation (or the hedging coordinator) takes the request over.
    /// </summary>
    private static Task<ChatResponse> RunSynchronously(RoutedRequest request, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken, ref bool handedOff)
    {
        while (request.TryPick(out Pick pick, out long start))
        {
            Deployment d = pick.Deployment;
            if (request.Hedging is not null && request.Attempts == 1)
            {
                handedOff = true;
                return HedgedRequest.RespondAsync(request, messages, pick, start, cancellationToken);
            }

            if (d.AttemptTimeout is not null)
            {
                handedOff = true;
                return RunAsync(request, messages, pick, started: null, start, cancellationToken);
            }

            Task<ChatResponse> task = Call(d, messages, request.OptionsFor(d), cancellationToken);
            if (task.IsCompletedSuccessfully)
            {
                if (request.Serve(pick, start, task.Result))
                {
                    request.End(null);
                    return task;
                }

                continue;
            }

            if (!task.IsFaulted || cancellationToken.IsCancellationRequested)
            {
                handedOff = true;
                return RunAsync(request, messages, pick, task, start, cancellationToken);
            }

            Exception error = task.Exception!.InnerException!;
            if (!request.Failed(pick, error, timedOutAfter: null, start))
            {
                // Not worth failing over: the caller gets the provider's own faulted task, so the original exception.
                request.End(error);
                return task;
            }
        }

        Exception? exhausted = request.Finish(out ChatResponse? answer);
        return exhausted is null ? Task.FromResult(answer!) : Task.FromException<ChatResponse>(exhausted);
    }

    /// <summary>
    /// The attempt loop in an async method, continuing from a picked attempt (possibly already started); every attempt
    /// gets its span here, and its timeout. Also the entry of traced requests, so spans are current only inside it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // Its state machine would otherwise sit, zeroed, in Run's frame on every call.
    public static async Task<ChatResponse> RunAsync(
        RoutedRequest request, IEnumerable<ChatMessage> messages, Pick pick, Task<ChatResponse>? started, long start, CancellationToken cancellationToken)
    {
        try
        {
            do
            {
                Deployment d = pick.Deployment;
                CancellationTokenSource? timeout = null;
                CancellationTokenRegistration link = default;
                try
                {
                    if (started is null)
                    {
                        if (d.AttemptTimeout is TimeSpan t)
                        {
                            timeout = new CancellationTokenSource(t, request.Runtime.Time);
                            link = cancellationToken.UnsafeRegister(CancelSource, timeout);
                        }

                        request.StartAttemptSpan(pick);
                        started = d.Client.GetResponseAsync(messages, request.OptionsFor(d), timeout?.Token ?? cancellationToken);
                    }

                    ChatResponse response = await started.ConfigureAwait(false);
                    if (request.Serve(pick, start, response))
                    {
                        request.End(null);
                        return response;
                    }
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    if (!request.Failed(pick, ex, timeout is { IsCancellationRequested: true } ? d.AttemptTimeout : null, start))
                    {
                        request.End(ex);
                        throw;
                    }
                }
                catch (Exception ex)
                {
                    request.Cancelled(pick, start);
                    OperationCanceledException cancelled = ex as OperationCanceledException ?? new OperationCanceledException(null, ex, cancellationToken);
                    request.End(cancelled);
                    if (ex is OperationCanceledException)
                    {
                        throw;
                    }

                    throw cancelled;
                }
                finally
                {
                    started = null;
                    link.Dispose();
                    timeout?.Dispose();
                }
            }
            while (request.TryPick(out pick, out start));

            Exception? exhausted = request.Finish(out ChatResponse? answer);
            return exhausted is null ? answer! : throw exhausted;
        }
        finally
        {
            request.Release();
        }
    }

    /// <summary>Calls a deployment; a synchronous throw becomes a faulted task, classified like an asynchronous failure.</summary>
    private static Task<ChatResponse> Call(Deployment d, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        try
        {
            return d.Client.GetResponseAsync(messages, options, cancellationToken);
        }
#pragma warning disable CA1031 // Routed through the same classification as an asynchronous failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return Task.FromException<ChatResponse>(ex);
        }
    }
}
