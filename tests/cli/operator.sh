#!/bin/sh
# operator.sh - what an operator sees (issue 18): the failed command's
# last stderr lines in the runner's failure line, in `status` and in
# `show --op`, escaped and bounded.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN

# plan FILE RUN_ID OPS...: a plan of the JSON operations OPS.
plan() {
    f=$1
    r=$2
    shift 2
    ops=""
    for o in "$@"; do
        ops="${ops:+$ops,}$o"
    done
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[%s]}\n' \
        "$r" "$ops" >"$f"
}
# sh_op ID KIND EXTRA SCRIPT: an operation running `sh -c SCRIPT`.
sh_op() {
    printf '{"id":"%s","kind":"%s",%s"run":["sh","-c","%s"]}' "$1" "$2" \
        "$3" "$4"
}

# json_err CODE EXIT: the last expect's stderr is JSON lines only, the last
# one {"error":{"code":CODE,"exit":EXIT,"message":...,"where":...}}.
json_err() {
    CHECKS=$((CHECKS + 1))
    python3 - "$T/err" "$1" "$2" <<'PY' || fail "stderr is not the JSON error $1/$2: $(cat "$T/err")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
objs = [json.loads(l) for l in lines]
assert objs, "no line"
e = objs[-1]["error"]
assert e["code"] == sys.argv[2], e
assert e["exit"] == int(sys.argv[3]), e
assert isinstance(e["message"], str) and e["message"], e
assert "where" in e, e
for o in objs[:-1]:
    assert set(o) == {"warning"}, o
PY
}

# ---- why it failed: the stderr tail ----------------------------------------
# Eight lines on stderr (one with an escape sequence), then exit 3.
cat >"$T/noisy.sh" <<'EOF'
i=1
while [ $i -le 7 ]; do echo "noise $i" >&2; i=$((i + 1)); done
printf 'tar: /backup: \033[31mNo space left on device\n' >&2
echo "to stdout"
exit 3
EOF
plan "$T/why.json" why-1 \
    "$(sh_op check preflight '' 'true')" \
    "$(sh_op stop-db stop '"target":"db",' 'true')" \
    "$(sh_op snap snapshot '"target":"db",' "sh $T/noisy.sh")" \
    "$(sh_op start-db start '"target":"db",' 'true')"
expect 1 "$C" run "$T/why.json"
err_has "failed (terminal)"
err_has "exit status 3"
# The last five lines only, the escape byte shown as \x1b.
err_has '        | noise 4'
err_has '        | tar: /backup: \x1b[31mNo space left on device'
grep -q 'noise 3' "$T/err" && fail "runner: more than 5 stderr lines shown"
grep -q "$(printf '\033')" "$T/err" && fail "runner: raw escape byte on stderr"
grep -q 'to stdout' "$T/err" && fail "runner: stdout shown as stderr"

expect 0 "$C" status why-1
grep -q '^failed: *#2 snap (snapshot), attempt 1: exit status 3$' "$T/out" ||
    fail "status: no failed line: $(cat "$T/out")"
grep -q '^ *| tar: /backup: \\x1b\[31mNo space left on device$' "$T/out" ||
    fail "status: no stderr tail: $(cat "$T/out")"
grep -q 'noise 3' "$T/out" && fail "status: more than 5 stderr lines shown"
grep -q "$(printf '\033')" "$T/out" && fail "status: raw escape byte"

expect 0 "$C" show why-1 --op 2
grep -q '^stderr of attempt 1 (last lines):$' "$T/out" ||
    fail "show --op: no stderr heading: $(cat "$T/out")"
grep -q '^  | noise 7$' "$T/out" || fail "show --op: no tail: $(cat "$T/out")"
grep -q "$(printf '\033')" "$T/out" && fail "show --op: raw escape byte"

# --json: the op-end event of a failure carries the tail.
plan "$T/whyj.json" whyj-1 "$(sh_op a task '' 'echo boom >&2; exit 4')"
expect 1 "$C" run "$T/whyj.json" --json
grep '"event":"op-end"' "$T/out" >"$T/end.json"
json_is "$T/end.json" 'j["stderr_tail"] == "boom\n"'

