#!/bin/sh
# interop_tlog.sh - cairn's Merkle trees (lib/format/merkle.c) against
# software cairn did not write: Go's golang.org/x/mod/sumdb/tlog (Debian
# packages golang-go and golang-golang-x-mod-dev).  The C side
# (`test_merkle --tlog-emit`) writes 1100 leaves, cairn's root of every
# prefix and inclusion and consistency proofs; tests/interop/tlog_check.go
# checks each root with tlog.TreeHash, each proof with tlog.CheckRecord /
# tlog.CheckTree and compares it with tlog.ProveRecord / tlog.ProveTree,
# then writes tlog's own roots and proofs, which cairn checks
# (`test_merkle --tlog-check`).  A corrupted root or proof on either side
# must be caught.  Built offline, in GOPATH mode, from the Debian sources.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

command -v go >/dev/null 2>&1 || {
    echo "$0: go is missing: install the Debian packages golang-go golang-golang-x-mod-dev ('make deps')" >&2
    exit 1
}
GOPATH=/usr/share/gocode
[ -d "$GOPATH/src/golang.org/x/mod/sumdb/tlog" ] || {
    echo "$0: $GOPATH/src/golang.org/x/mod/sumdb/tlog is missing: install the Debian package golang-golang-x-mod-dev ('make deps')" >&2
    exit 1
}
TM=$(dirname "$CAIRN")/tests/test_merkle
[ -x "$TM" ] || {
    echo "$0: $TM is not built (make)" >&2
    exit 1
}

CHECKS=$((CHECKS + 1))
if ! (cd "$CAIRN_ROOT/tests/interop" &&
    env GO111MODULE=off GOPATH="$GOPATH" GOCACHE="$T/gocache" \
        GOFLAGS= HOME="$T" go build -o "$T/tlog_check" tlog_check.go) \
    >"$T/build.log" 2>&1; then
    fail "go build tests/interop/tlog_check.go failed"
    sed 's/^/    /' "$T/build.log" >&2
    finish
fi

# cairn's roots and proofs, checked by tlog; tlog's, checked by cairn.
expect 0 "$TM" --tlog-emit && cp "$T/out" "$T/cairn.txt"
CHECKS=$((CHECKS + 1))
[ "$(grep -c '^leaf' "$T/cairn.txt")" -eq 1100 ] || fail "--tlog-emit: not 1100 leaves"
expect 0 "$T/tlog_check" <"$T/cairn.txt" && cp "$T/out" "$T/tlog.txt"
err_has "checks passed (1100 leaves)"
CHECKS=$((CHECKS + 1))
grep -q '^gcons' "$T/tlog.txt" || fail "tlog_check wrote no proofs"
expect 0 "$TM" --tlog-check "$T/tlog.txt"
err_has ", 0 failed (1100 leaves)"

# Each side notices a wrong root and a wrong proof hash from the other.
awk '/^root 700 /{ $3 = substr($3, 1, 63) (substr($3, 64) == "0" ? "1" : "0") } 1' \
    "$T/cairn.txt" >"$T/bad-root.txt"
expect 1 "$T/tlog_check" <"$T/bad-root.txt"
err_has "FAIL: root 700: cairn"
awk '/^incl 1024 512 /{ $5 = ($5 ~ /^0/ ? "1" : "0") substr($5, 2) } 1' \
    "$T/cairn.txt" >"$T/bad-incl.txt"
expect 1 "$T/tlog_check" <"$T/bad-incl.txt"
err_has "FAIL: incl 1024 512: tlog.CheckRecord"
awk '/^groot 513 /{ $3 = ($3 ~ /^0/ ? "1" : "0") substr($3, 2) } 1' \
    "$T/tlog.txt" >"$T/bad-groot.txt"
expect 1 "$TM" --tlog-check "$T/bad-groot.txt"
err_has "cairn's root differs from tlog.TreeHash: groot 513"
awk '!done && /^gcons [0-9]+ 1100 [0-9a-f]/{ $4 = ($4 ~ /^0/ ? "1" : "0") substr($4, 2); done = 1 } 1' \
    "$T/tlog.txt" >"$T/bad-gcons.txt"
expect 1 "$TM" --tlog-check "$T/bad-gcons.txt"
err_has "cairn rejects tlog's proof: gcons"
# A malformed line is refused, not skipped.
printf 'leaf 00\nnonsense 1 2\n' >"$T/junk.txt"
expect 2 "$TM" --tlog-check "$T/junk.txt"
err_has "line 2: malformed"
finish
