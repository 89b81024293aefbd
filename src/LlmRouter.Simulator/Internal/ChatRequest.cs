using System.Text;
using System.Text.Json;

namespace LlmRouter.Simulator.Internal;

/// <summary>The parts of an OpenAI or Anthropic chat request the simulator acts on.</summary>
internal sealed class ChatRequest
{
    public string? Model { get; private init; }

    public bool Stream { get; private init; }

    public bool IncludeUsage { get; private init; }

    public int MessageCount { get; private init; }

    public string? LastUserText { get; private init; }

    public int PromptCharacters { get; private init; }

    /// <summary>The first offered tool's name, when the request offers tools.</summary>
    public string? FirstTool { get; private init; }

    /// <summary>The content of the tool result the last message carries, when it is one.</summary>
    public string? ToolResult { get; private init; }

    public static ChatRequest Parse(JsonElement root, ProviderApi api)
    {
        string? lastUser = null;
        string? toolResult = null;
        int chars = 0;
        int count = 0;
        if (root.TryGetProperty("system", out JsonElement system))
        {
            chars += Text(system).Length;
        }

        if (root.TryGetProperty("messages", out JsonElement messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement message in messages.EnumerateArray())
            {
                count++;
                string role = message.TryGetProperty("role", out JsonElement r) ? r.GetString() ?? string.Empty : string.Empty;
                JsonElement content = message.TryGetProperty("content", out JsonElement c) ? c : default;
                string text = Text(content);
                chars += text.Length;
                toolResult = null;
                if (role == "tool")
                {
                    toolResult = text;
                }
                else if (role == "user" && api == ProviderApi.Anthropic && ToolResultBlock(content) is { } block)
                {
                    toolResult = block;
                }
                else if (role == "user")
                {
                    lastUser = text;
                }
            }
        }

        string? firstTool = null;
        if (root.TryGetProperty("tools", out JsonElement tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0)
        {
            JsonElement tool = tools[0];
            firstTool = api == ProviderApi.OpenAI
                ? (tool.TryGetProperty("function", out JsonElement f) && f.TryGetProperty("name", out JsonElement n) ? n.GetString() : null)
                : (tool.TryGetProperty("name", out JsonElement an) ? an.GetString() : null);
        }

        return new ChatRequest
        {
            Model = root.TryGetProperty("model", out JsonElement model) ? model.GetString() : null,
            Stream = root.TryGetProperty("stream", out JsonElement stream) && stream.ValueKind == JsonValueKind.True,
            IncludeUsage = root.TryGetProperty("stream_options", out JsonElement so) && so.TryGetProperty("include_usage", out JsonElement iu) && iu.ValueKind == JsonValueKind.True,
            MessageCount = count,
            LastUserText = lastUser,
            PromptCharacters = chars,
            FirstTool = firstTool,
            ToolResult = toolResult,
        };
    }

    /// <summary>The text of a message's content (a string or an array of blocks), as prompt tokens are estimated from it.</summary>
    internal static string Text(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString() ?? string.Empty;
            case JsonValueKind.Array:
                var sb = new StringBuilder();
                foreach (JsonElement part in content.EnumerateArray())
                {
                    sb.Append(BlockText(part));
                }

                return sb.ToString();
            default:
                return string.Empty;
        }
    }

    /// <summary>The text of one content block: its <c>text</c>, or the text of its nested <c>content</c> (tool results).</summary>
    internal static string BlockText(JsonElement part)
    {
        if (part.ValueKind != JsonValueKind.Object)
        {
            return string.Empty;
        }

        if (part.TryGetProperty("text", out JsonElement t) && t.ValueKind == JsonValueKind.String)
        {
            return t.GetString() ?? string.Empty;
        }

        return part.TryGetProperty("content", out JsonElement inner) ? Text(inner) : string.Empty;
    }

    private static string? ToolResultBlock(JsonElement content)
    {
        if (content.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        foreach (JsonElement part in content.EnumerateArray())
        {
            if (part.TryGetProperty("type", out JsonElement type) && type.GetString() == "tool_result")
            {
                return part.TryGetProperty("content", out JsonElement c) ? Text(c) : string.Empty;
            }
        }

        return null;
    }
}
