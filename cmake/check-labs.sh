#!/usr/bin/env bash
# Keeps docs/README.md, docs/protocol.md and the lab handouts (docs/labs/)
# true: every relative link must lead to a file, and to a heading of it
# when it names one; every command block of a handout must run as written,
# in both of its forms, and its output must match the block's
# `<!-- lab: expect REGEX -->` lines.
#
# Usage: check-labs.sh SOURCE_DIR WINE_BUILD_DIR
# (LAB_VERBOSE=1: print every block's output, to refresh a handout's figures;
# LAB_ONLY=TEXT: run the blocks only of the files whose path contains TEXT;
# LAB_KEEP=1: keep the work folder, with each block's script and output)
#
# The markers, each on the line before a fenced block, expect lines after it:
#   <!-- lab: run -->       a ```sh block: run by bash (Linux, Wine)
#   <!-- lab: run cmd -->   a ```bat block: the same step for a Windows
#                           developer prompt, run by Wine's cmd.exe; with no
#                           expect lines of its own it takes those of the sh
#                           block before it
#   <!-- lab: cmd build --> a ```bat block of cmake commands (Visual Studio
#                           or MinGW on Windows): Wine has neither, so it is
#                           not run; its presets must exist, and the folders
#                           it builds must be those the sh form built
# In docs/labs/*.md every ```sh and ```bat block must be marked, and every
# sh block must be followed by its cmd block, so no command of a handout
# escapes the test. docs/labs/breaks/ has its own test (cmake/breaks.cmake):
# only its links are checked here.
#
# The sh blocks of one file run in order, in one bash (set -e, pipefail),
# then its cmd blocks in one `wine64 cmd /c` (after each command line the
# script checks %errorlevel% and stops at the first failure; a command
# whose next line reads %errorlevel% may fail, as the handout then shows).
# Both run from a copy of the repository root made of symbolic links whose
# build/wine and build/msvc are WINE_BUILD_DIR: the handouts' paths
# (build/wine/bin/..., build\msvc\bin\...) then reach the build under test,
# and what a handout builds itself (build/lab-...) lands in the copy, which
# is deleted at the end. The Wine prefix is the build's (wineprefix), whose
# wineserver the CTest fixture runs. A handout whose servers are not in the
# build (one built from part of the tree) is skipped, and says so.
set -u
export LC_ALL=C.UTF-8
src=$1
wine_build=$2
limit=${LAB_TIMEOUT:-420}   # seconds for the blocks of one file, per form
wine=${WINE_LOADER:-/usr/lib/wine/wine64}
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

# Writes FILE's marked blocks into DIR: sh/N.sh and cmd/N.bat (commands),
# N.expect (regexes), N.line (where the block starts), cmd/N.kind (run or
# build). Prints "SH CMD", the numbers of blocks. With STRICT, an unmarked
# sh or bat block, or an sh block without its cmd block, fails.
extract_blocks() {
    mkdir -p "$2/sh" "$2/cmd"
    awk -v dir="$2" -v strict="$3" '
        function bad_at(what) { printf "FAIL: %s:%d: %s\n", FILENAME, NR, what > "/dev/stderr"; bad = 1 }
        /^<!-- lab: run -->$/ { marked = "sh"; start = NR; expl = ""; next }
        /^<!-- lab: run cmd -->$/ { marked = "cmd"; kind = "run"; start = NR; expl = ""; next }
        /^<!-- lab: cmd build -->$/ { marked = "cmd"; kind = "build"; start = NR; expl = ""; next }
        /^<!-- lab: / && !/^<!-- lab: expect .* -->$/ { bad_at("unknown marker " $0); next }
        marked && /^<!-- lab: expect .* -->$/ {
            re = $0; sub(/^<!-- lab: expect /, "", re); sub(/ -->$/, "", re)
            expl = expl re "\n"; next
        }
        /^```(sh|bat)$/ && !inblock {
            inblock = 1; lang = substr($0, 4)
            if (lang == "sh" && strict && sh > 0 && !paired) bad_at("the sh block before this one has no cmd block")
            if (marked == "sh" && lang == "sh") {
                sh++; out = dir "/sh/" sh; paired = 0; last_exp = expl
                print start > (out ".line"); printf "" > (out ".sh")
                if (expl != "") printf "%s", expl > (out ".expect")
                ext = ".sh"; run = 1
            } else if (marked == "cmd" && lang == "bat") {
                cmd++; out = dir "/cmd/" cmd; paired = 1
                print start > (out ".line"); print kind > (out ".kind"); printf "" > (out ".bat")
                if (expl == "") expl = last_exp
                if (expl != "") printf "%s", expl > (out ".expect")
                ext = ".bat"; run = 1
            } else if (marked != "") bad_at("a " marked " marker before a " lang " block")
            else if (strict) bad_at("a " lang " block without its <!-- lab: ... --> marker")
            marked = ""; next
        }
        inblock && /^```$/ { inblock = 0; run = 0; next }
        inblock && run { print > (out ext); next }
        !/^[[:space:]]*$/ { marked = "" }
        END {
            if (strict && sh > 0 && !paired) bad_at("the last sh block has no cmd block")
            print sh + 0, cmd + 0; exit bad
        }
    ' "$1"
}

