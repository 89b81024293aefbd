using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LlmRouter.IntegrationTests.Caching;

/// <summary>
/// A real redis-server on a free loopback port, started by the test itself (scripts/test.sh installs redis-server when
/// missing). A missing binary fails the tests rather than skipping them. Without persistence by default; with
/// <c>appendOnly</c>, an append-only file in a data directory of its own that every restart reads again.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string? _dataDirectory;
    private Process? _process;

    private RedisServer(int port, string? dataDirectory)
    {
        Port = port;
        _dataDirectory = dataDirectory;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000,connectRetry=1";

    /// <summary>Starts a server; with <paramref name="appendOnly"/> it runs with <c>appendonly yes</c> (fsync every second).</summary>
    public static async Task<RedisServer> StartAsync(bool appendOnly = false)
    {
        var server = new RedisServer(FreePort(), appendOnly ? Directory.CreateTempSubdirectory("llmrouter-redis-").FullName : null);
        await server.RestartAsync();
        return server;
    }

    public async Task RestartAsync()
    {
        string binary = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: run 'bash scripts/test.sh', which installs it (apt-get install -y redis-server).");
        string persistence = _dataDirectory is null ? "--appendonly no" : $"--appendonly yes --appendfsync everysec --dir {_dataDirectory}";
        _process = Process.Start(new ProcessStartInfo(binary, $"--port {Port} --bind 127.0.0.1 --save \"\" {persistence} --protected-mode no")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        await Eventually.Until(PingAsync, interval: TimeSpan.FromMilliseconds(10)); // redis-server answering PING on its port
    }

    /// <summary>Kills the server (SIGKILL, as a crash or an OOM kill would): only what it persisted survives.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Stops the server the way a deployment or a container restart does (SHUTDOWN): it persists what it is configured to.</summary>
    public async Task ShutDownAsync()
    {
        if (_process is { HasExited: false } p)
        {
            try
            {
                await SendAsync("SHUTDOWN");
            }
            catch (IOException)
            {
                // The server closes the connection as it exits.
            }

            await p.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_dataDirectory is not null)
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    /// <summary>The number of keys in the database (DBSIZE).</summary>
    public async Task<int> CountKeysAsync()
    {
        string reply = await SendAsync("DBSIZE");
        return reply.StartsWith(':') ? int.Parse(reply.AsSpan(1).Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"DBSIZE answered '{reply}'.");
    }

    /// <summary>Waits until the database holds at least <paramref name="count"/> keys (writes that happen in the background).</summary>
    public Task WaitForKeysAsync(int count) =>
        Eventually.Until(async () => await CountKeysAsync() >= count, interval: TimeSpan.FromMilliseconds(10));

    private async Task<string> SendAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(command + "\r\n"));
        byte[] buffer = new byte[64];
        int n = await stream.ReadAsync(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, n);
    }

    private async Task<bool> PingAsync()
    {
        try
        {
            return (await SendAsync("PING")).StartsWith('+');
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
