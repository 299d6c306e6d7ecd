#!/bin/sh
# 74-heads.sh - several target heads on one key card (simulated cards, no
# pcscd): kc-issue with six --target-sim, records from the journal. The key
# card's issuance sessions (4) are shared by the six heads.
#   (a) six cards issued at once, each record exactly once on its own card,
#       each attempt journaled with its head; the key card's log holds six
#       completed receipts and `journal reconcile` is clean;
#   (b) a head whose reader is gone stops alone; the other heads go on;
#   (c) usage: --records or --show with several heads, a ninth head: exit 2,
#       nothing sent.
# The attacker's use of the sessions (one card in two sessions, a session
# number out of range, ending another head's session) is tested on the key
# card itself: tests/unit/test_issue.c test_sessions_interleave,
# test_lib_issue.c test_session_select, test_malformed.c.
set -u
B=${B:-build}
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-74-heads.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
A="$B/bin/kc-admin"
K="$B/bin/kc-issue"
J=$T/line.db
PUB=examples/profiles/demo-issuer.pub.pem
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
"$A" --sim "$T/kc.img" provision examples/profiles/demo.json >/dev/null 2>&1 || { echo "FAIL: provision" >&2; exit 1; }
heads=""
for i in 1 2 3 4 5 6 7 8 9; do
    "$A" target-manufacture --profile examples/profiles/demo.json --serial 54415247455400C$i \
        --out "$T/t$i.img" >/dev/null 2>&1 || { echo "FAIL: manufacture" >&2; exit 1; }
    [ $i -le 6 ] && heads="$heads --target-sim $T/t$i.img"
done
# The line's issuance profile: a folder, a file, a record written, the lock.
cp tests/data/line-issuance.json "$T/p.json" || exit 1
{ echo name; for i in 1 2 3 4 5 6 7 8 9; do echo "H-$i"; done; } >"$T/r.csv"
"$K" journal import --journal "$J" "$T/r.csv" >/dev/null 2>&1 || fail "import"
sq() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); r = c.execute(sys.argv[2]).fetchall(); print("\n".join(" ".join(str(x) for x in row) for row in r))' "$J" "$1"; }
run() { # run OUT ARGS...: kc-issue with the journal
    out=$1
    shift
    "$K" --config examples/profiles/demo-station.json --profile "$T/p.json" --sim "$T/kc.img" \
        --journal "$J" --station-name line "$@" >"$T/$out" 2>&1
}

# (a)
# shellcheck disable=SC2086
run a.out $heads
rc=$?
[ $rc -eq 0 ] && grep -q '^6 target heads on one key card' "$T/a.out" &&
    [ "$(grep -c ': ISSUED .*\[head [1-6]\]' "$T/a.out")" = 6 ] &&
    [ "$(sq "SELECT count(*), count(DISTINCT upper(serial)), count(DISTINCT head) FROM kc_record WHERE state = 'issued'")" = "6 6 6" ] &&
    [ "$(sq "SELECT count(*) FROM kc_record WHERE state IN ('claimed', 'issuing')")" = 0 ] &&
    ok "six heads, one key card: six records issued exactly once, each on its own card, each head journaled" ||
    fail "(a) rc $rc: $(cat "$T/a.out") $(sq "SELECT id, state, serial, head FROM kc_record")"
"$A" --sim "$T/kc.img" audit --export "$T/a.export" --issuer-pub "$PUB" >/dev/null 2>&1 || fail "audit export"
"$K" journal reconcile --journal "$J" --issuer-pub "$PUB" --audit "$T/a.export" >"$T/rec.out" 2>&1 &&
    grep -q '^reconciled: 6 issued records, 6 completed receipts' "$T/rec.out" &&
    ok "the key card's log: six completed receipts, reconciled with the journal" ||
    fail "(a) reconcile: $(cat "$T/rec.out")"

# (b) head 2's reader is gone (no such image); heads 1 and 3 go on.
run b.out --target-sim "$T/t7.img" --target-sim "$T/no-such-dir/gone.img" --target-sim "$T/t8.img" --wait 1
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c ': ISSUED .*\[head [13]\]' "$T/b.out")" = 2 ] && grep -q '^head 2 (.*gone.img.*): no card' "$T/b.out" &&
    [ "$(sq "SELECT count(*) FROM kc_record WHERE state = 'issued'")" = 8 ] &&
    ok "a head whose reader is gone stops alone (exit 1 says so); the two others issue their cards" ||
    fail "(b) rc $rc: $(cat "$T/b.out")"

# (c)
before=$(sq "SELECT count(*) FROM kc_attempt")
"$K" --config examples/profiles/demo-station.json --profile "$T/p.json" --sim "$T/kc.img" \
    --records "$T/r.csv" --target-sim "$T/t9.img" --target-sim "$T/t8.img" >"$T/c1.out" 2>&1
rc1=$?
run c2.out --target-sim "$T/t9.img" --target-sim "$T/t8.img" --show
rc2=$?
# shellcheck disable=SC2086
run c3.out $heads --target-sim "$T/t7.img" --target-sim "$T/t8.img" --target-sim "$T/t9.img"
rc3=$?
[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && [ $rc3 -eq 2 ] && grep -q 'at most 8 target readers' "$T/c3.out" &&
    [ "$(sq "SELECT count(*) FROM kc_attempt")" = "$before" ] &&
    ok "--records or --show with several heads, a ninth head: usage errors, nothing sent" ||
    fail "(c) $rc1 $rc2 $rc3: $(cat "$T/c1.out" "$T/c2.out" "$T/c3.out")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
