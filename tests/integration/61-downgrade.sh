#!/bin/sh
# 61-downgrade.sh - no downgrade (issue 10, finding 2), over pcscd + vpcd
# with faults_preload.c in front of SCardTransmit and the pcscd APDU log
# (pcscd -a) as the witness. The key card is provisioned from demo.json,
# whose "optional" policy makes the card itself take plain PINs: what is
# tested here is that the host never sends them.
#   (a) a reader that answers 6A88 to GET DATA DF07 (the channel certificate
#       stripped): kc-admin (every command that sends a PIN, the admin key or
#       provisioning data), kc-issue and kc-startup refuse the card, exit 1
#       (kc-admin exit 2 without an issuer key), and the log shows nothing
#       but SELECT and GET DATA: no VERIFY, no PIN digits, no admin key, no
#       key value;
#   (b) one wrapped command lost on the line (SCARD_F_COMM_ERROR on the
#       holder PIN's VERIFY; downgrade_client.c plays the station): every
#       later call gives KEYCARD_ERR_SESSION_LOST with nothing sent until
#       keycard_reopen, and no plain VERIFY is on the line.
# Both fail on a libkeycard or kc-admin that falls back to plain.
#
# Run from the top of the tree: B=build sh tests/integration/61-downgrade.sh

set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-issue kc-startup; do
    [ -x "$B/bin/$t" ] || { echo "61-downgrade: $B/bin/$t not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-61-downgrade.XXXXXX") || exit 1
