#!/bin/sh
# recipe_postgres.sh - examples/postgres against a real PostgreSQL 15 and
# restic.  A private cluster (its own data directory and socket directory
# under the test's directory, a free port on 127.0.0.1) runs as the
# `postgres` system user the Debian package creates (PostgreSQL refuses
# root; the plans use runuser -u postgres, cairn runs as root).  The
# backup plan runs with cairn; the runner and its command are SIGKILLed
# (a power cut) after restic wrote the snapshot: the probe finds the
# tagged snapshot on resume, no second one is made; the run completes and
# VERIFIED.  The restic password reaches the commands only through
# pass_env, and is nowhere in the journal.  The restore plan restores the
# dump, makes and starts a new cluster with pg_ctl (a daemon start with a
# pg_isready readiness check), loads the dump and compares every table's
# row count; the test compares them again, and the data of one table.
# Both clusters are stopped at exit.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
. "$CAIRN_ROOT/tests/cli/recipe.inc"

PGBIN=/usr/lib/postgresql/15/bin
need postgresql $PGBIN/initdb $PGBIN/pg_ctl $PGBIN/pg_dump $PGBIN/pg_restore \
    $PGBIN/psql $PGBIN/pg_isready
need util-linux runuser
need restic restic
need jq jq
[ "$(id -u)" -eq 0 ] || {
    echo "$0: needs root (runuser -u postgres, chown): run make check as root" >&2
    exit 1
}
id postgres >/dev/null 2>&1 || {
    echo "$0: no user postgres: install the Debian package postgresql ('make deps')" >&2
    exit 1
}
shim restic backup

# The postgres user must reach the site directory (not list it).
chmod 711 "$T" "$S"
mkdir -p "$S/pgrun" "$S/pgdata"
chown postgres: "$S/pgrun" "$S/pgdata"
chmod 700 "$S/pgdata"
cp "$E/postgres/backup.json" "$E/postgres/restore.json" "$E/postgres/counts.sql" "$S/"
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
printf 'PGHOST=%s\nPGPORT=%s\n' "$S/pgrun" "$P1" >"$S/pg.env"
printf 'PGPORT=%s\n' "$P2" >"$S/restore.env"
PW="pg-restic-pw-$$-not-in-the-journal"
export RESTIC_PASSWORD="$PW"

pg() {
    runuser -u postgres -- env PGHOST="$S/pgrun" PGPORT="$1" "$@"
}
asu() {
    runuser -u postgres -- "$@"
}
pg_down() {
    for d in "$S/pgdata" "$S/restored"; do
        [ -f "$d/postmaster.pid" ] || continue
        asu $PGBIN/pg_ctl -D "$d" -m immediate -w -t 60 stop >/dev/null 2>&1 ||
            kill -KILL "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null
    done
}
at_exit pg_down
psql_at() {
    port=$1
    shift
    runuser -u postgres -- env PGHOST="$S/pgrun" PGPORT="$port" \
        $PGBIN/psql -XAt -v ON_ERROR_STOP=1 "$@"
}

asu $PGBIN/initdb -D "$S/pgdata" -A peer >"$T/initdb.log" 2>&1 ||
    { fail "initdb failed: $(tail -n 5 "$T/initdb.log")"; exit 1; }
asu $PGBIN/pg_ctl -D "$S/pgdata" -l "$S/pgrun/source.log" \
    -o "-c listen_addresses=127.0.0.1 -p $P1 -k $S/pgrun" -w -t 300 start >/dev/null ||
    { fail "the source cluster did not start: $(tail -n 5 "$S/pgrun/source.log")"; exit 1; }
psql_at "$P1" -d postgres -c 'CREATE DATABASE app' >/dev/null || fail "createdb failed"
psql_at "$P1" -d app >/dev/null <<'SQL' || fail "loading the data failed"
CREATE TABLE items (id int PRIMARY KEY, name text, payload bytea);
INSERT INTO items SELECT g, 'item ' || g, sha256(g::text::bytea)
  FROM generate_series(1, 20000) g;
