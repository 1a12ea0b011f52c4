#!/bin/sh
# interop_anchor.sh - `cairn checkpoint` of a REAL journal, checked by
# software cairn did not write (Go's golang.org/x/mod/sumdb/note and
# sumdb/tlog, Debian golang-go and golang-golang-x-mod-dev) through
# tests/interop/anchor_check.go:
#   - note.Open verifies the journal's head under the verifier key derived
#     from the minisign public key (name = the checkpoint's origin);
#   - tlog.CheckTree accepts the consistency proof of `cairn checkpoint
#     --from OLD` from an earlier saved checkpoint to the current one;
#   - another key, a changed proof hash and an anchor of another size are
#     refused.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

command -v go >/dev/null 2>&1 && [ -f /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog/tlog.go ] || {
    echo "$0: go or golang.org/x/mod is missing: install the Debian packages golang-go golang-golang-x-mod-dev ('make deps')" >&2
    exit 1
}
GO="$T/anchor_check"
if ! (cd "$T" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$T/gocache" \
    GOFLAGS= HOME="$T" go build -o "$GO" "$CAIRN_ROOT/tests/interop/anchor_check.go" \
    "$CAIRN_ROOT/tests/interop/minisign_note.go") \
    >"$T/gobuild.log" 2>&1; then
    fail "go build tests/interop/anchor_check.go"
    sed 's/^/    /' "$T/gobuild.log" >&2
    finish
fi

C=$CAIRN
expect 0 "$C" keygen -p "$T/a.pub" -s "$T/a.key" --no-password
expect 0 "$C" keygen -p "$T/b.pub" -s "$T/b.key" --no-password
export CAIRN_SECRET_KEY="$T/a.key"
for r in r1 r2 r3 r4 r5; do
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[%s]}\n' \
        "$r" '{"id":"a","kind":"task","run":["true"]},{"id":"b","kind":"task","run":["true"]},{"id":"c","kind":"task","run":["true"]}' \
        >"$T/$r.json"
done

# A checkpoint after each run (8 records a run: sizes 8 .. 40).
n=0
for r in r1 r2 r3 r4 r5; do
    expect 0 "$C" run "$T/$r.json" -q
    n=$((n + 1))
    expect 0 "$C" checkpoint --key "$T/a.pub"
    cp "$T/out" "$T/cp$n.note"
done
last=$(sed -n 2p "$T/cp5.note")
expect 0 "$GO" "$T/a.pub" "$T/cp5.note"
expect 1 "$GO" "$T/b.pub" "$T/cp5.note"
err_has "note.Open"
for i in 1 2 3 4 5; do
    size=$(sed -n 2p "$T/cp$i.note")
    expect 0 "$C" checkpoint --from "$size" --key "$T/a.pub"
    cp "$T/out" "$T/req$i"
    expect 0 "$GO" "$T/a.pub" "$T/cp5.note" "$T/cp$i.note" "$T/req$i"
    grep -q "^tlog.CheckTree: ok, $size -> $last" "$T/out" || fail "req$i: $(cat "$T/out")"
    CHECKS=$((CHECKS + 1))
done
# A changed proof hash, and a proof from another size.
awk 'NR == 2 { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } 1' \
    "$T/req2" >"$T/req2-bad"
expect 1 "$GO" "$T/a.pub" "$T/cp5.note" "$T/cp2.note" "$T/req2-bad"
err_has "tlog.CheckTree"
expect 1 "$GO" "$T/a.pub" "$T/cp5.note" "$T/cp3.note" "$T/req2"
err_has "request: first line"
finish
