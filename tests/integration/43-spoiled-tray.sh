#!/bin/sh
# 43-spoiled-tray.sh - kc-issue --all over a stacker whose second card cannot
# be issued (a blank, never manufactured image): the good cards go to the
# stacker's issued/ tray, the failed one to spoiled/ (reader command
# FF EE 01 00), never among the issued ones; exit 1 because a card failed.
#
# Run from the top of the tree: B=build sh tests/integration/43-spoiled-tray.sh
set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-43-tray.XXXXXX") || exit 1
it_fails=0
it_n=0
ok() { it_n=$((it_n + 1)); echo "ok $it_n - $1"; }
not_ok() { it_n=$((it_n + 1)); it_fails=$((it_fails + 1)); echo "not ok $it_n - $1"; }
finish() {
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE # vcards.sh read it when sourced: each test its own key card
VC_TARGET_STACK=$T/stack
mkdir -p "$VC_DIR" "$VC_TARGET_STACK"
vc_target_make "$VC_TARGET_STACK/001.card" 53504F494C000001 || exit 1
# 002: a blank image (erased flash, no serial): FAILED, nothing can be sent to it.
head -c 65536 /dev/zero | tr '\0' '\377' >"$VC_TARGET_STACK/002.card"
vc_target_make "$VC_TARGET_STACK/003.card" 53504F494C000003 || exit 1
vc_up >/dev/null || { echo "43-spoiled-tray: virtual cards did not start" >&2; exit 1; }

timeout -k 5 120 "$B/bin/kc-issue" --config examples/profiles/demo-station.json \
    --profile examples/profiles/standard.json --all --wait 5 >"$T/out" 2>&1 </dev/null
rc=$?
sed 's/^/#   /' "$T/out"
[ $rc = 1 ] && ok "exit 1: a card failed" || not_ok "exit $rc, want 1"
grep -q "blank card not manufactured" "$T/out" && ok "the blank card is reported FAILED" ||
    not_ok "the blank card's failure"
ls "$VC_TARGET_STACK/issued" | sed 's/^/#   issued: /'
ls "$VC_TARGET_STACK/spoiled" 2>/dev/null | sed 's/^/#   spoiled: /'
[ -f "$VC_TARGET_STACK/spoiled/002.card" ] && [ ! -e "$VC_TARGET_STACK/issued/002.card" ] &&
    ok "the failed card is in spoiled/, not in issued/" || not_ok "the failed card's tray"
[ -f "$VC_TARGET_STACK/issued/001.card" ] && [ -f "$VC_TARGET_STACK/issued/003.card" ] &&
    ok "the two good cards are in issued/" || not_ok "the good cards' tray"
echo "43-spoiled-tray: $it_n checks, $it_fails failed"
[ "$it_fails" -eq 0 ]