CREATE SCHEMA audit;
CREATE TABLE audit.events (at timestamptz DEFAULT now(), what text);
INSERT INTO audit.events (what) SELECT 'event ' || g FROM generate_series(1, 777) g;
CREATE TABLE empty_one (x int);
SQL
SUM=$(psql_at "$P1" -d app -c "SELECT md5(string_agg(id || name || encode(payload, 'hex'), ',' ORDER BY id)) FROM items")
RESTIC_REPOSITORY="$S/restic-repo" restic init >/dev/null 2>&1 || fail "restic init failed"
recipe_keys

# ---- backup: a power cut after the snapshot -----------------------------------
cd "$S" || exit 1
: >"$CTL/pause-after"
run_bg run backup.json
kill_runner_at_pause
pgid=$(ps -o pgid= -p "$(cat "$CTL/pid.restic")" | tr -d ' ')
CHECKS=$((CHECKS + 1))
[ -n "$pgid" ] && kill -KILL "-$pgid" || fail "no command process group to kill"
rm -f "$CTL/pause-after"
snapshots() {
    RESTIC_REPOSITORY="$S/restic-repo" restic snapshots --json --tag "$1" | jq length
}
CHECKS=$((CHECKS + 1))
[ "$(snapshots "cairn-run:$RUN")" = 1 ] || fail "no snapshot of $RUN when the power went"
status_is "$RUN" 's["in_doubt"] == [3]'
cd / || exit 1
resume_until_free "$RUN" || fail "resume refused for 10 minutes"
CHECKS=$((CHECKS + 1))
[ "$RESUME_RC" -eq 0 ] || fail "resume exited $RESUME_RC: $(cat "$T/err")"
CHECKS=$((CHECKS + 1))
[ "$(op_records "$RUN" 3)" = "claim resolve" ] ||
    fail "snapshot-app records: $(op_records "$RUN" 3), want claim resolve"
CHECKS=$((CHECKS + 1))
[ "$(snapshots "cairn-run:$RUN")" = 1 ] || fail "$(snapshots "cairn-run:$RUN") snapshots of $RUN, want 1"
status_is "$RUN" 's["state"] == "completed"'
expect 0 "$CAIRN" status "$RUN" --require-complete
verified "$RUN"
CHECKS=$((CHECKS + 1))
[ ! -e "$S/dump/app.dump" ] || fail "cleanup left the dump"
no_secret "$PW"
BACKUP=$RUN

# ---- restore -------------------------------------------------------------------
cd "$S" || exit 1
expect 0 "$CAIRN" run restore.json
RUN=$(head -n 1 "$T/out")
status_is "$RUN" 's["state"] == "completed" and not s["restart_required"]'
verified "$RUN"
snap=$("$CAIRN" show "$BACKUP" --op 3 -o json | jq -r '.records[1].outputs.snapshot')
expect 0 "$CAIRN" show "$RUN" --op 2 -o json
json_is "$T/out" "j['records'][-1]['outputs']['snapshot'] == '$snap'"
expect 0 "$CAIRN" show "$RUN" --op 7 -o json
json_is "$T/out" "j['records'][-1]['outputs']['tables'] == '3'"
expect 0 "$CAIRN" show "$RUN" --op 5 -o json
json_is "$T/out" "'daemon_pids' in j['records'][-1]['evidence']"
CHECKS=$((CHECKS + 1))
[ "$(psql_at "$P2" -d app -c 'SELECT count(*) FROM items')" = 20000 ] &&
    [ "$(psql_at "$P2" -d app -c 'SELECT count(*) FROM audit.events')" = 777 ] ||
    fail "restored row counts differ"
CHECKS=$((CHECKS + 1))
[ "$(psql_at "$P2" -d app -c "SELECT md5(string_agg(id || name || encode(payload, 'hex'), ',' ORDER BY id)) FROM items")" = "$SUM" ] ||
    fail "restored items differ"
no_secret "$PW"
cd / || exit 1
finish
