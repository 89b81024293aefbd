using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Extensions.AI;

namespace LlmRouter.Routing.Internal;

/// <summary>The hash of a prompt's first characters (instructions, then each message's role and text, in order), for prefix affinity.</summary>
internal static class PrefixHash
{
    /// <summary>The hash of the first <paramref name="length"/> characters, or 0 when the prompt is shorter.</summary>
    public static ulong Of(IEnumerable<ChatMessage> messages, ChatOptions? options, int length)
    {
        var hash = new XxHash3();
        int left = length;
        left = Append(hash, options?.Instructions, left);
        foreach (ChatMessage message in messages)
        {
            if (left <= 0)
            {
                break;
            }

            left = Append(hash, message.Role.Value, left);
            foreach (AIContent content in message.Contents)
            {
                if (content is TextContent text)
                {
                    left = Append(hash, text.Text, left);
                }
            }
        }

        if (left > 0)
        {
            return 0;
        }

        ulong value = hash.GetCurrentHashAsUInt64();
        return value == 0 ? 1 : value;
    }

    private static int Append(XxHash3 hash, string? text, int left)
    {
        if (left <= 0 || string.IsNullOrEmpty(text))
        {
            return left;
        }

        ReadOnlySpan<char> taken = text.AsSpan(0, Math.Min(text.Length, left));
        hash.Append(MemoryMarshal.AsBytes(taken));
        return left - taken.Length;
    }
}
