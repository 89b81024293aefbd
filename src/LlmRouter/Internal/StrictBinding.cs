using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace LlmRouter.Internal;

/// <summary>
/// Binds options from configuration so that nothing in it is lost: <see cref="ConfigurationCheck"/> first reports every key
/// the binder would ignore and every value it would drop, then the binder runs with
/// <see cref="BinderOptions.ErrorOnUnknownConfiguration"/> as a second guard. Problems surface as an
/// <see cref="OptionsValidationException"/> where the options are first created: at start-up with <c>ValidateOnStart</c>.
/// </summary>
internal static class StrictBinding
{
    /// <summary>Binds <paramref name="configuration"/> to the options strictly (see the type's summary).</summary>
    /// <param name="options">The options to bind.</param>
    /// <param name="configuration">The section.</param>
    /// <param name="boundElsewhere">Children of the section that other options bind; they are neither checked nor bound here.</param>
    [RequiresUnreferencedCode("Binds options by reflection.")]
    [RequiresDynamicCode("Binds options by reflection.")]
    public static OptionsBuilder<TOptions> BindStrictly<TOptions>(this OptionsBuilder<TOptions> options, IConfiguration configuration, params string[] boundElsewhere)
        where TOptions : class
    {
        IConfiguration bound = boundElsewhere.Length == 0 ? configuration : new ConfigurationWithout(configuration, boundElsewhere);
        string name = options.Name;
        options.Configure(o => Bind(name, o, configuration, bound, boundElsewhere));
        options.Services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(new ConfigurationChangeTokenSource<TOptions>(name, configuration));
        return options;
    }

    [RequiresUnreferencedCode("Binds options by reflection.")]
    [RequiresDynamicCode("Binds options by reflection.")]
    private static void Bind<TOptions>(string name, TOptions options, IConfiguration configuration, IConfiguration bound, string[] boundElsewhere)
        where TOptions : class
    {
        List<string> failures = ConfigurationCheck.Find(configuration, typeof(TOptions), boundElsewhere);
        if (failures.Count == 0)
        {
            try
            {
                bound.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
            }
            catch (InvalidOperationException ex)
            {
                // Something the check does not model: the binder's own words, innermost last (they name the key).
                var messages = new List<string>();
                for (Exception? e = ex; e is not null; e = e.InnerException)
                {
                    messages.Add(e.Message);
                }

                failures.Add(string.Join(" ", messages));
            }
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(name, typeof(TOptions), failures);
        }
    }

    /// <summary>A section without some of its children, so the binder does not take them for unknown settings.</summary>
    private sealed class ConfigurationWithout(IConfiguration inner, string[] hidden) : IConfiguration
    {
        public string? this[string key]
        {
            get => inner[key];
            set => inner[key] = value;
        }

        public IEnumerable<IConfigurationSection> GetChildren() => inner.GetChildren().Where(c => !hidden.Contains(c.Key, StringComparer.OrdinalIgnoreCase));

        public IChangeToken GetReloadToken() => inner.GetReloadToken();

        public IConfigurationSection GetSection(string key) => inner.GetSection(key);
    }
}
