using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmRouter.Caching.Internal;

/// <summary>Deep copies of cached answers: known content kinds field by field, any other kind through JSON.</summary>
internal static class ResponseCloner
{
    public static ChatResponse Clone(ChatResponse source, JsonSerializerOptions options)
    {
        var messages = new List<ChatMessage>(source.Messages.Count);
        foreach (ChatMessage m in source.Messages)
        {
            var contents = new List<AIContent>(m.Contents.Count);
            foreach (AIContent content in m.Contents)
            {
                contents.Add(content switch
                {
                    TextContent text when text.Annotations is null => new TextContent(text.Text) { AdditionalProperties = Copy(text.AdditionalProperties) },
                    _ => (AIContent)JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(content, options.GetTypeInfo(typeof(AIContent))), options.GetTypeInfo(typeof(AIContent)))!,
                });
            }

            messages.Add(new ChatMessage(m.Role, contents)
            {
                AuthorName = m.AuthorName,
                MessageId = m.MessageId,
                CreatedAt = m.CreatedAt,
                AdditionalProperties = Copy(m.AdditionalProperties),
            });
        }

        return new ChatResponse(messages)
        {
            ResponseId = source.ResponseId,
            ConversationId = source.ConversationId,
            ModelId = source.ModelId,
            CreatedAt = source.CreatedAt,
            FinishReason = source.FinishReason,
            Usage = source.Usage is { } u ? new UsageDetails
            {
                InputTokenCount = u.InputTokenCount,
                OutputTokenCount = u.OutputTokenCount,
                TotalTokenCount = u.TotalTokenCount,
                CachedInputTokenCount = u.CachedInputTokenCount,
                ReasoningTokenCount = u.ReasoningTokenCount,
                AdditionalCounts = u.AdditionalCounts is { } counts ? new AdditionalPropertiesDictionary<long>(counts) : null,
            }
            : null,
            AdditionalProperties = Copy(source.AdditionalProperties),
        };
    }

    private static AdditionalPropertiesDictionary? Copy(AdditionalPropertiesDictionary? source) => source is null ? null : new(source);
}
