#!/bin/sh
# exports.sh - what the installed library holds (part of `make check`):
#   1. `nm -D` of libkeycard.so: only keycard_* functions and data, none of
#      the simulator's (keycard_sim_*);
#   2. no symbol of the card firmware (any global symbol that a firmware
#      object defines) anywhere in libkeycard.so, exported or not: the
#      firmware lives in libkeycard-sim.so alone;
#   3. libkeycard-sim.so exports keycard_sim_* only.
# EXPORTS_PLANT=1 adds a firmware symbol to the list read from the library,
# to show that the check can fail.
#
# Run from the top of the tree after `make`: B=build sh tests/lint/exports.sh
set -u
B=${B:-build}
lib=$B/lib/libkeycard.so
sim=$B/lib/libkeycard-sim.so
for f in "$lib" "$sim"; do
    [ -f "$f" ] || { echo "exports: $f missing (run make first)" >&2; exit 1; }
done
bad=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/dyn"
nm "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/all"
[ "${EXPORTS_PLANT:-0}" = 1 ] && echo kc_keycard_card >>"$tmp/all" && sort -u -o "$tmp/all" "$tmp/all"
# Global symbols the firmware objects define.
nm --defined-only "$B"/obj/keycard/*.o "$B"/obj/examples/targetcard/*.o 2>/dev/null |
    awk 'NF == 3 && $2 ~ /^[TDRB]$/ { print $3 }' | sort -u >"$tmp/fw"
[ -s "$tmp/fw" ] || { echo "exports: no firmware objects in $B/obj" >&2; exit 1; }
n=$(wc -l <"$tmp/dyn")
if grep -v '^keycard_' "$tmp/dyn" | grep . ; then
    echo "exports: libkeycard.so exports the above beyond keycard_*" >&2
    bad=1
fi
if grep '^keycard_sim_' "$tmp/dyn"; then
    echo "exports: libkeycard.so exports the simulator's API" >&2
    bad=1
fi
if comm -12 "$tmp/fw" "$tmp/all" | grep . ; then
    echo "exports: firmware symbols in libkeycard.so (above)" >&2
    bad=1
fi
if nm -D --defined-only "$sim" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
        grep -v '^keycard_sim_' | grep . ; then
    echo "exports: libkeycard-sim.so exports the above beyond keycard_sim_*" >&2
    bad=1
fi
[ $bad = 0 ] || { echo "exports: FAILED" >&2; exit 1; }
echo "exports: libkeycard.so exports $n keycard_* symbols and holds none of the" \
    "$(wc -l <"$tmp/fw") firmware symbols; the firmware is in libkeycard-sim.so"
