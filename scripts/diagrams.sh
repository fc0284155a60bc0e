#!/usr/bin/env bash
# Renders the diagrams of the guides: every docs/diagrams/NAME.dot (Graphviz
# source, the file to edit) to docs/diagrams/NAME.svg beside it (the picture
# the guides embed), and writes the source's SHA-256 into the SVG as a
# comment on its second line:
#
#   <!-- source: NAME.dot sha256 HEX (scripts/diagrams.sh) -->
#
# The doc_diagrams test (cmake/check-diagrams.cmake) renders every .dot
# again and compares that hash with the .dot, so an SVG left behind by an
# edit of its source fails the test. The hash is of the text with CR LF read
# as LF, so a Windows checkout gives the same one.
#
# Usage: bash scripts/diagrams.sh [docs/diagrams/NAME.dot ...]   (default: all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v dot >/dev/null 2>&1; then
    echo "diagrams: Graphviz's dot is missing: apt-get install graphviz" \
         "(scripts/setup-debian.sh installs it)" >&2
    exit 1
fi
if [ $# -eq 0 ]; then
    shopt -s nullglob
    set -- "$root"/docs/diagrams/*.dot
    [ $# -gt 0 ] || { echo "diagrams: no .dot file in docs/diagrams/" >&2; exit 1; }
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for src in "$@"; do
    case $src in
        *.dot) ;;
        *) echo "diagrams: $src: not a .dot file" >&2; exit 1 ;;
    esac
    [ -f "$src" ] || { echo "diagrams: $src: no such file" >&2; exit 1; }
    name=$(basename "$src")
    hash=$(tr -d '\r' <"$src" | sha256sum | cut -d' ' -f1)
    dot -Tsvg "$src" -o "$tmp"
    awk -v line="<!-- source: $name sha256 $hash (scripts/diagrams.sh) -->" '
        NR == 1 && /^<\?xml/ { print; print line; next }
        NR == 1 { print line }
        { print }
    ' "$tmp" >"${src%.dot}.svg"
    echo "diagrams: ${src#"$root"/} -> ${name%.dot}.svg"
done
