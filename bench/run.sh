#!/bin/sh
# bench/run.sh BUILD - build cairn-bench against BUILD/libcairn.a, run it
# in a fresh directory and print the machine and the table (make bench).
#
#   BENCH_DIR=DIR      where to measure (default: a new directory under
#                      ${TMPDIR:-/var/tmp}; it must be on the file system
#                      you care about, not a tmpfs)
#   BENCH_REPS=N       repetitions, 5..32 (default 5)
#   BENCH_RECORDS=N    records in the verify journal (default 1000000)
#   BENCH_ONLY=LIST    limits,latency,throughput,sqlite,json,verify,compact,prune
#   BENCH_QUICK=1      small counts: a smoke run, not the documented numbers
set -eu
BUILD=${1:-build}
CC=${CC:-cc}
bin="$BUILD/bench/cairn-bench"
mkdir -p "$BUILD/bench"
WARN="-Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow \
-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wcast-qual -Wformat=2 \
-Wundef -Wwrite-strings -Wswitch-enum -Wimplicit-fallthrough -Werror"
# shellcheck disable=SC2086
$CC -std=c11 -D_GNU_SOURCE -Iinclude -Ilib -Ibench $WARN -O2 -g \
    -o "$bin" bench/*.c "$BUILD/libcairn.a" \
    -llmdb -lsodium -ljansson -lzstd -lsqlite3 -lpthread

cleanup=0
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/var/tmp}/cairn-bench.XXXXXX")
    cleanup=1
fi
mkdir -p "$dir"
trap '[ "$cleanup" = 1 ] && rm -rf "$dir"' EXIT INT TERM

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
fs=$(df -PT "$dir" | awk 'NR == 2 { print $2 " on " $1 }')
echo "machine: $(nproc) CPUs ($cpu), Linux $(uname -r), bench dir $dir ($fs)"
echo "note: other work on the machine shows up as noise; the table gives" \
     "medians and the spread over repetitions."
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" "$dir"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
