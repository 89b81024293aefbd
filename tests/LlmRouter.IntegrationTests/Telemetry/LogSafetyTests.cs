using System.Collections;
using System.Net.Http.Headers;
using System.Text;
using LlmRouter.Simulator;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace LlmRouter.IntegrationTests.Telemetry;

/// <summary>
/// API keys, Authorization headers and prompt or response content never reach the logs by default (issue #6), even when
/// a provider's error body echoes the request's headers and prompt. The router is built through DI as users build it
/// (real OpenAI and Anthropic SDKs over IHttpClientFactory clients, budgets with a scope policy so the audit log runs,
/// the response cache on) and every log record of every category is captured at Trace.
/// </summary>
public sealed class LogSafetyTests
{
    private const string OpenAIKey = "sk-secret-TEST-0123456789";
    private const string AnthropicKey = "sk-ant-secret-TEST-9876543210";
    private const string Canary = "PROMPT-CANARY-7f3a";

    /// <summary>What must never appear in a log record: both keys (and the part a masked key would keep), the bearer scheme, the prompt canary.</summary>
    private static readonly string[] Forbidden = [OpenAIKey, AnthropicKey, "secret-TEST", "Bearer", Canary];

    public static TheoryData<ProviderApi, FaultKind, bool> EchoingErrors()
    {
        var data = new TheoryData<ProviderApi, FaultKind, bool>();
        foreach (ProviderApi api in new[] { ProviderApi.OpenAI, ProviderApi.Anthropic })
        {
            foreach (FaultKind fault in new[] { FaultKind.ServerError, FaultKind.Unavailable, FaultKind.RateLimited, FaultKind.Unauthorized, FaultKind.ContextLengthExceeded })
            {
                data.Add(api, fault, false);
                data.Add(api, fault, true);
            }
        }

        return data;
    }

    [Fact]
    public async Task The_simulator_echoes_credentials_and_the_prompt_in_error_bodies()
    {
        await using LoggedRouter h = await LoggedRouter.StartAsync();
        h.Sim.Provider("openai").EnqueueFaults(FaultKind.ServerError);
        h.Sim.Provider("anthropic").EnqueueFaults(FaultKind.RateLimited);
        using var http = new HttpClient();

        using var openAi = new HttpRequestMessage(HttpMethod.Post, new Uri(h.Sim.GetBaseUri("openai"), "v1/chat/completions"))
        {
            Content = new StringContent($$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{Canary}}"}]}""", Encoding.UTF8, "application/json"),
        };
        openAi.Headers.Authorization = new AuthenticationHeaderValue("Bearer", OpenAIKey);
        using HttpResponseMessage openAiResponse = await http.SendAsync(openAi);
        string openAiBody = await openAiResponse.Content.ReadAsStringAsync();

        using var anthropic = new HttpRequestMessage(HttpMethod.Post, new Uri(h.Sim.GetBaseUri("anthropic"), "v1/messages"))
        {
            Content = new StringContent($$"""{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"{{Canary}}"}]}""", Encoding.UTF8, "application/json"),
        };
        anthropic.Headers.Add("x-api-key", AnthropicKey);
        using HttpResponseMessage anthropicResponse = await http.SendAsync(anthropic);
        string anthropicBody = await anthropicResponse.Content.ReadAsStringAsync();

        Assert.Equal(500, (int)openAiResponse.StatusCode);
        Assert.Contains($"Bearer {OpenAIKey}", openAiBody, StringComparison.Ordinal);
        Assert.Contains(Canary, openAiBody, StringComparison.Ordinal);
        Assert.Equal(429, (int)anthropicResponse.StatusCode);
        Assert.NotNull(anthropicResponse.Headers.RetryAfter);
        Assert.Contains(AnthropicKey, anthropicBody, StringComparison.Ordinal);
        Assert.Contains(Canary, anthropicBody, StringComparison.Ordinal);

