using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace LlmRouter.Benchmarks;

/// <summary>
/// What the budget and governance layer adds to a routed call: scope policies, an atomic reservation on every budget of
/// the path, settlement from the reported usage, and an audit record (to a sink that drops it, as a disabled log level does).
/// </summary>
[MemoryDiagnoser]
public class BudgetBenchmarks
{
    private static readonly ChatResponse Answer = new(new ChatMessage(ChatRole.Assistant, "ok"))
    {
        Usage = new UsageDetails { InputTokenCount = 700, OutputTokenCount = 120 },
    };

    private ChatOptions _unscoped = null!;
    private ChatOptions _scoped = null!;
    private ChatOptions _scopedWithRules = null!;
    private LlmRouterChatClient _router = null!;
    private BudgetChatClient _budgets = null!;

    [GlobalSetup]
    public void Setup()
    {
        IChatClient[] clients = [new NoOpChatClient(response: Answer), new NoOpChatClient(response: Answer), new NoOpChatClient(response: Answer)];
        _router = Routers.Create(clients, configure: o =>
        {
            foreach (DeploymentOptions d in o.Deployments)
            {
                d.Price = new ModelPrice { InputPerMillion = 0.15m, OutputPerMillion = 0.6m };
            }
        });

        var options = new BudgetOptions();
        options.Scopes.Add(Policy("org:acme", new BudgetLimit { LimitUsd = 1_000_000m, Window = BudgetWindow.Month }));
        options.Scopes.Add(Policy("team:search", new BudgetLimit { LimitUsd = 1_000_000m, Window = BudgetWindow.Day }));
        options.Scopes.Add(Policy("user:*", new BudgetLimit { LimitUsd = 1_000_000m, Window = BudgetWindow.Day }));
        ScopePolicy key = Policy("key:k1", new BudgetLimit { LimitUsd = 1_000_000m, Window = BudgetWindow.Day });
        key.AllowedRoutes.Add("chat");
        key.RequestsPerMinute = int.MaxValue;
        options.Scopes.Add(key);
        _budgets = new BudgetChatClient(_router, options); // the default audit sink, logging off

        _unscoped = new ChatOptions { MaxOutputTokens = 256 };
        _scoped = new ChatOptions { MaxOutputTokens = 256 }.WithScopePath(new ScopePath("org:acme", "team:search", "user:alice"));
        _scopedWithRules = new ChatOptions { ModelId = "chat", MaxOutputTokens = 256 }.WithScopePath(new ScopePath("org:acme", "team:search", "user:alice", "key:k1"));
    }

    [Benchmark(Baseline = true, Description = "router alone")]
    public Task<ChatResponse> Router() => _router.GetResponseAsync(Routers.Prompt, _unscoped);

    // The router gives a deployment its own model id in a copy of the options (AdditionalProperties included), so a
    // named route with a scope path costs the router itself more: this row is the fair baseline for the last one.
    [Benchmark(Description = "router alone, options of the last row")]
    public Task<ChatResponse> RouterByName() => _router.GetResponseAsync(Routers.Prompt, _scopedWithRules);

    [Benchmark(Description = "router + budgets, unscoped request")]
    public Task<ChatResponse> Unscoped() => _budgets.GetResponseAsync(Routers.Prompt, _unscoped);

    [Benchmark(Description = "router + budgets, 3 scopes x 1 budget")]
    public Task<ChatResponse> Scoped() => _budgets.GetResponseAsync(Routers.Prompt, _scoped);

    [Benchmark(Description = "router + budgets, 4 scopes, allow-list, rate limit")]
    public Task<ChatResponse> ScopedWithRules() => _budgets.GetResponseAsync(Routers.Prompt, _scopedWithRules);

    private static ScopePolicy Policy(string scope, BudgetLimit limit)
    {
        var policy = new ScopePolicy { Scope = scope };
        policy.Budgets.Add(limit);
        return policy;
    }
}
