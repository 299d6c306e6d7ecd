#!/bin/sh
# 60-channel.sh - the secure channel over pcscd + vpcd (docs/protocol.md
# "Secure channel"), what issue 6 asks to show:
#   - a key card provisioned from a profile with the default policy
#     ("required"): kc-startup and kc-issue run through the channel, and the
#     pcscd APDU log (pcscd -a) of the whole start-up and issuance holds no PIN
#     digits, no holder name or number, no key check value with its label and
#     no template parameter in the clear; the same search finds each of them
#     planted in a copy of the log;
#   - plain VERIFY and GET DATA of holder data are refused (6982) on it, while
#     GET DATA DF03/DF07 stay readable;
#   - every wrapped APDU captured from that run, replayed into a new session
#     (channel_replay.py, an independent host in Python) or with no channel,
#     is refused;
#   - a recorded `kc-admin unblock holder` session, OPEN CHANNEL included,
#     replayed byte for byte later is refused and leaves the holder PIN's
#     tries as they were (the card adds a fresh ephemeral key to every
#     channel); `kc-admin audit --verify` still verifies afterwards, and the
#     log holds the replays' channel failures as counted summaries (at most
#     one entry each time the admin key is verified), not one entry each;
#   - a second key card provisioned with tests/data/other-issuer.key.pem is
#     refused by kc-issue before any PIN is sent: after its certificate no
#     VERIFY, no OPEN CHANNEL, nothing but SELECT and GET DATA on the line.
#
# Run from the top of the tree: B=build sh tests/integration/60-channel.sh

set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-issue kc-startup; do
    [ -x "$B/bin/$t" ] || { echo "60-channel: $B/bin/$t not built" >&2; exit 1; }
done
"$B/bin/kc-vcard" --list-cards | grep -qx target || { echo "60-channel: target card not built" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-60-channel.XXXXXX") || exit 1
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
ADMIN_KEY=000102030405060708090A0B0C0D0E0F
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
TOP=$(pwd)

# hex STRING: the bytes of STRING as the log prints them ("31 32 33").
hex() { printf '%s' "$1" | od -An -tx1 -v | tr 'a-f' 'A-F' | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'; }
# The APDU log as one line of hex per command or answer, data only.
apdu_lines() { sed -n 's/^[0-9]* *\(APDU\|SW\): //p' "$1"; }

# ---- the key cards: default policy, and another issuer's ---------------------
sed -e '/"secure_channel"/d' \
    -e "s#\"demo-issuer.key.pem\"#\"$TOP/examples/profiles/demo-issuer.key.pem\"#" \
    examples/profiles/demo.json >"$T/required.json"
sed -e "s#\"demo-issuer.key.pem\"#\"$TOP/tests/data/other-issuer.key.pem\"#" \
    examples/profiles/demo.json >"$T/other.json"
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
if "$B/bin/kc-admin" --sim "$VC_STATE" provision "$T/required.json" >"$T/prov.out" 2>&1; then
    touch "$VC_STATE.provisioned"
    ok "provision a key card with the default policy (required)"
else
    not_ok "provision a key card with the default policy"
    sed 's/^/#   /' "$T/prov.out"
fi
if "$B/bin/kc-admin" --sim "$T/other.state" provision "$T/other.json" >"$T/prov2.out" 2>&1; then
    ok "provision a second key card with another issuer key"
else
    not_ok "provision a second key card with another issuer key"
    sed 's/^/#   /' "$T/prov2.out"
fi
# What must never show: KCVs with their labels, from the key directory.
KEYCARD_ADMIN_KEY=$ADMIN_KEY "$B/bin/kc-admin" --sim "$VC_STATE" keys \
    --issuer-pub examples/profiles/demo-issuer.pub.pem >"$T/keys.out" 2>&1 ||
    not_ok "kc-admin keys"

VC_TARGET_STACK=$T/stack
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG
mkdir -p "$VC_DIR"
rm -f "$VC_DIR/pcscd.log"
vc_stack_make "$VC_TARGET_STACK" 2 || exit 1
vc_up >/dev/null || { echo "60-channel: virtual cards did not start" >&2; exit 1; }

# ---- plain commands on a "required" card ---------------------------------------
sws=$(vc_sws "00A4040C0AF04B4559434152440001" "0020008108$(hex 13579135 | tr -d ' ')" \
    "00CA5F2000" "00CADF0300" "00CADF0700" 2>&1 | tr '\n' ' ')
case $sws in
*"9000 6982 6982 9000 9000"*) ok "plain: VERIFY and holder data 6982, DF03/DF07 readable ($sws)" ;;
*) not_ok "plain commands on a required card: $sws" ;;
esac

# ---- start-up and issuance through the channel -------------------------------------
mark=$(wc -l <"$VC_DIR/pcscd.log")
if timeout 60 "$B/bin/kc-startup" --config "$STATION" >"$T/startup.out" 2>&1; then
    ok "kc-startup through the channel"
else
    not_ok "kc-startup through the channel"
    sed 's/^/#   /' "$T/startup.out"
