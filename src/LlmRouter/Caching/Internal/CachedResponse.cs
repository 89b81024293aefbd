using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.AI;

namespace LlmRouter.Caching.Internal;

/// <summary>
/// A cached answer: the response as JSON (so every hit deserialises fresh objects the caller may change) and when it
/// was produced. Immutable, so HybridCache's local tier hands out the same instance without copying.
/// </summary>
[ImmutableObject(true)]
internal sealed class CachedResponse
{
    public CachedResponse(byte[] json, DateTimeOffset createdAt, decimal costUsd)
    {
        Json = json;
        CreatedAt = createdAt;
        CostUsd = costUsd;
    }

    /// <summary>What the answer cost when it was produced (0 when unknown): what each hit saves.</summary>
    public decimal CostUsd { get; }

    public byte[] Json { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>The answer, deserialised once per cached instance (local hits share the instance) and cloned per hit.</summary>
    [JsonIgnore]
    private ChatResponse? _template;

    /// <summary>A fresh copy of the answer the caller may change: a clone of the template, no JSON parsing after the first hit.</summary>
    public ChatResponse CreateResponse(JsonSerializerOptions options)
    {
        ChatResponse template = _template ??= (ChatResponse)JsonSerializer.Deserialize(Json, options.GetTypeInfo(typeof(ChatResponse)))!;
        return ResponseCloner.Clone(template, options);
    }
}
