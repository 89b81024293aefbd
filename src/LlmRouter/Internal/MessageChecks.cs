using Microsoft.Extensions.AI;

namespace LlmRouter.Internal;

/// <summary>Checks every layer makes of a request's messages before it reads them.</summary>
internal static class MessageChecks
{
    /// <summary>Rejects a <see langword="null"/> message, naming its index, before anything reads the messages.</summary>
    public static void ThrowIfAnyNull(IEnumerable<ChatMessage> messages)
    {
        int index = -1;
        if (messages is IList<ChatMessage> list)
        {
            for (int i = 0; i < list.Count; i++)
            {
                if (list[i] is null)
                {
                    index = i;
                    break;
                }
            }
        }
        else
        {
            int i = 0;
            foreach (ChatMessage message in messages)
            {
                if (message is null)
                {
                    index = i;
                    break;
                }

                i++;
            }
        }

        if (index >= 0)
        {
            throw new ArgumentException($"messages[{index}] is null: every message of a request must be a ChatMessage.", nameof(messages));
        }
    }
}
