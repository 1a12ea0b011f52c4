#!/bin/sh
# rotate.sh - `cairn rotate-key` in the middle of a real journal
# (docs/FORMAT.md section 24): runs before and after, a run open across
# the rotation finished under the new key, `verify` VERIFIED with the old
# or the new pinned key, a key outside the chain a key mismatch (exit 3),
# the retired key refused as a writer (exit 2, nothing written), rotation
# refused while a runner has the journal open (exit 5), and a forged
# history TAMPERED (exit 4) with the field named; bundles (version 3,
# docs/FORMAT.md section 26) of runs created before the rotation export,
# verify with either key (a key outside the chain: exit 3) and are archived
# by `cairn prune`.  The forging tool is
# build/tests/test_rotate (tests/test_rotate.c).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
FORGE="$(dirname "$CAIRN")/tests/test_rotate"
if [ ! -x "$FORGE" ]; then
    echo "$0: $FORGE is missing: build it with make $FORGE" >&2
    exit 1
fi

plan() { # plan RUN_ID [COMMAND]: two operations, the second runs COMMAND
    cmd=${2:-true}
    cat <<JSON
{"cairn_plan": 1, "plan_id": "rot", "run_id": "$1",
 "operations": [{"id": "pre", "kind": "preflight", "run": ["true"]},
                {"id": "work", "kind": "task",
                 "run": ["sh", "-c", "$cmd"]}]}
JSON
}

records() { # the journal's record count
    "$C" info -o json >"$T/info.json" 2>/dev/null &&
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$T/info.json"
}

for k in old new other; do
    expect 0 "$C" keygen -p "$T/$k.pub" -s "$T/$k.sec" --no-password
done
OLD_ID=$(sed -n 's/^untrusted comment: minisign public key //p' "$T/old.pub")
NEW_ID=$(sed -n 's/^untrusted comment: minisign public key //p' "$T/new.pub")

# ---- before: a finished run and one left open ------------------------------
plan before-1 >"$T/b1.json"
expect 0 "$C" run "$T/b1.json" -q --secret-key "$T/old.sec"
plan open-1 >"$T/o1.json"
expect 0 "$C" run "$T/o1.json" -q --max-steps 1 --secret-key "$T/old.sec"
status_is open-1 "s['state'] == 'running' and s['key_id'] == '$OLD_ID'"

# ---- no rotation while a runner has the journal open -----------------------
plan busy-1 "touch $T/started; while [ ! -e $T/go ]; do sleep 0.1; done" >"$T/busy.json"
"$C" run "$T/busy.json" -q --secret-key "$T/old.sec" >"$T/busy.out" 2>&1 &
BUSY=$!
i=0
while [ ! -e "$T/started" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -e "$T/started" ] || fail "the busy runner did not start"
N=$(records)
expect 5 "$C" rotate-key --secret-key "$T/old.sec" --new-secret-key "$T/new.sec"
err_has "the journal to itself"
CHECKS=$((CHECKS + 1))
[ "$(records)" = "$N" ] || fail "a refused rotation wrote something"
touch "$T/go"
wait $BUSY || fail "the busy runner failed: $(cat "$T/busy.out")"

# ---- refusals that write nothing ---------------------------------------------
N=$(records)
expect 2 "$C" rotate-key --new-secret-key "$T/new.sec"          # no current key
expect 2 "$C" rotate-key --secret-key "$T/other.sec" --new-secret-key "$T/new.sec"
expect 2 "$C" rotate-key --secret-key "$T/old.sec" --new-secret-key "$T/old.sec"
err_has "the new key is the current key"
expect 2 "$C" rotate-key --secret-key "$T/old.sec"              # usage
CHECKS=$((CHECKS + 1))
[ "$(records)" = "$N" ] || fail "a refused rotation wrote something"

expect 0 "$C" checkpoint --key "$T/old.pub"
cp "$T/out" "$T/anchor-old.note"

# ---- the rotation ------------------------------------------------------------
expect 0 "$C" rotate-key --secret-key "$T/old.sec" --new-secret-key "$T/new.sec" \
    --reason "yearly rotation" -o json && cp "$T/out" "$T/rot.json"
