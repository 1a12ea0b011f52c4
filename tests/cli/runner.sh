#!/bin/sh
# runner.sh - `cairn run` and `cairn resume` without signals: the run id
# on stdout, progress lines, --json events, --quiet, exit codes (0, 1, 2,
# 7), the summary, --max-steps, --manual-accept, --hook, --dry-run, the
# deadline, usage errors.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
OP="$CAIRN_ROOT/tests/runner/op.sh"
D="$T/work"
mkdir -p "$D"

# plan FILE RUN_ID OPS...: write a plan whose operations are the JSON
# objects OPS (joined with commas).
plan() {
    f=$1
    r=$2
    shift 2
    ops=""
    for o in "$@"; do
        ops="${ops:+$ops,}$o"
    done
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[%s]}\n' \
        "$r" "$ops" >"$f"
}
# op ID KIND [EXTRA_JSON] ACTION ARGS...: one operation running op.sh.
op() {
    id=$1
    kind=$2
    extra=$3
    shift 3
    argv="\"sh\",\"$OP\",\"$D\",\"$id\""
    for a in "$@"; do
        argv="$argv,\"$a\""
    done
    printf '{"id":"%s","kind":"%s",%s"run":[%s]}' "$id" "$kind" "$extra" \
        "$argv"
}
effects() {
    if [ -f "$D/effects-$1" ]; then wc -l <"$D/effects-$1" | tr -d ' '; else echo 0; fi
}

# ---- a plan that completes -------------------------------------------------
plan "$T/ok.json" ok-1 \
    "$(op check preflight '' ok)" \
    "$(op stop-db stop '"target":"db",' ok)" \
    "$(op snap snapshot '"target":"db","requires":["artifact"],' out artifact=/b/x)" \
    "$(op start-db start '"target":"db",' ok)" \
    "$(op tidy cleanup '' ok)"
expect 0 "$C" run "$T/ok.json"
[ "$(head -n1 "$T/out")" = "ok-1" ] || fail "run id not first on stdout"
[ "$(wc -l <"$T/out" | tr -d ' ')" = 1 ] || fail "stdout has more than the run id"
err_has "[  3/5] snap (snapshot db) attempt 1 ... completed"
err_has "preflight accepted (id auto-ok-1)"
err_has "state:       completed"
grep -v 'warning' "$T/err" | grep -q '^cairn: ' && fail "completed run printed an error: $(cat "$T/err")"
status_is ok-1 's["state"] == "completed" and s["restart_required"] == False'
[ "$(effects snap)" = 1 ] || fail "snap ran $(effects snap) times"
expect 0 "$C" show ok-1 --op 2 -o json && cp "$T/out" "$T/op2.json"
json_is "$T/op2.json" 'j["records"][-1]["outputs"] == {"artifact": "/b/x"}'
json_is "$T/op2.json" 'j["records"][-1]["evidence"]["exit_code"] == "0"'

# A second run of the same plan is refused and touches nothing.
expect 2 "$C" run "$T/ok.json"
err_has "run ok-1 exists: use cairn resume ok-1"
expect 3 "$C" resume ok-1
err_has "already complete"

# The capture idiom of the documentation.
plan "$T/cap.json" cap-1 "$(op a task '' ok)"
run_id=$("$C" run "$T/cap.json" 2>/dev/null | head -n1)
[ "$run_id" = cap-1 ] || fail "captured run id '$run_id'"

# ---- --json and --quiet ---------------------------------------------------
plan "$T/js.json" js-1 "$(op a task '' ok)" "$(op b task '' fail 3)"
expect 1 "$C" run "$T/js.json" --json
python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$T/out" ||
    fail "--json: a line is not JSON"
python3 - "$T/out" <<'PY' || fail "--json events: $(cat "$T/out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds.count("op-start") == 2 and kinds.count("op-end") == 2, kinds
end = [e for e in ev if e["event"] == "op-end"]
assert end[0]["id"] == "a" and end[0]["outcome"] == "completed"
assert end[0]["exit_code"] == 0 and isinstance(end[0]["duration_ms"], int)
assert end[1]["outcome"] == "failed" and end[1]["class"] == "terminal"
assert end[1]["exit_code"] == 3 and end[1]["reason"] == "exit status 3"
s = ev[-1]
assert s["event"] == "summary" and s["run_id"] == "js-1"
for k in ("plan_id", "plan_hash", "state", "counts", "next", "restart_required",
          "restart_targets", "in_doubt", "stopped_reason", "next_action"):
    assert k in s, k
assert s["state"] == "failed" and s["result"] == "CAIRN_EFAILED"
assert s["exit_code"] == 1
PY
err_has "operation 1 (b) failed: exit status 3"

plan "$T/q.json" q-1 "$(op a task '' ok)"
expect 0 "$C" run "$T/q.json" --quiet
out_is q-1
grep -q '^\[' "$T/err" && fail "--quiet printed progress"
err_has "state:       completed"

# ---- failures ---------------------------------------------------------------
# Terminal: containment starts db, cleanup runs, exit 1.
plan "$T/term.json" term-1 \
    "$(op t-stop stop '"target":"db",' ok)" \
    "$(op t-snap snapshot '' fail 4)" \
    "$(op t-start start '"target":"db",' ok)" \
    "$(op t-tidy cleanup '' ok)"
