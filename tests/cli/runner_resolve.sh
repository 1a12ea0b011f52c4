#!/bin/sh
# runner_resolve.sh - an operation whose runner was SIGKILLed while its
# command still runs (issue 13): `status` says the command still runs (and
# what: pids, running time, last output from the runner's heartbeat) and
# never advises resolve-in-doubt; `resolve` refuses with exit 5 naming the
# processes unless --force, which is journaled; once the command ended,
# the usual resolve-in-doubt advice comes back.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
D="$T/work"
mkdir -p "$D"
CMDPID=""
trap '[ -n "$CMDPID" ] && kill -KILL "-$CMDPID" 2>/dev/null; rm -rf "$T"' EXIT

wait_file() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
    [ -s "$1" ] || fail "$1 never appeared"
}

cat >"$T/snap.sh" <<EOS
#!/bin/sh
echo \$\$ > "$D/snap.pid"
echo "snapshot started"
exec sleep 600
EOS
cat >"$T/p.json" <<EOF2
{"cairn_plan":1,"plan_id":"p","run_id":"rs-1","operations":[
 {"id":"snap","kind":"snapshot","run":["sh","$T/snap.sh"]}]}
EOF2
"$C" run --heartbeat 100ms "$T/p.json" >/dev/null 2>"$T/run.err" &
runner=$!
wait_file "$D/snap.pid"
CMDPID=$(cat "$D/snap.pid")
# Let a heartbeat see the output, then kill the runner alone.
i=0
while ! grep -q "last output" "$T/run.err" && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
kill -KILL "$runner"
wait "$runner" 2>/dev/null

expect 0 "$C" status rs-1
grep -q "next action: resolve-in-doubt" "$T/out" && fail "status advises resolve while the command runs"
grep -q "cairn resolve" "$T/out" && fail "status shows a resolve command while the command runs"
CHECKS=$((CHECKS + 1))
grep -q "^command:     still running: .*operation 0 (snap) attempt 1.*running for .*last output .* ago.*pid $CMDPID (sleep" "$T/out" ||
    fail "status does not say what still runs: $(cat "$T/out")"
status_is rs-1 's["next_action"] == "wait-command" and s["command_running"] == True and "pid '"$CMDPID"'" in s["command"]'

expect 5 "$C" resolve rs-1 --op 0 --outcome failed --reason "looks dead"
err_has "the operation's command still runs"
err_has "pid $CMDPID (sleep"
status_is rs-1 's["counts"]["pending"] == 1'

expect 0 "$C" resolve rs-1 --op 0 --outcome failed --reason "operator knows" --force
expect 0 "$C" show rs-1 --op 0 -o json
json_is "$T/out" 'j["records"][-1]["reason"] == "forced while its command still ran: operator knows" and "pid '"$CMDPID"'" in j["records"][-1]["evidence"]["forced_command_alive"]'

# Once the command is gone, resolve-in-doubt is advised again.
cat >"$T/p2.json" <<EOF2
{"cairn_plan":1,"plan_id":"p","run_id":"rs-2","operations":[
 {"id":"snap","kind":"snapshot","run":["sh","$T/snap.sh"]}]}
EOF2
rm -f "$D/snap.pid"
kill -KILL "-$CMDPID" 2>/dev/null
"$C" run "$T/p2.json" >/dev/null 2>&1 &
runner=$!
wait_file "$D/snap.pid"
CMDPID=$(cat "$D/snap.pid")
kill -KILL "$runner"
wait "$runner" 2>/dev/null
kill -KILL "-$CMDPID"
i=0
while kill -0 "$CMDPID" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
CMDPID=""
status_is rs-2 's["next_action"] == "resolve-in-doubt" and s["command_running"] == False and s["command"] is None'
expect 0 "$C" resolve rs-2 --op 0 --outcome failed --reason "it died"

# A probe has a timeout even when its operation has none.
cat >"$T/p3.json" <<EOF2
{"cairn_plan":1,"plan_id":"p","run_id":"rs-3","operations":[
 {"id":"snap","kind":"snapshot","run":["sh","$T/snap.sh"],
  "probe":["sleep","600"],"probe_timeout":"300ms"}]}
EOF2
rm -f "$D/snap.pid"
"$C" run "$T/p3.json" >/dev/null 2>&1 &
runner=$!
wait_file "$D/snap.pid"
CMDPID=$(cat "$D/snap.pid")
kill -KILL "$runner"
wait "$runner" 2>/dev/null
kill -KILL "-$CMDPID"
i=0
while kill -0 "$CMDPID" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
CMDPID=""
expect 7 "$C" resume rs-3
err_has "probe timed out"
status_is rs-3 's["next_action"] == "resolve-in-doubt"'

finish
