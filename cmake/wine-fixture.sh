#!/usr/bin/env bash
# CTest fixtures for Wine (REFERENCE.md section 4): `start` creates the
# build tree's Wine prefix if needed and starts a persistent wineserver, so
# each test does not pay ~3 s to start one; `stop` ends that wineserver,
# for this prefix only.
set -u
action=$1
export WINEPREFIX=$2
export WINEDEBUG=-all
server=$(command -v wineserver || echo /usr/lib/wine/wineserver)
case "$action" in
start)
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        echo "creating Wine prefix $WINEPREFIX (once, about 15 s)"
        /usr/lib/wine/wine64 wineboot -i >"$WINEPREFIX.log" 2>&1 || {
            echo "wineboot failed; see $WINEPREFIX.log"; exit 1; }
    fi
    "$server" -p >/dev/null 2>&1 </dev/null &
    # wait until it answers (at most ~10 s)
    for _ in $(seq 1 50); do
        /usr/lib/wine/wine64 cmd /c exit 0 >/dev/null 2>&1 && exit 0
        sleep 0.2
    done
    echo "wineserver did not start for $WINEPREFIX"; exit 1 ;;
stop)
    "$server" -k >/dev/null 2>&1
    exit 0 ;;
*)
    echo "usage: $0 start|stop PREFIX"; exit 2 ;;
esac
