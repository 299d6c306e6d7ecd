#!/bin/sh
# 14-hostile-apdus.sh - random and malformed commands of 1 to 600 bytes
# through pcscd to both virtual cards (hostile_apdus.py): every one answered,
# no slot hung (a 1-byte command once left vpcd waiting for good), both cards
# alive afterwards, the key card's PIN state and both cards' state intact.
# KC_HOSTILE_N commands per card (default 2000, so 4000 in all).
#
# Run from the top of the tree: B=build sh tests/integration/14-hostile-apdus.sh
set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-14-hostile.XXXXXX") || exit 1
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE # vcards.sh read it when sourced: each test its own key card
VC_TARGET_STATE=$T/target.card
export KC_VCARD_STATE
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

N=${KC_HOSTILE_N:-2000}
SELECT=00A404000AF04B4559434152440001
mkdir -p "$VC_DIR"
vc_up >/dev/null || { echo "14-hostile-apdus: virtual cards did not start" >&2; exit 1; }

before=$($VC_APDU --reader "$VC_KEYCARD_READER" $SELECT 00CADF0300 | tail -n 1)
tbefore=$($VC_APDU --reader "$VC_TARGET_READER" 00CADF1000 | tail -n 1)
for r in "$VC_KEYCARD_READER:101" "$VC_TARGET_READER:202"; do
    reader=${r%:*} seed=${r##*:}
    if out=$(timeout -k 5 ${KC_HOSTILE_TIMEOUT:-120} /usr/bin/python3 tests/integration/hostile_apdus.py "$reader" "$N" "$seed" 2>&1); then
        ok "$out"
    else
        not_ok "hostile commands to $reader (exit $?): $out"
    fi
done
# Both cards answer as before: status blob (tries, audit counter aside) and target info.
after=$($VC_APDU --reader "$VC_KEYCARD_READER" $SELECT 00CADF0300 | tail -n 1)
tafter=$($VC_APDU --reader "$VC_TARGET_READER" 00CADF1000 | tail -n 1)
tries() { echo "$1" | grep -o 'C703[0-9A-F]\{6\}'; }
[ -n "$(tries "$after")" ] && [ "$(tries "$after")" = "$(tries "$before")" ] &&
    ok "key card alive, PIN tries unchanged ($(tries "$after"))" ||
    not_ok "key card after: '$after' (before: '$before')"
[ -n "$tafter" ] && [ "$tafter" = "$tbefore" ] && ok "target card alive, state unchanged" ||
    not_ok "target card after: '$tafter' (before: '$tbefore')"
echo "14-hostile-apdus: $it_n checks, $it_fails failed"
[ "$it_fails" -eq 0 ]
