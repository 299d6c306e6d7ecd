#!/bin/sh
# tests/fuzz/run.sh SECONDS TARGET... - run each libFuzzer target built in
# $B/fuzz/ for SECONDS on its seed corpus (tests/fuzz/corpus/TARGET, read
# only) plus a working corpus in $B/fuzz/corpus/TARGET; print per target the
# executions (libFuzzer's "Done N runs") and crashes; exit 1 on any crash.
# Crashing inputs land in $B/fuzz/artifacts/, logs in $B/fuzz/logs/.
set -u
B=${B:-build}
secs=$1
shift
F=$B/fuzz
mkdir -p "$F/artifacts" "$F/logs"
total_crash=0
printf '%-22s %12s %8s %8s\n' target executions crashes seconds
for t in "$@"; do
    seeds=tests/fuzz/corpus/$t
    work=$F/corpus/$t
    mkdir -p "$work" "$seeds"
    extra=
    # The profile parser and the station's record check explain every problem
    # on stderr; keep the log readable.
    case $t in fuzz_profile | fuzz_station | fuzz_records) extra=-close_fd_mask=2 ;; esac
    log=$F/logs/$t.log
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$F/$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$F/artifacts/$t-" $extra "$work" "$seeds" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    crashes=$(grep -c -E '^==[0-9]+==ERROR|deadly signal|runtime error|-- timeout|out-of-memory' "$log")
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1
    fi
    [ -n "$runs" ] || runs=0
    printf '%-22s %12s %8s %8s\n' "$t" "$runs" "$crashes" "$secs"
    if [ "$crashes" -ne 0 ]; then
        total_crash=$((total_crash + crashes))
        echo "  $t: see $log" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 8 >&2
    fi
done
if [ "$total_crash" -ne 0 ]; then
    echo "fuzz: $total_crash crash(es)" >&2
    exit 1
fi
echo "fuzz: no crashes"
