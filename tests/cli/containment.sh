#!/bin/sh
# containment.sh - after a terminal failure only containment starts and
# cleanup operations may be claimed; `log -f` streams records as they are
# committed and exits 0 on SIGTERM.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "contain", "run_id": "contain-1",
 "operations": [
   {"id": "check", "kind": "preflight"},
   {"id": "stop-db", "kind": "stop", "target": "db"},
   {"id": "snap", "kind": "snapshot", "target": "db"},
   {"id": "start-db", "kind": "start", "target": "db"},
   {"id": "copy", "kind": "transfer"},
   {"id": "tidy", "kind": "cleanup"}
 ]}
JSON
R=contain-1
expect 0 "$C" create "$T/plan.json"

# Follow the log from the start, in the background.
"$C" log "$R" -f -o json >"$T/follow.ndjson" 2>"$T/follow.err" &
follower=$!

expect 0 "$C" claim "$R" --holder-pid $$
expect 0 "$C" complete "$R" --op 0
expect 0 "$C" accept-preflight "$R" --id pf
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 1
expect 0 "$C" complete "$R" --op 1
expect 0 "$C" claim "$R" --holder-pid $$ && out_is 2
expect 2 "$C" claim "$R" --holder-pid $$ --containment --op 3  # head not failed
expect 0 "$C" fail "$R" --op 2 --reason "snapshot tool crashed"
status_is "$R" 's["state"] == "failed" and s["next_action"] == "restart-targets"'
status_is "$R" 's["restart_required"] is True and s["restart_targets"] == ["db"]'
expect 3 "$C" status "$R" --require-no-attention
expect 2 "$C" claim "$R" --holder-pid $$ --op 3    # not the head
expect 2 "$C" claim "$R" --holder-pid $$ --cleanup --op 3   # not a cleanup
expect 2 "$C" claim "$R" --holder-pid $$ --containment --op 4  # not a start
expect 0 "$C" claim "$R" --holder-pid $$ --containment --op 3 -o json &&
    out_is '{"seq":3,"id":"start-db","attempt":1}'
expect 0 "$C" complete "$R" --op 3
status_is "$R" 's["restart_required"] is False and s["state"] == "failed"'
expect 0 "$C" claim "$R" --holder-pid $$ --cleanup --op 5 && out_is 5
expect 0 "$C" complete "$R" --op 5
status_is "$R" 's["counts"]["completed"] == 4 and s["counts"]["failed"] == 1'

# The follower saw every record, then stops cleanly on SIGTERM.
sleep 1
kill -TERM "$follower"
wait "$follower"
rc=$?
CHECKS=$((CHECKS + 1))
[ "$rc" -eq 0 ] || fail "log -f exited $rc on SIGTERM: $(cat "$T/follow.err")"
expect 0 "$C" log "$R" -o json
CHECKS=$((CHECKS + 1))
cmp -s "$T/out" "$T/follow.ndjson" || {
    fail "log -f output differs from log"
    diff "$T/out" "$T/follow.ndjson" | head -n 20 >&2
}
json_is "$T/st.json" 'j["records"] == 12'
CHECKS=$((CHECKS + 1))
[ "$(wc -l <"$T/follow.ndjson")" -eq 12 ] || fail "follower saw $(wc -l <"$T/follow.ndjson") records"
grep -q '"claim_kind":"containment"' "$T/follow.ndjson" ||
    fail "no containment claim in the log"
finish
