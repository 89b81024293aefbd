using System.Net;

namespace LlmRouter.Tests.TestUtilities;

public static class Http
{
    public static HttpRequestException Status(int code, string message = "provider error") =>
        new(message, null, (HttpStatusCode)code);
}
