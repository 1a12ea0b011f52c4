#!/bin/sh
# compact.sh - cairn compact: a journal with free pages shrinks to the size
# --dry-run announced and still verifies with the key; --dry-run writes
# nothing; a writer holding the journal makes it refuse (exit 5) without
# touching data.mdb; -o json; the man page and --help list it.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
J="$T/journal"
export CAIRN_PASSWORD=
expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
export CAIRN_SECRET_KEY="$T/k.sec"

# A journal with free pages: every transition of a 120-operation run
# rewrites the run's state, whose old pages are freed.
python3 -c '
import json
ops = [{"id": "op%d" % i, "kind": "task", "run": ["true"]} for i in range(120)]
print(json.dumps({"cairn_plan": 1, "plan_id": "big", "operations": ops}))
' >"$T/big.json"
expect 0 "$C" -J "$J" run "$T/big.json" -q
expect 0 "$C" -J "$J" run "$T/big.json" -q

size() { stat -c %s "$J/data.mdb"; }
sum() { sha256sum "$J/data.mdb" | cut -d' ' -f1; }

# --dry-run: the bytes it would free, nothing written.
before=$(size)
sum0=$(sum)
expect 0 "$C" -J "$J" compact --dry-run -o json && cp "$T/out" "$T/dry.json"
json_is "$T/dry.json" "j['dry_run'] is True and j['size_before'] == $before and 0 < j['size_after'] < j['size_before'] and j['freed'] == j['size_before'] - j['size_after']"
[ "$(sum)" = "$sum0" ] || fail "--dry-run changed data.mdb"
CHECKS=$((CHECKS + 1))
expect 0 "$C" -J "$J" compact --dry-run && grep -q "^would free [0-9]* bytes" "$T/out" ||
    fail "dry-run text: $(cat "$T/out")"
[ "$(sum)" = "$sum0" ] || fail "--dry-run (text) changed data.mdb"
ls -a "$J" | grep -q '^\.cairn-compact-' && fail "--dry-run left a temporary file"
CHECKS=$((CHECKS + 3))

# A writer holding the journal: exit 5, naming its pid; nothing changes.
cat >"$T/slow.json" <<EOP
{"cairn_plan": 1, "plan_id": "slow", "operations": [
 {"id": "wait", "kind": "task",
  "run": ["sh", "-c", "touch '$T/started'; while [ ! -e '$T/go' ]; do sleep 0.05; done"]}]}
EOP
"$C" -J "$J" run "$T/slow.json" -q >"$T/slow.out" 2>&1 &
runner=$!
i=0
while [ ! -e "$T/started" ] && [ $i -lt 1200 ]; do
    sleep 0.05
    i=$((i + 1))
done
[ -e "$T/started" ] || fail "the slow run never started"
sum1=$(sum)
expect 5 "$C" -J "$J" compact && err_has "journal in use by pid $runner"
[ "$(sum)" = "$sum1" ] || fail "a refused compact changed data.mdb"
CHECKS=$((CHECKS + 1))
expect 5 "$C" -J "$J" compact -o json
json_is "$T/err" "j['error']['exit'] == 5 and j['error']['code'] == 'CAIRN_ELOCKED'"
touch "$T/go"
wait "$runner" || fail "the slow run failed: $(cat "$T/slow.out")"
CHECKS=$((CHECKS + 1))

# The churn of the slow run freed a little more: measure again, compact.
expect 0 "$C" -J "$J" compact --dry-run -o json && cp "$T/out" "$T/dry.json"
dry_after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size_after"])' "$T/dry.json")
before=$(size)
expect 0 "$C" -J "$J" compact -o json
json_is "$T/out" "j['dry_run'] is False and j['size_before'] == $before and j['size_after'] == $dry_after"
after=$(size)
[ "$after" -lt "$before" ] || fail "compact did not shrink data.mdb ($before -> $after)"
[ "$after" -eq "$dry_after" ] || fail "compacted to $after bytes, --dry-run said $dry_after"
CHECKS=$((CHECKS + 2))
expect 0 "$C" -J "$J" verify --all --key "$T/k.pub" && grep -q "overall *: VERIFIED (3 runs)" "$T/out" ||
    fail "verify after compact: $(cat "$T/out")"
# Writable afterwards, and still verified.
expect 0 "$C" -J "$J" run "$T/big.json" -q
expect 0 "$C" -J "$J" verify --all --key "$T/k.pub"
expect 0 "$C" -J "$J" compact && grep -q "^freed [0-9]* bytes: data.mdb [0-9]* bytes before, [0-9]* bytes after" "$T/out" ||
    fail "compact text: $(cat "$T/out")"
CHECKS=$((CHECKS + 2))

# Usage and a missing journal.
expect 2 "$C" -J "$J" compact extra
expect 1 "$C" -J "$T/none" compact && err_has "no such journal"
expect 0 "$C" --help && grep -q "^  compact " "$T/out" || fail "--help lacks compact"
grep -q '^\.BI "cairn compact ' "$CAIRN_ROOT/docs/cairn.1" || fail "cairn.1 lacks compact"
CHECKS=$((CHECKS + 2))

finish
