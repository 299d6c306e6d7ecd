#!/bin/sh
# 11-pin-block.sh - a blocked holder PIN over PC/SC: three wrong tries give
# 63C2 63C1 63C0 then 6983; the block survives a card reset, a power cycle
# and a kc-vcard restart; the admin key and RESET RETRY COUNTER lift it.
set -u
. tests/vcards.sh
vc_lock "$0" "$@"

KC_VCARD_STATE=$B/integration/11-pin-block.state
VC_STATE=$KC_VCARD_STATE
mkdir -p "$B/integration"
rm -f "$VC_STATE" "$VC_STATE.provisioned"
fails=0
check() { "$@" || fails=$((fails + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }

SELECT=00A4040C0AF04B4559434152440001 # P2 0C: no response data
V_ISSUER=00200081083133353739313335    # "13579135"
V_HOLDER=0020008206323436383130        # "246810"
V_HOLDER_BAD=0020008206303030303030    # "000000"
V_ADMIN=0020008310000102030405060708090A0B0C0D0E0F # admin key 00..0F
RRC_RESET_HOLDER=002C0382              # P1 03: reset the counter, keep the PIN

# vc_up cleans up after itself when it fails; from here on we own the processes.
vc_up || die "harness did not come up"
trap 'vc_down' EXIT
trap 'exit 1' INT TERM

check vc_expect "wrong holder PIN 3 times, then blocked" \
    "9000 9000 63C2 63C1 63C0 6983 6983 6983" \
    $SELECT $V_ISSUER $V_HOLDER_BAD $V_HOLDER_BAD $V_HOLDER_BAD $V_HOLDER_BAD $V_HOLDER 00200082

check vc_expect "still blocked after a warm reset" "9000 9000 6983 6983" \
    :reset $SELECT $V_ISSUER $V_HOLDER 00200082
check vc_expect "still blocked after a power cycle" "9000 9000 6983 6983" \
    :unpower $SELECT $V_ISSUER $V_HOLDER 00200082

vc_card_stop keycard
vc_card_start keycard 0 "$VC_STATE" || die "kc-vcard did not restart"
vc_wait_card "$VC_KEYCARD_READER" 10 || die "the key card did not come back after the kc-vcard restart"
check vc_expect "still blocked after a kc-vcard restart" "9000 9000 6983 6983" \
    $SELECT $V_ISSUER $V_HOLDER 00200082

check vc_expect "RESET RETRY COUNTER needs the admin key" "9000 6982" $SELECT $RRC_RESET_HOLDER
check vc_expect "admin key + RESET RETRY COUNTER 03 82 unblock; the holder PIN verifies" \
    "9000 9000 9000 9000 63C3 9000 9000" \
    $SELECT $V_ADMIN $RRC_RESET_HOLDER $V_ISSUER 00200082 $V_HOLDER 00200082

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
