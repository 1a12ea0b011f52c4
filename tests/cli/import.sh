#!/bin/sh
# import.sh - cairn import BUNDLE (issue 17 item 4): verified first with
# the checks of verify-bundle (exit 3 INCOMPLETE, 4 TAMPERED: nothing
# stored), then readable in this journal (list, status, show, log, export
# --bundle byte for byte, verify with the bundle's key), read-only (every
# transition exits 2 and writes nothing), and never under an id in use.
# A zstd bundle (export --zstd) imports the same way, stored as given
# (export gives back the compressed file and its .minisig); a corrupt,
# cut or tampered zstd bundle is TAMPERED (exit 4) and stores nothing.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
unset CAIRN_DIR
A="$T/a"
B="$T/b"

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
expect 0 "$C" keygen -p "$T/o.pub" -s "$T/o.sec" --no-password
printf '{"cairn_plan": 1, "plan_id": "p", "run_id": "r1", "operations": [%s]}\n' \
    '{"id": "w", "kind": "task", "run": ["true"]}' >"$T/r1.json"
printf '{"cairn_plan": 1, "plan_id": "q", "run_id": "q1", "operations": [%s]}\n' \
    '{"id": "w", "kind": "task", "run": ["true"]}' >"$T/q1.json"
expect 0 "$C" -J "$A" run "$T/r1.json" -q --secret-key "$T/k.sec"
expect 0 "$C" -J "$A" export r1 --bundle "$T/r1.cairn" --secret-key "$T/k.sec"
expect 0 "$C" -J "$B" run "$T/q1.json" -q --secret-key "$T/o.sec"

sum() { sha256sum "$B/data.mdb" | cut -d' ' -f1; }
unchanged() {
    CHECKS=$((CHECKS + 1))
    [ "$(sum)" = "$1" ] || fail "$2 changed data.mdb"
}

# Refused imports store nothing.
S0=$(sum)
expect 3 "$C" -J "$B" import "$T/r1.cairn" && err_has "not imported"
grep -q "INCOMPLETE" "$T/out" || fail "no key: not INCOMPLETE"
unchanged "$S0" "an import without a key"
cp "$T/r1.cairn" "$T/bad.cairn"
cp "$T/r1.cairn.minisig" "$T/bad.cairn.minisig"
python3 - "$T/bad.cairn" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"auto-r1")           # the preflight id of the ACCEPT record
b[i] ^= 0x01
open(p, "wb").write(bytes(b))
PY
expect 4 "$C" -J "$B" import "$T/bad.cairn" --key "$T/k.pub" && err_has "TAMPERED"
unchanged "$S0" "a tampered import"
expect 4 "$C" -J "$B" import "$T/bad.cairn" --key "$T/k.pub" --no-signature
unchanged "$S0" "a tampered import (--no-signature)"
cp "$T/r1.cairn" "$T/nosig.cairn"
expect 3 "$C" -J "$B" import "$T/nosig.cairn" --key "$T/k.pub" &&
    grep -q "no .minisig" "$T/out" || fail "missing .minisig not said"
unchanged "$S0" "an import without its .minisig"
expect 3 "$C" -J "$B" import "$T/r1.cairn" --key "$T/o.pub" &&
    grep -q "key mismatch" "$T/out" || fail "wrong key not said"
unchanged "$S0" "an import under the wrong key"
expect 1 "$C" -J "$B" import "$T/missing.cairn" --key "$T/k.pub"
unchanged "$S0" "an import of a missing file"

# The import.
expect 0 "$C" -J "$B" import "$T/r1.cairn" --key "$T/k.pub" &&
    out_is "imported    : r1 (4 records, read-only)"
expect 2 "$C" -J "$B" import "$T/r1.cairn" --key "$T/k.pub" &&
    err_has "already exists"
expect 2 "$C" -J "$B" create "$T/r1.json" --secret-key "$T/o.sec" &&
    err_has "already exists"
expect 2 "$C" -J "$B" import "$T/nosig.cairn" --key "$T/k.pub" --no-signature &&
    err_has "already exists"

# Readable.
expect 0 "$C" -J "$B" list
[ "$(awk '{print $1}' "$T/out" | tr '\n' ' ')" = "q1 r1 " ] ||
    fail "list: $(cat "$T/out")"
