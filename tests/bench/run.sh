#!/bin/sh
# run.sh - the driver of `make bench`: runs kc_bench in-process (sim) and over
# pcscd + vpcd (virtual key card in slot 0, a stacker of blank target cards in
# slot 1), measures the firmware's footprint and kc-vcard's peak RSS, then
# tests/bench/report.py prints the table and writes $B/bench.json.
#
#   B=build sh tests/bench/run.sh          (after `make`; `make bench` does both)
#
# Environment: B (build dir, default build), KC_BENCH_CARDS (target cards in
# the stacker, default 8: one warm-up, the rest measured), KC_BENCH_WEAR_S
# (time budget of the in-process wear run, default 60 s; it stops earlier once
# every flash page has been erased three times).
# Only the PC/SC phase holds /tmp/kc-pcscd.lock (one pcscd per machine); it
# starts and stops its own processes through tests/vcards.sh.

set -u
B=${B:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
BENCH=$B/bench/kc_bench
W=$B/bench/work
PROFILE=examples/profiles/standard.json
KEYS=examples/profiles/demo.json
export KEYCARD_ISSUER_PIN=${KEYCARD_ISSUER_PIN:-13579135}
export KEYCARD_HOLDER_PIN=${KEYCARD_HOLDER_PIN:-246810}

# ---- PC/SC phase (re-entered under the lock) -------------------------------
if [ "${1:-}" = pcsc-phase ]; then
    KC_VCARD_STATE=$W/pcsc-keycard.state
    KC_TARGET_STACK=$W/stack
    export KC_VCARD_STATE KC_TARGET_STACK
    . tests/vcards.sh
    trap vc_down EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    rm -rf "$KC_TARGET_STACK" "$KC_VCARD_STATE" "$KC_VCARD_STATE.provisioned"
    mkdir -p "$VC_DIR" || exit 1
    vc_stack_make "$KC_TARGET_STACK" "${KC_BENCH_CARDS:-8}" || exit 1
    vc_up >/dev/null || { echo "bench: virtual cards did not start" >&2; exit 1; }
    "$BENCH" pcsc --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" \
        --profile "$PROFILE" --cards "${KC_BENCH_CARDS:-8}" --out "$W/pcsc.json" || exit 1
    # Peak RSS (VmHWM) of the kc-vcard processes after all that traffic.
    for c in keycard target; do
        pid=$(cat "$VC_DIR/kc-vcard-$c.pid" 2>/dev/null)
        kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)
        echo "${kb:-0}" >"$W/rss-$c.kb"
    done
    exit 0
fi

[ -x "$BENCH" ] || { echo "bench: $BENCH not built (make bench builds it)" >&2; exit 1; }
for t in kc-admin kc-vcard; do
    [ -x "$B/bin/$t" ] || { echo "bench: $B/bin/$t not built (run make)" >&2; exit 1; }
done
rm -rf "$W"
mkdir -p "$W" || exit 1
start=$(date +%s)

# ---- machine -----------------------------------------------------------------
{
    echo "nproc=$(nproc)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "kernel=$(uname -sr)"
    echo "mbedtls=$(dpkg-query -W -f '${Version}' libmbedtls-dev 2>/dev/null || echo unknown)"
} >"$W/machine.txt"

# ---- in-process: WRAP vs bare crypto, flash wear -------------------------------
echo "bench: in-process WRAP, bare mbedTLS loop and flash wear (sim transport)..."
"$B/bin/kc-admin" --sim "$W/sim-keycard.state" provision "$KEYS" >"$W/provision.log" 2>&1 ||
    { echo "bench: provisioning the simulated key card failed" >&2; cat "$W/provision.log" >&2; exit 1; }
"$B/bin/kc-admin" target-manufacture --profile "$KEYS" --serial 42454E4348000001 \
    --out "$W/blank.card" >"$W/manufacture.log" 2>&1 ||
    { echo "bench: manufacturing the blank target failed" >&2; cat "$W/manufacture.log" >&2; exit 1; }
"$BENCH" sim --keycard "$W/sim-keycard.state" --target-blank "$W/blank.card" --profile "$PROFILE" \
    --wear-seconds "${KC_BENCH_WEAR_S:-60}" --out "$W/sim.json" || exit 1

# ---- the journal's cost per card: an SQLite file, a PostgreSQL server ----------
echo "bench: the journal's cost per card (SQLite file, PostgreSQL server of its own)..."
"$B/bench/kc_jbench" --journal "$W/journal.db" --cards "${KC_BENCH_JOURNAL_CARDS:-200}" \
    --out "$W/journal-sqlite.json" --tag sqlite || exit 1
(
    . tests/pgsql.sh
    trap pg_down EXIT
    pg_up "$W/pg" >/dev/null || exit 1
    "$B/bench/kc_jbench" --journal "$PG_URL" --cards "${KC_BENCH_JOURNAL_CARDS:-200}" \
        --out "$W/journal-pgsql.json" --tag pgsql
) || { echo "bench: the PostgreSQL journal phase failed" >&2; exit 1; }

# ---- over pcscd + vpcd --------------------------------------------------------
echo "bench: link, WRAP and whole cards over pcscd + vpcd (waiting for /tmp/kc-pcscd.lock)..."
B=$B KC_PCSCD_LOCKED=1 flock -w 300 -E 75 /tmp/kc-pcscd.lock sh tests/bench/run.sh pcsc-phase ||
    { echo "bench: PC/SC phase failed" >&2; exit 1; }

# ---- several target heads on one key card, over pcscd + vpcd --------------------
echo "bench: 1, 2, 4 and 8 target heads on one key card over pcscd + vpcd (waiting for the lock)..."
B=$B W=$W KC_PCSCD_LOCKED=1 flock -w 300 -E 75 /tmp/kc-pcscd.lock sh tests/bench/heads.sh ||
    { echo "bench: the heads phase failed" >&2; exit 1; }

# ---- footprint: the key card firmware core (keycard/*.o; mbedTLS and the
# host-side hardware simulation keycard/hw/ are not in it) -----------------------
size -t "$B"/obj/keycard/*.o >"$W/size.txt" || exit 1

end=$(date +%s)
/usr/bin/python3 tests/bench/report.py "$W" "$B/bench.json" $((end - start))
