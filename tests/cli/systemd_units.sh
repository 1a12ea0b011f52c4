#!/bin/sh
# systemd_units.sh - examples/systemd: the service and timer pass
# `systemd-analyze verify` without a single warning (a broken copy does
# not), and cairn-nightly, their ExecStart, starts a new run or finishes
# the last one as its header says.
#
# systemd-analyze verify works in a container without a running systemd:
# it loads the units from the directory of the files named, checks every
# setting, that ExecStart= is executable and that Documentation=man:
# pages exist (through man(1)).  Two things are set up for it, not faked:
# the units are rendered with /usr/local/bin/ (the install prefix in the
# files) replaced by a directory holding cairn-nightly, and MANPATH names
# a directory holding docs/cairn.1 as man1/cairn.1.  It exits 0 on
# unknown keys and unparsable values it ignores, so any output fails too.
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

E="$CAIRN_ROOT/examples/systemd"
for t in systemd-analyze jq man; do
    command -v "$t" >/dev/null 2>&1 || {
        echo "$0: $t is missing: run 'make deps' (packages systemd, jq, man-db)" >&2
        exit 1
    }
done

mkdir -p "$T/units" "$T/bin" "$T/man/man1"
cp "$CAIRN_ROOT/docs/cairn.1" "$T/man/man1/cairn.1"
ln -s "$E/cairn-nightly" "$T/bin/cairn-nightly"
for u in cairn-backup@.service cairn-backup@.timer; do
    sed "s|/usr/local/bin/|$T/bin/|g" "$E/$u" >"$T/units/$u"
done
CHECKS=$((CHECKS + 1))
grep -q "^ExecStart=$T/bin/cairn-nightly " "$T/units/cairn-backup@.service" ||
    fail "ExecStart is not /usr/local/bin/cairn-nightly"

# analyze DIR: verify the redis instance of the service and of the timer.
analyze() {
    (cd "$1" && MANPATH="$T/man" SYSTEMD_LOG_LEVEL=notice \
        systemd-analyze verify --man=yes \
        ./cairn-backup@redis.service ./cairn-backup@redis.timer)
}
CHECKS=$((CHECKS + 1))
if analyze "$T/units" >"$T/an.out" 2>&1; then
    [ -s "$T/an.out" ] && fail "systemd-analyze verify warned: $(cat "$T/an.out")"
else
    fail "systemd-analyze verify failed: $(cat "$T/an.out")"
fi

# The check can fail: a misspelt key (exit 0, a warning), a timer without
# a trigger (exit 1), a missing man page (exit 1).
mkdir -p "$T/bad"
cp "$T/units/"* "$T/bad/"
sed -i 's/^Nice=10/Nise=10/' "$T/bad/cairn-backup@.service"
CHECKS=$((CHECKS + 1))
analyze "$T/bad" >"$T/an.out" 2>&1
grep -q "Unknown key 'Nise'" "$T/an.out" || fail "misspelt key not reported: $(cat "$T/an.out")"
cp "$T/units/"* "$T/bad/"
sed -i 's/^OnCalendar=.*/OnCalendar=nightly-ish/' "$T/bad/cairn-backup@.timer"
CHECKS=$((CHECKS + 1))
analyze "$T/bad" >"$T/an.out" 2>&1 && fail "bad OnCalendar accepted"
cp "$T/units/"* "$T/bad/"
CHECKS=$((CHECKS + 1))
(MANPATH="$T/nowhere" && export MANPATH && cd "$T/bad" &&
    systemd-analyze verify ./cairn-backup@redis.service) >"$T/an.out" 2>&1 &&
    fail "missing man page accepted"

# The units say what the issue asks: a randomized delay, resume semantics
# through cairn-nightly, SIGTERM to cairn alone.
for want in 'RandomizedDelaySec=1h' 'Persistent=true'; do
    CHECKS=$((CHECKS + 1))
    grep -qx "$want" "$E/cairn-backup@.timer" || fail "timer lacks $want"
done
for want in 'KillMode=mixed' 'Type=oneshot' 'NoNewPrivileges=yes'; do
    CHECKS=$((CHECKS + 1))
    grep -qx "$want" "$E/cairn-backup@.service" || fail "service lacks $want"
done

# ---- cairn-nightly ---------------------------------------------------------
N="$E/cairn-nightly"
export CAIRN="$CAIRN"
mkdir -p "$T/site"
cat >"$T/site/backup.json" <<'JSON'
{"cairn_plan": 1, "plan_id": "nightly",
 "operations": [
   {"id": "check", "kind": "preflight", "run": ["true"]},
   {"id": "one", "kind": "task", "run": ["true"], "idempotent": true},
   {"id": "two", "kind": "task", "run": ["sh", "-c", "echo x >>ran-two"]}
 ]}
JSON
runs() {
    "$CAIRN" list -o json | jq --arg p "$1" '[.[] | select(.plan_id == $p)] | length'
}
cd "$T/site" || exit 1
expect 2 sh "$N"
err_has "usage: cairn-nightly PLAN"
printf '{"cairn_plan": 1}' >"$T/noid.json"
expect 2 sh "$N" "$T/noid.json"
err_has "no plan_id"

# No run yet: a new one; it completed: another new one.
expect 0 sh "$N" backup.json
err_has "new run of backup.json"
first=$(head -n 1 "$T/out")
status_is "$first" 's["state"] == "completed"'
expect 0 sh "$N" "$T/site/backup.json"
err_has "last run $first: completed"
CHECKS=$((CHECKS + 1))
[ "$(runs nightly)" = 2 ] || fail "runs: $(runs nightly), want 2"

# A run stopped half way (--max-steps): resumed, no new run.
expect 0 "$CAIRN" run backup.json --max-steps 2
half=$(head -n 1 "$T/out")
status_is "$half" 's["state"] == "running"'
expect 0 sh "$N" backup.json
err_has "resuming $half (running)"
status_is "$half" 's["state"] == "completed"'
CHECKS=$((CHECKS + 1))
[ "$(runs nightly)" = 3 ] || fail "runs: $(runs nightly), want 3"

# A run with an operation in doubt that nothing settles (no probe, not
# idempotent): resumed, and it needs an operator (exit 7); still no new
# run on top of it, night after night.
expect 0 "$CAIRN" run backup.json --max-steps 2
doubt=$(head -n 1 "$T/out")
# claimed by a shell that exits at once (the claimer is gone).
sh -c '"$1" claim "$2" --op 2 >/dev/null 2>&1; exit 0' sh "$CAIRN" "$doubt"
status_is "$doubt" 's["state"] == "needs-attention" and s["in_doubt"] == [2]'
expect 7 sh "$N" backup.json
err_has "resuming $doubt (needs-attention)"
expect 7 sh "$N" backup.json
CHECKS=$((CHECKS + 1))
[ "$(runs nightly)" = 4 ] || fail "runs: $(runs nightly), want 4"
CHECKS=$((CHECKS + 1))
[ "$(wc -l <ran-two | tr -d ' ')" = 3 ] || fail "two ran $(wc -l <ran-two) times, want 3"
cd / || exit 1
finish
