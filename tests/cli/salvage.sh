#!/bin/sh
# salvage.sh - `cairn salvage`: a journal with one damaged page (a leaf of
# the records database holding only run-2's records, overwritten) gives up
# its intact runs as bundles that verify on their own, names the lost run
# and where it breaks, and is never written.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

command -v python3 >/dev/null 2>&1 || {
    echo "$0: python3 not found: skipped"
    finish
}

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
expect 0 "$C" keygen -p "$T/o.pub" -s "$T/o.sec" --no-password
export CAIRN_SECRET_KEY="$T/k.sec"
# Three runs of 21 operations (44 records each): run-2's records fill
# whole pages of their own.
for r in 1 2 3; do
    python3 - "$r" >"$T/p$r.json" <<'PY'
import json, sys
ops = [{"id": "pre", "kind": "preflight", "run": ["true"]}]
ops += [{"id": "t%d" % i, "kind": "task", "run": ["true"]} for i in range(20)]
print(json.dumps({"cairn_plan": 1, "plan_id": "p", "run_id": "run-" + sys.argv[1],
                  "operations": ops}))
PY
    expect 0 "$C" run "$T/p$r.json" -q
done

# --- an intact journal: everything is salvaged ---------------------------------
expect 0 "$C" salvage "$CAIRN_DIR" --bundles "$T/all" --key "$T/k.pub"
err_is_empty() {
    CHECKS=$((CHECKS + 1))
    [ ! -s "$T/err" ] || fail "stderr not empty: $(cat "$T/err")"
}
err_is_empty
CHECKS=$((CHECKS + 1))
grep -q "^runs: 3 found, 3 salvaged, 0 lost\$" "$T/out" ||
    fail "intact salvage: $(cat "$T/out")"

# --- damage one page ------------------------------------------------------------
# damage FILE DB OFFSET: zero the first leaf page of LMDB database DB
# (records: run_num at byte 4 of a value; checkpoints: at byte 2) whose
# entries all belong to run number 2.
damage() {
    python3 - "$@" <<'PY' || fail "could not find a page of $2 to damage"
# Walk LMDB's live B-tree (data format 1, 64-bit): the newest meta page,
# the main database, the named database, its leaf pages.
import struct, sys
path, dbname, run_off, run_num = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), 2
f = open(path, "r+b")
d = f.read()
ps = struct.unpack_from("<I", d, 40)[0]          # meta: dbs[0].md_pad
txn = [struct.unpack_from("<Q", d, i * ps + 144)[0] for i in (0, 1)]
meta = 0 if txn[0] >= txn[1] else ps
main_root = struct.unpack_from("<Q", d, meta + 128)[0]   # dbs[1].md_root

