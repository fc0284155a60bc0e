#!/usr/bin/env bash
# Installs what the suite needs on Debian/Ubuntu when it is missing:
# MinGW-w64 (the Windows cross-compiler), Wine (to run the .exe files),
# CMake, and the tools of the other checks (clang, cppcheck, Graphviz).
# Safe to run again: it installs nothing that is already there.
set -euo pipefail

need=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
[ -x /usr/lib/wine/wine64 ] || need+=(wine wine64)
command -v wineserver >/dev/null 2>&1 || [ -x /usr/lib/wine/wineserver ] || need+=(wine)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v make >/dev/null 2>&1 || need+=(make)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v clang >/dev/null 2>&1 || need+=(clang)
# The native-asan build (libFuzzer and the sanitizer runtimes of the default
# clang) and the static analysis (cppcheck, clang-tidy; python3 drives them).
if ! command -v clang >/dev/null 2>&1 \
    || [ ! -e "$(clang --print-runtime-dir)/libclang_rt.fuzzer-x86_64.a" ]; then
    need+=(libclang-rt-dev)
fi
command -v cppcheck >/dev/null 2>&1 || need+=(cppcheck)
command -v clang-tidy >/dev/null 2>&1 || need+=(clang-tidy)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The diagrams of docs/ (scripts/diagrams.sh, the doc_diagrams test).
command -v dot >/dev/null 2>&1 || need+=(graphviz)
# The MSVC-dialect check (cmake/check-msvc-dialect.cmake) compiles with
# clang in cl mode against Wine's Windows SDK headers.
[ -f /usr/include/wine/wine/windows/windows.h ] || need+=(libwine-dev)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "setup: missing packages: ${need[*]}" >&2
    echo "setup: run as root, or install them: apt-get install ${need[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here; install these by hand: ${need[*]}" >&2
    echo "setup: (MinGW-w64 for x86_64, Wine 8 with its 64-bit loader, CMake >= 3.20)" >&2
    exit 1
fi
echo "setup: installing ${need[*]} (about 30 s)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y "${need[@]}" >/tmp/wsm-apt.log 2>&1; then
    "${sudo[@]}" apt-get update >>/tmp/wsm-apt.log 2>&1 || true
    if ! "${sudo[@]}" apt-get install -y "${need[@]}" >>/tmp/wsm-apt.log 2>&1; then
        echo "setup: apt-get install ${need[*]} failed; see /tmp/wsm-apt.log" >&2
        exit 1
    fi
fi
