#!/bin/sh
# primitives.sh - drive a 10-operation plan through the journal primitives
# (create, claim, complete, fail, retry, accept-preflight ...), checking
# `status -o json` at each important step and the exit codes of rejected
# transitions; the journal stays readable by mdb_stat and mdb_dump.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

cat >"$T/plan.json" <<'JSON'
{
  "cairn_plan": 1,
  "plan_id": "pg-nightly",
  "run_id": "prim-1",
  "operations": [
    {"id": "check-space", "kind": "preflight", "run": ["df", "-P", "/"]},
    {"id": "check-dest", "kind": "preflight", "run": ["true"]},
    {"id": "stop-db", "kind": "stop", "target": "db", "run": ["true"]},
    {"id": "snapshot-db", "kind": "snapshot", "target": "db",
     "run": ["true"], "requires": ["artifact", "digest"]},
    {"id": "start-db", "kind": "start", "target": "db", "run": ["true"]},
    {"id": "transfer", "kind": "transfer", "run": ["true"]},
    {"id": "verify", "kind": "verify", "run": ["true"]},
    {"id": "finalize", "kind": "finalize", "run": ["true"]},
    {"id": "notify", "kind": "task", "run": ["true"]},
    {"id": "cleanup", "kind": "cleanup", "run": ["true"]}
  ]
}
JSON
R=prim-1
C=$CAIRN
TESTPID=$$
export TESTPID

# --- help, version, usage errors -------------------------------------
expect 0 "$C" --help && grep -q '^  claim ' "$T/out" ||
    fail "--help does not list claim"
expect 0 "$C" --version && grep -q '^cairn [0-9]' "$T/out" ||
    fail "--version output"
expect 0 "$C" help claim && grep -q 'usage: cairn claim' "$T/out" ||
    fail "help claim"
expect 0 "$C" claim --help && grep -q 'usage: cairn claim' "$T/out" ||
    fail "claim --help"
for cmd in create accept-preflight complete fail skip retry resolve cancel \
    list status show log keygen; do
    expect 0 "$C" "$cmd" --help
done
expect 2 "$C"
expect 2 "$C" no-such-command
expect 2 "$C" -o yaml list
expect 2 "$C" help no-such-command

# --- create ------------------------------------------------------------
expect 0 "$C" create "$T/plan.json" && out_is "$R"
err_has "cairn: warning: no signing key (--secret-key or CAIRN_SECRET_KEY): this commit is unsigned and the run will never verify"
CHECKS=$((CHECKS + 1))
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "more than one warning line"
expect 2 "$C" create "$T/plan.json"       # run id already used
expect 2 "$C" create "$T/plan.json" extra # one PLAN only
status_is "$R" 's["run_id"] == "prim-1" and s["plan_id"] == "pg-nightly"'
status_is "$R" 's["state"] == "running" and s["total"] == 10'
status_is "$R" 's["counts"] == {"blocked": 8, "ready": 2, "pending": 0, "completed": 0, "failed": 0, "skipped": 0}'
status_is "$R" 's["next"] == {"seq": 0, "id": "check-space", "kind": "preflight", "state": "ready", "attempt": 0}'
status_is "$R" 's["preflight_id"] is None and s["preflight_accepted"] is False'
status_is "$R" 's["last_contiguous_seq"] == -1 and s["last_attempted_seq"] == -1'
status_is "$R" 's["restart_required"] is False and s["restart_targets"] == [] and s["in_doubt"] == []'
status_is "$R" 's["signed"] is False and s["key_id"] is None and s["records"] == 1'
status_is "$R" 'len(s["plan_hash"]) == 64 and len(s["head"]) == 64'
status_is "$R" 's["created"].endswith("Z") and len(s["created"]) == 24'
for k in run_id plan_id plan_hash preflight_id preflight_accepted state \
    total counts next restart_required restart_targets in_doubt \
    last_contiguous_seq last_attempted_seq stopped_reason next_action; do
    status_is "$R" "'$k' in s"
done

# --- preflight ------------------------------------------------------------
expect 2 "$C" claim "$R" --op 1 --holder-pid $$   # out of order
expect 2 "$C" claim "$R" --op 99 --holder-pid $$  # no such op
expect 2 "$C" claim no-such-run                   # unknown run
expect 2 "$C" claim "$R" --bogus                  # bad flag
expect 2 "$C" claim "$R" --op x                   # bad number
expect 2 "$C" claim "$R" --op                     # missing argument
expect 2 "$C" claim                               # missing RUN
expect 2 "$C" claim "$R" --containment --cleanup
expect 0 "$C" claim "$R" --holder-pid $$ -o json &&
    out_is '{"seq":0,"id":"check-space","attempt":1}'
