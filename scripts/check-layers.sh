#!/bin/sh
# check-layers.sh - fail when a file of lib/ includes a layer above its own.
#
# lib/ is split into folders by layer (docs/DESIGN.md, "Code layout").  A
# file may include headers of its own folder and of the folders its layer
# lists below; every internal include names its folder ("store/store.h").
# The CLI (cmd/) sees only include/cairn.h and its own headers.
#
# Usage: sh scripts/check-layers.sh [ROOT]     (ROOT defaults to .)
set -u
root=${1:-.}
cd "$root" || exit 2

# What each folder may include besides itself.
below() {
    case $1 in
    base) echo "" ;;
    format | keys | plan | store) echo "base" ;;
    state) echo "base format plan" ;;
    journal) echo "base format keys plan state store" ;;
    commit | verify) echo "base format keys plan state store journal" ;;
    runner) echo "base format keys plan state store journal commit" ;;
    witness) echo "base format keys store" ;;
    *) echo "?" ;;
    esac
}

bad=0
for f in lib/*/*.c lib/*/*.h; do
    dir=${f#lib/}
    dir=${dir%%/*}
    allowed=$(below "$dir")
    if [ "$allowed" = "?" ]; then
        echo "check-layers: $f: folder lib/$dir/ is not a known layer" >&2
        bad=1
        continue
    fi
    # The quoted includes, with their line numbers.
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' >"${TMPDIR:-/tmp}/cl.$$"
    while read -r line inc; do
        case $inc in
        cairn.h) continue ;;
        */*) ;;
        *)
            if [ -f "lib/$dir/$inc" ]; then
                echo "check-layers: $f:$line: \"$inc\" must name its folder (\"$dir/$inc\")" >&2
            else
                echo "check-layers: $f:$line: \"$inc\" is not a header of lib/" >&2
            fi
            bad=1
            continue
            ;;
        esac
        to=${inc%%/*}
        if [ ! -f "lib/$inc" ]; then
            echo "check-layers: $f:$line: \"$inc\" does not exist under lib/" >&2
            bad=1
        elif [ "$to" != "$dir" ]; then
            case " $allowed " in
            *" $to "*) ;;
            *)
                echo "check-layers: $f:$line: lib/$dir/ includes \"$inc\" from a layer that is not below it (lib/$dir/ may use: ${allowed:-nothing})" >&2
                bad=1
                ;;
            esac
        fi
    done <"${TMPDIR:-/tmp}/cl.$$"
    rm -f "${TMPDIR:-/tmp}/cl.$$"
done
for f in cmd/*.c cmd/*.h; do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' |
        while read -r line inc; do
            [ "$inc" = cairn.h ] && continue
            [ -f "cmd/$inc" ] && continue
            echo "check-layers: $f:$line: the CLI includes \"$inc\"; it may use only cairn.h and cmd/ headers" >&2
            echo x
        done | grep -q x && bad=1
done
if [ $bad -ne 0 ]; then
    echo "check-layers: FAILED (see docs/DESIGN.md, \"Code layout\")" >&2
    exit 1
fi
echo "check-layers: lib/ includes only layers below each file, cmd/ only cairn.h"
