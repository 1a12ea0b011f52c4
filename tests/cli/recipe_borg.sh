#!/bin/sh
# recipe_borg.sh - examples/borg against a real borg: the backup plan runs
# with cairn, twice with the runner SIGKILLed during the snapshot together
# with its command (a power cut):
#   1. before borg create ran: the probe finds no archive of the run, the
#      snapshot runs again, one archive;
#   2. after borg create wrote the archive: the probe finds it, no second
#      one is made;
# both runs complete and VERIFIED.  The restore plan extracts the newest
# archive into a new directory and compares it with the archive; the
# extracted tree is byte for byte the tree backed up.  The passphrase is
# only in borg.env (mode 0600), never in the journal.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
. "$CAIRN_ROOT/tests/cli/recipe.inc"

need borgbackup borg
need coreutils sha256sum
shim borg create

PW="borg-pass-$$-not-in-the-journal"
cp "$E/borg/backup.json" "$E/borg/restore.json" "$S/"
umask 077
printf 'BORG_PASSPHRASE=%s\n' "$PW" >"$S/borg.env"
umask 022
mkdir -p "$S/data/sub"
head -c 3000000 /dev/urandom >"$S/data/big.bin"
printf 'hello\n' >"$S/data/sub/small.txt"
: >"$S/data/empty"
ln -s big.bin "$S/data/link"
BORG_PASSPHRASE=$PW borg init --encryption=repokey-blake2 "$S/borg-repo" >/dev/null 2>&1 ||
    fail "borg init failed"
recipe_keys
# archives NAME: how many archives are named NAME exactly.
archives() {
    BORG_PASSPHRASE=$PW borg list --short --glob-archives "$1" "$S/borg-repo" | wc -l | tr -d ' '
}
# kill_command: SIGKILL the process group of the paused command.
kill_command() {
    pg=$(ps -o pgid= -p "$(cat "$CTL/pid.borg")" | tr -d ' ')
    CHECKS=$((CHECKS + 1))
    [ -n "$pg" ] && kill -KILL "-$pg" || fail "no process group to kill"
}
cd "$S" || exit 1

# ---- 1. killed before the archive was written --------------------------------
: >"$CTL/pause-before"
run_bg run backup.json
kill_runner_at_pause
kill_command
CHECKS=$((CHECKS + 1))
[ "$(archives "data-$RUN")" = 0 ] || fail "an archive of $RUN exists before borg create ran"
status_is "$RUN" 's["in_doubt"] == [2]'
rm -f "$CTL/pause-before" "$CTL/paused"
cd / || exit 1
resume_until_free "$RUN" || fail "resume refused for 10 minutes"
CHECKS=$((CHECKS + 1))
[ "$RESUME_RC" -eq 0 ] || fail "resume exited $RESUME_RC: $(cat "$T/err")"
CHECKS=$((CHECKS + 1))
[ "$(op_records "$RUN" 2)" = "claim resolve claim receipt" ] ||
    fail "archive-data records: $(op_records "$RUN" 2)"
CHECKS=$((CHECKS + 1))
[ "$(archives "data-$RUN")" = 1 ] || fail "$(archives "data-$RUN") archives of $RUN, want 1"
status_is "$RUN" 's["state"] == "completed"'
verified "$RUN"
no_secret "$PW"

# ---- 2. killed after the archive was written ---------------------------------
cd "$S" || exit 1
rm -rf "$T/ref"
cp -a "$S/data" "$T/ref"
: >"$CTL/pause-after"
run_bg run backup.json
kill_runner_at_pause
CHECKS=$((CHECKS + 1))
[ "$(archives "data-$RUN")" = 1 ] || fail "no archive of $RUN when the runner died"
kill_command
rm -f "$CTL/pause-after"
cd / || exit 1
resume_until_free "$RUN" || fail "resume refused for 10 minutes"
CHECKS=$((CHECKS + 1))
[ "$RESUME_RC" -eq 0 ] || fail "resume exited $RESUME_RC: $(cat "$T/err")"
CHECKS=$((CHECKS + 1))
[ "$(op_records "$RUN" 2)" = "claim resolve" ] ||
    fail "archive-data records: $(op_records "$RUN" 2), want claim resolve"
CHECKS=$((CHECKS + 1))
[ "$(archives "data-$RUN")" = 1 ] || fail "$(archives "data-$RUN") archives of $RUN, want 1"
CHECKS=$((CHECKS + 1))
[ "$(archives 'data-*')" = 2 ] || fail "$(archives 'data-*') archives, want 2"
status_is "$RUN" 's["state"] == "completed"'
expect 0 "$CAIRN" status "$RUN" --require-complete
verified "$RUN"
no_secret "$PW"
BACKUP=$RUN

# ---- restore -----------------------------------------------------------------
printf 'changed after the backup\n' >"$S/data/sub/small.txt"
cd "$S" || exit 1
expect 0 "$CAIRN" run restore.json
RUN=$(head -n 1 "$T/out")
status_is "$RUN" 's["state"] == "completed"'
verified "$RUN"
expect 0 "$CAIRN" show "$RUN" --op 2 -o json
json_is "$T/out" "j['records'][-1]['outputs']['archive'] == 'data-$BACKUP'"
expect 0 "$CAIRN" show "$RUN" --op 3 -o json
json_is "$T/out" "j['records'][-1]['outputs']['files'] == '3'"
CHECKS=$((CHECKS + 1))
diff -r "$T/ref" "$S/restored/data" >"$T/diff" 2>&1 || fail "restored tree differs: $(cat "$T/diff")"
CHECKS=$((CHECKS + 1))
[ "$(readlink "$S/restored/data/link")" = big.bin ] || fail "symbolic link not restored"
# The plan's compare notices a changed file.
printf 'x' >>"$S/restored/data/big.bin"
expect 1 env BORG_REPO="$S/borg-repo" BORG_PASSPHRASE="$PW" cairn-borg compare restored
err_has "restored differs from data-$BACKUP"
no_secret "$PW"
cd / || exit 1
finish