status_is "$R" 's["counts"]["pending"] == 1 and s["next"]["state"] == "pending" and s["in_doubt"] == []'
status_is "$R" 's["last_attempted_seq"] == 0 and s["last_contiguous_seq"] == -1'
expect 2 "$C" claim "$R" --op 0 --holder-pid $$   # already pending
expect 2 "$C" complete "$R" --op 1                # not pending
expect 2 "$C" complete "$R" --op 0 --attempt 2    # another attempt
expect 2 "$C" complete "$R" --op 0 --id check-dest  # another op id
expect 2 "$C" complete "$R"                       # --op missing
expect 2 "$C" complete "$R" --op 0 --output novalue
expect 2 "$C" complete "$R" --op 0 --output =v
expect 2 "$C" complete "$R" --op 0 --class terminal  # not for complete
expect 2 "$C" fail "$R" --op 0                    # --reason missing
expect 2 "$C" fail "$R" --op 0 --reason x --class sometimes
expect 0 "$C" complete "$R" --op 0 --attempt 1 --id check-space \
    --evidence exit=0 --evidence "note=a=b"
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 1
expect 0 "$C" complete "$R" --op 1
status_is "$R" 's["counts"]["completed"] == 2 and s["last_contiguous_seq"] == 1'
status_is "$R" 's["state"] == "awaiting-preflight" and s["next_action"] == "accept-preflight"'
expect 2 "$C" claim "$R" --holder-pid $$          # preflight not accepted
err_has "preflight"
expect 2 "$C" accept-preflight "$R"               # --id missing
expect 0 "$C" accept-preflight "$R" --id pf-1 --reason "space ok" \
    --actor alice
expect 0 "$C" accept-preflight "$R" --id pf-1     # same id: no-op
expect 2 "$C" accept-preflight "$R" --id pf-2     # another id
status_is "$R" 's["preflight_id"] == "pf-1" and s["preflight_accepted"] is True'
status_is "$R" 's["state"] == "running" and s["counts"]["ready"] == 8 and s["counts"]["blocked"] == 0'

# --- stop, snapshot (fails, retried), start ----------------------------
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 2
status_is "$R" 's["restart_required"] is False'
expect 0 "$C" complete "$R" --op 2
status_is "$R" 's["restart_required"] is True and s["restart_targets"] == ["db"]'
expect 0 "$C" claim "$R" --holder-pid $$ -o json &&
    out_is '{"seq":3,"id":"snapshot-db","attempt":1}'
expect 2 "$C" complete "$R" --op 3 --output artifact=/b/x  # digest missing
expect 0 "$C" fail "$R" --op 3 --class retryable --reason "disk full" \
    --evidence exit=75
status_is "$R" 's["counts"]["failed"] == 1 and s["next"]["seq"] == 3 and s["next"]["state"] == "failed"'
status_is "$R" 's["state"] == "needs-attention" and s["next_action"] == "retry-failed"'
status_is "$R" 's["last_contiguous_seq"] == 2 and s["last_attempted_seq"] == 3'
status_is "$R" 's["restart_required"] is True and s["restart_targets"] == ["db"]'
expect 2 "$C" retry "$R" --op 3                   # --reason missing
expect 2 "$C" retry "$R" --op 2 --reason x        # not failed
expect 0 "$C" retry "$R" --op 3 --reason "freed space"
status_is "$R" 's["counts"]["failed"] == 0 and s["next"]["state"] == "ready" and s["next"]["attempt"] == 1'
expect 2 "$C" retry "$R" --op 3 --reason again    # not failed any more
expect 0 "$C" claim "$R" --holder-pid $$ -o json &&
    out_is '{"seq":3,"id":"snapshot-db","attempt":2}'
expect 0 "$C" complete "$R" --op 3 --output artifact=/backup/db.tar \
    --output digest=sha256:0123 --evidence exit=0
status_is "$R" 's["next"]["id"] == "start-db" and s["restart_required"] is True'
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 4
status_is "$R" 's["restart_required"] is True and s["restart_targets"] == ["db"]'
expect 0 "$C" complete "$R" --op 4
status_is "$R" 's["restart_required"] is False and s["restart_targets"] == []'

# --- the rest ------------------------------------------------------------
expect 3 "$C" status "$R" --require-complete
err_has "--require-complete not met"
expect 0 "$C" status "$R" --require-no-attention
for seq in 5 6 7 8 9; do
    expect 0 "$C" claim "$R" --holder-pid $$ && out_is "$seq"
    expect 0 "$C" complete "$R" --op "$seq"
done
status_is "$R" 's["state"] == "completed" and s["next"] is None'
status_is "$R" 's["counts"]["completed"] == 10 and s["last_contiguous_seq"] == 9 and s["last_attempted_seq"] == 9'
status_is "$R" 's["stopped_reason"] == "complete" and s["next_action"] == "done"'
expect 0 "$C" status "$R" --require-complete --require-no-attention
expect 0 "$C" status "$R" && grep -q '^state: *completed' "$T/out" ||
    fail "text status lacks the state line"
