#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with gcc and with
# clang (both for Windows) and natively (the portable code and the client),
# runs the native unit tests, then every CTest test under Wine except the
# stress run (label stress; docs/reliability.md).
# Usage: scripts/test.sh [--stress] [extra ctest arguments, e.g. -L fast]
#   --stress: the stress run instead: only the tests labelled stress
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--stress" ]; then
    shift
    set -- -L '^stress$' "$@"
else
    set -- -LE '^stress$' "$@"
fi
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
echo "== native build with AddressSanitizer and UBSan (unit tests, fuzz targets)"
bash scripts/build.sh native-asan
ctest --preset native-asan
echo "== tests (under Wine)"
ctest --preset wine "$@"