        // The recording still never keeps credentials.
        Assert.DoesNotContain(h.Sim.Provider("openai").Received[0].Headers, kv => kv.Value.Contains(OpenAIKey, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(EchoingErrors))]
    public async Task Provider_errors_echoing_keys_and_prompt_never_reach_the_logs(ProviderApi failing, FaultKind fault, bool streaming)
    {
        await using LoggedRouter h = await LoggedRouter.StartAsync();
        string first = failing == ProviderApi.OpenAI ? "openai" : "anthropic";
        string second = failing == ProviderApi.OpenAI ? "anthropic" : "openai";
        h.Sim.Provider(first).EnqueueFaults(fault);
        bool failsOver = fault != FaultKind.ContextLengthExceeded;

        (string? served, string text, Exception? error) = await h.SendAsync(first + "-first", $"{Canary} error {fault}", streaming);

        if (failsOver)
        {
            Assert.Null(error);
            Assert.Equal(second, served);
            Assert.Contains(Canary, text, StringComparison.Ordinal); // the answer quotes the prompt: response content is checked too
            Assert.Contains(h.Logs, r => r.Category == "LlmRouter" && r.Id.Id == 1 && r.Level == LogLevel.Warning); // AttemptFailedOver
        }
        else
        {
            Assert.NotNull(error);
            Assert.Equal(0, h.Sim.Provider(second).RequestCount);
            // A context-length 400 is logged as a failed attempt (with nowhere larger to go), a plain 400 as not failing over.
            Assert.Contains(h.Logs, r => r.Category == "LlmRouter" && r.Id.Id is 1 or 2 && r.Message.Contains($"'{first}'", StringComparison.Ordinal) && r.Message.Contains("400", StringComparison.Ordinal));
        }

        // The echoing error was answered (the echo itself is checked in The_simulator_echoes_...), and every layer logged.
        Assert.Equal(FaultStatus(fault), h.Sim.Provider(first).Received[0].Status);
        Assert.Contains(h.Logs, r => r.Category == "LlmRouter.Audit" && r.Message.StartsWith(failsOver ? "Audit: Served" : "Audit: Failed", StringComparison.Ordinal));
        Assert.Contains(h.Logs, r => r.Category == "Polly" || r.Message.Contains("llmrouter-transport", StringComparison.Ordinal)); // the transport layer logged too
        AssertNoLeaks(h.Logs);
    }

    [Fact]
    public async Task The_caller_gets_the_echoed_body_in_the_provider_exception_but_the_logs_do_not()
    {
        await using LoggedRouter h = await LoggedRouter.StartAsync();
        h.Sim.Provider("openai").EnqueueFaults(FaultKind.ContextLengthExceeded);
        h.Sim.Provider("anthropic").EnqueueFaults(FaultKind.ContextLengthExceeded);

        (_, _, Exception? openAiError) = await h.SendAsync("openai-first", $"{Canary} caller openai", streaming: false);
        (_, _, Exception? anthropicError) = await h.SendAsync("anthropic-first", $"{Canary} caller anthropic", streaming: false);

        // Not a log: what the application does with the exception is its own choice. It shows the echo really reached the
        // process, so the log assertions below are not vacuous.
        Assert.Contains(OpenAIKey, openAiError!.ToString(), StringComparison.Ordinal);
        Assert.Contains(AnthropicKey, anthropicError!.ToString(), StringComparison.Ordinal);
        AssertNoLeaks(h.Logs);
    }

    [Fact]
    public async Task Successful_streamed_and_cached_calls_never_log_keys_or_content()
    {
        await using LoggedRouter h = await LoggedRouter.StartAsync();

        foreach (string route in new[] { "openai-first", "anthropic-first" })
        {
            foreach (bool streaming in new[] { false, true })
            {
                for (int round = 0; round < 2; round++)
                {
                    (string? served, string text, Exception? error) = await h.SendAsync(route, $"{Canary} success {route} {streaming}", streaming);
                    Assert.Null(error);
                    Assert.Equal(round == 0 ? route[..route.IndexOf('-', StringComparison.Ordinal)] : null, served); // hits carry no routing report
                    Assert.Contains(Canary, text, StringComparison.Ordinal);
                }
            }
        }

        ResponseCacheChatClient cache = Assert.IsType<ResponseCacheChatClient>(h.Chat);
        Assert.Equal(4, cache.Statistics.Hits);
        Assert.Equal(4, h.Sim.Provider("openai").RequestCount + h.Sim.Provider("anthropic").RequestCount);
        Assert.Equal(4, h.Logs.Count(r => r.Category == "LlmRouter.Audit" && r.Message.StartsWith("Audit: Served", StringComparison.Ordinal)));
        Assert.Equal(4, h.Logs.Count(r => r.Category == "LlmRouter.Audit" && r.Message.StartsWith("Audit: CacheHit", StringComparison.Ordinal)));
        AssertNoLeaks(h.Logs);
    }

