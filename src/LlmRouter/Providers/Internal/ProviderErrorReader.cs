using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;

namespace LlmRouter.Providers.Internal;

/// <summary>Status code and Retry-After found in a provider exception.</summary>
internal readonly record struct ProviderError(int? StatusCode, TimeSpan? RetryAfter);

/// <summary>
/// Reads status codes and Retry-After hints from provider exceptions without referencing vendor SDKs:
/// <see cref="HttpRequestException"/> directly, others (System.ClientModel's ClientResultException, the Anthropic SDK's
/// API exceptions) through their public <c>Status</c>/<c>StatusCode</c> properties and raw-response headers, found by
/// reflection once per exception type and cached.
/// </summary>
internal static class ProviderErrorReader
{
    private static readonly ConcurrentDictionary<Type, Accessor> Accessors = new();

    public static ProviderError Read(Exception exception, TimeProvider time)
    {
        int? status = null;
        TimeSpan? retryAfter = null;
        int depth = 0;
        for (Exception? e = exception; e is not null && depth < 8; e = e.InnerException, depth++)
        {
            if (e is HttpRequestException http)
            {
                status ??= http.StatusCode is HttpStatusCode code ? (int)code : null;
            }
            else if (e is not (OperationCanceledException or TimeoutException or IOException))
            {
                Accessor accessor = Accessors.GetOrAdd(e.GetType(), Accessor.CreateSafely);
                status ??= accessor.ReadStatus(e);
                retryAfter ??= accessor.ReadRetryAfter(e, time);
            }

            if (status is not null && retryAfter is not null)
            {
                break;
            }
        }

        return new(status, retryAfter);
    }

    /// <summary>Parses Retry-After (delta seconds or HTTP date) or retry-after-ms.</summary>
    public static TimeSpan? ParseRetryAfter(string? value, bool milliseconds, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && number >= 0 && !double.IsInfinity(number))
        {
            return milliseconds ? TimeSpan.FromMilliseconds(number) : TimeSpan.FromSeconds(number);
        }

        if (!milliseconds && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            TimeSpan delta = date - now;
            return delta > TimeSpan.Zero ? delta : TimeSpan.Zero;
        }

        return null;
    }

    private sealed class Accessor
    {
        private static readonly Accessor None = new(null, null, null);

        private readonly PropertyInfo? _status;
        private readonly MethodInfo? _rawResponse;
        private readonly PropertyInfo? _headers;

        private Accessor(PropertyInfo? status, MethodInfo? rawResponse, PropertyInfo? headers)
        {
            _status = status;
            _rawResponse = rawResponse;
            _headers = headers;
        }

        /// <summary>As <see cref="Create"/>, but a type whose members cannot be read (say, an ambiguous hidden property) gets no accessor.</summary>
        [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Classification must never throw because of a foreign exception type's shape.")]
        public static Accessor CreateSafely(Type type)
        {
            try
            {
                return Create(type);
            }
            catch (Exception)
            {
                return None;
            }
        }

        [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Public members of provider exception types; when trimmed away the status is simply unknown and the failure counts as transient.")]
        [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above.")]
        public static Accessor Create(Type type)
        {
            PropertyInfo? status = null;
            foreach (string name in (ReadOnlySpan<string>)["Status", "StatusCode", "HttpStatusCode"])
            {
                PropertyInfo? p = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance);
                if (p is not null && p.GetIndexParameters().Length == 0 && IsStatusType(p.PropertyType))
                {
                    status = p;
                    break;
                }
            }

            MethodInfo? raw = type.GetMethod("GetRawResponse", BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes);
            PropertyInfo? headers = type.GetProperty("Headers", BindingFlags.Public | BindingFlags.Instance)
                ?? type.GetProperty("ResponseHeaders", BindingFlags.Public | BindingFlags.Instance)
                ?? type.GetProperty("Response", BindingFlags.Public | BindingFlags.Instance);
            if (headers is not null && headers.GetIndexParameters().Length != 0)
            {
                headers = null;
            }

            return status is null && raw is null && headers is null ? None : new Accessor(status, raw, headers);
        }

        public int? ReadStatus(Exception e)
        {
            if (_status is null)
            {
                return null;
            }

            object? value = SafeGet(() => _status.GetValue(e));
            return value switch
            {
                int i when i >= 100 && i <= 999 => i,
                HttpStatusCode c => (int)c,
                Enum en => Convert.ToInt32(en, CultureInfo.InvariantCulture),
                _ => null,
            };
        }

        [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Public members of provider response types; when trimmed away the hint is simply absent.")]
        public TimeSpan? ReadRetryAfter(Exception e, TimeProvider time)
        {
            object? source = _rawResponse is not null ? SafeGet(() => _rawResponse.Invoke(e, null)) : null;
            if (source is not null)
            {
                // System.ClientModel.Primitives.PipelineResponse: Headers.TryGetValue(string, out string?).
                object? headers = SafeGet(() => source.GetType().GetProperty("Headers")?.GetValue(source));
                if (headers is not null)
                {
                    return FromHeaderObject(headers, time);
                }
            }

            object? h = _headers is not null ? SafeGet(() => _headers.GetValue(e)) : null;
            return h switch
            {
                null => null,
                HttpResponseMessage response => FromHeaderObject(response.Headers, time),
                _ => FromHeaderObject(h, time),
            };
        }

        [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Public members of provider header types; when trimmed away the hint is simply absent.")]
        private static TimeSpan? FromHeaderObject(object headers, TimeProvider time)
        {
            DateTimeOffset now = time.GetUtcNow();
            if (headers is HttpHeaders http)
            {
                if (http.TryGetValues("retry-after-ms", out IEnumerable<string>? ms))
                {
                    return ParseRetryAfter(ms.FirstOrDefault(), milliseconds: true, now);
                }

                return http.TryGetValues("Retry-After", out IEnumerable<string>? values) ? ParseRetryAfter(values.FirstOrDefault(), milliseconds: false, now) : null;
            }

            MethodInfo? tryGet = headers.GetType().GetMethod("TryGetValue", [typeof(string), typeof(string).MakeByRefType()]);
            if (tryGet is not null)
            {
                object?[] args = ["retry-after-ms", null];
                if (SafeGet(() => tryGet.Invoke(headers, args)) is true)
                {
                    return ParseRetryAfter(args[1] as string, milliseconds: true, now);
                }

                args = ["retry-after", null];
                return SafeGet(() => tryGet.Invoke(headers, args)) is true ? ParseRetryAfter(args[1] as string, milliseconds: false, now) : null;
            }

            if (headers is IEnumerable sequence)
            {
                foreach (object? item in sequence)
                {
                    if (item is KeyValuePair<string, IEnumerable<string>> kv && string.Equals(kv.Key, "retry-after", StringComparison.OrdinalIgnoreCase))
                    {
                        return ParseRetryAfter(kv.Value.FirstOrDefault(), milliseconds: false, now);
                    }

                    if (item is KeyValuePair<string, string> kvs && string.Equals(kvs.Key, "retry-after", StringComparison.OrdinalIgnoreCase))
                    {
                        return ParseRetryAfter(kvs.Value, milliseconds: false, now);
                    }
                }
            }

            return null;
        }

        private static bool IsStatusType(Type t) => t == typeof(int) || t == typeof(int?) || t == typeof(HttpStatusCode) || t == typeof(HttpStatusCode?);

        [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Reading diagnostics from a foreign exception must never throw.")]
        private static object? SafeGet(Func<object?> read)
        {
            try
            {
                return read();
            }
            catch (Exception)
            {
                return null;
            }
        }
    }
}
