using BenchmarkDotNet.Attributes;
using LlmRouter.Pricing.Internal;
using Microsoft.ML.Tokenizers;

namespace LlmRouter.Benchmarks;

/// <summary>
/// The o200k count behind the context-window check and the settlement of responses without usage, on 200,000 chars:
/// ordinary English, a run of one letter (which byte-pair encoding handles in time quadratic in the run's length when
/// it encodes the run whole) and random letters, against the tokenizer encoding the text whole where that finishes.
/// </summary>
[MemoryDiagnoser]
public class TokenCountBenchmarks
{
    private const int Length = 200_000;

    private readonly Tokenizer _whole = TiktokenTokenizer.CreateForEncoding("o200k_base");
    private string _english = null!;
    private string _letterRun = null!;
    private string _randomLetters = null!;

    [GlobalSetup]
    public void Setup()
    {
        const string Sentence = "The quick brown fox jumps over the lazy dog. Budgets reserve an estimated cost before the call. ";
        _english = string.Concat(Enumerable.Repeat(Sentence, (Length / Sentence.Length) + 1))[..Length];
        _letterRun = new string('a', Length);
        var random = new Random(42);
        char[] letters = new char[Length];
        for (int i = 0; i < letters.Length; i++)
        {
            letters[i] = (char)('a' + random.Next(26));
        }

        _randomLetters = new string(letters);
    }

    [Benchmark(Baseline = true, Description = "English, encoded whole")]
    public int EnglishWhole() => _whole.CountTokens(_english);

    [Benchmark(Description = "English, in pieces")]
    public int English() => TokenEstimator.Count(_english);

    [Benchmark(Description = "One-letter run, in pieces")]
    public int LetterRun() => TokenEstimator.Count(_letterRun);

    [Benchmark(Description = "Random letters, in pieces")]
    public int RandomLetters() => TokenEstimator.Count(_randomLetters);
}
