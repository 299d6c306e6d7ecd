#!/bin/sh
# 70-journal.sh - the issuance journal's records (SQLite, WAL), no card:
#   (a) init creates the schema and is a no-op the second time; WAL mode;
#   (b) import queues a CSV all or none: a serial already journaled, or a
#       broken CSV, adds nothing;
#   (c) a record inserted with plain SQL (as an issuer's data preparation
#       would) is counted and exported like the others;
#   (d) status (text and --json) and export (CSV, quoted as needed) agree
#       with the database read apart (Python's sqlite3);
#   (e) a journal in a read-only directory, on a full disk, a file that is
#       not a journal and one of a newer schema: a clear error, exit 1,
#       nothing changed; one of schema 1 migrated;
#   (f) a PostgreSQL journal whose server is not there: a one-off command
#       says so at once, a station waits --journal-wait seconds and stops
#       with the card untouched, or at once on SIGTERM (exit 143); the
#       URI's password is never printed.
set -u
B=${B:-build}
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-70-journal.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
K="$B/bin/kc-issue"
J=$T/line.db
printf 'serial,name,pin\n5441524745540001,Ann,1234\n5441524745540002,"Bo, Jr",5678\n' >"$T/r1.csv"
printf 'name,pin\nCy,1111\nDi,2222\n' >"$T/r2.csv"
printf 'serial,name\n5441524745540003,Ed\n5441524745540001,Again\n' >"$T/dup.csv"
printf 'serial,name\n54415247455400,Short\n' >"$T/bad.csv"
sq() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(*c.execute(sys.argv[2]).fetchone())' "$@"; }

# (a)
"$K" journal init --journal "$J" >"$T/a1" && "$K" journal init --journal "$J" >"$T/a2" &&
    [ "$(sq "$J" 'PRAGMA journal_mode')" = wal ] && [ "$(sq "$J" "SELECT value FROM kc_meta WHERE name = 'schema'")" = 2 ] &&
    ok "init: $(cat "$T/a1"); again: a no-op; WAL mode" || fail "init: $(cat "$T/a1" "$T/a2")"

# (b)
"$K" journal import --journal "$J" "$T/r1.csv" --batch first >"$T/b1" &&
    "$K" journal import --journal "$J" "$T/r2.csv" >"$T/b2" || fail "import: $(cat "$T/b1" "$T/b2")"
"$K" journal import --journal "$J" "$T/dup.csv" >"$T/b3" 2>&1
rc=$?
n=$(sq "$J" 'SELECT count(*) FROM kc_record')
[ $rc -eq 1 ] && grep -q 'serial 5441524745540001 has a record already; nothing imported' "$T/b3" && [ "$n" = 4 ] &&
    ok "a CSV with a serial already journaled: refused whole ($n records, as before)" ||
    fail "duplicate import (rc $rc, $n records): $(cat "$T/b3")"
"$K" journal import --journal "$J" "$T/bad.csv" >"$T/b4" 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(sq "$J" 'SELECT count(*) FROM kc_record')" = 4 ] &&
    ok "a broken CSV: refused before the journal is touched ($(head -c 80 "$T/b4"))" ||
    fail "broken CSV (rc $rc): $(cat "$T/b4")"

# (c)
python3 - "$J" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO kc_record (batch, fields, created_at, updated_at) VALUES ('sql', '{\"name\": \"Sql\", \"pin\": \"9999\"}', 0, 0)")
c.commit()
PY

# (d)
"$K" journal status --journal "$J" >"$T/d1" && "$K" journal status --journal "$J" --json >"$T/d2" &&
    "$K" journal status --journal "$J" --batch first --json >"$T/d3" &&
    "$K" journal export --journal "$J" --out "$T/out.csv" || fail "status/export"
