#!/bin/sh
# 71-journal-issue.sh - kc-issue --journal on simulated cards: each card takes
# a record from the journal, "issuing" is committed before the first command
# and settled after; a locked card takes no record; and the crash rules
# (docs/production.md "After a crash"), each state a stopped run can leave
# made by hand in the journal:
#   (a) "issuing", the card never touched, back in the slot: issued now;
#   (b) "issuing", the card issued with its receipt on the key card, not in
#       the slot: settled issued at the restart (the key card's receipt);
#   (c) "issuing", the card gone from the slot, no receipt: set aside, the
#       record back in the queue, then issued on another card;
#   (d) "issuing", the card in the slot half issued: set aside, record queued;
#   (e) "claimed" (no card touched): back in the queue at the restart.
# At the end every record is issued exactly once, each on a card of its own,
# and `kc-issue journal reconcile` matches the journal with the key card's
# audit export; the attacker's edits of either are found.
set -u
B=${B:-build}
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-71-jissue.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
A="$B/bin/kc-admin"
K="$B/bin/kc-issue"
J=$T/line.db
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
"$A" --sim "$T/kc.img" provision examples/profiles/demo.json >/dev/null 2>&1 || { echo "FAIL: provision" >&2; exit 1; }
for i in 1 2 3 4 5 6 7 8; do
    "$A" target-manufacture --profile examples/profiles/demo.json --serial 54415247455400A$i \
        --out "$T/t$i.img" >/dev/null 2>&1 || { echo "FAIL: manufacture" >&2; exit 1; }
done
cat >"$T/p.json" <<'EOP'
{ "issuance": "keycard/1", "name": "71", "key": 1, "way": "target-seed", "bucket": 256,
  "steps": [
    { "template": 1, "params": [{"u16": "0x1000"}, {"u16": "0x3F00"}, {"u16": 512}, {"u8": 0}, {"u8": "0xFF"}, {"csv": "name"}] },
    { "template": 13 } ] }
EOP
printf 'name\nR1\nR2\nR3\nR4\nR5\nR6\n' >"$T/r.csv"
"$K" journal import --journal "$J" "$T/r.csv" >/dev/null 2>&1 || fail "import"
run() { # run CARD-IMAGE: one card with the journal, station "st1"
    "$K" --config examples/profiles/demo-station.json --profile "$T/p.json" --sim "$T/kc.img" \
        --target-sim "$1" --journal "$J" --station-name st1 >"$T/run.out" 2>&1
}
sq() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); r = c.execute(sys.argv[2]).fetchall(); print("\n".join(" ".join(str(x) for x in row) for row in r))' "$J" "$1"; }
# state RECORD SERIAL: make RECORD "issuing" on SERIAL for st1, with an open attempt.
issuing() {
    python3 - "$J" "$1" "$2" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE kc_record SET state = 'issuing', station = 'st1', serial = ?, attempts = attempts + 1 WHERE id = ?", (sys.argv[3], int(sys.argv[2])))
c.execute("INSERT INTO kc_attempt (record_id, station, serial, started_at) VALUES (?, 'st1', ?, 0)", (int(sys.argv[2]), sys.argv[3]))
c.commit()
PY
}

# A normal card: record 1, issuing then issued, the attempt closed.
run "$T/t1.img" && [ "$(sq "SELECT state, upper(serial) FROM kc_record WHERE id = 1")" = "issued 54415247455400A1" ] &&
    [ "$(sq "SELECT result, length(mac) FROM kc_attempt WHERE record_id = 1")" = "issued 32" ] &&
    [ "$(sq "SELECT length(mac) FROM kc_record WHERE id = 1")" = 32 ] &&
    ok "a card takes the first record: issued with the completion MAC the key card verified, its attempt closed" ||
    fail "first card: $(cat "$T/run.out")"
# A locked card takes no record.
run "$T/t1.img"
[ "$(sq "SELECT count(*) FROM kc_record WHERE state = 'queued'")" = 5 ] && grep -q SKIPPED "$T/run.out" &&
    ok "an issued card again: skipped, no record taken" || fail "locked card: $(cat "$T/run.out")"

# (a) record 2 left issuing on t2, t2 untouched and back in the slot.
issuing 2 54415247455400A2
run "$T/t2.img"
[ "$(sq "SELECT state, upper(serial), attempts FROM kc_record WHERE id = 2")" = "issued 54415247455400A2 1" ] &&
    ok "(a) the card of an issuing record back in the slot: issued with that record" ||
    fail "(a): $(sq "SELECT state, upper(serial), attempts FROM kc_record WHERE id = 2") $(cat "$T/run.out")"

# (b) t3 issued with its receipt (by a run without the journal), record 3 left issuing on it.
"$K" --config examples/profiles/demo-station.json --profile "$T/p.json" --sim "$T/kc.img" \
    --target-sim "$T/t3.img" --records "$T/r.csv" >/dev/null 2>&1 || fail "t3 issued apart"
