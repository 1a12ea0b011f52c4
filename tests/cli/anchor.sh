#!/bin/sh
# anchor.sh - issue 16 items 1-3 on the CLI: `cairn checkpoint` (the note,
# --key, -o json, --from OLD), `verify --anchor FILE`, and the remembered
# checkpoints of writers and verify (CAIRN_CHECKPOINTS, --checkpoints,
# --no-remember).  The attacks docs/SECURITY.md section 8 says need an
# anchor, each made by someone who can write the journal directory but
# holds no secret key:
#   rollback   an older copy of data.mdb put back (the whole journal)
#   truncate   an older copy taken while a run had fewer records
#   delete     an older copy taken before the newest run was created
#   substitute another journal's data.mdb, signed by the same key
# Each is VERIFIED without an anchor (as documented), TAMPERED with one,
# refused by a writer that remembered a newer checkpoint (exit 4, data.mdb
# unchanged, no command run), and TAMPERED for verify with the store.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
expect 0 "$C" keygen -p "$T/a.pub" -s "$T/a.key" --no-password
expect 0 "$C" keygen -p "$T/b.pub" -s "$T/b.key" --no-password
export CAIRN_SECRET_KEY="$T/a.key"

# plan FILE RUN [EFFECT]: two tasks; with EFFECT, the first touches it.
plan() {
    if [ $# -ge 3 ]; then
        first="[\"touch\",\"$3\"]"
    else
        first='["true"]'
    fi
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[%s,%s]}\n' \
        "$2" "{\"id\":\"a\",\"kind\":\"task\",\"run\":$first}" \
        '{"id":"b","kind":"task","run":["true"]}' >"$1"
}
sum() {
    sha256sum "$CAIRN_DIR/data.mdb" | cut -d' ' -f1
}
for r in r1 r2 r3 r4; do
    plan "$T/$r.json" "$r"
done
plan "$T/effect.json" reffect "$T/effect"

# --- cairn checkpoint ---------------------------------------------------------
export CAIRN_DIR="$T/j"
mkdir -m 700 "$CAIRN_DIR"
expect 1 "$C" checkpoint
err_has "no such journal"
expect 0 "$C" run "$T/r1.json" -q
expect 0 "$C" checkpoint
err_has "no --key: the checkpoint's signature was not checked"
cp "$T/out" "$T/a1.note"
expect 0 "$C" checkpoint --key "$T/a.pub"
cmp -s "$T/out" "$T/a1.note" || fail "checkpoint --key printed another note"
CHECKS=$((CHECKS + 1))
ID=$("$C" info -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["journal_id"])')
[ "$(head -n 1 "$T/a1.note")" = "cairn/journal/$ID" ] || fail "origin line: $(head -n 1 "$T/a1.note")"
[ "$(sed -n 2p "$T/a1.note")" = 6 ] || fail "size line: $(sed -n 2p "$T/a1.note")"
grep -q "^— cairn/journal/$ID " "$T/a1.note" || fail "no signature line named like the origin"
CHECKS=$((CHECKS + 1))
expect 4 "$C" checkpoint --key "$T/b.pub"
err_has "is not signed by the key"
expect 0 "$C" checkpoint --key "$T/a.pub" -o json
json_is "$T/out" "j['origin'] == 'cairn/journal/$ID' and j['size'] == 6 and j['runs'] == 1 and j['signed'] and j['signature_checked'] and len(j['key_id']) == 8 and j['note'] == open('$T/a1.note').read() and len(j['root']) == 44"
expect 0 "$C" run "$T/r2.json" -q
expect 0 "$C" checkpoint --key "$T/a.pub" --from 6
CHECKS=$((CHECKS + 1))
[ "$(head -n 1 "$T/out")" = "old 6" ] || fail "--from: first line $(head -n 1 "$T/out")"
python3 - "$T/out" <<'PY' || fail "--from 6: not old, proof lines, blank line, note"
import sys
t = open(sys.argv[1]).read()
head, note = t.split("\n\n", 1)
lines = head.split("\n")
assert lines[0] == "old 6"
assert len(lines) - 1 == 4, lines  # consistency proof 6 -> 12: 4 hashes
assert all(len(l) == 44 for l in lines[1:])
assert note.split("\n")[1] == "12"
PY
for old in 0 12; do
    expect 0 "$C" checkpoint --from "$old"
    CHECKS=$((CHECKS + 1))
    [ "$(sed -n 2p "$T/out")" = "" ] || fail "--from $old: proof lines"
