#!/bin/sh
# 41-host-faults.sh - host faults during issuance over pcscd + vpcd: kc-issue
# runs with tests/integration/faults_preload.c in front of SCardTransmit,
# which runs a hook at an exact point (before the K-th ENVELOPE is sent, or
# after its answer):
#   (a) the target card pulled between the key card's WRAP and the first send
#       (pcscd not yet aware of it);
#   (b) pcscd restarted after three envelopes;
#   (c) another PC/SC client resetting the key card (SCARD_RESET_CARD) in the
#       middle of the envelopes: kc-issue holds the key card (one PC/SC
#       transaction per card), so that client waits until the card is done and
#       the card is issued; the key card power-cycled (its kc-vcard restarted)
#       in the middle, which kc-issue's presence check before the lock sees;
#       and power-cycled after the lock envelope's answer, before END
#       (kc-issue opens a new session and recovers the card: late END);
#   (d) the target card pulled after half the steps;
#   (g) kc-issue killed (kill -9) after the lock, before END: the next run
#       recovers the card; (h) the same with another card's session in
#       between: the locked card is set aside.
# For each: kc-issue ends in bounded time (timeout) with exit 1 and one FAILED
# line (two when it opened a new key card session and tried the card again),
# never "ISSUED"; the target's state (GET DATA DF10) is what the fault
# allows; the key card's audit log holds no "completed" receipt for the card;
# a second run on the same card does what docs/operator-faults.md says:
# a card nothing reached is issued, a partially issued card is refused with
# nothing sent, a card locked without receipt is recovered or set aside.
#
# Run from the top of the tree: B=build sh tests/integration/41-host-faults.sh

set -u
B=${B:-build}
. tests/vcards.sh

# ---- hook mode: run by the preload object from inside kc-issue -----------------
if [ "${1:-}" = --hook ]; then
    case ${2:-} in
    pull-nowait) vc_stop_pidfile "$VC_DIR/kc-vcard-target.pid" kc-vcard ;;
    pull) vc_card_stop target ;;
    pcscd-restart)
        vc_pcscd_stop
        vc_pcscd_start || exit 1
        vc_wait_card "$VC_KEYCARD_READER" 10 && vc_wait_card "$VC_TARGET_READER" 10
        ;;
    kc-reset) $VC_APDU --reader "$VC_KEYCARD_READER" :reset >/dev/null ;;
    kc-reset-bg)
        # Another program's reset, in the background: kc-issue reserved the
        # key card, so it is refused (sharing violation) while kc-issue runs,
        # or goes through once kc-issue has ended. Its exit status goes to
        # $KC_HF_RESET_DONE, its message to $KC_HF_RESET_DONE.err.
        (
            $VC_APDU --reader "$VC_KEYCARD_READER" :reset >/dev/null 2>"$KC_HF_RESET_DONE.err"
            echo $? >"$KC_HF_RESET_DONE.tmp" && mv "$KC_HF_RESET_DONE.tmp" "$KC_HF_RESET_DONE"
        ) </dev/null >/dev/null 2>&1 &
        ;;
    sigint | sigterm | sigkill)
        # Ctrl-C (or a service stop, or kill -9) of kc-issue, which runs this hook.
        p=$PPID
        while [ "$p" -gt 1 ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" != kc-issue ]; do
            p=$(awk '{ print $4 }' "/proc/$p/stat")
        done
        [ "$p" -gt 1 ] && kill -s "$(echo "$2" | sed 's/^sig//' | tr a-z A-Z)" "$p"
        ;;
    kc-powercycle)
        vc_card_stop keycard
        vc_card_start keycard 0 "$VC_STATE" && vc_wait_card "$VC_KEYCARD_READER" 10
        ;;
    *) exit 2 ;;
    esac
    exit
fi

vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-issue; do
    [ -x "$B/bin/$t" ] || { echo "41-host-faults: $B/bin/$t not built" >&2; exit 1; }
