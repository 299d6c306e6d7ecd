#!/bin/sh
# 45-busy.sh - other programs during a batch (issue 11): kc-issue reserves the
# key card for its run, so `kc-admin info` and `kc-admin audit`, run 10 times
# each while a 30-card batch runs, are told at once that the key card is in
# use (exit 1, one line) instead of resetting it under the batch; the batch
# completes, 30 cards issued; `kc-admin --wait-busy` waits for the batch
# instead; afterwards kc-admin works again.
#
# Run from the top of the tree: B=build sh tests/integration/45-busy.sh
set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-45-busy.XXXXXX") || exit 1
it_fails=0
it_n=0
ok() { it_n=$((it_n + 1)); echo "ok $it_n - $1"; }
not_ok() { it_n=$((it_n + 1)); it_fails=$((it_fails + 1)); echo "not ok $it_n - $1"; }
issuer=
finish() {
    [ -n "$issuer" ] && kill "$issuer" 2>/dev/null
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

N=${KC_BUSY_CARDS:-30}
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE # vcards.sh read it when sourced: each test its own key card
VC_TARGET_STACK=$T/stack
IPUB=examples/profiles/demo-issuer.pub.pem
mkdir -p "$VC_DIR"
vc_stack_make "$VC_TARGET_STACK" "$N" 425553594241 || exit 1
vc_up >/dev/null || { echo "45-busy: virtual cards did not start" >&2; exit 1; }

timeout -k 5 300 "$B/bin/kc-issue" --config examples/profiles/demo-station.json \
    --profile examples/profiles/standard.json --all --wait 10 >"$T/issue.out" 2>&1 </dev/null &
issuer=$!
n=0
while [ $n -lt 300 ] && ! grep -q "^card " "$T/issue.out"; do sleep 0.1; n=$((n + 1)); done
busy=0
runs=0
for i in 1 2 3 4 5 6 7 8 9 10; do
    for cmd in info audit; do
        runs=$((runs + 1))
        if [ $cmd = info ]; then
            "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" info >"$T/a.out" 2>&1
        else
            env KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F "$B/bin/kc-admin" \
                --reader "$VC_KEYCARD_READER" audit --issuer-pub "$IPUB" >"$T/a.out" 2>&1
        fi
        rc=$?
        if [ $rc = 1 ] && grep -q "reserved by another program" "$T/a.out"; then
            busy=$((busy + 1))
        elif kill -0 "$issuer" 2>/dev/null; then
            echo "# kc-admin $cmd during the batch: exit $rc: $(head -n 1 "$T/a.out")"
        fi
    done
    sleep 0.2
done
# Told to wait (--wait-busy), kc-admin waits for the batch and then runs.
if kill -0 "$issuer" 2>/dev/null; then
    "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" --wait-busy 120 info >"$T/w.out" 2>&1
    wrc=$?
    if kill -0 "$issuer" 2>/dev/null; then
        not_ok "kc-admin --wait-busy ended (exit $wrc) while the batch still ran: $(head -n 2 "$T/w.out")"
    elif [ $wrc = 0 ] && grep -q "waiting up to 120 s" "$T/w.out" && grep -qi "serial" "$T/w.out"; then
        ok "kc-admin --wait-busy waited for the batch, then ran"
    else
        not_ok "kc-admin --wait-busy: exit $wrc: $(head -n 3 "$T/w.out")"
    fi
else
    not_ok "the batch ended before kc-admin --wait-busy could be tried"
fi
wait "$issuer"
rc=$?
issuer=
tail -n 3 "$T/issue.out" | sed 's/^/#   /'
if [ $rc = 0 ] && grep -q "^summary: $N cards, $N issued, 0 failed" "$T/issue.out"; then
    ok "the batch completed: $N cards issued while kc-admin ran $runs times"
else
    not_ok "the batch (exit $rc)"
    grep -v ": ISSUED " "$T/issue.out" | sed 's/^/#   /' | head -n 20
fi
[ $busy -ge 1 ] && ok "kc-admin was told the key card is in use ($busy of $runs runs during the batch)" ||
    not_ok "kc-admin was never told the key card is in use"
if "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" info >"$T/after.out" 2>&1; then
    ok "after the batch kc-admin info works again"
else
    not_ok "kc-admin info after the batch: $(head -n 1 "$T/after.out")"
fi
echo "45-busy: $it_n checks, $it_fails failed"
[ "$it_fails" -eq 0 ]
