#!/usr/bin/env bash
# The main job: build the suite, then run the same load scenarios against
# every server that exists and print one Markdown table to compare them.
# Each run is bounded (--duration); the client starts each server on a free
# port and stops it through its stop event.
# Usage: scripts/compare.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=5
[ "${1:-}" = "--quick" ] && duration=2

bash scripts/build.sh wine >&2
bash scripts/build.sh native >&2
bin=build/wine/bin
# The load client runs natively: under Wine every system call of every
# process in a prefix is a round trip to one wineserver, so a Wine client
# would compete with the server it measures (REFERENCE.md section 4).
client=$PWD/build/native/bin/client
export WINEPREFIX=$PWD/build/wine/wineprefix WINEDEBUG=-all
bash cmake/wine-fixture.sh start "$WINEPREFIX" >&2
trap 'bash cmake/wine-fixture.sh stop "$WINEPREFIX"' EXIT

# name | client load arguments
scenarios=(
    "ping-pong 100 x 64 B|--conns 100 --size 64 --pipeline 1"
    "pipelined 100 x 16 x 4 KiB|--conns 100 --size 4096 --pipeline 16"
    "ping-pong 1000 x 64 B|--conns 1000 --size 64 --pipeline 1"
)

field() {   # field KEY LINE: the value of KEY in a key=value line
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

rows=()
# In the order of the model folders, those that were built.
servers=()
for model in blocking select eventselect overlapped_event completion_routine iocp; do
    [ -f "$bin/${model}_server.exe" ] && servers+=("${model}_server.exe")
done
for exe in "${servers[@]}"; do
    for sc in "${scenarios[@]}"; do
        name=${sc%%|*}; args=${sc#*|}
        echo "compare: ${exe%.exe}, $name (${duration} s) ..." >&2
        # shellcheck disable=SC2086
        line=$("$client" load $args --duration "$duration" \
               --server "/usr/lib/wine/wine64 $bin/$exe" 2>/dev/null | tail -n 1) || true
        if [ -z "$(field fps "$line")" ]; then
            rows+=("| ${exe%.exe} | $name | failed | | | | | | |")
            continue
        fi
        rows+=("| ${exe%.exe} | $name | $(field connected "$line") | $(field fps "$line") |\
 $(field mib_s "$line") | $(field p50_ms "$line") | $(field p99_ms "$line") |\
 $(field max_ms "$line") | $(field errors "$line") |")
    done
done

echo
echo "Frames/s and MiB/s count checked replies (one direction); latency is per round trip."
echo
echo "| server | scenario | connections | frames/s | MiB/s | p50 ms | p99 ms | max ms | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