done
"$B/bin/kc-vcard" --list-cards | grep -qx target ||
    { echo "41-host-faults: target card not built" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-41-faults.XXXXXX") || exit 1
hf_fails=0
hf_n=0
ok() { hf_n=$((hf_n + 1)); echo "ok $hf_n - $1"; }
not_ok() { hf_n=$((hf_n + 1)); hf_fails=$((hf_fails + 1)); echo "not ok $hf_n - $1"; }
check() { # check DESC COMMAND...: ok when COMMAND succeeds
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
finish() {
    vc_down
    [ -n "${KC_FAULTS_KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STATION=examples/profiles/demo-station.json
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
ADMIN_KEY=000102030405060708090A0B0C0D0E0F
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=
KC_TARGET_STATE=$T/first.card
VC_TARGET_STATE=$KC_TARGET_STATE
# The hook (a child of kc-issue) finds the same cards through these.
export B KC_VCARD_STATE KC_TARGET_STATE
mkdir -p "$VC_DIR" "$B/integration"

. tests/faults.sh
faults_preload 41-host-faults || exit 1

# Nine steps, the last one the lock: way target-seed, lock way (a); one step
# per envelope ("pack": false), so that a hook can fall between any two steps
# (packed sessions meet kills and crashes in 46, 72 and 73, power cuts in
# test_powercut).
cat >"$T/profile.json" <<'EOF'
{ "issuance": "keycard/1", "name": "41-host-faults", "key": 1, "way": "target-seed", "bucket": 256, "pack": false,
  "steps": [
    { "template": 1, "params": [{"u16": "0x1000"}, {"u16": "0x3F00"}, {"u16": 512}, {"u8": 0}, {"u8": "0xFF"}, {"text": "STORE"}] },
    { "template": 2, "params": [{"u16": "0x1001"}, {"u16": "0x1000"}, {"u8": "0xFF"}] },
    { "template": 5, "params": [{"u16": "0x1001"}, {"u8": 3}, {"text": "1234"}] },
    { "template": 8, "params": [{"u16": "0x1001"}, {"key": 3}] },
    { "template": 3, "params": [{"u16": "0x1010"}, {"u16": "0x1000"}, {"u16": 16}, {"u8": 0}, {"u8": "0x11"}] },
    { "template": 3, "params": [{"u16": "0x1012"}, {"u16": "0x1000"}, {"u16": 16}, {"u8": "0x11"}, {"u8": "0x11"}] },
    { "template": 11, "params": [{"u16": "0x1010"}, {"u16": 0}, {"text": "OPEN-DATA-1010.."}] },
    { "template": 11, "params": [{"u16": "0x1012"}, {"u16": 0}, {"text": "SECRET-1012....."}] },
    { "template": 13 }
  ] }
EOF
STEPS=9

# ---- helpers -----------------------------------------------------------------------
# insert SERIAL: a new blank target card with SERIAL in slot 1 (the one before
# is taken out first).
insert() {
    vc_card_stop target
    KC_TARGET_STATE=$T/$1.card
    VC_TARGET_STATE=$KC_TARGET_STATE
    export KC_TARGET_STATE
    vc_target_make "$VC_TARGET_STATE" "$1" && vc_target_start
}

# back FILE: the target card of state FILE (inserted before) back in slot 1.
back() {
    vc_card_stop target
    KC_TARGET_STATE=$1
    VC_TARGET_STATE=$1
    export KC_TARGET_STATE
    vc_target_start
}

# recovered NAME SERIAL: a second run finds the card locked by the cut session
# and the key card writes its receipt late: "ISSUED recovered", nothing sent.
recovered() {
    issue "$1-again"
    if [ $rc = 0 ] && grep -q ": ISSUED recovered: locked by an interrupted run" \
        "$T/$1-again.out" && [ "$(sent "$1-again")" = 0 ]; then
        ok "$1: the next run recovers the locked card, nothing sent: $(grep ': ISSUED' "$T/$1-again.out" | cut -c1-130)"
    else
        not_ok "$1: the next run on the locked card (exit $rc)"
        show "$1-again"
    fi
    receipts "$2" | grep -qx 00 && ok "$1: the key card now holds its completed receipt (late END)" ||
        not_ok "$1: no completed receipt after the recovery"
}

# reinsert: the same target card back in slot 1 (after a pull).
reinsert() {
    vc_card_stop target
    vc_target_start
}

# tstate: the target's state byte (GET DATA DF10: C1 08 serial C5 01 state ...).
tstate() {
    $VC_APDU --reader "$VC_TARGET_READER" --wait 5 00CADF1000 2>/dev/null |
        awk '$NF == "9000" { print substr($1, 25, 2) }'
}

# receipts SERIAL: the result bytes of the key card's issue receipts for SERIAL
# ("00" completed, "02" aborted), one a line.
receipts() {
    env KEYCARD_ADMIN_KEY=$ADMIN_KEY "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" audit \
        --issuer-pub examples/profiles/demo-issuer.pub.pem \
        2>/dev/null | awk -v s="$1" '$3 == "issue-receipt" && toupper(substr($4, 1, 16)) == s {
            # "SERIAL completed, key 1, ..." or the receipt as one hex string
            r = $5; sub(/,$/, "", r)
            if (r == "completed") r = "00"; else if (r == "MAC-mismatch") r = "01";
            else if (r == "aborted") r = "02"; else r = substr($4, 23, 2)
            print r }'
}

# issue NAME [AT HOOK]: kc-issue on the card in the slot, the fault (if any)
# at AT; output in $T/NAME.out, APDU heads in $T/NAME.apdus; sets $rc.
issue() {
    : >"$T/$1.apdus"
    # Output to a file, never a pipe: a pcscd the hook starts inherits the
    # descriptors of kc-issue and would hold a pipe open.
    env LD_PRELOAD="$PRELOAD" KC_FAULT_LOG="$T/$1.apdus" KC_FAULT_AT="${2:-}" \
        KC_FAULT_HOOK="${3:+sh tests/integration/41-host-faults.sh --hook $3}" \
        timeout -k 5 60 "$B/bin/kc-issue" --config "$STATION" --profile "$T/profile.json" \
        --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" \
        >"$T/$1.out" 2>&1 </dev/null
    rc=$?
}

hf_t0=$(date +%s)
mark() { echo "# $1 ($(($(date +%s) - hf_t0)) s)"; }
show() { sed 's/^/#   /' "$T/$1.out"; }

# faulted NAME SERIAL: the common checks of a run cut by a fault.
faulted() {
    case $rc in
    1) ok "$1: kc-issue ended with exit 1" ;;
    124 | 137) not_ok "$1: kc-issue hung (killed by timeout)" ;;
    *) not_ok "$1: kc-issue exit $rc (a crash is >= 128)" ;;
    esac
    # A lost key card session is opened again once and the card tried again
    # (refused then as partially issued): two FAILED lines with that between.
    nf=$(grep -c ": FAILED " "$T/$1.out")
    if { [ "$nf" = 1 ] || { [ "$nf" = 2 ] && grep -q "opening a new session" "$T/$1.out"; }; } &&
        ! grep -q "ISSUED\|WRITTEN" "$T/$1.out"; then
        ok "$1: $nf FAILED line(s), no ISSUED: $(grep ': FAILED ' "$T/$1.out" | tr '\n' ' ' | cut -c1-220)"
    else
        not_ok "$1: kc-issue output"
        show "$1"
    fi
    if grep -q "unknown error\|rror -[0-9]" "$T/$1.out"; then
        not_ok "$1: an error without its explanation"
    fi
}

