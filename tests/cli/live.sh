#!/bin/sh
# live.sh - who works on a run, and `cairn cancel` of a live run:
# `status`/`list` tell active (a verified runner: pid, host, since) from
# idle (created, or stopped cleanly between operations), abandoned (an
# operation in doubt, or the lock note of a writer that died) and ended;
# `status` never says "resume" while a runner holds the run;
# --require-no-attention fails for an abandoned run; `cancel` stops a live
# runner gracefully (a runner with a target down restarts it and ends the
# run itself) and records the cancel, gives up after --timeout, and
# never signals a process a forged lock note names.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
OP="$CAIRN_ROOT/tests/runner/op.sh"
D="$T/work"
mkdir -p "$D"

# slow_plan FILE RUN SECONDS: op "s" sleeps, then op "n" is quick.
slow_plan() {
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[' "$2" >"$1"
    printf '{"id":"s","kind":"task","run":["sh","%s","%s","s-%s","slow","%s"]},' \
        "$OP" "$D" "$2" "$3" >>"$1"
    printf '{"id":"n","kind":"task","run":["sh","%s","%s","n-%s","ok"]}]}\n' \
        "$OP" "$D" "$2" >>"$1"
}
# wait_file PATH: up to 20 s.
wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 2000 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    [ -s "$1" ] || fail "$1 never appeared"
}
# gone PID: wait up to 20 s for a process to exit.
gone() {
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 2000 ]; do
        sleep 0.01
        i=$((i + 1))
    done
}
# note PID START: a holder note as lock.c writes it, for this host/boot.
note() {
    printf 'pid=%s start=%s boot=%s host=%s since_ns=1700000000000000000\n' \
        "$1" "$2" "$(tr -d -- '-\n' </proc/sys/kernel/random/boot_id)" \
        "$(uname -n)"
}
start_time() {
    sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# ---- idle: created, and stopped cleanly between operations ------------------
slow_plan "$T/i.json" idle 0
expect 0 "$C" create "$T/i.json"
status_is idle 's["activity"] == "idle" and s["holder"] is None and s["next_action"] == "accept-preflight"'
expect 0 "$C" resume idle --max-steps 1
status_is idle 's["activity"] == "idle" and s["counts"]["completed"] == 1 and s["next_action"] == "resume"'
expect 0 "$C" status idle --require-no-attention
expect 0 "$C" status idle
grep -q '^activity:    idle' "$T/out" || fail "status idle: no 'activity: idle' line: $(cat "$T/out")"

# ---- abandoned: the lock note of a writer that died between operations ------
# (what kill -9 of a runner between two operations leaves: it never
# released the run, so its note stays)
sleep 0 &
dead=$!
wait "$dead"
lock="$CAIRN_DIR/locks/run-1.lock"
[ -f "$lock" ] || fail "no run lock file $lock"
note "$dead" 1 >"$lock"
status_is idle 's["activity"] == "abandoned" and s["holder"]["pid"] == '"$dead"
expect 3 "$C" status idle --require-no-attention
err_has "abandoned"
expect 0 "$C" status idle
grep -q '^activity:    ABANDONED' "$T/out" || fail "status: no ABANDONED line: $(cat "$T/out")"
expect 0 "$C" list
grep '^idle ' "$T/out" | grep -q ABANDONED || fail "list: idle not ABANDONED: $(cat "$T/out")"
# Taking the run over and letting it go clears the mark.
expect 0 "$C" resume idle
status_is idle 's["activity"] == "ended" and s["state"] == "completed"'
expect 0 "$C" status idle --require-no-attention

# ---- abandoned: an operation in doubt (its runner was killed) ---------------
printf '{"cairn_plan":1,"plan_id":"p","run_id":"dead","operations":[{"id":"k","kind":"task","run":["sh","-c","kill -9 $PPID; sleep 0.2"]}]}\n' >"$T/d.json"
expect 137 "$C" run "$T/d.json"
status_is dead 's["activity"] == "abandoned" and s["in_doubt"] == [0]'

# ---- active: a runner holds the run ------------------------------------------
slow_plan "$T/a.json" act 60
"$C" run "$T/a.json" --shutdown-timeout 60s >"$T/a.out" 2>"$T/a.err" &
runner=$!
wait_file "$D/pid-s-act"
status_is act 's["activity"] == "active" and s["holder"]["pid"] == '"$runner"' and s["holder"]["verified"] and s["holder"]["host"] and s["next_action"] == "wait-runner"'
expect 0 "$C" status act
grep -q "^activity:    active: runner pid $runner on " "$T/out" || fail "status act: $(cat "$T/out")"
grep -q 'next action: resume' "$T/out" && fail "status says resume while a runner holds the run"
expect 0 "$C" list -o json
json_is "$T/out" '[r["activity"] for r in j if r["run_id"] == "act"] == ["active"]'
expect 0 "$C" list
grep '^act ' "$T/out" | grep -q "active pid $runner" || fail "list: act not active: $(cat "$T/out")"

# ---- cancel gives up after --timeout when the runner does not let go ----------
# (its command sleeps 60 s and --shutdown-timeout lets it finish)
expect 5 "$C" cancel act --timeout 1s --reason "too slow"
err_has "did not let go of the run within 1s"
kill -0 "$runner" 2>/dev/null || fail "cancel --timeout: the runner is gone"
status_is act 's["state"] == "running" and s["activity"] == "active"'
kill -TERM "$runner" # the second signal: it stops at once
wait "$runner"
CHECKS=$((CHECKS + 1))

# ---- cancel of a live run: the runner stops, the cancel is recorded ----------
slow_plan "$T/c.json" live 60
"$C" run "$T/c.json" --shutdown-timeout 200ms >"$T/c.out" 2>"$T/c.err" &
runner=$!
wait_file "$D/pid-s-live"
expect 0 "$C" cancel live --reason "operator stop"
err_has "asked its runner (pid $runner on"
wait "$runner"
rc=$?
CHECKS=$((CHECKS + 1))
[ "$rc" = 130 ] || fail "cancelled runner: exit $rc, want 130: $(cat "$T/c.err")"
status_is live 's["state"] == "cancelled" and s["activity"] == "ended" and s["counts"]["pending"] == 0'
expect 0 "$C" log live -o json
grep -q '"reason":"operator stop"' "$T/out" || fail "no cancel record with the reason: $(cat "$T/out")"

# ---- cancel while a target is down: the runner restarts it, ends the run -----
printf '{"cairn_plan":1,"plan_id":"p","run_id":"down","operations":[' >"$T/s.json"
printf '{"id":"stop","kind":"stop","target":"db","run":["sh","%s","%s","stop-down","ok"]},' \
    "$OP" "$D" >>"$T/s.json"
printf '{"id":"snap","kind":"snapshot","target":"db","run":["sh","%s","%s","s-down","slow","60"]},' \
    "$OP" "$D" >>"$T/s.json"
printf '{"id":"start","kind":"start","target":"db","run":["sh","%s","%s","start-down","ok"]}]}\n' \
    "$OP" "$D" >>"$T/s.json"
"$C" run "$T/s.json" --shutdown-timeout 200ms >"$T/s.out" 2>"$T/s.err" &
runner=$!
wait_file "$D/pid-s-down"
expect 0 "$C" cancel down --reason "operator stop"
err_has "its runner ended the run"
wait "$runner"
CHECKS=$((CHECKS + 1))
[ -s "$D/effects-start-down" ] || fail "containment did not start db: $(cat "$T/s.err")"
status_is down 's["state"] == "cancelled" and not s["restart_required"] and s["activity"] == "ended"'

# ---- a forged note never gets an arbitrary process signalled ----------------
slow_plan "$T/f.json" forged 0
expect 0 "$C" create "$T/f.json"
sleep 60 &
victim=$!
# Another process of ours holds the lock (it is what cairn finds held).
(
    exec 9>>"$CAIRN_DIR/locks/run-6.lock"
    flock -x 9
    exec sleep 60
) &
holder=$!
i=0
while flock -n "$CAIRN_DIR/locks/run-6.lock" true && [ $i -lt 400 ]; do
    sleep 0.05
    i=$((i + 1))
done
note "$victim" "$(start_time "$victim")" >"$CAIRN_DIR/locks/run-6.lock"
status_is forged 's["activity"] == "active" and not s["holder"]["verified"] and "does not hold the run lock" in s["activity_detail"]'
expect 5 "$C" cancel forged
err_has "will not signal"
err_has "pid $victim does not hold the run lock"
CHECKS=$((CHECKS + 1))
kill -0 "$victim" 2>/dev/null || fail "cancel signalled the process a forged note named"
# A note naming another host is not believed either.
printf 'pid=%s start=%s boot=%s host=elsewhere.example since_ns=1\n' "$victim" \
    "$(start_time "$victim")" "$(tr -d -- '-\n' </proc/sys/kernel/random/boot_id)" \
    >"$CAIRN_DIR/locks/run-6.lock"
expect 5 "$C" cancel forged
err_has "names host elsewhere.example"
kill -0 "$victim" 2>/dev/null || fail "cancel signalled a process named for another host"
kill "$holder" "$victim" 2>/dev/null
wait "$holder" "$victim" 2>/dev/null
gone "$holder"
expect 0 "$C" cancel forged --reason "after the holder left"
status_is forged 's["state"] == "cancelled"'

finish
