using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmRouter.Simulator.Internal;

/// <summary>
/// Anthropic-style prompt caching for a simulated provider: the prefixes (tools, system blocks, message blocks, in order)
/// that end at a <c>cache_control</c> breakpoint are remembered; a request reads the longest remembered prefix that ends
/// at one of its blocks up to its last breakpoint, and writes the rest up to that breakpoint.
/// </summary>
internal sealed class PromptCache
{
    private readonly Lock _gate = new();
    private readonly HashSet<string> _prefixes = new(StringComparer.Ordinal);

    public void Clear()
    {
        lock (_gate)
        {
            _prefixes.Clear();
        }
    }

    /// <summary>Reads and writes the request's prefixes; returns the tokens read from and written to the cache (four characters a token, as the prompt).</summary>
    public (int Read, int Written) Apply(JsonElement root, int promptTokens)
    {
        var boundaries = new List<(string Hash, int Characters, bool Breakpoint)>();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int characters = 0;

        void Add(string scope, JsonElement block, int blockCharacters)
        {
            bool breakpoint = block.ValueKind == JsonValueKind.Object && block.TryGetProperty("cache_control", out JsonElement control) && control.ValueKind == JsonValueKind.Object;
            JsonNode? node = JsonNode.Parse(block.GetRawText());
            if (node is JsonObject obj)
            {
                obj.Remove("cache_control");
            }

            hash.AppendData(Encoding.UTF8.GetBytes(scope + ":" + (node?.ToJsonString() ?? "null") + "\n"));
            characters += blockCharacters;
            boundaries.Add((Convert.ToHexString(hash.GetCurrentHash()), characters, breakpoint));
        }

        if (root.TryGetProperty("tools", out JsonElement tools) && tools.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement tool in tools.EnumerateArray())
            {
                Add("tool", tool, 0);
            }
        }

        if (root.TryGetProperty("system", out JsonElement system))
        {
            AddContent("system", system);
        }

        if (root.TryGetProperty("messages", out JsonElement messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement message in messages.EnumerateArray())
            {
                string role = message.TryGetProperty("role", out JsonElement r) ? r.GetString() ?? string.Empty : string.Empty;
                if (message.TryGetProperty("content", out JsonElement content))
                {
                    AddContent(role, content);
                }
            }
        }

        int last = boundaries.FindLastIndex(b => b.Breakpoint);
        if (last < 0)
        {
            return (0, 0);
        }

        int readCharacters = 0;
        lock (_gate)
        {
            for (int i = last; i >= 0; i--)
            {
                if (_prefixes.Contains(boundaries[i].Hash))
                {
                    readCharacters = boundaries[i].Characters;
                    break;
                }
            }

            foreach ((string prefix, int _, bool breakpoint) in boundaries)
            {
                if (breakpoint)
                {
                    _prefixes.Add(prefix);
                }
            }
        }

        int read = Math.Min(readCharacters / 4, promptTokens);
        int written = Math.Clamp((boundaries[last].Characters / 4) - read, 0, promptTokens - read);
        return (read, written);

        void AddContent(string scope, JsonElement content)
        {
            if (content.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement block in content.EnumerateArray())
                {
                    Add(scope, block, ChatRequest.BlockText(block).Length);
                }
            }
            else
            {
                Add(scope, content, ChatRequest.Text(content).Length);
            }
        }
    }
}
