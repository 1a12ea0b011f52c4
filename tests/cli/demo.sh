#!/bin/sh
# demo.sh - the main-job demo (examples/demo.sh) as a CI check: it must
# exit 0 within 300 s (generous: CI shares a loaded 2-core machine), say VERIFIED and pass its restore check, and leave
# no process and no directory behind.  Also: the committed example plans
# are the templates rendered for /tmp/cairn-demo, and cairn accepts them.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
EX=$CAIRN_ROOT/examples

# --- the committed plans ---------------------------------------------------
for p in backup restore; do
    CHECKS=$((CHECKS + 1))
    sed 's|@DEMO@|/tmp/cairn-demo|g' "$EX/$p.json.in" >"$T/$p.json"
    cmp -s "$T/$p.json" "$EX/$p.json" ||
        fail "examples/$p.json is not examples/$p.json.in rendered for" \
            "/tmp/cairn-demo (regenerate it with sed)"
    expect 0 "$C" create "$EX/$p.json" || continue
    R=$(cat "$T/out")
    status_is "$R" "s['plan_id'] == 'demo-$p' and s['counts']['ready'] == 4"
done
for f in svc preflight snapshot transfer manifest cleanup restore demo.sh; do
    CHECKS=$((CHECKS + 1))
    sh -n "$EX/$f" || fail "examples/$f: sh -n: syntax error"
done

# --- the demo ----------------------------------------------------------------
# Its mktemp directory goes below $T, so that leftovers can be found.
mkdir "$T/tmp"
CHECKS=$((CHECKS + 1))
TMPDIR=$T/tmp timeout -k 10 300 sh "$EX/demo.sh" "$C" >"$T/demo.out" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
    fail "examples/demo.sh exited $rc (124: timed out)"
    tail -n 80 "$T/demo.out" | sed 's/^/    demo: /' >&2
fi
for line in '== 1. ' 'VERIFIED' 'the probe found the complete archive' \
    'restore check: restored tree identical to the data at backup time' \
    'demo: OK'; do
    CHECKS=$((CHECKS + 1))
    grep -q -F -- "$line" "$T/demo.out" || fail "demo output lacks '$line'"
done
CHECKS=$((CHECKS + 1))
grep -q 'FAILED' "$T/demo.out" && fail "demo output says FAILED"

# Nothing left: no process started from the demo directory, no file.
CHECKS=$((CHECKS + 1))
left=
for f in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -q -F "$T/tmp/"; then
        p=${f#/proc/}
        left="$left ${p%/cmdline}"
    fi
done
[ -z "$left" ] || fail "processes left by the demo:$left"
CHECKS=$((CHECKS + 1))
[ -z "$(ls -A "$T/tmp")" ] || fail "the demo left $(ls -A "$T/tmp")"
finish
