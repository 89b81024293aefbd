using LlmRouter.Pricing.Internal;
using LlmRouter.Routing.Internal;
using Microsoft.Extensions.Options;

namespace LlmRouter.Budgets.Internal;

/// <summary>
/// Checks budget options and that every budgeted deployment has a price; each failure names its configuration key.
/// As <see cref="IValidateOptions{TOptions}"/> it validates the <see cref="BudgetOptions"/> that <c>AddLlmRouter</c>
/// registers (at start-up with <c>ValidateOnStart</c>), cross-checked against the router's <see cref="LlmRouterOptions"/>.
/// </summary>
internal sealed class BudgetOptionsValidator : IValidateOptions<BudgetOptions>
{
    private readonly IOptions<LlmRouterOptions>? _router;

    public BudgetOptionsValidator(IOptions<LlmRouterOptions>? router = null)
    {
        _router = router;
    }

    public ValidateOptionsResult Validate(string? name, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrEmpty(name))
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>();
        LlmRouterOptions? router = ReadRouterOptions();

        // A deployment with budgets of its own is checked for a price with the router's options; here only those a scope budget needs.
        IEnumerable<(string, ModelPrice?, int)> deployments = router is null
            ? []
            : router.Deployments.Where(d => d is not null && d.Budgets.Count == 0).Select(d => (d.Name, DeploymentOptionsValidator.Price(d), 0));
        Validate(options, deployments, router is null ? null : RouteOptionsValidator.KnownRoutes(router), RouterDefaults.ConfigurationSection + ":Budgets", failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static List<string> Validate(BudgetOptions options, IRouterTopology? router, string at)
    {
        var failures = new List<string>();
        IEnumerable<(string Name, ModelPrice? Price, int Budgets)> deployments = router is null
            ? []
            : router.Deployments.Select(d => (d.Name, d.Price, d.BudgetLimits.Length));
        Validate(options, deployments, router is null ? null : new HashSet<string>(router.Routes, StringComparer.OrdinalIgnoreCase), at, failures);
        return failures;
    }

    public static void Validate(BudgetOptions options, IEnumerable<(string Name, ModelPrice? Price, int Budgets)> deployments, ISet<string>? routes, string at, List<string> failures)
    {
        if (options.DefaultMaxOutputTokens <= 0)
        {
            failures.Add($"{at}:DefaultMaxOutputTokens is {options.DefaultMaxOutputTokens}: it must be a positive number of tokens (default 4096).");
        }

        if (!Enum.IsDefined(options.OnLedgerFailure))
        {
            failures.Add($"{at}:OnLedgerFailure '{options.OnLedgerFailure}' is not valid: use FailClosed or FailOpen.");
        }

        bool anyScopeBudget = false;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < options.Scopes.Count; i++)
        {
            ScopePolicy? p = options.Scopes[i];
            string key = $"{at}:Scopes:{i}" + (string.IsNullOrWhiteSpace(p?.Scope) ? string.Empty : $" ('{p.Scope}')");
            if (p is null)
            {
                failures.Add($"{key} is null.");
                continue;
            }

            string id = p.Scope ?? string.Empty;
            if (string.IsNullOrWhiteSpace(id) || id == "*" || (id.Contains('*', StringComparison.Ordinal) && !id.EndsWith(":*", StringComparison.Ordinal)))
            {
                failures.Add($"{key}:Scope '{id}' is not valid: a scope id is a non-empty id such as 'team:search', or 'kind:*' for every id of a kind.");
            }
            else if (!seen.Add(id))
            {
                failures.Add($"{key}:Scope '{id}' has more than one policy: merge them (every budget and rule of a scope goes in one policy).");
            }

            BudgetLimitChecks.ValidateLimits(p.Budgets, $"{key}:Budgets", failures);
            anyScopeBudget |= p.Budgets.Count > 0;
            Positive(p.MaxOutputTokensPerRequest, $"{key}:MaxOutputTokensPerRequest", failures);
            Positive(p.RequestsPerMinute, $"{key}:RequestsPerMinute", failures);
            Positive(p.TokensPerMinute, $"{key}:TokensPerMinute", failures);
            if (p.DowngradeRoute is { } downgrade && routes is not null && !routes.Contains(downgrade))
            {
                failures.Add($"{key}:DowngradeRoute '{downgrade}' is not a route: use one of {string.Join(", ", routes)}.");
            }
        }

        BudgetLimitChecks.ValidatePrices(deployments, anyScopeBudget, failures);
    }

    private LlmRouterOptions? ReadRouterOptions()
    {
        try
        {
            return _router?.Value;
        }
        catch (OptionsValidationException)
        {
            // The router's own validator reports its problems; the cross-checks wait until they are fixed.
            return null;
        }
    }

    private static void Positive(int? value, string key, List<string> failures)
    {
        if (value is <= 0)
        {
            failures.Add($"{key} is {value}: it must be positive, or absent for no limit.");
        }
    }
}
