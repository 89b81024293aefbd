using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LlmRouter.Caching.Internal;

/// <summary>
/// The response-cache key: XxHash128 over a canonical, tagged, length-prefixed encoding of everything that changes the
/// answer (format version, tenant partition, namespace, route, the routing constraints, every message and content, and the
/// output-shaping options), rendered as a fixed 38-character string ("llmr2:" + 32 hex digits), well under HybridCache's
/// 1,024-character limit.
/// </summary>
/// <remarks>
/// XxHash128 because it hashes at memory speed (a 16 KB conversation in about a microsecond) and 128 bits make an
/// accidental collision negligible; a cryptographic hash would cost ~10x for no gain here, since the tenant partition
/// is inside the hash and a caller can only ever collide within its own partition. Strings are hashed as their UTF-16
/// code units (no transcoding); a tool's schema is encoded once per tool instance and cached.
/// </remarks>
internal static class ResponseCacheKey
{
    public const string Prefix = "llmr2:";
    private const byte FormatVersion = 2;
    private static readonly ConditionalWeakTable<AITool, byte[]> ToolEncodings = new();
    private static readonly ChatOptions NoOptions = new();

    /// <summary>
    /// Computes the key. Partition, namespace and route are separate length-prefixed fields, <see langword="null"/> distinct
    /// from empty; <paramref name="constraints"/> are the request's routing constraints with any a lower layer adds.
    /// </summary>
    public static string Compute(IEnumerable<ChatMessage> messages, ChatOptions? options, string? route, string? partition, string? @namespace, RouteConstraints? constraints)
    {
        var w = new Writer();
        try
        {
            w.Byte(FormatVersion);
            w.String(partition);
            w.String(@namespace);
            w.String(route);
            WriteConstraints(ref w, constraints);
            foreach (ChatMessage message in messages)
            {
                WriteMessage(ref w, message);
            }

            w.Byte(0xFF); // messages end
            WriteOptions(ref w, options);
            return w.Finish();
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>
    /// What limits the deployments that may serve the request: an answer one deployment gave must never reach a request
    /// that excludes it (a region, zero data retention, tags, routes). Sets are written case-folded, sorted and without
    /// duplicates, and an empty set as none, so equal constraints share entries; <see cref="RouteConstraints.MaxAttempts"/>
    /// is left out (it limits attempts, not who serves).
    /// </summary>
    private static void WriteConstraints(ref Writer w, RouteConstraints? c)
    {
        // No constraints and constraints that restrict nothing encode alike.
        w.Byte((byte)'C');
        w.Set(c?.Regions);
        w.Set(c?.RequiredTags);
        w.Bool(c?.RequireZeroDataRetention ?? false);
        w.Bool(c?.DisableFallbacks ?? false);
        w.Set(c?.AllowedRoutes);
        w.Set(c?.DeniedRoutes);
    }

    private static void WriteMessage(ref Writer w, ChatMessage message)
    {
        w.Byte((byte)'M');
        w.String(message.Role.Value);
        w.String(message.AuthorName);
        IList<AIContent> contents = message.Contents;
        w.Int(contents.Count);
        for (int i = 0; i < contents.Count; i++)
        {
            switch (contents[i])
            {
                case TextContent text:
                    w.Byte(1);
                    w.String(text.Text);
                    break;
                case TextReasoningContent reasoning:
                    w.Byte(2);
                    w.String(reasoning.Text);
                    break;
                case DataContent data:
                    w.Byte(3);
                    w.String(data.MediaType);
                    w.Bytes(data.Data.Span);
                    break;
                case UriContent uri:
                    w.Byte(4);
                    w.String(uri.Uri.OriginalString);
                    w.String(uri.MediaType);
                    break;
                case FunctionCallContent call:
                    w.Byte(5);
                    w.String(call.CallId);
                    w.String(call.Name);
                    w.Json(call.Arguments);
                    break;
                case FunctionResultContent result:
                    w.Byte(6);
                    w.String(result.CallId);
                    w.Json(result.Result);
                    break;
                case AIContent other:
                    // Any other content kind: its type and its JSON form, so new kinds change the key rather than vanish.
                    w.Byte(99);
                    w.String(other.GetType().FullName);
                    w.Json(other);
                    break;
            }
        }
    }

    private static void WriteOptions(ref Writer w, ChatOptions? o)
    {
        // No options and empty options ask for the same thing.
        o ??= NoOptions;
        w.Byte((byte)'O');
        w.String(o.Instructions);
        w.Double(o.Temperature);
        w.Double(o.TopP);
        w.Int(o.TopK);
        w.Int(o.MaxOutputTokens);
        w.Double(o.FrequencyPenalty);
        w.Double(o.PresencePenalty);
        w.Long(o.Seed);
        w.Bool(o.AllowMultipleToolCalls);
        w.String(o.Reasoning?.Effort?.ToString());
        w.String(o.Reasoning?.Output?.ToString());

        IList<string>? stops = o.StopSequences;
        w.Int(stops?.Count ?? -1);
        for (int i = 0; stops is not null && i < stops.Count; i++)
        {
            w.String(stops[i]);
        }

        switch (o.ResponseFormat)
        {
            case null:
                w.Byte(0);
                break;
            case ChatResponseFormatText:
                w.Byte(1);
                break;
            case ChatResponseFormatJson json:
                w.Byte(2);
                w.String(json.SchemaName);
                w.String(json.SchemaDescription);
                w.Json(json.Schema);
                break;
            default:
                w.Byte(3);
                w.Json(o.ResponseFormat);
                break;
        }

        switch (o.ToolMode)
        {
            case null:
                w.Byte(0);
                break;
            case RequiredChatToolMode required:
                w.Byte(3);
                w.String(required.RequiredFunctionName);
                break;
            case NoneChatToolMode:
                w.Byte(2);
                break;
            default:
                w.Byte(1);
                break;
        }

        IList<AITool>? tools = o.Tools;
        w.Int(tools?.Count ?? -1);
        for (int i = 0; tools is not null && i < tools.Count; i++)
        {
            w.Bytes(ToolEncodings.GetValue(tools[i], EncodeTool));
        }

        // Provider-specific settings shape output too; LlmRouter's own entries do not. Sorted for a canonical order.
        if (o.AdditionalProperties is { Count: > 0 } props)
        {
            string[] keys = [.. props.Keys];
            Array.Sort(keys, StringComparer.Ordinal);
            foreach (string key in keys)
            {
                if (!key.StartsWith("llmrouter.", StringComparison.Ordinal))
                {
                    w.String(key);
                    w.Json(props[key]);
                }
            }
        }

        w.Byte(0xFE);
    }

    private static byte[] EncodeTool(AITool tool)
    {
        var w = new Writer(hashing: false);
        try
        {
            w.String(tool.GetType().FullName);
            w.String(tool.Name);
            w.String(tool.Description);
            if (tool is AIFunctionDeclaration function)
            {
                w.Json(function.JsonSchema);
            }

            return w.Buffered.ToArray();
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>Appends tagged, length-prefixed fields to an XxHash128 through a pooled buffer.</summary>
    private struct Writer
    {
        private readonly XxHash128? _hash;
        private byte[] _buffer;
        private int _used;

        public Writer()
            : this(hashing: true)
        {
        }

        public Writer(bool hashing)
        {
            _hash = hashing ? new XxHash128() : null;
            _buffer = ArrayPool<byte>.Shared.Rent(hashing ? 4096 : 1024);
        }

        public readonly ReadOnlySpan<byte> Buffered => _buffer.AsSpan(0, _used);

        public void Byte(byte value) => Reserve(1)[0] = value;

        public void Bool(bool? value) => Byte(value is null ? (byte)2 : value.Value ? (byte)1 : (byte)0);

        public void Int(int? value) => Long(value);

        public void Long(long? value)
        {
            Span<byte> span = Reserve(9);
            span[0] = value is null ? (byte)0 : (byte)1;
            BinaryPrimitives.WriteInt64LittleEndian(span[1..], value ?? 0);
        }

        public void Double(double? value) => Long(value is double d ? BitConverter.DoubleToInt64Bits(d) : null);

        public void Double(float? value) => Double(value is float f ? (double)f : null);

        public void String(string? value)
        {
            if (value is null)
            {
                Long(null);
                return;
            }

            Long(value.Length);
            Bytes(MemoryMarshal.AsBytes(value.AsSpan()), lengthPrefix: false);
        }

        /// <summary>A case-insensitive set (the router compares these names with <see cref="StringComparison.OrdinalIgnoreCase"/>).</summary>
        public void Set(IReadOnlyList<string>? items)
        {
            if (items is not { Count: > 0 })
            {
                Int(0);
                return;
            }

            // Upper-casing is what OrdinalIgnoreCase compares by, so names the router treats as equal encode alike.
            string?[] folded = new string?[items.Count];
            for (int i = 0; i < folded.Length; i++)
            {
                folded[i] = items[i]?.ToUpperInvariant();
            }

            Array.Sort(folded, StringComparer.Ordinal);
            int distinct = 0;
            for (int i = 0; i < folded.Length; i++)
            {
                if (i == 0 || !string.Equals(folded[i], folded[i - 1], StringComparison.Ordinal))
                {
                    folded[distinct++] = folded[i];
                }
            }

            Int(distinct);
            for (int i = 0; i < distinct; i++)
            {
                String(folded[i]);
            }
        }

        public void Bytes(ReadOnlySpan<byte> bytes, bool lengthPrefix = true)
        {
            if (lengthPrefix)
            {
                Long(bytes.Length);
            }

            while (bytes.Length > 0)
            {
                if (_used == _buffer.Length)
                {
                    Flush();
                }

                int n = Math.Min(bytes.Length, _buffer.Length - _used);
                bytes[..n].CopyTo(_buffer.AsSpan(_used));
                _used += n;
                bytes = bytes[n..];
            }
        }

        public void Json(object? value)
        {
            if (value is null)
            {
                Long(null);
                return;
            }

            Bytes(JsonSerializer.SerializeToUtf8Bytes(value, AIJsonUtilities.DefaultOptions.GetTypeInfo(value.GetType())));
        }

        public void Json(JsonElement? value)
        {
            if (value is not JsonElement element || element.ValueKind == JsonValueKind.Undefined)
            {
                Long(null);
                return;
            }

            Bytes(JsonSerializer.SerializeToUtf8Bytes(element, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonElement))));
        }

        public string Finish()
        {
            Flush();
            UInt128 digest = _hash!.GetCurrentHashAsUInt128();
            return string.Create(Prefix.Length + 32, digest, static (chars, value) =>
            {
                Prefix.AsSpan().CopyTo(chars);
                value.TryFormat(chars[Prefix.Length..], out _, "x32", System.Globalization.CultureInfo.InvariantCulture);
            });
        }

        public void Dispose()
        {
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null!;
            }
        }

        private Span<byte> Reserve(int size)
        {
            if (_buffer.Length - _used < size)
            {
                if (_hash is not null)
                {
                    Flush();
                }
                else
                {
                    byte[] bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                    _buffer.AsSpan(0, _used).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = bigger;
                }
            }

            Span<byte> span = _buffer.AsSpan(_used, size);
            _used += size;
            return span;
        }

        private void Flush()
        {
            if (_hash is null)
            {
                // Encoding a tool into a growable buffer, not a hash: grow instead of flushing.
                byte[] bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                _buffer.AsSpan(0, _used).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
                return;
            }

            _hash.Append(_buffer.AsSpan(0, _used));
            _used = 0;
        }
    }
}
