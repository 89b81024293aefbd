using LlmRouter.Pricing.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

// The private value types of the budget layer: admitted requests, measured costs and deployment budgets.
public sealed partial class BudgetChatClient
{
    /// <summary>A request as admitted: who, which route, its (possibly capped) options and its reservation.</summary>
    private struct Admission
    {
        public ScopePath? Path;
        public string Route;
        public ChatOptions? Options;
        public DateTimeOffset At;
        public bool Streaming;
        public IEnumerable<ChatMessage> Messages;
        public BudgetAccount[] Accounts;
        public long Reserved;
        public int PromptTokens;

        public Admission()
        {
            Route = string.Empty;
            Messages = [];
            Accounts = [];
        }
    }

    private readonly record struct Measured(long Nanos, bool Estimated, long InputTokens, long OutputTokens);

    private sealed class DeploymentBudget(Deployment deployment, BudgetAccount[] budgets)
    {
        public Deployment Deployment { get; } = deployment;

        public BudgetAccount[] Budgets { get; } = budgets;

        public TokenRates? Rates { get; } = deployment.Price is { } p ? TokenRates.From(p) : null;
    }
}
