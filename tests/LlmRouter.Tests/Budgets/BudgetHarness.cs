using System.Collections.Concurrent;
using LlmRouter.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace LlmRouter.Tests.Budgets;

/// <summary>A router over test deployments priced at $1 per million input tokens and $2 per million output tokens, under a budget layer.</summary>
public sealed class BudgetHarness
{
    public static readonly ChatMessage[] Prompt = [new(ChatRole.User, "hi")];

    public RouterHarness Router { get; } = new();

    public BudgetOptions Options { get; } = new();

    public InMemoryBudgetStore Store { get; } = new();

    public RecordingAuditSink Audit { get; } = new();

    public static ModelPrice Price(decimal input = 1m, decimal output = 2m) => new() { InputPerMillion = input, OutputPerMillion = output };

    /// <summary>Adds a deployment that answers with the given usage (input and output tokens).</summary>
    public TestChatClient Add(string name, long inputTokens = 5, long outputTokens = 500, Action<DeploymentOptions>? configure = null, ModelPrice? price = null)
    {
        var client = new TestChatClient(name)
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, $"from {name}"))
            {
                Usage = new UsageDetails { InputTokenCount = inputTokens, OutputTokenCount = outputTokens },
            }),
        };
        return Router.Add(name, client, d =>
        {
            d.Price = price ?? Price();
            configure?.Invoke(d);
        });
    }

    public ScopePolicy Scope(string id, params BudgetLimit[] budgets)
    {
        var policy = new ScopePolicy { Scope = id };
        foreach (BudgetLimit b in budgets)
        {
            policy.Budgets.Add(b);
        }

        Options.Scopes.Add(policy);
        return policy;
    }

    public static BudgetLimit Usd(decimal limit, BudgetWindow window = BudgetWindow.Day) => new() { LimitUsd = limit, Window = window };

    public BudgetChatClient Build(LedgerFailureMode mode = LedgerFailureMode.FailClosed, BudgetStore? store = null)
    {
        Options.OnLedgerFailure = mode;
        var router = new LlmRouterChatClient(Router.Options, timeProvider: Router.Time);
        return new BudgetChatClient(router, Options, store ?? Store, auditSink: Audit, timeProvider: Router.Time);
    }

    public static ChatOptions For(params string[] scopes) => new ChatOptions { MaxOutputTokens = 500 }.WithScopePath(new ScopePath(scopes));

    public async Task<(decimal Spent, decimal Reserved)> UsageAsync(BudgetChatClient client, string scope)
    {
        BudgetUsage usage = (await client.GetUsageAsync(scope)).Single();
        return (usage.SpentUsd, usage.ReservedUsd);
    }
}

public sealed class RecordingAuditSink : IAuditSink
{
    private readonly ConcurrentQueue<AuditRecord> _records = new();

    public IReadOnlyList<AuditRecord> Records => [.. _records];

    public void Write(AuditRecord record) => _records.Enqueue(record);
}
