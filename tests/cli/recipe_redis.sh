#!/bin/sh
# recipe_redis.sh - examples/redis against a real redis-server and restic:
# the backup plan runs with cairn; the runner is SIGKILLed during the
# snapshot, after restic wrote it and while restic still runs; resume is
# refused while it runs (exit 5; status says what runs, resolve is
# refused too), then the probe finds the tagged
# snapshot: no second snapshot, the run completes and VERIFIED; redis
# runs again (started by the plan, left behind on purpose).  The restore
# plan then restores the snapshot and starts redis on it: the dataset is
# the one backed up (DEBUG DIGEST), the keys written later are gone.
#
# A private redis: its own directory, socket in it, a free port on
# 127.0.0.1; the password only in restic.env (mode 0600), never in the
# journal.  Every process and file made here is removed at exit.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
. "$CAIRN_ROOT/tests/cli/recipe.inc"

need redis-server redis-server redis-check-rdb
need redis-tools redis-cli
need restic restic
need jq jq
shim restic backup

PW="restic-pw-$$-not-in-the-journal"
cp "$E/redis/backup.json" "$E/redis/restore.json" "$S/"
mkdir -p "$S/data"
cat >"$S/redis.conf" <<CONF
bind 127.0.0.1
port $(free_port)
unixsocket $S/redis.sock
unixsocketperm 700
daemonize yes
pidfile $S/redis.pid
logfile $S/redis.log
dir $S/data
dbfilename dump.rdb
save ""
enable-debug-command local
CONF
umask 077
printf 'RESTIC_REPOSITORY=%s\nRESTIC_PASSWORD_FILE=%s\n' "$S/repo" "$S/restic.pw" >"$S/restic.env"
printf '%s\n' "$PW" >"$S/restic.pw"
umask 022
at_exit 'redis_down'
redis_down() {
    if [ -S "$S/redis.sock" ]; then
        redis-cli -s "$S/redis.sock" shutdown nosave >/dev/null 2>&1
    fi
    if [ -f "$S/redis.pid" ]; then
        kill -KILL "$(cat "$S/redis.pid")" 2>/dev/null
    fi
}
rcli() {
    redis-cli -s "$S/redis.sock" "$@"
}
pong() {
    [ "$(rcli ping 2>/dev/null)" = PONG ]
}
# snapshots TAG: how many restic snapshots carry TAG.
snapshots() {
    RESTIC_PASSWORD_FILE="$S/restic.pw" restic -r "$S/repo" snapshots \
        --json --tag "$1" | jq length
}

RESTIC_PASSWORD_FILE="$S/restic.pw" restic -r "$S/repo" init >/dev/null 2>&1 ||
    fail "restic init failed"
recipe_keys
(cd "$S" && redis-server redis.conf) || fail "redis-server did not start"
wait_for 120 pong || fail "redis does not answer"
i=0
while [ $i -lt 2000 ]; do
    echo "SET key:$i value-$i-$(printf '%0200d' $i)"
    i=$((i + 1))
done | rcli >/dev/null
rcli -n 3 HSET h a 1 b 2 >/dev/null
DIGEST=$(rcli debug digest)
KEYS=$(rcli dbsize)
CHECKS=$((CHECKS + 1))
[ "$KEYS" = 2000 ] || fail "dbsize $KEYS, want 2000"

# ---- backup, runner killed during the snapshot ------------------------------
: >"$CTL/pause-after"
cd "$S" || exit 1
run_bg run backup.json
kill_runner_at_pause
CHECKS=$((CHECKS + 1))
[ "$(snapshots "cairn-run:$RUN")" = 1 ] || fail "no snapshot of $RUN when the runner died"
pong && fail "redis runs during the snapshot"
status_is "$RUN" 's["restart_required"] and s["restart_targets"] == ["redis"]'
# restic (the shim) still runs: status says so and never advises
# resolving; resolve and resume are refused, nothing written.
status_is "$RUN" 's["command_running"] and s["next_action"] == "wait-command"'
expect 5 "$CAIRN" resolve "$RUN" --op 3 --outcome failed --reason "too early"
expect 5 "$CAIRN" resume "$RUN"
expect 0 "$CAIRN" show "$RUN" --op 3 -o json
json_is "$T/out" '[r["type"] for r in j["records"]] == ["claim"]'
rm -f "$CTL/pause-after"
: >"$CTL/release"
# Resume from elsewhere: the plan's paths resolve against the recorded cwd.
cd / || exit 1
resume_until_free "$RUN" || fail "resume refused for 10 minutes"
CHECKS=$((CHECKS + 1))
[ "$RESUME_RC" -eq 0 ] || fail "resume exited $RESUME_RC: $(cat "$T/err")"
CHECKS=$((CHECKS + 1))
[ "$(op_records "$RUN" 3)" = "claim resolve" ] ||
    fail "snapshot-redis records: $(op_records "$RUN" 3), want claim resolve"
CHECKS=$((CHECKS + 1))
[ "$(snapshots "cairn-run:$RUN")" = 1 ] || fail "$(snapshots "cairn-run:$RUN") snapshots of $RUN, want 1"
status_is "$RUN" 's["state"] == "completed" and not s["restart_required"]'
expect 0 "$CAIRN" show "$RUN" --op 3 -o json
json_is "$T/out" 'j["records"][1]["outputs"]["snapshot"] != ""'
verified "$RUN"
expect 0 "$CAIRN" status "$RUN" --require-complete
CHECKS=$((CHECKS + 1))
wait_for 60 pong || fail "redis is not running after the backup"
CHECKS=$((CHECKS + 1))
[ "$(rcli debug digest)" = "$DIGEST" ] || fail "the dataset changed in the backup"
no_secret "$PW"
BACKUP=$RUN

# ---- restore ----------------------------------------------------------------
rcli set written-later x >/dev/null
rcli del key:7 >/dev/null
cd "$S" || exit 1
expect 0 "$CAIRN" run restore.json
RUN=$(head -n 1 "$T/out")
status_is "$RUN" 's["state"] == "completed" and not s["restart_required"]'
verified "$RUN"
CHECKS=$((CHECKS + 1))
wait_for 60 pong || fail "redis is not running after the restore"
CHECKS=$((CHECKS + 1))
[ "$(rcli debug digest)" = "$DIGEST" ] || fail "restored dataset differs from the backed up one"
CHECKS=$((CHECKS + 1))
[ "$(rcli dbsize)" = "$KEYS" ] && [ "$(rcli exists written-later)" = 0 ] ||
    fail "restored dbsize $(rcli dbsize), written-later $(rcli exists written-later)"
snap=$("$CAIRN" show "$BACKUP" --op 3 -o json | jq -r '.records[1].outputs.snapshot')
expect 0 "$CAIRN" show "$RUN" --op 3 -o json
json_is "$T/out" "j['records'][-1]['outputs']['snapshot'] == '$snap'"
CHECKS=$((CHECKS + 1))
[ -d "$S/data.replaced-$RUN" ] || fail "the replaced data was not kept"
no_secret "$PW"
cd / || exit 1
finish