issuing 3 54415247455400A3
run "$T/t4.img"
[ "$(sq "SELECT state FROM kc_record WHERE id = 3")" = issued ] && grep -q 'receipt is on the key card' "$T/run.out" &&
    [ "$(sq "SELECT state, upper(serial) FROM kc_record WHERE id = 4")" = "issued 54415247455400A4" ] &&
    ok "(b) an issuing record whose card has its receipt: settled issued at the restart; the next card takes record 4" ||
    fail "(b): $(sq "SELECT id, state, upper(serial) FROM kc_record") $(cat "$T/run.out")"

# (c) record 5 left issuing on t9 (never seen again); t5 in the slot.
issuing 5 54415247455400A9
run "$T/t5.img"
[ "$(sq "SELECT result FROM kc_attempt WHERE upper(serial) = '54415247455400A9'")" = aside ] &&
    [ "$(sq "SELECT state, upper(serial) FROM kc_record WHERE id = 5")" = "issued 54415247455400A5" ] &&
    ok "(c) a card gone with no receipt: its attempt set aside, the record issued on the next card" ||
    fail "(c): $(sq "SELECT id, state, upper(serial) FROM kc_record") $(cat "$T/run.out")"

# (d) t6 half issued (one envelope, no lock) by hand, record 6 left issuing on it.
cat >"$T/half.json" <<'EOP'
{ "issuance": "keycard/1", "name": "half", "key": 1, "way": "target-seed", "bucket": 256,
  "steps": [ { "template": 1, "params": [{"u16": "0x1000"}, {"u16": "0x3F00"}, {"u16": 512}, {"u8": 0}, {"u8": "0xFF"}, {"text": "HALF"}] } ] }
EOP
"$K" --config examples/profiles/demo-station.json --profile "$T/half.json" --sim "$T/kc.img" \
    --target-sim "$T/t6.img" >/dev/null 2>&1
issuing 6 54415247455400A6
run "$T/t6.img"
[ "$(sq "SELECT result FROM kc_attempt WHERE upper(serial) = '54415247455400A6' AND result IS NOT NULL")" = aside ] &&
    [ "$(sq "SELECT state FROM kc_record WHERE id = 6")" = queued ] &&
    ok "(d) the card half issued when the station stopped: set aside, the record back in the queue" ||
    fail "(d): $(sq "SELECT id, state, upper(serial) FROM kc_record WHERE id = 6") $(cat "$T/run.out")"

# (e) record 6 claimed by st1 when it stopped: back in the queue, then issued on t7.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE kc_record SET state = '"'claimed'"', station = '"'st1'"' WHERE id = 6"); c.commit()' "$J"
run "$T/t7.img"
[ "$(sq "SELECT state, upper(serial) FROM kc_record WHERE id = 6")" = "issued 54415247455400A7" ] &&
    ok "(e) a claimed record given back at the restart and issued" || fail "(e): $(cat "$T/run.out")"

# Exactly once: 6 records issued, 6 distinct cards, none twice.
[ "$(sq "SELECT count(*), count(DISTINCT serial) FROM kc_record WHERE state = 'issued'")" = "6 6" ] &&
    [ "$(sq "SELECT count(*) FROM kc_attempt WHERE result = 'issued'")" = 6 ] &&
    ok "every record issued exactly once, each on its own card" ||
    fail "exactly once: $(sq "SELECT id, state, upper(serial) FROM kc_record")"
# The report: counts and the cards set aside by reason.
"$K" journal status --journal "$J" --json >"$T/st.json" 2>&1
python3 - "$T/st.json" <<'PY' && ok "journal status --json: 6 issued, the 2 cards set aside by reason" || fail "status: $(cat "$T/st.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["issued"] == 6 and d["queued"] == 0 and d["failed"] == 0, d
assert sum(r["cards"] for r in d["set_aside"]) == 2, d
assert any("partially issued" in r["reason"] for r in d["set_aside"]), d
PY
# No record left: the next card is not touched.
run "$T/t8.img"
grep -q 'no queued record' "$T/run.out" && ok "no record left: the next card untouched" ||
    fail "no record left: $(cat "$T/run.out")"

# Reconciliation against the key card's audit export (docs/production.md
# "Reconciliation"), then the attacker's edits of the journal and the export.
PUB=examples/profiles/demo-issuer.pub.pem
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
"$A" --sim "$T/kc.img" audit --export "$T/a.export" --issuer-pub "$PUB" >/dev/null 2>&1 || fail "audit export"
rec() { "$K" journal reconcile --journal "$J" --issuer-pub "$PUB" --audit "$@" >"$T/rec.out" 2>&1; }
rec "$T/a.export"
rc=$?
[ $rc -eq 0 ] && grep -q '^reconciled: 6 issued records' "$T/rec.out" &&
    [ "$(sq "SELECT count(*) FROM kc_record WHERE state = 'issued' AND receipt_seq IS NOT NULL AND mac IS NOT NULL")" = 6 ] &&
    grep -q '54415247455400A6.*record 6' "$T/rec.out" &&
    ok "reconcile: every issued record has its one completed receipt, receipt numbers journaled; the half-issued card's session listed: $(grep -c '^aborted\|^MAC-mismatch' "$T/rec.out") sessions" ||
    fail "reconcile (rc $rc): $(cat "$T/rec.out")"
