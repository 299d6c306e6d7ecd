#!/bin/sh
# 73-journal-stations.sh - a production line: three stations issue at once
# from ONE issuance journal, each with its own key card (provisioned from the
# same profile: same keys, serials of their own) and its own reader with a
# stacker of blank target cards, all readers in one pcscd (tests/vcards.sh,
# KC_VC_STATIONS=3, or 6 with two target heads per station: the default,
# KC_JSTATIONS_HEADS=2). Each station is `kc-issue --all --journal J
# --station-name sK` (with its heads' --target-reader) in a loop of its own; the kill plan (seeded) gives
# KC_JSTATIONS_KILLS runs of random stations a SIGKILL at a random point of a
# card (faults_preload.so, as in 72-journal-kill.sh: before an envelope,
# after one, before the key card's first END), and the station starts again
# under the same name; then every station runs until no record is queued.
# Before each restart the station's key card audit log is exported and
# acknowledged (a key card refuses issuance with 112 entries unacknowledged:
# about 55 cards); with PostgreSQL the server is also stopped once mid-run,
# immediately as in a crash,
# and started again 3 s later: the stations wait and carry on.
# Afterwards, from the journal, the card images and the key cards' logs:
#   - every record issued exactly once, each on a card of its own; none left
#     queued, claimed, issuing or failed; every station issued some;
#   - every record's card is locked and has a completed receipt on a key
#     card's log (the one the record's keycard column names, when filled,
#     which is the key card of the record's station);
#   - every card set aside is counted for no record.
#
# KC_JOURNAL_KIND=sqlite (a shared SQLite file, WAL) or pgsql (a private
# PostgreSQL server, tests/pgsql.sh, journal postgresql://...; the default
# when PostgreSQL is installed);
# KC_JSTATIONS_RECORDS (default 30), KC_JSTATIONS_KILLS (default 4),
# KC_KILL_SEED (default the time; printed for a replay), KC_JSTATIONS_KEEP=1
# (keep the temporary directory: the runs' output, journal, card images).
set -u
B=${B:-build}
# Target heads per station (KC_JSTATIONS_HEADS, 1 or 2, default 2): station
# k's second head is the target slot of vpcd reader k + 3.
HEADS=${KC_JSTATIONS_HEADS:-2}
case $HEADS in 1 | 2) ;; *) echo "73-journal-stations: KC_JSTATIONS_HEADS is 1 or 2" >&2; exit 2 ;; esac
KC_VC_STATIONS=$((3 * HEADS))
. tests/vcards.sh
vc_lock "$0" "$@"
. tests/pgsql.sh

# Default: PostgreSQL when it is installed, else a shared SQLite file.
if [ -z "${KC_JOURNAL_KIND:-}" ]; then
    if pg_find_bin 2>/dev/null; then
        KC_JOURNAL_KIND=pgsql
    else
        echo "73-journal-stations: PostgreSQL is not installed: the journal is a shared SQLite file"
        KC_JOURNAL_KIND=sqlite
    fi
fi
KIND=$KC_JOURNAL_KIND
NST=3
NREC=${KC_JSTATIONS_RECORDS:-30}
KILLS=${KC_JSTATIONS_KILLS:-4}
SEED=${KC_KILL_SEED:-$(date +%s)}
case $KIND in sqlite | pgsql) ;; *) echo "73-journal-stations: KC_JOURNAL_KIND is sqlite or pgsql" >&2; exit 2 ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-73-jst.XXXXXX") || exit 1
VC_STATE=$T/keycard.state        # station k >= 2: $T/keycard.state.k
VC_TARGET_STACK=$T/stack         # station k >= 2: $T/stack.k
SUPS=
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
finish() {
    for p in $SUPS; do # the station loops, then what they run (by PID)
        kill -TERM "$p" 2>/dev/null
    done
    for p in $SUPS; do wait "$p" 2>/dev/null; done
    # A run left behind: its timeout(1), which hands SIGTERM to kc-issue.
    for k in 1 2 3; do
        p=$(cat "$T/s$k.pid" 2>/dev/null)
        [ -n "$p" ] && vc_alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = timeout ] &&
            kill -TERM "$p" 2>/dev/null
        n=0
        while [ -n "$p" ] && vc_alive "$p" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    done
    vc_down
    pg_down
    if [ "${KC_JSTATIONS_KEEP:-0}" = 1 ]; then echo "73-journal-stations: kept $T" >&2; else rm -rf "$T"; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
