#!/bin/sh
# layers.sh - the include edges the components may have (part of `make check`):
#   1. the card firmware (keycard/*.[ch] without keycard/hw/, examples/targetcard/)
#      includes only firmware headers (kc_*.h, tc_*.h), the wire headers
#      (include/keycard_proto.h, include/keycard_target_proto.h), mbedTLS and
#      <stddef.h> <stdint.h> <string.h>: nothing of the host (libkeycard,
#      tools, PC/SC, stdio, the C library beyond those);
#   2. no source file includes a .c file (tests link objects);
#   3. no tool includes an example's files and no example a tool's by path;
#   4. the host library (libkeycard/) includes no firmware header (kc_*.h,
#      tc_*.h): it holds no firmware (tests/lint/exports.sh checks the .so);
#   5. the API examples (examples/api/) include the public headers and the C
#      library only: an application needs nothing else.
# Prints each offence and exits 1 when there is one. LAYERS_PLANT=1 checks
# a planted offence of each rule too, to show that the check can fail.
#
# Run from the top of the tree: sh tests/lint/layers.sh
set -u
bad=0
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
{
    for f in $(ls keycard/*.[ch] examples/targetcard/*.[ch]); do
        sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$f" |
            sed "s|^|$f |"
    done
    [ "${LAYERS_PLANT:-0}" = 1 ] && echo 'keycard/planted.c <stdio.h>'
} | awk '{ h = $2; gsub(/[<>"]/, "", h)
    if (h ~ /^(kc_|tc_)[a-z0-9_]+\.h$/ || h == "keycard_proto.h" || h == "keycard_target_proto.h" ||
        h ~ /^mbedtls\// || h == "stddef.h" || h == "stdint.h" || h == "string.h") next
    print "firmware includes a host header: " $1 " -> " $2 }' >"$out"
{
    grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.c"' include keycard libkeycard tools issuance examples tests \
        --include='*.[ch]' 2>/dev/null
    [ "${LAYERS_PLANT:-0}" = 1 ] && echo 'tests/unit/planted.c:1:#include "../../tools/x.c"'
} | sed 's/^/includes a .c file: /' >>"$out"
{
    grep -rnE '#[[:space:]]*include[[:space:]]*"[^"]*examples/' tools --include='*.[ch]' 2>/dev/null
    grep -rnE '#[[:space:]]*include[[:space:]]*"[^"]*tools/' examples --include='*.[ch]' 2>/dev/null
    [ "${LAYERS_PLANT:-0}" = 1 ] && echo 'tools/planted.c:1:#include "../../examples/x.h"'
} | sed 's/^/crosses tools and examples by path: /' >>"$out"
{
    grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](kc_|tc_|hw/)' libkeycard/*.[ch] 2>/dev/null
    [ "${LAYERS_PLANT:-0}" = 1 ] && echo 'libkeycard/planted.c:1:#include "kc_card.h"'
} | sed 's/^/host library includes firmware: /' >>"$out"
{
    grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' examples/api/*.c 2>/dev/null
    grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(kc|kct|kci|tc)_' examples/api/*.c 2>/dev/null
    [ "${LAYERS_PLANT:-0}" = 1 ] && echo 'examples/api/planted.c:1:#include "kct.h"'
} | sed 's/^/API example includes more than the public API: /' >>"$out"
if [ -s "$out" ]; then
    cat "$out"
    echo "layers: FAILED" >&2
    exit 1
fi
echo "layers: firmware includes no host header; no .c file included; tools and examples apart;" \
    "the host library includes no firmware; the API examples only the public headers"