# Checks the output of block N (in D) against its expect lines.
check_expect() {
    local file=$1 d=$2 i=$3 form=$4 re
    [ -n "${LAB_VERBOSE:-}" ] && { echo "-- $form, line $(cat "$d/$i.line")"; cat "$d/$i.out"; }
    [ -e "$d/$i.expect" ] || return 0
    while IFS= read -r re; do
        tr -d '\r' <"$d/$i.out" | grep -qE -- "$re" && continue
        fail "${file#"$src"/}: $form block at line $(cat "$d/$i.line"): no output matches /$re/"
        cat "$d/$i.out"
    done <"$d/$i.expect"
}

# Runs the sh blocks of FILE (extracted in DIR/sh) in the copy; 0 when all
# ran, their output matched, and nothing they started is left running.
run_sh_blocks() {
    local file=$1 d=$2/sh count=$3 copy=$4 i script=$2/sh/all.sh
    {
        echo 'set -eo pipefail'
        echo "cd '$copy'"
        for i in $(seq 1 "$count"); do
            echo "exec >'$d/$i.out' 2>&1"
            cat "$d/$i.sh"
        done
        echo "exec >'$d/end.out' 2>&1"
        echo 'left=$(jobs -pr); [ -z "$left" ] || { echo "left running: $left"; kill $left; exit 1; }'
    } >"$script"
    timeout -k 10 "$limit" bash "$script" </dev/null
    local rc=$? last=0
    for i in $(seq 1 "$count"); do [ -e "$d/$i.out" ] && last=$i; done
    if [ $rc -ne 0 ]; then
        [ -e "$d/end.out" ] && last=end
        fail "${file#"$src"/}: sh block $last (line $(cat "$d/$last.line" 2>/dev/null)) exit $rc"
        cat "$d/$last.out"
        return 1
    fi
    for i in $(seq 1 "$count"); do check_expect "$file" "$d" "$i" sh; done
}

# A cmd build block: cmake commands only, with presets that exist and
# build folders that the sh form of the handout made in the copy.
check_build_block() {
    local file=$1 d=$2 i=$3 copy=$4 line word prev folder
    while IFS= read -r line; do
        line=${line%$'\r'}
        [ -z "${line// /}" ] && continue
        case $line in
        cmake\ *) ;;
        *) fail "${file#"$src"/}: cmd build block at line $(cat "$d/$i.line"): not a cmake command: $line"; continue ;;
        esac
        prev=
        for word in $line; do
            if [ "$prev" = --preset ] && ! grep -q "\"name\": \"$word\"" "$src/CMakePresets.json"; then
                fail "${file#"$src"/}: line $(cat "$d/$i.line"): no preset $word in CMakePresets.json"
            fi
            if [ "$prev" = -B ] || [ "$prev" = --build ]; then
                folder=${word//\\//}
                [ -d "$copy/$folder" ] || fail "${file#"$src"/}: line $(cat "$d/$i.line"): $word: the sh form built no such folder"
            fi
            prev=$word
        done
    done <"$d/$i.bat"
    echo "   cmd build block at line $(cat "$d/$i.line"): cmake on Windows, not run under Wine (the sh form built the same folder)"
}

