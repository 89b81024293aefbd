using LlmRouter;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace LlmRouter.Demo;

/// <summary>Routes a few real requests across the providers whose API keys are set (with <c>--otel</c>, traced; see <see cref="DemoTelemetry"/>).</summary>
internal static class RealProvidersDemo
{
    public static async Task<int> RunAsync(string? openAiKey, string? anthropicKey, DemoTelemetry? telemetry)
    {
        var services = new ServiceCollection();
        var names = new List<string>();
        services.AddLlmRouter(router =>
        {
            if (!string.IsNullOrWhiteSpace(openAiKey))
            {
                router.AddOpenAIDeployment("openai-mini", p => { p.ApiKey = openAiKey; p.Model = "gpt-4o-mini"; }, d => { d.AttemptTimeout = TimeSpan.FromSeconds(30); telemetry?.Decorate(d); });
                names.Add("openai-mini");
            }

            if (!string.IsNullOrWhiteSpace(anthropicKey))
            {
                router.AddAnthropicDeployment("claude-haiku", p => { p.ApiKey = anthropicKey; p.Model = "claude-haiku-4-5"; p.DefaultMaxOutputTokens = 200; }, d => { d.AttemptTimeout = TimeSpan.FromSeconds(30); telemetry?.Decorate(d); });
                names.Add("claude-haiku");
            }

            router.AddRoute("chat", [.. names]);
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();

        AnsiConsole.MarkupLine($"[bold]LlmRouter[/] routing real requests across: [green]{string.Join(", ", names)}[/]");
        string[] questions = ["Name one moon of Jupiter.", "What is 17 x 3?", "Say hello in French.", "Name a prime number above 50.", "What colour is the sky on Mars at noon?"];
        var table = new Table().AddColumns("question", "answer", "served by", "attempts", "time");
        foreach (string question in questions)
        {
            try
            {
                ChatResponse response = await chat.GetResponseAsync(question, new ChatOptions { ModelId = "chat", MaxOutputTokens = 60 });
                RoutingReport report = response.GetRoutingReport()!;
                table.AddRow(Markup.Escape(question), Markup.Escape(response.Text.ReplaceLineEndings(" ")), report.Deployment, report.AttemptCount.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{report.Attempts[^1].Duration.TotalMilliseconds:0} ms");
            }
            catch (LlmRouterException e)
            {
                table.AddRow(Markup.Escape(question), $"[red]{Markup.Escape(e.Message)}[/]", "-", "-", "-");
            }
        }

        telemetry?.Dispose();   // the final export before the table, so the table stays the last lines on the console
        AnsiConsole.Write(table);
        return 0;
    }
}
