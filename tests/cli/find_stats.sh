#!/bin/sh
# find_stats.sh - finding runs and statistics (issue 17): list filters,
# `latest` and unique-prefix run ids, log filters, retry --all-failed, and
# `cairn stats` (text, JSON, --prom checked by a strict parser of the
# Prometheus text format, and by promtool when it is installed or named by
# $PROMTOOL) against a journal whose counts the script knows.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

# plan ID RUN OPS-JSON: write $T/RUN.json
plan() {
    printf '{"cairn_plan": 1, "plan_id": "%s", "run_id": "%s",\n "operations": [%s]}\n' \
        "$1" "$2" "$3" >"$T/$2.json"
}
ALPHA_OPS='{"id": "stop-db", "kind": "stop", "target": "db", "run": ["true"]},
 {"id": "copy", "kind": "transfer", "run": ["true"]},
 {"id": "start-db", "kind": "start", "target": "db", "run": ["true"]}'
TASK_OPS='{"id": "work", "kind": "task", "target": "web", "run": ["true"]}'
for r in alpha-1 alpha-2 alpha-3; do plan alpha "$r" "$ALPHA_OPS"; done
for r in beta-1 beta-2 beta-3; do plan beta "$r" "$TASK_OPS"; done
for r in gamma-1 gamma-2; do plan gamma "$r" "$TASK_OPS"; done
for r in delta delta-2; do plan delta "$r" "$TASK_OPS"; done

# A process that is gone: the holder of an in-doubt claim.
sh -c 'exit 0' &
DEAD=$!
wait "$DEAD"

# mk RUN [ARGS...]: create RUN and accept its (empty) preflight
mk() {
    r=$1
    shift
    expect 0 "$C" create "$T/$r.json" "$@" &&
        expect 0 "$C" accept-preflight "$r" --id none "$@"
}

# --- the journal: known states -----------------------------------------
mk alpha-1
for op in 0 1 2; do
    expect 0 "$C" claim alpha-1 --op $op --holder-pid $$
    expect 0 "$C" complete alpha-1 --op $op
done
sleep 1.2
MID=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sleep 1.2
mk alpha-2
expect 0 "$C" claim alpha-2 --op 0 --holder-pid $$
expect 0 "$C" complete alpha-2 --op 0
expect 0 "$C" claim alpha-2 --op 1 --holder-pid $$
expect 0 "$C" fail alpha-2 --op 1 --reason "disk full" --class terminal
mk alpha-3
mk beta-1
expect 0 "$C" cancel beta-1 --reason "not today"
mk beta-2
expect 0 "$C" claim beta-2 --op 0 --holder-pid $$
expect 0 "$C" fail beta-2 --op 0 --reason flaky --class retryable
mk beta-3
expect 0 "$C" claim beta-3 --op 0 --holder-pid "$DEAD"
mk gamma-1
expect 0 "$C" claim gamma-1 --op 0 --holder-pid $$
expect 0 "$C" fail gamma-1 --op 0 --reason x
mk gamma-2
expect 0 "$C" claim gamma-2 --op 0 --holder-pid $$
expect 0 "$C" fail gamma-2 --op 0 --reason x
mk delta
mk delta-2

# list -o json, run ids only, sorted as listed: LIST ARGS... -> $T/ids
ids() {
    CHECKS=$((CHECKS + 1))
    if ! "$C" list -o json "$@" >"$T/list.json" 2>"$T/list.err"; then
        fail "list $*: $(cat "$T/list.err")"
        return 1
    fi
    python3 -c '
import json, sys
print(" ".join(r["run_id"] for r in json.load(open(sys.argv[1]))))
' "$T/list.json" >"$T/ids"
}
ids_are() {
    want=$1
    shift
    ids "$@" || return
    got=$(cat "$T/ids")
    [ "$got" = "$want" ] || fail "list $*: '$got', want '$want'"
}

