using System.Diagnostics;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmRouter.Tests.Telemetry;

public enum Layers
{
    Router,
    BudgetsOverRouter,
    CacheOverBudgetsOverRouter,
}

/// <summary>
/// Scenarios: <see cref="Activity.Current"/> after a call is what it was before (no leak), the provider runs under its
/// attempt span, and a request made from inside a provider client gets its own request span under the outer attempt.
/// </summary>
public sealed class ActivityContextTests : IDisposable
{
    private readonly string _outer = Fixture.Unique("outer");
    private readonly string _inner = Fixture.Unique("inner");
    private readonly string _outerRoute = Fixture.Unique("outer-route");
    private readonly string _innerRoute = Fixture.Unique("inner-route");
    private readonly FakeTimeProvider _time = Fixture.Clock();
    private readonly TestChatClient _outerClient = Fixture.Provider("prov-outer");
    private readonly TestChatClient _innerClient = Fixture.Provider("prov-inner");
    private readonly ServiceProvider _cacheServices = new ServiceCollection().AddHybridCache().Services.BuildServiceProvider();

    public void Dispose()
    {
        _outerClient.Dispose();
        _innerClient.Dispose();
        _cacheServices.Dispose();
    }

    private IChatClient Build(Layers layers)
    {
        var options = new LlmRouterOptions();
        var price = new ModelPrice { InputPerMillion = 1m, OutputPerMillion = 2m };
        options.Deployments.Add(Fixture.Deployment(_outer, _outerClient, "outer-model", price));
        options.Deployments.Add(Fixture.Deployment(_inner, _innerClient, "inner-model", price));
        options.Routes.Add(Fixture.Route(_outerRoute, _outer));
        options.Routes.Add(Fixture.Route(_innerRoute, _inner));
        IChatClient client = new LlmRouterChatClient(options, timeProvider: _time);
        if (layers >= Layers.BudgetsOverRouter)
        {
            client = new BudgetChatClient(client, new BudgetOptions(), timeProvider: _time);
        }

        if (layers >= Layers.CacheOverBudgetsOverRouter)
        {
            client = new ResponseCacheChatClient(client, _cacheServices.GetRequiredService<HybridCache>(), timeProvider: _time);
        }

        return client;
    }

    public static TheoryData<Layers, bool, bool> Calls()
    {
        var data = new TheoryData<Layers, bool, bool>();
        foreach (Layers layers in Enum.GetValues<Layers>())
        {
            foreach (bool streaming in new[] { false, true })
            {
                foreach (bool withParent in new[] { false, true })
                {
                    data.Add(layers, streaming, withParent);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task The_current_activity_after_a_call_is_what_it_was_before(Layers layers, bool streaming, bool withParent)
    {
        using var spans = new SpanRecorder();
        using IChatClient client = Build(layers);
        Activity? parent = withParent ? SpanRecorder.Root() : null;
        try
        {
            Assert.Same(parent, Activity.Current);
            if (streaming)
            {
                await using IAsyncEnumerator<ChatResponseUpdate> updates = client.GetStreamingResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _outerRoute }).GetAsyncEnumerator();
                while (await updates.MoveNextAsync())
                {
                    Assert.Same(parent, Activity.Current);
                }
            }
            else
            {
                await client.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _outerRoute });
            }

            Assert.Same(parent, Activity.Current);

            // The provider ran under its attempt span, a child of the request span, a child of the caller's activity.
            Activity attempt = Assert.IsType<Activity>(Assert.Single(_outerClient.Received).Activity);
            Assert.Equal($"attempt {_outer}", attempt.OperationName);
            Assert.Equal(LlmRouterTelemetry.ActivitySourceName, attempt.Source.Name);
            Activity request = Assert.IsType<Activity>(attempt.Parent);
            Assert.Equal($"chat {_outerRoute}", request.OperationName);
            request.Tagged("llmrouter.streaming", streaming);
            Assert.Same(parent, request.Parent);
            Assert.True(attempt.IsStopped);
            Assert.True(request.IsStopped);
        }
        finally
        {
            parent?.Stop();
        }
    }