done
expect 2 "$C" checkpoint --from 13
err_has "old size 13 is larger than the journal's head (12 records)"
expect 2 "$C" checkpoint --from x
err_has "--from x: not a tree size"

# A format-1 journal has no head (an empty journal is test_anchor.c's).
if command -v mdb_load >/dev/null 2>&1; then
    mkdir -m 700 "$T/f1"
    mdb_load -f "$CAIRN_ROOT/tests/vectors/migrate/signed.dump" "$T/f1"
    chmod 600 "$T/f1"/*.mdb
    expect 6 "$C" -J "$T/f1" checkpoint
    err_has "cairn migrate"
fi

# --- the attacks ----------------------------------------------------------------

# attack NAME: a fresh journal; afterwards $OLD holds the stale copy and
# $ANCHOR the checkpoint saved after the last honest commit.
setup() {
    export CAIRN_DIR="$T/j-$1"
    export CAIRN_CHECKPOINTS="$T/cps-$1"
    mkdir -m 700 "$CAIRN_DIR"
    OLD="$T/old-$1.mdb"
    ANCHOR="$T/anchor-$1.note"
}
take_old() {
    cp "$CAIRN_DIR/data.mdb" "$OLD"
}
take_anchor() {
    "$C" checkpoint --key "$T/a.pub" >"$ANCHOR" 2>/dev/null ||
        fail "checkpoint for $ANCHOR"
}

# check NAME WHAT: the journal now holds the attack's result.
check() {
    # Without an anchor or the store: VERIFIED, as documented.
    expect 0 "$C" verify --all --key "$T/a.pub" --no-remember
    grep -q '^overall     : VERIFIED' "$T/out" || fail "$1: not VERIFIED without an anchor"
    CHECKS=$((CHECKS + 1))
    # With the anchor: TAMPERED, in text and JSON, for --all and one run.
    expect 4 "$C" verify --all --key "$T/a.pub" --anchor "$ANCHOR" --no-remember
    grep -q "^anchor      : $ANCHOR: $2" "$T/out" || {
        fail "$1: anchor line is not '$2'"
        grep '^anchor' "$T/out" >&2
    }
    CHECKS=$((CHECKS + 1))
    expect 4 "$C" verify --all --key "$T/a.pub" --anchor "$ANCHOR" --no-remember -o json
    json_is "$T/out" "j['verdict'] == 'TAMPERED' and j['anchors'][0]['status'] == '$2' and j['records_after_anchor'] is None"
    expect 4 "$C" verify r1 --key "$T/a.pub" --anchor "$ANCHOR" --no-remember -o json
    json_is "$T/out" "j['verdict'] == 'TAMPERED' and j['run_verdict'] == 'VERIFIED' and j['anchors'][0]['status'] == '$2'"
    # A writer that remembered a newer checkpoint refuses: nothing
    # written, nothing run.
    before=$(sum)
    expect 4 "$C" run "$T/effect.json" -q
    err_has "$3"
    CHECKS=$((CHECKS + 2))
    [ "$(sum)" = "$before" ] || fail "$1: run wrote data.mdb"
    [ -e "$T/effect" ] && { fail "$1: run executed a command"; rm -f "$T/effect"; }
    expect 4 "$C" claim r1
    err_has "$3"
    CHECKS=$((CHECKS + 1))
    [ "$(sum)" = "$before" ] || fail "$1: claim wrote data.mdb"
    # verify with the store: TAMPERED, and the store is not rewound.
    expect 4 "$C" verify --all --key "$T/a.pub"
    grep -q "^remembered  : TAMPERED ($3" "$T/out" || fail "$1: verify: no remembered TAMPERED line"
    CHECKS=$((CHECKS + 1))
    expect 4 "$C" verify r1 --key "$T/a.pub"
}

# Rollback of the whole journal.
setup rollback
expect 0 "$C" run "$T/r1.json" -q
take_old
expect 0 "$C" run "$T/r2.json" -q
take_anchor
cp "$OLD" "$CAIRN_DIR/data.mdb"
check rollback rollback "journal rolled back: remembered checkpoint ("

# Truncation of a run: the copy was taken when r2 had fewer records.
setup truncate
expect 0 "$C" run "$T/r1.json" -q
expect 0 "$C" create "$T/r2.json"
expect 0 "$C" accept-preflight r2 --id p
expect 0 "$C" claim r2
take_old
expect 0 "$C" complete r2 --op 0
take_anchor
cp "$OLD" "$CAIRN_DIR/data.mdb"
check truncate rollback "journal rolled back"

# Deletion of the newest run: the copy is from before r2 existed, and
# the journal went on (r3) so that it is as long as the anchor.
setup delete
expect 0 "$C" run "$T/r1.json" -q
take_old
expect 0 "$C" run "$T/r2.json" -q
take_anchor
cp "$OLD" "$CAIRN_DIR/data.mdb"
expect 0 "$C" run "$T/r3.json" -q --no-remember
check delete fork "journal forked: remembered checkpoint ("

# Substitution: another journal signed by the same key.
setup substitute
expect 0 "$C" run "$T/r1.json" -q
take_anchor
expect 0 "$C" -J "$T/other" run "$T/r1.json" -q --no-remember
cp "$T/other/data.mdb" "$CAIRN_DIR/data.mdb"
check substitute other-journal "journal replaced: "

# --- anchors: what is accepted ------------------------------------------------------
setup fine
expect 0 "$C" run "$T/r1.json" -q
take_anchor
cp "$ANCHOR" "$T/fine-1.note"
expect 0 "$C" run "$T/r2.json" -q
expect 0 "$C" verify --all --key "$T/a.pub" --anchor "$T/fine-1.note"
grep -q '^anchored    : 6 records after the newest anchor' "$T/out" || fail "fine: records after the anchor"
grep -q '^remembered  : .*: 12 records at .*; the journal (12) extends it' "$T/out" || fail "fine: remembered line"
CHECKS=$((CHECKS + 2))
# Without a key the anchor cannot be authenticated: INCOMPLETE.
expect 3 "$C" verify r1 --anchor "$T/fine-1.note"
grep -q "^anchor      : $T/fine-1.note: unverified" "$T/out" || fail "fine: no key: not unverified"
CHECKS=$((CHECKS + 1))
# Another key: the anchor is unverified, the run a key mismatch (exit 3).
expect 3 "$C" verify r1 --key "$T/b.pub" --anchor "$T/fine-1.note" --no-remember
grep -q "^anchor      : $T/fine-1.note: unverified" "$T/out" || fail "fine: other key: not unverified"
CHECKS=$((CHECKS + 1))
# Several keys: the one the anchor (and the run) names counts.
expect 0 "$C" verify r1 --key "$T/b.pub" --key "$T/a.pub" --anchor "$T/fine-1.note" --no-remember
# A malformed or unreadable anchor: exit 2 naming the file.
printf 'not a note\n' >"$T/bad.note"
expect 2 "$C" verify r1 --key "$T/a.pub" --anchor "$T/bad.note"
err_has "--anchor $T/bad.note: not a cairn checkpoint"
expect 2 "$C" verify r1 --key "$T/a.pub" --anchor "$T/missing.note"
err_has "--anchor $T/missing.note: No such file"
expect 2 "$C" verify r1 --key "$T/a.pub" --anchor "$T"
err_has "not a regular file"
# A changed signature byte: TAMPERED (bad-signature).
python3 - "$T/fine-1.note" "$T/badsig.note" <<'PY'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
i = t.rindex(" ") + 12
t = t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1:]
open(sys.argv[2], "w", encoding="utf-8").write(t)
PY
expect 4 "$C" verify r1 --key "$T/a.pub" --anchor "$T/badsig.note" --no-remember
grep -q "^anchor      : $T/badsig.note: bad-signature" "$T/out" || fail "bad signature line"
CHECKS=$((CHECKS + 1))

# --- the store is hostile-aware ---------------------------------------------------
F=$(ls "$CAIRN_CHECKPOINTS"/*.note)
chmod 666 "$F"
before=$(sum)
expect 6 "$C" run "$T/r3.json" -q
err_has "writable by group or others"
CHECKS=$((CHECKS + 1))
[ "$(sum)" = "$before" ] || fail "unsafe store: run wrote data.mdb"
expect 6 "$C" verify r1 --key "$T/a.pub"
# --no-remember goes on without the store.
expect 0 "$C" verify r1 --key "$T/a.pub" --no-remember
chmod 600 "$F"
printf 'garbage\n' >"$F"
expect 6 "$C" claim r1
err_has "remembered checkpoint $F is malformed"
# --checkpoints DIR overrides CAIRN_CHECKPOINTS.
expect 0 "$C" run "$T/r3.json" -q --checkpoints "$T/cps-other"
CHECKS=$((CHECKS + 1))
ls "$T/cps-other"/*.note >/dev/null 2>&1 || fail "--checkpoints: nothing remembered there"
finish
