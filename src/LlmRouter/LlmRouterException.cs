using System.Diagnostics;

namespace LlmRouter;

/// <summary>Base of the router's own errors; each subclass carries the facts a caller can act on in properties.</summary>
public abstract class LlmRouterException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="route">The route the request named.</param>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause, if any.</param>
    protected LlmRouterException(string route, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Route = route;
    }

    /// <summary>Gets the route the request named (or the default route).</summary>
    public string Route { get; }

    /// <summary>Adds the error's facts to the request span that failed with it (its type and status are already set).</summary>
    internal virtual void TagSpan(Activity span)
    {
    }
}
