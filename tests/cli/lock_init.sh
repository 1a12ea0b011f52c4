#!/bin/sh
# lock_init.sh - a process killed while LMDB initialises the lock table
# must not hand a half-built table to the next writer (issue 11; see
# docs/DURABILITY.md, "Lost acknowledgements").
#
# LMDB's first opener takes an exclusive fcntl lock on lock.mdb, rebuilds
# the table (transaction id 0) and only then, after reading data.mdb,
# stores the newest transaction id and downgrades to a shared lock.  A
# second opener waiting for that shared lock meanwhile, when the first one
# dies inside the window, adopts id 0: its commits are built on an old meta
# page and later vanish.  cairn serialises its opens so that nobody waits
# on LMDB's lock while a table is half built.
#
# Deterministic: process A is frozen (SIGSTOP, by the crash shim) right
# after LMDB opened data.mdb, that is inside the window; process B starts a
# write and blocks; A is killed; B's acknowledged commit must survive a
# fresh reopen, and the journal must verify.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

BUILD_DIR=$(dirname "$CAIRN")
SHIM="$BUILD_DIR/tests/crash/shim.so"
[ -f "$SHIM" ] || {
    echo "lock_init.sh: $SHIM is missing (make test builds it)" >&2
    exit 1
}
C=$CAIRN
J=$CAIRN_DIR
"$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password >/dev/null 2>&1 ||
    fail "keygen"
export CAIRN_SECRET_KEY="$T/k.sec"

plan() {
    cat >"$T/$1.json" <<JSON
{"cairn_plan": 1, "plan_id": "lock-init", "run_id": "$1",
 "operations": [
   {"id": "check", "kind": "preflight", "run": ["true"]},
   {"id": "work", "kind": "task", "run": ["true"]},
   {"id": "more", "kind": "task", "run": ["true"]}]}
JSON
}

# Wait until pid $1 is stopped (state T in /proc/PID/stat).
wait_stopped() {
    i=0
    while [ $i -lt 600 ]; do
        st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
        [ "$st" = "T" ] && return 0
        [ -z "$st" ] && return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# Wait until pid $1 waits for the journal: blocked on a file lock (a "->"
# line in /proc/locks: LMDB's own wait), or holding the journal directory
# open (cairn's open gate, which polls its flock).
waiting() {
    grep -q -- "-> [A-Z]* *[A-Z]* *[A-Z]* *$1 " /proc/locks && return 0
    for f in /proc/"$1"/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "$J" ] && return 0
    done
    return 1
}
wait_blocked() {
    i=0
    while [ $i -lt 600 ]; do
        waiting "$1" && sleep 0.2 && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

round() {
    n=$1
    plan "a$n"
    plan "b$n"
    expect 0 "$C" create "$T/a$n.json" || return
    expect 0 "$C" create "$T/b$n.json" || return
    # An odd or even number of commits before the race: the stale meta
    # page LMDB would build on is the older one either way.
    k=0
    while [ $k -lt "$n" ]; do
        plan "c$n-$k"
        expect 0 "$C" create "$T/c$n-$k.json" || return
        k=$((k + 1))
    done
    expect 0 "$C" claim "a$n" --holder-pid $$ || return
    expect 0 "$C" complete "a$n" --op 0 || return

    # A: a writer frozen inside LMDB's lock-table initialisation.
    CRASH_SHIM_DIR="$J" CRASH_SHIM_STOP=data.mdb LD_PRELOAD="$SHIM" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
        "$C" claim "a$n" --holder-pid $$ >/dev/null 2>&1 &
    a=$!
    if ! wait_stopped $a; then
        fail "round $n: process A never stopped inside the open"
        kill -9 $a 2>/dev/null
        wait $a 2>/dev/null
        return
    fi
    # B: a write that must wait for A.
    "$C" claim "b$n" --holder-pid $$ >"$T/b.out" 2>"$T/b.err" &
    b=$!
    wait_blocked $b || fail "round $n: process B did not wait for a lock"
    kill -9 $a
    kill -CONT $a 2>/dev/null
    wait $a 2>/dev/null
    wait $b
    rc=$?
    CHECKS=$((CHECKS + 1))
    [ $rc -eq 0 ] || {
        fail "round $n: B's claim exited $rc: $(cat "$T/b.err")"
        return
    }
    # B's claim was acknowledged: a fresh process must see it, and A's run
    # must still hold everything it had.
    status_is "b$n" 's["counts"]["pending"] == 1 and s["next"]["state"] == "pending"'
    status_is "a$n" 's["counts"]["completed"] == 1 and s["counts"]["pending"] == 0'
    k=0
    while [ $k -lt "$n" ]; do
        expect 0 "$C" status "c$n-$k"
        k=$((k + 1))
    done
    expect 0 "$C" verify --all --key "$T/k.pub"
}

round 1
round 2
round 3

# The same window opened by a program that does not take cairn's gate
# (lmdb-utils' mdb_load opens the environment read-write): the waiting
# writer must refuse to write on the half-built table, not lose commits.
plan d1
expect 0 "$C" create "$T/d1.json"
CRASH_SHIM_DIR="$J" CRASH_SHIM_STOP=data.mdb LD_PRELOAD="$SHIM" \
    mdb_load -T -s scratch "$J" </dev/null >/dev/null 2>&1 &
a=$!
if wait_stopped $a; then
    "$C" claim d1 --holder-pid $$ >"$T/b.out" 2>"$T/b.err" &
    b=$!
    wait_blocked $b || fail "mdb_load round: B did not wait for a lock"
    kill -9 $a
    kill -CONT $a 2>/dev/null
    wait $a 2>/dev/null
    wait $b
    rc=$?
    CHECKS=$((CHECKS + 1))
    [ $rc -ne 0 ] && grep -q "out of step" "$T/b.err" ||
        fail "mdb_load round: B exited $rc: $(cat "$T/b.err")"
    # Nothing was lost, and a fresh writer goes on.
    status_is d1 's["counts"]["pending"] == 0'
    expect 0 "$C" claim d1 --holder-pid $$
    status_is d1 's["counts"]["pending"] == 1'
else
    fail "mdb_load never stopped inside the open"
    kill -9 $a 2>/dev/null
    wait $a 2>/dev/null
fi
expect 0 "$C" verify --all --key "$T/k.pub"
finish
