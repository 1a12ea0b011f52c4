#!/bin/sh
# in_doubt.sh - a pending operation whose claimer is gone is in doubt:
# status reports it (exit 0, loudly), the gates fail, `resolve` is refused
# while the claimer lives and accepted once it is gone.  The default claimer
# is the parent process of `cairn claim`.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "doubt", "run_id": "doubt-1",
 "operations": [
   {"id": "pre", "kind": "preflight"},
   {"id": "snap", "kind": "snapshot", "requires": ["artifact"]},
   {"id": "copy", "kind": "transfer"},
   {"id": "tidy", "kind": "task"}
 ]}
JSON
R=doubt-1
C=$CAIRN
expect 0 "$C" create "$T/plan.json" && out_is "$R"
expect 0 "$C" claim "$R" --holder-pid $$
expect 0 "$C" complete "$R" --op 0
expect 0 "$C" accept-preflight "$R" --id pf

# A holder that lives, then dies.
sleep 60 &
holder=$!
expect 0 "$C" claim "$R" --holder-pid "$holder" && out_is 1
status_is "$R" 's["in_doubt"] == [] and s["counts"]["pending"] == 1'
expect 2 "$C" resolve "$R" --op 1 --outcome completed --reason "too early" \
    --output artifact=x
err_has "not in doubt"
kill "$holder"
wait "$holder" 2>/dev/null
status_is "$R" 's["in_doubt"] == [1] and s["next_action"] == "resolve-in-doubt"'
status_is "$R" 's["state"] == "needs-attention" and s["stopped_reason"] == "in-doubt"'
expect 0 "$C" status "$R"
grep -q '^IN DOUBT: *#1 snap' "$T/out" || fail "text status: no IN DOUBT line"
err_has "in doubt"
expect 0 "$C" show "$R" && grep -q 'IN-DOUBT' "$T/out" ||
    fail "show: op not marked IN-DOUBT"
expect 3 "$C" status "$R" --require-no-attention
err_has "--require-no-attention not met"
expect 3 "$C" status "$R" --require-complete
expect 2 "$C" claim "$R" --holder-pid $$          # no silent re-run
expect 2 "$C" resolve "$R" --op 1 --reason x      # --outcome missing
expect 2 "$C" resolve "$R" --op 1 --outcome 'done' --reason x
expect 2 "$C" resolve "$R" --op 1 --outcome completed  # --reason missing
expect 2 "$C" resolve "$R" --op 1 --outcome skipped --class terminal \
    --reason x
expect 2 "$C" resolve "$R" --op 2 --outcome completed --reason x # not pending
expect 2 "$C" resolve "$R" --op 1 --outcome completed --reason x # no artifact
expect 0 "$C" resolve "$R" --op 1 --outcome completed \
    --reason "snapshot found by hand" --output artifact=/b/snap \
    --evidence seen=ls --actor bob
status_is "$R" 's["in_doubt"] == [] and s["counts"]["completed"] == 2 and s["state"] == "running"'
expect 0 "$C" show "$R" --op 1 -o json && cp "$T/out" "$T/op1.json"
json_is "$T/op1.json" '[r["type"] for r in j["records"]] == ["claim", "resolve"]'
json_is "$T/op1.json" 'j["records"][1]["actor"] == "bob" and j["records"][1]["outputs"] == {"artifact": "/b/snap"}'

# The default holder is the parent of `cairn claim`: here a shell that
# exits right after, so the claim is in doubt at once.
sh -c '"$1" claim "$2" >"$3" 2>/dev/null; echo $$ >"$4"' sh "$C" "$R" \
    "$T/claimed" "$T/shpid"
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/claimed")" = 2 ] || fail "default-holder claim printed $(cat "$T/claimed")"
status_is "$R" 's["in_doubt"] == [2]'
expect 0 "$C" log "$R" -o json && tail -n 1 "$T/out" >"$T/last.json"
json_is "$T/last.json" "j['type'] == 'claim' and j['holder_pid'] == $(cat "$T/shpid")"
expect 0 "$C" resolve "$R" --op 2 --outcome failed --class retryable \
    --reason "copy was cut short"
status_is "$R" 's["in_doubt"] == [] and s["counts"]["failed"] == 1'
expect 0 "$C" retry "$R" --op 2 --reason "copy again"
expect 0 "$C" claim "$R" --holder-pid $$ -o json &&
    out_is '{"seq":2,"id":"copy","attempt":2}'
expect 0 "$C" complete "$R" --op 2

# Cancel: afterwards only containment and cleanup claims.
expect 0 "$C" cancel "$R" --reason "operator stop"
status_is "$R" 's["state"] == "cancelled" and s["stopped_reason"] == "cancelled"'
expect 2 "$C" claim "$R" --holder-pid $$
expect 2 "$C" cancel "$R"
expect 3 "$C" status "$R" --require-complete
finish
