using System.Globalization;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmRouter;

/// <summary>
/// A health check over an <see cref="LlmRouterChatClient"/>, computed from <see cref="LlmRouterChatClient.GetSnapshot"/>
/// (so it calls no provider and changes no routing state). Register it with <c>services.AddHealthChecks().AddLlmRouter()</c>.
/// </summary>
/// <remarks>
/// <para>Every route of the snapshot is checked against its own deployments:</para>
/// <list type="bullet">
/// <item><description><see cref="HealthStatus.Healthy"/>: every deployment of every route is available.</description></item>
/// <item><description><see cref="HealthStatus.Degraded"/>: some route has unavailable deployments (cooling down,
/// circuit open or half-open, out of budget) but every route has at least one available.</description></item>
/// <item><description>The registration's failure status (default <see cref="HealthStatus.Unhealthy"/>): some route has
/// no deployment available. Its fallback routes do not make it healthy (requests to it then depend on them entirely);
/// the description says when such a route still has fallbacks.</description></item>
/// </list>
/// <para>
/// The description names each route that is not fully available and its unavailable deployments. <see cref="HealthCheckResult.Data"/>
/// has one entry per route, keyed by route name, whose value is a dictionary: "available" and "total" (counts),
/// "fallbacks" (route names) and "unavailable", a list of dictionaries with "deployment", "status" (a
/// <see cref="DeploymentStatus"/> name), "cooldownUntil" and "circuitOpenUntil" (UTC, or <see langword="null"/>).
/// </para>
/// </remarks>
public sealed class LlmRouterHealthCheck : IHealthCheck
{
    private readonly LlmRouterChatClient _router;

    /// <summary>Initializes a health check over <paramref name="router"/>.</summary>
    /// <param name="router">The router to check.</param>
    public LlmRouterHealthCheck(LlmRouterChatClient router)
    {
        ArgumentNullException.ThrowIfNull(router);
        _router = router;
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        HealthStatus failureStatus = context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy;
        return Task.FromResult(Evaluate(_router.GetSnapshot(), failureStatus));
    }

    /// <summary>The check's verdict on a snapshot.</summary>
    internal static HealthCheckResult Evaluate(RouterSnapshot snapshot, HealthStatus failureStatus)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var empty = new StringBuilder();
        var partial = new StringBuilder();
        int emptyRoutes = 0;
        int partialRoutes = 0;
        foreach (RouteSnapshot route in snapshot.Routes)
        {
            var unavailable = new List<IReadOnlyDictionary<string, object?>>();
            var names = new List<string>();
            foreach (RankedDeployment member in route.Deployments)
            {
                if (member.IsAvailable || snapshot.FindDeployment(member.Name) is not { } d)
                {
                    continue;
                }

                unavailable.Add(new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["deployment"] = d.Name,
                    ["status"] = d.Status.ToString(),
                    ["cooldownUntil"] = d.CooldownUntil,
                    ["circuitOpenUntil"] = d.CircuitOpenUntil,
                });
                names.Add(Describe(d));
            }

            int total = route.Deployments.Count;
            data[route.Name] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["available"] = route.AvailableCount,
                ["total"] = total,
                ["fallbacks"] = route.Fallbacks,
                ["unavailable"] = unavailable,
            };

            if (unavailable.Count == 0)
            {
                continue;
            }

            if (route.AvailableCount == 0)
            {
                emptyRoutes++;
                Append(empty, $"route '{route.Name}' has no deployment available ({string.Join(", ", names)})");
                if (route.Fallbacks.Count > 0)
                {
                    empty.Append(CultureInfo.InvariantCulture, $"; it still falls back to {string.Join(", ", route.Fallbacks.Select(f => $"'{f}'"))}");
                }
            }
            else
            {
                partialRoutes++;
                Append(partial, $"route '{route.Name}' has {route.AvailableCount} of {total} deployments available ({string.Join(", ", names)} unavailable)");
            }
        }

        if (emptyRoutes == 0 && partialRoutes == 0)
        {
            string healthy = string.Create(CultureInfo.InvariantCulture, $"All {snapshot.Deployments.Count} deployments of {snapshot.Routes.Count} routes are available.");
            return new HealthCheckResult(HealthStatus.Healthy, healthy, data: data);
        }

        if (partial.Length > 0)
        {
            Append(empty, partial.ToString());
        }

        empty.Append('.');
        empty[0] = char.ToUpperInvariant(empty[0]);
        return new HealthCheckResult(emptyRoutes > 0 ? failureStatus : HealthStatus.Degraded, empty.ToString(), data: data);
    }

    private static void Append(StringBuilder text, string sentence)
    {
        if (text.Length > 0)
        {
            text.Append("; ");
        }

        text.Append(sentence);
    }

    private static string Describe(DeploymentSnapshot d)
    {
        // When it can be selected again: the later of the cooldown and the circuit's break. Unknown for a probe in
        // flight and for a deployment budget (its window's end is the budget layer's to say).
        DateTimeOffset? until = d.Status is DeploymentStatus.CoolingDown or DeploymentStatus.CircuitOpen
            ? Later(d.CooldownUntil, d.CircuitOpenUntil)
            : null;
        return until is DateTimeOffset at
            ? string.Create(CultureInfo.InvariantCulture, $"'{d.Name}' {d.Status} until {at.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.FFF'Z'}")
            : $"'{d.Name}' {d.Status}";
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
}
