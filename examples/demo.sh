#!/bin/sh
# demo.sh - the keycard demo (`make demo`): start pcscd with the virtual key
# card provisioned from examples/profiles/demo.json and a stacker of three
# blank target cards, run the station start-up (kc-startup) over PC/SC, show
# `kc-admin info`, issue the whole stack with kc-issue and the reference
# profile examples/profiles/standard.json, print each issued card's tree as
# read back with operational commands, show that the APDU traffic of the run
# holds none of the templates' plaintext inner commands, show the audit log
# with the issue receipts, then stop everything it started and check that
# nothing it started remains.
#
# Run from the top of the tree. B is the build dir (default build). With a
# terminal attached the holder PIN is asked for (the demo PIN is 246810);
# without one it is passed in KEYCARD_HOLDER_PIN, as automation would.
# The demo admin key is passed in KEYCARD_ADMIN_KEY: demo credentials only.

set -u
B=${B:-build}
[ -f tests/vcards.sh ] || { echo "demo: run from the top of the source tree" >&2; exit 2; }
for t in kc-admin kc-startup kc-vcard kc-issue; do
    [ -x "$B/bin/$t" ] || { echo "demo: $B/bin/$t not built (run make)" >&2; exit 2; }
done

# A fresh key card for every run, so earlier wrong PINs cannot spoil the demo.
KC_VCARD_STATE=${KC_VCARD_STATE:-$B/demo/keycard.state}
# Slot 1 is a stacker of blank target cards; pcscd logs every APDU (-a).
KC_TARGET_STACK=$B/demo/stack
KC_PCSCD_APDU_LOG=1
export KC_VCARD_STATE KC_TARGET_STACK KC_PCSCD_APDU_LOG
. tests/vcards.sh
# One pcscd per machine: hold the lock for the whole demo (re-runs this script).
vc_lock "$0" "$@"

mkdir -p "$(dirname "$KC_VCARD_STATE")" "$VC_DIR"
rm -f "$VC_STATE" "$VC_STATE.provisioned" "$VC_DIR/pcscd.log"
rm -rf "$KC_TARGET_STACK"

pids=""
finish() {
    rc=$?
    trap - EXIT INT TERM HUP
    # Remember what we started before vc_down removes the PID files.
    for f in "$VC_DIR/pcscd.pid" "$VC_DIR/kc-vcard-keycard.pid" "$VC_DIR/kc-vcard-target.pid"; do
        [ -f "$f" ] && pids="$pids $(cat "$f")"
    done
    vc_down
    left=""
    for p in $pids; do
        vc_alive "$p" && left="$left $p"
    done
    if [ -n "$left" ]; then
        echo "demo: processes still running after stop:$left" >&2
        rc=1
    else
        echo "== stopped pcscd and the virtual cards; nothing left running"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

step() { printf '\n== %s\n' "$*"; }

step "making a stack of three blank target cards (kc-admin target-manufacture)"
vc_stack_make "$KC_TARGET_STACK" 3 || exit 1
ls "$KC_TARGET_STACK"

step "starting pcscd, the virtual key card (provisioned from $VC_PROFILE) and the stacker"
vc_up || { echo "demo: could not start the virtual cards" >&2; exit 1; }

# The card we provisioned must be the one that answers (a stray virtual card
# of someone else's on the same vpcd port would otherwise fool the demo).
want=$(sed -n 's/^provisioned key card \([0-9a-f]*\) .*/\1/p' "$VC_DIR/provision.log")
got=$("$B/bin/kc-admin" info 2>/dev/null | sed -n 's/^serial: *//p')
if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "demo: the key card found (serial '$got') is not the one just provisioned ('$want')" >&2
    exit 1
fi

step "station start-up: kc-startup --config examples/profiles/demo-station.json"
if [ -t 0 ] && [ -t 1 ]; then
    echo "(the demo holder PIN is 246810)"
    "$B/bin/kc-startup" --config examples/profiles/demo-station.json || exit 1
else
    KEYCARD_HOLDER_PIN=246810 "$B/bin/kc-startup" --config examples/profiles/demo-station.json ||
        exit 1
fi

step "kc-admin info"
"$B/bin/kc-admin" info || exit 1

step "kc-issue --all --show: issue the whole stack with examples/profiles/standard.json"
if [ -t 0 ] && [ -t 1 ]; then
    echo "(the demo holder PIN is 246810)"
    "$B/bin/kc-issue" --config examples/profiles/demo-station.json \
        --profile examples/profiles/standard.json --all --show || exit 1
else
    KEYCARD_HOLDER_PIN=246810 "$B/bin/kc-issue" --config examples/profiles/demo-station.json \
        --profile examples/profiles/standard.json --all --show || exit 1
fi
echo "issued images now in $KC_TARGET_STACK/issued/: $(ls "$KC_TARGET_STACK/issued" | tr '\n' ' ')"

step "the target line carried no plaintext issuance command (pcscd APDU log of the whole run)"
# Every inner command the templates make from standard.json, as plaintext
# APDU, header with data, and data alone, searched for in every APDU and
# response pcscd saw; only the key card's WRAP commands, which carry the
# profile's public parameters to the key card, are left out.
/usr/bin/python3 tests/pcscd/inner_cmds.py --templates "$VC_PROFILE" \
    --profile examples/profiles/standard.json --log "$VC_DIR/pcscd.log" || exit 1

step "kc-admin audit (demo admin key from KEYCARD_ADMIN_KEY)"
KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F "$B/bin/kc-admin" audit \
    --issuer-pub examples/profiles/demo-issuer.pub.pem || exit 1

step "demo finished"
exit 0
