#!/usr/bin/env bash
# The project's one test command (README, .ci/run): builds everything, benchmarks included, then runs every test project.
# Tests that need external servers start their own on loopback; this script installs what they need when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet build LlmRouter.sln -c Release
dotnet test LlmRouter.sln -c Release --no-build "$@"
