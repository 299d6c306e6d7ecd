#!/bin/sh
# 21-lib-pcsc.sh - libkeycard over real PC/SC: the virtual key card found by
# its AID (keycard_open_ex with NULL and the demo issuer key: certified
# channel), PINs verified, identity checked, a reset by another client
# reported as KEYCARD_ERR_CARD_RESET and then KEYCARD_ERR_SESSION_LOST with
# nothing sent until keycard_reopen, then the card pulled
# (kc-vcard stopped by PID) mid-session: the next call must fail promptly with
# KEYCARD_ERR_CARD_REMOVED or KEYCARD_ERR_NO_CARD. The C side is lib_pcsc.c.
set -u
. tests/vcards.sh
vc_lock "$0" "$@"

die() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$B/integration" || exit 1
prog=$B/integration/lib_pcsc
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -o "$prog" tests/integration/lib_pcsc.c \
    -L"$B/lib" -lkeycard-sim -lkeycard -Wl,-rpath,"$B/lib" || die "cannot build lib_pcsc.c"

# Our own key card image, provisioned through libkeycard's sim transport.
KC_VCARD_STATE=$B/integration/21-lib-pcsc.state
VC_STATE=$KC_VCARD_STATE
rm -f "$VC_STATE" "$VC_STATE.provisioned"
"$prog" provision "$VC_STATE" >"$B/integration/21-provision.log" 2>&1 ||
    { cat "$B/integration/21-provision.log"; die "provisioning over sim: failed"; }
touch "$VC_STATE.provisioned" # vc_up: already provisioned

vc_up || die "harness did not come up"
trap 'vc_down; rm -f "$VC_STATE" "$VC_STATE.provisioned"' EXIT
trap 'exit 1' INT TERM

vcpid=$(cat "$VC_DIR/kc-vcard-keycard.pid")
# timeout: a hang in the library must fail the test, not stall it.
timeout -k 5 60 "$prog" run "$vcpid"
rc=$?
[ $rc -eq 124 ] && die "lib_pcsc hung (timeout)"
[ $rc -eq 0 ] || die "lib_pcsc run: exit $rc"
echo "all checks passed"
