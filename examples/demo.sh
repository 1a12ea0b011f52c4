#!/bin/sh
# demo.sh - cairn's main job, end to end, in under a minute:
#
#   a running "database" (examples/svc) is backed up by a signed cairn run;
#   the runner is killed (kill -9) in the middle of the snapshot, with the
#   database stopped; `cairn status` shows the operation in doubt and the
#   database needing a restart; `cairn resume` lets the snapshot's probe
#   settle it (without redoing it) and finishes the backup; the journal
#   verifies against the public key, and so does the exported bundle (also
#   with stock minisign when installed); finally the restore plan puts the
#   backup into a new directory and runs the database on it, and the
#   restored tree is checked byte for byte against a copy taken while the
#   database was stopped.
#
#   sh examples/demo.sh PATH/TO/cairn        (or: make demo)
#
# Environment:
#   CAIRN_DEMO_KEEP=1    keep the demo directory (journal, keys, archives)
#   CAIRN_DEMO_DIR=DIR   use DIR (must not exist) instead of a mktemp -d
#                        directory; with DIR=/tmp/cairn-demo the plans run
#                        are exactly examples/backup.json and restore.json
#
# Exit 0 only when every step held; otherwise non-zero, with a message
# naming the step that failed.  Needs POSIX sh, coreutils, tar, sha256sum
# and python3 (to read cairn's JSON output); uses minisign when present.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: sh examples/demo.sh PATH/TO/cairn" >&2
    exit 2
