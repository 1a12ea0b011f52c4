#!/bin/sh
# aging.sh - issue 17's "done when": a journal aged through hundreds of
# runs of several plans (with failures, held and in-doubt runs) is pruned
# by each rule in turn (state, keep-last per plan, keep-within with
# keep-failed-within, max-journal-size), compacted, and one archived
# bundle is imported into another journal; after every step `verify --all`
# is VERIFIED, and at the end every removed run is accounted for: each
# has a tombstone (pruned-before), a bundle that verifies and is tied to
# its tombstone (verify-bundle -J), and the runs never prunable (held,
# in doubt) are still there.
#
# $CAIRN_AGING_RUNS runs (default 200) are made with `cairn run` (one
# process per run); the ages come from a test clock
# (CAIRN_TEST_PRUNE_NOW), so nothing waits for days.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
N=${CAIRN_AGING_RUNS:-200}
KEEP=$((N / 15))

expect 0 "$C" keygen -p "$T/pub" -s "$T/sec" --no-password
export CAIRN_SECRET_KEY="$T/sec"
A="$T/archive"
mkdir -p "$A"
HAVE_HOLD=0
"$C" help hold >/dev/null 2>&1 && HAVE_HOLD=1
HAVE_IMPORT=0
"$C" help import >/dev/null 2>&1 && HAVE_IMPORT=1

# Three plans: nightly and hourly succeed, hourly fails one run in five;
# weekly is rare.
for p in nightly hourly weekly; do
    printf '{"cairn_plan": 1, "plan_id": "%s", "operations": [{"id": "op", "kind": "task", "run": ["true"]}]}\n' $p >"$T/$p.json"
done
printf '{"cairn_plan": 1, "plan_id": "hourly", "operations": [{"id": "op", "kind": "task", "run": ["false"]}]}\n' >"$T/hourly-fail.json"
sh -c 'echo $$' >"$T/dead.pid"
DEAD=$(cat "$T/dead.pid")

# age FROM TO: runs FROM..TO of the three plans.
age() {
    i=$1
    while [ "$i" -le "$2" ]; do
        case $((i % 10)) in
        0) plan=weekly ;;
        1 | 3 | 5 | 7 | 9) plan=hourly ;;
        *) plan=nightly ;;
        esac
        f="$T/$plan.json"
        [ $plan = hourly ] && [ $((i % 5)) = 3 ] && f="$T/hourly-fail.json"
        "$C" run "$f" -q >/dev/null 2>"$T/run.err"
        rc=$?
        if [ $rc -ne 0 ] && [ "$f" != "$T/hourly-fail.json" ]; then
            fail "run $i ($plan): exit $rc: $(cat "$T/run.err")"
        fi
        i=$((i + 1))
    done
}
# doubt ID: a run whose operation is in doubt (its claimer is gone).
doubt() {
    printf '{"cairn_plan": 1, "plan_id": "nightly", "run_id": "%s", "operations": [{"id": "op", "kind": "task"}]}\n' "$1" >"$T/d.json"
    expect 0 "$C" create "$T/d.json"
    expect 0 "$C" accept-preflight "$1" --id pf
    expect 0 "$C" claim "$1" --holder-pid "$DEAD"
}
OLD=$((N * 2 / 3))
age 1 "$OLD"
doubt doubt-1
doubt doubt-2
sleep 1
T1=$(python3 -c 'import time; print(time.time_ns())')
sleep 1
age $((OLD + 1)) "$N"
doubt doubt-3
DAY=86400000000000
export CAIRN_TEST_PRUNE_NOW=$((T1 + 10 * DAY))

# Hold the three oldest runs (never pruned, whatever the rules say).
HELD=""
if [ "$HAVE_HOLD" = 1 ]; then
    HELD=$("$C" list -o json | python3 -c '
import json, sys
print(" ".join(r["run_id"] for r in json.load(sys.stdin)[:3]))')
    for r in $HELD; do
        expect 0 "$C" hold "$r" --reason "legal hold"
    done
fi
expect 0 "$C" verify --all --key "$T/pub"

P() {
    "$C" prune --archive "$A" --reason "aging test" -o json "$@"
}
pruned_now() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pruned"])' "$T/out"
}

