#!/bin/sh
# command_table.sh - the flags column of the command table (cmd/main.c)
# decides how each command opens the journal (cli_open()): commands that
# read open it read-only and never make one; commands that write need an
# existing journal, except create and run, which make it (0700).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
J="$T/sub/journal"
PLAN="$CAIRN_ROOT/tests/plans/good/minimal.json"

no_journal() {
    [ -e "$J" ] && { fail "$1 made $J"; rm -rf "$T/sub"; }
    CHECKS=$((CHECKS + 1))
}

# Reading commands: exit 1 (no such journal), nothing made.
for cmd in "list" "status r" "show r" "log r" "info" "export r"; do
    # shellcheck disable=SC2086
    expect 1 "$C" -J "$J" $cmd && err_has "no such journal"
    no_journal "$cmd"
done
# Writing commands: the same (the journal must exist).
for cmd in "claim r" "cancel r" "retry r --op 0 --reason x" \
    "accept-preflight r --id p" "complete r --op 0" \
    "fail r --op 0 --reason x" "skip r --op 0 --reason x" \
    "resolve r --op 0 --outcome failed --reason x" "resume r"; do
    # shellcheck disable=SC2086
    expect 1 "$C" -J "$J" $cmd && err_has "no such journal"
    no_journal "$cmd"
done
# Creating commands make it, parents included.
expect 0 "$C" -J "$J" create "$PLAN"
[ -f "$J/data.mdb" ] || fail "create made no journal"
# A new journal in the same directory: the remembered checkpoints would
# (rightly) call it a replaced journal; forget the old one.
rm -rf "$T/sub" "$CAIRN_CHECKPOINTS"
printf '%s\n' '{"cairn_plan": 1, "plan_id": "d", "operations":' \
    '[{"id": "t", "kind": "task", "run": ["true"]}]}' >"$T/run.json"
expect 0 "$C" -J "$J" run "$T/run.json" -q
[ -f "$J/data.mdb" ] || fail "run made no journal"
[ "$(stat -c %a "$J")" = 700 ] || fail "run made $J $(stat -c %a "$J")"
CHECKS=$((CHECKS + 1))
# Reading commands open read-only: they never make the commit queue file
# a read-write handle makes.
rm -f "$J/commit.shm"
R=$("$C" -J "$J" list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
for cmd in "list" "status $R" "show $R" "log $R" "info" "export $R"; do
    # shellcheck disable=SC2086
    expect 0 "$C" -J "$J" $cmd
    [ -e "$J/commit.shm" ] && { fail "$cmd opened read-write"; rm -f "$J/commit.shm"; }
    CHECKS=$((CHECKS + 1))
done
expect 2 "$C" -J "$J" cancel "$R" --reason done
[ -e "$J/commit.shm" ] || fail "cancel did not open read-write"

finish