fi
if timeout 120 "$B/bin/kc-issue" --config "$STATION" --profile examples/profiles/standard.json \
    >"$T/issue.out" 2>&1 && grep -q ': ISSUED ' "$T/issue.out"; then
    ok "kc-issue through the channel: $(grep ': ISSUED ' "$T/issue.out")"
else
    not_ok "kc-issue through the channel"
    sed 's/^/#   /' "$T/issue.out"
fi
tail -n +"$((mark + 1))" "$VC_DIR/pcscd.log" >"$T/run.log"
apdu_lines "$T/run.log" >"$T/run.hex"
n_sm=$(sed -n 's/^[0-9]* *APDU: //p' "$T/run.log" | grep '^\(84\|04\) ' | grep -vc '^84 C2 ')
if [ "$n_sm" -gt 10 ]; then ok "$n_sm wrapped commands to the key card"; else not_ok "only $n_sm wrapped commands"; fi

# The secrets and data the run handled, as bytes on the line.
: >"$T/needles"
for s in 13579135 246810 "Demo Operator" "OP-0001" STORE AIRLINE FITNESS "Taro Yamada"; do
    echo "$s|$(hex "$s")" >>"$T/needles"
done
# KCV || label length || label, as the key directory (GET DATA DF05) carries it.
sed -n 's/^\([0-9][0-9]*\)  *aes[0-9]*  *[^ ]*  *\([0-9a-f]\{6\}\)  *\(.*\)$/\2|\3/p' "$T/keys.out" |
    while IFS='|' read -r kcv label; do
        len=$(printf '%02X' "$(printf '%s' "$label" | wc -c)")
        k=$(echo "$kcv" | tr 'a-f' 'A-F' | sed 's/\(..\)/\1 /g; s/ $//')
        echo "kcv $kcv ($label)|$k $len $(hex "$label")" >>"$T/needles"
    done
[ "$(grep -c '^kcv' "$T/needles")" -ge 6 ] || not_ok "key directory not read ($(cat "$T/keys.out"))"
found=0
while IFS='|' read -r what pat; do
    if grep -q "$pat" "$T/run.hex"; then
        not_ok "in the clear on the line: $what"
        found=1
    fi
done <"$T/needles"
[ $found = 0 ] && ok "APDU log of start-up and issuance: no PIN, holder data, KCV or parameter in the clear ($(wc -l <"$T/needles") needles)"
# The search works: each needle planted in a copy of the log is found.
missed=0
while IFS='|' read -r what pat; do
    { cat "$T/run.hex"; echo "00 20 00 81 08 $pat 90 00"; } >"$T/planted.hex"
    grep -q "$pat" "$T/planted.hex" || missed=1
done <"$T/needles"
[ $missed = 0 ] && ok "every needle is found when planted" || not_ok "a planted needle was missed"

# ---- replay: every captured wrapped APDU, into new sessions ------------------------
sed -n 's/^[0-9]* *APDU: //p' "$T/run.log" | grep '^\(84\|04\) ' | grep -v '^84 C2 ' |
    tr -d ' ' >"$T/captured.txt"
if [ "$(wc -l <"$T/captured.txt")" -gt 10 ] &&
    timeout 120 "$VC_PY" tests/integration/channel_replay.py "$VC_KEYCARD_READER" "$T/captured.txt" \
        >"$T/replay.out" 2>&1; then
    ok "replay: $(tail -n 1 "$T/replay.out") (each into a new session: 6988; with no channel: refused)"
else
    not_ok "replay of the captured session"
    sed 's/^/#   /' "$T/replay.out"
fi

# ---- replay of a recorded admin session (issue 10, finding 3) ---------------------
# A recorded `kc-admin unblock holder` session - every APDU of it, OPEN
# CHANNEL included - sent again later, byte for byte, without the admin key:
# the card answers the OPEN with a new ephemeral key of its own, so the
# recorded wrapped VERIFY and RESET RETRY COUNTER do not verify (6988) and
# the holder PIN's tries stay as they were.
SEL=00A4040C0AF04B4559434152440001
# The holder PIN's tries left, from the plain status blob (C7 03 issuer holder admin).
holder_tries() {
    $VC_APDU --reader "$VC_KEYCARD_READER" "$SEL" 00CADF0300 | tail -n 1 |
        sed -n 's/^.*C703\(..\)\(..\)\(..\).* 9000$/\2/p'
}
spend_holder_try() {
    KEYCARD_HOLDER_PIN=000000 timeout 60 "$B/bin/kc-startup" --config "$STATION" >"$T/spend.out" 2>&1
    [ $? -eq 1 ] && grep -qi 'wrong\|tries' "$T/spend.out"
}
spend_holder_try || { not_ok "a wrong holder PIN through kc-startup"; sed 's/^/#   /' "$T/spend.out"; }
t_before=$(holder_tries)
mark=$(wc -l <"$VC_DIR/pcscd.log")
if KEYCARD_ADMIN_KEY=$ADMIN_KEY timeout 60 "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" \
    unblock holder --issuer-pub examples/profiles/demo-issuer.pub.pem >"$T/unblock.out" 2>&1; then
    tail -n +"$((mark + 1))" "$VC_DIR/pcscd.log" | sed -n 's/^[0-9]* *APDU: //p' | tr -d ' ' >"$T/unblock.apdus"
    ok "kc-admin unblock holder through the channel (holder tries $t_before -> $(holder_tries))"
