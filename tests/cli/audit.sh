#!/bin/sh
# audit.sh - a user who cannot lock a journal can still verify it: a
# journal owned by root (0755/0644) is verified by a second local user
# through a private snapshot (automatically, or with --snapshot), with the
# documented exit codes (0, 4, 6; 1 only when there is no journal); the
# snapshot writes nothing into the journal directory; and while a writer
# commits, a snapshot is VERIFIED or a clear ERROR, never TAMPERED.
# The second user is created here and removed on exit; without root the
# second-user checks are skipped (the --snapshot checks still run).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
TESTPID=$$
AUDITOR=""
cleanup() {
    [ -f "$T/writer.pid" ] && kill "$(cat "$T/writer.pid")" 2>/dev/null
    [ -n "$AUDITOR" ] && userdel "$AUDITOR" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
chmod 755 "$T"
# A copy of the binary the second user can reach, whatever the checkout.
cp "$CAIRN" "$T/cairn"
chmod 755 "$T/cairn"
C="$T/cairn"
J="$T/journal"
mkdir "$T/tmp"
chmod 1777 "$T/tmp"

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "a", "run_id": "a-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "copy", "kind": "transfer"}]}
JSON
expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.key" --no-password
expect 0 "$C" keygen -p "$T/o.pub" -s "$T/o.key" --no-password
chmod 644 "$T/k.pub" "$T/o.pub"
export CAIRN_SECRET_KEY="$T/k.key"
expect 0 "$C" -J "$J" create "$T/plan.json"
expect 0 "$C" -J "$J" claim a-1 --holder-pid $TESTPID
expect 0 "$C" -J "$J" complete a-1 --op 0
unset CAIRN_SECRET_KEY
# Readable by all, writable by root only (whatever cairn's defaults are).
find "$J" -type d -exec chmod 755 {} +
find "$J" -type f -exec chmod 644 {} +

# sums: the journal files' checksums (the snapshot must change none).
sums() { (cd "$J" && find . -type f | sort | xargs sha256sum); }

# --- --snapshot as the owner ---------------------------------------------------
sums >"$T/sums.before"
expect 0 env TMPDIR="$T/tmp" "$C" -J "$J" verify a-1 --key "$T/k.pub" --snapshot
grep -q '^snapshot    : a private copy of data.mdb at LMDB txn [0-9]*; the journal.s lock was not used (--snapshot)$' \
    "$T/out" || fail "no snapshot line for --snapshot"
grep -q '^verdict     : VERIFIED' "$T/out" || fail "--snapshot: not VERIFIED"
expect 0 env TMPDIR="$T/tmp" "$C" -J "$J" verify --all --key "$T/k.pub" --snapshot -o json &&
    cp "$T/out" "$T/snap.json"
json_is "$T/snap.json" '(j["verdict"] == "VERIFIED" and
    j["journal"]["snapshot"]["txn"] > 0 and
    j["journal"]["snapshot"]["reason"] is None)'
expect 3 "$C" -J "$J" verify a-1 --key "$T/o.pub" --snapshot  # key mismatch
sums >"$T/sums.after"
CHECKS=$((CHECKS + 1))
cmp -s "$T/sums.before" "$T/sums.after" || fail "--snapshot changed a journal file"
CHECKS=$((CHECKS + 1))
[ -z "$(ls -A "$T/tmp")" ] || fail "the snapshot left files in TMPDIR"
expect 1 "$C" -J "$T/nowhere" verify a-1 --key "$T/k.pub" --snapshot
err_has "nowhere: no such journal (directory does not exist)"

# --- a second local user -------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "not root: second-user audit checks skipped"
    finish
fi
AUDITOR="cairn-audit-$$"
useradd --system --no-create-home --shell /usr/sbin/nologin "$AUDITOR" ||
    { AUDITOR=""; fail "useradd"; finish; }
