using LlmRouter.Internal;
using Microsoft.Extensions.AI;

namespace LlmRouter;

/// <summary>Reads the <see cref="RequestCost"/> the budget layer attaches to responses.</summary>
public static class RequestCostExtensions
{
    /// <summary>The <see cref="AdditionalPropertiesDictionary"/> key of the <see cref="RequestCost"/> on responses.</summary>
    internal const string CostKey = "llmrouter.cost";

    /// <summary>Gets what a response cost, as the budget layer settled it (for streams: on the response combined from the updates, once the stream has ended).</summary>
    /// <param name="response">A response returned through the budget layer.</param>
    /// <returns>The cost, or <see langword="null"/> when the response did not come through the budget layer.</returns>
    public static RequestCost? GetCost(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return ResponseAnnotations.Find<RequestCost>(response, CostKey);
    }
}