POS=$((N + 1))
json_is "$T/rot.json" "j == {'old_key_id': '$OLD_ID', 'new_key_id': '$NEW_ID', 'position': $POS}"

# ---- the retired key is refused, and nothing is written --------------------
N=$(records)
plan after-old >"$T/ao.json"
expect 2 "$C" run "$T/ao.json" -q --secret-key "$T/old.sec"
err_has "was rotated out"
expect 2 "$C" resume open-1 -q --secret-key "$T/old.sec"
err_has "was rotated out"
CHECKS=$((CHECKS + 1))
! grep -q "but the key given has key id $OLD_ID" "$T/err" ||
    fail "a hint that contradicts itself: $(cat "$T/err")"
CHECKS=$((CHECKS + 1))
[ "$(records)" = "$N" ] || fail "the retired key wrote something"

# ---- after: the open run finishes, a new run, under the new key -------------
expect 0 "$C" resume open-1 -q --secret-key "$T/new.sec"
status_is open-1 "s['state'] == 'completed' and s['key_id'] == '$OLD_ID'"
plan after-1 >"$T/a1.json"
expect 0 "$C" run "$T/a1.json" -q --secret-key "$T/new.sec"
status_is after-1 "s['key_id'] == '$NEW_ID'"

# ---- verify with either key of the chain ------------------------------------
expect 0 "$C" verify --all --key "$T/old.pub"
grep -q '^overall     : VERIFIED (4 runs)' "$T/out" || fail "overall line: $(grep overall "$T/out")"
expect 0 "$C" verify --all --key "$T/new.pub"
expect 0 "$C" verify open-1 --key "$T/old.pub"
expect 0 "$C" verify open-1 --key "$T/new.pub"
expect 0 "$C" verify before-1 --key "$T/new.pub"
expect 0 "$C" verify after-1 --key "$T/old.pub"
expect 0 "$C" checkpoint --key "$T/new.pub"
cp "$T/out" "$T/anchor-new.note"
for k in old new; do
    expect 0 "$C" verify --all --key "$T/$k.pub" --anchor "$T/anchor-old.note" \
        --anchor "$T/anchor-new.note"
    CHECKS=$((CHECKS + 1))
    [ "$(grep -c '^anchor      : .*: ok,' "$T/out")" = 2 ] ||
        fail "anchors with --key $k.pub: $(grep anchor "$T/out")"
done
# Bundles (docs/FORMAT.md section 26): every run exports with the key in
# force, as a version-3 bundle carrying the key history, and verifies with
# either key of the chain; a key outside it is a key mismatch (exit 3).
# The retired key exports nothing.
for r in after-1 open-1 before-1; do
    expect 0 "$C" export $r --bundle "$T/$r.bundle" --secret-key "$T/new.sec" -o json
    json_is "$T/out" "j['version'] == 3"
    for k in old new; do
        expect 0 "$C" verify-bundle "$T/$r.bundle" --key "$T/$k.pub" -o json
        json_is "$T/out" "j['verdict'] == 'VERIFIED' and j['bundle_info']['rotations'] == 1"
    done
    expect 3 "$C" verify-bundle "$T/$r.bundle" --key "$T/other.pub" -o json
    json_is "$T/out" "j['verdict'] == 'INCOMPLETE' and j['key_mismatch']"
    expect 0 "$C" verify-bundle "$T/$r.bundle" --key "$T/other.pub" --key "$T/old.pub"
done
expect 2 "$C" export open-1 --bundle "$T/open-1-old.bundle" --secret-key "$T/old.sec"
err_has "it is signed by key $NEW_ID now"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/open-1-old.bundle" ] || fail "the retired key exported a bundle"
# Another journal imports it under the original key (its .minisig is the
# current key's) and verifies it with either key.
expect 0 "$C" -J "$T/other-j" run "$T/b1.json" -q --secret-key "$T/other.sec"
expect 2 "$C" -J "$T/other-j" import "$T/before-1.bundle" --key "$T/old.pub" # same run id
expect 0 "$C" -J "$T/other-j" import "$T/open-1.bundle" --key "$T/old.pub"
for k in old new; do
    expect 0 "$C" -J "$T/other-j" verify open-1 --key "$T/$k.pub"
