#!/bin/sh
# Run the libFuzzer targets built by `make fuzz-build` (build-fuzz/) for $1
# seconds each over their committed corpus (0: just say they are built).
# New inputs go to build-fuzz/corpus-<target>/, logs to build-fuzz/<target>.log,
# reproducers to build-fuzz/<target>-crash-... (see docs/FUZZING.md).
# FUZZ_TARGETS="plan record" limits the run to those targets.
set -u
secs=${1:-0}
case "$secs" in
'' | *[!0-9]*) echo "fuzz: FUZZ_SECONDS='$secs' is not a number" >&2; exit 2 ;;
esac
[ "$secs" -gt 0 ] || { echo "fuzz: built targets in build-fuzz/ (FUZZ_SECONDS=N to run)"; exit 0; }
root=$(cd "$(dirname "$0")/.." && pwd)
targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
    for f in "$root"/fuzz/fuzz_*.c; do
        b=${f##*/fuzz_}
        targets="$targets ${b%.c}"
    done
fi
rc=0
bad=""
for n in $targets; do
    t="$root/build-fuzz/fuzz_$n"
    if [ ! -x "$t" ]; then
        echo "fuzz: $t is not built (make fuzz-build)" >&2
        rc=1
        bad="$bad $n"
        continue
    fi
    work="$root/build-fuzz/corpus-$n"
    log="$root/build-fuzz/$n.log"
    mkdir -p "$work"
    dict=""
    [ -f "$root/fuzz/$n.dict" ] && dict="-dict=$root/fuzz/$n.dict"
    echo "== $n ($secs s)"
    # shellcheck disable=SC2086
    if "$t" -max_total_time="$secs" -print_final_stats=1 $dict \
        -artifact_prefix="$root/build-fuzz/$n-" "$work" "$root/fuzz/corpus/$n" \
        >"$log" 2>&1; then
        grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1
        grep -E '^stat::number_of_executed_units' "$log"
    else
        rc=1
        bad="$bad $n"
        echo "FINDING in $n (log: $log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' \
            "$log" | head -n 6
    fi
done
[ -n "$bad" ] && echo "fuzz: failed:$bad"
exit $rc
