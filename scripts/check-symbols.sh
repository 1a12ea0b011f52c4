#!/bin/sh
# Compare the symbols a built libcairn.so exports with lib/symbols.txt.
# Usage: sh scripts/check-symbols.sh [LIBCAIRN.so] [SYMBOLS.txt]
# (defaults build/libcairn.so, lib/symbols.txt).  Exact match: a symbol
# exported but not listed (a missing -fvisibility=hidden, a CAIRN_API added
# without updating the list) or listed but not exported (a removed or
# renamed function) fails, with a diff (- listed only, + exported only).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
so=${1:-$root/build/libcairn.so}
list=${2:-$root/lib/symbols.txt}
if [ ! -f "$so" ]; then
    echo "check-symbols: $so: no such library (run make first)" >&2
    exit 2
fi
if [ ! -f "$list" ]; then
    echo "check-symbols: $list: no such file" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Defined dynamic symbols, names only; a sanitizer runtime linked into the
# library would show up here too, and then it is a difference worth seeing.
if ! nm -D --defined-only "$so" >"$tmp/nm"; then
    echo "check-symbols: nm -D --defined-only $so failed" >&2
    exit 2
fi
awk 'NF { print $NF }' "$tmp/nm" | LC_ALL=C sort -u >"$tmp/exported"
grep -v -e '^#' -e '^[[:space:]]*$' "$list" | LC_ALL=C sort -u >"$tmp/listed"
if ! grep -v -e '^#' -e '^[[:space:]]*$' "$list" | LC_ALL=C sort -cu 2>/dev/null; then
    echo "check-symbols: $list is not sorted (LC_ALL=C sort) or has duplicates" >&2
    exit 1
fi
if diff -u "$tmp/listed" "$tmp/exported" >"$tmp/diff"; then
    echo "check-symbols: $(wc -l <"$tmp/listed") exported symbols match ${list#"$root"/}"
    exit 0
fi
echo "check-symbols: ${so#"$root"/} exports differ from ${list#"$root"/}" >&2
echo "  (- listed but not exported, + exported but not listed)" >&2
tail -n +3 "$tmp/diff" | grep '^[-+]' | sed 's/^/  /' >&2
exit 1