    [Fact]
    public async Task Provider_HttpClients_have_no_factory_request_loggers_whose_state_would_carry_the_keys()
    {
        await using LoggedRouter h = await LoggedRouter.StartAsync();
        await h.SendAsync("openai-first", $"{Canary} headers openai", streaming: false);
        await h.SendAsync("anthropic-first", $"{Canary} headers anthropic", streaming: false);

        // IHttpClientFactory's default handlers log request and response headers at Trace; on Microsoft.Extensions.Http
        // 10.0 the message redacts the values but the structured state (exported by OpenTelemetry, Serilog, JSON consoles)
        // carries them raw. AddHttpDeployment removes those loggers from the provider clients, so nothing is logged there.
        Assert.DoesNotContain(h.Logs, r => IsHttpClientLog(r, deployment: null));
        Assert.Equal(2, h.Logs.Count(r => r.Category == "LlmRouter.Audit" && r.Message.StartsWith("Audit: Served", StringComparison.Ordinal)));
        AssertNoLeaks(h.Logs);
    }

    /// <summary>Whether the record comes from IHttpClientFactory's logging handlers of a deployment's client (any when null).</summary>
    private static bool IsHttpClientLog(FakeLogRecord record, string? deployment) =>
        record.Category?.StartsWith($"System.Net.Http.HttpClient.llmrouter.{deployment}", StringComparison.Ordinal) == true;

    private static int FaultStatus(FaultKind fault) => fault switch
    {
        FaultKind.ServerError => 500,
        FaultKind.Unavailable => 503,
        FaultKind.RateLimited => 429,
        FaultKind.Unauthorized => 401,
        FaultKind.ContextLengthExceeded => 400,
        _ => throw new ArgumentOutOfRangeException(nameof(fault), fault, null),
    };

    /// <summary>Scans every record's message, state, structured state, scopes and exception (ToString, inner exceptions included).</summary>
    private static void AssertNoLeaks(IReadOnlyList<FakeLogRecord> logs)
    {
        Assert.NotEmpty(logs);
        var leaks = new List<string>();
        foreach (FakeLogRecord record in logs)
        {
            foreach ((string field, string text) in Texts(record))
            {
                foreach (string secret in Forbidden)
                {
                    if (text.Contains(secret, StringComparison.OrdinalIgnoreCase))
                    {
                        leaks.Add($"'{secret}' in {field} of [{record.Level}] {record.Category} (event {record.Id.Id} {record.Id.Name}): {Shorten(text)}");
                    }
                }
            }
        }

        Assert.True(leaks.Count == 0, $"{leaks.Count} leak(s) in {logs.Count} log records:\n" + string.Join("\n", leaks.Distinct()));
    }

    private static IEnumerable<(string Field, string Text)> Texts(FakeLogRecord record)
    {
        yield return ("message", record.Message);
        if (record.Exception is { } exception)
        {
            yield return ("exception", exception.ToString());
            foreach (DictionaryEntry entry in exception.Data)
            {
                yield return ("exception data", $"{entry.Key}={entry.Value}");
            }
        }

        if (record.State?.ToString() is { } state)
        {
            yield return ("state", state);
        }

        foreach (KeyValuePair<string, string?> kv in record.StructuredState ?? [])
        {
            yield return ($"state value '{kv.Key}'", kv.Value ?? string.Empty);
        }

        foreach (object? scope in record.Scopes)
        {
            yield return ("scope", scope?.ToString() ?? string.Empty);
            if (scope is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (KeyValuePair<string, object?> kv in values)
                {
                    yield return ($"scope value '{kv.Key}'", kv.Value?.ToString() ?? string.Empty);
                }
            }
        }
    }

    private static string Shorten(string s) => s.Length <= 300 ? s : s[..300] + "...";

