#!/bin/sh
# 46-kill-trials.sh - randomized kill/restart trials during stack issuance
# over pcscd + vpcd. Each trial starts `kc-issue --all` on a stacker of blank
# target cards, waits a random time, then kills one of kc-issue (SIGKILL,
# SIGTERM or SIGINT), the key card's kc-vcard, the target's kc-vcard (a power
# cut or a pull: SIGKILL, then restarted on the same image) or pcscd
# (SIGKILL, then restarted); the next trial's run, and a last clean run,
# carry on with the same stack. The key card's audit log is printed and
# exported (verified, acknowledged) every few trials.
#
# Afterwards every card image is read (GET DATA DF10 through libkeycard's
# simulated target) and compared with what the runs printed and what the
# audit log holds:
#   - every locked card has a completed receipt or a "set aside" line;
#   - every SKIPPED card has a completed receipt (no silent skip);
#   - every completed receipt belongs to a locked card, every ISSUED line too;
#   - the issued/ tray holds only locked cards with a completed receipt;
#   - kc-issue never crashed or hung; the audit chain verified at every export.
#
# KC_KILL_TRIALS (default 6; `make kill-trials` runs 100) and KC_KILL_SEED
# (default: the time) choose the trials; the seed is printed for a replay.
# Run from the top of the tree: B=build sh tests/integration/46-kill-trials.sh

set -u
B=${B:-build}
. tests/vcards.sh

# ---- hook mode: run by faults_preload.so from inside kc-issue at an envelope -------
# --hook VICTIM SIG: kc-issue gets SIG; a card's kc-vcard or pcscd is killed
# (the trial loop starts it again once kc-issue has ended).
if [ "${1:-}" = --hook ]; then
    case ${2:-} in
    kc-issue)
        p=$PPID
        while [ "$p" -gt 1 ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" != kc-issue ]; do
            p=$(awk '{ print $4 }' "/proc/$p/stat")
        done
        [ "$p" -gt 1 ] && kill -s "$3" "$p"
        exit 0
        ;;
    keycard | target) pidf=$VC_DIR/kc-vcard-$2.pid comm=kc-vcard ;;
    pcscd) pidf=$VC_DIR/pcscd.pid comm=pcscd ;;
    *) exit 2 ;;
    esac
    pid=$(cat "$pidf" 2>/dev/null)
    vc_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] && kill -KILL "$pid"
    exit 0
fi

vc_lock "$0" "$@"

TRIALS=${KC_KILL_TRIALS:-6}
SEED=${KC_KILL_SEED:-$(date +%s)}
for t in kc-admin kc-vcard kc-issue; do
    [ -x "$B/bin/$t" ] || { echo "46-kill-trials: $B/bin/$t not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-46-kill.XXXXXX") || exit 1
