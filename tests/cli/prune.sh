#!/bin/sh
# prune.sh - `cairn prune`: each rule (keep-last per plan, keep-within,
# keep-failed-within, state, max-journal-size, plan scope), runs that are
# never pruned (running, in doubt, held) with their reasons, an empty
# policy refused, the dry run equal to what is executed, --confirm with a
# wrong or stale hash refused (exit 3, nothing done), the archived bundles
# verified and tied to their tombstones (zstd bundles with --zstd, whose
# setting is part of the plan's hash), `verify --all` VERIFIED after a
# prune, a rerun a no-op, a copy that fails kept, two prunes excluded, and
# the crash tests: a SIGKILL after each phase (the bundle's temporary
# file written, the bundle renamed, its .minisig renamed, the copy
# verified, the prune transaction) leaves a journal that verifies, each
# run intact or pruned with a valid bundle, and a rerun finishes the job.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
TESTPID=$$
SHIM="$(dirname "$CAIRN")/tests/shims/killrename.so"
[ -f "$SHIM" ] || {
    echo "prune.sh: $SHIM is missing (make test builds it)" >&2
    exit 1
}

expect 0 "$C" keygen -p "$T/pub" -s "$T/sec" --no-password
export CAIRN_SECRET_KEY="$T/sec"
A="$T/archive"
mkdir -p "$A"

# mk RUN PLAN ok|fail|cancel|running|doubt: a run of one operation.
mk() {
    printf '{"cairn_plan": 1, "plan_id": "%s", "run_id": "%s",
 "operations": [{"id": "op", "kind": "task"}]}\n' "$2" "$1" >"$T/p.json"
    expect 0 "$C" create "$T/p.json" || return 1
    [ "$3" = cancel ] || expect 0 "$C" accept-preflight "$1" --id pf
    case $3 in
    ok)
        expect 0 "$C" claim "$1" --holder-pid $TESTPID &&
            expect 0 "$C" complete "$1" --op 0
        ;;
    fail)
        expect 0 "$C" claim "$1" --holder-pid $TESTPID &&
            expect 0 "$C" fail "$1" --op 0 --reason broken
        ;;
    cancel) expect 0 "$C" cancel "$1" --reason stop ;;
    running) expect 0 "$C" claim "$1" --holder-pid $TESTPID ;;
    doubt) expect 0 "$C" claim "$1" --holder-pid "$DEAD" ;;
    esac
}
sh -c 'echo $$' >"$T/dead.pid"
DEAD=$(cat "$T/dead.pid")

# plan_runs FILE: the run ids of the prune plan in a JSON result.
plan_runs() {
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(r["run_id"] for r in j["plan"]["runs"]))' "$1"
}
runs_is() {
    CHECKS=$((CHECKS + 1))
    got=$(plan_runs "$T/out")
    [ "$got" = "$1" ] || fail "plan runs '$got', want '$1'"
}
hash_of() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan_sha256"])' "$1"
}
P() { "$C" prune --archive "$A" --reason "test retention" "$@"; }

# ---- refusals ----------------------------------------------------------
mk a1 A ok
expect 2 P --dry-run && err_has "refusing an empty policy"
expect 2 P --dry-run --plan A && err_has "refusing an empty policy"
expect 2 "$C" prune --reason x --keep-last 1 --dry-run && err_has "--archive DIR is required"
expect 2 "$C" prune --archive "$A" --keep-last 1 --dry-run && err_has "--reason TEXT is required"
expect 2 P --state running --dry-run && err_has "only ended runs"
expect 2 P --keep-within 0s --dry-run && err_has "not a duration above zero"
expect 2 P --max-journal-size 12X --dry-run && err_has "not a size"
expect 2 P --keep-last 1 --dry-run --confirm "$(printf '%064d' 0)"
expect 2 P --keep-last 1 --confirm abc && err_has "not a plan SHA-256"
expect 2 "$C" prune --archive "$T/nope" --reason x --keep-last 1 --dry-run
unset CAIRN_SECRET_KEY
expect 2 P --keep-last 1 && err_has "needs the journal's secret key"
export CAIRN_SECRET_KEY="$T/sec"