# A long line is cut to its last 1 KiB.
printf 'head -c 1500 /dev/zero | tr "\\000" x >&2\nexit 5\n' >"$T/long.sh"
plan "$T/long.json" long-1 \
    "$(sh_op a task '' "sh $T/long.sh")"
expect 1 "$C" run "$T/long.json"
n=$(grep '^        | x' "$T/err" | tr -d '\n' | wc -c)
[ "$n" -le 1040 ] && [ "$n" -ge 1024 ] || fail "long line shown as $n bytes"

# A completed run shows no failure lines.
plan "$T/fine.json" fine-1 "$(sh_op a task '' 'echo chatter >&2')"
expect 0 "$C" run "$T/fine.json"
grep -q 'chatter' "$T/err" && fail "completed op showed its stderr"
expect 0 "$C" status fine-1
grep -q '^failed:' "$T/out" && fail "completed run has a failed line"

# ---- resume of a finished run: 3 ("nothing to do"), 0 with --if-needed ----
expect 3 "$C" resume fine-1
err_has "run is finished"
expect 0 "$C" resume fine-1 --if-needed
[ "$(cat "$T/err")" = "cairn: fine-1: nothing to do: the run is completed" ] ||
    fail "--if-needed: stderr is not one note: $(cat "$T/err")"
expect 0 "$C" resume fine-1 --if-needed --json
tail -n 1 "$T/out" >"$T/sum.json"
json_is "$T/sum.json" 'j["event"] == "summary" and j["exit_code"] == 0'
expect 2 "$C" run "$T/why.json" --if-needed
err_has "--if-needed is an option of \`cairn resume\`"

# A cancelled run gets its containment from the first resume, then has
# nothing left to do.
plan "$T/cn.json" cn-1 \
    "$(sh_op stop-db stop '"target":"db",' 'true')" \
    "$(sh_op work task '' 'true')" \
    "$(sh_op start-db start '"target":"db",' "touch $T/started")"
expect 0 "$C" run "$T/cn.json" --max-steps 1
expect 0 "$C" cancel cn-1 --reason "operator stop"
expect 0 "$C" resume cn-1 --if-needed
[ -f "$T/started" ] || fail "resume --if-needed did not restart db"
err_has "nothing to do: the run is cancelled"
expect 3 "$C" resume cn-1
expect 0 "$C" resume cn-1 --if-needed

# ---- a timed-out run says so ----------------------------------------------
printf '{"cairn_plan":1,"plan_id":"p","run_id":"to-1","deadline":"1s","operations":[%s]}\n' \
    "$(sh_op slow task '' 'sleep 30')" >"$T/to.json"
expect 1 "$C" run "$T/to.json"
err_has "cairn: to-1: run timed out: "
grep -q "run failed" "$T/err" && fail "timed-out run says run failed"
expect 3 "$C" resume to-1
expect 0 "$C" resume to-1 --if-needed
err_has "nothing to do: the run is timed-out"

# ---- the "no signing key" warning only when something is written ------------
W="no signing key"
expect 2 "$C" run "$T/why.json"              # the run exists: refused
grep -q "$W" "$T/err" && fail "refused run printed the unsigned warning"
expect 2 "$C" claim fine-1                   # complete: refused
grep -q "$W" "$T/err" && fail "refused claim printed the unsigned warning"
expect 2 "$C" cancel no-such-run
grep -q "$W" "$T/err" && fail "refused cancel printed the unsigned warning"
plan "$T/w.json" w-1 "$(sh_op a task '' 'true')"
expect 0 "$C" create "$T/w.json"
err_has "$W"
expect 0 "$C" run "$T/fine.json" -J "$T/j2"
err_has "$W"

# ---- -o json: errors as JSON on stderr ---------------------------------------
expect 2 "$C" status -o json
json_err CLI_EUSAGE 2
grep -q "usage:" "$T/err" && fail "JSON usage error printed the usage text"
expect 2 "$C" status fine-1 --bogus -o json     # before -o json is parsed
json_err CLI_EUSAGE 2
expect 2 "$C" --json frobnicate
json_err CLI_EUSAGE 2
expect 2 "$C" status no-such-run --json
json_err CAIRN_ENORUN 2
expect 3 "$C" status why-1 --require-complete -o json
json_err CLI_EGATE 3
json_is "$T/out" 'j["state"] == "failed"'
expect 3 "$C" resume fine-1 -o json
json_err CAIRN_EFINISHED 3
# Without -o json the same errors stay text.
expect 2 "$C" status no-such-run
[ "$(cat "$T/err")" = 'cairn: status no-such-run: no such run: no run "no-such-run"' ] ||
    fail "text error changed: $(cat "$T/err")"