# --- list filters ---------------------------------------------------------
ids_are "alpha-1 alpha-2 alpha-3 beta-1 beta-2 beta-3 gamma-1 gamma-2 delta delta-2"
ids_are "alpha-2 gamma-1 gamma-2" --state failed
ids_are "alpha-2 beta-1 beta-2 beta-3 gamma-1 gamma-2" --state failed,needs-attention,cancelled
ids_are "alpha-2 beta-1 gamma-1 gamma-2" --state failed --state cancelled
ids_are "beta-1 beta-2 beta-3" --plan beta
ids_are "beta-1 delta delta-2" --plan beta --plan delta --state cancelled,running
ids_are "alpha-1 alpha-2 alpha-3" --target db
ids_are "" --target nowhere
ids_are "beta-1 beta-2 beta-3 gamma-1 gamma-2 delta delta-2" --target web
ids_are "alpha-1" --until "$MID"
ids_are "alpha-2 alpha-3" --since "$MID" --plan alpha
ids_are "alpha-1 alpha-2 alpha-3" --since 1h --plan alpha
ids_are "" --until 1h
# attention: failed (alpha-2 also has db stopped), retryable failure,
# in doubt; gamma runs failed terminally
ids_are "alpha-2 beta-2 beta-3 gamma-1 gamma-2" --attention
ids_are "beta-2 beta-3" --attention --plan beta
expect 0 "$C" list --state completed
CHECKS=$((CHECKS + 1))
grep -q '^alpha-1 ' "$T/out" && [ "$(wc -l <"$T/out")" -eq 1 ] ||
    fail "list --state completed (text): $(cat "$T/out")"
# refusals name the option
expect 2 "$C" list --state bogus && err_has "--state: unknown run state 'bogus'"
expect 2 "$C" list --state failed,, && err_has "--state: unknown run state ''"
expect 2 "$C" list --since yesterday && err_has "--since: 'yesterday'"
expect 2 "$C" list --until 2026-13-01T00:00:00Z &&
    err_has "--until: '2026-13-01T00:00:00Z'"
expect 2 "$C" list --plan "" && err_has "--plan: empty"
expect 2 "$C" list --target "" && err_has "--target: empty"
expect 2 "$C" list --since 1h --until 2h && err_has "--since is later than --until"
expect 0 "$C" list --held && out_is "" # no holds here (tests/cli/holds.sh)
expect 2 "$C" list --held=yes

# --- latest and prefixes ---------------------------------------------------
status_is latest 's["run_id"] == "delta-2"'
status_is delta 's["run_id"] == "delta"'     # an exact id wins
status_is delta- 's["run_id"] == "delta-2"'  # a unique prefix
status_is gamma-1 's["run_id"] == "gamma-1"'
expect 2 "$C" status alpha- &&
    err_has "status: run id prefix 'alpha-' is ambiguous: 3 runs match: alpha-1, alpha-2, alpha-3"
expect 2 "$C" status del && err_has "ambiguous: 2 runs match: delta, delta-2"
expect 2 "$C" status nothing-like-it && err_has "no such run"
expect 2 "$C" show bet && err_has "ambiguous"
expect 0 "$C" show alpha-3 && grep -q 'alpha-3' "$T/out" || fail "show alpha-3"
expect 0 "$C" log latest --type create -o json
json_is "$T/out" 'j["run_id"] == "delta-2" and j["type"] == "create"'
expect 0 "$C" export gamma-2 -o json
json_is "$T/out" 'j["run_id"] == "gamma-2"'
# a write through a prefix: delta-2 is cancelled, delta is not
expect 0 "$C" cancel delta- --reason "by prefix"
status_is delta-2 's["state"] == "cancelled"'
status_is delta 's["state"] == "running"'
expect 2 "$C" cancel alpha- --reason x && err_has "ambiguous"
status_is alpha-3 's["state"] == "running"'

# --- log filters -------------------------------------------------------------
log_types() {
    CHECKS=$((CHECKS + 1))
    "$C" log "$@" -o json >"$T/log.json" 2>"$T/log.err" ||
        { fail "log $*: $(cat "$T/log.err")"; return 1; }
    python3 -c '
import json, sys
print(" ".join(json.loads(l)["type"] for l in open(sys.argv[1])))
' "$T/log.json" >"$T/types"
}
log_is() {
    want=$1
    shift
    log_types "$@" || return
    got=$(cat "$T/types")
    [ "$got" = "$want" ] || fail "log $*: '$got', want '$want'"
}
log_is "create accept-preflight claim receipt claim receipt" alpha-2
log_is "claim claim" alpha-2 --type claim
log_is "create receipt receipt" alpha-2 --type create,receipt
log_is "claim receipt" alpha-2 --op 1
log_is "claim receipt" alpha-2 --op copy
log_is "receipt" alpha-2 --op copy --type receipt
log_is "create accept-preflight claim receipt claim receipt" alpha-2 --actor cli-test
log_is "" alpha-2 --actor someone-else
expect 2 "$C" log alpha-2 --type bogus && err_has "--type: unknown record type 'bogus'"
expect 2 "$C" log alpha-2 --op 7 && err_has "--op: run alpha-2 has no operation '7'"
expect 2 "$C" log alpha-2 --op nope && err_has "--op: run alpha-2 has no operation 'nope'"

