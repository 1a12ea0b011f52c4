#!/bin/sh
# verify.sh - `cairn verify` on the CLI: verdicts and exit codes (pinned,
# unpinned, wrong key, unsigned run, --all, JSON), malformed key files
# (exit 2), an unreadable journal (ERROR, exit 6), unknown databases and
# keys (TAMPERED), and LMDB page-level
# corruption: random bit flips in the page structure of data.mdb must never
# crash the CLI; the verdict is TAMPERED or ERROR (exit 4 or 6), or
# VERIFIED only when mdb_dump shows everything the verifier reads
# unchanged.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
TESTPID=$$

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "v", "run_id": "v-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "stop", "kind": "stop", "target": "db"},
                {"id": "snap", "kind": "snapshot", "target": "db",
                 "requires": ["artifact"]},
                {"id": "start", "kind": "start", "target": "db"}]}
JSON

expect 0 "$C" keygen -p "$T/a.pub" -s "$T/a.key" --no-password
expect 0 "$C" keygen -p "$T/b.pub" -s "$T/b.key" --no-password
export CAIRN_SECRET_KEY="$T/a.key"
expect 0 "$C" create "$T/plan.json"
expect 0 "$C" claim v-1 --holder-pid $TESTPID
expect 0 "$C" complete v-1 --op 0
expect 0 "$C" accept-preflight v-1 --id pf
expect 0 "$C" claim v-1 --holder-pid $TESTPID
expect 0 "$C" complete v-1 --op 1
expect 0 "$C" claim v-1 --holder-pid $TESTPID
expect 0 "$C" complete v-1 --op 2 --output artifact=/b/x.tar
unset CAIRN_SECRET_KEY
cp -r "$CAIRN_DIR" "$T/signed-only"

# --- one run ---------------------------------------------------------------
expect 0 "$C" verify v-1 --key "$T/a.pub"
grep -q '^verdict     : VERIFIED' "$T/out" || fail "no VERIFIED line"
grep -q '^records     : 8$' "$T/out" || fail "records line"
grep -q 'source=pinned: --key' "$T/out" || fail "key source line"
expect 3 "$C" verify v-1
grep -q 'key not pinned' "$T/out" || fail "no 'key not pinned'"
# Another key: a key mismatch (exit 3, as minisign), not tampering.
expect 3 "$C" verify v-1 --key "$T/b.pub"
grep -q 'key mismatch: the run is signed by key' "$T/out" ||
    fail "wrong key reason"
grep -q 'signatures: not checked (key mismatch' "$T/out" ||
    fail "signatures line"
expect 0 "$C" verify v-1 --key "$T/a.pub" -o json && cp "$T/out" "$T/v.json"
json_is "$T/v.json" '(j["verdict"] == "VERIFIED" and j["exit_code"] == 0 and
    j["records"] == 8 and j["signatures_ok"] == 0 and j["head_sealed"] == 8 and
    j["replay_ok"] and
    j["first_bad"] is None and j["key"]["source"].startswith("pinned") and
    len(j["journal"]["id"]) == 32)'
expect 3 "$C" verify v-1 --key "$T/b.pub" --json && cp "$T/out" "$T/w.json"
json_is "$T/w.json" '(j["verdict"] == "INCOMPLETE" and j["exit_code"] == 3 and
    j["first_bad"] is None and j["key_mismatch"] is True)'

# --- an unsigned run, and --all ----------------------------------------------
# Format 2: a journal is signed by one key or none, so the unsigned run
# has a journal of its own (its head is unsigned too: never VERIFIED).
sed 's/"v-1"/"u-1"/' "$T/plan.json" >"$T/u.json"
U="$T/unsigned"
expect 0 "$C" -J "$U" create "$T/u.json"
expect 3 "$C" -J "$U" verify u-1 --key "$T/a.pub"
grep -q 'unsigned' "$T/out" || fail "unsigned reason"
expect 3 "$C" -J "$U" verify --all --key "$T/a.pub"
grep -q '^overall     : INCOMPLETE (1 run)' "$T/out" || fail "overall line"
grep -q '^directory   : INCOMPLETE' "$T/out" || fail "directory line"
expect 3 "$C" -J "$U" verify --all --key "$T/a.pub" -o json && cp "$T/out" "$T/all.json"
json_is "$T/all.json" '(j["verdict"] == "INCOMPLETE" and len(j["runs"]) == 1
    and j["directory"]["verdict"] == "INCOMPLETE" and j["error"] is None and
    j["directory"]["journal_head"]["signed"] == False and
    [r["verdict"] for r in j["runs"]] == ["INCOMPLETE"])'
