using System.Net;

namespace LlmRouter.Tests.TestUtilities;

/// <summary>Shaped like System.ClientModel.ClientResultException: an int Status and GetRawResponse().Headers.TryGetValue.</summary>
public sealed class FakeClientResultException(int status, FakeHeaders headers) : Exception("client result")
{
    public int Status { get; } = status;

    public FakeResponse GetRawResponse() => new(headers);
}

public sealed class FakeResponse(FakeHeaders headers)
{
    public FakeHeaders Headers { get; } = headers;
}

public sealed class FakeHeaders(params (string Name, string Value)[] values)
{
    public bool TryGetValue(string name, out string? value)
    {
        foreach ((string n, string v) in values)
        {
            if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase))
            {
                value = v;
                return true;
            }
        }

        value = null;
        return false;
    }
}

/// <summary>Shaped like the Anthropic SDK's AnthropicApiException: an HttpStatusCode StatusCode and no headers.</summary>
public sealed class FakeAnthropicException(HttpStatusCode status) : Exception("anthropic")
{
    public HttpStatusCode StatusCode { get; } = status;
}
