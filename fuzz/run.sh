#!/bin/sh
# Run every libFuzzer target for $1 seconds (0: just build) over its corpus.
set -u
secs=${1:-0}
[ "$secs" -gt 0 ] 2>/dev/null || { echo "fuzz: built targets in build-fuzz/ (FUZZ_SECONDS=N to run)"; exit 0; }
root=$(cd "$(dirname "$0")/.." && pwd)
rc=0
for t in "$root"/build-fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    n=${t##*/fuzz_}
    work="$root/build-fuzz/corpus-$n"
    mkdir -p "$work"
    dict=""
    [ -f "$root/fuzz/$n.dict" ] && dict="-dict=$root/fuzz/$n.dict"
    echo "== $n ($secs s)"
    # shellcheck disable=SC2086
    "$t" -max_total_time="$secs" -print_final_stats=1 $dict \
        -artifact_prefix="$root/build-fuzz/$n-" "$work" "$root/fuzz/corpus/$n" \
        >"$root/build-fuzz/$n.log" 2>&1 || rc=1
    grep -E 'stat::number_of_executed_units|cov: ' "$root/build-fuzz/$n.log" | tail -n 2
done
exit $rc