else
    : >"$T/unblock.apdus"
    not_ok "kc-admin unblock holder"
    sed 's/^/#   /' "$T/unblock.out"
fi
if grep -q '^80400000' "$T/unblock.apdus" && grep -q '^042C0382' "$T/unblock.apdus"; then
    ok "recorded: $(wc -l <"$T/unblock.apdus") APDUs, OPEN CHANNEL and the wrapped RESET RETRY COUNTER among them"
else
    not_ok "the recording holds no OPEN CHANNEL or no wrapped RESET RETRY COUNTER"
    sed 's/^/#   /' "$T/unblock.apdus"
fi
spend_holder_try || not_ok "a wrong holder PIN after the unblock"
t_spent=$(holder_tries)
# shellcheck disable=SC2046
$VC_APDU --reader "$VC_KEYCARD_READER" $(cat "$T/unblock.apdus") >"$T/replay-unblock.out" 2>&1
t_after=$(holder_tries)
replay_sws=$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $NF }' "$T/replay-unblock.out")
if [ -n "$t_spent" ] && [ "$t_spent" = "$t_after" ] && grep -q ' 6988$\|^6988$' "$T/replay-unblock.out"; then
    ok "replayed unblock session refused, holder tries unchanged ($t_spent -> $t_after; SWs $replay_sws)"
else
    not_ok "replayed unblock session: holder tries $t_spent -> $t_after (SWs $replay_sws)"
    sed 's/^/#   /' "$T/replay-unblock.out"
fi
if KEYCARD_ADMIN_KEY=$ADMIN_KEY timeout 60 "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" \
    audit --verify --issuer-pub examples/profiles/demo-issuer.pub.pem >"$T/audit.out" 2>&1; then
    ok "kc-admin audit --verify after the replays: $(grep -m1 verified "$T/audit.out")"
else
    not_ok "kc-admin audit --verify after the replays"
    sed 's/^/#   /' "$T/audit.out"
fi
# The failures of both replays are in the log, counted in summaries (issue 10,
# finding 5): the captured APDUs of channel_replay.py, then the unblock's VERIFY.
KEYCARD_ADMIN_KEY=$ADMIN_KEY timeout 60 "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" audit \
    --issuer-pub examples/profiles/demo-issuer.pub.pem >"$T/audit.list" 2>&1
n_fail=$(sed -n 's/^.* channel-failure *\([0-9][0-9]*\) failed .*$/\1/p' "$T/audit.list" |
    awk '{ s += $1 } END { print s + 0 }')
n_entries=$(grep -c ' channel-failure ' "$T/audit.list")
want_fail=$(($(wc -l <"$T/captured.txt") + 1))
if [ "$n_fail" -eq "$want_fail" ] && [ "$n_entries" -le 2 ] &&
    grep ' channel-failure ' "$T/audit.list" | tail -n 1 | grep -q ' 1 failed (MAC 1,'; then
    ok "audit log: $n_fail channel failures in $n_entries summary entries; the last: $(grep ' channel-failure ' "$T/audit.list" | tail -n 1 | tr -s ' ')"
else
    not_ok "audit log: $n_fail channel failures (want $want_fail) in $n_entries entries"
    sed 's/^/#   /' "$T/audit.list"
fi

# ---- another issuer's key card: refused before any PIN ----------------------------
vc_card_stop keycard
vc_card_start keycard 0 "$T/other.state" && vc_wait_card "$VC_KEYCARD_READER" ||
    not_ok "second key card did not start"
mark=$(wc -l <"$VC_DIR/pcscd.log")
timeout 60 "$B/bin/kc-issue" --config "$STATION" --profile examples/profiles/standard.json \
    >"$T/other.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q 'key card refused' "$T/other.out"; then
    ok "kc-issue refuses the other issuer's key card (exit $rc): $(grep -m1 'refused' "$T/other.out")"
else
    not_ok "kc-issue on the other issuer's key card (exit $rc)"
    sed 's/^/#   /' "$T/other.out"
fi
tail -n +"$((mark + 1))" "$VC_DIR/pcscd.log" | sed -n 's/^[0-9]* *APDU: //p' >"$T/other.hex"
if grep -q "^00 CA DF 07" "$T/other.hex" &&
    ! grep -v '^\(00 A4 \|00 CA \|FF \)' "$T/other.hex" | grep -q . ; then
    ok "nothing but SELECT and GET DATA went to it ($(wc -l <"$T/other.hex") APDUs)"
else
    not_ok "other APDUs reached the other issuer's card"
    sed 's/^/#   /' "$T/other.hex"
fi
if grep -q "$(hex 13579135)\|$(hex 246810)" "$T/other.hex"; then
    not_ok "a PIN reached the other issuer's card"
else
    ok "no PIN reached the other issuer's card"
fi

echo "60-channel: $it_n checks, $it_fails failed"
[ "$it_fails" -eq 0 ]