# state_is NAME WANT WHAT: the target card's state is WANT.
state_is() {
    got=$(tstate)
    if [ "$got" = "$2" ]; then ok "$1: the target card is $3 (state $got)"; else
        not_ok "$1: the target card's state is '$got', want $2 ($3)"; fi
}

# no_completed NAME SERIAL
no_completed() {
    r=$(receipts "$2" | tr '\n' ' ')
    case " $r" in
    *" 00 "*) not_ok "$1: the key card's audit log has a completed receipt for $2 [$r]" ;;
    *) ok "$1: no completed receipt for $2 in the key card's audit log [${r:-none}]" ;;
    esac
}

# sent NAME: how many envelopes kc-issue sent.
sent() { grep -c '^84C2$' "$T/$1.apdus"; }

# rerun_refused NAME SERIAL: a second run refuses the partially issued card.
rerun_refused() {
    issue "$1-again"
    if [ $rc = 1 ] && grep -q ": FAILED partially issued" "$T/$1-again.out" &&
        [ "$(sent "$1-again")" = 0 ]; then
        ok "$1: a second run refuses the partially issued card, nothing sent"
    else
        not_ok "$1: a second run on the partially issued card (exit $rc, $(sent "$1-again") envelopes)"
        show "$1-again"
    fi
    state_is "$1" 02 "still partially issued"
}

