#!/bin/sh
# 72-journal-kill.sh - exactly once under crashes: kc-issue --journal --all
# over pcscd + vpcd on a stacker, killed (SIGKILL) at a random point of a
# card - before an envelope, after one (within the run's first three
# cards), before the key card's first END - then
# started again under the same station name, until the journal is done.
# Afterwards, from the journal, the card images and the key card's log:
#   - every record issued exactly once, each on a card of its own;
#   - every card a record names is locked and has a completed receipt on
#     the key card; no record left claimed or issuing;
#   - every card set aside (spoiled tray) is counted for no record.
# KC_JKILL_TRIALS (default 6) and KC_KILL_SEED choose the trials.
set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

TRIALS=${KC_JKILL_TRIALS:-6}
SEED=${KC_KILL_SEED:-$(date +%s)}
NREC=14
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-72-jkill.XXXXXX") || exit 1
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/stack
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
finish() { vc_down; rm -rf "$T"; }
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
STATION=examples/profiles/demo-station.json
PUB=examples/profiles/demo-issuer.pub.pem
J=$T/line.db
. tests/faults.sh
faults_preload 72-journal-kill || exit 1
export B
# The line's issuance profile: a folder, a file, a record written, the lock.
cp tests/data/line-issuance.json "$T/p.json" || exit 1
{ echo name; i=1; while [ $i -le $NREC ]; do echo "REC-$i"; i=$((i + 1)); done; } >"$T/r.csv"
"$B/bin/kc-issue" journal import --journal "$J" "$T/r.csv" >/dev/null || { echo "FAIL: import" >&2; exit 1; }
vc_stack_make "$VC_TARGET_STACK" 30 4A4B494C4C00 || exit 1
vc_up >/dev/null || { echo "FAIL: virtual cards did not start" >&2; exit 1; }

RS=$((SEED % 2147483648))
rnd() {
    RS=$(((RS * 1103515245 + 12345) % 2147483648))
    R=$(((RS / 65536) % $1))
}
run() { # run NAME [AT]: kc-issue --journal --all, killed at AT
    if [ -n "${2:-}" ]; then
        env LD_PRELOAD="$PRELOAD" KC_FAULT_AT="$2" KC_FAULT_LOG="$T/$1.apdus" \
            KC_FAULT_HOOK="sh tests/integration/46-kill-trials.sh --hook kc-issue KILL" \
            "$B/bin/kc-issue" --config "$STATION" --profile "$T/p.json" --all --wait 2 \
            --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" \
            --journal "$J" --station-name s1 >"$T/$1.out" 2>&1 </dev/null
    else
        "$B/bin/kc-issue" --config "$STATION" --profile "$T/p.json" --all --wait 2 \
            --reader "$VC_KEYCARD_READER" --target-reader "$VC_TARGET_READER" \
            --journal "$J" --station-name s1 >"$T/$1.out" 2>&1 </dev/null
    fi
}
echo "72-journal-kill: seed $SEED, $TRIALS trials, $NREC records"
i=1
killed=0
while [ $i -le "$TRIALS" ]; do
    # The K-th envelope of the run (4 a card): a card 1..3 of this run.
    rnd 3
    case $R in
    0) rnd 12; at=env:$((R + 1)) ;;
    1) rnd 12; at=after:$((R + 1)) ;;
    *) at=end ;;
    esac
    run "t$i" "$at"
    rc=$?
    [ $rc -eq 137 ] && killed=$((killed + 1))
    echo "#   trial $i: killed at $at (exit $rc)"
    vc_wait_card "$VC_TARGET_READER" 10 >/dev/null 2>&1
    i=$((i + 1))
done
run last
echo "#   last run: exit $?: $(grep -c ': ISSUED\|ISSUED recovered' "$T/last.out") issued"

sq() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); r = c.execute(sys.argv[2]).fetchall(); print("\n".join(" ".join(str(x) for x in row) for row in r))' "$J" "$1"; }
[ "$(sq "SELECT count(*), count(DISTINCT upper(serial)) FROM kc_record WHERE state = 'issued'")" = "$NREC $NREC" ] &&
    [ "$(sq "SELECT count(*) FROM kc_record WHERE state IN ('claimed', 'issuing', 'queued', 'failed')")" = 0 ] &&
    ok "$NREC records issued exactly once, on $NREC distinct cards, after $killed kills" ||
    fail "records: $(sq "SELECT id, state, serial, attempts FROM kc_record")"

# Every card a record names: locked, with a completed receipt in the key card's log.
"$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" audit --json --issuer-pub "$PUB" >"$T/audit.json" 2>"$T/audit.err" ||
    fail "audit: $(cat "$T/audit.err")"
STATE_PROG=$B/integration/target_state
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -o "$STATE_PROG" \
    tests/integration/target_state.c -L"$B/lib" -lkeycard-sim -lkeycard -Wl,-rpath,"$B/lib" ||
    fail "cannot build target_state.c"
vc_down
find "$VC_TARGET_STACK" -name '*.card' -exec "$STATE_PROG" {} + >"$T/states" 2>&1
sq "SELECT upper(serial) FROM kc_record WHERE state = 'issued'" >"$T/issued"
sq "SELECT upper(serial) FROM kc_attempt WHERE result = 'aside'" >"$T/aside"
python3 - "$T/issued" "$T/aside" "$T/states" "$T/audit.json" <<'PY' && ok "every record's card is locked with a completed receipt; the cards set aside are counted for no record" || fail "cards: see above"
import json, sys
issued = set(open(sys.argv[1]).read().split())
aside = set(open(sys.argv[2]).read().split())
states = {}
for line in open(sys.argv[3]):
    f = line.split()
    if len(f) >= 4 and f[0] != "?":
        states[f[0].upper()] = (int(f[1]), f[3])
entries = json.load(open(sys.argv[4]))["entries"]
receipts = {e["issue"]["serial"].upper() for e in entries
            if e["event"] == "issue-receipt" and e["issue"].get("result") == "completed"}
bad = []
for s in issued:
    if s not in states or states[s][0] != 3:
        bad.append("record card %s not locked: %s" % (s, states.get(s)))
    if s not in receipts:
        bad.append("record card %s has no completed receipt" % s)
for s in aside & issued:
    bad.append("card %s set aside yet counted for a record" % s)
for b in bad:
    print("   ", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

[ $fails -eq 0 ] || { echo "$fails check(s) failed (seed $SEED)" >&2; exit 1; }
echo "all checks passed (seed $SEED)"
