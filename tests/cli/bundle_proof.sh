#!/bin/sh
# bundle_proof.sh - proof bundles (bundle version 2, docs/FORMAT.md
# section 19) on the CLI: export writes FILE, FILE.tlog-proof and
# FILE.minisig; verify-bundle prints the export time, the run state as
# proven under the journal head and the .tlog-proof check; a changed
# .tlog-proof is TAMPERED; anchors (an old bundle after the run moved on is
# INCOMPLETE with a newer anchor; other journals, malformed anchors and a
# rolled-back journal are refused).  And interop: Go's note.Open verifies
# the bundle's checkpoint with a verifier key derived from the minisign
# public key, and tlog.CheckRecord the .tlog-proof's inclusion proof of
# the run's last record (tests/interop/bundle_check.go, Debian packages
# golang-go and golang-golang-x-mod-dev).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
TESTPID=$$

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "p", "run_id": "p-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "copy", "kind": "transfer"}]}
JSON
sed 's/"p-1"/"p-2"/' "$T/plan.json" >"$T/plan2.json"

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.key" --no-password
K="--secret-key $T/k.key"
# Two interleaved runs: p-1's last record is not the tree's last leaf.
expect 0 "$C" create "$T/plan.json" $K
expect 0 "$C" create "$T/plan2.json" $K
expect 0 "$C" claim p-1 --holder-pid $TESTPID $K
expect 0 "$C" complete p-1 --op 0 $K
expect 0 "$C" claim p-2 --holder-pid $TESTPID $K

# --- export and verify ----------------------------------------------------
expect 0 "$C" export p-1 --bundle "$T/b1" $K
grep -q '^bundle      : .*(version 2, ' "$T/out" || fail "export: no version 2"
grep -q "^tlog-proof  : $T/b1.tlog-proof" "$T/out" || fail "export: tlog-proof"
grep -q '^run state   : awaiting-preflight' "$T/out" || fail "export: state"
CHECKS=$((CHECKS + 1))
[ -f "$T/b1" ] && [ -f "$T/b1.minisig" ] && [ -f "$T/b1.tlog-proof" ] ||
    fail "export: files missing"
head -1 "$T/b1.tlog-proof" | grep -qx 'c2sp.org/tlog-proof@v1' ||
    fail "tlog-proof header"
grep -q '^trusted comment: cairn bundle run=p-1 records=3 head=[0-9a-f]* journal=[0-9a-f]* exported=[0-9]* state=awaiting-preflight tree=5$' \
    "$T/b1.minisig" || fail "trusted comment: $(grep trusted "$T/b1.minisig")"
expect 0 "$C" verify-bundle "$T/b1" --key "$T/k.pub"
grep -q '^version     : 2$' "$T/out" || fail "verify: version"
grep -q '^exported    : 20' "$T/out" || fail "verify: export time"
grep -q '^run state   : awaiting-preflight  done 1/2  failed 0  in doubt 0 (proven under the journal head)$' \
    "$T/out" || fail "verify: run state"
grep -q '^tlog-proof  : matches$' "$T/out" || fail "verify: tlog-proof"
grep -q '^journal head: format 2, 5 records, 2 runs' "$T/out" ||
    fail "verify: head size"
grep -q '^head sig    : verified' "$T/out" || fail "verify: head signature"
grep -q '^verdict     : VERIFIED' "$T/out" || fail "verify: not VERIFIED"
expect 0 "$C" verify-bundle "$T/b1" --key "$T/k.pub" -o json &&
    cp "$T/out" "$T/v.json"
json_is "$T/v.json" 'j["bundle_info"]["version"] == 2 and j["bundle_info"]["tlog_proof"] == "matches" and j["bundle_info"]["run_state"] == {"state": "awaiting-preflight", "done": 1, "total": 2, "failed": 0, "in_doubt": 0} and j["journal_head"]["size"] == 5 and j["bundle_info"]["exported_ns"] > 0 and j["bundle_info"]["anchors"] == []'
expect 0 "$C" export p-1 --bundle "$T/b1j" $K -o json && cp "$T/out" "$T/e.json"
json_is "$T/e.json" 'j["version"] == 2 and j["tlog_proof"].endswith("b1j.tlog-proof") and j["state"] == "awaiting-preflight" and j["tree_size"] == 5'

# Nothing is overwritten, a stray .tlog-proof included.
: >"$T/b3.tlog-proof"
expect 2 "$C" export p-1 --bundle "$T/b3" $K
err_has "b3.tlog-proof exists: not overwritten"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/b3" ] && [ ! -e "$T/b3.minisig" ] || fail "b3: files written"

