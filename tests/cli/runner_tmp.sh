#!/bin/sh
# runner_tmp.sh - the runner's output files are private (issue 12, case
# 1): another local user who pre-creates the journal's tmp/ (mode 0777)
# or plants a symlink there cannot replace a command's $CAIRN_OUTPUT file
# and get forged outputs signed: the runner refuses such a tmp/ (exit 6,
# naming it), creates its own 0700, and reads the outputs back through the
# descriptor it created, so that replacing the file by name changes
# nothing.  The second user is created here and removed after (needs
# root and useradd; skipped otherwise).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

C=$CAIRN
"$C" keygen -p "$T/k.pub" -s "$T/k.sec" --no-password >/dev/null 2>&1 ||
    fail "keygen"
export CAIRN_SECRET_KEY="$T/k.sec"
J="$T/journal"

plan() {
    cat >"$T/$1.json" <<EOF2
{"cairn_plan":1,"plan_id":"t","run_id":"$1","operations":[
 {"id":"snap","kind":"task","requires":["digest"],
  "run":["sh","-c","echo digest=good >> \\"\$CAIRN_OUTPUT\\"; $2"]}]}
EOF2
}

# Our own tmp/ is created 0700.
plan t-1 "true"
expect 0 "$C" run "$T/t-1.json"
CHECKS=$((CHECKS + 1))
[ "$(stat -c %a "$J/tmp")" = 700 ] || fail "tmp/ is $(stat -c %a "$J/tmp")"

# A command that replaces its outputs file by name (a rename over it)
# does not change what the runner reads: the descriptor it created.
cat >"$T/swap.sh" <<'EOS'
#!/bin/sh
echo digest=good >>"$CAIRN_OUTPUT"
echo digest=forged >"$CAIRN_OUTPUT.x"
mv "$CAIRN_OUTPUT.x" "$CAIRN_OUTPUT"
EOS
cat >"$T/t-2.json" <<EOF2
{"cairn_plan":1,"plan_id":"t","run_id":"t-2","operations":[
 {"id":"snap","kind":"task","requires":["digest"],"run":["sh","$T/swap.sh"]}]}
EOF2
expect 0 "$C" run "$T/t-2.json"
expect 0 "$C" show t-2 --op 0 -o json
json_is "$T/out" "j['records'][-1]['outputs'] == {'digest': 'good'}"

# A symlinked tmp/ is refused, never followed.
rm -rf "$J/tmp"
mkdir "$T/elsewhere"
ln -s "$T/elsewhere" "$J/tmp"
plan t-3 "true"
expect 6 "$C" run "$T/t-3.json"
err_has "$J/tmp: a symbolic link, refused"
CHECKS=$((CHECKS + 1))
[ -z "$(ls -A "$T/elsewhere")" ] || fail "a file was made through the symlink"
rm -f "$J/tmp"

# A tmp/ of mode 0777 is refused even when it is ours.
mkdir -m 0777 "$J/tmp"
chmod 0777 "$J/tmp"
expect 6 "$C" run "$T/t-3.json"
err_has "$J/tmp: mode 0777 lets other users in"
CHECKS=$((CHECKS + 1))
"$C" status t-3 >/dev/null 2>&1 && fail "run t-3 was created although tmp/ was refused"
rmdir "$J/tmp"

# Another user's tmp/ (the attack of issue 12): refused, nothing signed.
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null 2>&1; then
    echo "$0: not root or no useradd: the second-user case is skipped" >&2
    finish
fi
U="cairnatk$$"
useradd -M -N -s /bin/sh "$U" 2>/dev/null || { fail "useradd $U"; finish; }
# stop_attacker: end the other user's loop (by its pid) and wait for it.
stop_attacker() {
    [ -s "$T/atk.pid" ] && kill "$(cat "$T/atk.pid")" 2>/dev/null
    [ -n "${ATK-}" ] && kill "$ATK" 2>/dev/null
    i=0
    while [ -s "$T/atk.pid" ] && kill -0 "$(cat "$T/atk.pid")" 2>/dev/null &&
        [ $i -lt 500 ]; do
        sleep 0.01
        i=$((i + 1))
    done
}
drop_user() {
    stop_attacker
    i=0
    until userdel "$U" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 50 ] || return 1
        sleep 0.1
    done
}
trap 'drop_user; rm -rf "$T"' EXIT
chmod 0755 "$T"
chmod 0777 "$J"
runuser -u "$U" -- mkdir -m 0777 "$J/tmp" || fail "the other user cannot mkdir"
: >"$T/atk.pid"
chmod 0666 "$T/atk.pid"
# The attacker swaps any outputs file for a forged one as soon as it
# appears.
runuser -u "$U" -- sh -c '
    echo $$ > "$2"
    i=0
    while [ $i -lt 600 ]; do
        for f in "$1"/tmp/run-*.out-*; do
            [ -e "$f" ] || continue
            echo digest=forged > "$f.x" && mv -f "$f.x" "$f"
        done
        i=$((i + 1)); sleep 0.05
    done' sh "$J" "$T/atk.pid" &
ATK=$!
plan t-4 "sleep 1"
expect 6 "$C" run "$T/t-4.json"
err_has "$J/tmp: owned by uid"
stop_attacker
wait "$ATK" 2>/dev/null
expect 0 "$C" verify --all --key "$T/k.pub"
grep -q forged "$T/out" && fail "forged output in the journal"
CHECKS=$((CHECKS + 1))
"$C" export t-4 --format json >"$T/t4.json" 2>/dev/null &&
    fail "run t-4 exists although tmp/ was refused"
rm -rf "$J/tmp"
drop_user || fail "userdel $U"
trap 'rm -rf "$T"' EXIT

finish
