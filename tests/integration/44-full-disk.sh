#!/bin/sh
# 44-full-disk.sh - a card image created on a full disk: a clear error naming
# the file and the cause, exit 1, and no half-written file left behind (the
# image is written under a temporary name and renamed when whole). Runs in a
# private mount namespace with a 100 KiB tmpfs (needs root, as make check is).
#
# Run from the top of the tree: B=build sh tests/integration/44-full-disk.sh
set -u
B=${B:-build}
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
    echo "44-full-disk: needs root and unshare (util-linux)" >&2
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-44-full.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
ADMIN=$(pwd)/$B/bin/kc-admin
case $B in /*) ADMIN=$B/bin/kc-admin ;; esac
mkdir -p "$T/disk"
unshare -m sh -c '
    mount -t tmpfs -o size=100k kc-full "$1" || exit 3
    "$2" --sim "$1/keycard.state" info >"$1.out" 2>&1
    echo "rc=$?" >>"$1.out"
    ls -A "$1" >"$1.ls"
' sh "$T/disk" "$ADMIN" 2>/dev/null
fails=0
sed 's/^/#   /' "$T/disk.out"
if grep -q '^rc=1$' "$T/disk.out" && grep -q 'cannot create flash image .*keycard.state.*No space left' "$T/disk.out"; then
    echo "ok 1 - a full disk: exit 1, the file and the cause named"
else
    echo "not ok 1 - a full disk: message or exit status"
    fails=1
fi
if [ -s "$T/disk.ls" ]; then
    echo "not ok 2 - files left on the full disk: $(tr '\n' ' ' <"$T/disk.ls")"
    fails=1
else
    echo "ok 2 - nothing left on the full disk (no half image, no temporary file)"
fi
echo "44-full-disk: 2 checks, $fails failed"
[ "$fails" -eq 0 ]