# A changed .tlog-proof is TAMPERED; a missing one is fine; a missing
# .minisig fails closed.
cp "$T/b1" "$T/c1"
cp "$T/b1.minisig" "$T/c1.minisig"
sed 's/^index 3$/index 2/' "$T/b1.tlog-proof" >"$T/c1.tlog-proof"
expect 4 "$C" verify-bundle "$T/c1" --key "$T/k.pub"
grep -q '^first bad   : field tlog-proof' "$T/out" || fail "tlog-proof field"
rm "$T/c1.tlog-proof"
expect 0 "$C" verify-bundle "$T/c1" --key "$T/k.pub"
grep -q '^tlog-proof  : absent$' "$T/out" || fail "tlog-proof absent"
rm "$T/c1.minisig"
expect 3 "$C" verify-bundle "$T/c1" --key "$T/k.pub"
expect 0 "$C" verify-bundle "$T/c1" --key "$T/k.pub" --no-signature

# --- Go checks the .tlog-proof ------------------------------------------
# last_record BUNDLE OUT: the bundle's last record bytes (section 12.1).
last_record() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
off = 25
(n,) = struct.unpack('>H', b[off:off + 2])
off += 2 + n + 8 + 32
(count,) = struct.unpack('>I', b[off:off + 4])
off += 4
for i in range(count):
    (ln,) = struct.unpack('>I', b[off + 8:off + 12])
    rec = b[off + 12:off + 12 + ln]
    off += 12 + ln
open(sys.argv[2], 'wb').write(rec)
PY
}
GOPATH=/usr/share/gocode
if command -v go >/dev/null 2>&1 && [ -d "$GOPATH/src/golang.org/x/mod/sumdb/tlog" ]; then
    CHECKS=$((CHECKS + 1))
    if (cd "$CAIRN_ROOT/tests/interop" &&
        env GO111MODULE=off GOPATH="$GOPATH" GOCACHE="$T/gocache" \
            GOFLAGS= HOME="$T" go build -o "$T/bundle_check" bundle_check.go minisign_note.go) \
        >"$T/build.log" 2>&1; then
        last_record "$T/b1" "$T/rec"
        expect 0 "$T/bundle_check" "$T/k.pub" "$T/b1.tlog-proof" "$T/rec"
        grep -q '^ok index=3 size=5 vkey=cairn/journal/' "$T/out" ||
            fail "bundle_check: $(cat "$T/out")"
        # Another record, another key, a changed proof hash: refused.
        printf 'x' >>"$T/rec"
        expect 1 "$T/bundle_check" "$T/k.pub" "$T/b1.tlog-proof" "$T/rec"
        err_has "FAIL: tlog.CheckRecord"
        last_record "$T/b1" "$T/rec"
        expect 0 "$C" keygen -p "$T/o.pub" -s "$T/o.key" --no-password
        expect 1 "$T/bundle_check" "$T/o.pub" "$T/b1.tlog-proof" "$T/rec"
        err_has "FAIL: note.Open"
        awk 'NR == 3 { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } 1' \
            "$T/b1.tlog-proof" >"$T/bad.tlog-proof"
        expect 1 "$T/bundle_check" "$T/k.pub" "$T/bad.tlog-proof" "$T/rec"
        err_has "FAIL: tlog.CheckRecord"
    else
        fail "go build tests/interop/bundle_check.go failed"
        sed 's/^/    /' "$T/build.log" >&2
    fi
else
    fail "go or golang.org/x/mod is missing: install golang-go golang-golang-x-mod-dev ('make deps')"
fi

# --- zstd ---------------------------------------------------------------
expect 0 "$C" export p-1 --bundle "$T/z" $K --zstd
grep -q '^bundle      : .*(version 2, [0-9]* bytes, zstd of [0-9]*)$' "$T/out" ||
    fail "export --zstd: $(head -1 "$T/out")"
expect 0 "$C" verify-bundle "$T/z" --key "$T/k.pub"
grep -q '^version     : 2 (zstd: [0-9]* bytes stored, [0-9]* decompressed)$' \
    "$T/out" || fail "verify --zstd: version line"
grep -q '^verdict     : VERIFIED' "$T/out" || fail "zstd: not VERIFIED"
if command -v minisign >/dev/null 2>&1; then
    expect 0 minisign -V -p "$T/k.pub" -m "$T/z" # signs the file as stored
