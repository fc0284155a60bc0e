#!/usr/bin/env bash
# CTest fixtures for Wine (REFERENCE.md section 4): `start` creates the
# build tree's Wine prefix if needed and starts a persistent wineserver, so
# each test does not pay ~3 s to start one; `stop` ends that wineserver,
# for this prefix only.
#
# Why the care (docs/wine.md, "One persistent wineserver"): Debian's
# wineserver wrapper starts the server with -p0, so a server that a Wine
# program starts ends as soon as its last program does, taking the
# prefix's services and desktop (explorer.exe) with it; the next program
# starts them again, and a program that connects while the old server is
# ending fails at once ("wine client error:0: recvmsg: Connection reset by
# peer"). `wineserver -p` makes the server stay, but it exits with code 2,
# doing nothing, while another server of the prefix runs, as wineboot's
# still does for a few seconds after wineboot returns.
set -u
action=$1
export WINEPREFIX=$2
export WINEDEBUG=-all
server=$(command -v wineserver || echo /usr/lib/wine/wineserver)
wine=/usr/lib/wine/wine64

# The running wineserver of this prefix: the one whose working directory is
# the prefix's server directory (/tmp/wine-*/server-DEV-INODE).
prefix_server_pid() {
    local dir pid
    dir="server-$(stat -c %D "$WINEPREFIX")-$(printf '%x' "$(stat -c %i "$WINEPREFIX")")"
    for pid in $(pgrep -f wineserver); do
        case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
        */"$dir") echo "$pid"; return 0 ;;
        esac
    done
    return 1
}

# 0 when the prefix's wineserver runs with a bare -p (stays for good).
prefix_server_persistent() {
    local pid
    pid=$(prefix_server_pid) || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- '-p'
}

# The persistent server runs in the foreground (-f) under a small
# supervisor that records how it ended in $log, so that a server that
# crashes or is killed during a run is seen: `stop` fails then.
log=$WINEPREFIX.wineserver.log
start_persistent() {
    local try pid
    for try in 1 2 3; do
        prefix_server_persistent && return 0
        # Another server of the prefix may run and end with its last
        # program: wait for it to end (at once when none runs).
        timeout 30 "$server" -w
        : >"$log"
        setsid bash -c '"$0" -f -p </dev/null >>"$1" 2>&1
            echo "wineserver ended: exit status $? at $(date +%T)" >>"$1"' \
            "$server" "$log" </dev/null >/dev/null 2>&1 &
        for _ in $(seq 1 50); do
            pid=$(prefix_server_pid) && break
            sleep 0.1
        done
        if prefix_server_persistent; then
            echo "wineserver started: pid $pid at $(date +%T)" >>"$log"
            echo "$pid" >"$WINEPREFIX.wineserver.pid"
            return 0
        fi
        echo "wine fixture: no persistent wineserver for $WINEPREFIX yet (try $try)"
    done
    echo "wine fixture: could not start a persistent wineserver for $WINEPREFIX"
    return 1
}

# 0 when the server that `start` started still runs.
started_server_runs() {
    local pid
    pid=$(cat "$WINEPREFIX.wineserver.pid" 2>/dev/null) || return 1
    [ "$(prefix_server_pid)" = "$pid" ]
}

case "$action" in
start)
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        echo "creating Wine prefix $WINEPREFIX (once, about 15 s)"
        "$wine" wineboot -i >"$WINEPREFIX.log" 2>&1 || {
            echo "wineboot failed; see $WINEPREFIX.log"; exit 1; }
    fi
    start_persistent || exit 1
    # wait until it answers (at most ~10 s)
    for _ in $(seq 1 50); do
        if "$wine" cmd /c exit 0 >/dev/null 2>&1; then
            exit 0
        fi
        sleep 0.2
    done
    echo "wineserver did not start for $WINEPREFIX"; exit 1 ;;
stop)
    rc=0
    if [ -f "$WINEPREFIX.wineserver.pid" ] && ! started_server_runs; then
        echo "wine fixture: the persistent wineserver of $WINEPREFIX ended during the run:"
        cat "$log"
        rc=1
    fi
    rm -f "$WINEPREFIX.wineserver.pid"
    "$server" -k >/dev/null 2>&1
    exit $rc ;;
*)
    echo "usage: $0 start|stop PREFIX"; exit 2 ;;
esac
