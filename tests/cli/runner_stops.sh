#!/bin/sh
# runner_stops.sh - a stopped service never stays down (issue 13): when
# the runner stops with a target stopped (SIGTERM or SIGINT during the
# snapshot, a timeout on the last attempt), the run is ended and
# containment restarts the target, cleanup runs, and the final message
# says so; without a stopped target a signal still leaves a resumable run.
# Also: a command outlives the SIGKILL of its runner without being killed
# by a broken pipe (its output goes to a file, not a pipe), and what it
# printed after the runner died is in the evidence of the decision that
# settles it on resume.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
OP="$CAIRN_ROOT/tests/runner/op.sh"
D="$T/work"
mkdir -p "$D"

wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
    [ -s "$1" ] || fail "$1 never appeared"
}
effects() {
    if [ -f "$D/effects-$1" ]; then wc -l <"$D/effects-$1" | tr -d ' '; else echo 0; fi
}
# db_plan FILE RUN SNAP_ACTION ARG [SNAP_EXTRA]: stop db, snapshot, start
# db, cleanup.
db_plan() {
    cat >"$1" <<EOF2
{"cairn_plan":1,"plan_id":"p","run_id":"$2","operations":[
 {"id":"stop","kind":"stop","target":"db","run":["sh","$OP","$D","stop-$2","ok"]},
 {"id":"snap","kind":"snapshot","target":"db",${5:-}
  "run":["sh","$OP","$D","snap-$2","$3","$4"]},
 {"id":"start","kind":"start","target":"db","run":["sh","$OP","$D","start-$2","ok"]},
 {"id":"tidy","kind":"cleanup","run":["sh","$OP","$D","tidy-$2","ok"]}]}
EOF2
}

for sig in TERM INT; do
    R=sig-$sig
    db_plan "$T/$R.json" "$R" slow 30
    "$C" run "$T/$R.json" --shutdown-timeout 300ms >"$T/$R.out" 2>"$T/$R.err" &
    pid=$!
    wait_file "$D/pid-snap-$R"
    kill -"$sig" "$pid"
    wait "$pid"
    rc=$?
    CHECKS=$((CHECKS + 1))
    [ "$rc" = 130 ] || fail "SIG$sig: exit $rc, want 130: $(cat "$T/$R.err")"
    [ "$(effects start-$R)" = 1 ] || fail "SIG$sig: containment did not restart db"
    [ "$(effects tidy-$R)" = 1 ] || fail "SIG$sig: cleanup did not run"
    grep -q 'interrupted by signal with stopped targets: run ended; containment and cleanup done' "$T/$R.err" ||
        fail "SIG$sig: final message: $(tail -n 3 "$T/$R.err")"
    status_is "$R" 's["state"] == "cancelled" and s["restart_required"] == False'
done

# A timeout on the only attempt, db stopped: containment, exit 1.
db_plan "$T/to.json" to-1 slow 30 '"timeout":"300ms",'
expect 1 "$C" run "$T/to.json"
err_has "timed out after"
err_has "no attempts left: run ended with stopped targets; containment and cleanup done"
[ "$(effects start-to-1)" = 1 ] || fail "timeout: containment did not restart db"
status_is to-1 's["state"] == "cancelled" and s["restart_required"] == False'

# Containment that fails itself: the final message names what is down.
cat >"$T/cf.json" <<EOF2
{"cairn_plan":1,"plan_id":"p","run_id":"cf-1","operations":[
 {"id":"stop","kind":"stop","target":"db","run":["true"]},
 {"id":"snap","kind":"snapshot","target":"db","timeout":"200ms","run":["sleep","30"]},
 {"id":"start","kind":"start","target":"db","run":["false"]}]}
EOF2
expect 1 "$C" run "$T/cf.json"
err_has "still stopped (restart them): db"
status_is cf-1 's["restart_required"] == True and s["restart_targets"] == ["db"]'

# ---- an orphan keeps running and printing after its runner's SIGKILL -------
cat >"$T/chatty.sh" <<EOS
#!/bin/sh
echo \$\$ > "$D/chatty.pid"
i=0
while [ \$i -lt 20 ]; do echo "line \$i"; echo "err \$i" >&2; i=\$((i + 1)); sleep 0.1; done
echo done > "$D/chatty.done"
EOS
cat >"$T/ch.json" <<EOF2
{"cairn_plan":1,"plan_id":"p","run_id":"ch-1","operations":[
 {"id":"chatty","kind":"task","idempotent":true,"run":["sh","$T/chatty.sh"]}]}
EOF2
"$C" run "$T/ch.json" >/dev/null 2>&1 &
pid=$!
wait_file "$D/chatty.pid"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
i=0
while [ ! -s "$D/chatty.done" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
CHECKS=$((CHECKS + 1))
[ -s "$D/chatty.done" ] || fail "the orphaned command died (SIGPIPE?) after its runner was killed"
i=0
while kill -0 "$(cat "$D/chatty.pid")" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
expect 0 "$C" resume ch-1
expect 0 "$C" show ch-1 --op 0 -o json
json_is "$T/out" '[r for r in j["records"] if r["type"] == "resolve"][0]["evidence"]["orphan_stdout_tail"].endswith("line 19\n") and [r for r in j["records"] if r["type"] == "resolve"][0]["evidence"]["orphan_stderr_bytes"] == str(sum(len("err %d\n" % i) for i in range(20)))'
CHECKS=$((CHECKS + 1))
ls "$CAIRN_DIR/tmp" | grep -q . && fail "output files left in tmp/: $(ls "$CAIRN_DIR/tmp")"

finish