it_fails=0
it_n=0
ok() { it_n=$((it_n + 1)); echo "ok $it_n - $1"; }
not_ok() { it_n=$((it_n + 1)); it_fails=$((it_fails + 1)); echo "not ok $it_n - $1"; }
show() { sed 's/^/#   /' "$1" | head -n 20; }
finish() {
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STATION=examples/profiles/demo-station.json
IPUB=examples/profiles/demo-issuer.pub.pem
AKEY=000102030405060708090A0B0C0D0E0F
unset KEYCARD_ISSUER_PUB
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810 KEYCARD_ADMIN_KEY=$AKEY

mkdir -p "$B/integration"
PRELOAD=$B/integration/faults_preload.so
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC $(pkg-config --cflags libpcsclite) \
    -o "$PRELOAD" tests/integration/faults_preload.c -ldl ||
    { echo "61-downgrade: cannot build faults_preload.c" >&2; exit 1; }
case $PRELOAD in /*) ;; *) PRELOAD=$(pwd)/$PRELOAD ;; esac
CLIENT=$B/integration/downgrade_client
rm -f "$CLIENT"
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -o "$CLIENT" \
    tests/integration/downgrade_client.c -L"$B/lib" -lkeycard -Wl,-rpath,"$B/lib" ||
    echo "61-downgrade: cannot build downgrade_client.c (a library without keycard_reopen?)" >&2
[ -n "${KC_SANITIZE:-}" ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# hex STRING: the bytes of STRING as the log prints them ("31 32 33").
hex() { printf '%s' "$1" | od -An -tx1 -v | tr 'a-f' 'A-F' | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'; }
# spaced HEX: "0A0B" as "0A 0B".
spaced() { echo "$1" | sed 's/\(..\)/\1 /g; s/ $//'; }
# The commands pcscd saw since line $1 of its log, one a line in hex.
apdus_since() { tail -n +"$(($1 + 1))" "$VC_DIR/pcscd.log" | sed -n 's/^[0-9]* *APDU: //p'; }
log_mark() { wc -l <"$VC_DIR/pcscd.log"; }

# What must never cross the line in plain: both PINs, a new PIN, the admin
# key, the master key values of demo.json, in any command or answer.
: >"$T/needles"
for s in 13579135 246810 86420864; do echo "PIN $s|$(hex "$s")" >>"$T/needles"; done
echo "admin key|$(spaced $AKEY)" >>"$T/needles"
sed -n 's/.*"hex": "\([0-9A-Fa-f]\{32,64\}\)".*/\1/p' examples/profiles/demo.json | sort -u |
    while read -r k; do echo "key value $k|$(spaced "$(echo "$k" | cut -c1-32 | tr 'a-f' 'A-F')")"; done \
        >>"$T/needles"
[ "$(grep -c '^key value' "$T/needles")" -ge 4 ] || not_ok "key values not read from demo.json"

# no_secret DESC FILE: no needle in FILE (the log since a mark, commands and answers).
no_secret() {
    found=0
    while IFS='|' read -r what pat; do
        if grep -q "$pat" "$2"; then
            not_ok "$1: in the clear on the line: $what"
            found=1
        fi
    done <"$T/needles"
    [ $found = 0 ] && ok "$1: no PIN, admin key or key value on the line ($(wc -l <"$T/needles") needles)"
}

KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=
KC_TARGET_STATE=$T/target.card
VC_TARGET_STATE=$KC_TARGET_STATE
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG
mkdir -p "$VC_DIR"
rm -f "$VC_DIR/pcscd.log"
vc_target_make "$VC_TARGET_STATE" 444F574E47524144 >/dev/null || exit 1
vc_up >/dev/null || { echo "61-downgrade: virtual cards did not start" >&2; exit 1; }
R=$VC_KEYCARD_READER

# The search works: each needle is found in a line that carries it.
missed=0
while IFS='|' read -r what pat; do
    echo "00 20 00 81 08 $pat" | grep -q "$pat" || missed=1
done <"$T/needles"
[ $missed = 0 ] && ok "every needle is found when planted" || not_ok "a planted needle was missed"

# ---- (a) the channel certificate stripped by the reader ---------------------------
# stripped NAME WANT-EXIT COMMAND...: run under the stripping shim; check the
# exit code and that only SELECT and GET DATA reached any card.
stripped() {
    name=$1 want=$2
    shift 2
    : >"$T/$name.shim"
    m=$(log_mark)
    env LD_PRELOAD="$PRELOAD" KC_FAULT_STRIP_CERT=1 KC_FAULT_LOG="$T/$name.shim" \
        timeout -k 5 60 "$@" >"$T/$name.out" 2>&1 </dev/null
    rc=$?
    apdus_since "$m" >"$T/$name.apdus"
    if [ $rc = "$want" ]; then
        ok "$name: refused, exit $rc: $(grep -m1 'refus\|issuer-pub' "$T/$name.out" | cut -c1-120)"
    else
        not_ok "$name: exit $rc, want $want"
        show "$T/$name.out"
    fi
    if [ "$want" = 2 ] || grep -q '^STRIP$' "$T/$name.shim"; then :; else
        not_ok "$name: the shim did not see GET DATA DF07"
    fi
    if grep -v '^\(00 A4 \|00 CA \)' "$T/$name.apdus" | grep -q .; then
        not_ok "$name: more than SELECT and GET DATA reached the cards"
        grep -v '^\(00 A4 \|00 CA \)' "$T/$name.apdus" | show /dev/stdin
    else
        ok "$name: nothing but SELECT and GET DATA on the line ($(wc -l <"$T/$name.apdus") APDUs)"
    fi
    cat "$T/$name.apdus" >>"$T/a.apdus"
}

: >"$T/a.apdus"
a_mark=$(log_mark)
ADMIN=$B/bin/kc-admin
stripped admin-keys 1 "$ADMIN" --reader "$R" keys --issuer-pub "$IPUB"
stripped admin-keys-env 1 env KEYCARD_ISSUER_PUB="$IPUB" "$ADMIN" --reader "$R" templates
stripped admin-keys-nokey 2 "$ADMIN" --reader "$R" keys
grep -q 'give --issuer-pub' "$T/admin-keys-nokey.out" &&
    ok "admin-keys-nokey: says to give --issuer-pub" || not_ok "admin-keys-nokey: message"
stripped admin-info-pins 1 "$ADMIN" --reader "$R" info --issuer-pin --holder-pin --issuer-pub "$IPUB"
stripped admin-audit 1 "$ADMIN" --reader "$R" audit --issuer-pub "$IPUB"
stripped admin-change-pin 1 env KEYCARD_NEW_PIN=86420864 "$ADMIN" --reader "$R" change-pin holder \
    --issuer-pub "$IPUB"
stripped admin-unblock 1 env KEYCARD_NEW_PIN=86420864 "$ADMIN" --reader "$R" unblock holder \
    --new-pin --issuer-pub "$IPUB"
stripped admin-provision 1 "$ADMIN" --reader "$R" provision examples/profiles/demo.json
stripped kc-issue 1 "$B/bin/kc-issue" --config "$STATION" --profile examples/profiles/standard.json \
    --reader "$R" --target-reader "$VC_TARGET_READER"
stripped kc-startup 1 "$B/bin/kc-startup" --config "$STATION" --reader "$R"
apdus_since "$a_mark" >"$T/a.log"
tail -n +"$((a_mark + 1))" "$VC_DIR/pcscd.log" | sed -n 's/^[0-9]* *\(APDU\|SW\): //p' >"$T/a.all"
if grep -q '^00 20 \|^00 24 \|^00 2C \|^80 E2 \|^80 52 ' "$T/a.log"; then
    not_ok "(a): a VERIFY, CHANGE, RESET RETRY COUNTER, PUT or WRAP went in plain"
else
    ok "(a): no VERIFY, CHANGE, RESET RETRY COUNTER, PUT or WRAP on the line"
fi
no_secret "(a)" "$T/a.all"
# Nothing was spent: the tries are all there (read without the shim).
if "$ADMIN" --reader "$R" info >"$T/info.out" 2>&1 &&
    [ "$(grep -c '3 tries left' "$T/info.out")" = 3 ]; then
    ok "(a): every credential still has its 3 tries"
else
    not_ok "(a): tries changed"
    show "$T/info.out"
fi

# ---- (a2) a key card of protocol version 1 --------------------------------------
# The SELECT answer says version 1.0: the library refuses the card right there,
# before any PIN, and says why.
m=$(log_mark)
: >"$T/v1.shim"
env LD_PRELOAD="$PRELOAD" KC_FAULT_V1=1 KC_FAULT_LOG="$T/v1.shim" timeout -k 5 60 \
    "$ADMIN" --reader "$R" info --issuer-pin --holder-pin --issuer-pub "$IPUB" \
    >"$T/v1.out" 2>&1 </dev/null
rc=$?
if [ $rc = 1 ] && grep -q 'protocol version mismatch' "$T/v1.out" && grep -q '^V1$' "$T/v1.shim"; then
    ok "a v1 key card is refused with exit 1: $(grep -m1 'version' "$T/v1.out" | cut -c1-100)"
else
    not_ok "a v1 key card: exit $rc"
    show "$T/v1.out"
fi
if apdus_since "$m" | grep -v '^00 A4 ' | grep -q .; then
    not_ok "a v1 key card got more than SELECT"
else
    ok "a v1 key card got nothing but SELECT"
fi

# ---- (b) one wrapped command lost on the line ------------------------------------
m=$(log_mark)
: >"$T/b.shim"
env LD_PRELOAD="$PRELOAD" KC_FAULT_AT=wrapped:2 KC_FAULT_LOG="$T/b.shim" \
    timeout -k 5 60 "$CLIENT" "$R" "$IPUB" >"$T/b.out" 2>&1 </dev/null
rc=$?
apdus_since "$m" >"$T/b.apdus"
tail -n +"$((m + 1))" "$VC_DIR/pcscd.log" | sed -n 's/^[0-9]* *\(APDU\|SW\): //p' >"$T/b.all"
if [ $rc = 0 ]; then
    ok "(b): the calls after the fault say session lost; keycard_reopen starts anew"
else
    not_ok "(b): downgrade_client exit $rc"
fi
sed 's/^/# /' "$T/b.out"
grep -q '^FAULT$' "$T/b.shim" && ok "(b): the fault was injected" || not_ok "(b): no fault injected"
between=$(sed -n '/^FAULT$/,/^REOPEN$/p' "$T/b.shim" | grep -vc '^FAULT$\|^REOPEN$')
if [ "$between" = 0 ] && grep -q '^REOPEN$' "$T/b.shim"; then
    ok "(b): nothing sent between the fault and keycard_reopen"
else
    not_ok "(b): $between APDUs sent between the fault and keycard_reopen"
    show "$T/b.shim"
fi
if grep -q '^00 20 00 8[1-3] ' "$T/b.apdus"; then
    not_ok "(b): a plain VERIFY with a PIN on the line"
    grep '^00 20 ' "$T/b.apdus" | show /dev/stdin
else
    ok "(b): no plain VERIFY on the line ($(grep -c '^04 20 ' "$T/b.apdus") wrapped ones)"
fi
no_secret "(b)" "$T/b.all"

echo "61-downgrade: $it_n checks, $it_fails failed"
[ "$it_fails" -eq 0 ]
