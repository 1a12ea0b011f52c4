#!/bin/sh
# compact_prune.sh - cairn compact after cairn prune: the databases are
# rebuilt, so the pruned journal ends up well below what LMDB's compacting
# copy (mdb_copy -c: free pages left out, half-empty pages kept) makes of
# it, at exactly the size --dry-run announced, and verify --all still
# accounts for every run.  The journal's owner may measure with --dry-run
# in a directory it cannot write (the scratch copy goes to /tmp then).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
OWNER=""
cleanup() {
    [ -n "$OWNER" ] && userdel "$OWNER" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

C=$CAIRN
J="$T/journal"
A="$T/archive"
mkdir -p "$A"
expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password
export CAIRN_SECRET_KEY="$T/k.sec"

# 30 runs of a 12-operation plan, then all but the newest two pruned.
python3 -c '
import json
ops = [{"id": "op%d" % i, "kind": "task", "run": ["true"]} for i in range(12)]
print(json.dumps({"cairn_plan": 1, "plan_id": "nightly", "operations": ops}))
' >"$T/plan.json"
i=0
while [ $i -lt 30 ]; do
    "$C" -J "$J" run "$T/plan.json" -q >"$T/out" 2>"$T/err" ||
        { fail "run $i: $(cat "$T/err")"; break; }
    i=$((i + 1))
done
expect 0 "$C" -J "$J" prune --archive "$A" --reason "test retention" --keep-last 2 -o json
json_is "$T/out" 'j["pruned"] == 28'

size() { stat -c %s "$J/data.mdb"; }
# What LMDB's compacting copy makes of the pruned journal (on a copy: the
# tool would put its lock file beside the file it reads).
cp "$J/data.mdb" "$T/copy.mdb"
mdb_copy -n -c "$T/copy.mdb" "$T/cp.mdb" || fail "mdb_copy -c"
cp_size=$(stat -c %s "$T/cp.mdb")

expect 0 "$C" -J "$J" compact --dry-run -o json && cp "$T/out" "$T/dry.json"
dry_after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size_after"])' "$T/dry.json")
expect 0 "$C" -J "$J" compact -o json
json_is "$T/out" "j['size_after'] == $dry_after"
after=$(size)
CHECKS=$((CHECKS + 2))
[ "$after" -eq "$dry_after" ] || fail "compacted to $after bytes, --dry-run said $dry_after"
# At most 3/4 of the compacting copy (about half of it here).
[ $((after * 4)) -le $((cp_size * 3)) ] ||
    fail "compacted to $after bytes; LMDB's compacting copy is $cp_size"
echo "pruned journal: mdb_copy -c $cp_size bytes, cairn compact $after bytes"
expect 0 "$C" -J "$J" verify --all --key "$T/k.pub" &&
    grep -q "overall *: VERIFIED (30 runs)" "$T/out" ||
    fail "verify after compact: $(cat "$T/out")"
ls -a "$J" | grep -q '^\.cairn-compact-' && fail "compact left a temporary file"
CHECKS=$((CHECKS + 1))

# --- the owner's dry run in a directory it cannot write ---------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "not root: the read-only directory check is skipped"
    finish
fi
OWNER="cairn-cmp-$$"
useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER" ||
    { OWNER=""; fail "useradd"; finish; }
chmod 755 "$T"
cp "$C" "$T/cairn" && chmod 755 "$T/cairn"
expect 0 "$T/cairn" -J "$J" run "$T/plan.json" -q # free pages again
chown -R "$OWNER" "$J"
chmod 555 "$J"
as_owner() { runuser -u "$OWNER" -- env TMPDIR=/nonexistent "$@"; }
sum0=$(sha256sum "$J/data.mdb")
expect 0 as_owner "$T/cairn" -J "$J" compact --dry-run -o json &&
    cp "$T/out" "$T/dry2.json"
[ "$(sha256sum "$J/data.mdb")" = "$sum0" ] || fail "the dry run changed data.mdb"
CHECKS=$((CHECKS + 1))
dry2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size_after"])' "$T/dry2.json")
expect 1 as_owner "$T/cairn" -J "$J" compact && err_has ".cairn-compact-*: create: Permission denied"
chmod 755 "$J"
expect 0 as_owner "$T/cairn" -J "$J" compact -o json
json_is "$T/out" "j['size_after'] == $dry2 and j['size_after'] < j['size_before']"

finish
