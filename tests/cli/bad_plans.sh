#!/bin/sh
# bad_plans.sh - `create` of an invalid plan exits 2 with "cairn: PLAN: ..."
# and writes nothing: `list` is unchanged, and a journal directory that did
# not exist is not created.  Uses tests/plans/bad/*.json and a few plans
# of its own.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

mkdir "$T/bad"
printf '' >"$T/bad/empty.json"
printf '{"cairn_plan": 1, "plan_id": "x", "operations": [' >"$T/bad/truncated.json"
cat >"$T/bad/unknown-key.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "x", "colour": "red",
 "operations": [{"id": "a", "kind": "task"}]}
JSON
cat >"$T/bad/unknown-kind.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "x",
 "operations": [{"id": "a", "kind": "teleport"}]}
JSON
cat >"$T/bad/mutating-first.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "x",
 "operations": [{"id": "a", "kind": "task"}, {"id": "b", "kind": "preflight"}]}
JSON
cat >"$T/bad/start-without-stop.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "x",
 "operations": [{"id": "a", "kind": "start", "target": "db"}]}
JSON
cat >"$T/bad/duplicate-id.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "x",
 "operations": [{"id": "a", "kind": "task"}, {"id": "a", "kind": "task"}]}
JSON

# A fresh directory stays absent after a rejected create.
expect 2 "$C" -J "$T/never" create "$T/bad/unknown-kind.json"
err_has "cairn: $T/bad/unknown-kind.json: "
CHECKS=$((CHECKS + 1))
[ ! -e "$T/never" ] || fail "rejected create made the journal directory"

# A journal with one good run; its list must not change.
cat >"$T/good.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "good", "run_id": "good-1",
 "operations": [{"id": "a", "kind": "task"}]}
JSON
expect 0 "$C" create "$T/good.json"
expect 0 "$C" list && cp "$T/out" "$T/list.before"
expect 0 "$C" list -o json && cp "$T/out" "$T/list.before.json"

n=0
for plan in "$T"/bad/*.json "$CAIRN_ROOT"/tests/plans/bad/*.json; do
    [ -f "$plan" ] || continue
    n=$((n + 1))
    expect 2 "$C" create "$plan" || continue
    err_has "cairn: $plan: "
    CHECKS=$((CHECKS + 1))
    [ ! -s "$T/out" ] || fail "$plan: create printed '$(cat "$T/out")'"
done
echo "$n bad plans"
expect 0 "$C" list && CHECKS=$((CHECKS + 1)) &&
    { cmp -s "$T/out" "$T/list.before" || fail "list changed"; }
expect 0 "$C" list -o json && CHECKS=$((CHECKS + 1)) &&
    { cmp -s "$T/out" "$T/list.before.json" || fail "list -o json changed"; }

# Plan from standard input; a missing file is an I/O error (exit 1).
expect 2 "$C" create - <"$T/bad/unknown-key.json"
err_has "cairn: -: "
sed 's/good-1/good-2/' "$T/good.json" | "$C" create - >"$T/out" 2>"$T/err"
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/out")" = good-2 ] || fail "create - printed '$(cat "$T/out")'"
expect 1 "$C" create "$T/no-such-plan.json"
err_has "cairn: $T/no-such-plan.json: "
finish
