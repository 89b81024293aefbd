using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace LlmRouter.Budgets.Internal;

/// <summary>Resolves scope ids to their runtime state: exact policies once at start, <c>kind:*</c> templates per id on first use.</summary>
internal sealed class PolicyTable
{
    private readonly FrozenDictionary<string, ScopeRuntime> _exact;
    private readonly FrozenDictionary<string, ScopePolicy> _templates;
    private readonly ConcurrentDictionary<string, ScopeRuntime?> _byId = new(StringComparer.OrdinalIgnoreCase);

    public PolicyTable(IList<ScopePolicy> scopes)
    {
        var exact = new Dictionary<string, ScopeRuntime>(StringComparer.OrdinalIgnoreCase);
        var templates = new Dictionary<string, ScopePolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (ScopePolicy s in scopes)
        {
            if (s.Scope.EndsWith(":*", StringComparison.Ordinal))
            {
                templates[s.Scope[..^1]] = s;
            }
            else
            {
                exact[s.Scope] = new ScopeRuntime(s.Scope, s);
            }
        }

        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _templates = templates.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        IsEmpty = exact.Count == 0 && templates.Count == 0;
    }

    public bool IsEmpty { get; }

    /// <summary>The runtimes of the policies for exact scope ids (not <c>kind:*</c> templates).</summary>
    public IEnumerable<ScopeRuntime> ExactScopes => _exact.Values;

    /// <summary>The exact scopes, then every id a <c>kind:*</c> template has been applied to so far.</summary>
    public IEnumerable<ScopeRuntime> KnownScopes => _exact.Values.Concat(_byId.Values.OfType<ScopeRuntime>());

    /// <summary>
    /// The scopes of a path that have rules and the budget accounts of the whole path, cached on the path object (callers
    /// reuse a path per identity, so the lookups and the combined array are paid once).
    /// </summary>
    public ResolvedPath Resolve(ScopePath path)
    {
        if (path.Resolved is ResolvedPath cached && ReferenceEquals(cached.Owner, this))
        {
            return cached;
        }

        var rules = new List<ScopeRuntime>();
        var accounts = new List<BudgetAccount>();
        foreach (string id in path.Span)
        {
            if (Find(id) is { } scope)
            {
                accounts.AddRange(scope.Accounts);
                if (scope.HasRules)
                {
                    rules.Add(scope);
                }
            }
        }

        var resolved = new ResolvedPath(this, [.. rules], [.. accounts]);
        path.Resolved = resolved;
        return resolved;
    }

    /// <summary>The runtime of a scope id, or <see langword="null"/> when no policy applies to it.</summary>
    public ScopeRuntime? Find(string id)
    {
        if (_exact.TryGetValue(id, out ScopeRuntime? runtime))
        {
            return runtime;
        }

        if (_templates.Count == 0)
        {
            return null;
        }

        return _byId.GetOrAdd(id, static (id, self) =>
        {
            int colon = id.IndexOf(':', StringComparison.Ordinal);
            return colon > 0 && self._templates.TryGetValue(id[..(colon + 1)], out ScopePolicy? policy) ? new ScopeRuntime(id, policy) : null;
        }, this);
    }
}

/// <summary>A scope path resolved against one policy table.</summary>
internal sealed class ResolvedPath(PolicyTable owner, ScopeRuntime[] ruleScopes, BudgetAccount[] accounts)
{
    public PolicyTable Owner { get; } = owner;

    /// <summary>The scopes of the path whose policies have rules besides budgets, outermost first.</summary>
    public ScopeRuntime[] RuleScopes { get; } = ruleScopes;

    /// <summary>Every budget account of the path, outermost scope first.</summary>
    public BudgetAccount[] Accounts { get; } = accounts;
}
