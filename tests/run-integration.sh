#!/bin/sh
# run-integration.sh - run every tests/integration/*.sh in name order.
#
# Each test runs from the top of the tree with B (build dir) in its
# environment, holding /tmp/kc-pcscd.lock (only one pcscd can run on a
# machine) and under a time limit, its output in $B/integration/NAME.log.
# Prints PASS/FAIL per test and "integration: N passed, M failed"; exits 1
# when any failed.
set -u
B=${B:-build}
export B
KC_IT_TIMEOUT=${KC_IT_TIMEOUT:-300}
mkdir -p "$B/integration" || exit 1
pass=0
fail=0
failed=""
for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    log=$B/integration/$name.log
    # flock: wait for other pcscd users; timeout: a hung test cannot hang the
    # run (it signals the test's whole process group, its pcscd included).
    if KC_PCSCD_LOCKED=1 flock -w 300 -E 75 /tmp/kc-pcscd.lock \
        timeout -k 10 "$KC_IT_TIMEOUT" sh "$t" >"$log" 2>&1; then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        rc=$?
        case $rc in
        75) echo "FAIL $name (could not get /tmp/kc-pcscd.lock in 300 s: another pcscd user runs)" ;;
        124) echo "FAIL $name (timed out after $KC_IT_TIMEOUT s)" ;;
        *) echo "FAIL $name (exit $rc)" ;;
        esac
        sed -e 's/^/    /' "$log" | tail -n 15
        fail=$((fail + 1))
        failed="$failed $name"
    fi
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed (logs in $B/integration/)" >&2; exit 1; }