fi
# Stock zstd reads it; the decompressed bundle is the same bundle (its
# .minisig signs the compressed bytes, so only --no-signature).
if command -v zstd >/dev/null 2>&1; then
    expect 0 zstd -q -d "$T/z" -o "$T/zplain"
    expect 0 "$C" verify-bundle "$T/zplain" --key "$T/k.pub" --no-signature
    grep -q '^version     : 2$' "$T/out" || fail "zstd -d: not a plain bundle"
else
    fail "zstd is missing: install zstd ('make deps')"
fi
head -c 100 "$T/z" >"$T/zcut"
expect 4 "$C" verify-bundle "$T/zcut" --key "$T/k.pub" --no-signature
grep -q 'bundle malformed: offset [0-9]*: zstd' "$T/out" || fail "zstd cut"
expect 2 "$C" export p-1 --zstd

# --- anchors --------------------------------------------------------------
# The checkpoint of a .tlog-proof is the journal head, as `cairn checkpoint`
# prints it (checked below).
anchor_of() { awk 'f { print } /^$/ { f = 1 }' "$1" >"$2"; }
anchor_of "$T/b1.tlog-proof" "$T/a5"
cp -r "$CAIRN_DIR" "$T/old-journal"
expect 0 "$C" accept-preflight p-1 --id pf $K
expect 0 "$C" export p-2 --bundle "$T/x" $K
# ... and the anchor as `cairn checkpoint` prints it: the same bytes.
expect 0 "$C" checkpoint --key "$T/k.pub" && cp "$T/out" "$T/a6"
anchor_of "$T/x.tlog-proof" "$T/a6x"
CHECKS=$((CHECKS + 1))
cmp -s "$T/a6" "$T/a6x" || fail "cairn checkpoint differs from the bundle's head"
# The old bundle alone still verifies; with the newer anchor it is not
# VERIFIED: it predates it.
expect 0 "$C" verify-bundle "$T/b1" --key "$T/k.pub"
expect 3 "$C" verify-bundle "$T/b1" --key "$T/k.pub" --anchor "$T/a6"
grep -q '^anchor      : .*a6 (6 records): INCOMPLETE: the bundle predates the anchor' \
    "$T/out" || fail "old bundle: predates"
# A new bundle with the old anchor's consistency proof.
expect 0 "$C" export p-1 --bundle "$T/b2" $K --anchor "$T/a5"
expect 0 "$C" verify-bundle "$T/b2" --key "$T/k.pub" --anchor "$T/a5" --anchor "$T/a6"
grep -q 'a5 (5 records): VERIFIED: consistent' "$T/out" || fail "a5 consistent"
expect 0 "$C" verify-bundle "$T/b2" --key "$T/k.pub" --anchor "$T/a5" -o json &&
    cp "$T/out" "$T/va.json"
json_is "$T/va.json" 'j["bundle_info"]["anchors"][0]["size"] == 5 and j["bundle_info"]["anchors"][0]["verdict"] == "VERIFIED"'
expect 3 "$C" verify-bundle "$T/x" --key "$T/k.pub" --anchor "$T/a5"
grep -q 'export with --anchor' "$T/out" || fail "no proof: export with --anchor"
# Another journal's checkpoint: TAMPERED at verify, refused (2) at export.
expect 0 env CAIRN_DIR="$T/other" "$C" create "$T/plan.json" $K
expect 0 env CAIRN_DIR="$T/other" "$C" export p-1 --bundle "$T/o1" $K
anchor_of "$T/o1.tlog-proof" "$T/ao"
expect 4 "$C" verify-bundle "$T/b2" --key "$T/k.pub" --anchor "$T/ao"
grep -q "is not this journal's" "$T/out" || fail "other journal anchor"
expect 2 "$C" export p-1 --bundle "$T/b4" $K --anchor "$T/ao"
err_has "anchor 1: the anchor's origin"
# Malformed anchors: exit 2 for both; --anchor needs --bundle.
printf 'not a note\n' >"$T/junk"
expect 2 "$C" verify-bundle "$T/b2" --key "$T/k.pub" --anchor "$T/junk"
expect 2 "$C" export p-1 --bundle "$T/b4" $K --anchor "$T/junk"
expect 2 "$C" export p-1 --anchor "$T/a5"
err_has "--anchor and --zstd go with --bundle"
expect 2 "$C" verify-bundle "$T/b2" --key "$T/k.pub" --anchor "$T/nope"
# A journal rolled back below an anchor: the export refuses (exit 4).
expect 4 env CAIRN_DIR="$T/old-journal" "$C" export p-1 --bundle "$T/b4" $K --anchor "$T/a6"
err_has "not consistent"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/b4" ] && [ ! -e "$T/b4.minisig" ] && [ ! -e "$T/b4.tlog-proof" ] ||
    fail "b4: files written"
finish
