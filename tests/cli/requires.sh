#!/bin/sh
# requires.sh - typed required outputs (cairn-plan(5), "requires"): an empty
# value no longer satisfies a bare name, a sha256 output must look like a
# digest, a pattern must match the whole value.  `cairn complete` refuses a
# receipt that breaks a rule (exit 2, nothing written) and names the
# operation, the output and the rule; the runner records the operation as
# failed with that reason; a bad pattern is refused when the plan is read.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
H=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

cat >"$T/plan.json" <<'JSON'
{
  "cairn_plan": 1,
  "plan_id": "typed",
  "run_id": "typed-1",
  "operations": [
    {"id": "snap", "kind": "snapshot", "run": ["true"],
     "requires": ["artifact",
                  {"name": "digest", "type": "sha256"},
                  {"name": "id", "pattern": "[0-9a-f]{8,64}"},
                  {"name": "note", "type": "any"}]}
  ]
}
JSON

# --- the primitive ------------------------------------------------------
expect 0 "$C" create "$T/plan.json" && out_is typed-1
expect 0 "$C" accept-preflight typed-1 --id pf
expect 0 "$C" claim typed-1 --holder-pid $$ && out_is 0
records() {
    "$C" status typed-1 -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])'
}
before=$(records)
expect 2 "$C" complete typed-1 --op 0 --output artifact= \
    --output digest=$H --output id=deadbeef --output note=
err_has 'operation 0 (snap): required output "artifact" is empty (type nonempty)'
expect 2 "$C" complete typed-1 --op 0 --output artifact=/b/x \
    --output digest=abc --output id=deadbeef --output note=
err_has 'operation 0 (snap): required output "digest" "abc" is not a sha256 digest'
expect 2 "$C" complete typed-1 --op 0 --output artifact=/b/x \
    --output digest=sha256:$H --output id=xdeadbeef --output note=
err_has 'operation 0 (snap): required output "id" "xdeadbeef" does not match pattern "[0-9a-f]{8,64}"'
expect 2 "$C" complete typed-1 --op 0 --output artifact=/b/x \
    --output digest=sha256:$H --output id=deadbeef
err_has 'operation 0 (snap) requires output "note"'
CHECKS=$((CHECKS + 1))
[ "$(records)" = "$before" ] || fail "a refused receipt wrote a record"
expect 0 "$C" complete typed-1 --op 0 --output artifact=/b/x \
    --output digest=sha256:$H --output id=deadbeef --output note=
status_is typed-1 's["state"] == "completed"'

# --- the runner ---------------------------------------------------------
# The command exits 0 but reports an empty artifact and a bad digest.
cat >"$T/run.json" <<JSON
{
  "cairn_plan": 1,
  "plan_id": "typed-run",
  "run_id": "typed-run-1",
  "operations": [
    {"id": "snap", "kind": "snapshot",
     "run": ["sh", "-c", "printf 'artifact=\\\\ndigest=$H\\\\n' >\"\$CAIRN_OUTPUT\""],
     "requires": ["artifact", {"name": "digest", "type": "sha256"}]}
  ]
}
JSON
expect 1 "$C" run "$T/run.json"
err_has 'required output "artifact" is empty (type nonempty)'
status_is typed-run-1 's["state"] == "failed" and s["counts"]["failed"] == 1'
expect 0 "$C" show typed-run-1 --op 0 -o json
CHECKS=$((CHECKS + 1))
python3 - "$T/out" <<'PY' || fail "show --op 0 lacks the reason"
import json, sys
text = open(sys.argv[1]).read()
assert 'exit status 0 but in $CAIRN_OUTPUT required output \\"artifact\\" is empty (type nonempty)' in text, text
PY

# The same command with a good digest: the sha256 form without a prefix.
sed 's/typed-run-1/typed-run-2/; s/artifact=/artifact=x/' "$T/run.json" >"$T/run2.json"
expect 0 "$C" run "$T/run2.json"
status_is typed-run-2 's["state"] == "completed"'

# --- the plan -----------------------------------------------------------
sed 's/\[0-9a-f\]{8,64}/[0-9a-f{8,64}/; s/typed-1/typed-2/' "$T/plan.json" >"$T/bad.json"
expect 2 "$C" create "$T/bad.json"
err_has '$.operations[0].requires[2].pattern: invalid regular expression "[0-9a-f{8,64}"'
sed 's/"sha256"/"md5"/; s/typed-1/typed-3/' "$T/plan.json" >"$T/bad2.json"
expect 2 "$C" create "$T/bad2.json"
err_has '$.operations[0].requires[1].type: unknown output type "md5" (expected nonempty, any or sha256)'

finish