fi
case $1 in
/*) CAIRN=$1 ;;
*) CAIRN=$(pwd)/$1 ;;
esac
[ -x "$CAIRN" ] || {
    echo "demo: $CAIRN: not an executable" >&2
    exit 2
}
EXAMPLES=$(cd "$(dirname "$0")" && pwd)
for t in python3 tar sha256sum; do
    command -v "$t" >/dev/null 2>&1 || {
        echo "demo: $t is needed and not on the PATH" >&2
        exit 2
    }
done

START=$(date +%s)
STEP_N=0
STEP_NAME="setting up"
DEMO=
RUNNER_PID=
SNAP_PID=

# ---------------------------------------------------------------------------
# Output helpers.

step() {
    STEP_N=$((STEP_N + 1))
    STEP_NAME=$1
    printf '\n== %d. %s\n' "$STEP_N" "$1"
}

say() {
    printf '   %s\n' "$*"
}

# indent: command output, set off from the demo's own lines.
indent() {
    sed 's/^/   | /'
}

fail() {
    echo "demo: FAILED at step $STEP_N ($STEP_NAME): $*" >&2
    exit 1
}

# show CMD ARGS...: print the command (cairn for the binary's path), run it,
# print its standard output and error (each through the sed script
# $FILTER, run with sed -n, when set) indented; return its exit status.  Its outputs stay in $DEMO/out and $DEMO/err.
FILTER=
show() {
    printf '   $'
    for a in "$@"; do
        case $a in
        "$CAIRN") a=cairn ;;
        esac
        printf ' %s' "$a" | sed "s|$DEMO|\$DEMO|g"
    done
    printf '\n'
    set +e
    "$@" >"$DEMO/out" 2>"$DEMO/err"
    rc=$?
    set -e
    sed "s|$DEMO|\$DEMO|g" "$DEMO/out" | sed -e "${FILTER:-p}" -n | indent
    sed "s|$DEMO|\$DEMO|g" "$DEMO/err" | sed -e "${FILTER:-p}" -n | indent
    FILTER=
    return $rc
}

# showf SEDSCRIPT CMD ARGS...: show with FILTER=SEDSCRIPT.
showf() {
    FILTER=$1
    shift
    show "$@"
}

# json FILE EXPR: evaluate the Python expression EXPR with j = the JSON
# document in FILE, print the result (str() of it; JSON for lists/dicts).
json() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (list, dict)) else v)
EOF
}

# events FILE: one line per JSON event of a `cairn run --json` stream
# (the run id only where it first appears).
events() {
    python3 - "$1" <<'EOF'
import json, sys
run = None
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    try:
        e = json.loads(line)
    except ValueError:
        print("(not JSON) " + line)
        continue
    keys = ["seq", "id", "attempt", "state", "outcome", "exit_code",
            "signal", "preflight_id", "reason"]
    if e.get("run_id") != run:
        run = e.get("run_id")
        keys.insert(0, "run_id")
    rest = " ".join("%s=%s" % (k, json.dumps(e[k])) for k in keys
                    if e.get(k) not in (None, ""))
    print("%-18s %s" % (e.get("event", "?"), rest))
EOF
}

# op_started FILE OPID: the seq of OPID once an op-start event for it is
# in the event stream FILE (nothing printed until then).
op_started() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") == "op-start" and e.get("id") == sys.argv[2]:
        print(e["seq"])
        break
EOF
}

# alive PID: PID runs and is not a zombie.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$st" != Z ]
}

# killgroup PID: SIGKILL the process group PID leads (dash's kill builtin
# takes no negative pid: use the kill program), or at least PID.
killgroup() {
    env kill -KILL -- "-$1" 2>/dev/null || kill -KILL "$1" 2>/dev/null || :
}

on_exit() {
    rc=$?
    set +e
    trap '' INT TERM HUP # the cleanup must not be cut short
    if [ -n "$RUNNER_PID" ] && alive "$RUNNER_PID"; then
        kill -KILL "$RUNNER_PID" 2>/dev/null
        wait "$RUNNER_PID" 2>/dev/null
    fi
    if [ -z "$SNAP_PID" ] && [ -n "$DEMO" ]; then
        SNAP_PID=$(cat "$DEMO/stage/.cairn-demo-sleeping" 2>/dev/null)
    fi
    if [ -n "$SNAP_PID" ] && alive "$SNAP_PID"; then
        killgroup "$SNAP_PID"
    fi
    if [ -n "$DEMO" ]; then
        for d in "$DEMO"/db.*; do
            [ -d "$d" ] && sh "$EXAMPLES/svc" stop db "$d" >/dev/null 2>&1
        done
        # Any other command still running from the demo directory (an
        # interrupted step's): its command line names $DEMO/bin/.
        for f in /proc/[0-9]*/cmdline; do
            p=${f#/proc/}
            p=${p%/cmdline}
            [ "$p" != $$ ] || continue
            if tr '\0' ' ' 2>/dev/null <"$f" | grep -q -F "$DEMO/bin/"; then
                kill -KILL "$p" 2>/dev/null
            fi
        done
        if [ "${CAIRN_DEMO_KEEP:-0}" = 1 ]; then
            echo "demo: kept $DEMO"
        else
            rm -rf "$DEMO"
        fi
    fi
    if [ "$rc" -ne 0 ]; then
        echo "demo: FAILED (exit $rc) at step $STEP_N: $STEP_NAME" >&2
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------
step "Set up a demo directory, a database and its plans"

if [ -n "${CAIRN_DEMO_DIR:-}" ]; then
    [ ! -e "$CAIRN_DEMO_DIR" ] || {
        echo "demo: CAIRN_DEMO_DIR=$CAIRN_DEMO_DIR exists; remove it first" >&2
        exit 2
    }
    mkdir -p "$CAIRN_DEMO_DIR"
    DEMO=$CAIRN_DEMO_DIR
else
    DEMO=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
fi
DEMO=$(cd "$DEMO" && pwd -P)
say "demo directory: $DEMO (below, \$DEMO)"

# The plans' commands live in $DEMO/bin, so that the journal records
# exactly what ran.
mkdir -p "$DEMO/bin" "$DEMO/stage" "$DEMO/remote"
for f in svc preflight snapshot transfer manifest cleanup restore; do
    cp "$EXAMPLES/$f" "$DEMO/bin/$f"
    chmod 0755 "$DEMO/bin/$f"
done
for p in backup restore; do
    sed "s|@DEMO@|$DEMO|g" "$EXAMPLES/$p.json.in" >"$DEMO/$p.json"
done
say "plans: \$DEMO/backup.json, \$DEMO/restore.json" \
    "(from examples/*.json.in)"

# The database: $DEMO/db is a symlink to the directory it runs in.
mkdir -p "$DEMO/db.orig/data/tables" "$DEMO/db.orig/data/conf" \
    "$DEMO/db.orig/data/notes"
i=1
while [ $i -le 24 ]; do
    head -c 12288 /dev/urandom >"$DEMO/db.orig/data/tables/t$i.dat"
    i=$((i + 1))
done
printf 'port = 5432\nname = demo\n' >"$DEMO/db.orig/data/conf/db.conf"
printf 'a file name with spaces\n' >"$DEMO/db.orig/data/notes/read me.txt"
ln -s db.orig "$DEMO/db"
say "database: \$DEMO/db -> db.orig, data tree of" \
    "$(du -sk "$DEMO/db.orig/data" | cut -f 1) KiB"
show "$DEMO/bin/svc" start db "$DEMO/db" || fail "the database did not start"
sleep 0.5
"$DEMO/bin/svc" status db "$DEMO/db" >/dev/null || fail "the database died"
say "it appends a heartbeat to data/wal.log 5 times a second:" \
    "$(wc -l <"$DEMO/db/data/wal.log" | tr -d ' ') lines so far"

export CAIRN_DIR="$DEMO/journal"
# The writers' remembered checkpoints (cairn(1) CAIRN_CHECKPOINTS) stay in
# the demo directory too.
export CAIRN_CHECKPOINTS="$DEMO/checkpoints"
export CAIRN_ACTOR=demo
# The runner's $CAIRN_OUTPUT files (and the scripts' temporary files) go
# to $TMPDIR: keep them in the demo directory, where the one the crash
# leaves behind is removed with the rest.
mkdir -p "$DEMO/tmp"
export TMPDIR="$DEMO/tmp"
unset XDG_STATE_HOME CAIRN_PASSWORD CAIRN_SECRET_KEY
PUB=$DEMO/keys/cairn.pub
SEC=$DEMO/keys/cairn.key
mkdir -p "$DEMO/keys"

# ---------------------------------------------------------------------------
step "Make a signing key"

show "$CAIRN" keygen -p "$PUB" -s "$SEC" --no-password ||
    fail "cairn keygen failed"
export CAIRN_SECRET_KEY="$SEC"
say "every record the runs write is signed with it (CAIRN_SECRET_KEY)"

# ---------------------------------------------------------------------------
step "Back up, and crash the runner in the middle of the snapshot"

# The snapshot sleeps once its archive is complete, before it reports:
# that is where the "power cut" comes.
echo 30 >"$DEMO/stage/.cairn-demo-slow"
say "\$ cairn run \$DEMO/backup.json --json &   (events on stdout)"
"$CAIRN" run "$DEMO/backup.json" --json >"$DEMO/run1.events" \
    2>"$DEMO/run1.err" &
RUNNER_PID=$!
SNAP_SEQ=
n=0
while [ -z "$SNAP_SEQ" ] || [ ! -s "$DEMO/stage/.cairn-demo-sleeping" ]; do
    if ! alive "$RUNNER_PID"; then
        wait "$RUNNER_PID" && rc=0 || rc=$?
        RUNNER_PID=
        events "$DEMO/run1.events" | indent
        indent <"$DEMO/run1.err"
        fail "cairn run ended (exit $rc) before the snapshot started"
    fi
    [ -n "$SNAP_SEQ" ] || SNAP_SEQ=$(op_started "$DEMO/run1.events" snapshot-db)
    n=$((n + 1))
    [ $n -lt 300 ] || fail "no op-start event for snapshot-db within 30 s"
    sleep 0.1
done
SNAP_PID=$(cat "$DEMO/stage/.cairn-demo-sleeping")
say "op-start of snapshot-db (#$SNAP_SEQ) seen; the archive is complete" \
    "and the snapshot (pid $SNAP_PID) has not reported yet"
say "kill -9 the runner (pid $RUNNER_PID), and the snapshot's process" \
    "group (a power cut takes everything)"
kill -KILL "$RUNNER_PID"
wait "$RUNNER_PID" 2>/dev/null && rc=0 || rc=$?
RUNNER_PID=
killgroup "$SNAP_PID"
n=0
while alive "$SNAP_PID"; do
    n=$((n + 1))
    [ $n -lt 50 ] || fail "the snapshot (pid $SNAP_PID) does not die"
    sleep 0.1
done
SNAP_PID=
[ "$rc" -eq 137 ] || fail "the runner exited $rc, not by SIGKILL (137)"
say "the runner died by SIGKILL; its events until then:"
events "$DEMO/run1.events" | indent
RUN=$(python3 - "$DEMO/run1.events" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e.get("run_id"), str):
        print(e["run_id"])
        break
EOF
)
if [ -z "$RUN" ]; then
    "$CAIRN" list -o json >"$DEMO/list.json" || fail "cairn list failed"
    RUN=$(json "$DEMO/list.json" '[r["run_id"] for r in j][0]')
