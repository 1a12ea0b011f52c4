#!/bin/sh
# runner_daemon.sh - operations that leave services behind (issue 13):
# a start that daemonizes like `redis-server --daemonize yes` (the parent
# returns at once, the child calls setsid() a little later) keeps its
# daemon, does not get CAIRN_LOCK_FD, does not block the next operation
# nor a resume, and is recorded in the receipt; the man page's recipe
# (a foreground server put in the background) works; a readiness check
# must pass before the start is journaled completed; every other
# operation keeps the strict orphan detection.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
D="$T/work"
mkdir -p "$D"
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# daemon.sh PIDFILE DELAY: fork; the child waits DELAY, detaches with
# setsid, writes its pid and whether it holds CAIRN_LOCK_FD, and serves.
cat >"$D/daemon.sh" <<'EOS'
#!/bin/sh
pf=$1
delay=$2
sh -c 'sleep "$1"; exec setsid sh -c '\''
    held=no; [ -n "${CAIRN_LOCK_FD-}" ] && held=yes
    ls -l /proc/$$/fd 2>/dev/null | grep -q "run-.*\.cmd" && held=yes
    echo "$$ $held" > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 600'\'' "$2"' \
    sh "$delay" "$pf" </dev/null >/dev/null 2>&1 &
exit 0
EOS
chmod +x "$D/daemon.sh"

wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$1" ]
}

# ---- a daemonizing start, then more operations -----------------------------
cat >"$T/d1.json" <<EOF2
{"cairn_plan":1,"plan_id":"d","run_id":"d-1","operations":[
 {"id":"stop","kind":"stop","target":"db","run":["true"]},
 {"id":"start","kind":"start","target":"db",
  "run":["$D/daemon.sh","$D/pid1","0.3"]},
 {"id":"after","kind":"task","run":["true"]}]}
EOF2
expect 0 "$C" run "$T/d1.json"
status_is d-1 's["state"] == "completed" and s["restart_required"] == False'
CHECKS=$((CHECKS + 1))
if wait_file "$D/pid1"; then
    read -r pid held <"$D/pid1"
    PIDS="$PIDS $pid"
    kill -0 "$pid" 2>/dev/null || fail "the daemon of the start died"
    [ "$held" = no ] || fail "the daemon inherited the command-lifetime lock"
else
    fail "the daemon never started (swept with its command's group?)"
    pid=none
fi
expect 0 "$C" show d-1 --op 1 -o json
# The daemon (same pid from the fork through setsid and exec) is recorded.
json_is "$T/out" "any(r.get('evidence', {}).get('daemon_pids', '').startswith('$pid/') or ' $pid/' in r.get('evidence', {}).get('daemon_pids', '') for r in j['records'])"

# A second run of the journal is not blocked by the daemon of the first.
sed -e 's/d-1/d-2/' -e 's/pid1/pid2/' "$T/d1.json" >"$T/d2.json"
expect 0 "$C" run "$T/d2.json"
wait_file "$D/pid2" && { read -r p2 _ <"$D/pid2"; PIDS="$PIDS $p2"; }

# ---- the man page's recipe: a foreground server in the background ----------
cat >"$T/d3.json" <<EOF2
{"cairn_plan":1,"plan_id":"d","run_id":"d-3","operations":[
 {"id":"stop","kind":"stop","target":"db","run":["true"]},
 {"id":"start","kind":"start","target":"db",
  "run":["sh","-c","sh -c 'echo \$\$ > $D/pid3; exec sleep 600' </dev/null >/dev/null 2>&1 &"]},
 {"id":"after","kind":"task","run":["true"]}]}
EOF2
expect 0 "$C" run "$T/d3.json"
CHECKS=$((CHECKS + 1))
if wait_file "$D/pid3"; then
    read -r p3 <"$D/pid3"
    PIDS="$PIDS $p3"
    sleep 0.5
    kill -0 "$p3" 2>/dev/null || fail "the backgrounded server was killed"
else
    fail "the backgrounded server never ran"
fi

# ---- readiness check --------------------------------------------------------
cat >"$T/d4.json" <<EOF2
{"cairn_plan":1,"plan_id":"d","run_id":"d-4","operations":[
 {"id":"stop","kind":"stop","target":"db","run":["true"]},
 {"id":"start","kind":"start","target":"db",
  "run":["$D/daemon.sh","$D/pid4","1"],
  "ready":{"run":["test","-s","$D/pid4"],"timeout":"60s","interval":"100ms"}},
 {"id":"after","kind":"task","run":["sh","-c","test -s $D/pid4"]}]}
EOF2
expect 0 "$C" run "$T/d4.json"
[ -s "$D/pid4" ] && { read -r p4 _ <"$D/pid4"; PIDS="$PIDS $p4"; }
status_is d-4 's["state"] == "completed"'
expect 0 "$C" show d-4 --op 1 -o json
json_is "$T/out" "'ready' in str(j)"

# A readiness check that never passes fails the start (retryable); with
# no attempts left and db stopped, the run is ended and containment tries
# the start once more (which fails the same way): exit 1, and the final
# word names what is still down.
cat >"$T/d5.json" <<EOF2
{"cairn_plan":1,"plan_id":"d","run_id":"d-5","operations":[
 {"id":"stop","kind":"stop","target":"db","run":["true"]},
 {"id":"start","kind":"start","target":"db","run":["true"],
  "ready":{"run":["false"],"timeout":"1s","interval":"100ms"}}]}
EOF2
expect 1 "$C" run "$T/d5.json"
err_has "readiness check did not pass within 1.00s"
err_has "still stopped (restart them): db"
status_is d-5 's["counts"]["failed"] == 1 and s["restart_targets"] == ["db"]'

# ---- everything else keeps the strict orphan detection ----------------------
cat >"$T/d6.json" <<EOF2
{"cairn_plan":1,"plan_id":"d","run_id":"d-6","operations":[
 {"id":"leak","kind":"task",
  "run":["sh","-c","setsid sh -c 'echo \$\$ > $D/pid6; exec sleep 600' </dev/null >/dev/null 2>&1 & while [ ! -s $D/pid6 ]; do sleep 0.05; done"]},
 {"id":"after","kind":"task","run":["true"]}]}
EOF2
expect 5 "$C" run "$T/d6.json"
err_has "is still running"
[ -s "$D/pid6" ] && { read -r p6 <"$D/pid6"; PIDS="$PIDS $p6"; }

finish