# --- retry --all-failed ---------------------------------------------------
expect 2 "$C" retry --all-failed --reason x && err_has "--all-failed needs --plan"
expect 2 "$C" retry alpha-2 --plan alpha --op 1 --reason x &&
    err_has "--plan: only with --all-failed"
expect 2 "$C" retry --all-failed --plan alpha && err_has "--reason TEXT is required"
expect 2 "$C" retry --all-failed --plan alpha --op 1 --reason x
expect 2 "$C" retry --all-failed --plan alpha alpha-2 --reason x
expect 0 "$C" retry --all-failed --plan alpha --reason "disk replaced"
out_is "retried alpha-2 op #1 (copy)"
status_is alpha-2 's["counts"]["failed"] == 0 and s["next"]["seq"] == 1 and s["next"]["state"] == "ready"'
expect 0 "$C" log alpha-2 --type retry -o json
json_is "$T/out" 'j["reason"] == "disk replaced" and j["actor"] == "cli-test"'
expect 0 "$C" retry --all-failed --plan alpha --reason again
out_is "no run of plan alpha has a failed operation"
# A writer with a key cannot write to this unsigned journal (format 2: one
# key or none for the whole journal): every run's retry fails with its own
# line, nothing is written
expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
expect 2 "$C" retry --all-failed --plan gamma --reason "one by one" -o json --secret-key "$T/k.sec"
json_is "$T/out" '[(r["run_id"], r["retried"]) for r in j] == [("gamma-1", False), ("gamma-2", False)]'
err_has "retry gamma-1: op #0 (work): signing key does not match"
status_is gamma-1 's["counts"]["failed"] == 1'
status_is gamma-2 's["counts"]["failed"] == 1'
expect 0 "$C" retry gamma-2 --op 0 --reason "one by one"
status_is gamma-2 's["counts"]["ready"] == 1'
# finish alpha-2: the second attempt of copy, then start-db
expect 0 "$C" claim alpha-2 --op 1 --holder-pid $$
expect 0 "$C" complete alpha-2 --op 1
expect 0 "$C" claim alpha-2 --op 2 --holder-pid $$
expect 0 "$C" complete alpha-2 --op 2
status_is alpha-2 's["state"] == "completed"'