# ---- a missing journal is reported as such ----------------------------------
for cmd in "list" "status x" "log x" "show x" "verify --all"; do
    # shellcheck disable=SC2086
    expect 1 "$C" $cmd -J "$T/none"
    [ "$(cat "$T/err")" = "cairn: $T/none: no such journal (directory does not exist)" ] ||
        fail "$cmd: missing journal: $(cat "$T/err")"
    # shellcheck disable=SC2086
    expect 1 "$C" $cmd -J "$T/none" -o json
    json_err CLI_ENOJOURNAL 1
done
mkdir "$T/emptydir"
expect 1 "$C" list -J "$T/emptydir"
err_has "cairn: $T/emptydir: no such journal (the directory holds no data.mdb)"

# ---- progress counts from 1; status never says attempt 0 ---------------------
plan "$T/num.json" num-1 \
    "$(sh_op check preflight '' 'true')" "$(sh_op a task '' 'true')" \
    "$(sh_op b task '' 'true')"
expect 0 "$C" run "$T/num.json" --max-steps 1
err_has "[  1/3] check (preflight) attempt 1 ... completed"
grep -q '\[  0/' "$T/err" && fail "progress counts from 0"
expect 0 "$C" status num-1
grep -q '^next: *#1 a (task) ready$' "$T/out" ||
    fail "status next line: $(grep '^next:' "$T/out")"
grep -q 'attempt 0' "$T/out" && fail "status says attempt 0"
expect 0 "$C" show num-1
grep -Eq '^ +2 +b +task +- +ready +- +' "$T/out" ||
    fail "show: no '-' attempt for b: $(cat "$T/out")"
expect 0 "$C" resume num-1
err_has "[  3/3] b (task) attempt 1 ... completed"

# ---- state changes in the real order: no awaiting-preflight blip -------------
plan "$T/ev.json" ev-1 "$(sh_op check preflight '' 'true')" \
    "$(sh_op a task '' 'true')"
expect 0 "$C" run "$T/ev.json" --json
python3 - "$T/out" <<'PY' || fail "event order: $(cat "$T/out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
states = [e["state"] for e in ev if e["event"] == "state-change"]
assert "awaiting-preflight" not in states, states
assert states == ["running", "completed"], states
names = [e["event"] for e in ev]
assert names.index("preflight-accepted") > names.index("op-end"), names
PY
plan "$T/ev2.json" ev-2 "$(sh_op check preflight '' 'true')" \
    "$(sh_op a task '' 'true')"
expect 7 "$C" run "$T/ev2.json" --json --manual-accept
grep -q '"state":"awaiting-preflight"' "$T/out" ||
    fail "--manual-accept: no awaiting-preflight state: $(cat "$T/out")"

# ---- the lock holder in readable time -------------------------------------
plan "$T/lk.json" lk-1 "$(sh_op a task '' "touch $T/lk-started; sleep 30")"
"$C" run "$T/lk.json" --shutdown-timeout 1s >"$T/lk.out" 2>"$T/lk.err" &
lk_pid=$!
i=0
while [ ! -f "$T/lk-started" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
expect 5 "$C" resume lk-1
grep -Eq "held by pid $lk_pid on host [^ ]+ since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z \([0-9a-z]+ ago\)" "$T/err" ||
    fail "lock holder not readable: $(cat "$T/err")"
grep -q "since_ns" "$T/err" && fail "lock holder shows since_ns"
expect 0 "$C" status lk-1
grep -Eq "^command: .*attempt 1, since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z, running for " "$T/out" ||
    fail "status: command line not readable: $(cat "$T/out")"
grep -q "since_ns" "$T/out" && fail "status shows since_ns"
expect 5 "$C" resume lk-1 -o json
json_err CAIRN_ELOCKED 5
kill -TERM "$lk_pid"
wait "$lk_pid"

finish
