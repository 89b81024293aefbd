using Microsoft.Extensions.AI;

namespace LlmRouter.Internal;

/// <summary>
/// Finds what LlmRouter's layers attach to responses (the routing report, the cost) under their
/// <see cref="AdditionalPropertiesDictionary"/> keys, on the response or, after <c>ToChatResponse()</c> moved a streamed
/// update's properties onto its message, on one of its messages.
/// </summary>
internal static class ResponseAnnotations
{
    public static T? Find<T>(AdditionalPropertiesDictionary? props, string key)
        where T : class =>
        props is not null && props.TryGetValue(key, out object? value) ? value as T : null;

    public static T? Find<T>(ChatResponse response, string key)
        where T : class
    {
        if (Find<T>(response.AdditionalProperties, key) is { } found)
        {
            return found;
        }

        IList<ChatMessage> messages = response.Messages;
        for (int i = 0; i < messages.Count; i++)
        {
            if (Find<T>(messages[i].AdditionalProperties, key) is { } fromMessage)
            {
                return fromMessage;
            }
        }

        return null;
    }
}