# ---- keep-last per plan, dry run equal to the execution -----------------
for i in 2 3 4; do mk a$i A ok; done
mk b1 B ok
mk b2 B fail
mk r1 A running
mk d1 B doubt
expect 0 P --keep-last 2 --dry-run -o json
runs_is "a1 a2"
H=$(hash_of "$T/out")
cp "$T/out" "$T/dry.json"
json_is "$T/out" '[r["why"] for r in j["runs"] if r["run_id"] in ("a3","a4","b1","b2")] == ["keep-last 2: newest 2 of its plan", "keep-last 2: newest 1 of its plan", "keep-last 2: newest 2 of its plan", "keep-last 2: newest 1 of its plan"]'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["r1"] == "not ended: state running"'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["d1"] == "in doubt: 1 operation(s), state needs-attention"'
json_is "$T/out" 'j["plan"]["runs"][0]["rule"] == "beyond keep-last 2" and j["plan"]["runs"][0]["records"] == 4 and j["plan"]["runs"][0]["positions"] == [[1, 4]] and j["plan"]["runs"][1]["positions"] == [[5, 4]]'
json_is "$T/out" 'j["plan"]["runs"][0]["bundle"].endswith("/" + j["plan"]["journal_id"] + "/a1.cairn")'
# The hash is SHA-256 over the plan's compact JSON.
python3 -c '
import hashlib, json, sys
j = json.load(open(sys.argv[1]))
text = json.dumps(j["plan"], separators=(",", ":"), ensure_ascii=False)
sys.exit(0 if hashlib.sha256(text.encode()).hexdigest() == j["plan_sha256"] else 1)' "$T/out" ||
    fail "plan_sha256 is not SHA-256 of the plan's compact JSON"
expect 0 P --keep-last 2 --dry-run
grep -q "^plan sha256   : $H\$" "$T/out" || fail "text dry run: another hash"
grep -q "^not-prunable  r1 .*not ended: state running" "$T/out" || fail "text: r1 reason"
[ -z "$(ls "$A")" ] || fail "a dry run wrote into the archive"

# A wrong hash, then a stale one: exit 3, nothing done.
expect 3 P --keep-last 2 --confirm "$(printf '%064d' 0)" &&
    err_has "the prune plan changed since the dry run"
mk a5 A ok
expect 3 P --keep-last 2 --confirm "$H" && err_has "the prune plan changed since the dry run"
status_is a3 's["state"] == "completed"'
[ -z "$(ls "$A"/*/ 2>/dev/null)" ] || fail "a refused confirm archived something"
expect 0 P --keep-last 2 --dry-run -o json
runs_is "a1 a2 a3"
H=$(hash_of "$T/out")
cp "$T/out" "$T/dry.json"
expect 0 P --keep-last 2 --confirm "$H" -o json
json_is "$T/out" 'j["plan_sha256"] == "'"$H"'" and j["pruned"] == 3 and j["skipped"] == 0'
json_is "$T/out" '[r["run_id"] for r in j["runs"] if r["action"] == "pruned"] == ["a1", "a2", "a3"]'
JID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["journal_id"])' "$T/out")
for r in a1 a2 a3; do
    expect 0 "$C" verify-bundle "$A/$JID/$r.cairn" --key "$T/pub"
    grep -q '^verdict     : VERIFIED' "$T/out" || fail "$r: bundle not VERIFIED"
    expect 0 "$C" verify-bundle "$A/$JID/$r.cairn" --key "$T/pub" -J "$CAIRN_DIR"
