#!/bin/sh
# tree_checks.sh - the tree checks of make test catch what they are for:
# scripts/check-symbols.sh (libcairn.so exports exactly lib/symbols.txt)
# and scripts/check-docs.sh (every cited docs/DESIGN.md section exists).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
R=$CAIRN_ROOT
SO=$(dirname "$CAIRN")/libcairn.so
LIST=$R/lib/symbols.txt

# --- check-symbols -----------------------------------------------------------
expect 0 sh "$R/scripts/check-symbols.sh" "$SO" "$LIST"
out_is "check-symbols: $(grep -c '^cairn_' "$LIST") exported symbols match lib/symbols.txt"

# A listed function the library does not export, and an export not listed.
grep -v '^cairn_cancel$' "$LIST" >"$T/sym"
printf 'cairn_zz_gone\n' >>"$T/sym"
expect 1 sh "$R/scripts/check-symbols.sh" "$SO" "$T/sym"
err_has "exports differ from"
err_has "+cairn_cancel"
err_has "-cairn_zz_gone"

# Out of order or duplicated: refused before comparing.
{ cat "$LIST"; printf 'cairn_accept_preflight\n'; } >"$T/sym"
expect 1 sh "$R/scripts/check-symbols.sh" "$SO" "$T/sym"
err_has "is not sorted"
expect 2 sh "$R/scripts/check-symbols.sh" "$T/none.so" "$LIST"
err_has "no such library"

# --- check-docs --------------------------------------------------------------
expect 0 sh "$R/scripts/check-docs.sh"
grep -q "all present" "$T/out" || fail "check-docs: no summary line"

# A copy of the cited trees with one bad citation of each kind (the name
# is spelt in two pieces so that this file cites nothing itself).
D="DESIGN"".md"
mkdir -p "$T/tree/docs" "$T/tree/lib"
cp "$R/docs/$D" "$T/tree/docs/"
printf '/* see docs/%s section 3.2 */\n' "$D" >"$T/tree/lib/ok.c"
expect 0 sh "$R/scripts/check-docs.sh" "$T/tree"
out_is "check-docs: 1 section citation(s) of docs/$D, all present"
printf '/* docs/%s\n * section 99, and %s section 3 */\n' "$D" "$D" \
    >"$T/tree/lib/bad.c"
expect 1 sh "$R/scripts/check-docs.sh" "$T/tree"
err_has "lib/bad.c:2: cites docs/$D section 99, which does not exist"
err_has "lib/bad.c:2: cites \"$D\": write docs/$D"
err_has "2 bad citation(s)"
rm "$T/tree/docs/$D"
expect 1 sh "$R/scripts/check-docs.sh" "$T/tree"
err_has "no such file"

finish
