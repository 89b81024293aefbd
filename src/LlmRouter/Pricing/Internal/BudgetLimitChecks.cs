namespace LlmRouter.Pricing.Internal;

/// <summary>Checks of spending limits and of the prices they need, shared by the router's and the budget layer's validation.</summary>
internal static class BudgetLimitChecks
{
    /// <summary>Reports each deployment without a price that has budgets of its own, or any when a scope has budgets.</summary>
    public static void ValidatePrices(IEnumerable<(string Name, ModelPrice? Price, int Budgets)> deployments, bool anyScopeBudget, List<string> failures)
    {
        foreach ((string name, ModelPrice? price, int budgets) in deployments)
        {
            if (price is null && (anyScopeBudget || budgets > 0))
            {
                failures.Add($"{RouterDefaults.ConfigurationSection}:Deployments ('{name}'):Price is missing: budgets need its prices and its model id is not in the price catalogue; set Price:InputPerMillion and Price:OutputPerMillion (USD per million tokens).");
            }
        }
    }

    public static void ValidateLimits(IList<BudgetLimit> limits, string at, List<string> failures)
    {
        for (int i = 0; i < limits.Count; i++)
        {
            BudgetLimit? l = limits[i];
            if (l is null)
            {
                failures.Add($"{at}:{i} is null.");
                continue;
            }

            if (l.LimitUsd <= 0)
            {
                failures.Add($"{at}:{i}:LimitUsd is {l.LimitUsd}: a budget must be a positive amount of US dollars.");
            }

            if (!Enum.IsDefined(l.Window))
            {
                failures.Add($"{at}:{i}:Window '{l.Window}' is not valid: use Minute, Hour, Day, Week, Month or Total.");
            }
        }
    }
}
