using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace LlmRouter.Routing.Internal;

/// <summary>Hashes that are the same in every process and run (XxHash3 over UTF-16), for rendezvous hashing.</summary>
internal static class StableHash
{
    public static ulong Of(string text) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(text.AsSpan()));

    /// <summary>A number in (0, 1] from a key's hash and a deployment's, uniform over keys.</summary>
    public static double Unit(ulong keyHash, ulong deploymentHash)
    {
        // Mix the two (SplitMix64 finaliser) so every deployment gets an independent draw for the same key.
        ulong z = keyHash ^ (deploymentHash * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return ((z >> 11) + 1) * (1.0 / (1UL << 53));
    }
}
