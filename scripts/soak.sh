#!/usr/bin/env bash
# A bounded soak (issue 8): each server under a mixed load for --minutes,
# its STATS sampled every --interval seconds into results/soak-<model>.csv;
# fails on growth, on any client error, or unless the server exits 0.
# Not part of any test run; docs/reliability.md gives the rule and results.
#
# Usage: scripts/soak.sh [--minutes N] [--servers a,b,...] [--interval S]
#                        [--out DIR] [--no-build]
#   defaults: 10 minutes per server, all six, a sample every 5 s, results/.
#   Environment: WSM_BIN (the servers, default: the wine preset's bin/),
#   WSM_CLIENT (the native client, default: the native preset's), WINEPREFIX.
#
# The mixed load, all at once, each client ending by the deadline:
#   steady:  40 connections echoing 64 B..16 KiB frames, 2 in flight each
#   churn:   100 connections opened, echoing 10 frames, closed together,
#            every third by reset; again and again
#   idle:    300 connections held 10 s, echoing once before and after
#   errors:  bad frames and frames cut by FIN (client check), again and again
# The growth rule, per figure: samples of the first 20% are the warm-up;
# the rest is cut in thirds; the last third's highest value must not pass
# the first third's highest by more than the tolerance: private_bytes and
# working_set_bytes 10% (at least 4 MiB), open_* and threads 10% (at least
# 16). Under a steady mix the highs of two thirds differ only by chance; a
# leak pushes every later high up. After the load the server must be back
# to its idle connections_current and open_sockets of before the load (not
# open_threads, _handles, _blocks: eventselect's and overlapped_event's
# waiting threads stay once started, by design; the growth rule bounds them).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10 interval=5 out=results build=1
servers=blocking,select,eventselect,overlapped_event,completion_routine,iocp
while [ $# -gt 0 ]; do
    case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done
# The build trees are the presets' (scripts/build.sh names them); nothing is
# built with --no-build or when WSM_BIN or WSM_CLIENT says where things are.
only=--configure-only
if [ "$build" = 1 ] && [ -z "${WSM_BIN:-}${WSM_CLIENT:-}" ]; then
    only=
fi
wine_dir=$(bash scripts/build.sh ${only:+"$only"} wine)
bin=${WSM_BIN:-$wine_dir/bin}
client=${WSM_CLIENT:-$(bash scripts/build.sh ${only:+"$only"} native)/bin/client}
export WINEPREFIX=${WINEPREFIX:-$wine_dir/wineprefix} WINEDEBUG=-all
mkdir -p "$out"
work=$(mktemp -d)
bash cmake/wine-fixture.sh start "$WINEPREFIX" >&2
trap 'bash cmake/wine-fixture.sh stop "$WINEPREFIX"; rm -rf "$work"' EXIT

keys="connections_current threads private_bytes working_set_bytes open_sockets open_threads open_handles open_blocks frames_in protocol_errors"

# One STATS as a CSV row: seconds since start, then $keys.
sample() {   # port t0
    "$client" stats --port "$1" --timeout 30 2>/dev/null | tr -d '\r' | awk -F= -v t="$(( $(date +%s) - $2 ))" -v keys="$keys" '
        { v[$1] = $2 }
        END { n = split(keys, k, " "); row = t; for (i = 1; i <= n; i++) row = row "," v[k[i]]; print row }'
}

# Runs "$@" again and again until the deadline; counts failures in $work/fail.
again() {   # deadline name command...
    local end=$1 name=$2; shift 2
    while [ "$(date +%s)" -lt "$end" ]; do
        "$@" >>"$work/$name.log" 2>&1 || echo "$name" >>"$work/fail"
    done
}

# The growth rule over the CSV (see the top); prints one line per figure.
judge() {   # csv
    awk -F, -v keys="$keys" '
        NR == 1 { next }
        { n++; for (i = 2; i <= NF; i++) s[n, i] = $i; nf = NF }
        END {
            w = int(n / 5); m = n - w; third = int(m / 3); bad = 0
            if (third < 2) { print "too few samples (" n ") for the growth rule"; exit 1 }
            split(keys, k, " ")
            for (i = 2; i <= nf; i++) {
                name = k[i - 1]
                if (name ~ /^(connections_current|frames_in|protocol_errors)$/) continue
                a = 0; b = 0
                for (j = w + 1; j <= w + third; j++) if (s[j, i] + 0 > a) a = s[j, i] + 0
                for (j = n - third + 1; j <= n; j++) if (s[j, i] + 0 > b) b = s[j, i] + 0
                tol = (name ~ /bytes/) ? 4194304 : 16
                if (a / 10 > tol) tol = a / 10
                verdict = (b > a + tol) ? "GROWTH" : "ok"
                if (b > a + tol) bad = 1
                printf "  %s: first third max %d, last third max %d, tolerance %d: %s\n", name, a, b, tol, verdict
            }
            exit bad
        }' "$1"
}

# Idle figures (connections_current, open_sockets), one per line.
idle_figures() {   # port
    "$client" stats --port "$1" 2>/dev/null | tr -d '\r' | grep -E '^(connections_current|open_sockets)='
}

soak_one() {   # model
    local m=$1 csv=$out/soak-$1.csv t0 end port spid rc=0 f before after
    "/usr/lib/wine/wine64" "$bin/${m}_server.exe" --port 0 >"$work/$m.out" 2>"$work/$m.err" &
    spid=$!
    for _ in $(seq 1 100); do grep -q '^listening on' "$work/$m.out" 2>/dev/null && break; sleep 0.2; done
    port=$(head -n 1 "$work/$m.out" | tr -d '\r' | sed -n 's/^listening on .*:\([0-9]*\)$/\1/p')
    [ -n "$port" ] || { echo "soak $m: the server did not start"; kill -9 "$spid"; return 1; }
    before=$(idle_figures "$port")
    rm -f "$work/fail"
    t0=$(date +%s); end=$(( t0 + minutes * 60 ))
    echo "t_s,${keys// /,}" >"$csv"
    "$client" load --port "$port" --conns 40 --duration $(( minutes * 60 )) --pipeline 2 \
        --sizes 64,1024,16384 --timeout 60 >"$work/steady.log" 2>&1 || echo steady >>"$work/fail" &
    again "$end" churn "$client" load --port "$port" --conns 100 --msgs 10 --abort-every 3 --timeout 60 &
    again "$end" idle "$client" idle --port "$port" --conns 300 --seconds 10 --timeout 60 &
    again "$end" errors "$client" check --port "$port" --only protocol_errors,partial_fin --timeout 60 &
    while [ "$(date +%s)" -lt "$end" ]; do
        sample "$port" "$t0" >>"$csv" || true
        sleep "$interval"
    done
    wait $(jobs -p | grep -v "^$spid$") 2>/dev/null || true
    sleep 3
    after=$(idle_figures "$port")
    kill -INT "$spid"
    wait "$spid" || rc=$?
    echo "soak $m: $(( $(date +%s) - t0 )) s, $(( $(wc -l <"$csv") - 1 )) samples in $csv"
    judge "$csv" || { echo "soak $m: FAIL: growth"; f=1; }
    [ ! -s "$work/fail" ] || { echo "soak $m: FAIL: client errors in: $(sort "$work/fail" | uniq -c | tr '\n' ' ')"; f=1; }
    [ "$rc" = 0 ] || { echo "soak $m: FAIL: the server exited with code $rc"; f=1; }
    [ "$before" = "$after" ] || { echo "soak $m: FAIL: idle figures before the load: $(echo $before), after: $(echo $after)"; f=1; }
    [ -z "${f:-}" ] && echo "soak $m: PASS"
    [ -z "${f:-}" ]
}

status=0
for m in ${servers//,/ }; do
    soak_one "$m" || status=1
done
exit $status
