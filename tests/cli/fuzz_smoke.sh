#!/bin/sh
# fuzz_smoke.sh - CI smoke run of every libFuzzer target (docs/FUZZING.md).
# Builds the targets exactly as `make fuzz-build` does (into build-fuzz/,
# reusing what is up to date there), then runs each one for
# CAIRN_FUZZ_SMOKE_SECONDS (default 5) over a scratch copy of its committed
# corpus, two at a time.  Fails on a build error or on any finding (crash,
# sanitizer report, leak, timeout, OOM; the reproducer is kept as
# build-fuzz/smoke-<target>-crash-...).  SKIPs, with the reason, when clang,
# libFuzzer or make is missing, or when CAIRN_FUZZ_SMOKE=0.
# Budget: about 10-20 s of building when build-fuzz/ is warm (a minute or
# so cold on 2 cores) plus 10 x 5 s of fuzzing on two lanes.
set -u
: "${CAIRN_ROOT:?set CAIRN_ROOT to the repository root}"
ROOT=$CAIRN_ROOT
SECS=${CAIRN_FUZZ_SMOKE_SECONDS:-5}

skip() {
    echo "SKIP: fuzz_smoke: $*"
    exit 0
}

[ "${CAIRN_FUZZ_SMOKE:-1}" = 0 ] && skip "CAIRN_FUZZ_SMOKE=0"
case "$SECS" in
'' | *[!0-9]*) echo "FAIL: CAIRN_FUZZ_SMOKE_SECONDS='$SECS' is not a number"
    exit 1 ;;
esac
[ "$SECS" -gt 0 ] || skip "CAIRN_FUZZ_SMOKE_SECONDS=0"
command -v clang >/dev/null 2>&1 || skip "clang not found (make deps)"
command -v make >/dev/null 2>&1 || skip "make not found"

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT

# libFuzzer ships separately from clang on Debian (libclang-rt-NN-dev).
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$T/probe.c"
clang -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" \
    >"$T/probe.log" 2>&1 ||
    skip "clang cannot link -fsanitize=fuzzer (libclang-rt-NN-dev missing?):" \
        "$(head -n 1 "$T/probe.log")"

# Run make on its own, outside the jobserver of a calling `make check`.
unset MAKEFLAGS MFLAGS MAKELEVEL
if ! make --no-print-directory -C "$ROOT" -j2 fuzz-build >"$T/build.log" 2>&1; then
    echo "FAIL: make fuzz-build:"
    grep -E 'error|Error' "$T/build.log" | head -n 20
    exit 1
fi

OUT="$ROOT/build-fuzz"
rm -f "$OUT"/smoke-*
fails=0

# smoke NAME: fuzz one target for $SECS s; writes $T/NAME.log, $T/NAME.rc.
smoke() {
    n=$1
    mkdir -p "$T/work-$n"
    dict=""
    [ -f "$ROOT/fuzz/$n.dict" ] && dict="-dict=$ROOT/fuzz/$n.dict"
    # shellcheck disable=SC2086
    "$OUT/fuzz_$n" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 $dict -artifact_prefix="$OUT/smoke-$n-" \
        "$T/work-$n" "$ROOT/fuzz/corpus/$n" >"$T/$n.log" 2>&1
    echo $? >"$T/$n.rc"
}

report() {
    n=$1
    rc=$(cat "$T/$n.rc")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$n.log")
    if [ "$rc" -eq 0 ]; then
        echo "ok   fuzz $n: ${execs:-?} runs in $SECS s"
    else
        fails=$((fails + 1))
        repro=""
        for a in "$OUT"/smoke-"$n"-*; do
            [ -e "$a" ] && repro=$a
        done
        echo "FAIL: fuzz $n exited $rc; reproducer: ${repro:-none}"
        grep -v -E '^(#[0-9]|INFO:|MERGE)' "$T/$n.log" | tail -n 40 |
            sed 's/^/    /'
    fi
}

names=""
for f in "$ROOT"/fuzz/fuzz_*.c; do
    [ -f "$f" ] || continue
    b=${f##*/fuzz_}
    names="$names ${b%.c}"
done
# shellcheck disable=SC2086 # target names are single words
set -- $names
[ $# -gt 0 ] || { echo "FAIL: no fuzz/fuzz_*.c targets"; exit 1; }
while [ $# -gt 0 ]; do
    a=$1
    shift
    smoke "$a" &
    pa=$!
    b=""
    if [ $# -gt 0 ]; then
        b=$1
        shift
        smoke "$b" &
        pb=$!
        wait "$pb"
    fi
    wait "$pa"
    report "$a"
    [ -n "$b" ] && report "$b"
done
[ "$fails" -eq 0 ] || { echo "FAIL: $fails fuzz target(s) found something"; exit 1; }
echo "fuzz_smoke: all targets clean"
