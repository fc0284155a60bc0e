#!/usr/bin/env bash
# Longer fuzz runs than the suite's 20 s: builds the native-asan preset
# (clang, AddressSanitizer, UBSan, libFuzzer), then fuzzes each target in
# turn from its corpus (tests/fuzz/corpus/TARGET). New inputs and any failing
# input (crash-*, leak-*, timeout-*) go to tests/fuzz/found_TARGET/ in the
# preset's build tree; a failure stops the script (exit 1) and names the input.
# Usage: scripts/fuzz.sh [--seconds N] [--merge] [TARGET...]
#   --seconds N  per target (default 600)
#   --merge      then add to the repository's corpus the found inputs that
#                reach new coverage (libFuzzer -merge=1), for a commit
#   TARGET       proto_reader, session (default: both)
# Replay one input: BUILD/bin/fuzz_TARGET FILE (BUILD: the native-asan preset's)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
merge=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --merge) merge=1; shift ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(proto_reader session)
dir=$(bash scripts/build.sh native-asan)
bin=$dir/bin
for t in "${targets[@]}"; do
    found=$dir/tests/fuzz/found_$t
    mkdir -p "$found"
    echo "== fuzz_$t for $seconds s"
    UBSAN_OPTIONS=print_stacktrace=1 "$bin/fuzz_$t" -max_total_time="$seconds" \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$found/" \
        "$found" "tests/fuzz/corpus/$t"
    if [ "$merge" -eq 1 ]; then
        "$bin/fuzz_$t" -merge=1 "tests/fuzz/corpus/$t" "$found"
    fi
done