vc_target_make "$KC_TARGET_STATE" 4641554C54000001 >/dev/null || exit 1
vc_up >/dev/null || { echo "41-host-faults: virtual cards did not start" >&2; exit 1; }

# ---- (a) target pulled between WRAP and the first send ---------------------------
mark "(a) target pulled between WRAP and the first send"
S=4641554C5400000A
insert $S || exit 1
issue a env:1 pull-nowait
faulted a
grep -q "step 1 (.*no answer from the target card" "$T/a.out" &&
    ok "a: says the target card did not answer at step 1" || { not_ok "a: message"; show a; }
check "a: no envelope reached the card ($(sent a) sent, the first into the empty slot)" \
    test "$(sent a)" -le 1
reinsert || exit 1
state_is a 01 "untouched (manufactured)"
no_completed a $S
receipts $S | grep -qx 02 && ok "a: the key card recorded the aborted session" ||
    not_ok "a: no aborted receipt"
issue a-again
if [ $rc = 0 ] && grep -q ": ISSUED " "$T/a-again.out"; then
    ok "a: a second run issues the card: $(grep ': ISSUED ' "$T/a-again.out" | cut -c1-100)"
else
    not_ok "a: a second run (exit $rc)"
    show a-again
fi
state_is a 03 "issued"
receipts $S | grep -qx 00 && ok "a: and the key card holds its completed receipt" ||
    not_ok "a: no completed receipt after the second run"

# ---- (b) pcscd restarted after three envelopes ------------------------------------
mark "(b) pcscd restarted after three envelopes"
S=4641554C5400000B
insert $S || exit 1
issue b env:4 pcscd-restart
faulted b
check "b: three envelopes went through before the restart ($(sent b) sent)" test "$(sent b)" -ge 3
vc_wait_card "$VC_TARGET_READER" 10
state_is b 02 "partially issued"
no_completed b $S
rerun_refused b $S

# ---- (c) key card reset by another client in the middle ---------------------------
# kc-issue reserves the key card for its run: the other client's reset is
# refused while the run lasts (or lands after it), so it cannot cut a session
# between the WRAP and the lock.
mark "(c1) another client resets the key card in the middle: it is refused"
S=4641554C540000C1
insert $S || exit 1
KC_HF_RESET_DONE=$T/c1.reset
export KC_HF_RESET_DONE
rm -f "$KC_HF_RESET_DONE"
issue c1 env:5 kc-reset-bg
if [ $rc = 0 ] && grep -q ": ISSUED " "$T/c1.out" && [ "$(sent c1)" = $STEPS ]; then
    ok "c1: the card is issued, all $STEPS envelopes sent: the reset did not cut the session"
else
    not_ok "c1: kc-issue exit $rc, $(sent c1) envelopes"
    show c1
fi
state_is c1 03 "issued"
receipts $S | grep -qx 00 && ok "c1: the key card holds its completed receipt" ||
    not_ok "c1: no completed receipt"
