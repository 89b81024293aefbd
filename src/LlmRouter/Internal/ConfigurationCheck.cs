using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace LlmRouter.Internal;

/// <summary>
/// Reads a configuration section against the options type it binds to, as the configuration binder does, and reports
/// what the binder would drop or ignore without a word: keys no setting has, values that do not convert (the binder drops
/// the whole list item that holds one), lists and sections written as single values and the reverse, and settings only
/// code can set. Each report names the key path and what would be valid there.
/// </summary>
[RequiresUnreferencedCode("Reads the public properties of options types, as the configuration binder does.")]
internal static class ConfigurationCheck
{
    /// <summary>Keys whose value labels a list item in reports: "Deployments:0 ('openai')".</summary>
    private static readonly string[] LabelKeys = ["Name", "Scope"];

    /// <summary>Finds every problem of <paramref name="configuration"/> as the source of a <paramref name="type"/>.</summary>
    /// <param name="configuration">The section to bind.</param>
    /// <param name="type">The options type it binds to.</param>
    /// <param name="boundElsewhere">Children of the section that other options bind (not settings of <paramref name="type"/>).</param>
    /// <returns>One sentence per problem; empty when the binder can read all of it.</returns>
    public static List<string> Find(IConfiguration configuration, Type type, IReadOnlyCollection<string> boundElsewhere)
    {
        var failures = new List<string>();
        string at = (configuration as IConfigurationSection)?.Path ?? string.Empty;
        CheckSettings(configuration, at, type, boundElsewhere, failures);
        return failures;
    }

    private static void CheckSettings(IConfiguration section, string at, Type type, IReadOnlyCollection<string> boundElsewhere, List<string> failures)
    {
        Dictionary<string, PropertyInfo> settings = Settings(type);
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (boundElsewhere.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            string key = Join(at, child.Key);
            if (!settings.TryGetValue(child.Key, out PropertyInfo? setting))
            {
                string suggestion = Closest(child.Key, settings.Keys) is { } near ? $" (did you mean '{near}'?)" : string.Empty;
                failures.Add($"{key} is not a setting{suggestion}: valid settings here are {OptionsChecks.Join(settings.Keys)}.");
                continue;
            }

            Check(child, key, setting.PropertyType, failures);
        }
    }

    private static void Check(IConfigurationSection node, string key, Type declared, List<string> failures)
    {
        Type type = Nullable.GetUnderlyingType(declared) ?? declared;
        bool isSection = node.GetChildren().Any();
        string? value = node.Value;
        if (IsValue(type))
        {
            if (isSection)
            {
                failures.Add($"{key} is a section: it must be a single value, {Valid(type)}.");
            }
            else if (value is not null && !Converts(declared, type, value))
            {
                failures.Add($"{key} is '{value}': it must be {Valid(type)}.");
            }

            return;
        }

        if (Elements(type) is (var keyType, Type element))
        {
            // An empty JSON array or a null reads as an empty value: nothing to bind, nothing wrong.
            if (!isSection && !string.IsNullOrEmpty(value))
            {
                failures.Add($"{key} is '{value}': it must be a list (a JSON array, or the keys {node.Path}:0, {node.Path}:1 and so on).");
            }

            foreach (IConfigurationSection child in node.GetChildren())
            {
                if (keyType is not null && !Converts(keyType, keyType, child.Key))
                {
                    failures.Add($"{Join(key, child.Key)} is not a valid key: it must be {Valid(keyType)}.");
                    continue;
                }

                Check(child, Join(key, child.Key) + (keyType is null ? Label(child) : string.Empty), element, failures);
            }

            return;
        }

        Dictionary<string, PropertyInfo> settings = Settings(type);
        if (settings.Count == 0 || type.IsAbstract || type.IsInterface || typeof(Delegate).IsAssignableFrom(type))
        {
            failures.Add($"{key} cannot be set from configuration: its value, of type {type.Name}, is supplied in code.");
        }
        else if (!isSection && !string.IsNullOrEmpty(value))
        {
            failures.Add($"{key} is '{value}': it must be a section of settings ({OptionsChecks.Join(settings.Keys)}).");
        }
        else
        {
            CheckSettings(node, key, type, [], failures);
        }
    }

