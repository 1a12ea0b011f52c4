#!/bin/sh
# bundle.sh - export and bundles on the CLI, with stock minisign as the
# independent checker: a run signed with a `cairn keygen` key and one
# signed with a `minisign -G -W` key are exported; `minisign -V` and
# `cairn verify-bundle` both accept the bundles, and both reject a bundle
# with one flipped byte.  A missing or unreadable .minisig fails closed;
# FIFOs and devices given as files never hang.  Also the JSON/NDJSON
# exports and refusals.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
TESTPID=$$
HAVE_MINISIGN=0
command -v minisign >/dev/null 2>&1 && HAVE_MINISIGN=1

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "b", "run_id": "b-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "copy", "kind": "transfer"}]}
JSON

# journal RUN KEY: a signed run of four records.
journal() {
    sed "s/\"b-1\"/\"$1\"/" "$T/plan.json" >"$T/$1.json"
    expect 0 "$C" create "$T/$1.json" --secret-key "$2"
    expect 0 "$C" claim "$1" --holder-pid $TESTPID --secret-key "$2"
    expect 0 "$C" complete "$1" --op 0 --secret-key "$2"
    expect 0 "$C" accept-preflight "$1" --id pf --secret-key "$2"
}

# flip FILE OFFSET: XOR one byte.
flip() {
    python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, 'rb').read())
data[off % len(data)] ^= 0x01
open(path, 'wb').write(data)
PY
}

# check_bundle BUNDLE PUB: both verifiers accept it, and both reject a
# copy with a flipped byte (one in the header, one in the last record).
check_bundle() {
    expect 0 "$C" verify-bundle "$1" --key "$2"
    grep -q '^verdict     : VERIFIED' "$T/out" || fail "$1: not VERIFIED"
    grep -q 'minisig verified' "$T/out" || fail "$1: .minisig not checked"
    if [ "$HAVE_MINISIGN" = 1 ]; then
        expect 0 minisign -V -p "$2" -m "$1"
        grep -q 'Trusted comment: cairn bundle run=' "$T/out" ||
            fail "$1: trusted comment"
    fi
    for off in 30 -200; do
        cp "$1" "$T/flipped"
        cp "$1.minisig" "$T/flipped.minisig"
        size=$(wc -c <"$1")
        [ "$off" -lt 0 ] && off=$((size + off))
        flip "$T/flipped" "$off"
        expect 4 "$C" verify-bundle "$T/flipped" --key "$2"
        if [ "$HAVE_MINISIGN" = 1 ]; then
            expect 1 minisign -V -p "$2" -m "$T/flipped"
        fi
        rm -f "$T/flipped.minisig"
        expect 4 "$C" verify-bundle "$T/flipped" --key "$2"
    done
}

# --- a key made by cairn --------------------------------------------------
expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.key" --no-password
expect 0 "$C" keygen -p "$T/o.pub" -s "$T/o.key" --no-password
journal b-1 "$T/k.key"
expect 0 "$C" export b-1 --bundle "$T/b1.bundle" --secret-key "$T/k.key"
grep -q "^bundle      : $T/b1.bundle" "$T/out" || fail "export output"
check_bundle "$T/b1.bundle" "$T/k.pub"
expect 3 "$C" verify-bundle "$T/b1.bundle"
grep -q 'key not pinned' "$T/out" || fail "no 'key not pinned'"
# Another key is a key mismatch (exit 3), as minisign says, not tampering;
# with several keys pinned, the bundle's own key counts.
expect 3 "$C" verify-bundle "$T/b1.bundle" --key "$T/o.pub"
grep -q 'key mismatch' "$T/out" || fail "other key reason"
expect 0 "$C" verify-bundle "$T/b1.bundle" --key "$T/o.pub" --key "$T/k.pub"
grep -q 'VERIFIED' "$T/out" || fail "two keys: not verified"
expect 2 "$C" verify-bundle "$T/b1.bundle" --key "$T/k.pub" --key "$T/nope.pub"
expect 0 "$C" verify-bundle "$T/b1.bundle" --key "$T/k.pub" -o json &&
    cp "$T/out" "$T/vb.json"
json_is "$T/vb.json" '(j["verdict"] == "VERIFIED" and j["records"] == 4 and
    j["checkpoints"] == 4 and j["signatures_ok"] == 0 and j["head_sealed"] == 4 and
    j["bundle"].endswith("b1.bundle") and j["run_id"] == "b-1")'

# --- refusals -------------------------------------------------------------------
expect 2 "$C" export b-1 --bundle "$T/b1.bundle" --secret-key "$T/k.key"
err_has "exists"
expect 2 "$C" export b-1 --bundle "$T/nokey.bundle"
err_has "secret key"
expect 2 "$C" export b-1 --bundle "$T/other.bundle" --secret-key "$T/o.key"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/other.bundle" ] && [ ! -e "$T/other.bundle.minisig" ] ||
    fail "a refused export left a file"
expect 2 "$C" export no-such --bundle "$T/x.bundle" --secret-key "$T/k.key"
expect 1 "$C" verify-bundle "$T/missing.bundle" --key "$T/k.pub"
printf 'not a bundle' >"$T/junk.bundle"
expect 4 "$C" verify-bundle "$T/junk.bundle" --key "$T/k.pub"
grep -q 'bundle malformed' "$T/out" || fail "junk reason"
expect 2 "$C" verify-bundle "$T/b1.bundle" --key "$T/junk.bundle"