cp "$J" "$T/clean.db"
# (1) a completion MAC changed in the journal.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE kc_record SET mac = \"00112233445566778899aabbccddeeff\" WHERE id = 2"); c.commit()' "$J"
rec "$T/a.export"
[ $? -eq 1 ] && grep -q '^mismatch: record 2 card 54415247455400A2: the journal.s completion MAC' "$T/rec.out" &&
    ok "a MAC changed in the journal: the record named, exit 1" || fail "changed MAC: $(cat "$T/rec.out")"
cp "$T/clean.db" "$J"
# (2) a card counted twice: a set-aside attempt turned into a second issued record of card A1.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE kc_attempt SET result = \"issued\", serial = \"54415247455400A1\" WHERE upper(serial) = \"54415247455400A9\""); c.commit()' "$J"
rec "$T/a.export"
[ $? -eq 1 ] && grep -q '^mismatch: card 54415247455400A1: the receipt .* vouches for 2 records' "$T/rec.out" &&
    ok "one card counted for two records: refused, both named" || fail "card twice: $(cat "$T/rec.out")"
cp "$T/clean.db" "$J"
# (3) an issued record claiming a card that has no receipt.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE kc_attempt SET serial = \"54415247455400FF\" WHERE record_id = 4 AND result = \"issued\""); c.commit()' "$J"
rec "$T/a.export"
[ $? -eq 1 ] && grep -q '^mismatch: record 4 card 54415247455400FF: no completed receipt' "$T/rec.out" &&
    grep -q '^mismatch: card 54415247455400A4: completed receipt .* but no record' "$T/rec.out" &&
    ok "a record moved to a card without a receipt: both sides named" || fail "no receipt: $(cat "$T/rec.out")"
cp "$T/clean.db" "$J"
# (4) a card issued outside the journal (--records): its receipt maps to no record.
"$K" --config examples/profiles/demo-station.json --profile "$T/p.json" --sim "$T/kc.img" \
    --target-sim "$T/t8.img" --records "$T/r.csv" >/dev/null 2>&1 || fail "t8 issued apart"
"$A" --sim "$T/kc.img" audit --export "$T/b.export" --issuer-pub "$PUB" >/dev/null 2>&1 || fail "audit export 2"
rec "$T/a.export" "$T/b.export"
[ $? -eq 1 ] && grep -q '^mismatch: card 54415247455400A8: completed receipt .* no record of the journal names the card' "$T/rec.out" &&
    [ "$(grep -c '^mismatch' "$T/rec.out")" = 1 ] &&
    ok "a card issued outside the journal: its receipt named, two exports of one key card counted once" ||
    fail "outside: $(cat "$T/rec.out")"
# (5) an export altered (one receipt's line dropped, one byte changed): does not verify, nothing reconciled.
grep -v "^entry $(grep '^entry' "$T/a.export" | sed -n 3p | cut -c7-20)" "$T/a.export" >"$T/cut.export"
python3 - "$T/a.export" "$T/alt.export" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
i = [k for k, l in enumerate(lines) if l.startswith("entry ")][4]
l = lines[i]
lines[i] = l[:20] + ("1" if l[20] != "1" else "2") + l[21:]
open(sys.argv[2], "w").write("\n".join(lines))
PY
cp "$T/clean.db" "$J"
rec "$T/cut.export"
rc1=$?
grep -q 'does NOT verify' "$T/rec.out"; v1=$?
rec "$T/alt.export"
rc2=$?
[ $rc1 -eq 1 ] && [ $v1 -eq 0 ] && [ $rc2 -eq 1 ] && grep -q 'does NOT verify' "$T/rec.out" &&
    cmp -s "$J" "$T/clean.db" &&
    ok "an export with an entry dropped or a byte changed: does not verify, the journal untouched" ||
    fail "altered export ($rc1 $rc2): $(cat "$T/rec.out")"
# (6) no export of the key card that issued: said so, per record.
"$A" --sim "$T/other.img" provision examples/profiles/demo.json >/dev/null 2>&1 &&
    "$A" --sim "$T/other.img" audit --export "$T/o.export" --issuer-pub "$PUB" >/dev/null 2>&1 || fail "other key card"
rec "$T/o.export"
[ $? -eq 1 ] && [ "$(grep -c 'no audit export of that key card was given' "$T/rec.out")" = 6 ] &&
    ok "the export of another key card: each record says its key card's export is missing" ||
    fail "other export: $(cat "$T/rec.out")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
