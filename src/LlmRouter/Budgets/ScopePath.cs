namespace LlmRouter;

/// <summary>
/// Who is asking, outermost scope first: for example <c>new ScopePath("org:acme", "team:search", "user:alice", "key:k-42")</c>.
/// Budgets, allow-lists and rate limits hang on scopes; every level of the path applies and the most restrictive wins.
/// </summary>
/// <remarks>
/// A scope id is any non-empty string; the convention <c>kind:id</c> lets one policy named <c>kind:*</c> apply to each
/// id of that kind separately (every user gets the <c>user:*</c> budget of their own). Create paths once per caller
/// identity where you can (they are immutable and may be reused across requests).
/// </remarks>
public sealed class ScopePath
{
    private readonly string[] _scopes;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="scopes">The scope ids, outermost first.</param>
    /// <exception cref="ArgumentException">A scope id is null, empty or white space, or no scope was given.</exception>
    public ScopePath(params string[] scopes)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        if (scopes.Length == 0)
        {
            throw new ArgumentException("A scope path needs at least one scope id, outermost first (for example \"org:acme\", \"user:alice\").", nameof(scopes));
        }

        for (int i = 0; i < scopes.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(scopes[i]))
            {
                throw new ArgumentException($"Scope id at position {i} is empty: every level of a scope path needs an id such as \"team:search\".", nameof(scopes));
            }
        }

        _scopes = [.. scopes];
    }

    /// <summary>Gets the scope ids, outermost first.</summary>
    public IReadOnlyList<string> Scopes => _scopes;

    internal ReadOnlySpan<string> Span => _scopes;

    /// <summary>The budget layer's resolution of this path (policies and accounts), cached per path object.</summary>
    internal object? Resolved { get; set; }

    /// <inheritdoc />
    public override string ToString() => string.Join(" > ", _scopes);
}