done
expect 0 "$C" verify --all --key "$T/pub"
cp "$T/out" "$T/verify.txt"
for r in a4 a5 b1 b2; do status_is $r 's["state"] in ("completed", "failed")'; done
# A rerun is a no-op: nothing selected, the bundles untouched.
sum1=$(cat "$A/$JID"/*.cairn | cksum)
expect 0 P --keep-last 2 -o json
json_is "$T/out" 'j["plan"]["runs"] == [] and j["pruned"] == 0'
json_is "$T/out" '[r["run_id"] for r in j["runs"] if r["action"] == "pruned-before"] == ["a1", "a2", "a3"]'
[ "$(cat "$A/$JID"/*.cairn | cksum)" = "$sum1" ] || fail "a rerun changed a bundle"

# ---- keep-within, keep-failed-within, state (ages from a test clock) ----
export CAIRN_DIR="$T/j2"
mk o-ok X ok
mk o-fail X fail
mk o-cancel X cancel
sleep 1
T1=$(python3 -c 'import time; print(time.time_ns())')
sleep 1
mk n-ok X ok
mk n-fail X fail
# A hold put on an old run and released after T1 is no progress: the run
# keeps its age (its `updated` stays the time of its last other record).
expect 0 "$C" status o-ok -o json && cp "$T/out" "$T/o-ok.before"
expect 0 "$C" hold o-ok --reason "audit"
expect 0 "$C" release o-ok --reason "audit done"
expect 0 "$C" status o-ok -o json
json_is "$T/out" 'j["updated"] == json.load(open("'"$T/o-ok.before"'"))["updated"] and not j["held"]'
DAY=86400000000000
export CAIRN_TEST_PRUNE_NOW=$((T1 + 10 * DAY))
expect 0 P --keep-within 10d --dry-run -o json
runs_is "o-ok o-fail o-cancel"
json_is "$T/out" 'j["plan"]["runs"][0]["rule"] == "older than keep-within 10d"'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["n-ok"].startswith("keep-within 10d: ended ")'
expect 0 P --keep-within 10d --keep-failed-within 20d --dry-run -o json
runs_is "o-ok o-cancel"
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["o-fail"].startswith("keep-failed-within 20d")'
expect 0 P --keep-within 1d --keep-failed-within 10d --dry-run -o json
runs_is "o-ok o-fail o-cancel n-ok"
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["n-fail"].startswith("keep-failed-within 10d")'
expect 0 P --state failed --dry-run -o json
runs_is "o-fail n-fail"
json_is "$T/out" 'j["plan"]["runs"][0]["rule"] == "state failed"'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["o-ok"] == "state completed not selected (--state)"'
expect 0 P --state failed,cancelled --keep-within 10d --dry-run -o json
runs_is "o-fail o-cancel"
expect 0 P --state failed --plan Y --dry-run -o json
runs_is ""
json_is "$T/out" 'all(r["action"] == "out-of-scope" for r in j["runs"])'
expect 0 P --state failed --keep-within 10d -o json
json_is "$T/out" 'j["pruned"] == 1'
unset CAIRN_TEST_PRUNE_NOW
expect 0 "$C" verify --all --key "$T/pub"

# ---- held runs are never pruned; a hold after the dry run changes the plan
export CAIRN_DIR="$T/j4"
mk h1 H ok
mk h2 H ok
expect 0 "$C" hold h1 --reason "legal hold"
expect 0 P --state completed --dry-run -o json
runs_is "h2"
json_is "$T/out" '{r["run_id"]: r["action"] for r in j["runs"]}["h1"] == "not-prunable"'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["h1"].startswith("held")'
expect 0 P --state completed --dry-run
grep -q "^not-prunable  h1 .*held" "$T/out" || fail "text: h1 not said held"
expect 0 "$C" release h1 --reason "case closed"
expect 0 P --state completed --dry-run -o json
runs_is "h1 h2"
H=$(hash_of "$T/out")
expect 0 "$C" hold h2 --reason "new case"
expect 3 P --state completed --confirm "$H" && err_has "the prune plan changed since the dry run"
status_is h1 's["state"] == "completed"'
expect 0 P --state completed -o json
json_is "$T/out" '[r["run_id"] for r in j["runs"] if r["action"] == "pruned"] == ["h1"]'
expect 0 "$C" verify --all --key "$T/pub"

# ---- max-journal-size: oldest first until the record bytes are under it -
export CAIRN_DIR="$T/j3"
for i in 1 2 3 4; do mk s$i S ok; done
expect 0 P --max-journal-size 0 --dry-run -o json
runs_is "s1 s2 s3 s4"
TOTAL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record_bytes"])' "$T/out")
B1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["runs"][0]["bytes"])' "$T/out")
expect 0 P --max-journal-size "$TOTAL" --dry-run -o json
runs_is ""
expect 0 P --max-journal-size $((TOTAL - B1)) --dry-run -o json
runs_is "s1"
expect 0 P --max-journal-size $((TOTAL - B1 - 1)) --dry-run -o json
runs_is "s1 s2"
json_is "$T/out" 'j["plan"]["runs"][1]["rule"] == "oldest first for max-journal-size '$((TOTAL - B1 - 1))'"'
json_is "$T/out" '{r["run_id"]: r["why"] for r in j["runs"]}["s3"].startswith("max-journal-size")'
expect 0 P --max-journal-size 1K --keep-last 3 --dry-run -o json
runs_is "s1"
JID3=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["journal_id"])' "$T/out")
expect 0 P --max-journal-size 1K --keep-last 3 --dry-run
grep -q "STILL OVER" "$T/out" || fail "the size line does not say the journal stays over"

# ---- a copy that does not verify keeps its run; two prunes exclude -------
mkdir -p "$A/$JID3"
echo garbage >"$A/$JID3/s1.cairn"
echo garbage >"$A/$JID3/s1.cairn.minisig"
expect 1 P --keep-last 3
grep -q "^SKIPPED  *s1 " "$T/out" || fail "s1 not SKIPPED: $(cat "$T/out")"
grep -q "the archived copy does not verify" "$T/out" || fail "no reason for s1"
err_has "1 run(s) kept because"
[ "$(cat "$A/$JID3/s1.cairn")" = garbage ] || fail "a bundle was overwritten"
status_is s1 's["state"] == "completed"'
rm -f "$A/$JID3/s1.cairn" "$A/$JID3/s1.cairn.minisig"
# Another prune holds the archive lock: exit 5, nothing done.
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(120)' "$A/$JID3/.prune.lock" "$T/locked" &
LOCKER=$!
i=0
while [ ! -e "$T/locked" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
expect 5 P --keep-last 3 && err_has "another prune of this journal is running"
kill $LOCKER
wait $LOCKER 2>/dev/null
status_is s1 's["state"] == "completed"'
# A lock planted as a symbolic link is refused, and its target untouched.
mv "$A/$JID3/.prune.lock" "$T/lock.saved"
: >"$T/elsewhere"
ln -s "$T/elsewhere" "$A/$JID3/.prune.lock"
expect 1 P --keep-last 3 && err_has "a symbolic link, not the lock file"
[ ! -s "$T/elsewhere" ] || fail "the lock's link target was written"
status_is s1 's["state"] == "completed"'
rm -f "$A/$JID3/.prune.lock"
mv "$T/lock.saved" "$A/$JID3/.prune.lock"
expect 0 P --keep-last 3
expect 0 "$C" verify --all --key "$T/pub"

# ---- --zstd: archives are zstd bundles, tied to their tombstones --------
export CAIRN_DIR="$T/j5"
mk z1 Z ok
mk z2 Z fail
expect 0 P --state completed,failed --dry-run -o json
HPLAIN=$(hash_of "$T/out")
json_is "$T/out" 'j["plan"]["zstd"] is False and j["plan"]["runs"][0]["bundle"].endswith("/z1.cairn")'
expect 0 P --state completed,failed --zstd --dry-run -o json
HZ=$(hash_of "$T/out")
JID5=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"]["journal_id"])' "$T/out")
json_is "$T/out" 'j["plan"]["zstd"] is True and [r["bundle"].rsplit("/", 1)[1] for r in j["plan"]["runs"]] == ["z1.cairn.zst", "z2.cairn.zst"]'
CHECKS=$((CHECKS + 1))
[ "$HZ" != "$HPLAIN" ] || fail "--zstd does not change the plan's hash"
expect 0 P --state completed,failed --zstd --dry-run
grep -q "^archive       : $A/$JID5 (zstd bundles)\$" "$T/out" || fail "text: no zstd on the archive line"
# A confirm with another --zstd setting than its dry run: exit 3, nothing.
expect 3 P --state completed,failed --confirm "$HZ" &&
    err_has "the prune plan changed since the dry run"
expect 3 P --state completed,failed --zstd --confirm "$HPLAIN" &&
    err_has "the prune plan changed since the dry run"
status_is z1 's["state"] == "completed"'
[ -z "$(ls "$A/$JID5" 2>/dev/null)" ] || fail "a refused confirm archived something"
# Killed after the export: the rerun reuses the zstd copy.
CHECKS=$((CHECKS + 1))
CAIRN_TEST_PRUNE_KILL_AT=export P --state completed,failed --zstd --confirm "$HZ" \
    >"$T/out" 2>"$T/err"
[ $? -eq 137 ] || fail "prune --zstd killed after the export: not SIGKILLed"
status_is z1 's["state"] == "completed"'
expect 0 P --state completed,failed --zstd --confirm "$HZ" -o json
json_is "$T/out" 'j["pruned"] == 2 and j["skipped"] == 0'
json_is "$T/out" '{r["run_id"]: r["note"] for r in j["runs"]}["z1"] == "bundle reused"'
for r in z1 z2; do
    f="$A/$JID5/$r.cairn.zst"
    CHECKS=$((CHECKS + 1))
    python3 -c 'import sys; sys.exit(open(sys.argv[1], "rb").read(4) != b"\x28\xb5\x2f\xfd")' "$f" ||
        fail "$r: the archive is not a zstd frame"
    expect 0 "$C" verify-bundle "$f" --key "$T/pub"
    grep -q '^version     : 2 (zstd: [0-9]* bytes stored, [0-9]* decompressed)$' "$T/out" ||
        fail "$r: verify-bundle does not see zstd"
    expect 0 "$C" verify-bundle "$f" --key "$T/pub" -J "$CAIRN_DIR"
    grep -q "archived copy of pruned run $r" "$T/out" || fail "$r: not tied to its tombstone"
    # The tombstone records the stored (compressed) file.
    sum=$(sha256sum "$f" | cut -d' ' -f1)
    size=$(wc -c <"$f")
    expect 0 "$C" status "$r" -o json
    json_is "$T/out" 'j["tombstone"]["bundle_sha256"] == "'"$sum"'" and j["tombstone"]["bundle_bytes"] == '"$size"' and j["tombstone"]["location"].endswith("/'"$r"'.cairn.zst")'
done
expect 0 "$C" verify --all --key "$T/pub"
# The same bundle decompressed is not the archived file: its hash is not
# the tombstone's (TAMPERED, exit 4), though its records are the run's.
if command -v zstd >/dev/null 2>&1; then
    expect 0 zstd -q -d "$A/$JID5/z1.cairn.zst" -o "$T/z1.plain"
    expect 0 "$C" verify-bundle "$T/z1.plain" --key "$T/pub" --no-signature
    expect 4 "$C" verify-bundle "$T/z1.plain" --key "$T/pub" --no-signature -J "$CAIRN_DIR"
    grep -q "bundle.sha256" "$T/out" || fail "a decompressed archive: not bundle.sha256: $(cat "$T/out")"
else
    fail "zstd is missing: install zstd ('make deps')"
fi
# A copy left in the archive must be what --zstd asks for: a plain bundle
# where a zstd one is expected is kept and reported, never pruned.
mk z3 Z ok
expect 0 "$C" export z3 --bundle "$A/$JID5/z3.cairn.zst"
expect 1 P --state completed --zstd
grep -q "^SKIPPED  *z3 " "$T/out" || fail "z3 not SKIPPED: $(cat "$T/out")"
grep -q "the archived copy is not compressed, --zstd asks for a zstd bundle" "$T/out" ||
    fail "no reason for z3: $(cat "$T/out")"
status_is z3 's["state"] == "completed"'
rm -f "$A/$JID5/z3.cairn.zst"*
expect 0 P --state completed --zstd -o json
json_is "$T/out" '[r["run_id"] for r in j["runs"] if r["action"] == "pruned"] == ["z3"]'
expect 0 "$C" verify --all --key "$T/pub"

# ---- crash tests -------------------------------------------------------
# base: a journal of three completed runs, copied for each kill.
export CAIRN_DIR="$T/base"
for i in 1 2 3; do mk c$i K ok; done
mk c4 K running
# crash NAME ENV...: a copy of base, prune killed as ENV says, then the
# checks: journal verifies, c1 intact or pruned with a valid bundle,
# then a rerun finishes (c1 c2 c3 pruned, c4 not).
crash() {
    name=$1
    shift
    rm -rf "$T/cj" "$T/ca"
    cp -a "$T/base" "$T/cj"
    # Each copy of base is a journal of its own history: remember its
    # checkpoints apart (a shared store would call the next copy a
    # rollback of the last one's prunes, rightly).
    export CAIRN_CHECKPOINTS="$T/cp-$name"
    mkdir "$T/ca"
    CHECKS=$((CHECKS + 1))
    env CAIRN_DIR="$T/cj" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "$@" \
        "$C" prune --archive "$T/ca" --reason crash --state completed \
        >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 137 ] || fail "$name: prune exit $rc, want 137 (SIGKILL)"
    CAIRN_DIR="$T/cj" expect 0 "$C" verify --all --key "$T/pub" ||
        fail "$name: the journal does not verify after the kill"
    jid=$(ls "$T/ca")
    CAIRN_DIR="$T/cj" "$C" prune --archive "$T/ca" --reason crash \
        --state completed --dry-run -o json >"$T/state.json" 2>&1
    if python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if {r["run_id"]: r["action"] for r in j["runs"]}["c1"] == "prune" else 1)' "$T/state.json"; then
        echo "$name: c1 intact" >>"$T/crash.log"
    else
        echo "$name: c1 pruned" >>"$T/crash.log"
        expect 0 "$C" verify-bundle "$T/ca/$jid/c1.cairn" --key "$T/pub" ||
            fail "$name: c1 pruned without a valid bundle"
    fi
    CAIRN_DIR="$T/cj" expect 0 "$C" prune --archive "$T/ca" --reason crash \
        --state completed -o json || return
    json_is "$T/out" '[r["run_id"] for r in j["runs"] if r["action"] in ("pruned", "pruned-before")] == ["c1", "c2", "c3"]'
    json_is "$T/out" '{r["run_id"]: r["action"] for r in j["runs"]}["c4"] == "not-prunable"'
    for r in c1 c2 c3; do
        expect 0 "$C" verify-bundle "$T/ca/$jid/$r.cairn" --key "$T/pub" ||
            fail "$name: $r bundle"
    done
    ls "$T/ca/$jid" | grep -q 'tmp-' && fail "$name: a temporary file is left"
    CAIRN_DIR="$T/cj" expect 0 "$C" verify --all --key "$T/pub"
}
crash tmp-written KILLRENAME_AT=1 KILLRENAME_WHEN=before LD_PRELOAD="$SHIM"
crash bundle-renamed KILLRENAME_AT=1 KILLRENAME_WHEN=after LD_PRELOAD="$SHIM"
crash tlog-proof-renamed KILLRENAME_AT=2 KILLRENAME_WHEN=after LD_PRELOAD="$SHIM"
crash minisig-renamed KILLRENAME_AT=3 KILLRENAME_WHEN=after LD_PRELOAD="$SHIM"
crash after-export CAIRN_TEST_PRUNE_KILL_AT=export
crash after-verify CAIRN_TEST_PRUNE_KILL_AT=verify
crash after-prune CAIRN_TEST_PRUNE_KILL_AT=prune
CHECKS=$((CHECKS + 1))
grep -q "after-prune: c1 pruned" "$T/crash.log" || fail "the kill after the prune transaction left c1 intact"
grep -q "after-verify: c1 intact" "$T/crash.log" || fail "the kill before the prune transaction pruned c1"

finish