STATION=examples/profiles/demo-station.json
PUB=examples/profiles/demo-issuer.pub.pem
. tests/faults.sh
faults_preload 73-journal-stations || exit 1
export B

# The journal: a shared SQLite file, or a database on a private server.
if [ "$KIND" = pgsql ]; then
    pg_up "$T/pg" >/dev/null || { echo "FAIL: PostgreSQL did not start" >&2; exit 1; }
    J=$PG_URL
    # jsql SQL: the rows, a space between columns.
    jsql() { pg_psql "$1" -F ' '; }
    if ! "$B/bin/kc-issue" journal init --journal "$J" >"$T/init.out" 2>&1; then
        echo "FAIL: kc-issue journal init --journal $J: $(cat "$T/init.out")" >&2
        echo "73-journal-stations: (this kc-issue takes no PostgreSQL journal; KC_JOURNAL_KIND=sqlite runs the test on a shared SQLite file)" >&2
        exit 1
    fi
else
    J=$T/line.db
    jsql() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); r = c.execute(sys.argv[2]).fetchall(); print("\n".join(" ".join(str(x) for x in row) for row in r))' "$J" "$1"; }
fi

# The line's issuance profile: a folder, a file, a record written, the lock.
cp tests/data/line-issuance.json "$T/p.json" || exit 1
{ echo name; i=1; while [ $i -le "$NREC" ]; do echo "REC-$i"; i=$((i + 1)); done; } >"$T/r.csv"
"$B/bin/kc-issue" journal import --journal "$J" "$T/r.csv" >"$T/import.out" 2>&1 ||
    { echo "FAIL: import: $(cat "$T/import.out")" >&2; exit 1; }
# Each stacker: two thirds of the records (the stations need not share the
# work evenly), a card for each kill (one may be set aside) and a margin.
PER=$((NREC * 2 / NST / HEADS + KILLS + 4))
k=1
while [ $k -le "$KC_VC_STATIONS" ]; do
    vc_stack_make "$(vc_station_stack $k)" "$PER" "4A53544E$(printf '%02X' $k)00" || exit 1
    k=$((k + 1))
done
vc_up >/dev/null || { echo "FAIL: virtual cards did not start" >&2; exit 1; }
for k in 1 2 3; do
    "$B/bin/kc-admin" --reader "$(vc_station_keycard_reader $k)" --json info --issuer-pub "$PUB" 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["serial"].upper())' >"$T/kc.s$k" ||
        { echo "FAIL: key card of station $k" >&2; exit 1; }
done

RS=$((SEED % 2147483648))
rnd() {
    RS=$(((RS * 1103515245 + 12345) % 2147483648))
    R=$(((RS / 65536) % $1))
}
# The kill plan: KILLS times a random station gets a fault point for its next
# faulted run, the K-th envelope (4 a card) of that run, K within its first
# few cards; $T/plan.K holds station K's points, one per run, in order.
: >"$T/plan.1"; : >"$T/plan.2"; : >"$T/plan.3"
SPAN=$((NREC / (NST * 2)))
[ $SPAN -lt 3 ] && SPAN=3
i=1
while [ $i -le "$KILLS" ]; do
    rnd $NST
    k=$((R + 1))
    rnd 3
    case $R in
    0) rnd $((4 * SPAN)); at=env:$((R + 1)) ;;
    1) rnd $((4 * SPAN)); at=after:$((R + 1)) ;;
    *) at=end ;;
    esac
    echo "$at" >>"$T/plan.$k"
    i=$((i + 1))
done

