#!/bin/sh
# unlock_nokeyring.sh - `cairn unlock` and `cairn lock` where the kernel
# keyring is unavailable (a container, a seccomp profile): keyctl(2) and
# add_key(2) fail with ENOSYS, EPERM or EOPNOTSUPP.  The LD_PRELOAD shim
# tests/shims/nokeyring.c makes them fail so, without seccomp.  Both
# commands exit 1 with the message naming the keyring, keyctl's error and
# the way out, and file nothing; a command that signs still works with a
# password source and says what is missing without one.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

SHIM="$(dirname "$CAIRN")/tests/shims/nokeyring.so"
[ -f "$SHIM" ] || {
    echo "unlock_nokeyring.sh: $SHIM is missing (make test builds it)" >&2
    exit 1
}
if ! command -v setsid >/dev/null 2>&1; then
    echo "$0: setsid not found: cannot run without a terminal; skipped"
    finish
fi
# No controlling terminal, and the keyring calls failing with errno $1.
nokeyring() {
    e=$1
    shift
    NOKEYRING_ERRNO=$e LD_PRELOAD="$SHIM" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
        setsid -w "$@" </dev/null
}

# The scrypt-encrypted vector, with a comment naming this test directory
# (so a keyring entry, were one made, would be this test's own).
KEY="$T/enc.key"
{
    echo "untrusted comment: cairn unlock_nokeyring test $T"
    sed -n 2p "$CAIRN_ROOT/tests/vectors/keys/enc.key"
} >"$KEY"
chmod 600 "$KEY"
printf 'cairn-test-password\n' >"$T/pw"
chmod 600 "$T/pw"

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "nokeyring", "run_id": "n-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "a", "kind": "task"}]}
JSON

# errno values from <errno.h> on Linux.
ENOSYS=38
EPERM=1
EOPNOTSUPP=95
ADVICE="(containers and seccomp profiles often forbid it); use --password-file or --password-fd instead"

for e in "$ENOSYS:Function not implemented" "$EPERM:Operation not permitted" \
    "$EOPNOTSUPP:Operation not supported"; do
    n=${e%%:*}
    why=${e#*:}
    expect 1 nokeyring "$n" "$C" unlock --secret-key "$KEY" \
        --password-file "$T/pw" --timeout 10m
    err_has "cairn: unlock: the kernel keyring is unavailable here: keyctl: $why $ADVICE"
    CHECKS=$((CHECKS + 1))
    [ ! -s "$T/out" ] || fail "unlock ($why) printed: $(cat "$T/out")"
    expect 1 nokeyring "$n" "$C" lock --secret-key "$KEY"
    err_has "cairn: lock: the kernel keyring is unavailable here: keyctl: $why $ADVICE"
done
# The same with -o json: the error is on stderr, nothing on stdout.
expect 1 nokeyring "$ENOSYS" "$C" unlock --secret-key "$KEY" \
    --password-file "$T/pw" -o json
err_has "kernel keyring is unavailable here"
CHECKS=$((CHECKS + 1))
[ ! -s "$T/out" ] || fail "unlock -o json printed: $(cat "$T/out")"
# A wrong password is still a wrong password (checked before the keyring).
printf 'not-the-password\n' >"$T/wrong"
chmod 600 "$T/wrong"
expect 2 nokeyring "$ENOSYS" "$C" unlock --secret-key "$KEY" \
    --password-file "$T/wrong"
err_has "wrong password"

# Signing without the keyring: a password source works; without one the
# refusal is about the password, not the keyring.
expect 0 nokeyring "$ENOSYS" "$C" create "$T/plan.json" --secret-key "$KEY" \
    --password-file "$T/pw"
out_is "n-1"
expect 2 nokeyring "$EPERM" "$C" claim n-1 --op 0 --holder-pid $$ \
    --secret-key "$KEY"
err_has "no terminal to ask for its password"
expect 0 nokeyring "$EPERM" "$C" claim n-1 --op 0 --holder-pid $$ \
    --secret-key "$KEY" --password-file "$T/pw"
out_is "0"
status_is n-1 "s['signed'] is True"

# Without the shim the same key and password unlock (when this machine has
# a keyring): the failures above came from the keyring, not the key.
if setsid -w "$C" unlock --secret-key "$KEY" --password-file "$T/pw" \
    --timeout 10s </dev/null >"$T/out" 2>"$T/err"; then
    expect 0 setsid -w "$C" lock --secret-key "$KEY"
else
    grep -q "kernel keyring is unavailable" "$T/err" ||
        fail "unlock without the shim: $(cat "$T/err")"
fi

finish