fi
[ -n "$RUN" ] || fail "cannot tell the backup's run id"
say "backup run: $RUN"

# ---------------------------------------------------------------------------
step "What the journal says after the crash"

show "$CAIRN" status "$RUN" || fail "cairn status failed"
"$CAIRN" status "$RUN" -o json >"$DEMO/st1.json" 2>/dev/null ||
    fail "cairn status -o json failed"
[ "$(json "$DEMO/st1.json" 'j["in_doubt"]')" = "[$SNAP_SEQ]" ] ||
    fail "status does not report snapshot-db (#$SNAP_SEQ) in doubt:" \
        "$(cat "$DEMO/st1.json")"
[ "$(json "$DEMO/st1.json" 'j["state"]')" = needs-attention ] ||
    fail "the run is not needs-attention: $(cat "$DEMO/st1.json")"
[ "$(json "$DEMO/st1.json" 'j["restart_targets"]')" = '["db"]' ] ||
    fail "status does not say db needs a restart: $(cat "$DEMO/st1.json")"
say "=> snapshot-db is IN DOUBT (claimed, no receipt): cairn will not"
say "   silently run it again; and the database is down: RESTART REQUIRED"
if "$DEMO/bin/svc" status db "$DEMO/db" >/dev/null; then
    fail "the database runs, but the journal says it was stopped"