# --- the detached signature fails closed -------------------------------------
# Without a readable FILE.minisig a bundle is never VERIFIED (exit 3, and
# a warning naming the file), unless --no-signature says not to check it.
cp "$T/b1.bundle" "$T/ns.bundle"
expect 3 "$C" verify-bundle "$T/ns.bundle" --key "$T/k.pub"
grep -q '^verdict     : INCOMPLETE (detached signature not checked' "$T/out" ||
    fail "missing .minisig: not INCOMPLETE"
err_has "$T/ns.bundle.minisig: No such file or directory"
expect 3 "$C" verify-bundle "$T/ns.bundle" --key "$T/k.pub" -o json &&
    cp "$T/out" "$T/ns.json"
json_is "$T/ns.json" '(j["verdict"] == "INCOMPLETE" and j["exit_code"] == 3
    and j["signature"] == "missing")'
expect 0 "$C" verify-bundle "$T/ns.bundle" --key "$T/k.pub" --no-signature
grep -q '^signature   : not checked (--no-signature)' "$T/out" ||
    fail "--no-signature: no 'not checked' line"
mkdir "$T/ns.bundle.minisig"
expect 3 "$C" verify-bundle "$T/ns.bundle" --key "$T/k.pub"
err_has "a directory, not a regular file"
rmdir "$T/ns.bundle.minisig"
# FIFOs (nobody writes them) never hang: as the .minisig, the bundle, the
# public key, the secret key and the plan.
mkfifo "$T/ns.bundle.minisig" "$T/fifo"
expect 3 timeout 60 "$C" verify-bundle "$T/ns.bundle" --key "$T/k.pub"
err_has "a FIFO, not a regular file"
expect 1 timeout 60 "$C" verify-bundle "$T/fifo" --key "$T/k.pub"
err_has "cairn: $T/fifo: input/output error: a FIFO, not a regular file"
expect 2 timeout 60 "$C" verify-bundle "$T/b1.bundle" --key "$T/fifo"
err_has "a FIFO, not a regular file"
expect 1 timeout 60 "$C" -J "$T/fj" create "$T/plan.json" --secret-key "$T/fifo"
err_has "a FIFO, not a regular file"
expect 1 timeout 60 "$C" -J "$T/fj" create "$T/fifo"
err_has "a FIFO, not a regular file"
rm -f "$T/ns.bundle.minisig" "$T/fifo"
if [ "$(id -u)" -ne 0 ]; then
    cp "$T/b1.bundle.minisig" "$T/ns.bundle.minisig"
    chmod 000 "$T/ns.bundle.minisig"
    expect 3 "$C" verify-bundle "$T/ns.bundle" --key "$T/k.pub"
    err_has "Permission denied"
fi
# Size bounds before reading: a character device and a sparse 2 GiB file
# are refused at once.
expect 1 timeout 60 "$C" verify-bundle /dev/zero --key "$T/k.pub"
err_has "cairn: /dev/zero: input/output error: a character device, not a regular file"
truncate -s 2G "$T/huge.bundle"
expect 4 timeout 60 "$C" verify-bundle "$T/huge.bundle" --key "$T/k.pub"
grep -q 'larger than 1 GiB' "$T/out" || fail "huge bundle: no limit named"
rm -f "$T/huge.bundle"

# --- JSON and NDJSON exports ------------------------------------------------------
expect 0 "$C" export b-1 && cp "$T/out" "$T/e.json"
json_is "$T/e.json" '(j["run_id"] == "b-1" and len(j["records"]) == 4 and
    len(j["checkpoints"]) == 4 and len(j["journal_id"]) == 32 and
    j["checkpoints"][3]["seq"] == 3 and j["checkpoints"][0]["head_sealed"] and
    not j["checkpoints"][0]["signed"] and j["checkpoints"][0]["signature"] is None and
    j["records"][0]["type"] == "create" and len(j["key_id"]) == 16)'
expect 0 "$C" export b-1 -o ndjson
CHECKS=$((CHECKS + 1))
[ "$(wc -l <"$T/out")" -eq 4 ] || fail "ndjson: not 4 lines"
expect 0 "$C" export b-1 --output-file "$T/file.json"
json_is "$T/file.json" 'len(j["records"]) == 4'
expect 2 "$C" export b-1 --output-file "$T/file.json"
expect 2 "$C" export b-1 -o ndjson --bundle "$T/y.bundle"

# --- a key made by minisign -G -W -----------------------------------------------
if [ "$HAVE_MINISIGN" = 1 ]; then
    expect 0 minisign -G -W -p "$T/m.pub" -s "$T/m.key"
    # a journal of its own: a journal is signed by one key
    CAIRN_DIR="$T/mj"
    export CAIRN_DIR
    journal m-1 "$T/m.key"
    expect 0 "$C" verify m-1 --key "$T/m.pub"
    expect 0 "$C" export m-1 --bundle "$T/m1.bundle" --secret-key "$T/m.key"
    check_bundle "$T/m1.bundle" "$T/m.pub"
else
    echo "minisign not found: interoperability checks skipped"
fi

finish