expect 1 "$C" run "$T/term.json"
err_has "[containment] attempt 1 ... completed"
err_has "[cleanup] attempt 1 ... completed"
err_has "restart:     not required"
status_is term-1 's["state"] == "failed" and s["restart_required"] == False'

# Retryable, attempts used up: needs an operator, exit 7.
plan "$T/rt.json" rt-1 "$(op r task '"retry":{"attempts":2,"backoff":"10ms","exit_codes":[75]},' fail 75)"
expect 7 "$C" run "$T/rt.json"
err_has "retrying in"
err_has "no attempts left"
status_is rt-1 's["state"] == "needs-attention" and s["next_action"] == "retry-failed"'
[ "$(effects r)" = 2 ] || fail "r ran $(effects r) times"

# Command not found: terminal.
printf '{"cairn_plan":1,"plan_id":"p","run_id":"nf-1","operations":[{"id":"x","kind":"task","run":["cairn-no-such-cmd"]}]}' >"$T/nf.json"
expect 1 "$C" run "$T/nf.json"
err_has "cairn-no-such-cmd: command not found"

# Deadline: timed out, exit 1.
printf '{"cairn_plan":1,"plan_id":"p","run_id":"dl-1","deadline":"300ms","operations":[%s]}' \
    "$(op dl task '' slow 5)" >"$T/dl.json"
expect 1 "$C" run "$T/dl.json"
err_has "run deadline exceeded"
status_is dl-1 's["state"] == "timed-out"'

# ---- steps, preflight, hooks, dry run ------------------------------------------
plan "$T/ms.json" ms-1 "$(op m1 task '' ok)" "$(op m2 task '' ok)" "$(op m3 task '' ok)"
expect 0 "$C" run "$T/ms.json" --max-steps 1
err_has "cairn resume ms-1"
status_is ms-1 's["state"] == "running" and s["next_action"] == "resume" and s["counts"]["completed"] == 1'
expect 0 "$C" resume ms-1 --max-steps 1
status_is ms-1 's["counts"]["completed"] == 2'
expect 0 "$C" resume ms-1
status_is ms-1 's["state"] == "completed"'

plan "$T/ma.json" ma-1 "$(op ma-pre preflight '' ok)" "$(op ma-op task '' ok)"
expect 7 "$C" run "$T/ma.json" --manual-accept
err_has "cairn accept-preflight ma-1"
status_is ma-1 's["state"] == "awaiting-preflight"'
expect 0 "$C" accept-preflight ma-1 --id reviewed --reason "looked fine"
expect 0 "$C" resume ma-1
status_is ma-1 's["state"] == "completed" and s["preflight_id"] == "reviewed"'

plan "$T/hk.json" hk-1 "$(op h task '' ok)"
expect 0 "$C" run "$T/hk.json" --hook "env | grep '^CAIRN_' >> '$T/hook.log'; echo >> '$T/hook.log'"
grep -q '^CAIRN_RUN_STATE=completed$' "$T/hook.log" || fail "hook: no completed state"
grep -q '^CAIRN_RUN_ID=hk-1$' "$T/hook.log" || fail "hook: no run id"
grep -q '^CAIRN_RESTART_REQUIRED=0$' "$T/hook.log" || fail "hook: restart flag"
plan "$T/hf.json" hf-1 "$(op h2 task '' ok)"
expect 0 "$C" run "$T/hf.json" --hook "exit 9"
err_has "warning: hook: exit status 9"

# A dry run writes nothing, not even the journal directory.
NEW="$T/fresh-journal"
plan "$T/dry.json" dry-1 "$(op dry task '"timeout":"10m",' ok)"
expect 0 "$C" -J "$NEW" run "$T/dry.json" --dry-run
grep -q 'dry (task):.*op.sh.*; timeout 10m00s' "$T/out" || fail "dry run line: $(cat "$T/out")"
[ -e "$NEW" ] && fail "dry run created $NEW"
[ "$(effects dry)" = 0 ] || fail "dry run ran the command"
expect 0 "$C" run "$T/dry.json" --dry-run --json
json_is "$T/out" 'j["event"] == "dry-run" and j["argv"][0] == "sh" and j["timeout_ms"] == 600000'

# ---- usage -------------------------------------------------------------------
expect 2 "$C" run
expect 2 "$C" run "$T/ok.json" --max-steps 0
expect 2 "$C" run "$T/ok.json" --shutdown-timeout soon
expect 2 "$C" resume ms-1 --manual-accept
expect 2 "$C" resume ms-1 --dry-run
expect 2 "$C" resume no-such-run
err_has "no such run"
printf '{"cairn_plan":1,"plan_id":"p","operations":[{"id":"x","kind":"nope"}]}' >"$T/bad.json"
expect 2 "$C" run "$T/bad.json"
err_has "operations[0].kind"
printf '{"cairn_plan":1,"plan_id":"p","run_id":"nc-1","operations":[{"id":"x","kind":"task"}]}' >"$T/nc.json"
expect 2 "$C" run "$T/nc.json"
err_has 'no "run" command'
expect 0 "$C" help run
expect 0 "$C" run --help

finish
