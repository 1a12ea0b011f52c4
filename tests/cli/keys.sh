#!/bin/sh
# keys.sh - keygen, signed runs, key binding and passwords on the CLI.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

# Run a command with no controlling terminal (so no password prompt).
notty() {
    setsid -w "$@" </dev/null
}
HAVE_SETSID=0
command -v setsid >/dev/null 2>&1 && HAVE_SETSID=1

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "signed", "run_id": "signed-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "work", "kind": "task"}]}
JSON

# --- keygen ----------------------------------------------------------------
expect 2 "$C" keygen -p "$T/k.pub"                       # -s missing
expect 2 "$C" keygen -p "$T/same" -s "$T/same" --no-password
expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
grep -q "^public key: $T/k.pub\$" "$T/out" || fail "keygen output"
KID=$(sed -n 's/^key id: //p' "$T/out")
CHECKS=$((CHECKS + 1))
case "$KID" in
????????????????) ;;
*) fail "key id '$KID' is not 16 hex digits" ;;
esac
CHECKS=$((CHECKS + 1))
head -n 1 "$T/k.pub" | grep -q "$KID" ||
    fail "key id $KID differs from the public key comment: $(head -n 1 "$T/k.pub")"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a "$T/k.sec")" = 600 ] || fail "secret key mode is not 0600"
cp "$T/k.sec" "$T/k.sec.orig"
expect 2 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password  # exists
CHECKS=$((CHECKS + 1))
cmp -s "$T/k.sec" "$T/k.sec.orig" || fail "keygen overwrote a key"
expect 0 "$C" keygen -p "$T/o.pub" -s "$T/o.sec" --no-password -o json &&
    cp "$T/out" "$T/kg.json"
json_is "$T/kg.json" 'j["public_key"].endswith("o.pub") and len(j["key_id"]) == 16'
if [ "$HAVE_SETSID" = 1 ]; then
    expect 2 notty "$C" keygen -p "$T/n.pub" -s "$T/n.sec"
    err_has "CAIRN_PASSWORD"
fi
expect 2 env CAIRN_PASSWORD= "$C" keygen -p "$T/n.pub" -s "$T/n.sec"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/n.pub" ] && [ ! -e "$T/n.sec" ] || fail "failed keygen left a file"

# --- a signed run ------------------------------------------------------------
expect 0 "$C" create "$T/plan.json" --secret-key "$T/k.sec"
CHECKS=$((CHECKS + 1))
[ ! -s "$T/err" ] || fail "signed create warned: $(cat "$T/err")"
R=signed-1
status_is "$R" "s['signed'] is True and s['key_id'] == '$KID'"
expect 2 "$C" claim "$R" --holder-pid $$        # without its key
err_has "$KID"
expect 2 "$C" claim "$R" --holder-pid $$ --secret-key "$T/o.sec"  # other key
err_has "$KID"
expect 0 env CAIRN_SECRET_KEY="$T/k.sec" "$C" claim "$R" --holder-pid $$
CHECKS=$((CHECKS + 1))
[ ! -s "$T/err" ] || fail "signed claim warned: $(cat "$T/err")"
expect 0 "$C" complete "$R" --op 0 --secret-key "$T/k.sec"
expect 1 "$C" complete "$R" --op 0 --secret-key "$T/no-such.sec"
expect 2 "$C" claim "$R" --secret-key "$T/plan.json"          # not a key

# --- a journal is signed by one key, or by none -------------------------------
# (journal format 2: one signed head for all of its runs)
sed 's/signed-1/other-1/' "$T/plan.json" >"$T/other.json"
expect 2 "$C" create "$T/other.json" --secret-key "$T/o.sec"
err_has "signed by another key"
expect 2 "$C" create "$T/other.json"
err_has "needs its secret key"

# --- verify: another key is a key mismatch; several --key all count ---------
expect 3 "$C" verify "$R" --key "$T/o.pub"
grep -q 'key mismatch: the run is signed by key' "$T/out" ||
    fail "verify with another key: no key mismatch: $(cat "$T/out")"
expect 3 "$C" verify --all --key "$T/o.pub"
grep -q 'key mismatch' "$T/out" || fail "verify --all: no key mismatch"
expect 0 "$C" verify "$R" --key "$T/o.pub" --key "$T/k.pub"
expect 0 "$C" verify --all --key "$T/k.pub" --key "$T/o.pub" -o json
json_is "$T/out" 'j["verdict"] == "VERIFIED"'
expect 2 "$C" verify "$R" --key "$T/k.pub" --key "$T/no-such.pub"

# --- an unsigned run (in an unsigned journal) does not take a key ------------
CAIRN_DIR="$T/plain-journal"
export CAIRN_DIR
sed 's/signed-1/plain-1/' "$T/plan.json" >"$T/plain.json"
expect 0 "$C" create "$T/plain.json"
expect 2 "$C" claim plain-1 --holder-pid $$ --secret-key "$T/k.sec"
err_has "unsigned"

# --- an encrypted key (scrypt: slow, so few uses) ----------------------------
expect 0 env CAIRN_PASSWORD=hunter2 "$C" keygen -p "$T/e.pub" -s "$T/e.sec"
EKID=$(sed -n 's/^key id: //p' "$T/out")
sed 's/signed-1/enc-1/' "$T/plan.json" >"$T/enc.json"
CAIRN_DIR="$T/enc-journal"
expect 2 env CAIRN_PASSWORD=wrong "$C" create "$T/enc.json" --secret-key "$T/e.sec"
if [ "$HAVE_SETSID" = 1 ]; then
    expect 2 notty "$C" create "$T/enc.json" --secret-key "$T/e.sec"
    err_has "encrypted"
    err_has "CAIRN_PASSWORD"
fi
# the refused creates made no run (and, here, not even the journal)
CHECKS=$((CHECKS + 1))
if [ -e "$T/enc-journal" ]; then
    "$C" list 2>/dev/null | grep -q '^enc-1 ' && fail "rejected key still created enc-1"
fi
expect 0 env CAIRN_PASSWORD=hunter2 "$C" create "$T/enc.json" \
    --secret-key "$T/e.sec"
status_is enc-1 "s['signed'] is True and s['key_id'] == '$EKID'"

# --- a key made by minisign works ----------------------------------------------
if command -v minisign >/dev/null 2>&1; then
    minisign -G -W -p "$T/m.pub" -s "$T/m.sec" >/dev/null 2>&1 ||
        fail "minisign -G failed"
    # minisign prints the key id without leading zeros; cairn prints 16
    # hex digits.
    MKID=$(head -n 1 "$T/m.pub" | sed 's/.* //' |
        awk '{ printf "%16s\n", $0 }' | tr ' ' 0)
    sed 's/signed-1/mini-1/' "$T/plan.json" >"$T/mini.json"
    CAIRN_DIR="$T/mini-journal"
    expect 0 "$C" create "$T/mini.json" --secret-key "$T/m.sec"
    status_is mini-1 "s['key_id'] == '$MKID'"
fi
finish