# --- stats -------------------------------------------------------------------
# alpha: 7 claims (1 retry), 7 outcomes, 1 failure; runs completed 2, running 1
# beta: 2 claims, 1 outcome (failed), 1 in doubt; cancelled 1, needs-attention 2
# gamma: 2 claims, 2 failures; failed 1, running 1 (retried)
# delta: nothing attempted; running 1, cancelled 1
expect 0 "$C" stats -o json
cp "$T/out" "$T/stats.json"
S="$T/stats.json"
json_is "$S" 'j["plans"]["alpha"]["runs"] == 3 and j["plans"]["alpha"]["states"]["completed"] == 2 and j["plans"]["alpha"]["states"]["running"] == 1'
json_is "$S" 'j["plans"]["alpha"]["attempts"] == 7 and j["plans"]["alpha"]["retries"] == 1 and j["plans"]["alpha"]["outcomes"] == 7 and j["plans"]["alpha"]["failures"] == 1'
json_is "$S" 'abs(j["plans"]["alpha"]["failure_rate"] - 1/7) < 1e-9 and abs(j["plans"]["alpha"]["retry_rate"] - 1/7) < 1e-9'
json_is "$S" '{k: v["count"] for k, v in j["plans"]["alpha"]["kinds"].items()} == {"stop": 2, "transfer": 3, "start": 2}'
json_is "$S" 'all(v["p50_ns"] <= v["p95_ns"] <= v["max_ns"] and v["max_ns"] <= v["sum_ns"] for p in j["plans"].values() for v in p["kinds"].values())'
json_is "$S" 'j["plans"]["beta"]["states"] == {"awaiting-preflight": 0, "running": 0, "completed": 0, "failed": 0, "needs-attention": 2, "timed-out": 0, "cancelled": 1}'
json_is "$S" 'j["plans"]["beta"]["attempts"] == 2 and j["plans"]["beta"]["outcomes"] == 1 and j["plans"]["beta"]["failures"] == 1 and j["plans"]["beta"]["failure_rate"] == 1.0'
json_is "$S" 'j["plans"]["beta"]["in_doubt_ops"] == 1 and j["plans"]["beta"]["in_doubt_runs"] == 1 and j["plans"]["beta"]["kinds"]["task"]["count"] == 1'
json_is "$S" 'j["plans"]["gamma"]["states"]["failed"] == 1 and j["plans"]["gamma"]["states"]["running"] == 1 and j["plans"]["gamma"]["failures"] == 2'
json_is "$S" 'j["plans"]["delta"]["attempts"] == 0 and j["plans"]["delta"]["failure_rate"] == 0 and j["plans"]["delta"]["kinds"] == {}'
json_is "$S" 'j["all"]["runs"] == 10 and j["all"]["attempts"] == 11 and j["all"]["retries"] == 1 and j["all"]["outcomes"] == 10 and j["all"]["failures"] == 4 and j["all"]["in_doubt_ops"] == 1'
json_is "$S" 'j["all"]["states"]["completed"] == 2 and j["all"]["states"]["cancelled"] == 2 and j["all"]["states"]["running"] == 3'
json_is "$S" 'j["all"]["kinds"]["task"]["count"] == 3 and j["all"]["kinds"]["transfer"]["count"] == 3'
json_is "$S" 'j["journal"]["runs"] == 10 and j["all"]["records"] == j["journal"]["records"] and j["journal"]["last_day_records"] == j["journal"]["records"]'
json_is "$S" 'j["journal"]["bytes"] > 0 and j["journal"]["bytes_per_day"] > 0 and j["all"]["record_bytes"] == sum(p["record_bytes"] for p in j["plans"].values())'
# filters apply to the runs counted
expect 0 "$C" stats -o json --plan beta --state needs-attention
json_is "$T/out" 'list(j["plans"]) == ["beta"] and j["all"]["runs"] == 2 and j["all"]["in_doubt_runs"] == 1'
expect 2 "$C" stats --state nope && err_has "--state: unknown run state 'nope'"
# text
expect 0 "$C" stats
CHECKS=$((CHECKS + 1))
grep -q '^plan alpha$' "$T/out" &&
    grep -q '^  runs        10: running 3 completed 2 failed 1 needs-attention 2 cancelled 2$' "$T/out" &&
    grep -q '^  attempts    11, retries 1 (9.1%), outcomes 10, failures 4 (40.0%)$' "$T/out" &&
    grep -q '^  in doubt    1 operation in 1 run$' "$T/out" &&
    grep -Eq '^  transfer +3 +[0-9.]+s +[0-9.]+s +[0-9.]+s$' "$T/out" ||
    fail "stats text: $(cat "$T/out")"

