#!/bin/sh
# proto-once.sh - each protocol constant is defined once (part of `make check`):
#   1. wire constants (class, instruction, tag, status word, seeding way, lock,
#      state and info names of either card) are #defined only in the wire
#      headers include/keycard_proto.h and include/keycard_target_proto.h;
#   2. no KC_*, TC_* or KEYCARD_* macro is #defined in two files.
# Prints each offence and exits 1 when there is one. PROTO_ONCE_PLANT=1 plants
# one of each offence, to show that the check can fail.
#
# Run from the top of the tree: sh tests/lint/proto-once.sh
set -u
WIRE='^(KC|TC|TGT|KCI|KCS)_(CLA|INS|TAG|SW|WAY|LOCK|STATE|INFO)_'
bad=0
defs=$(mktemp) || exit 1
trap 'rm -f "$defs"' EXIT
# file name: every #define of the project's C sources (tests included).
find include keycard libkeycard tools issuance examples tests -name '*.[ch]' | sort | while read -r f; do
    sed -n 's/^[[:space:]]*#[[:space:]]*define[[:space:]]\{1,\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$f" |
        sort -u | sed "s|^|$f |"
done >"$defs"
# PROTO_ONCE_PLANT=1: a constant planted twice, once outside the wire headers,
# to show that the check fails (make check runs it that way too).
if [ "${PROTO_ONCE_PLANT:-0}" = 1 ]; then
    echo "libkeycard/planted.c KC_INS_PLANTED" >>"$defs"
    echo "include/keycard_proto.h KC_INS_PLANTED" >>"$defs"
fi
out=$(awk -v wire="$WIRE" '
    $2 ~ wire && $2 !~ /_H$/ && $1 != "include/keycard_proto.h" && $1 != "include/keycard_target_proto.h" {
        print "wire constant " $2 " defined outside the wire headers: " $1 }' "$defs")
[ -z "$out" ] || { echo "$out"; bad=1; }
out=$(awk '$2 ~ /^(KC|TC|KEYCARD)_/ { n[$2]++; where[$2] = where[$2] " " $1 }
    END { for (k in n) if (n[k] > 1) print k " defined in" where[k] }' "$defs" |
    grep -v '_H defined in' | sort)
[ -z "$out" ] || { echo "$out" | sed 's/^/defined twice: /'; bad=1; }
n=$(wc -l <"$defs")
if [ $bad = 0 ]; then
    echo "proto-once: $n definitions read, each protocol constant defined once"
else
    echo "proto-once: FAILED" >&2
fi
exit $bad