fi
say "svc status agrees: the database is stopped"
"$CAIRN" status "$RUN" --require-no-attention >/dev/null 2>&1 && rc=0 ||
    rc=$?
[ "$rc" -eq 3 ] ||
    fail "status --require-no-attention exited $rc on a run in doubt, not 3"
say "status --require-no-attention fails (exit 3): a cron job would page"

# The database is stopped, so its data tree is consistent right now: keep
# a copy to check the restore against at the end.
cp -a "$DEMO/db/data" "$DEMO/reference"
REF_TREE=$("$DEMO/bin/restore" --treesum "$DEMO/reference")
CRASH_DIGEST=$(sha256sum <"$DEMO/stage/db.tar" | cut -d ' ' -f 1)
say "copied the stopped data tree to \$DEMO/reference (tree digest" \
    "${REF_TREE%"${REF_TREE#????????????}"}...)"
say "the archive the snapshot left: sha256 $CRASH_DIGEST"

# ---------------------------------------------------------------------------
step "Resume: the probe settles the snapshot, the backup finishes"

rm -f "$DEMO/stage/.cairn-demo-slow" "$DEMO/stage/.cairn-demo-sleeping"
# (Its summary is left out: the status below says the same.)
showf '/^$/q; p' "$CAIRN" resume "$RUN" || fail "cairn resume exited $?"
"$CAIRN" status "$RUN" -o json >"$DEMO/st2.json" ||
    fail "cairn status -o json failed"
[ "$(json "$DEMO/st2.json" 'j["state"]')" = completed ] ||
    fail "the run is not completed: $(cat "$DEMO/st2.json")"
[ "$(json "$DEMO/st2.json" 'j["restart_required"]')" = False ] ||
    fail "a restart is still required: $(cat "$DEMO/st2.json")"
[ "$(json "$DEMO/st2.json" 'j["in_doubt"]')" = "[]" ] ||
    fail "operations still in doubt: $(cat "$DEMO/st2.json")"
showf '/^state:/p; /^restart:/p' "$CAIRN" status "$RUN" --require-complete ||
    fail "status --require-complete is not met"
# shellcheck disable=SC2016 # $ is sed's last line
showf '/^ *SEQ /,$p' "$CAIRN" show "$RUN" --op "$SNAP_SEQ" ||
    fail "cairn show --op failed"
"$CAIRN" show "$RUN" --op "$SNAP_SEQ" -o json >"$DEMO/snap.json" ||
    fail "cairn show --op -o json failed"
claims=$(json "$DEMO/snap.json" \
    'len([r for r in j["records"] if r["type"] == "claim"])')
[ "$claims" = 1 ] ||
    fail "snapshot-db was claimed $claims times: it ran again"
digest=$(json "$DEMO/snap.json" \
    '[r["outputs"]["digest"] for r in j["records"] if r.get("outputs")][-1]')
[ "$digest" = "$CRASH_DIGEST" ] ||
    fail "snapshot-db's journaled digest $digest is not the archive's"
[ -f "$DEMO/remote/db.tar" ] || fail "no archive in the remote directory"
[ "$(json "$DEMO/remote/manifest.json" 'j["sha256"]')" = "$CRASH_DIGEST" ] ||
    fail "the manifest's digest is not the snapshot's"
say "=> snapshot-db: one claim, settled by its probe, not run again; its"
say "   journaled digest is the archive's (written before the crash), and"
say "   so is the remote manifest's"
"$DEMO/bin/svc" status db "$DEMO/db" >/dev/null ||
    fail "the database is not running after the backup"
say "the database runs again; restart required: no"

# ---------------------------------------------------------------------------
step "Verify the backup run's journal with the public key"

show "$CAIRN" verify "$RUN" --key "$PUB" || fail "cairn verify exited $?"
grep -qw VERIFIED "$DEMO/out" || fail "cairn verify did not say VERIFIED"
say "=> VERIFIED: complete chain, every checkpoint signed by this key"

# ---------------------------------------------------------------------------
step "Export a signed bundle and check it without the journal"

BUNDLE=$DEMO/backup.bundle
show "$CAIRN" export "$RUN" --bundle "$BUNDLE" || fail "cairn export exited $?"
[ -s "$BUNDLE" ] || fail "export wrote no $BUNDLE"
[ -s "$BUNDLE.minisig" ] || fail "export wrote no $BUNDLE.minisig"
if command -v minisign >/dev/null 2>&1; then
    show minisign -V -p "$PUB" -m "$BUNDLE" ||
        fail "stock minisign rejects the bundle"
    MINISIGN="verified by stock minisign"
else
    say "(minisign is not installed: skipping the stock minisign check)"
    MINISIGN="minisign not installed"
fi
show "$CAIRN" verify-bundle "$BUNDLE" --key "$PUB" ||
    fail "cairn verify-bundle exited $?"
grep -qw VERIFIED "$DEMO/out" || fail "cairn verify-bundle did not say VERIFIED"
cp "$BUNDLE" "$DEMO/tampered.bundle"
cp "$BUNDLE.minisig" "$DEMO/tampered.bundle.minisig"
size=$(wc -c <"$BUNDLE" | tr -d ' ')
# Change one byte in the middle: a capital letter or digit becomes "#".
python3 - "$DEMO/tampered.bundle" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = len(b) // 2
b[i] = 0x23 if b[i] != 0x23 else 0x24
open(p, "wb").write(bytes(b))
EOF
say "a copy with one byte changed (of $size):"
if show "$CAIRN" verify-bundle "$DEMO/tampered.bundle" --key "$PUB"; then
    fail "cairn verify-bundle accepted a tampered bundle"
fi
say "=> rejected (exit $rc)"
if command -v minisign >/dev/null 2>&1; then
    if show minisign -V -p "$PUB" -m "$DEMO/tampered.bundle"; then
        fail "stock minisign accepted a tampered bundle"
    fi
    say "=> minisign rejects it too"
fi

# ---------------------------------------------------------------------------
step "Restore the backup into a new directory and run the database on it"

showf '/^$/q; p' "$CAIRN" run "$DEMO/restore.json" ||
    fail "the restore run exited $?"
RUN2=$(head -n 1 "$DEMO/out")
"$CAIRN" status "$RUN2" -o json >"$DEMO/st3.json" ||
    fail "cairn status $RUN2 failed"
[ "$(json "$DEMO/st3.json" 'j["state"]')" = completed ] ||
    fail "the restore run is not completed: $(cat "$DEMO/st3.json")"
showf '/^verdict/p' "$CAIRN" verify "$RUN2" --key "$PUB" ||
    fail "cairn verify of the restore run exited $?"
grep -qw VERIFIED "$DEMO/out" || fail "the restore run does not verify"

# ---------------------------------------------------------------------------
step "Check the restored data against the copy taken while it was stopped"

"$CAIRN" show "$RUN2" -o json >"$DEMO/show2.json" || fail "cairn show failed"
RSEQ=$(json "$DEMO/show2.json" \
    '[o["seq"] for o in j["ops"] if o["id"] == "restore-db"][0]')
"$CAIRN" show "$RUN2" --op "$RSEQ" -o json >"$DEMO/rop.json" ||
    fail "cairn show --op failed"
TREE=$(json "$DEMO/rop.json" '[r["outputs"]["tree_digest"]
    for r in j["records"] if r.get("outputs")][-1]')
say "tree digest of \$DEMO/reference:          $REF_TREE"
say "tree digest journaled by restore-db:     $TREE"
[ "$TREE" = "$REF_TREE" ] ||
    fail "the restored tree differs from the copy taken at backup time"
mkdir "$DEMO/check"
tar -C "$DEMO/check" -xf "$DEMO/remote/db.tar"
show diff -r "$DEMO/reference" "$DEMO/check/data" ||
    fail "the remote archive differs from the copy taken at backup time"
[ "$(readlink "$DEMO/db")" = db.restored ] ||
    fail "\$DEMO/db does not point at db.restored"
"$DEMO/bin/svc" status db "$DEMO/db" >/dev/null ||
    fail "the database does not run on the restored data"
RESTORE_LINE="restore check: restored tree identical to the data at backup time"
say "=> $RESTORE_LINE"
say "   (diff -r of the archive: no difference; the database now runs on"
say "   \$DEMO/db -> db.restored)"

# ---------------------------------------------------------------------------
STEP_NAME="summary"
END=$(date +%s)
printf '\n== Summary (%d s)\n' $((END - START))
say "backup run   $RUN"
say "             crashed (kill -9) during snapshot-db with the database"
say "             stopped; status showed it in doubt and restart required;"
say "             resume: the probe found the complete archive, nothing was"
say "             redone; completed, restart not required"
say "             journal: VERIFIED; bundle: VERIFIED, $MINISIGN;"
say "             a tampered bundle: rejected"
say "restore run  $RUN2"
say "             completed, journal VERIFIED"
say "$RESTORE_LINE"
say "demo: OK"
