#!/bin/sh
# unlock.sh - a password-protected (scrypt) secret key unlocked once:
# --password-file (refused unless private), --password-fd, and `cairn
# unlock` / `cairn lock` through the kernel keyring.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

if ! command -v setsid >/dev/null 2>&1; then
    echo "$0: setsid not found: cannot run without a terminal; skipped"
    finish
fi
# Run a command with no controlling terminal: it cannot prompt, so an
# encrypted key without another password source is refused (exit 2).
notty() {
    setsid -w "$@" </dev/null
}

# The scrypt-encrypted vector (tests/vectors/keys/enc.key).  Its comment
# line names this test directory, so the key file (and the keyring entry
# named after its contents) is this test's own.
KEY="$T/enc.key"
{
    echo "untrusted comment: cairn unlock test $T"
    sed -n 2p "$CAIRN_ROOT/tests/vectors/keys/enc.key"
} >"$KEY"
chmod 600 "$KEY"
printf 'cairn-test-password\n' >"$T/pw"
chmod 600 "$T/pw"
printf 'not-the-password\n' >"$T/wrong"
chmod 600 "$T/wrong"
cp "$T/pw" "$T/pw.group"
chmod 640 "$T/pw.group"
cp "$T/pw" "$T/pw.other"
chmod 604 "$T/pw.other"

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "unlock", "run_id": "u-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "a", "kind": "task"},
                {"id": "b", "kind": "task"},
                {"id": "c", "kind": "task"}]}
JSON

# --- without a password source the key is refused ---------------------------
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY"
err_has "no terminal to ask for its password"
err_has "--password-file"

# --- --password-file --------------------------------------------------------
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/pw.group"
err_has "password file $T/pw.group: readable or writable by its group (mode 0640); refused"
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/pw.other"
err_has "by others (mode 0604); refused"
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T"
err_has "not a regular file"
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/missing"
err_has "password file $T/missing: No such file or directory"
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/wrong"
err_has "wrong password"
expect 2 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/pw" --password-fd 0
err_has "exclude each other"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/journal" ] || fail "a refused password wrote the journal"
expect 0 notty "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/pw"
out_is "u-1"
status_is u-1 "s['signed'] is True"
# "-": standard input, and --password-fd N.
expect 0 sh -c 'setsid -w "$1" claim u-1 --op 0 --holder-pid $$ \
    --secret-key "$2" --password-file - <"$3"' sh "$C" "$KEY" "$T/pw"
out_is "0"
expect 0 sh -c 'setsid -w "$1" complete u-1 --op 0 --secret-key "$2" \
    --password-fd 3 3<"$3" </dev/null' sh "$C" "$KEY" "$T/pw"
expect 0 notty "$C" accept-preflight u-1 --id pf --secret-key "$KEY" \
    --password-file "$T/pw"

# --- cairn run decrypts once per run -------------------------------------------
# The descriptor holds one password line: a second decryption would read
# an empty password and fail.
cat >"$T/run.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "unlock-run", "run_id": "ur-1",
 "operations": [{"id": "pre", "kind": "preflight", "run": ["true"]},
                {"id": "a", "kind": "task", "run": ["true"]},
                {"id": "b", "kind": "task", "run": ["true"]}]}
JSON
expect 0 sh -c 'setsid -w "$1" run "$2" -q --secret-key "$3" --password-fd 3 \
    3<"$4" </dev/null' sh "$C" "$T/run.json" "$KEY" "$T/pw"
status_is ur-1 "s['state'] == 'completed' and s['signed'] is True"

# --- unlock once: later commands do not prompt --------------------------------
expect 2 "$C" unlock
err_has "which key?"
expect 2 notty "$C" unlock --secret-key "$KEY" --password-file "$T/pw" \
    --timeout 0s
err_has "between 1s and 7d"
expect 2 notty "$C" unlock --secret-key "$KEY" --password-file "$T/wrong"
err_has "wrong password"
expect 2 notty "$C" claim u-1 --op 1 --holder-pid $$ --secret-key "$KEY"
err_has "no terminal to ask for its password"

notty "$C" unlock --secret-key "$KEY" --password-file "$T/pw" \
    --timeout 10m -o json >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "kernel keyring is unavailable" "$T/err"; then
    echo "$0: SKIPPED the keyring checks: the kernel keyring is" \
        "unavailable in this environment: $(cat "$T/err")"
    finish
fi
CHECKS=$((CHECKS + 1))
[ "$rc" -eq 0 ] || fail "unlock: exit $rc: $(cat "$T/err")"
json_is "$T/out" "j['key_id'] == '8EBD4CF404EDE327' and j['keyring'] == 'session' and j['timeout_s'] == 600 and j['key_serial'] > 0"
SERIAL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_serial"])' "$T/out")
# The kernel holds the key with its timeout; nothing was written here.
CHECKS=$((CHECKS + 1))
grep -q "cairn:.*: 72\$" /proc/keys 2>/dev/null ||
    [ ! -r /proc/keys ] || fail "no cairn key in /proc/keys"
CHECKS=$((CHECKS + 1))
[ -z "$(find "$T" -newer "$T/plan.json" -name '*.key*' ! -name enc.key)" ] ||
    fail "unlock wrote a key file"
# Second and third commands: no password source, no terminal, no prompt.
expect 0 notty "$C" claim u-1 --op 1 --holder-pid $$ --secret-key "$KEY"
out_is "1"
expect 0 notty env CAIRN_SECRET_KEY="$KEY" "$C" complete u-1 --op 1
expect 0 notty "$C" claim u-1 --op 2 --holder-pid $$ --secret-key "$KEY"
expect 0 notty "$C" complete u-1 --op 2 --secret-key "$KEY"
status_is u-1 "s['counts']['completed'] == 3"
# Another key file (same key, other bytes) is not unlocked by it.
sed 's/unlock test/other copy/' "$KEY" >"$T/other.key"
chmod 600 "$T/other.key"
expect 2 notty "$C" claim u-1 --op 3 --holder-pid $$ \
    --secret-key "$T/other.key"
err_has "no terminal to ask for its password"
expect 0 notty "$C" lock --secret-key "$KEY"
out_is "locked $KEY: the unlocked copy is gone"
expect 2 notty "$C" claim u-1 --op 3 --holder-pid $$ --secret-key "$KEY"
err_has "no terminal to ask for its password"
expect 0 notty "$C" lock --secret-key "$KEY"
out_is "$KEY was not unlocked"

# --- the timeout ends the unlocked session --------------------------------------
expect 0 notty "$C" unlock --secret-key "$KEY" --password-file "$T/pw" \
    --timeout 1s
i=0
while [ $i -lt 60 ]; do
    notty "$C" status u-1 >/dev/null 2>&1
    if ! notty "$C" claim u-1 --op 3 --holder-pid $$ --secret-key "$KEY" \
        >/dev/null 2>"$T/err.t"; then
        break
    fi
    # Claimed while still unlocked: settle it and try again later.
    notty "$C" fail u-1 --op 3 --reason t --class retryable \
        --secret-key "$KEY" >/dev/null 2>&1
    notty "$C" retry u-1 --op 3 --reason t --secret-key "$KEY" \
        >/dev/null 2>&1
    sleep 1
    i=$((i + 1))
done
CHECKS=$((CHECKS + 1))
grep -q "no terminal to ask for its password" "$T/err.t" ||
    fail "the unlocked key did not expire within 60s: $(cat "$T/err.t")"
notty "$C" lock --secret-key "$KEY" >/dev/null 2>&1
finish