expect 2 "$C" claim "$R" --holder-pid $$          # nothing left
expect 2 "$C" cancel "$R"                         # already complete

# --- inspection ------------------------------------------------------------
expect 0 "$C" list && grep -q "^prim-1 .*pg-nightly.*completed.*10/10" \
    "$T/out" || fail "list line: $(cat "$T/out")"
expect 0 "$C" list -o json && cp "$T/out" "$T/list.json"
json_is "$T/list.json" 'isinstance(j, list) and [r["run_id"] for r in j] == ["prim-1"]'
expect 0 "$C" -J "$CAIRN_DIR" --json status "$R" && cp "$T/out" "$T/g.json"
json_is "$T/g.json" 'j["state"] == "completed"'
expect 0 "$C" show "$R" && grep -q 'snapshot-db' "$T/out" ||
    fail "show lacks snapshot-db"
expect 0 "$C" show "$R" -o json && cp "$T/out" "$T/show.json"
json_is "$T/show.json" '[o["id"] for o in j["ops"]][3] == "snapshot-db" and j["ops"][3]["attempt"] == 2 and j["ops"][2]["target"] == "db"'
json_is "$T/show.json" 'j["run"]["run_id"] == "prim-1" and j["ops"][5]["target"] is None'
expect 0 "$C" show "$R" --op 3 -o json && cp "$T/out" "$T/op3.json"
json_is "$T/op3.json" '[r["type"] for r in j["records"]] == ["claim", "receipt", "retry", "claim", "receipt"]'
json_is "$T/op3.json" 'j["records"][1]["outcome"] == "failed" and j["records"][1]["error_class"] == "retryable" and j["records"][1]["reason"] == "disk full"'
json_is "$T/op3.json" 'j["records"][4]["outputs"] == {"artifact": "/backup/db.tar", "digest": "sha256:0123"}'
json_is "$T/op3.json" 'j["records"][2]["actor"] == "cli-test" and j["op"]["id"] == "snapshot-db"'
expect 2 "$C" show "$R" --op 10
expect 0 "$C" log "$R" && cp "$T/out" "$T/log.txt"
grep -q 'retry .*op=3(snapshot-db).*reason="freed space"' "$T/log.txt" ||
    fail "log text lacks the retry line"
expect 0 "$C" log "$R" -o json && cp "$T/out" "$T/log.ndjson"
CHECKS=$((CHECKS + 1))
python3 - "$T/log.ndjson" "$T/st.json" <<'PY' || fail "log -o json"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
st = json.load(open(sys.argv[2]))
assert [r["seq"] for r in recs] == list(range(len(recs))), "seq gaps"
assert len(recs) == st["records"], (len(recs), st["records"])
assert recs[0]["type"] == "create" and recs[0]["plan"]["plan_id"] == "pg-nightly"
for a, b in zip(recs, recs[1:]):
    assert b["prev"] == a["hash"], "chain"
assert recs[-1]["hash"] == st["head"]
for r in recs:
    for k in ("seq", "position", "type", "time", "wall_ns", "mono_ns",
              "boot_id", "prev", "hash", "actor"):
        assert k in r, k
acc = [r for r in recs if r["type"] == "accept-preflight"]
assert len(acc) == 1 and acc[0]["preflight_id"] == "pf-1", acc
assert acc[0]["actor"] == "alice" and acc[0]["reason"] == "space ok"
claims = [r for r in recs if r["type"] == "claim"]
assert len(claims) == 11, len(claims)
import os
assert all(c["holder_pid"] == int(os.environ["TESTPID"]) for c in claims)
ev = [r for r in recs if r["type"] == "receipt" and r["op"] == 0][0]
assert ev["evidence"] == {"exit": "0", "note": "a=b"}, ev["evidence"]
PY
expect 0 "$C" log "$R" --since 1h && CHECKS=$((CHECKS + 1)) &&
    { cmp -s "$T/out" "$T/log.txt" || fail "--since 1h drops records"; }
expect 0 "$C" log "$R" --since 2099-01-01T00:00:00Z && out_is ""
expect 0 "$C" log "$R" --since 2000-01-01T00:00:00.5+02:00
expect 2 "$C" log "$R" --since yesterday
expect 2 "$C" log "$R" --since 2026-02-30T00:00:00Z
expect 2 "$C" log no-such-run

# --- the directory is a plain LMDB environment -----------------------------
expect 0 mdb_stat -a "$CAIRN_DIR"
expect 0 mdb_dump -a "$CAIRN_DIR"
finish
