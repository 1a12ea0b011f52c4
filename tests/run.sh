#!/bin/sh
# Run the whole suite in $BUILD: cmocka programs, CLI scripts, fuzz corpus
# replays.  Prints one line per suite and a final "N passed, M failed".
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in
/*) OUT="$BUILD" ;;
*) OUT="$ROOT/$BUILD" ;;
esac
CAIRN="$OUT/cairn"
export CAIRN
export CAIRN_ROOT="$ROOT"
passed=0
failed=0
failures=""
log=$(mktemp)
# Remembered checkpoints of the programs that run cairn outside a CLI
# script (tests/cli/common.inc gives each script its own): never the
# user's store under $HOME.
cps=$(mktemp -d)
export CAIRN_CHECKPOINTS="$cps/checkpoints"
trap 'rm -f "$log"; rm -rf "$cps"' EXIT

for t in "$OUT"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if "$t" >"$log" 2>&1; then
        n=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        n=${n:-1}
        passed=$((passed + n))
        echo "ok   $name ($n)"
    else
        n=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        n=${n:-1}
        p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
        passed=$((passed + ${p:-0}))
        failed=$((failed + n))
        failures="$failures $name"
        echo "FAIL $name"
        sed 's/^/    /' "$log" | tail -n 60
    fi
done

# A failing script shows its last 60 lines, and before them every line
# that names a violation or a seed (the crash suite's VIOLATION lines and
# the seed that repeats the run), however many there are.
for s in "$ROOT"/tests/cli/*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s")
    if sh "$s" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAIL $name"
        grep -E '^(VIOLATION|crash suite:)|kept ' "$log" | sed 's/^/    /'
        sed 's/^/    /' "$log" | tail -n 60
    fi
done

for r in "$OUT"/fuzz/replay_*; do
    [ -x "$r" ] || continue
    name=${r##*/replay_}
    dir="$ROOT/fuzz/corpus/$name"
    if "$r" "$dir" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   fuzz-replay $name ($(tail -n 1 "$log"))"
    else
        failed=$((failed + 1))
        failures="$failures fuzz-replay-$name"
        echo "FAIL fuzz-replay $name"
        sed 's/^/    /' "$log" | tail -n 40
    fi
done

[ -n "$failures" ] && echo "failed:$failures"
echo "$BUILD: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