# station K: kc-issue for station sK, run after run (its variables s_*: the
# vcards.sh functions it calls use n, st, pid), until it ends with no
# record queued (or its stacker is empty). Run N takes line N of plan.K as
# its fault point. Before every run but the first, the key card's audit log
# is exported and acknowledged ($T/audit.sK.N). Each run: a line "N AT RC"
# in $T/sK.runs; its output in $T/sK.rN.out.
station() {
    sk=$1
    s_kr=$(vc_station_keycard_reader "$sk")
    s_tr=$(vc_station_target_reader "$sk")
    s_tr2=
    [ "$HEADS" = 2 ] && s_tr2=$(vc_station_target_reader $((sk + 3)))
    s_st=$(vc_station_stack "$sk")
    s_run=0
    while :; do
        s_run=$((s_run + 1))
        if [ $s_run -gt $((KILLS + NREC / 20 + 12)) ]; then
            echo "station s$sk: still not done after $((s_run - 1)) runs" >"$T/s$sk.giveup"
            return 1
        fi
        if [ $s_run -gt 1 ]; then
            vc_wait_card "$s_kr" 10 >/dev/null 2>&1
            "$B/bin/kc-admin" --reader "$s_kr" --wait-busy 20 audit --export "$T/audit.s$sk.$s_run" --ack \
                --issuer-pub "$PUB" >"$T/s$sk.ack$s_run.out" 2>&1 ||
                echo "station s$sk: audit export before run $s_run failed: $(tail -n 1 "$T/s$sk.ack$s_run.out")" >>"$T/s$sk.errors"
        fi
        s_at=$(sed -n "${s_run}p" "$T/plan.$sk" 2>/dev/null)
        if [ -n "$s_at" ]; then
            env LD_PRELOAD="$PRELOAD" KC_FAULT_AT="$s_at" KC_FAULT_LOG="$T/s$sk.r$s_run.apdus" \
                KC_FAULT_HOOK="sh tests/integration/46-kill-trials.sh --hook kc-issue KILL" \
                timeout 600 "$B/bin/kc-issue" --config "$STATION" --profile "$T/p.json" --all --wait 2 \
                --reader "$s_kr" --target-reader "$s_tr" ${s_tr2:+--target-reader "$s_tr2"} \
                --journal "$J" --station-name "s$sk" >"$T/s$sk.r$s_run.out" 2>&1 </dev/null &
        else
            timeout 600 "$B/bin/kc-issue" --config "$STATION" --profile "$T/p.json" --all --wait 2 \
                --reader "$s_kr" --target-reader "$s_tr" ${s_tr2:+--target-reader "$s_tr2"} \
                --journal "$J" --station-name "s$sk" >"$T/s$sk.r$s_run.out" 2>&1 </dev/null &
        fi
        echo $! >"$T/s$sk.pid"
        wait $!
        s_rc=$?
        rm -f "$T/s$sk.pid"
        echo "$s_run ${s_at:--} $s_rc" >>"$T/s$sk.runs"
        [ $s_rc -eq 124 ] && echo "station s$sk: run $s_run hung (timeout)" >>"$T/s$sk.errors"
        if [ $s_rc -eq 137 ]; then
            vc_wait_card "$s_tr" 10 >/dev/null 2>&1
            [ -n "$s_tr2" ] && vc_wait_card "$s_tr2" 10 >/dev/null 2>&1
            continue
        fi
        # Ended by itself: done when nothing is queued and the plan is used up.
        s_q=$(jsql "SELECT count(*) FROM kc_record WHERE state = 'queued'" 2>/dev/null)
        if [ "$s_q" = 0 ] && [ $s_run -ge "$(wc -l <"$T/plan.$sk")" ]; then
            return 0
        fi
        if ! ls "$s_st"/*.card >/dev/null 2>&1 && ! vc_wait_card "$s_tr" 1 >/dev/null 2>&1 &&
            { [ -z "$s_tr2" ] || { ! ls "$(vc_station_stack $((sk + 3)))"/*.card >/dev/null 2>&1 &&
                ! vc_wait_card "$s_tr2" 1 >/dev/null 2>&1; }; }; then
            echo "station s$sk: stacker empty after run $s_run" >>"$T/s$sk.errors"
            return 1
        fi
        sleep 1
    done
}

echo "73-journal-stations: seed $SEED, $KIND journal, $NREC records, $NST stations of $HEADS target head(s), $KILLS kills planned"
for k in 1 2 3; do [ -f "$T/plan.$k" ] && echo "#   station s$k kill points: $(tr '\n' ' ' <"$T/plan.$k")"; done
t0=$(date +%s)
for k in 1 2 3; do
    station $k 2>>"$T/s$k.log" & # the shell's "Killed" notices go there
    SUPS="$SUPS $!"
done
if [ "$KIND" = pgsql ]; then
    # Once a third of the records is issued, the server goes away for 3 s.
    n=0
    while [ $n -lt 600 ]; do
        c=$(jsql "SELECT count(*) FROM kc_record WHERE state = 'issued'" 2>/dev/null)
        [ "${c:-0}" -ge $((NREC / 3)) ] && break
        sleep 0.2
        n=$((n + 1))
    done
    echo "#   PostgreSQL stopped as in a crash (immediate) with ${c:-?} records issued; back in 3 s"
    # As a crash: immediate stop (no checkpoint, connections cut), WAL recovery at the start.
    PG_STOP_MODE=immediate pg_restart_later 3 || fail "stopping PostgreSQL"
    pg_wait_restart || fail "PostgreSQL did not start again"
fi
src=0
for p in $SUPS; do wait "$p" || src=1; done
SUPS=
t1=$(date +%s)
killed=0
runs=0
for k in 1 2 3; do
    runs=$((runs + $(wc -l <"$T/s$k.runs")))
    killed=$((killed + $(awk '$3 == 137' "$T/s$k.runs" | wc -l)))
    echo "#   station s$k: runs (run point exit): $(tr '\n' ';' <"$T/s$k.runs")"
done
echo "#   $runs runs, $killed killed, $((t1 - t0)) s for $NREC records ($(((t1 - t0) * 1000 / NREC)) ms a record on the line)"
if [ "$KIND" = pgsql ]; then
    # The server's crash: the runs it caught said they wait, then that they
    # resume (or were killed meanwhile: another head reached a kill point).
    waited=0 resumed=0 bad=""
    for f in "$T"/s?.r*.out; do
        grep -q 'server is unreachable.*waiting for it' "$f" || continue
        waited=$((waited + 1))
        if grep -q 'answers again after [0-9]* s; resuming' "$f"; then
            resumed=$((resumed + 1))
        else
            sk=$(basename "$f" | sed 's/^s\([0-9]\)\.r\([0-9]*\)\.out$/\1 \2/')
            awk -v r="${sk#* }" '$1 == r && $3 == 137 { k = 1 } END { exit !k }' "$T/s${sk% *}.runs" ||
                bad="$bad $(basename "$f")"
        fi
    done
    [ "$waited" -ge 1 ] && [ "$resumed" -ge 1 ] && [ -z "$bad" ] &&
        ok "PostgreSQL crashed mid-run: $waited runs said they wait for it; $resumed resumed, the others were killed meanwhile" ||
        fail "the PostgreSQL crash: $waited runs waited, $resumed resumed; neither resumed nor killed:$bad"
fi
[ $src -eq 0 ] && ! cat "$T"/s?.errors "$T"/s?.giveup 2>/dev/null | grep . >&2 &&
    ok "the three stations ran to the end: no run hung, no stacker ran out" ||
    { fail "stations: see above"; cat "$T"/s?.log >&2; }

[ "$(jsql "SELECT count(*), count(DISTINCT upper(serial)) FROM kc_record WHERE state = 'issued'")" = "$NREC $NREC" ] &&
    [ "$(jsql "SELECT count(*) FROM kc_record WHERE state IN ('claimed', 'issuing', 'queued', 'failed')")" = 0 ] &&
    ok "$NREC records issued exactly once, on $NREC distinct cards, after $killed kills" ||
    fail "records: $(jsql "SELECT id, state, station, serial, attempts FROM kc_record WHERE state <> 'issued' OR serial IS NULL") / $(jsql "SELECT state, count(*), count(DISTINCT upper(serial)) FROM kc_record GROUP BY state")"
per=$(jsql "SELECT station, count(*) FROM kc_record WHERE state = 'issued' GROUP BY station ORDER BY station" | tr '\n' ' ')
[ "$(jsql "SELECT count(DISTINCT station) FROM kc_record WHERE state = 'issued' AND station IN ('s1', 's2', 's3')")" = 3 ] &&
    ok "every station issued records: $per" || fail "records by station: $per"

# The key cards' logs: every export made before a restart, and the log now.
for k in 1 2 3; do
    kr=$(vc_station_keycard_reader $k)
    "$B/bin/kc-admin" --reader "$kr" audit --export "$T/audit.s$k.final" --issuer-pub "$PUB" \
        >"$T/s$k.final.out" 2>&1 || fail "station s$k: audit export: $(cat "$T/s$k.final.out")"
    "$B/bin/kc-admin" --reader "$kr" audit --json --issuer-pub "$PUB" >"$T/audit.s$k.json" 2>"$T/audit.err" ||
        fail "station s$k: audit: $(cat "$T/audit.err")"
done
STATE_PROG=$B/integration/target_state
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -o "$STATE_PROG" \
    tests/integration/target_state.c -L"$B/lib" -lkeycard-sim -lkeycard -Wl,-rpath,"$B/lib" ||
    fail "cannot build target_state.c"
vc_down
k=1
while [ $k -le "$KC_VC_STATIONS" ]; do find "$(vc_station_stack $k)" -name '*.card'; k=$((k + 1)); done |
    xargs "$STATE_PROG" >"$T/states" 2>&1
jsql "SELECT upper(serial), station, coalesce(upper(keycard), '-') FROM kc_record WHERE state = 'issued'" >"$T/issued"
jsql "SELECT upper(serial) FROM kc_attempt WHERE result = 'aside'" >"$T/aside"
python3 - "$T" <<'PY' && ok "every record's card is locked with a completed receipt on its station's key card; the cards set aside are counted for no record" || fail "cards: see above"
import glob, json, os, sys
t = sys.argv[1]
keycard = {"s%d" % k: open(os.path.join(t, "kc.s%d" % k)).read().strip() for k in (1, 2, 3)}
issued = [l.split() for l in open(os.path.join(t, "issued")) if l.strip()]
aside = set(open(os.path.join(t, "aside")).read().split())
states = {}
for line in open(os.path.join(t, "states")):
    f = line.split()
    if len(f) >= 4 and f[0] != "?":
        states[f[0].upper()] = (int(f[1]), f[3])
# Completed receipts, by key card serial: the exports (entry lines: seq(4)
# time(4) event(1) len(1) data; receipt event 06: serial(8) key way flags
# result(1), result 00 = completed) and the --json logs.
receipts = {}
for path in glob.glob(os.path.join(t, "audit.s*")):
    if path.endswith(".json"):
        ks = keycard[os.path.basename(path).split(".")[1]]
        entries = json.load(open(path))["entries"]
        for e in entries:
            if e["event"] == "issue-receipt" and e["issue"].get("result") == "completed":
                receipts.setdefault(ks, set()).add(e["issue"]["serial"].upper())
        continue
    ks = None
    for line in open(path):
        f = line.split()
        if len(f) == 2 and f[0] == "serial":
            ks = f[1].upper()
        elif len(f) == 2 and f[0] == "entry":
            b = bytes.fromhex(f[1])
            data = b[10:10 + b[9]]
            if b[8] == 0x06 and len(data) >= 12 and data[11] == 0:
                receipts.setdefault(ks, set()).add(data[:8].hex().upper())
bad = []
if sorted(keycard.values()) != sorted(set(keycard.values())):
    bad.append("two stations have the same key card serial: %s" % keycard)
for serial, station, kc in issued:
    if serial not in states or states[serial][0] != 3:
        bad.append("record card %s not locked: %s" % (serial, states.get(serial)))
    if kc != "-":
        if kc != keycard.get(station):
            bad.append("record card %s: key card %s, not station %s's (%s)" % (serial, kc, station, keycard.get(station)))
        if serial not in receipts.get(kc, set()):
            bad.append("record card %s has no completed receipt on key card %s" % (serial, kc))
    elif not any(serial in r for r in receipts.values()):
        bad.append("record card %s has no completed receipt on any key card" % serial)
for s in aside & {i[0] for i in issued}:
    bad.append("card %s set aside yet counted for a record" % s)
for b in bad:
    print("   ", b, file=sys.stderr)
print("#   %d completed receipts on the key cards, %d cards set aside, %d card images" %
      (sum(len(r) for r in receipts.values()), len(aside), len(states)))
sys.exit(1 if bad else 0)
PY

# Reconciliation: the journal against every export of the three key cards
# (those taken before restarts and the final ones), as the shift's end does it.
"$B/bin/kc-issue" journal reconcile --journal "$J" --issuer-pub "$PUB" \
    --audit $(ls "$T"/audit.s*.* | grep -v '\.json$') >"$T/reconcile.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^reconciled: $NREC issued records" "$T/reconcile.out" &&
    ok "journal reconcile: $(tail -n 1 "$T/reconcile.out")" ||
    fail "reconcile (exit $rc): $(cat "$T/reconcile.out")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed (seed $SEED)" >&2; exit 1; }
echo "all checks passed (seed $SEED)"