python3 - "$T/d1" "$T/d2" "$T/out.csv" "$T/d3" <<'PY' && ok "status (per batch too) and export agree: $(cat "$T/d1")" || fail "status/export: $(cat "$T/d1" "$T/d2" "$T/d3" "$T/out.csv")"
import csv, json, sys
text = open(sys.argv[1]).read()
js = json.load(open(sys.argv[2]))
rows = list(csv.DictReader(open(sys.argv[3])))
assert "5 records: 5 queued" in text, text
assert js["total"] == 5 and js["queued"] == 5 and js["issued"] == 0, js
assert [r["name"] for r in rows] == ["Ann", "Bo, Jr", "Cy", "Di", "Sql"], rows
assert [r["batch"] for r in rows] == ["first", "first", "", "", "sql"]
assert rows[1]["serial"] == "5441524745540002" and rows[4]["pin"] == "9999"
assert all(r["state"] == "queued" and r["card"] == "" for r in rows)
assert [(b["batch"], b["total"], b["queued"]) for b in js["batches"]] == [("first", 2, 2), ("", 2, 2), ("sql", 1, 1)], js
assert "batch first: 2 records" in text and "batch sql: 1 records" in text, text
one = json.load(open(sys.argv[4]))
assert one["batch"] == "first" and one["total"] == 2 and len(one["batches"]) == 1, one
PY

# (e)
before=$(sq "$J" 'SELECT count(*) FROM kc_record')
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
    mkdir -p "$T/ro" "$T/full"
    unshare -m sh -c '
        mount -t tmpfs -o size=64k kc-j "$2" || exit 3
        mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 3
        "$3" journal init --journal "$1/x.db" >"$4/e1" 2>&1; echo $? >"$4/e1.rc"
        dd if=/dev/zero of="$2/fill" bs=1k count=64 2>/dev/null
        "$3" journal init --journal "$2/x.db" >"$4/e2" 2>&1; echo $? >"$4/e2.rc"
    ' sh "$T/ro" "$T/full" "$K" "$T"
    [ "$(cat "$T/e1.rc")" = 1 ] && grep -q 'cannot open or create\|read-only' "$T/e1" &&
        ok "a journal in a read-only directory: $(head -c 120 "$T/e1")" || fail "read-only: rc $(cat "$T/e1.rc"): $(cat "$T/e1")"
    [ "$(cat "$T/e2.rc")" = 1 ] && grep -q 'disk is full\|cannot open or create' "$T/e2" &&
        ok "a journal on a full disk: $(head -c 120 "$T/e2")" || fail "full disk: rc $(cat "$T/e2.rc"): $(cat "$T/e2")"
else
    echo "skip: read-only and full-disk cases need root and unshare"
fi
echo "not a database" >"$T/junk.db"
"$K" journal status --journal "$T/junk.db" >"$T/e3" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'not a journal' "$T/e3" && ok "a file that is not a journal: $(head -c 100 "$T/e3")" ||
    fail "junk (rc $rc): $(cat "$T/e3")"
cp "$J" "$T/new.db"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE kc_meta SET value = 3 WHERE name = \"schema\""); c.commit()' "$T/new.db"
"$K" journal import --journal "$T/new.db" "$T/r2.csv" >"$T/e4" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'newer than this' "$T/e4" && [ "$(sq "$T/new.db" 'SELECT count(*) FROM kc_record')" = "$before" ] &&
    ok "a journal of a newer schema: refused, untouched" || fail "newer schema (rc $rc): $(cat "$T/e4")"
# A journal of schema 1 (no claim token): migrated to 2 on opening, its records kept.
cp "$J" "$T/old.db"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("ALTER TABLE kc_record DROP COLUMN claim"); c.execute("UPDATE kc_meta SET value = 1 WHERE name = \"schema\""); c.commit()' "$T/old.db"
"$K" journal status --journal "$T/old.db" >"$T/e6" 2>&1 &&
    [ "$(sq "$T/old.db" "SELECT value FROM kc_meta WHERE name = 'schema'")" = 2 ] &&
    [ "$(sq "$T/old.db" 'SELECT count(claim), count(*) FROM kc_record')" = "0 $before" ] &&
    ok "a journal of schema 1: migrated to 2 on opening, its $before records kept" ||
    fail "migration: $(cat "$T/e6")"