    /// <summary>A simulator whose providers echo requests in errors, and a router over it built through DI with every log captured at Trace.</summary>
    private sealed class LoggedRouter : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly FakeLogCollector _collector;

        private LoggedRouter(SimulatorServer sim)
        {
            Sim = sim;
            var services = new ServiceCollection();
            services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddFakeLogging());
            services.AddLlmRouter(router => router
                .AddOpenAIDeployment(
                    "openai",
                    p => { p.Endpoint = new Uri(sim.GetBaseUri("openai"), "v1"); p.ApiKey = OpenAIKey; p.Model = "gpt-4o-mini"; },
                    d => d.ContextWindow = 100_000) // equal windows: a context overflow has nowhere larger to go
                .AddAnthropicDeployment(
                    "anthropic",
                    p => { p.Endpoint = sim.GetBaseUri("anthropic"); p.ApiKey = AnthropicKey; p.Model = "claude-haiku-4-5"; p.DefaultMaxOutputTokens = 256; },
                    d => d.ContextWindow = 100_000)
                .AddRoute("openai-first", r => { r.Deployments.Add("openai"); r.Deployments.Add("anthropic"); r.Strategy = "Ordered"; })
                .AddRoute("anthropic-first", r => { r.Deployments.Add("anthropic"); r.Deployments.Add("openai"); r.Strategy = "Ordered"; })
                .ConfigureBudgets(b =>
                {
                    b.Scopes.Add(new ScopePolicy { Scope = "org:acme", Budgets = { new() { Window = BudgetWindow.Day, LimitUsd = 100 } } });
                    b.Scopes.Add(new ScopePolicy { Scope = "user:*", Budgets = { new() { Window = BudgetWindow.Day, LimitUsd = 10 } }, RequestsPerMinute = 1_000 });
                })
                .ConfigureResponseCache(_ => { }));

            // The Anthropic SDK sends its key as "Authorization: Bearer"; clients on Anthropic's documented header (older SDKs,
            // AddHttpDeployment over raw HTTP) send "x-api-key". Send both, so the echo and the logs see both.
            services.AddHttpClient("llmrouter.anthropic").ConfigureHttpClient(c => c.DefaultRequestHeaders.Add("x-api-key", AnthropicKey));
            _services = services.BuildServiceProvider();
            _collector = _services.GetFakeLogCollector();
            Chat = _services.GetRequiredService<IChatClient>();
        }

        public SimulatorServer Sim { get; }

        public IChatClient Chat { get; }

        public IReadOnlyList<FakeLogRecord> Logs => _collector.GetSnapshot();

        public static async Task<LoggedRouter> StartAsync()
        {
            SimulatedProviderOptions openAi = SimulatedVendors.Fast("openai", ProviderApi.OpenAI, 1);
            SimulatedProviderOptions anthropic = SimulatedVendors.Fast("anthropic", ProviderApi.Anthropic, 2);
            openAi.Profile.EchoRequestInErrors = true;
            anthropic.Profile.EchoRequestInErrors = true;
            return new LoggedRouter(await SimulatorServer.StartAsync(new SimulatorOptions { Providers = { openAi, anthropic } }));
        }

        /// <summary>Sends a system and a user message carrying the canary; returns the deployment that served, the text, or the error.</summary>
        public async Task<(string? Deployment, string Text, Exception? Error)> SendAsync(string route, string prompt, bool streaming)
        {
            ChatMessage[] messages = [new(ChatRole.System, $"System instructions {Canary}."), new(ChatRole.User, prompt)];
            ChatOptions options = new ChatOptions { ModelId = route }.WithScopePath(new ScopePath("org:acme", "user:alice"));
            try
            {
                if (!streaming)
                {
                    ChatResponse response = await Chat.GetResponseAsync(messages, options);
                    return (response.GetRoutingReport()?.Deployment, response.Text, null);
                }

                var text = new StringBuilder();
                string? deployment = null;
                await foreach (ChatResponseUpdate update in Chat.GetStreamingResponseAsync(messages, options))
                {
                    deployment ??= update.GetRoutingReport()?.Deployment;
                    text.Append(update.Text);
                }

                return (deployment, text.ToString(), null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return (null, string.Empty, e);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            await Sim.DisposeAsync();
        }
    }
}
