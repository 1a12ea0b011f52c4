#!/bin/sh
# Install (or check for) the Debian packages cairn builds and tests with.
#   sh scripts/deps.sh install   apt-get install what is missing
#   sh scripts/deps.sh check     name what is missing and fail
set -u
PKGS="gcc make clang clang-format libclang-rt-14-dev pkg-config liblmdb-dev lmdb-utils \
libsodium-dev libjansson-dev libcmocka-dev minisign libsqlite3-dev sqlite3 \
tar coreutils python3 \
redis-server redis-tools postgresql restic borgbackup systemd jq man-db \
chromium golang-go golang-golang-x-mod-dev libzstd-dev zstd"
# redis-server, redis-tools, postgresql (15 on Debian 12), restic, borgbackup:
# the real-tool recipes in examples/ and their tests (tests/cli/recipe_*.sh),
# which start private instances and never use the system services.
# systemd, man-db: systemd-analyze verify of examples/systemd (tests/cli/systemd_units.sh).
# jq: the recipes and cairn-nightly read JSON (restic, cairn list) with it.
# chromium: renders the `cairn report --html` page headless and reads back
# its DOM and a screenshot (tests/cli/report_html.sh).
# golang-go, golang-golang-x-mod-dev: Go's sumdb/note and sumdb/tlog check
# cairn's C2SP signed notes, cosignatures and tlog proofs both ways, built
# offline (tests/cli/interop_note.sh, tests/interop/note_check.go), and
# cairn's Merkle trees and proofs (tests/cli/interop_tlog.sh).
# libzstd-dev: `export --bundle --zstd` and reading compressed bundles
# (lib/base/zstd.c); zstd: the CLI tests decompress one with stock zstd.
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
case "${1:-check}" in
install)
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
        echo "cairn: deps: need root or sudo to install:$missing" >&2
        exit 1
    fi
    echo "cairn: deps: installing:$missing" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || exit 1
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing || exit 1
    ;;
*)
    echo "cairn: missing Debian packages:$missing" >&2
    echo "cairn: run 'make deps' (apt-get install$missing)" >&2
    exit 1
    ;;
esac
