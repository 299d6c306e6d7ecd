#!/bin/sh
# 10-vcard-pcsc.sh - the virtual key card as any PC/SC client sees it, and
# kc-vcard's life cycle: (a) opensc-tool and pyscard talk to it; (b) it comes
# back with its state after pcscd restarts; (c) SIGTERM ends it with exit 0
# and a state file that reloads; (d) `down` leaves no process behind.
set -u
. tests/vcards.sh
vc_lock "$0" "$@"

KC_VCARD_STATE=$B/integration/10-vcard-pcsc.state
VC_STATE=$KC_VCARD_STATE
mkdir -p "$B/integration"
rm -f "$VC_STATE" "$VC_STATE.provisioned"
pids=""
fails=0
check() { "$@" || fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
remember_pids() {
    pids="$pids $(cat "$VC_DIR/pcscd.pid" "$VC_DIR/kc-vcard-keycard.pid" 2>/dev/null | tr '\n' ' ')"
}

SELECT="00 A4 04 00 0A F0 4B 45 59 43 41 52 44 00 01"
SELECT_NR=00A4040C0AF04B4559434152440001 # P2 0C: no response data
ISSUER_PIN=3133353739313335                 # "13579135"

# vc_up cleans up after itself when it fails; from here on we own the processes.
vc_up || die "harness did not come up"
trap 'vc_down' EXIT
trap 'exit 1' INT TERM
remember_pids

# (a) opensc-tool: SELECT answers 90 00, an empty VERIFY answers 63 C3.
out=$(opensc-tool -r "$VC_KEYCARD_READER" -s "$SELECT" -s "00 20 00 81" 2>&1)
echo "$out"
sws=$(echo "$out" | sed -n 's/^Received (SW1=0x\(..\), SW2=0x\(..\)).*/\1\2/p' | tr '\n' ' ')
if [ "$sws" = "9000 63C3 " ]; then
    echo "ok: opensc-tool: SELECT 9000, empty VERIFY 63C3"
else
    echo "FAIL: opensc-tool: want SWs [9000 63C3], got [$sws]" >&2
    fails=$((fails + 1))
fi

# (a) pyscard: the same, then GET DATA DF03 (status blob of a provisioned card).
check vc_expect "pyscard: SELECT, empty VERIFY 81/82/83" "9000 63C3 63C3 63C3" \
    "$SELECT_NR" 00200081 00200082 00200083
status=$($VC_APDU "$SELECT_NR" 00CADF0300 | tail -n 1)
echo "status blob: $status"
case $status in
C108*C50107*C703030303*" 9000") echo "ok: pyscard: GET DATA DF03 (provisioned, tries 3/3/3)" ;;
*) echo "FAIL: pyscard: GET DATA DF03 unexpected: $status" >&2; fails=$((fails + 1)) ;;
esac
serial=$(echo "$status" | cut -c1-20)

# (b) spend one issuer PIN try, restart pcscd: kc-vcard reconnects by itself
# and the card remembers the try but not the (volatile) security state.
check vc_expect "wrong issuer PIN before the pcscd restart" "9000 63C2" "$SELECT_NR" 00200081083030303030303030
vcpid=$(cat "$VC_DIR/kc-vcard-keycard.pid")
vc_pcscd_stop
sleep 0.5
vc_alive "$vcpid" || die "kc-vcard died when pcscd stopped"
vc_pcscd_start || die "pcscd did not restart"
remember_pids
vc_wait_card "$VC_KEYCARD_READER" 10 || die "the key card did not come back after the pcscd restart"
echo "ok: kc-vcard reconnected after the pcscd restart"
check vc_expect "state kept across the pcscd restart (2 tries left)" "9000 63C2" "$SELECT_NR" 00200081
check vc_expect "correct issuer PIN restores the tries, empty VERIFY then says verified" \
    "9000 9000 9000 9000 63C3" \
    "$SELECT_NR" "0020008108$ISSUER_PIN" 00200081 "$SELECT_NR" 00200081
s2=$($VC_APDU "$SELECT_NR" 00CADF0300 | tail -n 1 | cut -c1-20)
[ "$s2" = "$serial" ] && echo "ok: same serial after the restart" ||
    { echo "FAIL: serial changed: $serial -> $s2" >&2; fails=$((fails + 1)); }

# (c) SIGTERM: exit 0, and the state file reloads in a new kc-vcard.
check vc_expect "spend a try before SIGTERM" "9000 63C2" "$SELECT_NR" 00200081083030303030303030
kill -TERM "$vcpid"
wait "$vcpid"
rc=$?
[ "$rc" -eq 0 ] && echo "ok: kc-vcard exits 0 on SIGTERM" ||
    { echo "FAIL: kc-vcard exit status $rc on SIGTERM" >&2; fails=$((fails + 1)); }
rm -f "$VC_DIR/kc-vcard-keycard.pid"
vc_wait_empty "$VC_KEYCARD_READER"
vc_card_start keycard 0 "$VC_STATE" || die "kc-vcard did not restart"
remember_pids
vc_wait_card "$VC_KEYCARD_READER" 10 || die "the key card did not come back after the kc-vcard restart"
check vc_expect "state file reloads (2 tries left)" "9000 63C2" "$SELECT_NR" 00200081
s3=$($VC_APDU "$SELECT_NR" 00CADF0300 | tail -n 1 | cut -c1-20)
[ "$s3" = "$serial" ] && echo "ok: same serial after the kc-vcard restart" ||
    { echo "FAIL: serial changed: $serial -> $s3" >&2; fails=$((fails + 1)); }
check vc_expect "tries restored for later runs" "9000 9000" "$SELECT_NR" "0020008108$ISSUER_PIN"

# (d) down stops everything that was started.
vc_down
trap - EXIT
for p in $pids; do
    if vc_alive "$p"; then
        echo "FAIL: pid $p ($(cat /proc/$p/comm 2>/dev/null)) still alive after down" >&2
        fails=$((fails + 1))
    fi
done
pids=$(echo $pids | tr ' ' '\n' | sort -un | tr '\n' ' ')
[ -n "$pids" ] && echo "ok: none of the started processes is alive after down: $pids"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
