using System.Text.RegularExpressions;

namespace LlmRouter.Tests.Architecture;

/// <summary>
/// The feature folders of src/LlmRouter depend on each other only downwards through the layers docs/architecture.md
/// draws: a type of one folder that names a type declared in another is an edge, and every edge must go to a lower layer.
/// </summary>
public sealed partial class FolderGraphTests
{
    /// <summary>Layers, lowest first; a folder may reference folders of lower layers only.</summary>
    private static readonly string[][] Layers =
    [
        ["(root)", "Internal"],
        ["Pricing", "Health"],
        ["Telemetry", "Providers"],
        ["Routing"],
        ["Caching"],
        ["Budgets"],
        ["Monitoring"],
        ["DependencyInjection"],
    ];

    [Fact]
    public void EveryFolderIsInALayer()
    {
        string root = SourceRoot();
        string[] folders = [.. Directory.GetDirectories(root).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj" or "Properties"))!];
        string[] unlayered = [.. folders.Where(f => LayerOf(f) < 0)];
        Assert.True(unlayered.Length == 0, $"Folders without a layer in docs/architecture.md and this test: {string.Join(", ", unlayered)}");
    }

    [Fact]
    public void FoldersReferenceOnlyLowerLayers()
    {
        Dictionary<(string From, string To), SortedSet<string>> edges = Edges(SourceRoot());
        string[] upward =
        [
            .. edges
                .Where(e => LayerOf(e.Key.To) >= LayerOf(e.Key.From))
                .Select(e => $"{e.Key.From} -> {e.Key.To} ({string.Join(", ", e.Value.Take(5))})"),
        ];
        Assert.True(upward.Length == 0, "References against the layering:\n" + string.Join("\n", upward));
    }

    [Fact]
    public void TheCheckSeesReferences()
    {
        // Guards the check itself: the router uses the deployment-state folder, and the budget layer uses the router.
        Dictionary<(string From, string To), SortedSet<string>> edges = Edges(SourceRoot());
        Assert.Contains(("Routing", "Health"), edges.Keys);
        Assert.Contains(("Budgets", "Routing"), edges.Keys);
    }

    private static int LayerOf(string folder) => Array.FindIndex(Layers, layer => layer.Contains(folder));

    private static Dictionary<(string From, string To), SortedSet<string>> Edges(string root)
    {
        Dictionary<string, string> text = Directory
            .EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(p => p, p => Strip(File.ReadAllText(p)));

        var declaredIn = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach ((string path, string code) in text)
        {
            foreach (Match m in Declaration().Matches(code))
            {
                if (!declaredIn.TryGetValue(m.Groups[1].Value, out HashSet<string>? folders))
                {
                    declaredIn[m.Groups[1].Value] = folders = [];
                }

                folders.Add(FolderOf(root, path));
            }
        }

        var edges = new Dictionary<(string, string), SortedSet<string>>();
        foreach ((string path, string code) in text)
        {
            string from = FolderOf(root, path);
            foreach (string word in Word().Matches(code).Select(m => m.Value).Distinct())
            {
                if (!declaredIn.TryGetValue(word, out HashSet<string>? folders) || folders.Contains(from))
                {
                    continue;
                }

                foreach (string to in folders)
                {
                    if (!edges.TryGetValue((from, to), out SortedSet<string>? names))
                    {
                        edges[(from, to)] = names = [];
                    }

                    names.Add(word);
                }
            }
        }

        return edges;
    }

    private static string FolderOf(string root, string path)
    {
        string[] parts = Path.GetRelativePath(root, path).Split(Path.DirectorySeparatorChar);
        return parts.Length > 1 ? parts[0] : "(root)";
    }

    /// <summary>Removes comments and string literals, so only code names types.</summary>
    private static string Strip(string code) => StringLiteral().Replace(LineComment().Replace(BlockComment().Replace(code, string.Empty), string.Empty), "\"\"");

    private static string SourceRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln")))
            {
                return Path.Combine(dir.FullName, "src", "LlmRouter");
            }
        }

        throw new InvalidOperationException("LlmRouter.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+([A-Z]\w+)")]
    private static partial Regex Declaration();

    [GeneratedRegex(@"\b[A-Z]\w+\b")]
    private static partial Regex Word();

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"//.*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"""(?:\\.|[^""\\])*""")]
    private static partial Regex StringLiteral();
}
