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

finish
