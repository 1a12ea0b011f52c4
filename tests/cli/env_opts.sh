#!/bin/sh
# env_opts.sh - the library reads no environment: the CLI maps
# $CAIRN_MAP_SIZE, $CAIRN_SHARED_COMMIT, $CAIRN_BATCH_MAX and
# $CAIRN_BATCH_WAIT_US to cairn_journal_opts (cli_journal_opts()).  A map
# size that is not one is refused (exit 2) by every command that opens the
# journal, with the variable named; out-of-range batch tuning is ignored.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
PLAN="$CAIRN_ROOT/tests/plans/good/minimal.json"
unset CAIRN_MAP_SIZE CAIRN_SHARED_COMMIT CAIRN_BATCH_MAX CAIRN_BATCH_WAIT_US

# --- CAIRN_MAP_SIZE: refused unless a size in range -------------------
for bad in abc 65535 -1 1099511627777 12x; do
    CAIRN_MAP_SIZE=$bad expect 2 "$C" create "$PLAN" &&
        err_has "CAIRN_MAP_SIZE=$bad: not a size in bytes from 65536 to 1099511627776"
done
[ -e "$CAIRN_DIR/data.mdb" ] && fail "a refused map size created a journal"

# A journal made with a 128 KiB map starts with it (info shows the map).
CAIRN_MAP_SIZE=131072 CAIRN_SHARED_COMMIT=0 expect 0 "$C" create "$PLAN"
RUN=$(cat "$T/out")
CAIRN_MAP_SIZE=131072 expect 0 "$C" info -o json
json_is "$T/out" 'j["map_size"] == 131072'
expect 0 "$C" info -o json
json_is "$T/out" 'j["map_size"] == 256 * 1024 * 1024'
# Read-only opens (list, verify) see the variable too.
CAIRN_MAP_SIZE=nope expect 2 "$C" list && err_has "CAIRN_MAP_SIZE=nope"
CAIRN_MAP_SIZE=nope expect 2 "$C" verify --all &&
    err_has "CAIRN_MAP_SIZE=nope"

# --- CAIRN_SHARED_COMMIT=0: no commit queue file ----------------------
# The journal above was created and written with the queue switched off.
[ -e "$CAIRN_DIR/commit.shm" ] &&
    fail "CAIRN_SHARED_COMMIT=0: commit.shm was created"
expect 0 "$C" list
[ -e "$CAIRN_DIR/commit.shm" ] && fail "a read-only open created commit.shm"
CAIRN_SHARED_COMMIT=0 expect 0 "$C" cancel "$RUN" --reason private
[ -e "$CAIRN_DIR/commit.shm" ] &&
    fail "CAIRN_SHARED_COMMIT=0: a write created commit.shm"
rm -f "$CAIRN_DIR/commit.shm"
CAIRN_SHARED_COMMIT=1 expect 0 "$C" create "$PLAN"
[ -e "$CAIRN_DIR/commit.shm" ] ||
    fail "CAIRN_SHARED_COMMIT=1: no commit.shm after a write"

# --- batch tuning: in range or not, commands work ----------------------
for v in 1 4096 0 4097 x; do
    CAIRN_BATCH_MAX=$v CAIRN_BATCH_WAIT_US=$v expect 0 "$C" list
done

finish
