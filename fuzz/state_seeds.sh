#!/bin/sh
# Regenerate the seed corpus of fuzz_state (fuzz/corpus/state/): drive real
# runs through the CLI into each state the machine knows, then copy every
# run's state blob out of the journal's `runs` database with mdb_dump.
# Usage: sh fuzz/state_seeds.sh [CAIRN] (default build/cairn); needs mdb_dump.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cairn=${1:-$root/build/cairn}
out=$root/fuzz/corpus/state
plans=$root/tests/plans/good
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
J=$tmp/j
c() { "$cairn" -J "$J" "$@" >/dev/null 2>&1; }
new() { "$cairn" -J "$J" create "$@" 2>/dev/null; }
# A pid that is gone by the time it is used: its claims are in doubt.
dead=$(sh -c 'echo $$')

# 1 fresh: preflight ready, the rest blocked (minimal: one task op).
new "$plans/minimal.json" >/dev/null
# 2 design example, signed, preflight accepted, a retryable failure, outputs.
"$cairn" keygen -p "$tmp/k.pub" -s "$tmp/k.sec" --no-password >/dev/null
r=$(new --secret-key "$tmp/k.sec" "$plans/design-example.json")
S="--secret-key $tmp/k.sec"
c claim "$r" --op 0 $S
c complete "$r" --op 0 $S
c accept-preflight "$r" --id pf-1 --actor alice $S
c claim "$r" --op 1 $S
c complete "$r" --op 1 $S
c claim "$r" --op 2 $S
c fail "$r" --op 2 --reason "disk full" --class retryable $S
# 3 targets: stops done, a terminal failure, containment and cleanup.
r=$(new "$plans/targets.json")
c accept-preflight "$r" --id none
c claim "$r" --op 0; c complete "$r" --op 0
c claim "$r" --op 1; c complete "$r" --op 1
c claim "$r" --op 2; c fail "$r" --op 2 --reason boom --class terminal
c claim "$r" --containment --op 4
c claim "$r" --cleanup --op 9; c complete "$r" --op 9
# 4 cancelled after a skip; 5 timed out; 6 in doubt (pending, holder gone).
r=$(new "$plans/targets.json")
c accept-preflight "$r" --id none
c claim "$r" --op 0; c skip "$r" --op 0 --reason "not running"
c cancel "$r" --reason "operator"
r=$(new "$plans/all-keys.json")
c cancel "$r" --timed-out --reason "deadline"
r=$(new "$plans/unicode.json")
c accept-preflight "$r" --id "pré-vol"
c claim "$r" --holder-pid "$dead"
# 7 completed: every op of the minimal plan done; 8 retried then resolved.
r=$(new "$plans/minimal.json")
c accept-preflight "$r" --id none
c claim "$r"; c complete "$r" --op 0
r=$(new "$plans/targets.json")
c accept-preflight "$r" --id none
c claim "$r" --op 0; c fail "$r" --op 0 --reason flaky --class retryable
c retry "$r" --op 0 --reason again
c claim "$r" --op 0 --holder-pid "$dead"
c resolve "$r" --op 0 --outcome completed --reason "checked by hand"

mkdir -p "$out"
names="fresh signed-retryable-failure terminal-containment-cleanup \
cancelled-after-skip timed-out in-doubt completed retried-resolved"
mdb_dump -s runs "$J" | sed -n '/^HEADER=END/,/^DATA=END/p' | sed '1d;$d' |
    awk 'NR % 2 == 0 { print substr($0, 2) }' >"$tmp/values"
set -- $names
while read -r hex; do
    printf '%s' "$hex" | xxd -r -p >"$out/$1"
    shift
done <"$tmp/values"
# Invalid neighbours of the fresh state, each refused for one reason.
f=$out/fresh
n=$(wc -c <"$f")
{ printf '\002'; tail -c +2 "$f"; } >"$out/bad-version"
{ head -c 1 "$f"; printf '\020'; tail -c +3 "$f"; } >"$out/bad-flags"
head -c $((n - 1)) "$f" >"$out/bad-truncated"
{ cat "$f"; printf '\000'; } >"$out/bad-trailing-byte"
# The fresh state ends with its one op: ... kind(1) target(2+0) flags state
# attempt(4) class updated(8) done(8) pid(4) start(8) boot(16) host(2+0)
# requires(2): the op's state byte is the 54th byte from the end.
{ head -c $((n - 54)) "$f"; printf '\007'; tail -c 53 "$f"; } >"$out/bad-op-state"
ls "$out"
