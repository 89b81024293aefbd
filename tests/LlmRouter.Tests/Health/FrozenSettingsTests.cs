using System.Reflection;
using LlmRouter.Routing.Internal;

namespace LlmRouter.Tests.Health;

/// <summary>A running router keeps the health and latency settings it was built with, whatever happens to the options later.</summary>
public sealed class FrozenSettingsTests
{
    public static TheoryData<Type> OptionTypes => [typeof(HealthOptions), typeof(LatencyRankingOptions)];

    [Theory]
    [MemberData(nameof(OptionTypes))]
    public void Every_setting_is_a_value_so_the_frozen_copy_is_complete(Type type)
    {
        // Freeze is a memberwise copy: a reference-typed setting would be shared with the caller's options, not frozen.
        PropertyInfo[] settable = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
        Assert.NotEmpty(settable);
        Assert.All(settable, p => Assert.True(p.PropertyType.IsValueType, $"{type.Name}.{p.Name} is a {p.PropertyType.Name}: Freeze would share it."));
    }

    [Fact]
    public void Changing_the_options_after_the_router_is_built_changes_nothing()
    {
        var options = new LlmRouterOptions();
        options.Health.ConsecutiveFailureThreshold = 7;
        options.Health.BreakDuration = TimeSpan.FromSeconds(42);
        options.LatencyRanking.MinimumSamples = 9;
        options.LatencyRanking.ExplorationRate = 0.25;
        RouterSettings settings = RouterSettings.From(options);

        options.Health.ConsecutiveFailureThreshold = 1;
        options.Health.BreakDuration = TimeSpan.FromSeconds(1);
        options.LatencyRanking.MinimumSamples = 1;
        options.LatencyRanking.ExplorationRate = 0;

        Assert.Equal(7, settings.Health.ConsecutiveFailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(42), settings.Health.BreakDuration);
        Assert.Equal(9, settings.Latency.MinimumSamples);
        Assert.Equal(0.25, settings.Latency.ExplorationRate);
        Assert.NotSame(options.Health, settings.Health);
        Assert.NotSame(options.LatencyRanking, settings.Latency);
    }
}