def page(pg):
    p = d[pg * ps:(pg + 1) * ps]
    flags, lower = struct.unpack_from("<HH", p, 10)
    return p, flags, struct.unpack_from("<%dH" % ((lower - 16) // 2), p, 16)

def node(p, off):
    lo, hi, fl, ks = struct.unpack_from("<HHHH", p, off)
    return lo, hi, fl, p[off + 8:off + 8 + ks], off + 8 + ks

def leaves(root):
    p, flags, ptrs = page(root)
    if not flags & 1:
        return [root]
    out = []
    for off in ptrs:                              # branch: child page number
        lo, hi, fl, _, _ = node(p, off)
        out += leaves(lo | hi << 16 | fl << 32)
    return out

records = None
for lp in leaves(main_root):
    p, _, ptrs = page(lp)
    for off in ptrs:
        _, _, _, key, v = node(p, off)
        if key == dbname:
            records = struct.unpack_from("<Q", p, v + 40)[0]
for lp in leaves(records):
    p, _, ptrs = page(lp)
    runs = {struct.unpack_from(">Q", p, node(p, off)[4] + run_off)[0]
            for off in ptrs}
    if runs == {run_num} and len(ptrs) > 2:
        f.seek(lp * ps)
        f.write(b"\0" * ps)
        sys.exit(0)
sys.exit(1)
PY
}
cp -a "$CAIRN_DIR" "$T/bad"
cp -a "$CAIRN_DIR" "$T/badcp"
damage "$T/bad/data.mdb" records 4
damage "$T/badcp/data.mdb" checkpoints 2
SUM=$(sha256sum "$T"/bad*/data.mdb "$T"/bad*/lock.mdb)
touch "$T/marker"
sleep 1 # coarse file systems: a later write gets a later mtime

# --- usage ---------------------------------------------------------------------
expect 2 "$C" salvage "$T/bad" --key "$T/k.pub"
err_has "--bundles DIR is required"
expect 2 "$C" salvage "$T/bad" --bundles "$T/x"
err_has "--key PUB is required"
expect 2 env -u CAIRN_SECRET_KEY "$C" salvage "$T/bad" --bundles "$T/x" \
    --key "$T/k.pub"
err_has "secret key"
expect 2 "$C" salvage "$T/bad" --bundles "$T/x" --key "$T/o.pub"
err_has "the secret key is not the key of --key"
mkdir "$T/full" && : >"$T/full/f"
expect 2 "$C" salvage "$T/bad" --bundles "$T/full" --key "$T/k.pub"
err_has "not empty"
expect 1 "$C" salvage "$T/missing" --bundles "$T/x2" --key "$T/k.pub"
err_has "no journal here"

# --- salvage -------------------------------------------------------------------
expect 6 "$C" salvage "$T/bad" --bundles "$T/b" --key "$T/k.pub"
CHECKS=$((CHECKS + 1))
grep -q "^salvaged  run-1  44 records, VERIFIED: $T/b/run-1.cairn\$" "$T/out" &&
    grep -q "^salvaged  run-3  44 records, VERIFIED: $T/b/run-3.cairn\$" "$T/out" &&
    grep -q "^LOST      run-2  44 records, lost from seq [0-9]*: " "$T/out" &&
    grep -q "^runs: 3 found, 2 salvaged, 1 lost\$" "$T/out" ||
    fail "salvage report: $(cat "$T/out")"
# Each salvaged run verifies from its bundle alone; the lost one has none.
expect 0 "$C" verify-bundle "$T/b/run-1.cairn" --key "$T/k.pub"
expect 0 "$C" verify-bundle "$T/b/run-3.cairn" --key "$T/k.pub"
CHECKS=$((CHECKS + 1))
[ "$(ls "$T/b")" = "$(printf 'run-1.cairn\nrun-1.cairn.minisig\nrun-1.cairn.tlog-proof\nrun-3.cairn\nrun-3.cairn.minisig\nrun-3.cairn.tlog-proof')" ] ||
    fail "bundle directory holds: $(ls "$T/b")"
# The same as JSON.
expect 6 "$C" salvage "$T/bad" --bundles "$T/j" --key "$T/k.pub" -o json
json_is "$T/out" "j['found'] == 3 and j['salvaged'] == 2 and j['lost'] == 1 and j['list_complete'] is True and [r['run_id'] for r in j['runs'] if r['status'] == 'salvaged'] == ['run-1', 'run-3']"
json_is "$T/out" "[(r['run_id'], r['verdict'], r['total_records'], r['bundle']) for r in j['runs'] if r['status'] == 'lost'] == [('run-2', 'ERROR', 44, None)] and 0 <= j['runs'][1]['lost_from_seq'] < 44 and 'corrupt' in j['runs'][1]['reason']"

# --- a damaged checkpoints page ----------------------------------------------------
# Verifying a run scans every checkpoint of the journal (for one that names
# the run but seals none of its records): that scan fails for every run
# (LMDB may abort the reader).  The second pass checks each run's own
# records and checkpoints only, and says so.
expect 6 "$C" salvage "$T/badcp" --bundles "$T/c" --key "$T/k.pub" -o json
json_is "$T/out" "[(r['run_id'], r['status'], r['check']) for r in j['runs']] == [('run-1', 'salvaged', 'run-only'), ('run-2', 'lost', None), ('run-3', 'salvaged', 'run-only')] and all(r['reason'] for r in j['runs'])"
expect 0 "$C" verify-bundle "$T/c/run-1.cairn" --key "$T/k.pub"
expect 0 "$C" verify-bundle "$T/c/run-3.cairn" --key "$T/k.pub"
# Still version 2 with its tlog proof: a run-only check proves the run
# against the signed head too (its checkpoints are sealed by the head).
CHECKS=$((CHECKS + 1))
[ "$(ls "$T/c")" = "$(printf 'run-1.cairn\nrun-1.cairn.minisig\nrun-1.cairn.tlog-proof\nrun-3.cairn\nrun-3.cairn.minisig\nrun-3.cairn.tlog-proof')" ] ||
    fail "bundles of badcp: $(ls "$T/c" | tr '\n' ' ')"
CHECKS=$((CHECKS + 1))
[ "$(od -A n -t u1 -j 8 -N 1 "$T/c/run-1.cairn" | tr -d ' ')" = 2 ] ||
    fail "the run-only bundle is not version 2"

# --- the source was never written ---------------------------------------------
CHECKS=$((CHECKS + 1))
[ "$(sha256sum "$T"/bad*/data.mdb "$T"/bad*/lock.mdb)" = "$SUM" ] ||
    fail "salvage changed data.mdb or lock.mdb"
CHECKS=$((CHECKS + 1))
[ -z "$(find "$T/bad" "$T/badcp" -newer "$T/marker")" ] ||
    fail "salvage wrote into the source: $(find "$T"/bad* -newer "$T/marker")"
finish
