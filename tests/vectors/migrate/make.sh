#!/bin/sh
# make.sh - regenerate the format-1 journals of tests/cli/migrate.sh with a
# cairn built before format 2 (`cairn --version` says "journal format 1"),
# e.g. the main branch at c9f2712:
#   sh tests/vectors/migrate/make.sh /path/to/format-1/cairn
# Writes signed.dump (runs m-1, m-2, m-3 signed by a.key: 17 records),
# mixed.dump (m-1 by a.key, x-1 by b.key) and unsigned.dump (u-1, u-2
# without a key): `mdb_dump -a` text, loaded by the test with mdb_load.
# The keys a.key and b.key (no password) are made once and kept: the
# fixtures are signed with them.  Test keys only: never use them.
set -eu
C=$1
HERE=$(cd "$(dirname "$0")" && pwd)
"$C" --version | grep -q "journal format 1" || {
    echo "make.sh: $C does not write journal format 1" >&2
    exit 1
}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export CAIRN_ACTOR=fixture
unset CAIRN_SECRET_KEY CAIRN_PASSWORD
P=$$
for k in a b; do
    [ -f "$HERE/$k.key" ] ||
        "$C" keygen -p "$HERE/$k.pub" -s "$HERE/$k.key" --no-password >/dev/null
done
plan() {
    cat >"$T/$1.json" <<JSON
{"cairn_plan": 1, "plan_id": "m", "run_id": "$1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "stop", "kind": "stop", "target": "db"},
                {"id": "snap", "kind": "snapshot", "target": "db",
                 "requires": ["artifact"]},
                {"id": "start", "kind": "start", "target": "db"}]}
JSON
    echo "$T/$1.json"
}
A="--secret-key $HERE/a.key"
export CAIRN_DIR="$T/signed"
"$C" create $A "$(plan m-1)" >/dev/null
"$C" claim $A m-1 --holder-pid $P >/dev/null
"$C" complete $A m-1 --op 0
"$C" accept-preflight $A m-1 --id pf
"$C" create $A "$(plan m-2)" >/dev/null
"$C" claim $A m-2 --holder-pid $P >/dev/null
"$C" complete $A m-2 --op 0
"$C" accept-preflight $A m-2 --id pf2
"$C" claim $A m-1 --holder-pid $P >/dev/null
"$C" complete $A m-1 --op 1
"$C" claim $A m-2 --holder-pid $P >/dev/null
"$C" complete $A m-2 --op 1
"$C" claim $A m-1 --holder-pid $P >/dev/null
"$C" complete $A m-1 --op 2 --output artifact=/b/x.tar
"$C" create $A "$(plan m-3)" >/dev/null
"$C" cancel $A m-3 --reason "not needed"
"$C" claim $A m-1 --holder-pid $P >/dev/null
export CAIRN_DIR="$T/mixed"
"$C" create $A "$(plan m-1)" >/dev/null
"$C" claim $A m-1 --holder-pid $P >/dev/null
"$C" complete $A m-1 --op 0
"$C" create --secret-key "$HERE/b.key" "$(plan x-1)" >/dev/null
export CAIRN_DIR="$T/unsigned"
"$C" create "$(plan u-1)" >/dev/null 2>&1
"$C" claim u-1 --holder-pid $P >/dev/null 2>&1
"$C" complete u-1 --op 0 2>/dev/null
"$C" create "$(plan u-2)" >/dev/null 2>&1
for d in signed mixed unsigned; do
    # db_pagesize: written by newer mdb_dump, not read by every mdb_load
    mdb_dump -a "$T/$d" | grep -v '^db_pagesize=' >"$HERE/$d.dump"
done