    [Theory]
    [InlineData(Layers.Router)]
    [InlineData(Layers.BudgetsOverRouter)]
    [InlineData(Layers.CacheOverBudgetsOverRouter)]
    public async Task A_failed_call_leaves_the_current_activity_as_it_was(Layers layers)
    {
        _outerClient.GetResponseAsyncCallback = (_, _, _) => Task.FromException<ChatResponse>(Http.Status(500));
        _outerClient.GetStreamingResponseAsyncCallback = (_, _, _) => throw Http.Status(500);
        using var spans = new SpanRecorder();
        using IChatClient client = Build(layers);
        Activity parent = SpanRecorder.Root();
        try
        {
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => client.GetResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _outerRoute }));
            Assert.Same(parent, Activity.Current);
            await Assert.ThrowsAsync<AllAttemptsFailedException>(() => Fixture.ReadAll(client.GetStreamingResponseAsync(Fixture.Prompt(), new ChatOptions { ModelId = _outerRoute })));
            Assert.Same(parent, Activity.Current);
        }
        finally
        {
            parent.Stop();
        }

        IReadOnlyList<Activity> requests = [.. spans.Stopped(parent.TraceId).Where(s => s.OperationName == $"chat {_outerRoute}")];
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r =>
        {
            Assert.Equal(ActivityStatusCode.Error, r.Status);
            r.Tagged("error.type", typeof(AllAttemptsFailedException).FullName);
        });
    }

    // (CacheOverBudgetsOverRouter, streaming: true): the outer stream is pumped by the cache with a cancellable token,
    // the provider passes it on to its nested request, and a cache miss with a cancellable token loses the caller's
    // ExecutionContext (see CacheTelemetryTests.A_miss_with_a_cancellable_token_...): the inner attempt lands in another trace.
    [Theory]
    [InlineData(Layers.Router, false, false)]
    [InlineData(Layers.Router, true, false)]
    [InlineData(Layers.Router, false, true)]
    [InlineData(Layers.CacheOverBudgetsOverRouter, false, false)]
    [InlineData(Layers.CacheOverBudgetsOverRouter, true, false)]
    [InlineData(Layers.CacheOverBudgetsOverRouter, false, true)]
    public async Task A_request_made_from_inside_a_provider_client_gets_its_own_request_span_under_the_outer_attempt(Layers layers, bool streaming, bool sameMessages)
    {
        using var spans = new SpanRecorder();
        using IChatClient client = Build(layers);

        // The outer deployment is a tool-using client: it asks the router (the whole pipeline) a question of its own first.
        _outerClient.GetResponseAsyncCallback = async (messages, _, ct) =>
        {
            IEnumerable<ChatMessage> nested = sameMessages ? messages : Fixture.Prompt("nested question");
            ChatResponse inner = await client.GetResponseAsync(nested, new ChatOptions { ModelId = _innerRoute }, ct);
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, $"outer after {inner.Text}"));
        };
        _outerClient.GetStreamingResponseAsyncCallback = (_, _, ct) => NestedStream(client, ct);

        Activity root = SpanRecorder.Root();
        try
        {
            ChatMessage[] prompt = Fixture.Prompt("outer question");
            if (streaming)
            {
                await Fixture.ReadAll(client.GetStreamingResponseAsync(prompt, new ChatOptions { ModelId = _outerRoute }));
            }
            else
            {
                await client.GetResponseAsync(prompt, new ChatOptions { ModelId = _outerRoute });
            }

            Assert.Same(root, Activity.Current);
        }
        finally
        {
            root.Stop();
        }

        IReadOnlyList<Activity> trace = spans.Stopped(root.TraceId);
        Activity outerRequest = trace.Span($"chat {_outerRoute}");
        Activity outerAttempt = trace.Span($"attempt {_outer}");
        Activity innerRequest = trace.Span($"chat {_innerRoute}");
        Activity innerAttempt = trace.Span($"attempt {_inner}");
        Assert.Equal(root.SpanId, outerRequest.ParentSpanId);
        Assert.Equal(outerRequest.SpanId, outerAttempt.ParentSpanId);
        Assert.Equal(outerAttempt.SpanId, innerRequest.ParentSpanId);
        Assert.Equal(innerRequest.SpanId, innerAttempt.ParentSpanId);
        Assert.Equal(4, trace.Count);

        // Each request span describes its own request.
        outerRequest.Tagged("llmrouter.deployment", _outer);
        outerRequest.Tagged("llmrouter.route", _outerRoute);
        innerRequest.Tagged("llmrouter.deployment", _inner);
        innerRequest.Tagged("llmrouter.route", _innerRoute);
        innerRequest.Tagged("llmrouter.streaming", false);
        outerRequest.Tagged("llmrouter.streaming", streaming);
        Assert.All([outerRequest, innerRequest], r => r.Tagged("llmrouter.outcome", "served"));
    }

    private async IAsyncEnumerable<ChatResponseUpdate> NestedStream(IChatClient client, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ChatResponse inner = await client.GetResponseAsync(Fixture.Prompt("nested question"), new ChatOptions { ModelId = _innerRoute }, cancellationToken);
        yield return new ChatResponseUpdate(ChatRole.Assistant, $"outer after {inner.Text}");
    }
}
