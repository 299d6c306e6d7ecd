#!/bin/sh
# version.sh - the version is written once (include/keycard.h); every man
# page's header and the built keycard.pc and library name agree with it.
# Run from the top of the tree after a build: B=build sh tests/lint/version.sh
set -u
B=${B:-build}
v=$(sed -n 's/^#define KEYCARD_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/keycard.h |
    paste -sd.)
bad=0
for m in man/*.1; do
    grep -q "^\.TH .* \"keycard $v\"" "$m" || { echo "version: $m does not say keycard $v"; bad=1; }
done
grep -qx "Version: $v" "$B/keycard.pc" || { echo "version: $B/keycard.pc does not say $v"; bad=1; }
[ -e "$B/lib/libkeycard.so.$v" ] || { echo "version: no $B/lib/libkeycard.so.$v"; bad=1; }
[ $bad = 0 ] && echo "version: $v everywhere"
exit $bad