grep -q '^r1 .*IMPORTED$' "$T/out" || fail "list does not mark r1 imported"
expect 0 "$C" -J "$B" list -o json
json_is "$T/out" "[r['imported'] for r in j] == [False, True] and j[1]['state'] == 'completed' and j[1]['activity'] == 'ended'"
expect 0 "$C" -J "$B" status r1 -o json
json_is "$T/out" "j['imported'] and j['run_id'] == 'r1' and j['records'] == 4 and j['state'] == 'completed'"
expect 0 "$C" -J "$B" status r1 --require-complete
grep -q '^imported: *yes' "$T/out" || fail "status does not say imported"
expect 0 "$C" -J "$B" show r1
grep -q '^imported: *yes' "$T/out" || fail "show does not say imported"
expect 0 "$C" -J "$B" log r1
[ "$(awk '{print $3}' "$T/out" | tr '\n' ' ')" = "create accept-preflight claim receipt " ] ||
    fail "log r1: $(cat "$T/out")"
expect 0 "$C" -J "$A" log r1
cp "$T/out" "$T/log.a"
expect 0 "$C" -J "$B" log r1
cmp -s "$T/out" "$T/log.a" || fail "log differs from the source journal's"
expect 0 "$C" -J "$B" export r1 --bundle "$T/again.cairn"
cmp -s "$T/again.cairn" "$T/r1.cairn" || fail "exported bundle differs"
cmp -s "$T/again.cairn.minisig" "$T/r1.cairn.minisig" || fail "exported .minisig differs"
expect 0 "$C" verify-bundle "$T/again.cairn" --key "$T/k.pub"

# Verified with the bundle's key; the journal's key says which is needed.
expect 0 "$C" -J "$B" verify r1 --key "$T/k.pub" &&
    grep -q '^verdict *: VERIFIED' "$T/out" || fail "verify r1 --key k"
expect 3 "$C" -J "$B" verify r1 --key "$T/o.pub" &&
    grep -q 'key mismatch: the run is signed by key' "$T/out" ||
    fail "verify r1 with the journal's key does not name the key"
expect 3 "$C" -J "$B" verify --all --key "$T/o.pub"
grep -q '^overall *: INCOMPLETE (2 runs)' "$T/out" || fail "verify --all: $(tail -2 "$T/out")"
expect 0 "$C" -J "$B" verify q1 --key "$T/o.pub"

# Read-only: every transition exits 2 and writes nothing.
S1=$(sum)
for cmd in "claim r1" "complete r1 --op 0" "fail r1 --op 0 --reason x" \
    "skip r1 --op 0 --reason x" "retry r1 --op 0 --reason x" \
    "resolve r1 --op 0 --outcome failed --reason x" "cancel r1 --reason x" \
    "accept-preflight r1 --id x" "hold r1 --reason x" \
    "release r1 --reason x" "resume r1"; do
    # shellcheck disable=SC2086
    expect 2 "$C" -J "$B" $cmd --secret-key "$T/o.sec" &&
        err_has "imported"
    unchanged "$S1" "$cmd on an imported run"
done

# ---- a zstd bundle ------------------------------------------------------
printf '{"cairn_plan": 1, "plan_id": "p", "run_id": "z1", "operations": [%s]}\n' \
    '{"id": "w", "kind": "task", "run": ["true"]}' >"$T/z1.json"
expect 0 "$C" -J "$A" run "$T/z1.json" -q --secret-key "$T/k.sec"
expect 0 "$C" -J "$A" export z1 --bundle "$T/z1.cairn" --secret-key "$T/k.sec" --zstd
python3 -c 'import sys; sys.exit(open(sys.argv[1], "rb").read(4) != b"\x28\xb5\x2f\xfd")' \
    "$T/z1.cairn" || fail "export --zstd did not write a zstd frame"
