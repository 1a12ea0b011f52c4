#!/bin/sh
# tamper_f2.sh - `cairn verify` of a format-2 journal on the CLI: the
# journal head in the text and JSON reports (format, size, roots, runs,
# signed, signature state), a key mismatch (exit 3, not tampering), an
# unsigned journal (never VERIFIED with a key), and a changed log tree
# node (exit 4, the first bad node by level and index, with and without a
# key; a single run whose inclusion proof uses it).  The sweep of every
# attack is tests/test_verify_f2.c; the forging tool is
# build/tests/test_attack_f2 (tests/test_attack_f2.c).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
FORGE="$(dirname "$CAIRN")/tests/test_attack_f2"
if [ ! -x "$FORGE" ]; then
    echo "$0: $FORGE is missing: build it with make $FORGE" >&2
    exit 1
fi

cat >"$T/plan.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "v", "run_id": "v-1",
 "operations": [{"id": "pre", "kind": "preflight"},
                {"id": "stop", "kind": "stop", "target": "db"},
                {"id": "start", "kind": "start", "target": "db"}]}
JSON

expect 0 "$C" keygen -p "$T/a.pub" -s "$T/a.key" --no-password
expect 0 "$C" keygen -p "$T/b.pub" -s "$T/b.key" --no-password
export CAIRN_SECRET_KEY="$T/a.key"
expect 0 "$C" create "$T/plan.json"
expect 0 "$C" claim v-1 --holder-pid $$
expect 0 "$C" complete v-1 --op 0
sed 's/"v-1"/"v-2"/' "$T/plan.json" >"$T/p2.json"
expect 0 "$C" create "$T/p2.json"
unset CAIRN_SECRET_KEY
# 4 records (v-1: 3, v-2: 1), 2 runs.

# ---- honest ----------------------------------------------------------------
expect 0 "$C" verify --all --key "$T/a.pub"
grep -q '^journal head: format 2, 4 records, 2 runs' "$T/out" || fail "journal head line"
grep -q '^head sig    : verified' "$T/out" || fail "head sig line"
grep -q '^directory   : VERIFIED' "$T/out" || fail "directory line"
expect 0 "$C" verify --all --key "$T/a.pub" -o json && cp "$T/out" "$T/all.json"
json_is "$T/all.json" '(j["verdict"] == "VERIFIED" and
    j["directory"]["format"] == 2 and
    j["directory"]["journal_head"]["size"] == 4 and
    j["directory"]["journal_head"]["runs"] == 2 and
    len(j["directory"]["journal_head"]["root"]) == 64 and
    len(j["directory"]["journal_head"]["state_root"]) == 64 and
    j["directory"]["journal_head"]["signed"] and
    j["directory"]["journal_head"]["signature"] == "verified" and
    len(j["directory"]["journal_head"]["key_id"]) == 8)'
expect 0 "$C" verify v-1 --key "$T/a.pub" -o json && cp "$T/out" "$T/one.json"
json_is "$T/one.json" '(j["verdict"] == "VERIFIED" and j["format"] == 2 and
    j["journal_head"]["signature"] == "verified" and
    j["journal_head"]["size"] == 4)'
expect 3 "$C" verify --all
grep -q '^head sig    : not-checked' "$T/out" || fail "head sig without a key"

# ---- another key: a key mismatch, not tampering (head and runs) ------------
expect 3 "$C" verify --all --key "$T/b.pub" -o json && cp "$T/out" "$T/b.json"
json_is "$T/b.json" '(j["verdict"] == "INCOMPLETE" and
    all(r["key_mismatch"] for r in j["runs"]) and
    j["directory"]["verdict"] == "INCOMPLETE" and
    j["directory"]["exit_code"] == 3 and
    "key mismatch" in j["directory"]["reason"] and
    j["directory"]["journal_head"]["signature"] == "key-mismatch")'

# ---- a changed node of the log tree ---------------------------------------
cp -r "$CAIRN_DIR" "$T/honest"
"$FORGE" forge-node "$CAIRN_DIR" 1 1 || fail "forge-node"
expect 4 "$C" verify --all --key "$T/a.pub"
grep -q '^directory   : TAMPERED, field tree, node level 1 index 1' "$T/out" ||
    fail "directory line of a bad node: $(grep directory "$T/out")"
expect 4 "$C" verify --all -o json && cp "$T/out" "$T/node.json"
json_is "$T/node.json" '(j["directory"]["verdict"] == "TAMPERED" and
    j["directory"]["first_bad"]["field"] == "tree" and
    j["directory"]["first_bad"]["node"] == {"level": 1, "index": 1} and
    len(j["directory"]["first_bad"]["expected"]) == 64 and
    len(j["directory"]["first_bad"]["found"]) == 64)'
# v-2's last record is leaf 3: its inclusion proof uses node (1, 0), not
# (1, 1); v-1's last record is leaf 2, whose proof uses (0, 3) and (1, 0).
# Break (1, 0) instead: every single run sees it.
rm -rf "$CAIRN_DIR"
cp -r "$T/honest" "$CAIRN_DIR"
"$FORGE" forge-node "$CAIRN_DIR" 1 0 || fail "forge-node 1 0"
expect 4 "$C" verify v-1 --key "$T/a.pub" -o json && cp "$T/out" "$T/v1.json"
json_is "$T/v1.json" '(j["verdict"] == "TAMPERED" and
    j["first_bad"]["field"] == "tree")'
expect 4 "$C" verify v-2 --key "$T/a.pub"
grep -q '^first bad   : field tree' "$T/out" || fail "single run first bad"

# ---- an unsigned journal ----------------------------------------------------
export CAIRN_DIR="$T/unsigned"
expect 0 "$C" create "$T/plan.json"
expect 3 "$C" verify --all --key "$T/a.pub" -o json && cp "$T/out" "$T/u.json"
json_is "$T/u.json" '(j["directory"]["verdict"] == "INCOMPLETE" and
    "unsigned" in j["directory"]["reason"] and
    j["directory"]["journal_head"]["signed"] == False and
    j["directory"]["journal_head"]["signature"] == "unsigned")'

finish
