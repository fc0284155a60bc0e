#!/usr/bin/env bash
# Keeps docs/README.md, docs/protocol.md and the lab handouts (docs/labs/)
# true: every relative link must lead to a file, and to a heading of it
# when it names one; every command block marked `<!-- lab: run -->` must
# run as written, and its output must match the block's
# `<!-- lab: expect REGEX -->` lines. In docs/labs/ every ```sh block must
# be marked, so no command of a handout escapes the test.
#
# Usage: check-labs.sh SOURCE_DIR WINE_BUILD_DIR
# (LAB_VERBOSE=1: print every block's output, to refresh a handout's figures)
# The blocks of one file run in order, in one bash (set -e, pipefail), from
# a copy of the repository root made of symbolic links whose build/wine is
# WINE_BUILD_DIR: the handouts' paths (build/wine/bin/...) then reach the
# build under test, and what a handout builds itself (build/lab-...) lands
# in the copy, which is deleted at the end. The Wine prefix is the build's
# (build/wine/wineprefix), whose wineserver the CTest fixture runs.
set -u
export LC_ALL=C.UTF-8
src=$1
wine_build=$2
limit=${LAB_TIMEOUT:-420}   # seconds for the blocks of one file
failed=0

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# GitHub's anchor of a heading: lower case, punctuation dropped, spaces
# to hyphens (letters of any script, digits, '-' and '_' kept).
slug() {
    printf '%s\n' "$1" | sed -e 's/^#* *//' -e 's/`//g' | tr 'A-Z' 'a-z' \
        | sed -e 's/[^[:alnum:] _-]//g' -e 's/ /-/g'
}

anchors() {   # every heading's anchor, one a line
    grep -E '^#{1,6} ' "$1" | while IFS= read -r h; do slug "$h"; done
}

check_links() {   # FILE: relative links lead to files and headings
    local file=$1 dir link path anchor target
    dir=$(dirname "$file")
    grep -oE '\]\([^)[:space:]]+\)' "$file" | sed -e 's/^](//' -e 's/)$//' |
    while IFS= read -r link; do
        case $link in http://* | https://* | mailto:*) continue ;; esac
        path=${link%%#*}
        anchor=
        [ "$path" != "$link" ] && anchor=${link#*#}
        target=$dir/$path
        [ -z "$path" ] && target=$file
        if [ ! -e "$target" ]; then
            echo "FAIL: ${file#"$src"/}: link $link: no such file"
        elif [ -n "$anchor" ] && ! anchors "$target" | grep -qxF "$anchor"; then
            echo "FAIL: ${file#"$src"/}: link $link: no such heading"
        fi
    done
}

# Writes FILE's marked blocks into DIR: N.sh (commands), N.expect (regexes),
# N.line (where the block starts). Prints the number of blocks.
extract_blocks() {
    awk -v dir="$2" -v strict="$3" '
        /^<!-- lab: run -->$/ { marked = 1; start = NR; next }
        marked && /^<!-- lab: expect .* -->$/ {
            re = $0; sub(/^<!-- lab: expect /, "", re); sub(/ -->$/, "", re)
            print re > (dir "/" n + 1 ".expect"); next
        }
        /^```sh$/ && !inblock {
            inblock = 1
            if (marked) { n++; print start > (dir "/" n ".line"); run = 1 }
            else if (strict) { printf "FAIL: %s:%d: a sh block without <!-- lab: run -->\n", FILENAME, NR > "/dev/stderr"; bad = 1 }
            marked = 0; next
        }
        inblock && /^```$/ { inblock = 0; run = 0; next }
        inblock && run { print > (dir "/" n ".sh"); next }
        !/^[[:space:]]*$/ { marked = 0 }
        END { print n + 0; exit bad }
    ' "$1"
}

# Runs the blocks of FILE (extracted in DIR) in the copy; 0 when all ran,
# their output matched, and nothing they started is left running.
run_blocks() {
    local file=$1 dir=$2 count=$3 copy=$4 i script=$2/all.sh
    {
        echo 'set -eo pipefail'
        echo "cd '$copy'"
        for i in $(seq 1 "$count"); do
            echo "exec >'$dir/$i.out' 2>&1"
            cat "$dir/$i.sh"
        done
        echo "exec >'$dir/end.out' 2>&1"
        echo 'left=$(jobs -pr); [ -z "$left" ] || { echo "left running: $left"; kill $left; exit 1; }'
    } >"$script"
    timeout -k 10 "$limit" bash "$script" </dev/null
    local rc=$? last=0
    for i in $(seq 1 "$count"); do [ -e "$dir/$i.out" ] && last=$i; done
    if [ $rc -ne 0 ]; then
        [ -e "$dir/end.out" ] && last=end
        fail "${file#"$src"/}: block $last (line $(cat "$dir/$last.line" 2>/dev/null)) exit $rc"
        cat "$dir/$last.out"
        return 1
    fi
    for i in $(seq 1 "$count"); do
        [ -n "${LAB_VERBOSE:-}" ] && { echo "-- line $(cat "$dir/$i.line")"; cat "$dir/$i.out"; }
        [ -e "$dir/$i.expect" ] || continue
        while IFS= read -r re; do
            grep -qE -- "$re" "$dir/$i.out" && continue
            fail "${file#"$src"/}: block at line $(cat "$dir/$i.line"): no output matches /$re/"
            cat "$dir/$i.out"
        done <"$dir/$i.expect"
    done
}

make_copy() {   # the repository root as links, build/wine the build under test
    local copy=$1 entry
    for entry in "$src"/* "$src"/.[!.]*; do
        [ -e "$entry" ] || continue
        case ${entry##*/} in build | .git) continue ;; esac
        ln -s "$entry" "$copy/${entry##*/}"
    done
    mkdir -p "$copy/build"
    ln -s "$wine_build" "$copy/build/wine"
}

docs=("$src/docs/README.md" "$src/docs/protocol.md" "$src"/docs/labs/*.md)
for doc in "${docs[@]}"; do
    [ -e "$doc" ] || { fail "${doc#"$src"/} is missing"; continue; }
    out=$(check_links "$doc")
    [ -z "$out" ] || { echo "$out"; failed=$((failed + $(grep -c . <<<"$out"))); }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/check-labs.XXXXXX")
trap 'rm -rf "$work"' EXIT
copy=$work/root
mkdir "$copy" && make_copy "$copy"
ran=0
n=0
for doc in "${docs[@]}"; do
    [ -e "$doc" ] || continue
    n=$((n + 1))
    strict=0
    case $doc in */docs/labs/*) strict=1 ;; esac
    dir=$work/$n-$(basename "$doc" .md)
    mkdir "$dir"
    count=$(extract_blocks "$doc" "$dir" "$strict") || failed=$((failed + 1))
    [ "$count" -gt 0 ] || continue
    echo "== ${doc#"$src"/}: $count blocks"
    start=$SECONDS
    run_blocks "$doc" "$dir" "$count" "$copy" || true
    echo "   $((SECONDS - start)) s"
    ran=$((ran + count))
done
[ "$ran" -gt 0 ] || fail "no <!-- lab: run --> block found: nothing was run"
echo "$ran blocks run, $failed failures"
[ "$failed" -eq 0 ]
