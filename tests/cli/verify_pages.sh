#!/bin/sh
# verify_pages.sh - `cairn verify` on a journal whose data.mdb has one
# page zeroed, for every page in turn: LMDB aborts its verifying child on
# some of them (a zeroed leaf page fails an assertion in
# mdb_cursor_next()) and refuses others.  Whatever LMDB does, the verdict
# is VERIFIED (a free page) or ERROR with exit 6, and the error names
# data.mdb, the zeroed page and its offset; nothing raw from LMDB reaches
# stderr.  Also the error of a journal whose "meta" database page is
# zeroed (the open fails) and of `verify RUN`.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"
C=$CAIRN

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "p", "run_id": "RUN",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "snap", "kind": "snapshot", "target": "db"}]}
JSON

expect 0 "$C" keygen -p "$T/k.pub" -s "$T/k.key" --no-password
export CAIRN_SECRET_KEY="$T/k.key"
# Enough runs with long names that the runs, records and checkpoints
# databases are trees of depth 2 (branch pages above leaf pages).
i=1
while [ $i -le 40 ]; do
    sed "s/\"RUN\"/\"run-$i-with-a-long-name-that-fills-the-pages-of-the-names-database-$i\"/" \
        "$T/plan.json" >"$T/p.json"
    "$C" create "$T/p.json" >/dev/null 2>"$T/err" || fail "create $i: $(cat "$T/err")"
    i=$((i + 1))
done
unset CAIRN_SECRET_KEY
FIRST=run-1-with-a-long-name-that-fills-the-pages-of-the-names-database-1
expect 0 "$C" verify --all --key "$T/k.pub"

# LMDB's page size is the OS page size: read it from meta page 0.
PSIZE=$(od -An -tu4 -j40 -N4 "$CAIRN_DIR/data.mdb" | tr -d ' ')
PAGES=$(($(stat -c %s "$CAIRN_DIR/data.mdb") / PSIZE))
[ "$PAGES" -gt 8 ] || fail "data.mdb has only $PAGES pages"

zero_page() { # zero_page N: $T/z is the journal with page N zeroed
    rm -rf "$T/z"
    cp -r "$CAIRN_DIR" "$T/z"
    dd if=/dev/zero of="$T/z/data.mdb" bs="$PSIZE" seek="$1" count=1 \
        conv=notrunc status=none
}

named=0
killed=0
pg=2
while [ $pg -lt "$PAGES" ]; do
    zero_page $pg
    CHECKS=$((CHECKS + 1))
    timeout 120 "$C" -J "$T/z" verify --all --key "$T/k.pub" \
        >"$T/out" 2>"$T/err"
    rc=$?
    where="data.mdb: page $pg (offset $((pg * PSIZE)))"
    case $rc in
    0) ;;
    6)
        if grep -q '^error .*'"$where" "$T/out"; then
            named=$((named + 1))
        else
            fail "page $pg zeroed: exit 6 without '$where':"
            sed 's/^/    /' "$T/out" >&2
        fi
        grep -q 'killed by signal' "$T/out" && killed=$((killed + 1))
        ;;
    *) fail "page $pg zeroed: exit $rc, want 0 or 6" ;;
    esac
    if [ -s "$T/err" ]; then
        fail "page $pg zeroed: stderr not empty: $(head -c 300 "$T/err")"
    fi
    pg=$((pg + 1))
done
CHECKS=$((CHECKS + 1))
[ $named -ge 5 ] || fail "only $named zeroed pages were named"
echo "verify_pages: $named of $((PAGES - 2)) zeroed pages named, $killed killed the verifier"

# The "meta" database's page: the open fails; the error still names it.
pg=2
found=""
while [ $pg -lt "$PAGES" ] && [ -z "$found" ]; do
    zero_page $pg
    "$C" -J "$T/z" verify --all --key "$T/k.pub" >"$T/out" 2>&1
    grep -q 'of database "meta"' "$T/out" && found=$pg
    pg=$((pg + 1))
done
CHECKS=$((CHECKS + 1))
if [ -z "$found" ]; then
    fail "no zeroed page was named as the \"meta\" database's"
else
    expect 6 "$C" -J "$T/z" verify --all --key "$T/k.pub" -o json &&
        json_is "$T/out" '(j["verdict"] == "ERROR" and j["exit_code"] == 6 and
            "data.mdb: page '"$found"' (offset '"$((found * PSIZE))"') of database \"meta\"" in j["error"])'
    expect 6 "$C" -J "$T/z" verify "$FIRST" --key "$T/k.pub"
    grep -q "^verdict .*data.mdb: page $found (offset" "$T/out" ||
        fail "verify RUN: no page in the verdict: $(cat "$T/out")"
fi

finish
