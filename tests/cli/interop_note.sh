#!/bin/sh
# interop_note.sh - cairn's C2SP signed notes (lib/format/note*.c) against
# Go's golang.org/x/mod/sumdb/note and sumdb/tlog (Debian golang-go and
# golang-golang-x-mod-dev), through tests/interop/note_check.go (Go) and
# the test binary build/tests/test_note with arguments (C):
#   - the same seed and name give the same verifier key in C and Go;
#   - C signs, Go's note.Open verifies (and the reverse), byte-identical
#     notes both ways (Ed25519 is deterministic);
#   - a changed text is a bad signature (exit 4) and another key is "no
#     signature by this key" (exit 3) in both;
#   - tlog-cosignature/v1: Go cosigns (the cosigner in note_check.go is
#     written from the spec, x/mod has none), C verifies, and the reverse;
#   - tlog proofs made by Go's tlog.ProveRecord parse in C with the
#     inclusion proof length C computes, and their checkpoint verifies.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

command -v go >/dev/null 2>&1 && [ -f /usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go ] || {
    echo "$0: go or golang.org/x/mod is missing: install the Debian packages golang-go golang-golang-x-mod-dev ('make deps')" >&2
    exit 1
}
TN="$(dirname "$CAIRN")/tests/test_note"
[ -x "$TN" ] || {
    echo "$0: $TN is not built (make $(dirname "$CAIRN")/tests/test_note)" >&2
    exit 1
}

GO="$T/note_check"
if ! (cd "$T" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$T/gocache" \
    GOFLAGS= go build -o "$GO" "$CAIRN_ROOT/tests/interop/note_check.go") \
    >"$T/gobuild.log" 2>&1; then
    fail "go build tests/interop/note_check.go"
    sed 's/^/    /' "$T/gobuild.log" >&2
    echo "interop_note: $CHECKS checks, $FAILS failures"
    exit 1
fi

seed() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
b64() { head -c 32 /dev/urandom | base64; }

# same FILE1 FILE2: the two files have the same bytes.
same() {
    CHECKS=$((CHECKS + 1))
    cmp -s "$1" "$2" || fail "$1 and $2 differ"
}

for round in 1 2 3; do
    S=$(seed)
    W=$(seed)
    X=$(seed)
    case $round in
    1) NAME="cairn/journal/$(printf '%s' "$S" | cut -c1-32)" ;;
    2) NAME="example.com/caf$(printf '\303\251')" ;;
    3) NAME="log-$round" ;;
    esac
    {
        printf '%s\n%s\n%s\n' "$NAME" "$((round * 1000003))" "$(b64)"
        printf 'cairn-state %s %s\n' "$round" "$(b64)"
        printf 'cairn-time 17640000%s\n' "$round"
    } >"$T/text"

    # Verifier keys.
    expect 0 "$GO" vkey "$NAME" "$S" && cp "$T/out" "$T/vkey.go"
    expect 0 "$TN" vkey "$NAME" "$S" && cp "$T/out" "$T/vkey.c"
    same "$T/vkey.go" "$T/vkey.c"
    VKEY=$(cat "$T/vkey.go")
    expect 0 "$GO" vkey "$NAME" "$X" && OTHER=$(cat "$T/out")

    # C signs, Go opens; Go signs, C verifies; the same bytes.
    expect 0 "$TN" sign "$NAME" "$S" "$T/text" && cp "$T/out" "$T/note.c"
    expect 0 "$GO" sign "$NAME" "$S" "$T/text" && cp "$T/out" "$T/note.go"
    same "$T/note.c" "$T/note.go"
    expect 0 "$GO" open "$VKEY" "$T/note.c" && same "$T/out" "$T/text"
    expect 0 "$TN" verify "$VKEY" "$T/note.go" && same "$T/out" "$T/text"

    # Another key: no signature by it (3), in both.
    expect 3 "$GO" open "$OTHER" "$T/note.c"
    expect 3 "$TN" verify "$OTHER" "$T/note.go"
    err_has "CAIRN_EKEYMISMATCH"
    # A changed tree size: a bad signature (4), in both.
    sed '2s/^/9/' "$T/note.c" >"$T/tampered"
    expect 4 "$GO" open "$VKEY" "$T/tampered"
    expect 4 "$TN" verify "$VKEY" "$T/tampered"
    err_has "CAIRN_ETAMPERED"

    # Cosignatures: Go cosigns C's note, C verifies; and the reverse.
    TS=$((1700000000 + round))
    WPUB=$("$TN" pubhex "$W")
    expect 0 "$GO" cosign "witness.example/w$round" "$W" "$TS" "$T/note.c" &&
        cp "$T/out" "$T/cosigned.go"
    expect 0 "$TN" cosign "witness.example/w$round" "$W" "$TS" "$T/note.go" &&
        cp "$T/out" "$T/cosigned.c"
    same "$T/cosigned.go" "$T/cosigned.c"
    expect 0 "$TN" cosig-verify "witness.example/w$round" "$WPUB" "$T/cosigned.go" &&
        out_is "$TS"
    expect 0 "$GO" cosig-open "witness.example/w$round" "$WPUB" "$T/cosigned.c" &&
        out_is "$TS"
    # The log's signature still verifies next to the cosignature.
    expect 0 "$GO" open "$VKEY" "$T/cosigned.c"
    expect 0 "$TN" verify "$VKEY" "$T/cosigned.go"
    # A cosignature is not a log signature, and the reverse.
    expect 3 "$TN" cosig-verify "$NAME" "$("$TN" pubhex "$S")" "$T/cosigned.go"
    expect 3 "$GO" cosig-open "$NAME" "$("$TN" pubhex "$S")" "$T/cosigned.c"
    sed '2s/^/9/' "$T/cosigned.c" >"$T/tampered"
    expect 4 "$TN" cosig-verify "witness.example/w$round" "$WPUB" "$T/tampered"
    expect 4 "$GO" cosig-open "witness.example/w$round" "$WPUB" "$T/tampered"
done

# tlog proofs from Go's sumdb/tlog: C parses them, checks the number of
# hashes against RFC 6962 and verifies the checkpoint's signature.
S=$(seed)
PVKEY=$("$GO" vkey example.com/log "$S")
for case in "1 0" "2 1" "7 5" "8 0" "8 7" "13 12" "100 37" "1025 1024"; do
    set -- $case
    expect 0 "$GO" proof example.com/log "$S" "$1" "$2" && cp "$T/out" "$T/proof"
    # Go's hash lines: after "index N", up to the blank line.
    nh=$(awk '/^index /{on=1; next} /^$/{exit} on{n++} END{print n+0}' "$T/proof")
    expect 0 "$TN" proof "$PVKEY" "$T/proof" &&
        out_is "index $2 size $1 hashes $nh extra $(printf 'leaf %s' "$2" | wc -c)"
    # A hash line dropped: refused as malformed (2).
    if [ "$nh" -gt 0 ]; then
        sed '4d' "$T/proof" >"$T/short"
        expect 2 "$TN" proof "$PVKEY" "$T/short"
        err_has "proof hashes where index $2 in a tree of $1 needs $nh"
    fi
done

finish
