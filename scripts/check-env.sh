#!/bin/sh
# check-env.sh - fail when lib/ reads or changes the process environment.
#
# The library takes its settings as options (cairn_journal_opts,
# cairn_runner_opts); the CLI reads the environment variables and maps
# them (cmd/cli_journal.c, cli_journal_opts()).  One reading is the
# runner's by contract and allowed here: cairn__runner_env_init()
# (lib/runner/runner_cmd.c) copies PATH, HOME, USER, LOGNAME, LANG,
# LC_ALL, TZ and TMPDIR from the runner's own environment into the clean
# environment of the commands it spawns (include/cairn.h, "Commands see a
# clean environment"; cairn(1), ENVIRONMENT).  That builds a child's
# environment; it configures nothing in the library.
#
# Usage: sh scripts/check-env.sh [ROOT]     (ROOT defaults to .)
set -u
root=${1:-.}
cd "$root" || exit 2

pattern='\b(secure_getenv|getenv|setenv|unsetenv|putenv|clearenv)[[:space:]]*\(|\b(environ|__environ)\b'
allowed='^lib/runner/runner_cmd\.c:[0-9]+: +const char \*v = getenv\(passthrough\[i\]\);$'

found=$(grep -rnE "$pattern" lib/ | grep -vE "$allowed")
if [ -n "$found" ]; then
    echo "check-env: lib/ must not read the environment (pass an option):" >&2
    echo "$found" | sed 's/^/    /' >&2
    exit 1
fi
# The allowed reading is still where this script says it is.
if ! grep -rnE "$pattern" lib/ | grep -qE "$allowed"; then
    echo "check-env: the runner's passthrough read moved; update $0" >&2
    exit 1
fi
echo "check-env: lib/ reads no environment (one documented runner read)"