i=0
while [ ! -f "$KC_HF_RESET_DONE" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
c1_reset=$(cat "$KC_HF_RESET_DONE" 2>/dev/null || echo none)
if [ "$c1_reset" = 0 ]; then
    ok "c1: the other client's reset went through after the run"
elif [ "$c1_reset" = 1 ] && grep -qi 'sharing violation' "$KC_HF_RESET_DONE.err"; then
    ok "c1: the other client was refused while kc-issue held the key card: $(cat "$KC_HF_RESET_DONE.err")"
else
    not_ok "c1: the other client's reset: exit $c1_reset, $(cat "$KC_HF_RESET_DONE.err" 2>/dev/null)"
fi

# ---- (c) key card power-cycled (its kc-vcard restarted) in the middle --------------
mark "(c2) key card power-cycled"
S=4641554C540000C2
insert $S || exit 1
issue c2 env:5 kc-powercycle
faulted c2
grep -q "not sent: the key card lost the session" "$T/c2.out" &&
    ok "c2: the lock envelope was not sent: the presence check saw the key card's power cycle" ||
    { not_ok "c2: message"; show c2; }
check "c2: the lock envelope never reached the target ($(sent c2) sent)" test "$(sent c2)" -lt $STEPS
state_is c2 02 "partially issued, not locked"
no_completed c2 $S
rerun_refused c2 $S

# ---- (c) key card power-cycled after the lock, just before END ---------------------
# (A reset by another client cannot come in there any more: the key card is held.)
mark "(c3) key card power-cycled before END"
S=4641554C540000C3
insert $S || exit 1
issue c3 after:$STEPS kc-powercycle
# kc-issue opens a new session on the key card that came back and tries the
# card again: the key card, which kept the cut session, checks it now.
if [ $rc = 0 ] && grep -q "locked but the key card could not check its completion" "$T/c3.out" &&
    grep -q "the key card's session was lost (.*): likely .*; opening a new session" "$T/c3.out" &&
    grep -q ": ISSUED recovered: locked by an interrupted run" "$T/c3.out" &&
    [ "$(sent c3)" = $STEPS ]; then
    ok "c3: in the same run, a new key card session and the card recovered (late END), exit 0: $(grep 'likely' "$T/c3.out" | cut -c1-150)"
else
    not_ok "c3: kc-issue exit $rc"
    show c3
fi
state_is c3 03 "locked (the lock went before the power cycle)"
receipts $S | grep -qx 00 && ok "c3: the key card holds its completed receipt (late END)" ||
    not_ok "c3: no completed receipt"
issue c3-again
grep -q "SKIPPED already issued (lock a), its receipt is on the key card" "$T/c3-again.out" &&
    [ $rc = 0 ] && ok "c3: a run on it again skips it: its receipt is on the key card" ||
    { not_ok "c3: a run on it again (exit $rc)"; show c3-again; }

# ---- (g) kc-issue killed (kill -9) after the lock, before END -------------------------
mark "(g) kc-issue killed between the lock and END"
S=4641554C54000011
insert $S || exit 1
issue g after:$STEPS sigkill
case $rc in 137) ok "g: kc-issue died of SIGKILL after the lock (exit 137)" ;;
*) not_ok "g: kc-issue exit $rc, want 137"; show g ;; esac
state_is g 03 "locked"
no_completed g $S
recovered g $S
G=$KC_TARGET_STATE

# ---- (h) the same, but another card's session comes first: set aside ------------------
mark "(h) a locked card whose session the key card no longer keeps"
S=4641554C54000012
insert $S || exit 1
issue h after:$STEPS sigkill
HCARD=$KC_TARGET_STATE
insert 4641554C54000013 || exit 1
issue h-other
[ $rc = 0 ] && grep -q ": ISSUED " "$T/h-other.out" &&
    ok "h: another card issued in between (its BEGIN ends the cut session)" ||
    { not_ok "h: the card in between (exit $rc)"; show h-other; }
back "$HCARD" || exit 1
issue h-again
if [ $rc = 1 ] && grep -q ": FAILED locked, no receipt: set aside" "$T/h-again.out" &&
    [ "$(sent h-again)" = 0 ]; then
    ok "h: the locked card without receipt is set aside, exit 1: $(grep ': FAILED' "$T/h-again.out" | cut -c1-120)"
