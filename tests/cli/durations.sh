#!/bin/sh
# durations.sh - the CLI parses durations with the library's one parser
# (cairn_duration_parse): the grammar of plans everywhere; zero is a
# duration only where it means something (`log --since 0s`: since now),
# never for --heartbeat or --shutdown-timeout (0 would mean "the default").
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
PLAN="$CAIRN_ROOT/tests/plans/good/minimal.json"
expect 0 "$C" create "$PLAN"
R=$(cat "$T/out")

# --since: a duration ago, zero allowed.
expect 0 "$C" log "$R" --since 1h
[ -s "$T/out" ] || fail "--since 1h shows no record"
expect 0 "$C" log "$R" --since 0s && out_is ""
expect 0 "$C" log "$R" --since 0ms0s && out_is ""
for bad in 0 1x 1.5s " 1s" -1s 18446744073710ms; do
    expect 2 "$C" log "$R" --since "$bad"
done

# The runner's options: greater than zero.
printf '%s\n' '{"cairn_plan": 1, "plan_id": "d", "operations":' \
    '[{"id": "t", "kind": "task", "run": ["true"]}]}' >"$T/run.json"
for opt in --heartbeat --shutdown-timeout; do
    expect 2 "$C" run "$PLAN" --dry-run "$opt" 0s &&
        err_has "$opt: '0s' is not a duration"
    expect 2 "$C" run "$PLAN" --dry-run "$opt" 5x &&
        err_has "$opt: '5x' is not a duration"
    expect 0 "$C" run "$T/run.json" --dry-run "$opt" 1m30s
done

finish
