namespace LlmRouter;

/// <summary>
/// Receives one <see cref="AuditRecord"/> per request. Register one in the services (<c>services.AddSingleton&lt;IAuditSink, MySink&gt;()</c>)
/// to replace the default, which writes structured logs (category <c>LlmRouter.Audit</c>, Information). Called on the
/// request's path: queue slow work (database writes) instead of doing it inline, and do not throw.
/// </summary>
public interface IAuditSink
{
    /// <summary>Records a request.</summary>
    /// <param name="record">The record.</param>
    void Write(AuditRecord record);
}