expect 0 "$C" -J "$T/signed-only" verify --all --key "$T/a.pub"
grep -q '^overall     : VERIFIED (1 run)' "$T/out" || fail "signed overall line"
expect 0 "$C" verify --all --key "$T/a.pub" -o json && cp "$T/out" "$T/all.json"
# --jobs changes how many threads verify, never what is printed.
for n in 1 2 7; do
    expect 0 "$C" verify --all --jobs "$n" --key "$T/a.pub" -o json
    cmp -s "$T/out" "$T/all.json" || fail "--jobs $n prints another report"
done
expect 2 "$C" verify --all --jobs 65 --key "$T/a.pub"
err_has "at most 64"
expect 2 "$C" verify --all --jobs x --key "$T/a.pub"

# --- usage, missing runs, key files --------------------------------------------
expect 2 "$C" verify
expect 2 "$C" verify v-1 --all
expect 2 "$C" verify no-such-run --key "$T/a.pub"
err_has "no such run"
printf 'garbage\n' >"$T/garbage.pub"
: >"$T/empty.pub"
head -c 30 "$T/a.pub" >"$T/cut.pub"
sed '2s/^RW/AA/' "$T/a.pub" >"$T/alg.pub"
for k in garbage empty cut alg; do
    expect 2 "$C" verify v-1 --key "$T/$k.pub"
    err_has "--key $T/$k.pub:"
done
expect 2 "$C" verify v-1 --key "$T/a.key"
err_has "--key $T/a.key:"
expect 2 "$C" verify v-1 --key "$T/none.pub"
err_has "No such file"

# --- unreadable journals --------------------------------------------------------
mkdir "$T/notlmdb"
head -c 65536 /dev/urandom >"$T/notlmdb/data.mdb"
expect 6 "$C" -J "$T/notlmdb" verify v-1 --key "$T/a.pub"
grep -q '^verdict     : ERROR (journal unreadable' "$T/out" ||
    fail "no ERROR verdict for a non-LMDB file"
expect 1 "$C" -J "$T/nowhere" verify v-1 --key "$T/a.pub"

# --- unknown content is reported, not ignored -------------------------------------
# An extra named database or an extra meta key: every run still verifies,
# the directory check says TAMPERED, and so does the overall verdict.
if command -v mdb_load >/dev/null 2>&1; then
    for what in "attacker main" "meta meta"; do
        set -- $what
        rm -rf "$T/uc"
        cp -r "$T/signed-only" "$T/uc"
        printf 'owner\nmallory\n' | mdb_load -T -s "$1" "$T/uc" ||
            fail "mdb_load -s $1"
        expect 4 "$C" -J "$T/uc" verify --all --key "$T/a.pub"
        grep -q "^directory   : TAMPERED, field $2 (" "$T/out" ||
            fail "unknown content in $1: no TAMPERED directory line"
        grep -q '^verdict     : VERIFIED' "$T/out" || fail "$1: run not VERIFIED"
    done
    rm -rf "$T/uc"
else
    echo "mdb_load not found: unknown-content checks skipped"
fi
expect 0 "$C" -J "$T/signed-only" verify --all --key "$T/a.pub"
grep -q 'created_ns (the creation time) is not covered by any signature' \
    "$T/out" || fail "no note that created_ns is unsigned"

