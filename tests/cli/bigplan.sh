#!/bin/sh
# bigplan.sh - a plan of 100,000 operations end to end (issue 15 item 3,
# docs/FORMAT.md 23.7): a plan file of several MiB (over the old 1 MiB and
# 4,096-operation caps) is created as one run, stored once; its preflight
# accepted, a few operations claimed and receipted through the CLI
# primitives; `status` (which reads the run summary and the few rows it
# names, 23.6) answers; `verify RUN`, `verify --all`, `export --bundle`,
# `verify-bundle` and `import` take its CREATE record of more than 4 MiB;
# on a plan of more than 4,096 operations `status` counts failed
# operations it does not name.  Then `cairn run` of a generated plan of
# many trivial operations.  No timing is asserted.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
R=big-1
N=100000

# pf (preflight), stop-db, t2 .. t99997 (tasks), start-db, clean (cleanup)
python3 - "$N" "$R" >"$T/plan.json" <<'PY'
import json, sys
n, run = int(sys.argv[1]), sys.argv[2]
ops = [{"id": "pf", "kind": "preflight", "run": ["true"]},
       {"id": "stop-db", "kind": "stop", "target": "db", "run": ["true"]}]
ops += [{"id": "t%d" % i, "kind": "task", "run": ["true"]}
        for i in range(2, n - 2)]
ops += [{"id": "start-db", "kind": "start", "target": "db", "run": ["true"]},
        {"id": "clean", "kind": "cleanup", "run": ["true"]}]
json.dump({"cairn_plan": 1, "plan_id": "big", "run_id": run,
           "description": "x" * 2048, "operations": ops}, sys.stdout)
PY
CHECKS=$((CHECKS + 1))
[ "$(wc -c <"$T/plan.json")" -gt 4194304 ] || fail "the plan file is not over 4 MiB"

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.key" --no-password
CAIRN_SECRET_KEY=$T/k.key
export CAIRN_SECRET_KEY

phase() { echo "== $1 at $(date +%s)"; }
phase start

# --- create: one run, its plan stored once -----------------------------
expect 0 "$C" create "$T/plan.json" && out_is "$R"
status_is "$R" 's["total"] == 100000 and s["records"] == 1'
status_is "$R" 's["counts"]["blocked"] == 99999 and s["counts"]["ready"] == 1'
status_is "$R" 's["next"]["seq"] == 0 and s["next"]["id"] == "pf"'
expect 2 "$C" create "$T/plan.json" # the run id is taken

phase "a few operations"
# --- a few operations through the primitives ---------------------------
expect 0 "$C" claim "$R" --op 0 --holder-pid $$
expect 0 "$C" complete "$R" --op 0
expect 0 "$C" accept-preflight "$R" --id pf-ok
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 1
expect 0 "$C" complete "$R" --op 1
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 2
expect 0 "$C" complete "$R" --op 2
expect 0 "$C" claim "$R" --op 3 --holder-pid $$
status_is "$R" 's["counts"] == {"blocked": 0, "ready": 99996, "pending": 1, "completed": 3, "failed": 0, "skipped": 0}'
status_is "$R" 's["next"] == {"seq": 3, "id": "t3", "kind": "task", "state": "pending", "attempt": 1}'
status_is "$R" 's["restart_required"] and s["restart_targets"] == ["db"]'
status_is "$R" 's["last_contiguous_seq"] == 2 and s["last_attempted_seq"] == 3'
status_is "$R" 's["records"] == 9 and s["state"] == "running"'
expect 0 "$C" status "$R"
grep -q '^progress:    3/100000 done (3 completed, 0 skipped), 0 failed, 1 pending, 99996 ready, 0 blocked$' "$T/out" ||
    fail "status progress line: $(grep progress "$T/out")"
grep -q '^next:        #3 t3 (task) pending, attempt 1$' "$T/out" ||
    fail "status next line: $(grep next: "$T/out")"
expect 0 "$C" complete "$R" --op 3

phase "verify, bundle, import"
# --- verify, bundle, import ---------------------------------------------
expect 0 "$C" verify "$R" --key "$T/k.pub"
expect 0 "$C" verify --all --key "$T/k.pub"
expect 0 "$C" export "$R" --bundle "$T/big.bundle"
expect 0 "$C" verify-bundle "$T/big.bundle" --key "$T/k.pub"
phase "cairn run of many"
# --- cairn run of many trivial operations (another journal) -----------
python3 - >"$T/many.json" <<'PY'
import json, sys
ops = [{"id": "t%d" % i, "kind": "task", "run": ["true"]} for i in range(200)]
json.dump({"cairn_plan": 1, "plan_id": "many", "run_id": "many-1",
           "operations": ops}, sys.stdout)
PY
expect 0 "$C" -J "$T/other" run "$T/many.json"
expect 0 "$C" -J "$T/other" status many-1 --require-complete
expect 0 "$C" -J "$T/other" verify many-1 --key "$T/k.pub"
expect 0 "$C" -J "$T/other" import "$T/big.bundle" --key "$T/k.pub"
expect 0 "$C" -J "$T/other" status "$R" -o json
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["imported"] and s["total"] == 100000, s
assert s["counts"]["completed"] == 4, s["counts"]' "$T/out" ||
    fail "the imported run's status"
CHECKS=$((CHECKS + 1))

phase "failed operations"
# --- failed operations status does not name -----------------------------
expect 0 "$C" claim "$R" --op 4 --holder-pid $$
expect 0 "$C" fail "$R" --op 4 --class terminal --reason "t4 broke"
expect 0 "$C" claim "$R" --cleanup --holder-pid $$ && out_is $((N - 1))
expect 0 "$C" fail "$R" --op $((N - 1)) --class terminal --reason "clean broke"
status_is "$R" 's["state"] == "failed" and s["counts"]["failed"] == 2'
expect 0 "$C" status "$R"
grep -q '^failed:      #4 t4 (task), attempt 1: t4 broke$' "$T/out" ||
    fail "status names the failed next operation"
grep -q '^failed:      1 more failed operation: `cairn show big-1` lists every operation$' "$T/out" ||
    fail "status counts the other failed operation"
CHECKS=$((CHECKS + 2))
if grep -q 'clean broke' "$T/out"; then
    fail "status read a row it does not name"
fi
expect 0 "$C" verify "$R" --key "$T/k.pub"

phase end
finish