    /// <summary>The public properties the binder reads, by name (configuration keys are case-insensitive).</summary>
    private static Dictionary<string, PropertyInfo> Settings(Type type)
    {
        var settings = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        if (type.IsInterface || typeof(Delegate).IsAssignableFrom(type))
        {
            return settings;
        }

        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            {
                settings[p.Name] = p;
            }
        }

        return settings;
    }

    private static bool IsValue(Type type) =>
        type == typeof(string) || type.IsPrimitive || type.IsEnum || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid) || type == typeof(Uri);

    /// <summary>The key and element types of a dictionary, the element type (and no key type) of a list, or null.</summary>
    private static (Type? Key, Type Element)? Elements(Type type)
    {
        if (type == typeof(string))
        {
            return null;
        }

        if (type.IsArray)
        {
            return (null, type.GetElementType()!);
        }

        Type[] candidates = type.IsInterface ? [type, .. type.GetInterfaces()] : type.GetInterfaces();
        foreach (Type i in candidates)
        {
            if (i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)))
            {
                Type[] args = i.GetGenericArguments();
                return (args[0], args[1]);
            }
        }

        foreach (Type i in candidates)
        {
            if (i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return (null, i.GetGenericArguments()[0]);
            }
        }

        return null;
    }

    /// <summary>Whether the binder's conversion (the type's <see cref="TypeConverter"/>, invariant culture) reads the value; enums must name one member.</summary>
    private static bool Converts(Type declared, Type type, string value)
    {
        if (type == typeof(string) || (declared != type && value.Length == 0))
        {
            return true;
        }

        try
        {
            object? converted = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);

            // The binder accepts "7" and "Day, Month" for an enum; neither names a member.
            return !type.IsEnum || (converted is not null && Enum.IsDefined(type, converted) && !value.Contains(',', StringComparison.Ordinal));
        }
#pragma warning disable CA1031 // A converter's failure is the finding itself, whatever its exception type.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    private static string Valid(Type type)
    {
        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "true or false",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64
                => "a whole number such as 3",
            TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a number such as 0.5 (a '.' before any decimals; no currency sign, unit or digit grouping)",
            _ when type == typeof(TimeSpan) => "a time span such as 00:00:30 (hh:mm:ss, or d.hh:mm:ss with days)",
            _ => string.Create(CultureInfo.InvariantCulture, $"a {type.Name} in invariant format"),
        };
    }

    private static string Join(string at, string key) => at.Length == 0 ? key : at + ":" + key;

    private static string Label(IConfigurationSection item)
    {
        foreach (string name in LabelKeys)
        {
            if (item[name] is { Length: > 0 } label)
            {
                return $" ('{label}')";
            }
        }

        return string.Empty;
    }

    /// <summary>The setting a misspelt key most likely meant: one or two edits away, or the start of it (Limit for LimitUsd).</summary>
    private static string? Closest(string key, IEnumerable<string> settings)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string setting in settings)
        {
            int distance = key.Length >= 4 && (setting.StartsWith(key, StringComparison.OrdinalIgnoreCase) || key.StartsWith(setting, StringComparison.OrdinalIgnoreCase))
                ? Math.Abs(setting.Length - key.Length)
                : Distance(key.ToUpperInvariant(), setting.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (setting, distance);
            }
        }

        int allowed = key.Length >= 5 ? 2 : 1;
        return bestDistance <= allowed || (best is not null && key.Length >= 4 && (best.StartsWith(key, StringComparison.OrdinalIgnoreCase) || key.StartsWith(best, StringComparison.OrdinalIgnoreCase)))
            ? best
            : null;
    }

    /// <summary>Edits (insert, delete, replace, swap two neighbours) between two keys.</summary>
    private static int Distance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
