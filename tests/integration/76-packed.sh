#!/bin/sh
# 76-packed.sh - packed sessions over pcscd + vpcd (docs/protocol.md 5a): the
# standard profile (31 steps, bucket 256) with a stacker of three blank
# targets in slot 1.
#   (a) a target made before packed sessions (kc-vcard --no-packed answers
#       6A86 to BEGIN ISSUANCE P1 bit 80): kc-issue begins again without it
#       and issues the card one step per envelope, and says so (the key
#       card's BEGIN goes inside the secure channel; that its session was
#       unpacked shows in the envelopes the target opened);
#   (b) a target that packs: the card is issued in 3 envelopes, and the
#       pcscd APDU log shows exactly those (BEGIN P1 83 on both cards);
#   (c) the same profile with "pack": false: 31 envelopes;
#   (d) on the line, every envelope of a card has one length, none of the
#       profile's inner commands appears in clear, and the target line
#       carries about a ninth of the bytes when packed.
# The attacker's packings (mixed modes, replays, a lock not last, a refused
# item, malformed plaintexts) are tested on the cards themselves:
# test_lib_issue.c test_packed_mismatch, test_target.c test_packed_refusals,
# test_envelope.c test_packed_malformed, test_powercut.c, fuzz_target.
#
# Run from the top of the tree: B=build sh tests/integration/76-packed.sh
set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-issue; do
    [ -x "$B/bin/$t" ] || { echo "76-packed: $B/bin/$t not built" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-76-packed.XXXXXX") || exit 1
pk_fails=0
pk_n=0
ok() { pk_n=$((pk_n + 1)); echo "ok $pk_n - $1"; }
not_ok() { pk_n=$((pk_n + 1)); pk_fails=$((pk_fails + 1)); echo "not ok $pk_n - $1"; }
finish() {
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STATION=examples/profiles/demo-station.json
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/stack
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG
mkdir -p "$VC_DIR"
rm -f "$VC_DIR/pcscd.log"
LOG=$VC_DIR/pcscd.log
sed 's/"bucket": 256,/"bucket": 256, "pack": false,/' examples/profiles/standard.json >"$T/unpacked.json"
grep -q '"pack": false' "$T/unpacked.json" || { echo "76-packed: no bucket line in standard.json" >&2; exit 1; }

vc_stack_make "$VC_TARGET_STACK" 3 || exit 1
KC_VC_TARGET_NO_PACKED=1 vc_up >/dev/null || { echo "76-packed: virtual cards did not start" >&2; exit 1; }

# issue NAME PROFILE: kc-issue on the card in the slot; the pcscd log lines it added in NAME.log.
issue() {
    l0=$(wc -l <"$LOG")
    timeout 60 "$B/bin/kc-issue" --config "$STATION" --profile "$2" >"$T/$1.out" 2>&1
    rc=$?
    tail -n +"$((l0 + 1))" "$LOG" >"$T/$1.log"
    return $rc
}
# envs NAME: the ENVELOPE commands of that run; lens NAME: their distinct lengths.
envs() { grep -c 'APDU: 84 C2' "$T/$1.log"; }
lens() { sed -n 's/.*APDU: \(84 C2 .*\)/\1/p' "$T/$1.log" | awk '{ print NF }' | sort -u | wc -l; }
# target_bytes NAME: bytes of the ENVELOPE commands (the bulk of the target line).
target_bytes() { sed -n 's/.*APDU: \(84 C2 .*\)/\1/p' "$T/$1.log" | awk '{ n += NF } END { print n + 0 }'; }
eject() {
    $VC_APDU --reader "$VC_TARGET_READER" FFEE0000 >/dev/null 2>&1 || return 1
    [ "${1:-}" = last ] && return 0
    sleep 1
    vc_wait_card "$VC_TARGET_READER" 10
}

# ---- (a) an older target: one step per envelope, said ---------------------------
if issue older examples/profiles/standard.json &&
    grep -q 'ISSUED issued: 31 steps in 31 envelopes (the target takes no packing), completion MAC verified' \
        "$T/older.out" &&
    grep -q 'APDU: 80 10 83 ' "$T/older.log" && grep -q 'APDU: 80 10 03 ' "$T/older.log" &&
    [ "$(envs older)" -eq 31 ] && [ "$(lens older)" -eq 1 ]; then
    ok "a target without packed sessions: refused P1 83, begun again with 03, issued in 31 envelopes ($(grep -m1 ': ISSUED' "$T/older.out" | cut -c1-100))"
else
    not_ok "a target without packed sessions ($(envs older) envelopes)"
    sed 's/^/#   /' "$T/older.out"
fi
eject || not_ok "eject after (a)"

# ---- (b) a target that packs ------------------------------------------------------
vc_card_stop target
unset KC_VC_TARGET_NO_PACKED
vc_target_start || { echo "76-packed: target did not restart" >&2; exit 1; }
if issue packed examples/profiles/standard.json &&
    grep -q 'ISSUED issued: 31 steps in 3 envelopes, completion MAC verified' "$T/packed.out" &&
    grep -q 'APDU: 80 10 83 ' "$T/packed.log" && ! grep -q 'APDU: 80 10 03 ' "$T/packed.log" &&
    [ "$(envs packed)" -eq 3 ] && [ "$(lens packed)" -eq 1 ]; then
    ok "packed: the standard profile in 3 envelopes of one length ($(grep -m1 ': ISSUED' "$T/packed.out" | cut -c1-90))"
else
    not_ok "packed ($(envs packed) envelopes, $(lens packed) lengths)"
    sed 's/^/#   /' "$T/packed.out"
fi
eject || not_ok "eject after (b)"

# ---- (c) "pack": false -------------------------------------------------------------
if issue unpacked "$T/unpacked.json" &&
    grep -q 'ISSUED issued: 31 steps in 31 envelopes, completion MAC verified' "$T/unpacked.out" &&
    grep -q 'APDU: 80 10 03 ' "$T/unpacked.log" && ! grep -q 'APDU: 80 10 83 ' "$T/unpacked.log" &&
    [ "$(envs unpacked)" -eq 31 ]; then
    ok "\"pack\": false: 31 envelopes"
else
    not_ok "\"pack\": false ($(envs unpacked) envelopes)"
    sed 's/^/#   /' "$T/unpacked.out"
fi
eject last || not_ok "eject after (c)"

# ---- (d) the line -------------------------------------------------------------------
pb=$(target_bytes packed)
ub=$(target_bytes unpacked)
if [ "$pb" -gt 0 ] && [ "$((pb * 5))" -lt "$ub" ]; then
    ok "envelope bytes on the target line: packed $pb, one per envelope $ub"
else
    not_ok "envelope bytes: packed $pb, one per envelope $ub"
fi
vc_down
if /usr/bin/python3 tests/pcscd/inner_cmds.py --templates "$VC_PROFILE" \
    --profile examples/profiles/standard.json --log "$LOG" >"$T/plain.out" 2>&1; then
    ok "no plaintext inner command of the standard profile on the line: $(tail -n 1 "$T/plain.out")"
else
    not_ok "a plaintext inner command on the line"
    sed 's/^/#   /' "$T/plain.out"
fi

echo "76-packed: $pk_n checks, $pk_fails failed"
[ "$pk_fails" -eq 0 ]
