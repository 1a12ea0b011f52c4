#!/bin/sh
# witness.sh - `cairn witness` on a real journal (docs/FORMAT.md section
# 20): `cairn checkpoint --from N | cairn witness ...` cosigns the first
# head and every head that extends it; a stale old size gets the
# witness's size back (exit 3); a journal rolled back to an old copy of
# data.mdb and a forked journal (rolled back, then written again) are
# refused (exit 4); unknown log keys, bad requests and unsafe stores are
# refused; Go's note.Open (golang.org/x/mod/sumdb/note, with the
# tlog-cosignature v1 verifier of tests/interop/note_check.go) verifies
# the witness's cosignature and the log's signature on the real head.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

export CAIRN_CHECKPOINTS="$T/remembered"
"$CAIRN" keygen -p "$T/log.pub" -s "$T/log.key" --no-password >/dev/null &&
    "$CAIRN" keygen -p "$T/w1.pub" -s "$T/w1.key" --no-password >/dev/null &&
    "$CAIRN" keygen -p "$T/w2.pub" -s "$T/w2.key" --no-password >/dev/null ||
    fail "keygen"
export CAIRN_SECRET_KEY="$T/log.key"
cat >"$T/plan.json" <<'PLAN'
{"cairn_plan": 1, "plan_id": "wit", "operations": [
  {"id": "a", "kind": "task", "run": ["true"]},
  {"id": "b", "kind": "task", "run": ["true"]}]}
PLAN

# witness ARGS...: the first witness on its own store.
witness() {
    "$CAIRN" witness --secret-key "$T/w1.key" --name w1.example \
        --log-key "$T/log.pub" --store "$T/ws" "$@"
}
# req OLD: the add-checkpoint request of the journal's head from OLD.
req() {
    "$CAIRN" checkpoint --key "$T/log.pub" --from "$1" >"$T/req" 2>"$T/req.err" ||
        fail "checkpoint --from $1: $(cat "$T/req.err")"
}
run_plan() {
    "$CAIRN" run "$T/plan.json" -q >/dev/null 2>"$T/run.err" ||
        fail "run: $(cat "$T/run.err")"
}

run_plan
SIZE1=$("$CAIRN" checkpoint -o json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
cp "$CAIRN_DIR/data.mdb" "$T/old.mdb"

# First cosign: old 0, from standard input.
req 0
expect 0 sh -c '"$0" witness --secret-key "$1" --name w1.example --log-key "$2" --store "$3" - <"$4"' \
    "$CAIRN" "$T/w1.key" "$T/log.pub" "$T/ws" "$T/req"
CHECKS=$((CHECKS + 1))
case $(cat "$T/out") in
"— w1.example "*) ;;
*) fail "cosignature line: $(cat "$T/out")" ;;
esac
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "one cosignature line expected"
# The store is private.
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a "$T/ws")" = 700 ] && [ "$(stat -c %a "$T/ws/data.mdb")" = 600 ] ||
    fail "store modes: $(stat -c '%a %n' "$T/ws" "$T/ws/data.mdb")"

# More commits; --from the previous size; --note and --output.
run_plan
req "$SIZE1"
expect 0 witness --note --output "$T/cosigned.note" "$T/req"
out_is ""
CHECKS=$((CHECKS + 1))
grep -q '^— w1.example ' "$T/cosigned.note" &&
    head -1 "$T/cosigned.note" | grep -q '^cairn/journal/' ||
    fail "cosigned note: $(cat "$T/cosigned.note")"
