#!/usr/bin/env bash
# The project's one test command (README, .ci/run): builds everything, benchmarks included, then runs every test project.
# Tests that need external servers start their own on loopback; this script installs what they need when missing:
# redis-server, for the response cache's distributed-tier tests (the fixture starts it on a free port).
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  echo "Installing redis-server (needed by tests/LlmRouter.IntegrationTests/Caching)..."
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
fi

dotnet build LlmRouter.sln -c Release
dotnet test LlmRouter.sln -c Release --no-build "$@"