else
    not_ok "h: a run on the locked card without receipt (exit $rc)"
    show h-again
fi
receipts $S | grep -qx 02 && ok "h: the key card recorded the cut session as aborted" ||
    not_ok "h: no aborted receipt for the cut session"
back "$G" || exit 1
issue g-later
if [ $rc = 0 ] && grep -q "SKIPPED already issued (lock a), its receipt is on the key card" \
    "$T/g-later.out"; then
    ok "g: the recovered card fed again is skipped: its receipt is on the key card"
else
    not_ok "g: the recovered card fed again (exit $rc)"
    show g-later
fi

# ---- (d) target pulled after half the steps ---------------------------------------
mark "(d) target pulled after half the steps"
S=4641554C5400000D
insert $S || exit 1
issue d env:5 pull
faulted d
grep -q "step 5 (.*no answer from the target card" "$T/d.out" &&
    ok "d: says the target card did not answer at step 5" || { not_ok "d: message"; show d; }
reinsert || exit 1
state_is d 02 "partially issued"
no_completed d $S
receipts $S | grep -qx 02 && ok "d: the key card recorded the aborted session" ||
    not_ok "d: no aborted receipt"
rerun_refused d $S

# ---- (e) Ctrl-C and SIGTERM in the middle of a card ---------------------------------
for sig in sigint sigterm; do
    mark "(e) $sig at the fifth envelope"
    case $sig in sigint) S=4641554C5400000E want=130 ;; *) S=4641554C5400000F want=143 ;; esac
    insert $S || exit 1
    issue "e-$sig" env:5 "$sig"
    if [ $rc = $want ] && grep -q ": ISSUED " "$T/e-$sig.out" &&
        grep -q "interrupted (SIG" "$T/e-$sig.out" && grep -q "^summary: 1 card, 1 issued" "$T/e-$sig.out"; then
        ok "e: $sig: the card in progress finished, summary printed, exit $rc"
    else
        not_ok "e: $sig (exit $rc, want $want)"
        show "e-$sig"
    fi
    state_is "e-$sig" 03 "issued, not left partially issued"
    receipts $S | grep -qx 00 && ok "e: $sig: its completed receipt is in the log" ||
        not_ok "e: $sig: no completed receipt"
done

# ---- (f) a failure that every card would meet stops the batch ---------------------
mark "(f) batch-wide failures"
S=4641554C54000010
insert $S || exit 1
sed 's/"key": 1,/"key": 9,/' "$T/profile.json" >"$T/nokey.json"
sed 's/{ "template": 13 }/{ "template": 99 }/' "$T/profile.json" >"$T/notpl.json"
# The key card checks the profile before the first card (ISSUE WRAP P1 01):
# the run stops with one line naming the key or the step, no card touched.
for what in nokey notpl; do
    env timeout -k 5 60 "$B/bin/kc-issue" --config "$STATION" --profile "$T/$what.json" --all \
        --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" >"$T/f-$what.out" 2>&1 </dev/null
    rc=$?
    case $what in nokey) want="key 9 (target-seed): the key card has no such key" ;;
    *) want="step 9 (template 99): the key card has no such template" ;; esac
    if [ $rc = 1 ] && grep -q "the key card refuses the profile: $want; no card touched" \
        "$T/f-$what.out" && ! grep -q "^card " "$T/f-$what.out"; then
        ok "f: $what: refused before the first card: $(grep -m1 'refuses the profile' "$T/f-$what.out" | cut -c1-110)"
    else
        not_ok "f: $what (exit $rc)"
        show "f-$what"
    fi
done
state_is f 01 "untouched (manufactured)"
n=$(receipts $S | wc -l)
[ "$n" = 0 ] && ok "f: no session was opened for the card: no receipt" ||
    not_ok "f: $n receipts for the card, want none"

mark "done"
vc_down
echo "41-host-faults: $hf_n checks, $hf_fails failed"
[ "$hf_fails" -eq 0 ]