kt_fails=0
kt_n=0
KPID=
ok() { kt_n=$((kt_n + 1)); echo "ok $kt_n - $1"; }
not_ok() { kt_n=$((kt_n + 1)); kt_fails=$((kt_fails + 1)); echo "not ok $kt_n - $1"; }
finish() {
    # Only the kc-issue this script started, by its process id.
    [ -n "$KPID" ] && vc_alive "$KPID" && kill -KILL "$KPID" 2>/dev/null
    vc_down
    [ -n "${KC_KILL_KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STATION=examples/profiles/demo-station.json
PROFILE=examples/profiles/standard.json
PUB=examples/profiles/demo-issuer.pub.pem
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/stack
mkdir -p "$VC_DIR" "$VC_TARGET_STACK" "$B/integration"

. tests/faults.sh
faults_preload 46-kill-trials || exit 1
export B
STEPS=$(grep -c '"template"' "$PROFILE")

STATE_PROG=$B/integration/target_state
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -o "$STATE_PROG" \
    tests/integration/target_state.c -L"$B/lib" -lkeycard-sim -lkeycard -Wl,-rpath,"$B/lib" ||
    { echo "46-kill-trials: cannot build target_state.c" >&2; exit 1; }

# ---- helpers -----------------------------------------------------------------------
# rnd N: R = the next pseudo-random number in 0..N-1 (a 31-bit LCG from the
# seed; a variable, not output, so that the state survives the call).
RS=$((SEED % 2147483648))
rnd() {
    RS=$(((RS * 1103515245 + 12345) % 2147483648))
    R=$(((RS / 65536) % $1))
}

# refill: at least four cards in the stacker (images are served in name
# order; new ones get higher numbers), and one in the slot.
NEXT=1
refill() {
    left=$(find "$VC_TARGET_STACK" -maxdepth 1 -name '*.card' | wc -l)
    while [ "$left" -lt 4 ]; do
        vc_target_make "$VC_TARGET_STACK/$(printf '%05d' $NEXT).card" \
            "4B494C4C0000$(printf '%04X' $NEXT)" || return 1
        NEXT=$((NEXT + 1))
        left=$((left + 1))
    done
    # an empty stacker looks for new images now and then; an eject's grace time
    [ -z "${1:-}" ] || { sleep 0.4; vc_wait_card "$VC_TARGET_READER" 10; }
}

# run NAME [AT VICTIM SIG]: kc-issue --all in the background (KPID), output
# in $T/NAME.out; with AT, faults_preload.so runs the hook there.
run() {
    if [ -n "${2:-}" ]; then
        env LD_PRELOAD="$PRELOAD" KC_FAULT_AT="$2" KC_FAULT_LOG="$T/$1.apdus" \
            KC_FAULT_HOOK="sh tests/integration/46-kill-trials.sh --hook $3 $4" \
            "$B/bin/kc-issue" --config "$STATION" --profile "$PROFILE" --all --wait 2 \
            --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" \
            >"$T/$1.out" 2>&1 </dev/null &
    else
        "$B/bin/kc-issue" --config "$STATION" --profile "$PROFILE" --all --wait 2 \
            --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" \
            >"$T/$1.out" 2>&1 </dev/null &
    fi
    KPID=$!
}

# card_up NAME READER: start the card's kc-vcard once pcscd has seen the
# killed one leave; a second start when vpcd did not take the first.
card_up() {
    rm -f "$VC_DIR/kc-vcard-$1.pid"
    vc_wait_empty "$2"
    for try in 1 2; do
        if [ "$1" = keycard ]; then
            vc_card_start keycard 0 "$VC_STATE" || return 1
        else
            vc_target_start >/dev/null 2>&1
            ls "$VC_TARGET_STACK"/*.card >/dev/null 2>&1 || return 0
        fi
        vc_wait_card "$2" 10 && return 0
        [ $try = 2 ] || { vc_card_stop "$1"; sleep 1; }
    done
    return 1
}

# revive: start again whatever a hook killed (pcscd first, then the cards).
revive() {
    if ! vc_alive "$(cat "$VC_DIR/pcscd.pid" 2>/dev/null)"; then
        rm -f "$VC_DIR/pcscd.pid"
        vc_pcscd_start || return 1
    fi
    if ! vc_alive "$(cat "$VC_DIR/kc-vcard-keycard.pid" 2>/dev/null)"; then
        card_up keycard "$VC_KEYCARD_READER" || return 1
    fi
    vc_wait_card "$VC_KEYCARD_READER" 10 || return 1
    if ! vc_alive "$(cat "$VC_DIR/kc-vcard-target.pid" 2>/dev/null)"; then
        card_up target "$VC_TARGET_READER" || return 1
    fi
    ! ls "$VC_TARGET_STACK"/*.card >/dev/null 2>&1 || vc_wait_card "$VC_TARGET_READER" 10
}

# finished NAME: wait up to 60 s for the run; sets rc (124: hung, killed).
finished() {
    n=0
    while vc_alive "$KPID" && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    if vc_alive "$KPID"; then
        kill -KILL "$KPID" 2>/dev/null
        wait "$KPID" 2>/dev/null
        rc=124
    else
        wait "$KPID"
        rc=$?
    fi
    KPID=
    case $rc in
    0 | 1 | 130 | 143) ;;
    137) [ "$2" = KILL ] || { not_ok "$1: kc-issue died of SIGKILL nobody sent"; sed 's/^/#   /' "$T/$1.out"; } ;;
    124) not_ok "$1: kc-issue hung (no end 60 s after the fault)"; sed 's/^/#   /' "$T/$1.out" ;;
    *) not_ok "$1: kc-issue exit $rc (a crash?)"; sed 's/^/#   /' "$T/$1.out" ;;
    esac
}

# restart_card NAME: SIGKILL its kc-vcard (power cut / pull), then start it again.
restart_card() {
    pid=$(cat "$VC_DIR/kc-vcard-$1.pid" 2>/dev/null)
    if vc_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = kc-vcard ]; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
    fi
    rnd 10
    sleep "0.$R"
    card_up "$1" "$([ "$1" = keycard ] && echo "$VC_KEYCARD_READER" || echo "$VC_TARGET_READER")"
}

# restart_pcscd: SIGKILL pcscd, then start it again; the cards reconnect.
restart_pcscd() {
    pid=$(cat "$VC_DIR/pcscd.pid" 2>/dev/null)
    if vc_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pcscd ]; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
    fi
    rm -f "$VC_DIR/pcscd.pid"
    rnd 10
    sleep "0.$R"
    vc_pcscd_start && vc_wait_card "$VC_KEYCARD_READER" 10 || return 1
    # An empty stacker leaves its slot empty.
    ls "$VC_TARGET_STACK"/*.card >/dev/null 2>&1 || return 0
    vc_wait_card "$VC_TARGET_READER" 10
}

# audit_save: append the entries not printed yet to $T/audit.txt, then export
# the log (verified against the issuer key) and acknowledge it.
AUDIT_FROM=0
EXPORTS=0
audit_save() {
    EXPORTS=$((EXPORTS + 1))
    if ! "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" audit --from $AUDIT_FROM \
        --issuer-pub "$PUB" >"$T/audit-part.txt" 2>&1; then
        not_ok "audit read $EXPORTS: $(tail -n 1 "$T/audit-part.txt")"
        return 1
    fi
    awk '$1 ~ /^[0-9]+$/' "$T/audit-part.txt" >>"$T/audit.txt"
    last=$(awk '$1 ~ /^[0-9]+$/ { s = $1 } END { print s }' "$T/audit-part.txt")
    [ -n "$last" ] && AUDIT_FROM=$((last + 1))
    if ! "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" audit --export "$T/export-$EXPORTS" \
        --ack --issuer-pub "$PUB" >"$T/export-$EXPORTS.out" 2>&1; then
        not_ok "audit export $EXPORTS (verify + acknowledge): $(tail -n 1 "$T/export-$EXPORTS.out")"
        return 1
    fi
    VERIFIED=$((VERIFIED + 1))
}

refill || exit 1
vc_up >/dev/null || { echo "46-kill-trials: virtual cards did not start" >&2; exit 1; }
echo "# $TRIALS trials, seed $SEED (KC_KILL_SEED=$SEED to replay)"

# ---- the trials ---------------------------------------------------------------------
VERIFIED=0
i=1
kt_t0=$(date +%s)
while [ $i -le "$TRIALS" ]; do
    if ! refill wait; then
        not_ok "trial $i: no target card in the slot before the trial"
        revive
    fi
    rnd 4
    case $R in 0) victim=kc-issue ;; 1) victim=keycard ;; 2) victim=target ;; *) victim=pcscd ;; esac
    sig=KILL
    if [ "$victim" = kc-issue ]; then
        rnd 3
        case $R in 0) sig=KILL ;; 1) sig=TERM ;; *) sig=INT ;; esac
    fi
    rnd 2
    if [ "$R" = 1 ]; then
        # At an envelope of the first three cards: before it is sent, after its
        # answer, or (one time in three) just after a lock, before ISSUE END.
        rnd 3
        case $R in
        0) rnd $((3 * STEPS)); at=env:$((R + 1)) ;;
        1) rnd $((3 * STEPS)); at=after:$((R + 1)) ;;
        *) rnd 3; at=after:$(((R + 1) * STEPS)) ;;
        esac
        run "trial-$i" "$at" "$victim" "$sig"
        finished "trial-$i" "$sig"
        revive || not_ok "trial $i: the cards or pcscd did not start again"
        echo "# trial $i: $victim $sig at $at, kc-issue exit $rc; $(grep -c '^card ' "$T/trial-$i.out") card line(s)"
        [ $((i % 5)) = 0 ] && audit_save
        i=$((i + 1))
        continue
    fi
    run "trial-$i"
    rnd 2400
    delay=$((100 + R))
    sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
    case $victim in
    kc-issue) vc_alive "$KPID" && kill -s "$sig" "$KPID" ;;
    keycard | target) restart_card $victim || not_ok "trial $i: the $victim card did not restart" ;;
    *) restart_pcscd || not_ok "trial $i: pcscd did not restart" ;;
    esac
    finished "trial-$i" "$sig"
    echo "# trial $i: $victim $sig at ${delay} ms, kc-issue exit $rc; $(grep -c '^card ' "$T/trial-$i.out") card line(s)"
    [ $((i % 5)) = 0 ] && audit_save
    i=$((i + 1))
done

# ---- the last, clean run: what the trials left in the slot ---------------------------
ls "$VC_TARGET_STACK"/*.card >/dev/null 2>&1 && { sleep 0.4; vc_wait_card "$VC_TARGET_READER" 10; }
run final
finished final none
sed 's/^/#   final: /' "$T/final.out"
case $rc in 0 | 1) ok "the last run ended normally (exit $rc), $(($(date +%s) - kt_t0)) s for all" ;;
*) not_ok "the last run: exit $rc" ;; esac
audit_save
[ "$VERIFIED" = "$EXPORTS" ] && ok "the audit chain verified at all $EXPORTS exports" ||
    not_ok "the audit chain verified at $VERIFIED of $EXPORTS exports"
left=$(find "$VC_TARGET_STACK" -maxdepth 1 -name '*.card' | wc -l)
[ "$left" = 0 ] && ok "every card of the stack went to a tray" || not_ok "$left card(s) left in the stack"

# ---- cards, run outputs and audit log agree ----------------------------------------
vc_down # the stacker keeps its last card open
find "$VC_TARGET_STACK" -name '*.card' | sort >"$T/images"
# shellcheck disable=SC2046
"$STATE_PROG" $(cat "$T/images") >"$T/cards.txt"
unread=$(grep -c '^?' "$T/cards.txt")
[ "$unread" = 0 ] && ok "all $(wc -l <"$T/cards.txt") card images read" ||
    { not_ok "$unread card image(s) unreadable"; grep '^?' "$T/cards.txt" | sed 's/^/#   /'; }
cat "$T"/trial-*.out "$T/final.out" | grep -E '^card [0-9a-f]{16}: ' >"$T/lines.txt"
# completed receipts: the serials, upper case
awk '$3 == "issue-receipt" && $5 ~ /^completed/ { print toupper(substr($4, 1, 16)) }' \
    "$T/audit.txt" | sort -u >"$T/completed.txt"
awk '$2 == 3 { print $1 }' "$T/cards.txt" | sort -u >"$T/locked.txt"
# set aside or skipped, per the runs
awk '$3 == "FAILED" && /set aside/ { print toupper(substr($2, 1, 16)) }' "$T/lines.txt" |
    sort -u >"$T/set-aside.txt"
awk '$3 == "SKIPPED" { print toupper(substr($2, 1, 16)) }' "$T/lines.txt" | sort -u >"$T/skipped.txt"
awk '$3 == "ISSUED" { print toupper(substr($2, 1, 16)) }' "$T/lines.txt" | sort -u >"$T/issued.txt"

n=$(comm -23 "$T/locked.txt" "$T/completed.txt" | comm -23 - "$T/set-aside.txt" | wc -l)
[ "$n" = 0 ] && ok "0 locked cards without a receipt or a set-aside line ($(wc -l <"$T/locked.txt") locked, $(wc -l <"$T/completed.txt") completed receipts, $(wc -l <"$T/set-aside.txt") set aside)" ||
    { not_ok "$n locked card(s) without a receipt or a set-aside line"; comm -23 "$T/locked.txt" "$T/completed.txt" | comm -23 - "$T/set-aside.txt" | sed 's/^/#   /'; }
n=$(comm -23 "$T/skipped.txt" "$T/completed.txt" | wc -l)
[ "$n" = 0 ] && ok "0 silent skips ($(wc -l <"$T/skipped.txt") skipped, each with its completed receipt)" ||
    not_ok "$n card(s) skipped without a completed receipt"
n=$(comm -23 "$T/completed.txt" "$T/locked.txt" | wc -l)
[ "$n" = 0 ] && ok "every completed receipt belongs to a locked card" ||
    { not_ok "$n completed receipt(s) for cards that are not locked"; comm -23 "$T/completed.txt" "$T/locked.txt" | sed 's/^/#   /'; }
n=$(comm -23 "$T/issued.txt" "$T/completed.txt" | wc -l)
m=$(comm -23 "$T/issued.txt" "$T/locked.txt" | wc -l)
[ "$n" = 0 ] && [ "$m" = 0 ] && ok "every ISSUED line is a locked card with a completed receipt ($(wc -l <"$T/issued.txt") cards, $(grep -c 'ISSUED recovered' "$T/lines.txt") of them recovered by a late END)" ||
    not_ok "ISSUED lines: $n without a completed receipt, $m not locked"
bad=0
for f in "$VC_TARGET_STACK"/issued/*.card; do
    [ -f "$f" ] || continue
    s=$(awk -v f="$f" '$4 == f && $2 == 3 { print $1 }' "$T/cards.txt")
    if [ -z "$s" ] || ! grep -qx "$s" "$T/completed.txt"; then
        bad=$((bad + 1))
        echo "#   issued/ holds $(awk -v f="$f" '$4 == f' "$T/cards.txt")"
    fi
done
[ "$bad" = 0 ] && ok "the issued/ tray holds only locked cards with a completed receipt ($(ls "$VC_TARGET_STACK/issued" 2>/dev/null | wc -l) cards; spoiled/: $(ls "$VC_TARGET_STACK/spoiled" 2>/dev/null | wc -l))" ||
    not_ok "$bad card(s) in issued/ without a lock and a completed receipt"

echo "46-kill-trials: $kt_n checks, $kt_fails failed (seed $SEED)"
[ "$kt_fails" -eq 0 ]
