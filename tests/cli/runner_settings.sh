#!/bin/sh
# runner_settings.sh - plan settings for commands (issue 13): "env",
# "env_file", "pass_env" and "cwd" at plan and operation level; the
# working directory recorded at `cairn run` so that a resume from another
# directory runs the same files; env_file failures; secrets from an
# env_file never reach the journal; `cairn run -`.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
A="$T/a"
B="$T/b"
mkdir -p "$A/sub" "$B/sub"
for d in "$A" "$B"; do
    cat >"$d/sub/step.sh" <<EOS
#!/bin/sh
echo "\$1 from $d pwd=\$(pwd) A=\${A-} B=\${B-} S=\${SECRET-} P=\${PASSME-} Q=\${NOTSET-unset} H=\${HOME-}" >>"$T/log"
EOS
    chmod +x "$d/sub/step.sh"
done
printf '# comment\n\nSECRET=s3cr3t=x\nB=from-file\n' >"$A/env"
printf 'SECRET=wrong\n' >"$B/env"

cat >"$A/plan.json" <<'EOF2'
{"cairn_plan":1,"plan_id":"settings","run_id":"set-1",
 "env":{"A":"plan-a","B":"plan-b"},"pass_env":["PASSME","NOTSET"],
 "env_file":"env",
 "operations":[
  {"id":"one","kind":"task","cwd":"sub","run":["./step.sh","one"],
   "env":{"A":"op-a"}},
  {"id":"two","kind":"task","cwd":"sub","run":["./step.sh","two"],
   "env":{"B":"op-b"}}]}
EOF2

# Run the first operation from A, resume the second from B: the recorded
# working directory is A's, so A's step.sh and A's env file are used.
cd "$A" || exit 1
PASSME=yes expect 0 "$C" run --max-steps 1 plan.json
cd "$B" || exit 1
PASSME=again expect 0 "$C" resume set-1
cd / || exit 1
CHECKS=$((CHECKS + 1))
want1="one from $A pwd=$A/sub A=op-a B=plan-b S=s3cr3t=x P=yes Q=unset H=${HOME-}"
want2="two from $A pwd=$A/sub A=plan-a B=op-b S=s3cr3t=x P=again Q=unset H=${HOME-}"
got=$(cat "$T/log")
[ "$got" = "$want1
$want2" ] || fail "commands saw: $got"
status_is set-1 's["state"] == "completed"'

# The stored plan carries the directory (bound by the plan hash); the
# env_file's values are nowhere in the journal.
expect 0 "$C" export set-1 --format json
grep -q "\"cwd\":\"$A\"" "$T/out" || fail "exported plan lacks cwd $A"
grep -q s3cr3t "$T/out" && fail "the env_file secret reached the journal"
CHECKS=$((CHECKS + 1))
if grep -r -q -a s3cr3t "$CAIRN_DIR"; then
    fail "the env_file secret is in the journal directory"
fi

# An env_file that is missing or malformed fails the operation, naming
# the file and the line, never a value.
cat >"$T/badenv.json" <<EOF2
{"cairn_plan":1,"plan_id":"settings","run_id":"set-2",
 "operations":[{"id":"one","kind":"task","env_file":"$T/nope",
  "run":["true"]}]}
EOF2
expect 1 "$C" run "$T/badenv.json"
err_has "env_file $T/nope: No such file or directory"
status_is set-2 's["state"] == "failed"'
printf 'OK=1\nsecretvalue-no-equals\n' >"$T/malformed"
sed -e "s|$T/nope|$T/malformed|" -e 's/set-2/set-3/' "$T/badenv.json" >"$T/bad3.json"
expect 1 "$C" run "$T/bad3.json"
err_has "env_file $T/malformed: line 2: missing '='"
grep -q secretvalue "$T/err" && fail "a malformed env_file line was shown"
printf 'CAIRN_LOCK_FD=1\n' >"$T/malformed"
sed -e 's/set-3/set-4/' "$T/bad3.json" >"$T/bad4.json"
expect 1 "$C" run "$T/bad4.json"
err_has "env_file $T/malformed: line 1: invalid variable name"

# `cairn run -` reads the plan from standard input; the directory
# recorded is the invocation directory.
cd "$B" || exit 1
CHECKS=$((CHECKS + 1))
printf '{"cairn_plan":1,"plan_id":"s","run_id":"set-5","operations":[{"id":"x","kind":"task","run":["sub/step.sh","stdin"]}]}' |
    "$C" run - >"$T/out" 2>"$T/err" || fail "run - failed: $(cat "$T/err")"
cd / || exit 1
grep -q "^stdin from $B pwd=$B " "$T/log" || fail "run - did not run in $B: $(tail -n1 "$T/log")"
expect 2 "$C" run - </dev/null
err_has "-: "

finish