expect 0 "$C" verify-bundle "$T/z1.cairn" --key "$T/k.pub"
S2=$(sum)
# Cut short, a flipped byte inside the frame, then a tampered record inside
# a well-formed frame (compressed again: only the .minisig can tell, so
# with --no-signature the records must): TAMPERED, nothing stored.
head -c 100 "$T/z1.cairn" >"$T/zcut.cairn"
cp "$T/z1.cairn.minisig" "$T/zcut.cairn.minisig"
expect 4 "$C" -J "$B" import "$T/zcut.cairn" --key "$T/k.pub" &&
    err_has "TAMPERED" && grep -q "bundle malformed: offset [0-9]*: zstd" "$T/out" ||
    fail "a cut zstd bundle: $(cat "$T/out")"
unchanged "$S2" "an import of a cut zstd bundle"
python3 - "$T/z1.cairn" "$T/zflip.cairn" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(b))
PY
cp "$T/z1.cairn.minisig" "$T/zflip.cairn.minisig"
expect 4 "$C" -J "$B" import "$T/zflip.cairn" --key "$T/k.pub" && err_has "TAMPERED"
unchanged "$S2" "an import of a flipped zstd bundle"
expect 4 "$C" -J "$B" import "$T/zflip.cairn" --key "$T/k.pub" --no-signature
unchanged "$S2" "an import of a flipped zstd bundle (--no-signature)"
if command -v zstd >/dev/null 2>&1; then
    expect 0 zstd -q -d "$T/z1.cairn" -o "$T/z1.plain"
    python3 - "$T/z1.plain" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"auto-z1")           # the preflight id of the ACCEPT record
b[i] ^= 0x01
open(p, "wb").write(bytes(b))
PY
    expect 0 zstd -q "$T/z1.plain" -o "$T/zbad.cairn"
    cp "$T/z1.cairn.minisig" "$T/zbad.cairn.minisig"
    expect 4 "$C" -J "$B" import "$T/zbad.cairn" --key "$T/k.pub" && err_has "TAMPERED"
    unchanged "$S2" "an import of a tampered zstd bundle"
    expect 4 "$C" -J "$B" import "$T/zbad.cairn" --key "$T/k.pub" --no-signature &&
        err_has "TAMPERED"
    unchanged "$S2" "an import of a tampered zstd bundle (--no-signature)"
else
    fail "zstd is missing: install zstd ('make deps')"
fi

# The import, then status, log, show, verify and export like a plain one.
expect 0 "$C" -J "$B" import "$T/z1.cairn" --key "$T/k.pub" &&
    out_is "imported    : z1 (4 records, read-only)"
expect 0 "$C" -J "$B" status z1 -o json
json_is "$T/out" "j['imported'] and j['run_id'] == 'z1' and j['records'] == 4 and j['state'] == 'completed'"
expect 0 "$C" -J "$B" show z1
grep -q '^imported: *yes' "$T/out" || fail "show z1 does not say imported"
expect 0 "$C" -J "$A" show z1 --op 0 -o json
cp "$T/out" "$T/show.z"
expect 0 "$C" -J "$B" show z1 --op 0 -o json
json_is "$T/out" "len(j['records']) == 2 and j['records'] == json.load(open('$T/show.z'))['records']"
expect 0 "$C" -J "$A" log z1
cp "$T/out" "$T/log.z"
expect 0 "$C" -J "$B" log z1
cmp -s "$T/out" "$T/log.z" || fail "log z1 differs from the source journal's"
expect 0 "$C" -J "$B" verify z1 --key "$T/k.pub" &&
    grep -q '^verdict *: VERIFIED' "$T/out" || fail "verify z1 --key k"
grep -q '.minisig verified' "$T/out" || fail "verify z1: the .minisig was not checked"
expect 0 "$C" -J "$B" export z1 --bundle "$T/zagain.cairn"
cmp -s "$T/zagain.cairn" "$T/z1.cairn" || fail "exported zstd bundle differs"
cmp -s "$T/zagain.cairn.minisig" "$T/z1.cairn.minisig" || fail "exported zstd .minisig differs"
expect 0 "$C" verify-bundle "$T/zagain.cairn" --key "$T/k.pub"
expect 3 "$C" -J "$B" verify --all --key "$T/o.pub"
grep -q '^overall *: INCOMPLETE (3 runs)' "$T/out" || fail "verify --all with z1: $(tail -2 "$T/out")"
expect 2 "$C" -J "$B" claim z1 --secret-key "$T/o.sec" && err_has "imported"
finish
