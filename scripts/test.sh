#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with gcc and with
# clang (both for Windows) and natively (the portable code and the client),
# runs the native unit tests, then every CTest test under Wine.
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L fast]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh wine
if command -v clang >/dev/null 2>&1; then
    echo "== clang build (x86_64-w64-mingw32), warnings as errors"
    bash scripts/build.sh clang-wine
else
    echo "== clang not installed: skipping the clang build"
fi
echo "== native build (portable modules and the client)"
bash scripts/build.sh native
ctest --preset native
echo "== tests (under Wine)"
ctest --preset wine "$@"
