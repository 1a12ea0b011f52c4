#!/bin/sh
# crash.sh - the CI-sized run of the crash and fault-injection suite
# (tests/crash/, docs/DURABILITY.md): SIGKILLs of writers, kill/EIO/short
# write/ENOSPC at every syscall of a bounded workload, 10,000 simulated
# power-loss states, fsync and meta-write failures, disk full, map full,
# allocation failures, process hazards, live copies, crashes during
# recovery, and negative controls, with the scenarios where processes race
# perturbed (--perturb: random yields and sleeps at the commit path's
# publication points, CPU and fsync load, writers pinned to one CPU).
# About 2 minutes on 2 cores.
#
# tests/run.sh runs it with $CAIRN (the CLI); the suite's program and its
# LD_PRELOAD shims are built next to it, in tests/crash/.  The size is
# $CAIRN_CRASH_SCALE (default 1; `make crash` runs a long one), the seed
# $CAIRN_CRASH_SEED (default: time-based, printed).  On failure the output
# names each violation with the seed that repeats it, and the journals
# involved are kept (their paths are printed); tests/run.sh shows every
# VIOLATION line.  CAIRN_CRASH_PERTURB=0 runs it unperturbed.
: "${CAIRN:?set CAIRN to the cairn binary}"
CRASH="$(dirname "$CAIRN")/tests/crash/crash"
if [ ! -x "$CRASH" ]; then
    echo "crash.sh: $CRASH is not built" >&2
    exit 1
fi
# The remembered checkpoints of the suite's CLI runs: its own, never the
# user's or another test's.
CPS=$(mktemp -d "${TMPDIR:-/tmp}/cairn-crash-cps.XXXXXX") || exit 1
trap 'rm -rf "$CPS"' EXIT
export CAIRN_CHECKPOINTS="$CPS/checkpoints"
if [ "${CAIRN_CRASH_PERTURB:-1}" = 0 ]; then
    "$CRASH" --cli "$CAIRN"
else
    "$CRASH" --perturb --cli "$CAIRN"
fi
