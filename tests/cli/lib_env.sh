#!/bin/sh
# lib_env.sh - the library reads no environment variable: settings are
# cairn_journal_opts, mapped from the environment by the CLI only
# (scripts/check-env.sh names the one documented exception, the runner's
# passthrough of PATH, HOME ... to the commands it spawns).
set -u
. "$CAIRN_ROOT/tests/cli/common.inc"

expect 0 sh "$CAIRN_ROOT/scripts/check-env.sh" "$CAIRN_ROOT" ||
    sed 's/^/    /' "$T/err" >&2

# The check itself fails on a getenv in lib/ (a copy of the tree's lib/).
mkdir -p "$T/tree/lib/store" "$T/tree/lib/runner"
cp "$CAIRN_ROOT/lib/runner/runner_cmd.c" "$T/tree/lib/runner/"
printf 'static const char *x(void) { return getenv("CAIRN_X"); }\n' \
    >"$T/tree/lib/store/bad.c"
expect 1 sh "$CAIRN_ROOT/scripts/check-env.sh" "$T/tree" &&
    err_has 'lib/store/bad.c:1:'

finish
