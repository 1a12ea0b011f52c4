#!/bin/sh
# migrate.sh - `cairn migrate`: format-1 journals (fixtures made by a
# format-1 cairn, tests/vectors/migrate/make.sh) stay verifiable and refuse
# writers with a message naming `cairn migrate`; migrate builds a format-2
# journal whose log tree and state map roots are recomputed here from the
# old records and states (RFC 6962), that writers accept with the key and
# refuse without it; the old journal is not changed; a tampered journal
# (exit 4), a run of another key or an unsigned run with --key (exit 2),
# an occupied NEW (exit 2) and a format-2 source (exit 2) are refused and
# make nothing; a journal of unsigned runs migrates only without a key,
# to an unsigned journal.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
V="$CAIRN_ROOT/tests/vectors/migrate"

if ! command -v mdb_load >/dev/null 2>&1; then
    echo "mdb_load not found (lmdb-utils): migrate checks skipped"
    finish
fi

for k in a b; do
    cp "$V/$k.key" "$V/$k.pub" "$T/"
    chmod 600 "$T/$k.key"
done

# load NAME DIR: the format-1 journal NAME.dump into the new DIR.
load() {
    mkdir -m 700 "$2" && mdb_load -f "$V/$1.dump" "$2" 2>"$T/load.err" ||
        fail "mdb_load $1: $(cat "$T/load.err")"
    chmod 600 "$2"/*.mdb
}

# roots DUMPDIR: the RFC 6962 roots of `records` (leaf: the record) and
# of `runs` (leaf: the state blob), in hex, as "LOG STATE".
cat >"$T/roots.py" <<'PY'
import hashlib, subprocess, sys
def values(d, db):
    out = subprocess.run(["mdb_dump", "-s", db, d], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    rows = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
    keys, vals = rows[0::2], rows[1::2]
    assert [int(k, 16) for k in keys] == list(range(1, len(keys) + 1))
    return [bytes.fromhex(v.strip()) for v in vals]
def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()
d = sys.argv[1]
print(mth(values(d, "records")).hex(), mth(values(d, "runs")).hex())
PY

# --- a format-1 journal: readable, verifiable, not writable ---------------
OLD="$T/old"
load signed "$OLD"
export CAIRN_DIR="$OLD"
expect 0 "$C" info
grep -q '^format: *1$' "$T/out" || fail "info: not format 1"
expect 0 "$C" verify --all --key "$T/a.pub"
grep -q '^overall     : VERIFIED (3 runs)' "$T/out" || fail "old: not VERIFIED"
expect 6 "$C" cancel m-2 --reason x --secret-key "$T/a.key"
err_has 'journal format 1 has no signed head: run `cairn migrate` to write to it'
sum_before=$(sha256sum <"$OLD/data.mdb")

# --- usage ------------------------------------------------------------------
expect 2 "$C" migrate "$T/n" --key "$T/a.pub"
err_has "pass the secret key of --key"
expect 2 "$C" migrate "$T/n" --secret-key "$T/a.key"
err_has "--key PUB is required with a secret key"
expect 2 "$C" migrate "$T/n" --key "$T/a.pub" --secret-key "$T/b.key"
err_has "the secret key is not the key of --key"
expect 2 "$C" migrate
[ ! -e "$T/n" ] || fail "a refused migrate made NEW"

# a signed journal without a key: refused, naming the run
expect 2 "$C" migrate "$T/n"
err_has "run m-1 is signed by key AD641777F1B0448B: pass --key"
[ ! -e "$T/n" ] || fail "a refused migrate made NEW"

# --- migrate ----------------------------------------------------------------
NEW="$T/new"
expect 0 "$C" migrate "$NEW" --key "$T/a.pub" --secret-key "$T/a.key" -o json
cp "$T/out" "$T/m.json"
set -- $(python3 "$T/roots.py" "$OLD")
old_log=$1
json_is "$T/m.json" "j['runs'] == 3 and j['records'] == 17 and j['signed'] is True and j['key_id'] == 'AD641777F1B0448B' and j['format'] == 2"
json_is "$T/m.json" "j['head'].startswith('cairn/journal/' + j['journal_id'] + '\n17\n') and '\ncairn-state 3 ' in j['head'] and '\n\n\u2014 cairn/journal/' in j['head']"
[ "$(sha256sum <"$OLD/data.mdb")" = "$sum_before" ] || fail "OLD changed"
ls -A "$NEW" >"$T/ls"
[ "$(cat "$T/ls")" = "data.mdb" ] || fail "NEW holds $(cat "$T/ls")"
[ "$(stat -c %a "$NEW/data.mdb")" = 600 ] || fail "NEW/data.mdb mode"
# the runs are run summaries now (FORMAT.md 23.2: version byte 2), and
# the state map is over them (read from a copy: mdb_dump makes lock.mdb)
cp -a "$NEW" "$T/newcopy"
set -- $(python3 "$T/roots.py" "$T/newcopy")
json_is "$T/m.json" "j['log_root'] == '$old_log' and j['log_root'] == '$1' and j['state_root'] == '$2'"
CHECKS=$((CHECKS + 1))
python3 - "$T/newcopy" <<'PY' || fail "NEW: a run state is not a run summary"
import subprocess, sys
out = subprocess.run(["mdb_dump", "-s", "runs", sys.argv[1]], capture_output=True,
                     text=True, check=True).stdout.split("\n")
rows = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
assert len(rows[1::2]) == 3 and all(v.strip().startswith("02") for v in rows[1::2])
PY

export CAIRN_DIR="$NEW"
expect 0 "$C" info -o json
json_is "$T/out" "j['format'] == 2 and j['runs'] == 3 and j['records'] == 17 and j['journal_id'] == $(python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["journal_id"]))' "$T/m.json")"
status_is m-1 "s['records'] == 9"
# writers prove the new head: without the key, or with another, refused
expect 2 "$C" cancel m-2 --reason x
err_has "run m-2 is signed by key AD641777F1B0448B, the writer has no key"
expect 2 "$C" cancel m-2 --reason x --secret-key "$T/b.key"
expect 0 "$C" cancel m-2 --reason "after migration" --secret-key "$T/a.key"
status_is m-2 "s['state'] == 'cancelled'"
expect 0 "$C" info -o json
json_is "$T/out" "j['records'] == 18"

# NEW is taken now; a format-2 journal does not migrate again
export CAIRN_DIR="$OLD"
expect 2 "$C" migrate "$NEW" --key "$T/a.pub" --secret-key "$T/a.key"
err_has "a journal is there already"
export CAIRN_DIR="$NEW"
expect 2 "$C" migrate "$T/again" --key "$T/a.pub" --secret-key "$T/a.key"
err_has "already journal format 2"
[ ! -e "$T/again" ] || fail "a refused migrate made NEW"
# an existing empty directory is fine (and a stale private one in it)
export CAIRN_DIR="$OLD"
mkdir -m 700 "$T/empty" "$T/empty/.cairn-new-000000000000"
expect 0 "$C" migrate "$T/empty" --key "$T/a.pub" --secret-key "$T/a.key"
grep -q '^records     : 17$' "$T/out" || fail "text output: records"
grep -q '^head        : .* signed by key AD641777F1B0448B' "$T/out" ||
    fail "text output: head"

# --- a tampered format-1 journal: exit 4, nothing made -------------------
TP="$T/tampered"
load signed "$TP"
mdb_dump -s records "$TP" >"$T/rec.dump"
# flip the last byte of record 5's value (its body: the chain breaks)
python3 - "$T/rec.dump" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
i = lines.index("HEADER=END") + 2 * 4 + 2
v = lines[i]
c = v[-1]
lines[i] = v[:-1] + ("0" if c != "0" else "1")
open(p, "w").write("\n".join(lines))
PY
mdb_load -s records -f "$T/rec.dump" "$TP" 2>/dev/null || fail "mdb_load tampered"
export CAIRN_DIR="$TP"
expect 4 "$C" verify --all --key "$T/a.pub"
expect 4 "$C" migrate "$T/tnew" --key "$T/a.pub" --secret-key "$T/a.key"
err_has "not migrated: run m-"
err_has "TAMPERED"
[ ! -e "$T/tnew" ] || fail "a tampered journal made NEW"
mkdir -m 700 "$T/tnew2"
expect 4 "$C" migrate "$T/tnew2" --key "$T/a.pub" --secret-key "$T/a.key"
[ -z "$(ls -A "$T/tnew2")" ] || fail "a refused migrate left $(ls -A "$T/tnew2")"

# --- a run of another key -------------------------------------------------
MX="$T/mixed"
load mixed "$MX"
export CAIRN_DIR="$MX"
expect 2 "$C" migrate "$T/mnew" --key "$T/a.pub" --secret-key "$T/a.key"
err_has "run x-1 is signed by key 06B27D85E06C41DB, not by the --key AD641777F1B0448B"
[ ! -e "$T/mnew" ] || fail "a mixed journal made NEW"

# --- unsigned runs: only without a key, to an unsigned journal ----------
US="$T/unsigned"
load unsigned "$US"
export CAIRN_DIR="$US"
expect 2 "$C" migrate "$T/unew" --key "$T/a.pub" --secret-key "$T/a.key"
err_has "run u-1 is unsigned"
[ ! -e "$T/unew" ] || fail "a refused migrate made NEW"
expect 0 "$C" migrate "$T/unew"
grep -q 'UNSIGNED: an unsafe journal' "$T/out" || fail "unsigned: not labelled"
export CAIRN_DIR="$T/unew"
expect 2 "$C" cancel u-2 --reason x --secret-key "$T/a.key"
err_has "run u-2 is unsigned"
expect 0 "$C" cancel u-2 --reason "after migration"
status_is u-2 "s['state'] == 'cancelled'"

finish