# --- LMDB page corruption: never a crash -----------------------------------------
# A compacted copy (mdb_copy -c) has no free pages, so most flips land in
# live pages.
if command -v mdb_dump >/dev/null 2>&1 && command -v mdb_copy >/dev/null 2>&1; then
    ORIG="$T/compact"
    mkdir "$ORIG"
    mdb_copy -c "$T/signed-only" "$ORIG" || fail "mdb_copy -c"
    expect 0 "$C" -J "$ORIG" verify --all --key "$T/a.pub"
    # What the verifier reads: every entry of names, runs, records, index
    # and checkpoints, and the format and journal id in meta (the value of
    # its created_ns is informational, covered by no signature and only
    # checked for its size).
    cat >"$T/readable.py" <<'PY'
import subprocess, sys
def dump(d, db):
    p = subprocess.run(["mdb_dump", "-s", db, d], capture_output=True)
    if p.returncode != 0:
        return None
    lines = p.stdout.decode().split("\n")
    body = lines[lines.index("HEADER=END") + 1:]
    pairs = [l for l in body if l.startswith(" ")]
    return [tuple(pairs[k:k + 2]) for k in range(0, len(pairs), 2)]
out = []
for db in ("names", "runs", "records", "index", "checkpoints", "meta"):
    d = dump(sys.argv[1], db)
    if d is None:
        sys.exit(1)
    if db == "meta":
        d = [kv for kv in d if kv[0].strip() in
             ("666f726d6174", "6a6f75726e616c5f6964")]  # format, journal_id
    out.append((db, d))
print(repr(out))
PY
    python3 "$T/readable.py" "$ORIG" >"$T/dump.orig" || fail "mdb_dump of the original"
    detected=0
    unchanged=0
    i=0
    while [ $i -lt 60 ]; do
        rm -rf "$T/pc"
        mkdir "$T/pc"
        cp "$ORIG/data.mdb" "$T/pc/data.mdb"
        # Flip one bit in the live structure of a non-meta page: its flags,
        # lower/upper bounds, node pointer array or node area.
        where=$(python3 - "$T/pc/data.mdb" $i <<'PY'
import random, struct, sys
path, i = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20261124 + i)
data = bytearray(open(path, 'rb').read())
psize = 4096
pg = rnd.randrange(2, len(data) // psize)   # not the two meta pages
base = pg * psize
flags, lower, upper = struct.unpack_from('<HHH', data, base + 10)
if i % 3 == 0 or not (16 <= lower <= upper <= psize):
    off = base + rnd.randrange(10, 16)
elif i % 3 == 1 and lower > 16:
    off = base + rnd.randrange(16, lower)
else:
    off = base + rnd.randrange(upper, psize) if upper < psize else base + 12
data[off] ^= 1 << rnd.randrange(8)
open(path, 'wb').write(data)
print(off)
PY
)
        CHECKS=$((CHECKS + 1))
        # Under the sanitizers, let a fault inside LMDB kill the verifier
        # child with its signal, as in production; reports about cairn's
        # own code still fail the check below.
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0" \
            timeout 60 "$C" -J "$T/pc" verify --all --key "$T/a.pub" \
            >"$T/out" 2>"$T/err"
        rc=$?
        if grep -q 'Sanitizer\|runtime error' "$T/err"; then
            fail "flip at byte $where: sanitizer report"
            sed 's/^/    /' "$T/err" >&2
        fi
        case $rc in
        4 | 6) detected=$((detected + 1)) ;;
        0)
            if python3 "$T/readable.py" "$T/pc" >"$T/dump.pc" 2>/dev/null &&
                cmp -s "$T/dump.orig" "$T/dump.pc"; then
                unchanged=$((unchanged + 1))
            else
                fail "flip at byte $where: VERIFIED though the content changed"
            fi
            ;;
        *) fail "flip at byte $where: exit $rc (crash, hang or bad verdict)" ;;
        esac
        i=$((i + 1))
    done
    echo "page flips: 60, detected (exit 4/6): $detected, logically unchanged: $unchanged"
    CHECKS=$((CHECKS + 1))
    [ "$detected" -gt 0 ] || fail "no page flip was detected"
else
    echo "mdb_dump or mdb_copy not found: page corruption checks skipped"
fi

finish