# 1. Old failed runs (failed runs that ended before T1: > 10 days).
expect 0 P --state failed --keep-failed-within 10d
json_is "$T/out" 'j["pruned"] > 0 and j["skipped"] == 0'
json_is "$T/out" 'all(r["state"] == "failed" for r in j["plan"]["runs"])'
expect 0 "$C" verify --all --key "$T/pub"
# 2. keep-last per plan: at most N/15 ended runs of each plan stay.
expect 0 P --keep-last "$KEEP" --dry-run
H=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan_sha256"])' "$T/out")
expect 0 P --keep-last "$KEEP" --confirm "$H"
json_is "$T/out" 'j["pruned"] > 0 and j["skipped"] == 0'
json_is "$T/out" 'len({r["plan_id"] for r in j["plan"]["runs"]}) >= 2'
expect 0 "$C" verify --all --key "$T/pub"
# 3. keep-within 10d: every old run left goes (but held and in doubt).
expect 0 P --keep-within 10d
json_is "$T/out" 'j["skipped"] == 0'
json_is "$T/out" 'all(r["action"] != "keep" or r["why"].startswith("keep-within") for r in j["runs"])'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["doubt-1"].startswith("in doubt")'
for r in $HELD; do
    json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["'"$r"'"].startswith("held")'
done
expect 0 "$C" verify --all --key "$T/pub"
# 4. max-journal-size: half of what is left, oldest first.
expect 0 P --max-journal-size 0 --dry-run
HALF=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record_bytes"] // 2)' "$T/out")
expect 0 P --max-journal-size "$HALF"
json_is "$T/out" 'j["pruned"] > 0 and j["record_bytes_after"] <= '"$HALF"
expect 0 "$C" verify --all --key "$T/pub"
# A rerun of every rule is a no-op.
expect 0 P --keep-last "$KEEP" --keep-within 10d --max-journal-size "$HALF"
json_is "$T/out" 'j["pruned"] == 0 and j["plan"]["runs"] == []'

# Compact, then verify again.
unset CAIRN_TEST_PRUNE_NOW
expect 0 "$C" compact
expect 0 "$C" verify --all --key "$T/pub"
cp "$T/out" "$T/verify.txt"

# Every removed run is accounted for.
expect 0 "$C" prune --archive "$A" --reason check --keep-last 1 --dry-run -o json
cp "$T/out" "$T/final.json"
JID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["journal_id"])' "$T/final.json")
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(r["run_id"] for r in j["runs"] if r["action"] == "pruned-before"))' "$T/final.json" >"$T/pruned.txt"
NPRUNED=$(wc -w <"$T/pruned.txt")
NBUNDLES=$(ls "$A/$JID" | grep -c '\.cairn$')
CHECKS=$((CHECKS + 1))
[ "$NPRUNED" -gt $((N / 2)) ] || fail "only $NPRUNED of $N runs were pruned"
CHECKS=$((CHECKS + 1))
[ "$NPRUNED" = "$NBUNDLES" ] || fail "$NPRUNED runs pruned, $NBUNDLES bundles"
json_is "$T/final.json" 'len(j["runs"]) == '"$((N + 3))"
for r in $(cat "$T/pruned.txt"); do
    "$C" verify-bundle "$A/$JID/$r.cairn" --key "$T/pub" -J "$CAIRN_DIR" \
        >"$T/vb.out" 2>&1 || fail "bundle of $r: $(tail -3 "$T/vb.out")"
done
CHECKS=$((CHECKS + 1))
for r in doubt-1 doubt-2 doubt-3 $HELD; do
    json_is "$T/final.json" '{r["run_id"]: r["action"] for r in j["runs"]}["'"$r"'"] == "not-prunable"'
done

# One archived run, imported into another journal, reads and verifies.
if [ "$HAVE_IMPORT" = 1 ]; then
    first=$(cut -d' ' -f1 "$T/pruned.txt")
    expect 0 "$C" -J "$T/other" run "$T/weekly.json" -q # makes the journal
    expect 0 "$C" -J "$T/other" import "$A/$JID/$first.cairn" --key "$T/pub"
    expect 0 "$C" -J "$T/other" status "$first"
    expect 0 "$C" -J "$T/other" verify --all --key "$T/pub"
fi
finish
