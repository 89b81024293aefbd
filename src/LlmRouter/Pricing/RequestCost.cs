namespace LlmRouter;

/// <summary>What one request cost, attached to its response by the budget layer (<c>response.GetCost()</c>).</summary>
/// <param name="Usd">The cost in US dollars.</param>
/// <param name="Estimated">Whether it was estimated because the provider reported no usage.</param>
/// <param name="InputTokens">Input tokens billed.</param>
/// <param name="OutputTokens">Output tokens billed.</param>
public sealed record RequestCost(decimal Usd, bool Estimated, long InputTokens, long OutputTokens);
