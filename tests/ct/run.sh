#!/bin/sh
# run.sh - constant-time check (issue 4 item 8), ctgrind style: builds
# tests/ct/ct_check.c with the firmware sources and runs it under valgrind
# memcheck with the secrets of every PIN, key and tag comparison marked
# undefined; a conditional jump on them is a report. Also runs the negative
# control (a memcmp on secrets), which must be reported, so a silent pass
# cannot come from a check that sees nothing.
# Usage: B=build sh tests/ct/run.sh   (needs valgrind and its headers)
set -eu
B=${B:-build}
CC=${CC:-cc}
cd "$(dirname "$0")/../.."
out=$B/ct
mkdir -p "$out"

if ! command -v valgrind >/dev/null 2>&1 || [ ! -f /usr/include/valgrind/memcheck.h ]; then
    echo "constant-time: valgrind or its headers missing (Debian package valgrind)" >&2
    exit 2
fi

# kc_ct_equal renamed kc_ct_equal_raw, and the wrapper that declassifies its
# result appended: the definition must be found exactly once.
src=keycard/kc_crypto.c
sig='^int kc_ct_equal(const void \*a, const void \*b, size_t len)$'
if [ "$(grep -c "$sig" "$src")" != 1 ]; then
    echo "constant-time: kc_ct_equal definition not found in $src; update tests/ct/run.sh" >&2
    exit 2
fi
sed "s/$sig/static int kc_ct_equal_raw(const void *a, const void *b, size_t len)/" "$src" \
    > "$out/kc_crypto_ct.c"
cat tests/ct/ct_equal_wrap.inc >> "$out/kc_crypto_ct.c"

fw=$(ls keycard/*.c keycard/hw/*.c examples/targetcard/*.c | grep -v '^keycard/kc_crypto\.c$')
# -O1 -g: optimised like firmware, but with line info for the reports.
$CC -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O1 -g -Wall -Wextra \
    -Iinclude -Ikeycard -Iexamples/targetcard -Itests/unit \
    -o "$out/ct_check" tests/ct/ct_check.c "$out/kc_crypto_ct.c" $fw \
    tests/unit/support/kc_test_card.c tests/unit/support/kc_test_target.c \
    $(pkg-config --libs check 2>/dev/null || echo -lcheck) -lmbedcrypto

vg="valgrind --tool=memcheck --error-exitcode=1 --track-origins=yes"
supp=tests/ct/ct.supp
[ -f "$supp" ] && vg="$vg --suppressions=$supp"

# The check proper.
set +e
$vg --log-file="$out/check.log" "$out/ct_check" check > "$out/check.out" 2>&1
rc=$?
$vg --log-file="$out/negative.log" "$out/ct_check" negative > "$out/negative.out" 2>&1
nrc=$?
set -e

n=$(sed -n 's/^compares: \([0-9]*\)$/\1/p' "$out/check.out")
m=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$out/check.log" | tail -1)
neg=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$out/negative.log" | tail -1)
n=${n:-0}
m=${m:-1}
neg=${neg:-0}
echo "constant-time: $n comparisons checked, $m reports"
status=0
if [ "$m" -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "constant-time: FAILED (program exit $rc); valgrind log: $out/check.log" >&2
    cat "$out/check.out" >&2
    grep -A12 'Conditional jump\|uninitialised' "$out/check.log" | head -60 >&2 || true
    status=1
fi
if ! grep -q '^ok$' "$out/check.out"; then
    echo "constant-time: the check program did not finish its scenarios" >&2
    cat "$out/check.out" >&2
    status=1
fi
if [ "$neg" -eq 0 ] || [ "$nrc" -eq 0 ]; then
    echo "constant-time: negative control (memcmp on secrets) NOT flagged: the check is blind" >&2
    status=1
else
    echo "constant-time: negative control flagged ($neg reports, as it must)"
fi
exit $status
