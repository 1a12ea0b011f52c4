#!/bin/sh
# report_html.sh - `cairn report --html`: a real run (a stop/start pair, a
# retry, a terminal failure) and a run driven by the primitives (an
# in-doubt window that was resolved, one still open, a target still
# down) are written as one HTML page each, rendered by headless Chromium
# (Debian package chromium), and the figures in the rendered DOM are
# compared with `status -o json`, `show -o json`, `verify --json` and the
# downtime computed here from `log -o json` by the definition in
# cairn(1).  Text from the journal (a stderr with <script>, a reason
# with <img onerror>) must come out as text.  Chromium also takes a
# screenshot; with CAIRN_REPORT_PNG=FILE it is copied there (that is how
# docs/report.png is made).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

command -v chromium >/dev/null 2>&1 || {
    echo "$0: chromium is missing: install the Debian package chromium ('make deps')" >&2
    exit 1
}

# Chromium keeps its profile, caches and crash reports under $T.
mkdir -p "$T/home"
CHROMIUM="env HOME=$T/home XDG_CONFIG_HOME=$T/home XDG_CACHE_HOME=$T/home chromium"

# render HTML OUT.dom [OUT.png]: the DOM Chromium builds from HTML.
render() {
    CHECKS=$((CHECKS + 1))
    timeout 300 $CHROMIUM --headless --disable-gpu --no-sandbox \
        --user-data-dir="$T/chromium" --dump-dom "file://$1" \
        >"$2" 2>"$T/chromium.err"
    rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q '</html>' "$2"; then
        fail "chromium --dump-dom $1 failed (exit $rc)"
        tail -n 5 "$T/chromium.err" >&2
        return 1
    fi
    [ $# -lt 3 ] && return 0
    CHECKS=$((CHECKS + 1))
    timeout 300 $CHROMIUM --headless --disable-gpu --no-sandbox \
        --user-data-dir="$T/chromium" --hide-scrollbars \
        --window-size=1000,820 --screenshot="$3" "file://$1" \
        >/dev/null 2>"$T/chromium.err"
    head -c 8 "$3" 2>/dev/null | od -An -tx1 | tr -d ' \n' |
        grep -q '^89504e470d0a1a0a$' || fail "chromium --screenshot: no PNG in $3"
}

# The checker: the rendered DOM (argv[1]) against the JSON documents
# collected for each run in $T/runs/RUN.{status,show,log,verify}.json;
# argv[2] is the expected label of the verdict, argv[3] the run ids in
# the page's order.
cat >"$T/check.py" <<'PY'
import json, sys
from html.parser import HTMLParser

dom, label, want_runs, d = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.runs, self.tags, self.text, self.title, self.intitle = [], [], [], "", False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "title":
            self.intitle = True
        c = a.get("class", "").split()
        if tag == "section" and "run" in c:
            self.runs.append({"attrs": a, "ops": [], "down": [], "doubt": [],
                              "attempts": [], "verdict": None})
        elif self.runs:
            r = self.runs[-1]
            if tag == "tr" and "op" in c: r["ops"].append(a)
            if tag == "tr" and "down" in c: r["down"].append(a)
            if tag == "tr" and "in-doubt" in c: r["doubt"].append(a)
            if tag == "tr" and "attempt" in c: r["attempts"].append(a)
            if tag == "div" and "verdict" in c: r["verdict"] = a
    def handle_endtag(self, tag):
        if tag == "title":
            self.intitle = False
    def handle_data(self, data):
        self.text.append(data)
        if self.intitle:
            self.title += data

p = P()
p.feed(open(dom, encoding="utf-8").read())
bad = []
def check(ok, what):
    if not ok:
        bad.append(what)

# Nothing from the journal became markup; it shows as text.
names = [t for t, _ in p.tags]
check("script" not in names, "a <script> element in the DOM")
check("img" not in names, "an <img> element in the DOM")
check(not any(k.startswith("on") for _, a in p.tags for k in a), "an on* attribute")
check("PWNED" not in p.title, "the title was changed: " + p.title)
text = "".join(p.text)
check([r["attrs"]["data-run-id"] for r in p.runs] == want_runs,
      "runs %s, want %s" % ([r["attrs"]["data-run-id"] for r in p.runs], want_runs))

def dur(a, b):
    if a["boot_id"] == b["boot_id"]:
        return max(0, b["mono_ns"] - a["mono_ns"])
    return max(0, b["wall_ns"] - a["wall_ns"])

def downtimes(show, log):
    """cairn(1), cairn report: from the claim of the stop's first attempt to the
    record that settled the paired start completed; open: to the last."""
    ops = show["ops"]
    claims, done = {}, {}
    for r in log:
        if r["type"] == "claim":
            claims.setdefault(r["op"], r)
        if r["type"] in ("receipt", "resolve") and r["outcome"] == "completed":
            done.setdefault(r["op"], r)
    out = []
    for o in ops:
        if o["kind"] != "stop" or o["seq"] not in done:
            continue
        start = next(x for x in ops if x["seq"] > o["seq"] and
                     x["kind"] == "start" and x["target"] == o["target"])
        end = done.get(start["seq"], log[-1])
        out.append({"data-target": o["target"], "data-stop-seq": str(o["seq"]),
                    "data-start-seq": str(start["seq"]),
                    "data-open": "0" if start["seq"] in done else "1",
                    "data-downtime-ms": str(dur(claims[o["seq"]], end) // 1000000)})
    return out

for r in p.runs:
    rid = r["attrs"]["data-run-id"]
    st = json.load(open("%s/%s.status.json" % (d, rid)))
    show = json.load(open("%s/%s.show.json" % (d, rid)))
    log = [json.loads(l) for l in open("%s/%s.log.json" % (d, rid))]
    ver = json.load(open("%s/%s.verify.json" % (d, rid)))
    check(r["attrs"]["data-state"] == st["state"], "%s: state" % rid)
    check(r["attrs"]["data-records"] == str(st["records"]), "%s: records" % rid)
    got = [(o["data-seq"], o["data-id"], o["data-state"], o["data-attempts"],
            o["data-retries"], o["data-in-doubt"]) for o in r["ops"]]
    want = [(str(o["seq"]), o["id"], o["state"], str(o["attempt"]),
             str(max(0, o["attempt"] - 1)), "1" if o["in_doubt"] else "0")
            for o in show["ops"]]
    check(got == want, "%s: ops %s, want %s" % (rid, got, want))
    counts = {}
    for o in r["ops"]:
        counts[o["data-state"]] = counts.get(o["data-state"], 0) + 1
    check(all(counts.get(k, 0) == v for k, v in st["counts"].items()),
          "%s: counts %s, want %s" % (rid, counts, st["counts"]))
    # every claim is an attempt row, settled as the log says
    claims = [x for x in log if x["type"] == "claim"]
    check(len(r["attempts"]) == len(claims), "%s: %d attempt rows, %d claims"
          % (rid, len(r["attempts"]), len(claims)))
    for x in log:
        if x["type"] in ("receipt", "resolve"):
            row = [a for a in r["attempts"] if a["data-seq"] == str(x["op"])
                   and a["data-attempt"] == str(x["attempt"])]
            check(len(row) == 1 and row[0]["data-outcome"] == x["outcome"] and
                  row[0]["data-resolved"] == ("1" if x["type"] == "resolve" else "0"),
                  "%s: attempt %s/%s: %s" % (rid, x["op"], x["attempt"], row))
    got = [{k: v for k, v in a.items() if k.startswith("data-")} for a in r["down"]]
    want = downtimes(show, log)
    check(got == want, "%s: downtime %s, want %s" % (rid, got, want))
    check(sorted(a["data-target"] for a in r["down"] if a["data-open"] == "1")
          == sorted(st["restart_targets"]), "%s: open downtime vs restart_targets" % rid)
    resolved = sorted((str(x["op"]), str(x["attempt"])) for x in log if x["type"] == "resolve")
    got = sorted((a["data-seq"], a["data-attempt"]) for a in r["doubt"] if a["data-open"] == "0")
    check(got == resolved, "%s: closed in-doubt windows %s, want %s" % (rid, got, resolved))
    got = sorted(int(a["data-seq"]) for a in r["doubt"] if a["data-open"] == "1")
    check(got == sorted(st["in_doubt"]), "%s: open in-doubt %s, want %s" % (rid, got, st["in_doubt"]))
    v = r["verdict"] or {}
    check(v.get("data-verdict") == ver["verdict"], "%s: verdict %s, want %s"
          % (rid, v.get("data-verdict"), ver["verdict"]))
    check(v.get("data-label") == label, "%s: label %s, want %s" % (rid, v.get("data-label"), label))
    check(v.get("data-key-id") == (st["key_id"] or ""), "%s: key id" % rid)
    check(("Signature: " + label) in text, "%s: no 'Signature: %s' text" % (rid, label))
    if label != "VERIFIED":
        check("Signature: VERIFIED" not in text, "%s: says VERIFIED" % rid)

for b in bad:
    print("report DOM: " + b)
sys.exit(1 if bad else 0)
PY

mkdir -p "$T/runs" "$T/site"
# collect RUN [KEY]: the JSON documents the checker compares with.
collect() {
    "$C" status "$1" -o json >"$T/runs/$1.status.json" 2>/dev/null &&
        "$C" show "$1" -o json >"$T/runs/$1.show.json" &&
        "$C" log "$1" -o json >"$T/runs/$1.log.json" || fail "collect $1"
    if [ $# -gt 1 ]; then
        "$C" verify "$1" --key "$2" -o json >"$T/runs/$1.verify.json"
    else
        "$C" verify "$1" -o json >"$T/runs/$1.verify.json"
    fi
}
# dom_ok DOM LABEL RUN...: the checker passes.
dom_ok() {
    CHECKS=$((CHECKS + 1))
    dom=$1 label=$2
    shift 2
    python3 "$T/check.py" "$dom" "$label" "$*" "$T/runs" >&2 ||
        fail "$dom does not match the journal"
}

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "nightly",
 "operations": [
   {"id": "check", "kind": "preflight", "run": ["true"]},
   {"id": "stop-db", "kind": "stop", "target": "db", "run": ["sh", "-c", "sleep 0.2"]},
   {"id": "snapshot-db", "kind": "snapshot", "target": "db",
    "run": ["sh", "-c", "if [ ! -e once ]; then : >once; echo 'lock busy' >&2; exit 75; fi; sleep 0.1"],
    "retry": {"attempts": 3, "backoff": "10ms", "exit_codes": [75]}},
   {"id": "start-db", "kind": "start", "target": "db", "run": ["sh", "-c", "sleep 0.1"]},
   {"id": "upload", "kind": "transfer",
    "run": ["sh", "-c", "echo '<script>document.title=\"PWNED\"</script>' >&2; echo 'upload: connection refused' >&2; exit 3"]},
   {"id": "tidy", "kind": "cleanup", "run": ["true"]}
 ]}
JSON

# 1. A real run: stop, a retried snapshot, start, a terminal failure.
cd "$T/site" || exit 1
expect 1 "$C" run "$T/plan.json" --secret-key "$T/k.sec" -q
R1=$(head -n 1 "$T/out")
cd "$T" || exit 1
status_is "$R1" 's["state"] == "failed" and s["counts"]["completed"] == 5'
expect 0 "$C" show "$R1" -o json
json_is "$T/out" '[o["attempt"] for o in j["ops"]] == [1, 1, 2, 1, 1, 1]'
collect "$R1" "$T/k.pub"
umask 022
expect 0 "$C" report "$R1" --html "$T/one.html" --key "$T/k.pub"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a "$T/one.html")" = 644 ] || fail "page mode $(stat -c %a "$T/one.html")"
render "$T/one.html" "$T/one.dom" "$T/report.png" && dom_ok "$T/one.dom" VERIFIED "$R1"
CHECKS=$((CHECKS + 1))
grep -q '&lt;script&gt;document.title' "$T/one.dom" ||
    fail "the stderr tail is not shown as text"
grep -q 'stopped at.*#4 upload failed (terminal): exit status 3' "$T/one.dom" ||
    fail "the page does not say why the run stopped"
if [ -n "${CAIRN_REPORT_PNG:-}" ]; then
    cp "$T/report.png" "$CAIRN_REPORT_PNG" || fail "cp $CAIRN_REPORT_PNG"
fi

# Without --key the page never says VERIFIED.
expect 0 "$C" report "$R1" --html "$T/nokey.html"
collect "$R1"
render "$T/nokey.html" "$T/nokey.dom" && dom_ok "$T/nokey.dom" "NOT VERIFIED" "$R1"

# 2. The same plan through the primitives: an in-doubt snapshot that an
#    operator resolved, a start still in doubt (db still down), and a
#    hostile reason and evidence.
sed 's/"plan_id": "nightly",/"plan_id": "nightly", "run_id": "nightly-manual",/' \
    "$T/plan.json" >"$T/plan2.json"
R2=nightly-manual
K="--secret-key $T/k.sec"
sleep 600 &
dead=$!
kill "$dead"
wait "$dead" 2>/dev/null
expect 0 "$C" create "$T/plan2.json" $K && out_is "$R2"
expect 0 "$C" claim "$R2" --holder-pid $$ $K
expect 0 "$C" complete "$R2" --op 0 $K
expect 0 "$C" accept-preflight "$R2" --id pf $K
expect 0 "$C" claim "$R2" --holder-pid $$ $K
expect 0 "$C" fail "$R2" --op 1 --class retryable $K \
    --reason '<img src=x onerror="document.title=1">' \
    --evidence 'stderr_tail=<script>document.title="PWNED"</script>'
expect 0 "$C" claim "$R2" --holder-pid $$ $K && out_is 1
expect 0 "$C" complete "$R2" --op 1 $K
expect 0 "$C" claim "$R2" --holder-pid "$dead" $K && out_is 2
expect 0 "$C" resolve "$R2" --op 2 --outcome completed --reason "snapshot found" $K
expect 0 "$C" claim "$R2" --holder-pid "$dead" $K && out_is 3
status_is "$R2" 's["in_doubt"] == [3] and s["restart_targets"] == ["db"]'
collect "$R2" "$T/k.pub"
expect 0 "$C" report "$R2" --html "$T/two.html" --key "$T/k.pub"
render "$T/two.html" "$T/two.dom" && dom_ok "$T/two.dom" VERIFIED "$R2"
CHECKS=$((CHECKS + 1))
grep -q '&lt;img src=x onerror=' "$T/two.dom" || fail "the reason is not shown as text"

# 3. The plan's last runs, newest first; the file is replaced atomically.
collect "$R1" "$T/k.pub"
echo old >"$T/plan.html"
expect 0 "$C" report --plan nightly --last 2 --html "$T/plan.html" --key "$T/k.pub"
render "$T/plan.html" "$T/plan.dom" && dom_ok "$T/plan.dom" VERIFIED "$R2 $R1"
# (the same page again, from the default --last; --last 1 to stdout)
expect 0 "$C" report --plan nightly --html "$T/plan2.html" --key "$T/k.pub"
CHECKS=$((CHECKS + 1))
[ "$(grep -c '<section class="run"' "$T/plan2.html")" -eq 2 ] ||
    fail "--plan without --last: not 2 runs"
expect 0 "$C" report --plan nightly --last 1 --html - --key "$T/k.pub"
CHECKS=$((CHECKS + 1))
[ "$(grep -c '<section class="run" data-run-id="nightly-manual"' "$T/out")" -eq 1 ] &&
    [ "$(grep -c '<section class="run"' "$T/out")" -eq 1 ] ||
    fail "--last 1: not only the newest run"
CHECKS=$((CHECKS + 1))
ls "$T" | grep -q '\.tmp-' && fail "a temporary file was left: $(ls "$T")"

# 4. An unsigned run: UNSIGNED, verdict INCOMPLETE, even with a key.
rm -f "$T/site/once"
export CAIRN_DIR="$T/unsigned"
cd "$T/site" || exit 1
expect 1 "$C" run "$T/plan.json" -q
R3=$(head -n 1 "$T/out")
cd "$T" || exit 1
collect "$R3" "$T/k.pub"
expect 0 "$C" report "$R3" --html "$T/unsigned.html" --key "$T/k.pub"
render "$T/unsigned.html" "$T/unsigned.dom" &&
    dom_ok "$T/unsigned.dom" UNSIGNED "$R3"
json_is "$T/runs/$R3.verify.json" 'j["verdict"] == "INCOMPLETE"'

# 5. Help, errors: exit codes and nothing written.
expect 0 "$C" report --help && grep -q 'usage: cairn report RUN --html FILE' "$T/out" ||
    fail "report --help"
expect 0 "$C" help && grep -q '^  report ' "$T/out" || fail "help lists no report"
expect 2 "$C" report "$R3"
err_has "--html FILE is required"
expect 2 "$C" report "$R3" --last 2 --html "$T/x.html"
err_has "--last goes with --plan"
expect 2 "$C" report --plan nightly --last 0 --html "$T/x.html"
expect 2 "$C" report no-such-run --html "$T/x.html"
err_has "no such run"
expect 2 "$C" report --plan no-such-plan --html "$T/x.html"
err_has "no run of this plan"
expect 1 "$C" report "$R3" --html "$T/no/such/dir/x.html"
err_has "$T/no/such/dir/x.html"
expect 2 "$C" report "$R3" --html "$T/x.html" --key "$T/plan.json"
CHECKS=$((CHECKS + 1))
[ -e "$T/x.html" ] && fail "a page was written after an error"
finish
