#!/bin/sh
# Run every unit test binary given; print one summary line.
# KC_UNIT_WRAPPER (e.g. "valgrind -q --error-exitcode=99") runs each suite
# under that command, in Check's no-fork mode so the wrapper sees every test.
set -u
pass=0; fail=0; failed=""
for t in "$@"; do
    if [ -n "${KC_UNIT_WRAPPER:-}" ]; then
        # shellcheck disable=SC2086
        CK_FORK=no $KC_UNIT_WRAPPER "$t"
    else
        "$t"
    fi
    if [ $? -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $(basename "$t")"; fi
done
echo "unit suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed" >&2; exit 1; }
