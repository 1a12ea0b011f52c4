#!/bin/sh
# hooks.sh - the hook fires for every transition, whoever makes it: each
# primitive (create, claim, complete, fail, retry, resolve,
# accept-preflight, cancel) and the runner's state changes, from --hook CMD
# or $CAIRN_HOOK, with the run's variables, CAIRN_TRANSITION, CAIRN_ACTOR,
# CAIRN_OP_SEQ/CAIRN_OP_ID and the JSON event in CAIRN_EVENT_JSON; --hook ''
# turns $CAIRN_HOOK off; a failed hook is a warning, not a failed command.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
LOG="$T/hook.log"
JLOG="$T/hook.jsonl"
# One line per call: transition state op-seq op-id actor; the JSON apart.
HOOK='printf "%s %s %s %s %s\n" "$CAIRN_TRANSITION" "$CAIRN_RUN_STATE" "${CAIRN_OP_SEQ:--}" "${CAIRN_OP_ID:--}" "$CAIRN_ACTOR" >>'"'$LOG'"'; printf "%s\n" "$CAIRN_EVENT_JSON" >>'"'$JLOG'"
# last_is TEXT: the hook's last line is TEXT.
last_is() {
    CHECKS=$((CHECKS + 1))
    got=$(tail -n 1 "$LOG" 2>/dev/null)
    [ "$got" = "$1" ] || fail "hook's last line is '$got', want '$1'"
}
lines() {
    if [ -f "$LOG" ]; then wc -l <"$LOG" | tr -d ' '; else echo 0; fi
}

cat >"$T/p.json" <<'EOF'
{"cairn_plan":1,"plan_id":"hp","run_id":"h1","operations":[
 {"id":"pf","kind":"preflight","run":["true"]},
 {"id":"t","kind":"task","run":["true"]},
 {"id":"u","kind":"task","run":["true"]}]}
EOF

# ---- every primitive fires $CAIRN_HOOK ---------------------------------------
export CAIRN_HOOK="$HOOK"
expect 0 "$C" create "$T/p.json"
last_is "create running - - cli-test"
expect 0 "$C" claim h1
last_is "claim running 0 pf cli-test"
expect 0 "$C" complete h1 --op 0
last_is "complete awaiting-preflight 0 pf cli-test"
expect 0 "$C" accept-preflight h1 --id pf-ok
last_is "accept-preflight running - - cli-test"
expect 0 "$C" claim h1
expect 0 "$C" fail h1 --op 1 --reason "disk full" --class retryable --actor alice
last_is "fail needs-attention 1 t alice"
expect 0 "$C" retry h1 --op 1 --reason "space freed" --actor alice
last_is "retry running 1 t alice"
sleep 0 &
dead=$!
wait "$dead"
expect 0 "$C" claim h1 --holder-pid "$dead"
last_is "claim needs-attention 1 t cli-test"
expect 0 "$C" resolve h1 --op 1 --outcome completed --reason "checked by hand"
last_is "resolve running 1 t cli-test"
expect 0 "$C" cancel h1 --reason "enough"
last_is "cancel cancelled - - cli-test"
CHECKS=$((CHECKS + 1))
[ "$(lines)" = 10 ] || fail "want 10 hook calls, got $(lines): $(cat "$LOG")"

# The JSON event of each: one object per line, the summary of the run then.
json_lines() {
    python3 -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if eval(sys.argv[2]) else 1)
' "$JLOG" "$1" || fail "hook JSON: not ($1): $(cat "$JLOG")"
    CHECKS=$((CHECKS + 1))
}
json_lines 'len(evs) == 10 and all(e["event"] == "state-change" and e["run_id"] == "h1" for e in evs)'
json_lines '[e["transition"] for e in evs] == ["create", "claim", "complete", "accept-preflight", "claim", "fail", "retry", "claim", "resolve", "cancel"]'
json_lines 'evs[5]["actor"] == "alice" and evs[5]["op"]["seq"] == 1 and evs[5]["op"]["state"] == "failed" and evs[5]["summary"]["counts"]["failed"] == 1'
json_lines 'evs[9]["op"] is None and evs[9]["state"] == "cancelled" and evs[9]["summary"]["state"] == "cancelled"'

# ---- --hook CMD wins over $CAIRN_HOOK; --hook '' turns it off -------------------
sed 's/"h1"/"h2"/' "$T/p.json" >"$T/p2.json"
expect 0 "$C" create "$T/p2.json" --hook ''
CHECKS=$((CHECKS + 1))
[ "$(lines)" = 10 ] || fail "--hook '' still ran \$CAIRN_HOOK"
expect 0 "$C" claim h2 --hook "echo \"\$CAIRN_TRANSITION \$CAIRN_RUN_ID\" >'$T/other.log'"
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/other.log" 2>/dev/null)" = "claim h2" ] || fail "--hook CMD did not run"
[ "$(lines)" = 10 ] || fail "--hook CMD did not replace \$CAIRN_HOOK"

# ---- a failed hook is a warning: the transition stands ----------------------------
expect 0 "$C" complete h2 --op 0 --hook 'echo broken >&2; exit 3'
err_has "warning: hook: exit status 3: broken"
status_is h2 's["counts"]["completed"] == 1'

# ---- the runner's state changes fire the same hook ----------------------------------
sed 's/"h1"/"h3"/' "$T/p.json" >"$T/p3.json"
expect 0 "$C" run "$T/p3.json"
grep -q '^run completed - - ' "$LOG" || fail "runner: no 'run completed' hook line: $(cat "$LOG")"
json_lines 'evs[-1]["transition"] == "run" and evs[-1]["run_id"] == "h3" and evs[-1]["state"] == "completed" and evs[-1]["summary"]["counts"]["completed"] == 3'
unset CAIRN_HOOK

finish
