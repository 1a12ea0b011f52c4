#!/bin/sh
# attack_f2.sh - issue 15's attacks on the CLI, by someone who can write
# the journal directory but holds no secret key: the plan of a run
# rewritten (CREATE record and state, chain redone), and one operation's
# state byte forged (skip a failed snapshot, re-run a completed restore,
# re-run an in-doubt step).  Each is also tried with the log tree, the
# state map and the head's roots rebuilt to match (only the signature can
# then tell).  `resume` and `claim` must exit 4 with nothing executed
# (the attacker's effect files do not appear) and nothing written
# (data.mdb unchanged); `verify --all` must say TAMPERED.  The forging is
# done by build/tests/test_attack_f2 (tests/test_attack_f2.c).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
FORGE="$(dirname "$CAIRN")/tests/test_attack_f2"
OP="$CAIRN_ROOT/tests/runner/op.sh"
D="$T/work"
mkdir -p "$D"
if [ ! -x "$FORGE" ]; then
    echo "$0: $FORGE is missing: build it with make $FORGE" >&2
    exit 1
fi

plan() {
    f=$1
    r=$2
    shift 2
    ops=""
    for o in "$@"; do
        ops="${ops:+$ops,}$o"
    done
    printf '{"cairn_plan":1,"plan_id":"p","run_id":"%s","operations":[%s]}\n' \
        "$r" "$ops" >"$f"
}
op() {
    id=$1
    kind=$2
    extra=$3
    shift 3
    argv="\"sh\",\"$OP\",\"$D\",\"$id\""
    for a in "$@"; do
        argv="$argv,\"$a\""
    done
    printf '{"id":"%s","kind":"%s",%s"run":[%s]}' "$id" "$kind" "$extra" \
        "$argv"
}
effects() {
    if [ -f "$D/effects-$1" ]; then wc -l <"$D/effects-$1" | tr -d ' '; else echo 0; fi
}
sum() {
    sha256sum "$CAIRN_DIR/data.mdb" | cut -d' ' -f1
}

expect 0 "$C" keygen -p "$T/a.pub" -s "$T/a.key" --no-password
export CAIRN_SECRET_KEY="$T/a.key"

# A fresh journal for each attack: $1 names it.
fresh() {
    export CAIRN_DIR="$T/j-$1"
}

# refused WHAT CMD...: exit 4, nothing written.
refused() {
    what=$1
    shift
    before=$(sum)
    expect 4 "$@" || fail "$what: not refused"
    [ "$(sum)" = "$before" ] || fail "$what: data.mdb changed"
}

verify_tampered() {
    expect 4 "$C" verify --all --key "$T/a.pub" || fail "$1: verify"
}

for mode in plain rebuild; do
    # ---- the plan of run b rewritten, then resume b -----------------------
    fresh "plan-$mode"
    plan "$T/b.json" b "$(op pre preflight '' ok)" "$(op work task '' fail 1)"
    expect 1 "$C" run "$T/b.json"
    [ "$(effects work)" = 1 ] || fail "work did not run once"
    "$FORGE" forge-plan "$CAIRN_DIR" b '"work","fail","1"' \
        '"pwned-'$mode'","ok"' $mode || fail "forge-plan ($mode)"
    refused "resume b with a forged plan ($mode)" "$C" resume b
    [ -e "$D/effects-pwned-$mode" ] && fail "the forged plan ran ($mode)"
    refused "claim b with a forged plan ($mode)" "$C" claim b
    verify_tampered "forged plan ($mode)"

    # ---- a failed snapshot forged completed: start/restore must not run ---
    rm -f "$D"/effects-*
    fresh "snap-$mode"
    plan "$T/s.json" s \
        "$(op stop-db stop '"target":"db",' ok)" \
        "$(op snap snapshot '"target":"db",' fail 1)" \
        "$(op start-db start '"target":"db",' ok)" \
        "$(op put restore '' ok)"
    expect 1 "$C" run "$T/s.json"
    starts=$(effects start-db)
    "$FORGE" forge-op "$CAIRN_DIR" s 1 4 $mode || fail "forge-op snap"
    refused "resume s with the snapshot forged completed ($mode)" \
        "$C" resume s
    [ "$(effects start-db)" = "$starts" ] || fail "start ran after the forged snapshot ($mode)"
    [ "$(effects put)" = 0 ] || fail "restore ran after the forged snapshot ($mode)"
    refused "claim s ($mode)" "$C" claim s
    verify_tampered "forged snapshot state ($mode)"

    # ---- a completed restore forged ready: it must not run again ---------
    rm -f "$D"/effects-*
    fresh "restore-$mode"
    plan "$T/r.json" r "$(op put restore '' ok)" "$(op after task '' fail 1)"
    expect 1 "$C" run "$T/r.json"
    [ "$(effects put)" = 1 ] || fail "restore did not run once"
    "$FORGE" forge-op "$CAIRN_DIR" r 0 2 $mode || fail "forge-op restore"
    refused "resume r with the restore forged ready ($mode)" "$C" resume r
    [ "$(effects put)" = 1 ] || fail "the completed restore ran again ($mode)"
    verify_tampered "forged restore state ($mode)"

    # ---- an in-doubt step forged ready: it must not be re-run silently ----
    rm -f "$D"/effects-*
    fresh "doubt-$mode"
    plan "$T/d.json" d "$(op step task '' ok)"
    expect 0 "$C" create "$T/d.json"
    expect 0 "$C" accept-preflight d --id pf
    sh -c 'exit 0' &
    dead=$!
    wait $dead
    expect 0 "$C" claim d --holder-pid $dead
    "$FORGE" forge-op "$CAIRN_DIR" d 0 2 $mode || fail "forge-op in doubt"
    refused "resume d with the in-doubt step forged ready ($mode)" \
        "$C" resume d
    [ "$(effects step)" = 0 ] || fail "the in-doubt step ran ($mode)"
    refused "claim d ($mode)" "$C" claim d
    verify_tampered "forged in-doubt state ($mode)"
done

finish
