#!/bin/sh
# build.sh - the chip build (`make chip`, part of `make check`): the key card
# and target card firmware cores cross-compiled for a Cortex-M4 (arm-none-eabi,
# newlib nano, -Os, -Werror), linked with unused code dropped, and their
# sizes checked against budgets:
#   code (.text + .rodata) < 64 KiB per card, without mbedTLS;
#   static RAM (.data + .bss) + the card's context < 16 KiB;
# the largest stack frame of each is reported (-fstack-usage).
# mbedTLS comes in through keycard/kc_mbedtls_config.h (headers only: the
# chip's own mbedTLS build is linked in by the card OS port); the link leaves
# exactly the mbedtls_* symbols unresolved, which is checked.
#
# Run from the top of the tree: B=build sh tests/chip/build.sh
set -u
B=${B:-build}
CC_ARM=${CC_ARM:-arm-none-eabi-gcc}
O=$B/chip
CODE_BUDGET=65536
RAM_BUDGET=16384

die() { echo "chip: $*" >&2; exit 1; }
command -v "$CC_ARM" >/dev/null || die "$CC_ARM not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"
[ -d /usr/include/mbedtls ] || die "mbedTLS headers not found (apt-get install libmbedtls-dev)"
rm -rf "$O" && mkdir -p "$O/inc" "$O/obj" || die "cannot make $O"
# Only the mbedTLS headers from the host's include directory, nothing else of it.
ln -s /usr/include/mbedtls "$O/inc/mbedtls"

CFLAGS="-mcpu=cortex-m4 -mthumb -Os -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
 -ffunction-sections -fdata-sections -fstack-usage -Iinclude -Ikeycard -Iexamples/targetcard
 -isystem $O/inc -DMBEDTLS_CONFIG_FILE=\"kc_mbedtls_config.h\""
for f in keycard/*.c examples/targetcard/*.c tests/chip/probe.c; do
    # shellcheck disable=SC2086
    $CC_ARM $CFLAGS -c "$f" -o "$O/obj/$(basename "$f" .c).o" || die "$f does not build for the chip"
done

fails=0
# card NAME OPS OBJECTS...: link the card from its ops table, check and print it.
card() {
    name=$1 ops=$2
    shift 2
    elf=$O/$name.elf
    $CC_ARM -mcpu=cortex-m4 -mthumb --specs=nano.specs -nostartfiles -Wl,--gc-sections \
        -Wl,-e,"$ops" -Wl,-u,"$ops" -Wl,--unresolved-symbols=ignore-all -o "$elf" "$@" ||
        die "$name does not link"
    other=$(arm-none-eabi-nm -u "$elf" | awk '$2 !~ /^mbedtls_/ { print $2 }' | tr '\n' ' ')
    [ -z "$other" ] || { echo "chip: $name: unresolved beyond mbedTLS: $other" >&2; fails=1; }
    set -- $(arm-none-eabi-size -A "$elf" | awk '
        $1 == ".text" || $1 == ".rodata" { code += $2 }
        $1 == ".data" || $1 == ".bss" { ram += $2 }
        END { print code + 0, ram + 0 }')
    code=$1 ram=$2
    ctx=$(arm-none-eabi-nm -S "$O/obj/probe.o" | awk -v s="kc_chip_${name}_ctx" '$4 == s { print $2 }')
    [ -n "$ctx" ] || die "no context size for $name"
    ctx=$(printf '%d' "0x$ctx")
    printf 'chip: %-8s Cortex-M4 -Os: code %6d B (budget %d), static RAM %d B + context %d B = %d B (budget %d)\n' \
        "$name" "$code" $CODE_BUDGET "$ram" "$ctx" $((ram + ctx)) $RAM_BUDGET
    [ "$code" -lt $CODE_BUDGET ] || { echo "chip: $name: code over budget" >&2; fails=1; }
    [ $((ram + ctx)) -lt $RAM_BUDGET ] || { echo "chip: $name: RAM over budget" >&2; fails=1; }
}
card keycard kc_keycard_card "$O"/obj/kc_*.o
card target kc_target_card "$O"/obj/tc_*.o "$O"/obj/kc_*.o
# The largest stack frames of the whole firmware (function, bytes).
echo "chip: largest stack frames:"
cat "$O"/obj/*.su | sort -t'	' -k2 -n -r | head -n 3 | awk -F'\t' '{ printf "chip:   %6d B  %s\n", $2, $1 }'
[ $fails = 0 ] || exit 1
echo "chip: ok"
