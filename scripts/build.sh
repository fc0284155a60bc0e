#!/usr/bin/env bash
# Configures and builds the suite with a preset (default: wine, i.e.
# MinGW-w64 gcc with the tests under Wine). Usage: scripts/build.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-wine}
bash scripts/setup-debian.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j 2