SIZE2=$("$CAIRN" checkpoint -o json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
# The same head again (old = size, empty proof): cosigned again.
req "$SIZE2"
expect 0 witness "$T/req"
# A stale old size: 409, the witness's size on stdout (exit 3).
req 0
expect 3 witness "$T/req"
out_is "$SIZE2"
err_has "the witness cosigned size $SIZE2"
expect 3 witness -o json "$T/req"
json_is "$T/out" "j['size'] == $SIZE2 and j['old_size'] == 0"
req "$SIZE1"
expect 3 witness "$T/req"
out_is "$SIZE2"

# Go verifies the cosignature (and the log's signature) on the real head.
if command -v go >/dev/null 2>&1 &&
    [ -f /usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go ]; then
    GO="$T/note_check"
    if (cd "$T" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$T/gocache" \
        GOFLAGS= go build -o "$GO" "$CAIRN_ROOT/tests/interop/note_check.go") \
        >"$T/gobuild.log" 2>&1; then
        expect 0 "$CAIRN" witness --vkey --name w1.example --key "$T/w1.pub"
        WHEX=$(cut -d+ -f3- "$T/out" | base64 -d | tail -c 32 | od -An -tx1 | tr -d ' \n')
        expect 0 "$GO" cosig-open w1.example "$WHEX" "$T/cosigned.note"
        LHEX=$(tail -1 "$T/log.pub" | base64 -d | tail -c 32 | od -An -tx1 | tr -d ' \n')
        ORIGIN=$(head -1 "$T/cosigned.note")
        expect 0 "$GO" pubvkey "$ORIGIN" "$LHEX" && LVKEY=$(cat "$T/out")
        expect 0 "$GO" open "$LVKEY" "$T/cosigned.note"
        # A changed cosignature byte: Go refuses it (exit 4).
        sed 's/^\(— w1.example .\{20\}\)A/\1B/; t; s/^\(— w1.example .\{20\}\)./\1A/' \
            "$T/cosigned.note" >"$T/bad.note"
        expect 4 "$GO" cosig-open w1.example "$WHEX" "$T/bad.note"
    else
        fail "go build tests/interop/note_check.go: $(cat "$T/gobuild.log")"
    fi
else
    echo "$0: go or golang.org/x/mod missing: Go interop skipped ('make deps')" >&2
    fail "Go interop needs golang-go and golang-golang-x-mod-dev"
fi

# Rollback: an old copy of data.mdb.  The witness refuses its head.
cp "$CAIRN_DIR/data.mdb" "$T/new.mdb"
cp "$T/old.mdb" "$CAIRN_DIR/data.mdb"
req 0
expect 4 witness "$T/req"
err_has "rolled back: the witness cosigned size $SIZE2"
# A fork: the rolled-back journal written again (its writers do not
# remember the newer head here) to the same size, then further.
CAIRN_CHECKPOINTS="$T/remembered2" "$CAIRN" run "$T/plan.json" -q >/dev/null 2>&1 ||
    fail "run on the rolled-back journal"
req 0
expect 4 witness "$T/req"
CHECKS=$((CHECKS + 1))
FSIZE=$("$CAIRN" checkpoint -o json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')
[ "$FSIZE" = "$SIZE2" ] || fail "fork size $FSIZE, want $SIZE2"
req "$SIZE2"
expect 4 witness "$T/req"
err_has "forked: the witness cosigned size $SIZE2"
CAIRN_CHECKPOINTS="$T/remembered2" "$CAIRN" run "$T/plan.json" -q >/dev/null 2>&1 ||
    fail "run on the forked journal"
req "$SIZE2"
expect 4 witness "$T/req"
err_has "forked: the consistency proof does not show size $SIZE2"
# The real journal still goes on.
cp "$T/new.mdb" "$CAIRN_DIR/data.mdb"
rm -rf "$T/remembered"
req "$SIZE2"
expect 0 witness "$T/req"

# verify --witness-key: the cosignature on an anchor the journal extends.
"$CAIRN" witness --vkey --name w1.example --key "$T/w1.pub" >"$T/w1.vkey"
"$CAIRN" witness --vkey --name w2.example --key "$T/w2.pub" >"$T/w2.vkey"
expect 0 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/cosigned.note" \
    --witness-key "$T/w1.vkey" --min-witnesses 1
CHECKS=$((CHECKS + 1))
grep -q '^witnesses   : 1 of 1 required found' "$T/out" &&
    grep -q '^witnessed   : 0 records after the newest witnessed checkpoint' "$T/out" ||
    fail "verify witnesses: $(cat "$T/out")"
run_plan
expect 0 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/cosigned.note" \
    --witness-key "$(cat "$T/w1.vkey")" -o json
json_is "$T/out" "j['verdict'] == 'VERIFIED' and j['witnesses']['found'] == 1 and j['witnesses']['records_after_witnessed'] == 6 and j['witnesses']['keys'][0]['status'] == 'ok'"
# Two required, one witness: INCOMPLETE (exit 3), saying how many.
expect 3 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/cosigned.note" \
    --witness-key "$T/w1.vkey" --witness-key "$T/w2.vkey" --min-witnesses 2
CHECKS=$((CHECKS + 1))
grep -q '^witnesses   : 1 of 2 required found' "$T/out" &&
    grep -q '^witness     : w2.example: no valid cosignature' "$T/out" ||
    fail "verify 1 of 2: $(cat "$T/out")"
expect 3 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/cosigned.note" \
    --witness-key "$T/w1.vkey" --min-witnesses 2
# A cosignature of a pinned witness that does not verify: TAMPERED.
sed 's/^\(— w1.example .\{20\}\)A/\1B/; t; s/^\(— w1.example .\{20\}\)./\1A/' \
    "$T/cosigned.note" >"$T/badcosig.note"
expect 4 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/badcosig.note" \
    --witness-key "$T/w1.vkey"
grep -q '^witness     : w1.example: TAMPERED' "$T/out" ||
    fail "verify bad cosignature: $(cat "$T/out")"
# Usage: a log key is no witness key; --min-witnesses needs a key and
# the keys need an anchor.
expect 2 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/cosigned.note" \
    --witness-key "$T/log.pub"
expect 2 "$CAIRN" verify --all --key "$T/log.pub" --anchor "$T/cosigned.note" \
    --min-witnesses 1
expect 2 "$CAIRN" verify --all --key "$T/log.pub" --witness-key "$T/w1.vkey"

# Two witness processes on one store with the same request: the check
# and the write are one transaction, so exactly one cosigns, the other
# gets the new size (409, exit 3).
req "$SIZE2"
(witness "$T/req" >"$T/p1" 2>&1; echo $? >"$T/p1.rc") &
(witness "$T/req" >"$T/p2" 2>&1; echo $? >"$T/p2.rc") &
wait
CHECKS=$((CHECKS + 1))
[ "$(cat "$T/p1.rc" "$T/p2.rc" | sort | tr '\n' ' ')" = "0 3 " ] ||
    fail "concurrent witnesses: exits $(cat "$T/p1.rc" "$T/p2.rc" | tr '\n' ' '): $(cat "$T/p1" "$T/p2")"

# A second witness that does not accept this log: refused (exit 4).
expect 4 "$CAIRN" witness --secret-key "$T/w2.key" --name w2.example \
    --log-key "$T/w1.pub" --store "$T/ws2" "$T/req"
err_has "no signature of a trusted log key"
# A verifier key with a wrong key ID is no --log-key (usage, exit 2).
expect 2 "$CAIRN" witness --secret-key "$T/w2.key" --name w2.example \
    --log-key "other.example/log+00000000+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4" \
    --store "$T/ws2" "$T/req"
err_has "--log-key"
# The witness key must not be the log key.
expect 2 "$CAIRN" witness --secret-key "$T/log.key" --name w3 \
    --log-key "$T/log.pub" --store "$T/ws3" "$T/req"
err_has "the witness's own key"
# Usage: no --log-key, no --name, a bad name.
expect 2 "$CAIRN" witness --secret-key "$T/w2.key" --name w2 --store "$T/ws2" "$T/req"
expect 2 "$CAIRN" witness --secret-key "$T/w2.key" --log-key "$T/log.pub" --store "$T/ws2" "$T/req"
expect 2 "$CAIRN" witness --secret-key "$T/w2.key" --name "w 2" --log-key "$T/log.pub" --store "$T/ws2" "$T/req"
# Bad requests (exit 2), nothing stored.
printf 'old 0\n' >"$T/bad1"
expect 2 witness "$T/bad1"
err_has "bad request"
{ printf 'old 00\n\n'; sed '1,/^$/d' "$T/req"; } >"$T/bad2"
expect 2 witness "$T/bad2"
err_has "byte 4"
head -c 300000 /dev/zero | tr '\0' A >"$T/bad3"
expect 2 witness "$T/bad3"
# An unsafe store: writable by others (exit 6).
mkdir "$T/loose" && chmod 777 "$T/loose"
expect 6 "$CAIRN" witness --secret-key "$T/w2.key" --name w2.example \
    --log-key "$T/log.pub" --store "$T/loose" "$T/req"
err_has "writable by others"
# The default store is under $XDG_STATE_HOME.
req 0
expect 0 env XDG_STATE_HOME="$T/state" "$CAIRN" witness --secret-key "$T/w2.key" \
    --name w2.example --log-key "$T/log.pub" "$T/req"
expect 3 env XDG_STATE_HOME="$T/state" "$CAIRN" witness --secret-key "$T/w2.key" \
    --name w2.example --log-key "$T/log.pub" "$T/req"
CHECKS=$((CHECKS + 1))
[ -f "$T/state/cairn-witness/data.mdb" ] || fail "no store under XDG_STATE_HOME"
# --vkey from the secret key and from the public key agree.
expect 0 "$CAIRN" witness --vkey --name w1.example --secret-key "$T/w1.key" &&
    cp "$T/out" "$T/vk1"
expect 0 "$CAIRN" witness --vkey --name w1.example --key "$T/w1.pub"
CHECKS=$((CHECKS + 1))
cmp -s "$T/out" "$T/vk1" || fail "vkeys differ"
grep -q '^w1\.example+[0-9a-f]\{8\}+B[A-P]' "$T/vk1" || fail "vkey: $(cat "$T/vk1")"

finish
