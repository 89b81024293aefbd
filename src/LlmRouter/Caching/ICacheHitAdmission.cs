using Microsoft.Extensions.AI;

namespace LlmRouter.Caching;

/// <summary>
/// What the response cache asks of a layer under it: the constraints a request's entry is keyed on, and before serving a hit: the budget layer implements it so a request
/// its policies deny is never served, not even from the cache, and a hit is audited with what it saved. Found with
/// <see cref="IChatClient.GetService"/>; the cache knows no budget type.
/// </summary>
internal interface ICacheHitAdmission
{
    /// <summary>
    /// The constraints that limit which deployments may serve the request: its own and those the layer adds (the budget
    /// layer's scope policies); the cache keys entries on them.
    /// </summary>
    RouteConstraints? Constraints(ChatOptions? options);

    /// <summary>Admits a request answered from a cache entry (policy checks and rate limits; throws when denied) and audits it.</summary>
    void Admit(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming, decimal costSavedUsd);

    /// <summary>The checks of <see cref="Admit"/> alone, for a caller joining a stream another caller started; returns the admission time.</summary>
    DateTimeOffset Check(IEnumerable<ChatMessage> messages, ChatOptions? options, bool streaming);

    /// <summary>Audits a request the cache answered, once what it saved is known.</summary>
    void Audit(ChatOptions? options, bool streaming, decimal costSavedUsd, DateTimeOffset admittedAt);
}
