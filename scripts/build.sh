#!/usr/bin/env bash
# Configures and builds the suite with a preset (default: wine, i.e.
# MinGW-w64 gcc with the tests under Wine), then prints the build tree's
# directory, the preset's binaryDir, as the only line on standard output
# (the build's own output goes to stderr), so that the other scripts take
# their paths from CMakePresets.json instead of writing them again:
#     client=$(bash scripts/build.sh native)/bin/client
# Usage: scripts/build.sh [--configure-only] [PRESET [TARGET...]]
#   --configure-only: configure (cheap when done before), do not build
#   TARGET...: build only these targets (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = "--configure-only" ]; then
    build=0
    shift
fi
preset=${1:-wine}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
bash scripts/setup-debian.sh >&2
# CMake names the tree it configured in its last line.
dir=$(cmake --preset "$preset" | sed -n 's/^-- Build files have been written to: //p')
if [ -z "$dir" ]; then
    echo "build.sh: cmake --preset $preset did not name its build tree" >&2
    exit 1
fi
if [ "$build" = 1 ]; then
    cmake --build --preset "$preset" -j 2 ${targets[@]:+--target "${targets[@]}"} >&2
fi
echo "$dir"