# Runs the cmd blocks of FILE (extracted in DIR/cmd) in one cmd.exe under
# Wine, from the copy. Each block's output goes between marker lines of one
# output file; after each command line the script stops on a non-zero
# %errorlevel%, unless the next line reads it (the handout shows it).
run_cmd_blocks() {
    local file=$1 d=$2/cmd count=$3 copy=$4 i script=$2/cmd/all.cmd out=$2/cmd/all.out
    for i in $(seq 1 "$count"); do
        [ "$(cat "$d/$i.kind")" = build ] && check_build_block "$file" "$d" "$i" "$copy"
    done
    {
        echo '@echo off'
        for i in $(seq 1 "$count"); do
            [ "$(cat "$d/$i.kind")" = run ] || continue
            echo "echo ==lab-block $i=="
            awk '
                function flush() {
                    if (logical == "") return
                    printf "%s", text
                    pending_check = logical
                    logical = ""; text = ""
                }
                function check_for(next_line) {
                    if (pending_check == "") return
                    if (next_line ~ /%errorlevel%/) { pending_check = ""; return }
                    if (pending_check ~ /%errorlevel%/) print "(call )"
                    else print "if not \"%errorlevel%\"==\"0\" (echo ==lab-fail== exit status %errorlevel% & exit /b 1)"
                    pending_check = ""
                }
                { sub(/\r$/, "") }
                /^[[:space:]]*$/ || /^(rem|REM|::)( |$)/ { next }
                {
                    if (logical == "") check_for($0)
                    logical = logical $0; text = text $0 "\n"
                    if ($0 ~ /\^$/) { sub(/\^$/, "", logical); next }
                    flush()
                }
                END { flush(); check_for("") }
            ' "$d/$i.bat"
        done
        echo 'echo ==lab-end=='
    } | sed 's/\r*$/\r/' >"$script"
    (cd "$copy" && WINEPREFIX=$copy/build/wine/wineprefix WINEDEBUG=-all \
        timeout -k 10 "$limit" "$wine" cmd /c "Z:${script//\//\\}" </dev/null >"$out" 2>&1)
    local rc=$? last=
    tr -d '\r' <"$out" | awk -v d="$d" '
        /^==lab-block [0-9]+==$/ { f = d "/" substr($0, 13, length($0) - 14) ".out"; printf "" > f; next }
        /^==lab-end==$/ { f = ""; next }
        f != "" { print > f }
    '
    last=$(tr -d '\r' <"$out" | sed -n 's/^==lab-block \([0-9]*\)==$/\1/p' | tail -1)
    if [ $rc -ne 0 ] || ! tr -d '\r' <"$out" | grep -qx '==lab-end=='; then
        fail "${file#"$src"/}: cmd block ${last:-?} (line $(cat "$d/${last:-0}.line" 2>/dev/null)) exit $rc"
        [ -n "$last" ] && cat "$d/$last.out"
        return 1
    fi
    for i in $(seq 1 "$count"); do
        [ "$(cat "$d/$i.kind")" = run ] && check_expect "$file" "$d" "$i" cmd
    done
    return 0
}

# The servers a handout runs (NAME_server*.exe) that this build lacks.
missing_servers() {
    local name
    cat "$1"/sh/*.sh "$1"/cmd/*.bat 2>/dev/null | grep -oE '[a-z0-9_]+_server[a-z0-9_]*\.exe' |
        sort -u | while IFS= read -r name; do
        [ -e "$wine_build/bin/$name" ] || printf '%s ' "$name"
    done
}

make_copy() {   # the repository root as links, build/wine and build/msvc the build under test
    local copy=$1 entry
    for entry in "$src"/* "$src"/.[!.]*; do
        [ -e "$entry" ] || continue
        case ${entry##*/} in build | .git) continue ;; esac
        ln -s "$entry" "$copy/${entry##*/}"
    done
    mkdir -p "$copy/build"
    ln -s "$wine_build" "$copy/build/wine"
    ln -s "$wine_build" "$copy/build/msvc"
}

docs=("$src/docs/README.md" "$src/docs/protocol.md" "$src"/docs/labs/*.md)
for doc in "${docs[@]}" "$src"/docs/labs/breaks/*.md; do
    [ -e "$doc" ] || { case $doc in */breaks/\*.md) continue ;; esac; fail "${doc#"$src"/} is missing"; continue; }
    out=$(check_links "$doc")
    [ -z "$out" ] || { echo "$out"; failed=$((failed + $(grep -c . <<<"$out"))); }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/check-labs.XXXXXX")
trap 'if [ -n "${LAB_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT
copy=$work/root
mkdir "$copy" && make_copy "$copy"
ran=0
n=0
for doc in "${docs[@]}"; do
    [ -e "$doc" ] || continue
    case $doc in *"${LAB_ONLY:-}"*) ;; *) continue ;; esac
    n=$((n + 1))
    strict=0
    case $doc in */docs/labs/*) strict=1 ;; esac
    dir=$work/$n-$(basename "$doc" .md)
    mkdir "$dir"
    counts=$(extract_blocks "$doc" "$dir" "$strict") || failed=$((failed + 1))
    read -r sh_count cmd_count <<<"${counts:-0 0}"
    [ "$sh_count" -gt 0 ] || [ "$cmd_count" -gt 0 ] || continue
    missing=$(missing_servers "$dir")
    if [ -n "$missing" ]; then
        echo "== ${doc#"$src"/}: SKIPPED, not in this build: $missing"
        continue
    fi
    echo "== ${doc#"$src"/}: $sh_count sh blocks, $cmd_count cmd blocks"
    start=$SECONDS
    [ "$sh_count" -gt 0 ] && { run_sh_blocks "$doc" "$dir" "$sh_count" "$copy" || true; }
    echo "   sh: $((SECONDS - start)) s"
    start=$SECONDS
    [ "$cmd_count" -gt 0 ] && { run_cmd_blocks "$doc" "$dir" "$cmd_count" "$copy" || true; }
    echo "   cmd: $((SECONDS - start)) s"
    ran=$((ran + sh_count + cmd_count))
done
[ "$ran" -gt 0 ] || fail "no <!-- lab: run --> block found: nothing was run"
echo "$ran blocks run or checked, $failed failures"
[ "$failed" -eq 0 ]