done
# An anchor taken before the rotation is checked with the key in force at
# its size.
expect 0 "$C" export open-1 --bundle "$T/open-1-a.bundle" --secret-key "$T/new.sec" \
    --anchor "$T/anchor-old.note"
expect 0 "$C" verify-bundle "$T/open-1-a.bundle" --key "$T/old.pub" --anchor "$T/anchor-old.note"
expect 3 "$C" verify --all --key "$T/other.pub"                 # not in the chain
expect 0 "$C" verify --all --key "$T/other.pub" --key "$T/old.pub"
expect 0 "$C" log open-1
grep -q 'receipt' "$T/out" || fail "log of open-1"

# ---- forged histories ------------------------------------------------------
cp "$CAIRN_DIR/data.mdb" "$T/honest.mdb"
restore() { cp "$T/honest.mdb" "$CAIRN_DIR/data.mdb"; }

"$FORGE" flip-rotation "$CAIRN_DIR" || fail "flip-rotation"
expect 4 "$C" verify --all --key "$T/old.pub" -o json && cp "$T/out" "$T/flip.json"
json_is "$T/flip.json" '(j["verdict"] == "TAMPERED" and
    j["directory"]["first_bad"]["field"] == "rotation" and
    "signature" in j["directory"]["reason"])'
expect 4 "$C" verify after-1 --key "$T/new.pub"
grep -q 'field rotation' "$T/out" || grep -q 'rotation' "$T/out" || fail "rotation not named"
restore

"$FORGE" drop-rotation "$CAIRN_DIR" || fail "drop-rotation"
expect 4 "$C" verify --all --key "$T/old.pub"
expect 4 "$C" verify --all --key "$T/new.pub"
restore

"$FORGE" old-checkpoint "$CAIRN_DIR" open-1 "$T/old.sec" || fail "old-checkpoint"
expect 4 "$C" verify open-1 --key "$T/old.pub" -o json && cp "$T/out" "$T/cp.json"
json_is "$T/cp.json" 'j["verdict"] == "TAMPERED" and j["first_bad"]["field"] == "checkpoint.key_id"'
restore

"$FORGE" old-head "$CAIRN_DIR" "$T/old.sec" || fail "old-head"
expect 4 "$C" verify --all --key "$T/old.pub" -o json && cp "$T/out" "$T/head.json"
json_is "$T/head.json" '(j["directory"]["first_bad"]["field"] == "head" and
    "not the key in force" in j["directory"]["reason"])'
# A writer with the old key does not take the forged head as its own.
N=$(records)
expect 4 "$C" run "$T/ao.json" -q --secret-key "$T/old.sec"
err_has "a retired key signed the head"
CHECKS=$((CHECKS + 1))
[ "$(records)" = "$N" ] || fail "a writer built on a head the retired key signed"
restore

expect 0 "$C" verify --all --key "$T/old.pub"

# ---- prune archives runs created before the rotation -------------------------
A="$T/archive"
mkdir "$A"
P() { "$C" prune --archive "$A" --reason "rotated" --secret-key "$T/new.sec" "$@"; }
expect 0 P --keep-last 1 --dry-run -o json
H=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan_sha256"])' "$T/out")
JID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["journal_id"])' "$T/out")
expect 0 P --keep-last 1 --confirm "$H" -o json
json_is "$T/out" 'j["skipped"] == 0 and sorted(r["run_id"] for r in j["runs"] if r["action"] == "pruned") == ["before-1", "busy-1", "open-1"]'
for r in before-1 open-1; do
    status_is $r "s['pruned'] and s['tombstone']['records_removed'] == 6"
    for k in old new; do
        expect 0 "$C" verify-bundle "$A/$JID/$r.cairn" --key "$T/$k.pub" -J "$CAIRN_DIR"
        grep -q 'archived copy of pruned run' "$T/out" || fail "$r: not tied to its tombstone"
    done
done
expect 0 "$C" verify --all --key "$T/old.pub"
expect 0 "$C" verify --all --key "$T/new.pub"
finish
