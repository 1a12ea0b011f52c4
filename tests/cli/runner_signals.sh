#!/bin/sh
# runner_signals.sh - `cairn run` / `cairn resume` against signals and
# other processes: SIGTERM lets the command finish (exit 130), a second
# signal stops at once, a second runner is refused (exit 5), kill -9 of the
# runner leaves an in-doubt operation (exit 7 until `cairn resolve`), and a
# command tree that outlived its runner blocks resume (exit 5).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
OP="$CAIRN_ROOT/tests/runner/op.sh"
D="$T/work"
mkdir -p "$D"

# slow_plan FILE RUN SECONDS: op "s-RUN" sleeps, then op "n-RUN" is quick.
slow_plan() {
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[' "$2" >"$1"
    printf '{"id":"s","kind":"task","run":["sh","%s","%s","s-%s","slow","%s"]},' \
        "$OP" "$D" "$2" "$3" >>"$1"
    printf '{"id":"n","kind":"task","run":["sh","%s","%s","n-%s","ok"]}]}\n' \
        "$OP" "$D" "$2" >>"$1"
}
# wait_file PATH: up to 10 s.
wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 1000 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    [ -s "$1" ] || fail "$1 never appeared"
}
effects() {
    if [ -f "$D/effects-$1" ]; then wc -l <"$D/effects-$1" | tr -d ' '; else echo 0; fi
}
# gone PID: wait up to 5 s for a process to exit.
gone() {
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 500 ]; do
        sleep 0.01
        i=$((i + 1))
    done
}

# ---- SIGTERM: the running command finishes, nothing new starts ---------------
slow_plan "$T/t1.json" t1 1
"$C" run "$T/t1.json" >"$T/t1.out" 2>"$T/t1.err" &
pid=$!
wait_file "$D/pid-s-t1"
kill -TERM "$pid"
wait "$pid"
rc=$?
CHECKS=$((CHECKS + 1))
[ "$rc" = 130 ] || fail "SIGTERM: exit $rc, want 130: $(cat "$T/t1.err")"
[ "$(effects s-t1)" = 1 ] || fail "SIGTERM: the command did not finish"
[ "$(effects n-t1)" = 0 ] || fail "SIGTERM: a new operation started"
grep -q 'interrupted by signal' "$T/t1.err" || fail "SIGTERM: no message"
status_is t1 's["counts"]["completed"] == 1 and s["next"]["id"] == "n" and s["state"] == "running"'
expect 0 "$C" resume t1
[ "$(effects n-t1)" = 1 ] || fail "resume after SIGTERM did not continue"

# ---- shutdown timeout, then a second signal -------------------------------------
slow_plan "$T/t2.json" t2 20
"$C" run "$T/t2.json" --shutdown-timeout 200ms >"$T/t2.out" 2>"$T/t2.err" &
pid=$!
wait_file "$D/pid-s-t2"
kill -TERM "$pid"
wait "$pid"
rc=$?
CHECKS=$((CHECKS + 1))
[ "$rc" = 130 ] || fail "shutdown timeout: exit $rc, want 130"
pgid=$(cat "$D/pid-s-t2")
kill -0 "$pgid" 2>/dev/null && fail "shutdown timeout: the command survived"
expect 0 "$C" show t2 --op 0 -o json && cp "$T/out" "$T/t2op.json"
json_is "$T/t2op.json" 'j["records"][-1]["outcome"] == "failed" and j["records"][-1]["error_class"] == "retryable" and "interrupted by signal" in j["records"][-1]["reason"]'

slow_plan "$T/t3.json" t3 20
start=$(date +%s)
"$C" run "$T/t3.json" --shutdown-timeout 60s >"$T/t3.out" 2>"$T/t3.err" &
pid=$!
wait_file "$D/pid-s-t3"
kill -TERM "$pid"
sleep 0.2
kill -TERM "$pid"
wait "$pid"
rc=$?
end=$(date +%s)
CHECKS=$((CHECKS + 1))
[ "$rc" = 130 ] || fail "second signal: exit $rc, want 130"
[ $((end - start)) -lt 10 ] || fail "second signal did not stop at once"
status_is t3 's["counts"]["failed"] == 1 and s["counts"]["pending"] == 0'

# ---- a second runner is refused --------------------------------------------------
slow_plan "$T/t4.json" t4 1
"$C" run "$T/t4.json" >"$T/t4.out" 2>"$T/t4.err" &
pid=$!
wait_file "$D/pid-s-t4"
expect 5 "$C" resume t4
err_has "another runner holds run t4"
err_has "pid $pid on host "
wait "$pid"
CHECKS=$((CHECKS + 1))
[ $? = 0 ] || fail "first runner failed"
[ "$(effects s-t4)" = 1 ] || fail "t4: s ran $(effects s-t4) times"

# ---- kill -9: in doubt until an operator resolves ---------------------------------
slow_plan "$T/t5.json" t5 0.5
"$C" run "$T/t5.json" >"$T/t5.out" 2>"$T/t5.err" &
pid=$!
wait_file "$D/pid-s-t5"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pgid=$(cat "$D/pid-s-t5")
gone "$pgid"
expect 7 "$C" resume t5
err_has "cairn resolve t5 --op 0"
err_has "IN DOUBT"
[ "$(effects s-t5)" = 1 ] || fail "t5: the orphaned command did not finish"
expect 7 "$C" resume t5 --json
python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$T/out" ||
    fail "--json: a line is not JSON"
expect 0 "$C" resolve t5 --op 0 --outcome completed --reason "effect seen"
expect 0 "$C" resume t5
[ "$(effects s-t5)" = 1 ] || fail "t5: s re-ran"
status_is t5 's["state"] == "completed"'

# ---- a command tree that outlived its runner ----------------------------------------
printf '{"cairn_plan":1,"plan_id":"p","run_id":"t6","operations":[{"id":"h","kind":"task","run":["sh","%s","%s","h","hang"]}]}\n' \
    "$OP" "$D" >"$T/t6.json"
"$C" run "$T/t6.json" >"$T/t6.out" 2>"$T/t6.err" &
pid=$!
wait_file "$D/gc-h"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
sh_pid=$(cat "$D/pid-h")
sleeper=$(cat "$D/gc-h")
expect 5 "$C" resume t6
err_has "is still running"
err_has "pid $sleeper (sleep, pgid $sh_pid)"
kill -KILL "$sh_pid"
gone "$sh_pid"
expect 5 "$C" resume t6
kill -KILL "$sleeper"
gone "$sleeper"
expect 7 "$C" resume t6
err_has "is in doubt"

finish
