#!/bin/sh
# op.sh DIR NAME ACTION [ARGS]: a test operation for tests/cli/runner*.sh
# (test_runner*.c embed the same script in tests/runner/rt.h).  A run that
# "takes effect" appends its attempt number to DIR/effects-NAME.
d=$1; n=$2; a=$3; shift 3
effect() { echo "${CAIRN_ATTEMPT:-?}" >> "$d/effects-$n"; }
case $a in
ok) effect ;;
out) effect; for kv in "$@"; do echo "$kv" >> "$CAIRN_OUTPUT"; done ;;
fail) effect; exit "$1" ;;
slow) echo $$ > "$d/pid-$n"; touch "$d/started-$n"; sleep "$1"; effect ;;
hang) echo $$ > "$d/pid-$n"; sleep 30 & echo $! > "$d/gc-$n"
    touch "$d/started-$n"; wait ;;
*) echo "op.sh: unknown action $a" >&2; exit 99 ;;
esac
