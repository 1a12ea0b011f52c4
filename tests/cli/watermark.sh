#!/bin/sh
# watermark.sh - cairn watermark PLAN_ID and the CAIRN_PREV_* variables of
# commands: the newest previous run of the plan that claimed an operation
# (its last contiguous and last attempted positions, with their ids) and
# the newest completed one; runs that attempted nothing, runs of other
# plans and the command's own run are left out.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
J="$T/journal"

wm() { # wm PLAN PYEXPR: `watermark PLAN -o json` as j satisfies PYEXPR
    expect 0 "$C" -J "$J" watermark "$1" -o json && cp "$T/out" "$T/wm.json"
    json_is "$T/wm.json" "$2"
}
env_is() { # env_is RUN TEXT: the CAIRN_PREV_* a command of RUN saw
    CHECKS=$((CHECKS + 1))
    got=$(tr '\n' ' ' <"$T/env.$1")
    [ "$got" = "$2" ] || fail "CAIRN_PREV_* of $1: '$got', want '$2'"
}
plan() { # plan FILE LAST_COMMAND: plan "inc": a, b, then c running LAST
    cat >"$1" <<EOP
{"cairn_plan": 1, "plan_id": "inc", "operations": [
 {"id": "a", "kind": "task", "run": ["sh", "-c",
  "env | grep '^CAIRN_PREV_' | sort > $T/env.\$CAIRN_RUN_ID"]},
 {"id": "b", "kind": "task", "run": ["sh", "-c", "$2"]},
 {"id": "c", "kind": "task", "run": ["true"]}]}
EOP
}
last_run() {
    "$C" -J "$J" list --plan "$1" -o json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["run_id"])'
}

# Nothing yet: exit 0, both null.
expect 0 "$C" -J "$J" create "$CAIRN_ROOT/tests/plans/good/minimal.json"
wm inc "j['plan_id'] == 'inc' and j['last_attempted'] is None and j['last_completed'] is None"
expect 0 "$C" -J "$J" watermark inc && grep -q "^last attempted: *none" "$T/out" ||
    fail "text without runs: $(cat "$T/out")"
CHECKS=$((CHECKS + 1))

# Run 1 fails at b: the first command saw no previous run.
plan "$T/fail.json" "exit 1"
"$C" -J "$J" run "$T/fail.json" -q >/dev/null 2>&1
R1=$(last_run inc)
env_is "$R1" "CAIRN_PREV_COMPLETED_RUN_ID= CAIRN_PREV_LAST_ATTEMPTED_ID= CAIRN_PREV_LAST_ATTEMPTED_SEQ=-1 CAIRN_PREV_LAST_CONTIGUOUS_ID= CAIRN_PREV_LAST_CONTIGUOUS_SEQ=-1 CAIRN_PREV_RUN_ID= "
wm inc "j['last_attempted'] == {'run_id': '$R1', 'state': 'failed', 'last_contiguous_seq': 0, 'last_contiguous_id': 'a', 'last_attempted_seq': 1, 'last_attempted_id': 'b', 'updated': j['last_attempted']['updated']} and j['last_completed'] is None"

# Run 2 (another plan file, same plan id) completes; its commands saw run 1.
plan "$T/ok.json" "true"
expect 0 "$C" -J "$J" run "$T/ok.json" -q
R2=$(last_run inc)
env_is "$R2" "CAIRN_PREV_COMPLETED_RUN_ID= CAIRN_PREV_LAST_ATTEMPTED_ID=b CAIRN_PREV_LAST_ATTEMPTED_SEQ=1 CAIRN_PREV_LAST_CONTIGUOUS_ID=a CAIRN_PREV_LAST_CONTIGUOUS_SEQ=0 CAIRN_PREV_RUN_ID=$R1 "
wm inc "j['last_attempted']['run_id'] == '$R2' and j['last_attempted']['state'] == 'completed' and j['last_attempted']['last_contiguous_seq'] == 2 and j['last_attempted']['last_attempted_id'] == 'c' and j['last_completed']['run_id'] == '$R2'"

# Runs of other plans, and a run of this plan that attempted nothing, are
# left out.
expect 0 "$C" -J "$J" create "$CAIRN_ROOT/tests/plans/good/minimal.json"
expect 0 "$C" -J "$J" create "$T/ok.json"
R3=$(cat "$T/out")
wm inc "j['last_attempted']['run_id'] == '$R2' and j['last_completed']['run_id'] == '$R2'"

# Run 3 claims its first operation: it is the newest attempted run (in
# progress, nothing done yet); the newest completed one is still run 2.
expect 0 "$C" -J "$J" accept-preflight "$R3" --id p
expect 0 "$C" -J "$J" claim "$R3"
wm inc "j['last_attempted']['run_id'] == '$R3' and j['last_attempted']['state'] == 'running' and j['last_attempted']['last_contiguous_seq'] == -1 and j['last_attempted']['last_contiguous_id'] is None and j['last_attempted']['last_attempted_seq'] == 0 and j['last_completed']['run_id'] == '$R2'"
expect 0 "$C" -J "$J" watermark inc
grep -q "^last attempted:   $R3 (running" "$T/out" && grep -q "^  contiguous done: none" "$T/out" &&
    grep -q "^  last attempted:  #0 (a)" "$T/out" && grep -q "^last completed:   $R2 (completed " "$T/out" ||
    fail "text: $(cat "$T/out")"
CHECKS=$((CHECKS + 1))

# Resuming run 3: its commands see run 2, never run 3 itself.
expect 0 "$C" -J "$J" fail "$R3" --op 0 --reason "try again" --class retryable
expect 0 "$C" -J "$J" resume "$R3" -q
env_is "$R3" "CAIRN_PREV_COMPLETED_RUN_ID=$R2 CAIRN_PREV_LAST_ATTEMPTED_ID=c CAIRN_PREV_LAST_ATTEMPTED_SEQ=2 CAIRN_PREV_LAST_CONTIGUOUS_ID=c CAIRN_PREV_LAST_CONTIGUOUS_SEQ=2 CAIRN_PREV_RUN_ID=$R2 "

# A hold and its release are no progress: the watermark, its times
# included, stays as it was.
expect 0 "$C" -J "$J" watermark inc -o json && cp "$T/out" "$T/wm.before"
sleep 1 # the hold's time differs from the run's last record in any case
expect 0 "$C" -J "$J" hold "$R3" --reason "audit"
expect 0 "$C" -J "$J" watermark inc -o json
cmp -s "$T/out" "$T/wm.before" || fail "a hold moved the watermark: $(cat "$T/out")"
expect 0 "$C" -J "$J" release "$R3" --reason "audit done"
expect 0 "$C" -J "$J" watermark inc -o json
cmp -s "$T/out" "$T/wm.before" || fail "a release moved the watermark: $(cat "$T/out")"
CHECKS=$((CHECKS + 2))

# Usage; the man page and --help list it.
expect 2 "$C" -J "$J" watermark
expect 2 "$C" -J "$J" watermark a b
expect 0 "$C" --help && grep -q "^  watermark " "$T/out" || fail "--help lacks watermark"
grep -q '^\.BI "cairn watermark ' "$CAIRN_ROOT/docs/cairn.1" || fail "cairn.1 lacks watermark"
grep -q 'CAIRN_PREV_LAST_CONTIGUOUS_SEQ' "$CAIRN_ROOT/docs/cairn.1" || fail "cairn.1 lacks CAIRN_PREV_*"
CHECKS=$((CHECKS + 3))

finish