"$K" journal status --journal "$T/missing.db" >"$T/e5" 2>&1
[ $? -eq 1 ] && grep -q 'no journal here' "$T/e5" && [ ! -e "$T/missing.db" ] &&
    ok "status of a journal that does not exist: said, nothing created" || fail "missing: $(cat "$T/e5")"

# A PostgreSQL journal whose server is not there. A one-off command says so
# at once; a station waits --journal-wait seconds, says it waits, then stops
# with nothing sent to the card. The password in the URI is never printed.
URI="postgresql://kc:s3cretpw@/kcline?host=$T/no-server&port=5999"
timeout 60 "$K" journal status --journal "$URI" >"$T/p1" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'kc:\*\*\*@' "$T/p1" && grep -q 'connect' "$T/p1" && ! grep -q s3cretpw "$T/p1" &&
    ok "journal status, no server: said at once, the password hidden: $(head -c 160 "$T/p1")" ||
    fail "no server (rc $rc): $(cat "$T/p1")"
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
"$B/bin/kc-admin" --sim "$T/kc.img" provision examples/profiles/demo.json >/dev/null 2>&1 &&
    "$B/bin/kc-admin" target-manufacture --profile examples/profiles/demo.json --serial 54415247455400D1 \
        --out "$T/t.img" >/dev/null 2>&1 || fail "cards for the station run"
cp "$T/t.img" "$T/t.before"
timeout 120 "$K" --config examples/profiles/demo-station.json --profile examples/profiles/standard.json \
    --sim "$T/kc.img" --target-sim "$T/t.img" --journal "$URI" --journal-wait 2 >"$T/p2" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'waiting for it (up to 2 s)' "$T/p2" && grep -q 'waited 2 s for the server' "$T/p2" &&
    ! grep -q s3cretpw "$T/p2" && cmp -s "$T/t.img" "$T/t.before" &&
    ok "a station without its server: waited 2 s, said so, stopped; the card untouched, the password hidden" ||
    fail "station without server (rc $rc): $(cat "$T/p2")"
# SIGTERM during the wait: it ends at once, said, the card untouched.
"$K" --config examples/profiles/demo-station.json --profile examples/profiles/standard.json \
    --sim "$T/kc.img" --target-sim "$T/t.img" --journal "$URI" --journal-wait 300 >"$T/p4" 2>&1 &
kpid=$!
n=0
while [ $n -lt 100 ] && ! grep -q 'waiting for it' "$T/p4"; do sleep 0.1; n=$((n + 1)); done
kill -TERM $kpid
n=0
while [ $n -lt 100 ] && kill -0 $kpid 2>/dev/null; do sleep 0.1; n=$((n + 1)); done
if kill -0 $kpid 2>/dev/null; then
    kill -KILL $kpid
    fail "SIGTERM did not end the wait for the server within 10 s"
else
    wait $kpid
    rc=$?
    [ $rc -eq 143 ] && grep -q 'interrupted while waiting for the server' "$T/p4" && cmp -s "$T/t.img" "$T/t.before" &&
        ok "SIGTERM while waiting for the server: ended at once (exit $rc), said so, the card untouched" ||
        fail "SIGTERM in the wait (rc $rc): $(cat "$T/p4")"
fi
# A password given as a URI parameter is hidden too.
timeout 60 "$K" journal status --journal "postgresql:///kcline?host=$T/no-server&password=s3cretpw&port=5999" >"$T/p5" 2>&1
[ $? -eq 1 ] && grep -q 'password=\*\*\*' "$T/p5" && ! grep -q s3cretpw "$T/p5" &&
    ok "a password in the URI's parameters: hidden" || fail "password parameter: $(cat "$T/p5")"
"$K" --config examples/profiles/demo-station.json --profile examples/profiles/standard.json \
    --sim "$T/kc.img" --target-sim "$T/t.img" --journal-wait 2 >"$T/p3" 2>&1
[ $? -eq 2 ] && grep -q 'go with --journal' "$T/p3" && ok "--journal-wait without --journal: a usage error" ||
    fail "--journal-wait alone: $(cat "$T/p3")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