# --- stats --prom ------------------------------------------------------------
mkdir "$T/prom"
echo "old" >"$T/prom/cairn.prom"
expect 0 "$C" stats --prom "$T/prom/cairn.prom"
out_is ""
CHECKS=$((CHECKS + 1))
[ "$(ls -A "$T/prom")" = "cairn.prom" ] || fail "prom dir: $(ls -A "$T/prom")"
[ "$(stat -c %a "$T/prom/cairn.prom")" = 644 ] || fail "prom file mode"
# A strict reading of the text exposition format 0.0.4: prints the
# samples as JSON {"name{k=v,...}": value} (labels sorted), or fails.
cat >"$T/promcheck.py" <<'PY'
import json, math, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
assert text.endswith("\n"), "no final newline"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
types, helps, seen, done, values = {}, {}, [], set(), {}
def family(name):
    for suffix in ("_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "summary":
            return base
    return name
for n, line in enumerate(text.split("\n")[:-1], 1):
    assert line, "line %d empty" % n
    if line.startswith("#"):
        m = re.match(r"^# (HELP|TYPE) (%s) (.+)$" % NAME, line)
        assert m, "line %d: bad comment %r" % (n, line)
        kind, name, rest = m.groups()
        assert name.startswith("cairn_"), "line %d: %s" % (n, name)
        if kind == "TYPE":
            assert rest in ("counter", "gauge", "summary", "histogram", "untyped"), line
            assert name not in types and name not in done, "line %d: second TYPE" % n
            types[name] = rest
        else:
            assert name not in helps, "line %d: second HELP" % n
            helps[name] = rest
        continue
    m = SAMPLE.match(line)
    assert m, "line %d: bad sample %r" % (n, line)
    name, labels, value = m.group(1), m.group(3) or "", m.group(4)
    fam = family(name)
    assert fam in types and fam in helps, "line %d: %s has no TYPE/HELP" % (n, fam)
    if seen and seen[-1] != fam:
        done.add(seen[-1])
    assert fam not in done, "line %d: family %s is split" % (n, fam)
    seen.append(fam)
    pairs = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "line %d: repeated label" % n
    assert ("quantile" in keys) == (types[fam] == "summary" and name == fam), line
    key = name + "{" + ",".join("%s=%s" % p for p in sorted(pairs)) + "}"
    assert key not in values, "line %d: duplicate series" % n
    v = float(value)
    assert not math.isnan(v) and v >= 0, "line %d: value %s" % (n, value)
    values[key] = v
json.dump(values, sys.stdout)
PY
# prom_ok FILE: the checker accepts FILE; its samples go to $T/prom.json
prom_ok() {
    CHECKS=$((CHECKS + 1))
    python3 "$T/promcheck.py" "$1" >"$T/prom.json" 2>"$T/promcheck.err" ||
        fail "$1 rejected: $(tail -1 "$T/promcheck.err")"
}
# prom_bad FILE: the checker refuses FILE
prom_bad() {
    CHECKS=$((CHECKS + 1))
    python3 "$T/promcheck.py" "$1" >/dev/null 2>&1 && fail "checker accepts $1"
}
prom_ok "$T/prom/cairn.prom"
P="$T/prom.json"
json_is "$P" 'j["cairn_journal_runs{}"] == 10 and j["cairn_runs{plan=alpha,state=completed}"] == 2'
json_is "$P" 'j["cairn_runs{plan=beta,state=needs-attention}"] == 2 and j["cairn_runs{plan=delta,state=cancelled}"] == 1'
json_is "$P" 'j["cairn_operation_attempts{plan=alpha}"] == 7 and j["cairn_operation_retries{plan=alpha}"] == 1'
json_is "$P" 'j["cairn_operation_failures{plan=gamma}"] == 2 and j["cairn_in_doubt_operations{plan=beta}"] == 1'
json_is "$P" 'j["cairn_operation_duration_seconds_count{kind=transfer,plan=alpha}"] == 3'
json_is "$P" 'j["cairn_operation_duration_seconds{kind=transfer,plan=alpha,quantile=0.5}"] <= j["cairn_operation_duration_seconds{kind=transfer,plan=alpha,quantile=0.95}"] <= j["cairn_operation_duration_max_seconds{kind=transfer,plan=alpha}"]'
json_is "$P" '"cairn_run_last_completion_timestamp_seconds{plan=alpha}" in j and "cairn_run_last_completion_timestamp_seconds{plan=beta}" not in j'
# the checker is not one that accepts everything
sed 's/plan="alpha"/plan="al"pha"/' "$T/prom/cairn.prom" >"$T/bad1.prom"
prom_bad "$T/bad1.prom"
grep -v '^# TYPE cairn_runs ' "$T/prom/cairn.prom" >"$T/bad2.prom"
prom_bad "$T/bad2.prom"
sed 's/^\(cairn_journal_runs\) \(.*\)$/\1 \2 1700000000000/' "$T/prom/cairn.prom" >"$T/bad3.prom"
prom_bad "$T/bad3.prom"
{ cat "$T/prom/cairn.prom"; grep '^cairn_journal_runs ' "$T/prom/cairn.prom"; } >"$T/bad4.prom"
prom_bad "$T/bad4.prom"
PROMTOOL=${PROMTOOL:-$(command -v promtool || true)}
if [ -n "$PROMTOOL" ]; then
    CHECKS=$((CHECKS + 1))
    "$PROMTOOL" check metrics <"$T/prom/cairn.prom" >"$T/promtool.out" 2>&1 ||
        fail "promtool check metrics: $(cat "$T/promtool.out")"
else
    echo "$0: promtool not installed: checked by the script's own parser only"
fi
expect 0 "$C" stats --prom -
grep -q '^cairn_runs{plan="alpha",state="completed"} 2$' "$T/out" ||
    fail "stats --prom - on stdout"
# the file is replaced, not rewritten in place; a missing directory fails
# cleanly (exit 1) and names the file
INODE=$(stat -c %i "$T/prom/cairn.prom")
expect 0 "$C" stats --prom "$T/prom/cairn.prom"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %i "$T/prom/cairn.prom")" != "$INODE" ] || fail "prom file rewritten in place"
expect 1 "$C" stats --prom "$T/no-such-dir/cairn.prom" &&
    err_has "--prom $T/no-such-dir/cairn.prom: writing"
expect 2 "$C" stats --prom ""

finish
