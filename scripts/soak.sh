#!/usr/bin/env bash
# Chaos soak at full size: the test the normal test command runs at CI scale (3,000 requests), run long here, with its
# figures printed. Usage: bash scripts/soak.sh [requests] [concurrency]   (defaults: 200000 and 128)
# Also read: LLMROUTER_SOAK_SEED (default 1), LLMROUTER_SOAK_TIMEOUT_SECONDS (hang guard; default 120 + requests / 100).
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LLMROUTER_SOAK_REQUESTS="${1:-${LLMROUTER_SOAK_REQUESTS:-200000}}"
export LLMROUTER_SOAK_CONCURRENCY="${2:-${LLMROUTER_SOAK_CONCURRENCY:-128}}"

dotnet build tests/LlmRouter.IntegrationTests -c Release
log="$(mktemp -t llmrouter-soak.XXXXXX)"
status=0
dotnet test tests/LlmRouter.IntegrationTests -c Release --no-build --filter "FullyQualifiedName~Chaos.ChaosSoakTests" \
  --logger "console;verbosity=detailed" >"$log" 2>&1 || status=$?

# The test's own lines (each once: the runner prints the output again after the result).
grep -E '^ soak' "$log" | sed 's/^ //' | awk '!seen[$0]++' || true
if [ "$status" -ne 0 ]; then
  grep -A25 'Error Message' "$log" || tail -40 "$log"
fi
echo "soak: $([ "$status" -eq 0 ] && echo passed || echo FAILED); full log in $log"
exit "$status"
