#!/bin/sh
# hostile_dir.sh - a journal directory others could have prepared (issue
# 12, cases 2, 3, 5, 8 and 9; docs/SECURITY.md "Local attacker"):
# symbolic links and files of another user in place of lock.mdb, locks/,
# a run lock file or commit.shm are refused (exit 6) and never followed;
# removing a held run lock file does not let a second writer in (exit 5);
# a journal without its identity, a foreign LMDB environment and a
# non-empty directory are never adopted (exit 6); journals are created
# private, loose modes are warned about and refused with --strict; text
# planted in a lock file reaches the terminal escaped.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN
J=$CAIRN_DIR
umask 022 # the modes checked are the ones asked for

# A second local user, for files that are not ours (root only).
OTHER=""
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null 2>&1; then
    OTHER=cairnh$$
    useradd -M -r -s /bin/false "$OTHER" 2>/dev/null || OTHER=""
fi
cleanup() {
    [ -n "$OTHER" ] && userdel "$OTHER" 2>/dev/null
    [ -n "${RUNNER:-}" ] && kill "$RUNNER" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
[ -n "$OTHER" ] || echo "hostile_dir.sh: not root (or no useradd): " \
    "skipping the checks that need a second user" >&2

plan() { # plan RUN_ID FILE [COMMAND]
    cat >"$2" <<JSON
{"cairn_plan": 1, "plan_id": "h", "run_id": "$1", "operations": [
 {"id": "a", "kind": "task", "run": ["sh", "-c", "${3:-true}"]},
 {"id": "b", "kind": "task", "run": ["true"]}]}
JSON
}
mode_of() { stat -c %a "$1"; }
unchanged() { # unchanged FILE: the victim still says "victim"
    CHECKS=$((CHECKS + 1))
    [ "$(cat "$1")" = "victim" ] || fail "$1 was changed: $(head -c 200 "$1")"
}

# --- case 8: created private; group access only when asked ------------
plan h1 "$T/h1.json"
expect 0 "$C" create "$T/h1.json"
expect 0 "$C" accept-preflight h1 --id pf
CHECKS=$((CHECKS + 1))
[ "$(mode_of "$J")" = 700 ] || fail "journal dir mode $(mode_of "$J")"
for f in data.mdb lock.mdb commit.shm; do
    CHECKS=$((CHECKS + 1))
    [ "$(mode_of "$J/$f")" = 600 ] || fail "$f mode $(mode_of "$J/$f")"
done
expect 0 "$C" claim h1 --holder-pid $$
for f in locks locks/run-1.lock; do
    CHECKS=$((CHECKS + 1))
    want=600; [ "$f" = locks ] && want=700
    [ "$(mode_of "$J/$f")" = $want ] || fail "$f mode $(mode_of "$J/$f")"
done
expect 0 "$C" -J "$T/g" create --group-readable "$T/h1.json"
CHECKS=$((CHECKS + 1))
[ "$(mode_of "$T/g")" = 750 ] && [ "$(mode_of "$T/g/data.mdb")" = 640 ] ||
    fail "group-readable: $(mode_of "$T/g") $(mode_of "$T/g/data.mdb")"

# Loose modes: a warning, and --strict refuses (6 journal, 2 key).
chmod 0777 "$J"
expect 0 "$C" status h1 && err_has "is writable by others (mode 0777)"
expect 6 "$C" --strict status h1 && err_has "refused (strict)"
chmod 0700 "$J"
chmod 0664 "$J/data.mdb"
expect 0 "$C" complete h1 --op 0 && err_has "data.mdb is writable by its group"
expect 6 "$C" complete h1 --op 1 --strict
chmod 0600 "$J/data.mdb"
expect 0 "$C" status h1
CHECKS=$((CHECKS + 1))
[ -s "$T/err" ] && fail "warning on a private journal: $(cat "$T/err")"
CAIRN_PASSWORD= expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
chmod 0644 "$T/k.sec"
plan h2 "$T/h2.json"
# a signed run gets a journal of its own (one key, or none, per journal)
KJ="$T/kj"
expect 0 "$C" -J "$KJ" create "$T/h2.json" --secret-key "$T/k.sec" &&
    err_has "is accessible by others (mode 0644"
expect 0 "$C" -J "$KJ" accept-preflight h2 --id pf --secret-key "$T/k.sec"
expect 2 "$C" -J "$KJ" --strict claim h2 --holder-pid $$ --secret-key "$T/k.sec"
err_has "refused (--strict)"
chmod 0600 "$T/k.sec"
expect 0 "$C" -J "$KJ" --strict claim h2 --holder-pid $$ --secret-key "$T/k.sec"

# --- case 2: symbolic links are refused, never followed ----------------
echo victim >"$T/victim"
rm "$J/lock.mdb"
ln -s "$T/victim" "$J/lock.mdb"
expect 6 "$C" status h1 && err_has "lock.mdb: is a symbolic link"
# verify reports it in its verdict (ERROR), on standard output.
expect 6 "$C" verify h1 && {
    CHECKS=$((CHECKS + 1))
    grep -q "lock.mdb: is a symbolic link" "$T/out" "$T/err" ||
        fail "verify does not name the symlinked lock.mdb"
}
expect 6 "$C" claim h1 --holder-pid $$ && err_has "lock.mdb"
unchanged "$T/victim"
rm "$J/lock.mdb"
expect 0 "$C" status h1

rm "$J/locks/run-1.lock"
ln -s "$T/victim" "$J/locks/run-1.lock"
expect 6 "$C" complete h1 --op 1 && err_has "run-1.lock: is a symbolic link"
unchanged "$T/victim"
rm "$J/locks/run-1.lock"

mv "$J/locks" "$T/locks.real"
ln -s "$T/locks.real" "$J/locks"
expect 6 "$C" complete h1 --op 1 && err_has "locks: is a symbolic link"
rm "$J/locks"
mv "$T/locks.real" "$J/locks"

mv "$J/commit.shm" "$T/shm.real"
ln -s "$T/victim" "$J/commit.shm"
expect 6 "$C" complete h1 --op 1 && err_has "commit.shm: is a symbolic link"
unchanged "$T/victim"
rm "$J/commit.shm"
mv "$T/shm.real" "$J/commit.shm"

if [ -n "$OTHER" ]; then
    # Files of another user are not used, whatever their mode.
    chown "$OTHER" "$J/locks/run-1.lock" 2>/dev/null ||
        : >"$J/locks/run-1.lock"
    chown "$OTHER" "$J/locks/run-1.lock"
    expect 6 "$C" complete h1 --op 1 && err_has "run-1.lock: owned by uid"
    chown root "$J/locks/run-1.lock"
    chown "$OTHER" "$J/lock.mdb"
    expect 6 "$C" status h1 && err_has "lock.mdb: owned by uid"
    chown root "$J/lock.mdb"
    chown "$OTHER" "$J/commit.shm"
    expect 6 "$C" complete h1 --op 1 && err_has "commit.shm: owned by uid"
    chown root "$J/commit.shm"
    # A world-writable journal directory someone else made.
    mkdir "$T/theirs"
    chown "$OTHER" "$T/theirs"
    chmod 0777 "$T/theirs"
    expect 6 "$C" -J "$T/theirs" create "$T/h1.json" && err_has "owned by uid"
    CHECKS=$((CHECKS + 1))
    [ -z "$(ls -A "$T/theirs")" ] || fail "wrote into $T/theirs"
fi
expect 0 "$C" claim h1 --holder-pid $$ && out_is 1
expect 0 "$C" complete h1 --op 1

# --- case 3: a removed lock file lets no second writer in --------------
plan h3 "$T/h3.json" "while [ ! -e $T/go ]; do sleep 0.1; done"
"$C" run "$T/h3.json" >"$T/run.out" 2>&1 &
RUNNER=$!
i=0
until "$C" status h3 -o json 2>/dev/null | grep -q '"pending":1'; do
    i=$((i + 1))
    [ $i -lt 600 ] || break
    sleep 0.1
done
N=$(ls "$J/locks" | sed -n 's/^run-\([0-9]*\)\.lock$/\1/p' | sort -n | tail -1)
rm "$J/locks/run-$N.lock"
expect 5 "$C" complete h3 --op 0 --evidence forged=1

# --- case 9: planted holder text is escaped ------------------------------
printf 'pid=1 host=\033[31mEVIL\033]0;t\007\n' >"$T/planted"
cp "$T/planted" "$J/locks/run-$N.lock"
expect 5 "$C" complete h3 --op 0
err_has 'host=\x1b[31mEVIL\x1b]0;t\x07'
CHECKS=$((CHECKS + 1))
if tr -d '\n' <"$T/err" | LC_ALL=C grep -q "$(printf '[\001-\037]')"; then
    fail "a control byte reached stderr"
fi
touch "$T/go"
wait "$RUNNER"
rc=$?
RUNNER=""
CHECKS=$((CHECKS + 1))
[ $rc -eq 0 ] || fail "run h3 exit $rc: $(cat "$T/run.out")"
status_is h3 's["state"] == "completed" and s["counts"]["completed"] == 2'

# --- case 5: only create makes a journal, never over another -------------
expect 0 mdb_dump -n -a "$J/data.mdb"
cp "$T/out" "$T/dump"
python3 - "$T/dump" "$T/dump.noid" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
out, db, i = [], None, 0
while i < len(lines):
    l = lines[i]
    if l.startswith("database="):
        db = l.split("=", 1)[1]
    # meta's key "journal_id" (hex) and its value line
    if db == "meta" and l == " 6a6f75726e616c5f6964":
        i += 2
        continue
    out.append(l)
    i += 1
open(sys.argv[2], "w").write("\n".join(out))
PY
mkdir "$T/noid"
expect 0 mdb_load -n -f "$T/dump.noid" "$T/noid/data.mdb"
chmod 0700 "$T/noid"
expect 6 "$C" -J "$T/noid" claim h1 --holder-pid $$ &&
    err_has '"journal_id" missing'
expect 6 "$C" -J "$T/noid" create "$T/h2.json"
expect 6 "$C" -J "$T/noid" status h1
CHECKS=$((CHECKS + 1))
if mdb_dump -n -s meta "$T/noid/data.mdb" | grep -q 6a6f75726e616c5f6964; then
    fail "a journal id was made up"
fi

# A foreign LMDB environment, and a directory with other things in it.
mkdir "$T/foreign"
printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 6b\n 76\nDATA=END\n' \
    >"$T/foreign.dump"
expect 0 mdb_load -n -f "$T/foreign.dump" "$T/foreign/data.mdb"
chmod 0700 "$T/foreign"
expect 6 "$C" -J "$T/foreign" create "$T/h1.json" &&
    err_has "not a cairn journal"
CHECKS=$((CHECKS + 1))
if mdb_dump -n -l "$T/foreign/data.mdb" | grep -q .; then
    fail "cairn databases were added to a foreign environment"
fi
mkdir -m 0700 "$T/busy"
echo mine >"$T/busy/notes.txt"
expect 6 "$C" -J "$T/busy" create "$T/h1.json" && err_has "not empty"
CHECKS=$((CHECKS + 1))
[ ! -e "$T/busy/data.mdb" ] || fail "a journal was made beside notes.txt"
finish
