using Microsoft.Extensions.Logging;

namespace LlmRouter.Budgets.Internal;

/// <summary>Source-generated log messages of the budget layer. Never logs prompts, responses or keys.</summary>
internal static partial class BudgetLog
{
    [LoggerMessage(40, LogLevel.Error, "The budget store cannot be reached ({ErrorType}: {Error}); mode {Mode}. Logged once per outage.")]
    public static partial void LedgerUnavailable(ILogger logger, LedgerFailureMode mode, string errorType, string error);

    [LoggerMessage(41, LogLevel.Information, "The budget store is reachable again.")]
    public static partial void LedgerRecovered(ILogger logger);

    [LoggerMessage(42, LogLevel.Warning, "Deployment '{Deployment}' reached its {Window} budget of ${Limit}; it is out of routing until {ResetsAt:O}.")]
    public static partial void DeploymentBudgetExhausted(ILogger logger, string deployment, BudgetWindow window, decimal limit, DateTimeOffset resetsAt);

    [LoggerMessage(44, LogLevel.Warning, "Deployment '{Deployment}' reached its Total budget of ${Limit}; it is out of routing until the limit is raised or the process restarts.")]
    public static partial void DeploymentTotalBudgetExhausted(ILogger logger, string deployment, decimal limit);

    [LoggerMessage(43, LogLevel.Information, "Audit: {Decision} scope='{Scope}' route='{Route}' served_route='{ServedRoute}' deployment='{Deployment}' attempts={Attempts} streaming={Streaming} input_tokens={InputTokens} output_tokens={OutputTokens} cost_usd={CostUsd} estimated={CostEstimated} saved_usd={CostSavedUsd} reason='{Reason}'")]
    public static partial void Audit(
        ILogger logger, AuditDecision decision, string? scope, string route, string? servedRoute, string? deployment, int attempts, bool streaming,
        long inputTokens, long outputTokens, decimal costUsd, bool costEstimated, decimal costSavedUsd, string? reason);
}

/// <summary>The default audit sink: one structured log entry per request (category <c>LlmRouter.Audit</c>), no content.</summary>
internal sealed class LoggingAuditSink(ILogger logger) : IAuditSink
{
    /// <summary>Whether audit entries are logged at all; when not, the budget layer does not build records for this sink.</summary>
    public bool Enabled => logger.IsEnabled(LogLevel.Information);

    public void Write(AuditRecord record)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            BudgetLog.Audit(logger, record.Decision, record.ScopePath?.ToString(), record.Route, record.ServedRoute, record.Deployment, record.Attempts,
                record.Streaming, record.InputTokens, record.OutputTokens, record.CostUsd, record.CostEstimated, record.CostSavedUsd, record.Reason);
        }
    }
}
