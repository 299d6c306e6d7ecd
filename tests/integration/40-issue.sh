#!/bin/sh
# 40-issue.sh - hidden issuance end to end over pcscd + vpcd: the key card
# (slot 0) and a stacker of blank target cards (slot 1, kc-vcard --stack).
#   - replay refused (issue_replay.c, raw transmit through libkeycard): an
#     envelope sent again in the same session, in a later session of the same
#     card, to another card; single flipped bits; one length per session;
#   - kc-issue issues a card with each seeding way (target-seed,
#     previous-random, static) and each lock way (a b c d);
#   - after each lock a correctly encrypted issuance command is refused 6985
#     and the operational commands follow the access rights set at issuance;
#   - an issued card is recognised and skipped, nothing sent;
#   - every ENVELOPE on the line has one length;
#   - the pcscd APDU log (pcscd -a) of the whole run holds none of the inner
#     commands the templates make from the profiles (tests/pcscd/inner_cmds.py),
#     and the search does find one planted in a copy of the log.
#
# Run from the top of the tree: B=build sh tests/integration/40-issue.sh

set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-issue; do
    [ -x "$B/bin/$t" ] || { echo "40-issue: $B/bin/$t not built" >&2; exit 1; }
done
"$B/bin/kc-vcard" --list-cards | grep -qx target || { echo "40-issue: target card not built" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-40-issue.XXXXXX") || exit 1
# (vcards.sh uses n for its own loops: these counters have their own names)
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

STATION=examples/profiles/demo-station.json
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/stack
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG
mkdir -p "$VC_DIR"
rm -f "$VC_DIR/pcscd.log"

# ---- the cards: a key card, six blank targets in the stacker ---------------
vc_stack_make "$VC_TARGET_STACK" 6 || exit 1
vc_up >/dev/null || { echo "40-issue: virtual cards did not start" >&2; exit 1; }

prog=$B/integration/issue_replay
mkdir -p "$B/integration"
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -o "$prog" \
    tests/integration/issue_replay.c -L"$B/lib" -lkeycard -Wl,-rpath,"$B/lib" ||
    { echo "40-issue: cannot build issue_replay.c" >&2; exit 1; }

# ---- replay (cards 1 and 2; card 3 is in the slot after it) ------------------
if timeout 120 "$prog" replay "$VC_KEYCARD_READER" "$VC_TARGET_READER" >"$T/replay.out" 2>&1; then
    ok "replay checks ($(grep -c '^ok' "$T/replay.out") passed)"
else
    not_ok "replay checks"
fi
sed 's/^/#   /' "$T/replay.out"

# ---- one profile per seeding way and lock way ------------------------------------
# profile WAY LOCK-STEP: store folder with a PIN key file, an open file (1010,
# read always, change PIN 1) and a PIN-protected one (1012), then the lock.
profile() {
    cat <<EOF2
{ "issuance": "keycard/1", "name": "40-issue $1 $3", "key": 1, "way": "$1", "bucket": 256,
  "steps": [
    { "template": 1, "params": [{"u16": "0x1000"}, {"u16": "0x3F00"}, {"u16": 512}, {"u8": 0}, {"u8": "0xFF"}, {"text": "STORE"}] },
    { "template": 2, "params": [{"u16": "0x1001"}, {"u16": "0x1000"}, {"u8": "0xFF"}] },
    { "template": 5, "params": [{"u16": "0x1001"}, {"u8": 3}, {"text": "1234"}] },
    { "template": 8, "params": [{"u16": "0x1001"}, {"key": 3}] },
    { "template": 3, "params": [{"u16": "0x1010"}, {"u16": "0x1000"}, {"u16": 16}, {"u8": 0}, {"u8": "0x11"}] },
    { "template": 3, "params": [{"u16": "0x1012"}, {"u16": "0x1000"}, {"u16": 16}, {"u8": "0x11"}, {"u8": "0x11"}] },
    { "template": 11, "params": [{"u16": "0x1010"}, {"u16": 0}, {"text": "OPEN-DATA-1010.."}] },
    { "template": 11, "params": [{"u16": "0x1012"}, {"u16": 0}, {"text": "SECRET-1012....."}] },
    $2
  ] }
EOF2
}
profile target-seed '{ "template": 13 }' a >"$T/p-a.json"
profile previous-random '{ "template": 14 }' b >"$T/p-b.json"
profile static '{ "template": 15 }' c >"$T/p-c.json"
profile target-seed '{ "template": 16 }' d >"$T/p-d.json"

# eject [last]: the card in the slot goes to issued/; wait for the next one
# unless it was the last.
eject() {
    $VC_APDU --reader "$VC_TARGET_READER" FFEE0000 >/dev/null 2>&1 || return 1
    [ "${1:-}" = last ] && return 0
    sleep 1
    vc_wait_card "$VC_TARGET_READER" 10
}

# A target reader that does not exist: said so (not "is pcscd running?"), and
# before any PIN went to the key card (the target is opened first).
before=$(grep -c 'APDU: \(00\|04\) 20 ' "$VC_DIR/pcscd.log")
"$B/bin/kc-issue" --config "$STATION" --profile "$T/p-a.json" --target-reader "No Such Reader 9" \
    >"$T/noreader.out" 2>&1
rc=$?
after=$(grep -c 'APDU: \(00\|04\) 20 ' "$VC_DIR/pcscd.log")
if [ $rc -eq 1 ] && grep -q "no PC/SC reader named 'No Such Reader 9'" "$T/noreader.out" &&
    ! grep -q 'pcscd running' "$T/noreader.out" && [ "$before" = "$after" ]; then
    ok "a target reader that does not exist: named, exit 1, no PIN sent ($(tail -n 1 "$T/noreader.out" | cut -c1-90))"
else
    not_ok "a target reader that does not exist (rc $rc, VERIFYs $before -> $after)"
    sed 's/^/#   /' "$T/noreader.out"
fi

for lk in a b c d; do
    way=$(sed -n 's/.*"way": "\([a-z-]*\)".*/\1/p' "$T/p-$lk.json")
    # The first card with --trace: the operator's trace as the attacker reads it.
    trace=""
    [ "$lk" = a ] && trace=--trace
    if timeout 60 "$B/bin/kc-issue" $trace --config "$STATION" --profile "$T/p-$lk.json" \
            >"$T/issue-$lk.out" 2>&1 && grep -q ': ISSUED ' "$T/issue-$lk.out"; then
        ok "kc-issue: seeding way $way, lock way ($lk): $(grep ': ISSUED ' "$T/issue-$lk.out")"
    else
        not_ok "kc-issue: seeding way $way, lock way ($lk)"
        sed 's/^/#   /' "$T/issue-$lk.out"
    fi
    if [ "$lk" = a ]; then
        tr=$T/issue-a.out
        # Every inner command of the issuance is there: PINs, BEGIN on both
        # cards, WRAP, each envelope, END, each with its answer and time.
        missing=""
        for c in '> 00 20 00 81 \[8 bytes' '> 00 20 00 82 \[6 bytes' '> 80 10 83' '> 80 50 ' \
            '> 80 52 00 00' '> 84 C2 00 00 envelope' '> 80 54 '; do
            grep -q "trace: .*$c" "$tr" || missing="$missing [$c]"
        done
        n_env=$(grep -c 'trace: .*> 84 C2 00 00 envelope' "$tr")
        n_ans=$(grep -c 'trace: .* < .*ms)$' "$tr")
        # Nothing secret: the PINs and every key of demo.json, in hex or text,
        # and the template parameters of p-a.json (STORE, SECRET-1012, 1234).
        leaks=""
        for x in '31 33 35 37 39 31 33 35' '32 34 36 38 31 30' '13579135' '246810' \
            '00 01 02 03 04 05 06 07' '40 41 42 43 44 45' '50 51 52 53 54 55' '70 71 72 73 74 75' \
            '80 81 82 83 84 85' '90 91 92 93 94 95' 'B0 B1 B2 B3 B4 B5' '53 54 4F 52 45' 'STORE' \
            '53 45 43 52 45 54' 'SECRET' '31 32 33 34' '4F 50 45 4E'; do
            grep 'trace: ' "$tr" | grep -q -- "$x" && leaks="$leaks [$x]"
        done
        # Packed (the profile's default): the envelopes kc-issue reports, fewer than the 9 steps.
        said=$(sed -n 's/.*ISSUED issued: 9 steps in \([0-9]*\) envelope.*/\1/p' "$tr")
        if [ -z "$missing" ] && [ "$n_env" = "$said" ] && [ "$n_env" -lt 9 ] && [ -z "$leaks" ]; then
            ok "--trace: every inner command of the issuance ($(grep -c 'trace: .* > ' "$tr") commands, $n_env envelopes, $n_ans answers with their time); no PIN, key or parameter bytes"
        else
            not_ok "--trace: missing$missing, $n_env envelopes (said: $said), leaks$leaks"
            grep 'trace: ' "$tr" | sed 's/^/#   /' | head -60
        fi
    fi
    if timeout 60 "$prog" locked "$VC_KEYCARD_READER" "$VC_TARGET_READER" 1234 >"$T/locked-$lk.out" 2>&1; then
        ok "lock ($lk): encrypted issuance refused, operational commands by the access rights ($(grep -c '^ok' "$T/locked-$lk.out") checks)"
    else
        not_ok "lock ($lk): after-lock checks"
    fi
    sed 's/^/#   /' "$T/locked-$lk.out"
    if [ "$lk" = d ]; then
        # The last card again: recognised as issued, skipped, nothing sent.
        before=$(grep -c 'APDU: 84 C2' "$VC_DIR/pcscd.log")
        "$B/bin/kc-issue" --config "$STATION" --profile "$T/p-a.json" >"$T/again.out" 2>&1
        rc=$?
        after=$(grep -c 'APDU: 84 C2' "$VC_DIR/pcscd.log")
        if [ $rc -eq 0 ] && grep -q 'SKIPPED already issued' "$T/again.out" && [ "$before" = "$after" ]; then
            ok "an issued card is skipped and no envelope is sent to it"
        else
            not_ok "an issued card is skipped (rc $rc, envelopes $before -> $after)"
            sed 's/^/#   /' "$T/again.out"
        fi
    fi
    if [ "$lk" = d ]; then eject last; else eject; fi || { not_ok "eject after lock ($lk)"; break; }
done
ls "$VC_TARGET_STACK/issued" | sed 's/^/#   issued: /'
[ "$(ls "$VC_TARGET_STACK/issued" | wc -l)" -eq 6 ] && ok "the stacker moved all six cards to issued/" ||
    not_ok "the stacker moved all six cards to issued/"

vc_down

# ---- the line -------------------------------------------------------------------
LOG=$VC_DIR/pcscd.log
lens=$(sed -n 's/.*APDU: \(84 C2 .*\)/\1/p' "$LOG" | awk '{ print NF }' | sort -u)
cnt=$(grep -c 'APDU: 84 C2' "$LOG")
if [ "$cnt" -gt 0 ] && [ "$(echo "$lens" | wc -l)" -eq 1 ]; then
    ok "all $cnt ENVELOPE commands on the line have one length ($lens bytes)"
else
    not_ok "ENVELOPE lengths: $(echo $lens) over $cnt envelopes"
fi
for lk in a b c d; do
    if /usr/bin/python3 tests/pcscd/inner_cmds.py --templates "$VC_PROFILE" --profile "$T/p-$lk.json" \
        --log "$LOG" >"$T/plain-$lk.out" 2>&1; then
        ok "no plaintext inner command of profile ($lk) on the line: $(tail -n 1 "$T/plain-$lk.out")"
    else
        not_ok "plaintext inner command of profile ($lk) found on the line"
        sed 's/^/#   /' "$T/plain-$lk.out"
    fi
done
# The search itself works: one plaintext CREATE DATA FILE planted in a copy.
cp "$LOG" "$T/planted.log"
echo "00000000 APDU: 80 E0 03 00 09 10 10 10 00 03 00 10 00 11" >>"$T/planted.log"
if /usr/bin/python3 tests/pcscd/inner_cmds.py --templates "$VC_PROFILE" --profile "$T/p-a.json" \
    --log "$T/planted.log" >"$T/planted.out" 2>&1; then
    not_ok "the search finds a planted plaintext command"
else
    ok "the search finds a planted plaintext command ($(grep -c FOUND "$T/planted.out") hits)"
fi

echo "40-issue: $it_n checks, $it_fails failed"
[ "$it_fails" -eq 0 ]
