using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmRouter.Simulator.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmRouter.Simulator;

/// <summary>
/// A Kestrel server on 127.0.0.1 hosting simulated LLM providers, each at <c>/{name}/</c>, plus a control API at
/// <c>/_control/</c>. Start it in-process for tests and demos, or from the <c>llmrouter-simulator</c> tool.
/// </summary>
/// <example>
/// <code>
/// await using var sim = await SimulatorServer.StartAsync(new SimulatorOptions { Providers = { new() { Name = "fast" } } });
/// var client = new OpenAI.Chat.ChatClient("gpt-4o-mini", new ApiKeyCredential("sk-test"),
///     new OpenAIClientOptions { Endpoint = new Uri(sim.GetBaseUri("fast"), "v1") });
/// </code>
/// </example>
public sealed class SimulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, SimulatedProvider> _providers;

    private SimulatorServer(WebApplication app, Dictionary<string, SimulatedProvider> providers, Uri baseAddress)
    {
        _app = app;
        _providers = providers;
        BaseAddress = baseAddress;
    }

    /// <summary>Gets the server's address, for example <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Gets the providers, in configuration order.</summary>
    public IReadOnlyList<SimulatedProvider> Providers => [.. _providers.Values];

    /// <summary>Starts a server with the given providers on a loopback port.</summary>
    /// <param name="options">The providers and the port.</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <returns>The running server; dispose it to stop.</returns>
    /// <exception cref="ArgumentException">No providers, a duplicate or invalid name, or a fault rate outside [0, 1].</exception>
    public static async Task<SimulatorServer> StartAsync(SimulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        TimeProvider time = options.TimeProvider ?? TimeProvider.System;
        var providers = new Dictionary<string, SimulatedProvider>(StringComparer.OrdinalIgnoreCase);
        foreach (SimulatedProviderOptions p in options.Providers)
        {
            providers[p.Name] = new SimulatedProvider(p);
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port));
        WebApplication app = builder.Build();
        DateTimeOffset startedAt = time.GetUtcNow();

        foreach (SimulatedProvider provider in providers.Values)
        {
            var endpoint = new ProviderEndpoint(provider, time, startedAt);
            string path = provider.Api == ProviderApi.OpenAI ? "v1/chat/completions" : "v1/messages";
            app.MapPost($"/{provider.Name}/{path}", endpoint.HandleAsync);
        }

        MapControl(app, providers);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SimulatorServer(app, providers, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>Gets the base address of one provider, for example <c>http://127.0.0.1:41234/fast/</c>. OpenAI SDKs take <c>new Uri(base, "v1")</c>; Anthropic SDKs take the base itself.</summary>
    /// <param name="provider">The provider's name.</param>
    /// <returns>The address.</returns>
    public Uri GetBaseUri(string provider) => new(BaseAddress, Provider(provider).Name + "/");

    /// <summary>Gets a running provider by name.</summary>
    /// <param name="name">The name.</param>
    /// <returns>The provider.</returns>
    /// <exception cref="KeyNotFoundException">No provider has that name.</exception>
    public SimulatedProvider Provider(string name) =>
        _providers.TryGetValue(name, out SimulatedProvider? p)
            ? p
            : throw new KeyNotFoundException($"No simulated provider named '{name}'. Providers: {string.Join(", ", _providers.Keys)}.");

    /// <summary>Resets every provider (received requests, scripted faults, counts, random sources).</summary>
    public void ResetAll()
    {
        foreach (SimulatedProvider p in _providers.Values)
        {
            p.Reset();
        }
    }

    /// <summary>Stops the server.</summary>
    /// <returns>A task that completes when the server has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void Validate(SimulatorOptions options)
    {
        if (options.Providers.Count == 0)
        {
            throw new ArgumentException("SimulatorOptions.Providers is empty: add at least one SimulatedProviderOptions.", nameof(options));
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (SimulatedProviderOptions p in options.Providers)
        {
            if (string.IsNullOrEmpty(p.Name) || p.Name.StartsWith('_') || !p.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new ArgumentException($"Simulated provider name '{p.Name}' is invalid: use letters, digits, '-' and '_', not starting with '_'.", nameof(options));
            }

            if (!names.Add(p.Name))
            {
                throw new ArgumentException($"Simulated provider name '{p.Name}' is used twice.", nameof(options));
            }

            foreach (ProviderProfile profile in p.Phases.Select(ph => ph.Profile).Prepend(p.Profile))
            {
                double total = 0;
                foreach (KeyValuePair<FaultKind, double> rate in profile.FaultRates)
                {
                    if (rate.Value is < 0 or > 1 || double.IsNaN(rate.Value))
                    {
                        throw new ArgumentException($"Provider '{p.Name}': fault rate of {rate.Key} is {rate.Value}; it must be between 0 and 1.", nameof(options));
                    }

                    total += rate.Value;
                }

                if (total > 1 + 1e-9)
                {
                    throw new ArgumentException($"Provider '{p.Name}': fault rates add up to {total}; they must add up to at most 1.", nameof(options));
                }
            }
        }
    }

    private static void MapControl(WebApplication app, Dictionary<string, SimulatedProvider> providers)
    {
        app.MapGet("/_control/providers", () =>
        {
            var list = new JsonArray();
            foreach (SimulatedProvider p in providers.Values)
            {
                ProviderProfile profile = p.Profile;
                var rates = new JsonObject();
                foreach (KeyValuePair<FaultKind, double> rate in profile.FaultRates)
                {
                    rates[rate.Key.ToString()] = rate.Value;
                }

                list.Add(new JsonObject
                {
                    ["name"] = p.Name,
                    ["api"] = p.Api.ToString(),
                    ["requests"] = p.RequestCount,
                    ["latency"] = profile.Latency.Description,
                    ["tokensPerSecond"] = profile.TokensPerSecond,
                    ["faultRates"] = rates,
                });
            }

            return Results.Text(list.ToJsonString(), "application/json");
        });

        app.MapPut("/_control/providers/{name}", async (string name, HttpRequest request) =>
        {
            if (!providers.TryGetValue(name, out SimulatedProvider? provider))
            {
                return Results.NotFound();
            }

            using JsonDocument body = await JsonDocument.ParseAsync(request.Body).ConfigureAwait(false);
            string? error = ProfileUpdate.Apply(provider, body.RootElement);
            return error is null ? Results.NoContent() : Results.BadRequest(error);
        });

        app.MapPost("/_control/providers/{name}/faults", async (string name, HttpRequest request) =>
        {
            if (!providers.TryGetValue(name, out SimulatedProvider? provider))
            {
                return Results.NotFound();
            }

            using JsonDocument body = await JsonDocument.ParseAsync(request.Body).ConfigureAwait(false);
            var faults = new List<FaultKind>();
            foreach (JsonElement f in body.RootElement.EnumerateArray())
            {
                if (!Enum.TryParse(f.GetString(), ignoreCase: true, out FaultKind kind))
                {
                    return Results.BadRequest($"Unknown fault '{f}'. Valid: {string.Join(", ", Enum.GetNames<FaultKind>())}.");
                }

                faults.Add(kind);
            }

            provider.EnqueueFaults([.. faults]);
            return Results.NoContent();
        });

        app.MapPost("/_control/reset", () =>
        {
            foreach (SimulatedProvider p in providers.Values)
            {
                p.Reset();
            }

            return Results.NoContent();
        });
    }
}