# The auditor keeps its own remembered checkpoints (as it would under its
# own $XDG_STATE_HOME), not the journal owner's.
mkdir -p "$T/aud-cp" && chown "$AUDITOR" "$T/aud-cp" && chmod 700 "$T/aud-cp"
as_auditor() {
    runuser -u "$AUDITOR" -- env TMPDIR="$T/tmp" \
        CAIRN_CHECKPOINTS="$T/aud-cp" "$@"
}

# It is not the journal's owner (and cannot open lock.mdb for writing):
# verify falls back to a snapshot, and says why.
expect 0 as_auditor "$C" -J "$J" verify a-1 --key "$T/k.pub"
grep -q '^snapshot    : .*the journal.s lock was not used (cannot open in place: .*not by this user' \
    "$T/out" || fail "second user: no snapshot line naming why"
grep -q '^verdict     : VERIFIED' "$T/out" || fail "second user: not VERIFIED"
expect 0 as_auditor "$C" -J "$J" verify --all --key "$T/k.pub"
grep -q '^overall     : VERIFIED (1 run)' "$T/out" || fail "second user: --all"
expect 3 as_auditor "$C" -J "$J" verify a-1 --key "$T/o.pub"  # key mismatch
expect 3 as_auditor "$C" -J "$J" verify a-1
expect 0 as_auditor "$C" -J "$J" verify a-1 --key "$T/k.pub" --snapshot
sums >"$T/sums.after"
CHECKS=$((CHECKS + 1))
cmp -s "$T/sums.before" "$T/sums.after" || fail "the audit changed a journal file"
# data.mdb unreadable too: ERROR, exit 6, saying why.
chmod 600 "$J/data.mdb"
expect 6 as_auditor "$C" -J "$J" verify a-1 --key "$T/k.pub"
grep -q '^verdict     : ERROR (journal unreadable: .*data.mdb: Permission denied)' \
    "$T/out" || fail "unreadable data.mdb: no ERROR verdict"
expect 6 as_auditor "$C" -J "$J" verify --all --key "$T/k.pub"
chmod 644 "$J/data.mdb"

# --- a snapshot while a writer commits -------------------------------------------------
# Every snapshot is one committed transaction: VERIFIED (exit 0), or a
# clear ERROR when the journal changed under every copy (exit 6); never
# TAMPERED or INCOMPLETE from a torn copy.
cat >"$T/w.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "w",
 "operations": [{"id": "pre", "kind": "preflight"}]}
JSON
(
    i=0
    while [ ! -e "$T/stop" ] && [ $i -lt 400 ]; do
        CAIRN_SECRET_KEY="$T/k.key" "$C" -J "$J" create "$T/w.json" \
            >/dev/null 2>>"$T/writer.err" || echo "create failed" >>"$T/writer.err"
        i=$((i + 1))
    done
) &
echo $! >"$T/writer.pid"
ok=0
errors=0
i=0
while [ $i -lt 15 ]; do
    CHECKS=$((CHECKS + 1))
    as_auditor "$C" -J "$J" verify --all --key "$T/k.pub" >"$T/out" 2>"$T/err"
    rc=$?
    case $rc in
    0) ok=$((ok + 1)) ;;
    6)
        errors=$((errors + 1))
        grep -q 'changed under each of' "$T/out" ||
            fail "exit 6 without the reason: $(grep -e '^error' -e '^verdict' "$T/out")"
        ;;
    *)
        fail "snapshot during writes: exit $rc"
        sed 's/^/    /' "$T/out" "$T/err" >&2
        ;;
    esac
    i=$((i + 1))
done
touch "$T/stop"
wait "$(cat "$T/writer.pid")"
rm -f "$T/writer.pid"
CHECKS=$((CHECKS + 1))
[ ! -s "$T/writer.err" ] || fail "writer: $(head -c 500 "$T/writer.err")"
echo "snapshots during writes: 15, VERIFIED: $ok, changed under every copy:" \
    "$errors; runs written: $("$C" -J "$J" list | wc -l)"
expect 0 as_auditor "$C" -J "$J" verify --all --key "$T/k.pub"

finish
