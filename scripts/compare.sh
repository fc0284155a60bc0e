#!/usr/bin/env bash
# The main job: build the servers and the client, then compare every server
# that exists with `client compare`: each model's server is started fresh for
# each scenario, measured (client figures and the server's STATS), stopped
# and required to exit 0. One Markdown table on stdout; results/compare.csv,
# results/compare.svg and results/compare_idle.svg. See docs/comparison.md.
# Usage: scripts/compare.sh [--quick] [more client compare options]
set -euo pipefail
cd "$(dirname "$0")/.."

wine_dir=$(bash scripts/build.sh wine servers)
# The client runs natively: under Wine every system call of every process
# in a prefix is a round trip to one wineserver, so a Wine client would
# compete with the server it measures (REFERENCE.md section 4).
client=$(bash scripts/build.sh native client)/bin/client
export WINEPREFIX=$wine_dir/wineprefix WINEDEBUG=-all
bash cmake/wine-fixture.sh start "$WINEPREFIX" >&2
trap 'bash cmake/wine-fixture.sh stop "$WINEPREFIX"' EXIT

"$client" compare --bin "$wine_dir/bin" --launcher /usr/lib/wine/wine64 --out results "$@"
