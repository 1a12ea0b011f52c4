#!/bin/sh
# holds.sh - cairn hold / release (issue 17 item 2): signed HOLD and
# RELEASE records in every run state, refused double holds and releases
# (exit 2, nothing written), --until, `list --held`, and how status, show,
# log and verify show them.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
export CAIRN_SECRET_KEY="$T/k.sec"

plan() {
    printf '{"cairn_plan": 1, "plan_id": "p", "run_id": "%s",\n "operations": [%s]}\n' \
        "$1" "$2" >"$T/$1.json"
}
TASK='{"id": "work", "kind": "task", "run": ["true"]}'
PRE='{"id": "check", "kind": "preflight", "run": ["true"]}, '"$TASK"

# One run in each state.
plan awaiting "$PRE"
expect 0 "$C" create "$T/awaiting.json"
expect 0 "$C" claim awaiting --op 0 --holder-pid $$
expect 0 "$C" complete awaiting --op 0
plan running "$TASK"
expect 0 "$C" create "$T/running.json"
expect 0 "$C" accept-preflight running --id none
plan completed "$TASK"
expect 0 "$C" create "$T/completed.json"
expect 0 "$C" accept-preflight completed --id none
expect 0 "$C" claim completed --op 0 --holder-pid $$
expect 0 "$C" complete completed --op 0
plan failed "$TASK"
expect 0 "$C" create "$T/failed.json"
expect 0 "$C" accept-preflight failed --id none
expect 0 "$C" claim failed --op 0 --holder-pid $$
expect 0 "$C" fail failed --op 0 --reason "disk full" --class terminal
plan attention "$TASK"
expect 0 "$C" create "$T/attention.json"
expect 0 "$C" accept-preflight attention --id none
expect 0 "$C" claim attention --op 0 --holder-pid $$
expect 0 "$C" fail attention --op 0 --reason flaky --class retryable
plan cancelled "$TASK"
expect 0 "$C" create "$T/cancelled.json"
expect 0 "$C" cancel cancelled --reason "not today"
plan timedout "$TASK"
expect 0 "$C" create "$T/timedout.json"
expect 0 "$C" cancel timedout --timed-out --reason "deadline"

data_sum() { sha256sum "$CAIRN_DIR/data.mdb" | cut -d' ' -f1; }

for r in awaiting running completed failed attention cancelled timedout; do
    state=$("$C" status "$r" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    expect 0 "$C" hold "$r" --reason "legal hold $r" --actor carol
    status_is "$r" "s['held'] and s['hold']['reason'] == 'legal hold $r' and s['hold']['actor'] == 'carol' and s['hold']['until'] is None and s['hold']['active'] and s['state'] == '$state'"
    before=$(data_sum)
    expect 2 "$C" hold "$r" --reason again && err_has "already held"
    [ "$(data_sum)" = "$before" ] || fail "a refused hold of $r changed data.mdb"
    expect 0 "$C" verify "$r" --key "$T/k.pub" &&
        grep -q '^verdict *: VERIFIED' "$T/out" || fail "verify $r"
    expect 0 "$C" release "$r" --reason "case closed"
    status_is "$r" "not s['held'] and s['hold'] is None and s['state'] == '$state'"
    before=$(data_sum)
    expect 2 "$C" release "$r" --reason again && err_has "not held"
    [ "$(data_sum)" = "$before" ] || fail "a refused release of $r changed data.mdb"
done
expect 0 "$C" verify --all --key "$T/k.pub"

# Usage: a reason is required, --until must be a future time.
expect 2 "$C" hold completed && err_has "--reason"
expect 2 "$C" hold completed --reason "" && err_has "--reason"
expect 2 "$C" release completed && err_has "--reason"
expect 2 "$C" hold completed --reason x --until yesterday && err_has "--until"
expect 2 "$C" hold completed --reason x --until 2001-01-01T00:00:00Z &&
    err_has "--until"
expect 2 "$C" hold no-such-run --reason x && err_has "no such run"
LONG=$(python3 -c 'print("r" * 1025)')
expect 2 "$C" hold completed --reason "$LONG" && err_has "1024"
expect 2 "$C" release completed --until 1d --reason x

# Held runs in list, status, show, log.
expect 0 "$C" hold failed --reason "incident 42" --until 30d
expect 0 "$C" hold comp --reason "audit" # a unique prefix
expect 0 "$C" list --held
[ "$(cut -d' ' -f1 "$T/out" | sort | tr '\n' ' ')" = "completed failed " ] ||
    fail "list --held: $(cat "$T/out")"
grep -q "HELD" "$T/out" || fail "list shows no HELD mark"
expect 0 "$C" list --held --state failed
[ "$(cut -d' ' -f1 "$T/out")" = "failed" ] || fail "list --held --state failed: $(cat "$T/out")"
expect 0 "$C" list --held -o json
json_is "$T/out" "sorted(r['run_id'] for r in j) == ['completed', 'failed'] and all(r['held'] for r in j)"
status_is failed "s['hold']['until'] is not None and s['hold']['active']"
expect 0 "$C" status failed
grep -q '^held: .*until .*reason "incident 42"' "$T/out" ||
    fail "status shows no hold: $(cat "$T/out")"
expect 0 "$C" show completed
grep -q '^held: .*reason "audit"' "$T/out" || fail "show shows no hold"
expect 0 "$C" log failed --type hold,release
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "hold release hold " ] ||
    fail "log --type hold,release: $(cat "$T/out")"
grep -q 'until=' "$T/out" || fail "log shows no until"
expect 0 "$C" log failed --type hold -o json
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
recs = lines[0] if len(lines) == 1 and isinstance(lines[0], list) else lines
recs = recs["records"] if isinstance(recs, dict) else recs
holds = [r for r in recs if r["type"] == "hold"]
assert len(holds) == 2, recs
assert holds[-1]["reason"] == "incident 42" and holds[-1]["until"], holds
' "$T/out" || fail "log -o json hold records: $(head -c 600 "$T/out")"
CHECKS=$((CHECKS + 1))
expect 2 "$C" log failed --type bogus && err_has "hold, release"

# stats counts the runs whose hold counts.
expect 0 "$C" stats -o json
json_is "$T/out" "j['all']['held_runs'] == 2 and j['plans']['p']['held_runs'] == 2"
expect 0 "$C" stats --prom "$T/m.prom"
grep -q '^cairn_held_runs{plan="p"} 2$' "$T/m.prom" ||
    fail "no cairn_held_runs 2: $(grep held "$T/m.prom")"

# An expired hold no longer counts: not in list --held, and a new hold
# replaces it.
expect 0 "$C" hold running --reason short --until 1s
sleep 1.5
expect 0 "$C" list --held
grep -q '^running ' "$T/out" && fail "an expired hold is listed as held"
status_is running "s['held'] and not s['hold']['active']"
expect 0 "$C" status running && grep -q "(expired)" "$T/out" ||
    fail "status does not say the hold expired"
expect 0 "$C" hold running --reason "long one"
status_is running "s['hold']['reason'] == 'long one' and s['hold']['active']"

# A held run still runs.
expect 0 "$C" claim running --op 0 --holder-pid $$
expect 0 "$C" complete running --op 0
status_is running "s['state'] == 'completed' and s['held']"

expect 0 "$C" verify --all --key "$T/k.pub" &&
    grep -q '^overall *: VERIFIED' "$T/out" || fail "verify --all"
finish
