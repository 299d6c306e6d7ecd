#!/bin/sh
# 50-station.sh - the reader/writer station (kc-station, docs/station.md)
# over pcscd + vpcd: the key card in slot 0, a stacker of eleven blank
# target cards in slot 1, the PC talking to the station only through
# operation instructions on its UNIX socket, captured by a relay.
#   - the frame format as documented (an independent client in Python);
#   - the holder PIN is never taken over the socket (start-up with data refused);
#   - a client that sends ISSUE and goes away: the card is issued whole
#     (locked, counted once); a client that goes away mid-frame: no job at all;
#   - kc-issue --station --all --show issues the rest of the stack: ten cards
#     issued and locked, each read back with operational commands;
#   - two clients at once: one served, the other answered busy, no card mixed up;
#   - the capture of the whole batch holds no ENVELOPE (as pcscd saw them on
#     the card line), no inner command of the templates, no PIN, no key and
#     no key check value, and parses as nothing but frames;
#   - the shut-down instruction stops the station and removes its socket.
#
# Run from the top of the tree: B=build sh tests/integration/50-station.sh

set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-issue kc-station; do
    [ -x "$B/bin/$t" ] || { echo "50-station: $B/bin/$t not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-50-station.XXXXXX") || exit 1
st_fails=0
st_n=0
ok() { st_n=$((st_n + 1)); echo "ok $st_n - $1"; }
not_ok() { st_n=$((st_n + 1)); st_fails=$((st_fails + 1)); echo "not ok $st_n - $1"; }
check() { if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3 (want [$2], got [$1])"; fi; }
STATION_PID= PROXY_PID= ISSUE_PID=
stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
finish() {
    stop_pid "$ISSUE_PID"
    stop_pid "$PROXY_PID"
    stop_pid "$STATION_PID"
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PY=/usr/bin/python3
STATION=examples/profiles/demo-station.json
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STACK=$T/stack
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG
mkdir -p "$VC_DIR"
rm -f "$VC_DIR/pcscd.log"

# ---- helpers: a raw client and a capturing relay ---------------------------
cat >"$T/kcs.py" <<'PYEOF'
"""A client written from docs/station.md alone: STX LEN(2) OP P1 P2 DATA ETX."""
import socket, sys, time

def frame(op, p1=0, p2=0, data=b""):
    body = bytes([op, p1, p2]) + data
    return b"\x02" + len(body).to_bytes(2, "big") + body + b"\x03"

def tlv(tag, v):
    return bytes([tag, len(v)]) + v

def recv(s):
    buf = b""
    while len(buf) < 3 or len(buf) < 3 + int.from_bytes(buf[1:3], "big") + 1:
        c = s.recv(65536)
        if not c:
            raise SystemExit("connection closed after %d bytes" % len(buf))
        buf += c
    n = int.from_bytes(buf[1:3], "big")
    assert buf[0] == 2 and buf[3 + n] == 3, buf.hex()
    op, res, data = buf[3], int.from_bytes(buf[4:6], "big"), buf[6:3 + n]
    items, i = {}, 0
    while i < len(data):
        items.setdefault(data[i], data[i + 2:i + 2 + data[i + 1]])
        i += 2 + data[i + 1]
    return op, res, items

def show(op, res, it):
    out = "op=%02X res=%04X" % (op, res)
    for t, name in ((0x81, "ready"), (0x87, "tstate"), (0x88, "locks"), (0x89, "outcome")):
        if t in it:
            out += " %s=%d" % (name, it[t][0])
    if 0x86 in it:
        out += " serial=" + it[0x86].hex()
    if 0x8D in it:
        c = it[0x8D]
        out += " issued=%d failed=%d" % (int.from_bytes(c[0:4], "big"), int.from_bytes(c[4:8], "big"))
    print(out, flush=True)

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
cmd = sys.argv[2]
if cmd == "status":
    s.sendall(frame(0x01)); show(*recv(s))
elif cmd == "left":                  # blank cards the stacker holds, as status reports it
    s.sendall(frame(0x01)); print(int.from_bytes(recv(s)[2][0x85], "big"))
elif cmd == "startup-with-pin":      # a PIN in the data: must be refused
    s.sendall(frame(0x02, data=tlv(0x03, b"246810"))); show(*recv(s))
elif cmd == "issue-and-go":          # the job starts, the client is gone at once
    s.sendall(frame(0x10, data=tlv(0x01, b"standard"))); s.close()
elif cmd == "half-and-go":           # half a frame, then gone: no job
    f = frame(0x10, data=tlv(0x01, b"standard")); s.sendall(f[:len(f) // 2]); s.close()
elif cmd == "hold":                  # connected, served, then holding the station
    s.sendall(frame(0x01)); show(*recv(s)); sys.stdout.flush(); time.sleep(float(sys.argv[3]))
elif cmd == "issue":
    s.sendall(frame(0x10, data=tlv(0x01, b"standard"))); show(*recv(s))
elif cmd == "display":
    s.sendall(frame(0x30, data=tlv(0x03, sys.argv[3].encode()))); show(*recv(s))
elif cmd == "bad-op":
    s.sendall(frame(0x55)); show(*recv(s))
elif cmd == "shutdown":
    s.sendall(frame(0x7F)); show(*recv(s))
PYEOF

cat >"$T/relay.py" <<'PYEOF'
"""Relay LISTEN -> UPSTREAM; every connection's bytes into DIR/NNN.c2s and NNN.s2c."""
import os, selectors, socket, sys
listen, upstream, d = sys.argv[1:4]
sel = selectors.DefaultSelector()
ls = socket.socket(socket.AF_UNIX); ls.bind(listen); ls.listen(8)
sel.register(ls, selectors.EVENT_READ, None)
n = 0
while True:
    for key, _ in sel.select():
        if key.data is None:
            c, _ = ls.accept(); u = socket.socket(socket.AF_UNIX); u.connect(upstream)
            n += 1
            fc = open(os.path.join(d, "%03d.c2s" % n), "wb", buffering=0)
            fs = open(os.path.join(d, "%03d.s2c" % n), "wb", buffering=0)
            sel.register(c, selectors.EVENT_READ, (u, fc)); sel.register(u, selectors.EVENT_READ, (c, fs))
            continue
        src, (dst, log) = key.fileobj, key.data
        try:
            b = src.recv(65536)
        except OSError:
            b = b""
        if b:
            log.write(b)
            try:
                dst.sendall(b)
            except OSError:
                pass
        else:
            for x in (src, dst):
                try:
                    sel.unregister(x)
                except (KeyError, ValueError):
                    pass
                x.close()
PYEOF

# ---- the cards, the station, the relay -------------------------------------
vc_stack_make "$VC_TARGET_STACK" 11 || exit 1
vc_up >/dev/null || { echo "50-station: virtual cards did not start" >&2; exit 1; }

SOCK=$T/station.sock
CAPSOCK=$T/capture.sock
mkdir -p "$T/cap"
# The holder PIN from KEYCARD_HOLDER_PIN stands for the operator at the keypad.
KEYCARD_HOLDER_PIN=246810 "$B/bin/kc-station" --config "$STATION" --profiles examples/profiles \
    --socket "$SOCK" </dev/null >"$T/station.log" 2>&1 &
STATION_PID=$!
n=0
while [ ! -S "$SOCK" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ -S "$SOCK" ] || { echo "50-station: station did not start"; cat "$T/station.log"; exit 1; }
$PY "$T/relay.py" "$CAPSOCK" "$SOCK" "$T/cap" 2>"$T/relay.log" &
PROXY_PID=$!
n=0
while [ ! -S "$CAPSOCK" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
K="$PY $T/kcs.py $CAPSOCK"

# ---- format, PIN, start-up -------------------------------------------------
check "$($K status | sed 's/ serial=.*//')" "op=81 res=9000 ready=0 tstate=1 locks=0" \
    "status before start-up: not ready (frame as documented)"
check "$($K left)" 11 "status counts the blank cards in the stack before any eject"
# (straight to the station, not through the relay: the capture must hold no PIN)
check "$($PY "$T/kcs.py" "$SOCK" startup-with-pin)" "op=82 res=6A80" \
    "a start-up carrying a PIN is refused (6A80)"
check "$($K issue)" "op=90 res=6985" "issue before start-up refused (6985)"
check "$($K bad-op)" "op=D5 res=6D00" "unknown operation type answered 6D00"
check "$($K display 'shift 1 begins')" "op=B0 res=9000" "display message served"
grep -q 'message: shift 1 begins' "$T/station.log" && ok "message shown on the station's display" ||
    not_ok "message not on the station's display"

# ---- a client that goes away -----------------------------------------------
# Start-up through kc-issue's first connection is tested below; here a raw
# start-up: the station reads the PIN on its own console (env for automation).
$PY - "$CAPSOCK" <<'PYEOF' >"$T/startup.out"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"\x02\x00\x03\x02\x00\x00\x03")
print(s.recv(4096)[3:6].hex())
PYEOF
check "$(cat "$T/startup.out")" "829000" "start-up with the PIN typed at the station"

$K half-and-go
sleep 0.5
check "$($K status | sed 's/ serial=[0-9a-f]*//')" "op=81 res=9000 ready=1 tstate=1 locks=0 issued=0 failed=0" \
    "half an instruction, then gone: no job, card untouched, nothing counted"
$K issue-and-go
n=0
while ! grep -q 'client gone before the result' "$T/station.log" && [ $n -lt 100 ]; do
    sleep 0.1
    n=$((n + 1))
done
check "$($K status)" "op=81 res=9000 ready=1 tstate=3 locks=8 serial=5441524745540001 issued=1 failed=0" \
    "ISSUE then gone: the job ran to its end, card issued and locked, counted once"

# ---- two clients at once ---------------------------------------------------
$K hold 3 >"$T/hold.out" &
HOLD=$!
sleep 0.5
check "$($K status)" "op=80 res=6600" "a second client while one is connected is answered busy"
wait "$HOLD"
check "$(sed 's/ serial=.*//' "$T/hold.out")" "op=81 res=9000 ready=1 tstate=3 locks=8" \
    "the first client was served"

# ---- the batch -------------------------------------------------------------
before=$(ls "$T/cap" | wc -l)
"$B/bin/kc-issue" --station "$CAPSOCK" --profile standard --all --show >"$T/issue.out" 2>&1 &
ISSUE_PID=$!
n=0
while ! grep -q '^card .*ISSUED' "$T/issue.out" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
busy_out=$("$B/bin/kc-issue" --station "$CAPSOCK" --profile standard 2>&1)
busy_rc=$?
busy_raw=$($K issue)
wait "$ISSUE_PID"
issue_rc=$?
ISSUE_PID=
[ "$busy_rc" = 1 ] && echo "$busy_out" | grep -q busy && ok "kc-issue started during the batch: busy, exit 1" ||
    not_ok "kc-issue during the batch: rc $busy_rc: $busy_out"
check "$busy_raw" "op=80 res=6600" "a raw ISSUE during the batch: busy, no card touched"
check "$issue_rc" 0 "kc-issue --station --all exits 0"
check "$(grep -c '^card [0-9a-f]*: ISSUED issued: 31 steps in 3 envelopes, completion MAC verified' "$T/issue.out")" 10 \
    "ten cards issued and locked (completion MAC verified by the key card)"
check "$(grep -c '^card 5441524745540001: SKIPPED already issued' "$T/issue.out")" 1 \
    "the card issued before is recognised and skipped"
check "$(grep '^summary' "$T/issue.out" | sed 's/, [0-9]* cards\/h//')" "summary: 11 cards, 10 issued, 0 failed, 1 skipped (already issued)" \
    "summary"
check "$(grep -c '^summary: .*, [0-9]* cards/h' "$T/issue.out")" 1 "the summary gives the cards per hour"
serials=$(sed -n 's/^card \([0-9a-f]*\): ISSUED.*/\1/p' "$T/issue.out" | tr '\n' ' ')
check "$serials" "5441524745540002 5441524745540003 5441524745540004 5441524745540005 5441524745540006 5441524745540007 5441524745540008 5441524745540009 544152474554000a 544152474554000b " \
    "each card once, in stack order: none mixed up"
# Read back with operational commands (station READ BACK: GET DATA DF11,
# SELECT, READ BINARY / READ RECORD), one tree per card.
for want in 'tree of card' '= "Taro Yamada, member 0001"' '= "YAMADA/TARO MR, FF 7788"' \
    '= "Taro Yamada, gold plan"' '#1 = "ISSUE 2026-01-01"'; do
    got=$(grep -cF -- "$want" "$T/issue.out")
    case $want in '#1'*) exp=30 ;; *) exp=10 ;; esac
    check "$got" "$exp" "read back: '$want' on every card"
done
check "$(ls "$VC_TARGET_STACK/issued" | wc -l)" 11 "all eleven cards ejected to the issued tray"
check "$(grep -c 'ISSUED' "$T/station.log")" 11 "the station's display lists eleven issued cards"
# The station's state for a person and for a script (kc-issue --station --status).
"$B/bin/kc-issue" --station "$SOCK" --status >"$T/status.txt" 2>&1
check "$(sed -n 's/^this shift: //p' "$T/status.txt")" "11 issued, 0 failed, 1 skipped" \
    "kc-issue --station --status: this shift's counts"
"$B/bin/kc-issue" --station "$SOCK" --status --json >"$T/status.json" 2>&1
check "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ready"], d["shift"], d["operator"] is not None)' "$T/status.json" 2>&1)" \
    "True {'issued': 11, 'failed': 0, 'skipped': 1} True" "kc-issue --station --status --json parses"

# ---- the capture -----------------------------------------------------------
/usr/bin/python3 tests/pcscd/inner_cmds.py --templates examples/profiles/demo.json \
    --profile examples/profiles/standard.json >"$T/inner.txt" || not_ok "inner_cmds.py failed"
cat >"$T/scan.py" <<'PYEOF'
import glob, json, re, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
cap_dir, log, inner, prof, plant = sys.argv[1:6]
caps = {f: open(f, "rb").read() for f in sorted(glob.glob(cap_dir + "/*.c2s") + glob.glob(cap_dir + "/*.s2c"))}
if plant != "-":
    caps["planted.c2s"] = bytes.fromhex(plant)
# Only frames: every stream parses as STX LEN body ETX to its end.
bad = 0
for f, b in caps.items():
    i = 0
    while i < len(b):
        if b[i] != 2 or i + 3 > len(b):
            break
        n = int.from_bytes(b[i + 1:i + 3], "big")
        if i + 3 + n >= len(b) or b[i + 3 + n] != 3:
            break
        i += 4 + n
    if i != len(b) and not f.endswith(".c2s"):
        bad += 1; print("not frames:", f)
needles = []
env = [bytes.fromhex(m.group(1).replace(" ", "")) for m in
       (re.search(r"APDU: (84 C2 (?:[0-9A-F]{2} ?)*)", l) for l in open(log, errors="replace")) if m]
for e in env:
    needles.append(("envelope", e))
    needles.append(("envelope body (16 bytes)", e[8:24]))
for l in open(inner):
    hdr, _, data = l.strip().partition(" ")
    h, d = bytes.fromhex(hdr), bytes.fromhex(data)
    needles.append(("inner command", h + bytes([len(d)]) + d if d else h))
    needles.append(("inner header + data", h + d[:8]))
p = json.load(open(prof))
for k in ("issuer_pin", "holder_pin"):
    v = p[k]["value"] if isinstance(p[k], dict) else p[k]
    needles.append((k + " (ASCII)", v.encode()))
    needles.append((k + " (BCD)", bytes.fromhex(v if len(v) % 2 == 0 else v + "F")))
for k in p["keys"]:
    key = bytes.fromhex(k["value"]["hex"])
    kcv = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(b"\x01" * 16)[:3]
    needles.append(("key %d" % k["number"], key))
    needles.append(("KCV of key %d" % k["number"], kcv))
    needles.append(("KCV of key %d (hex text)" % k["number"], kcv.hex().encode()))
    needles.append(("KCV of key %d (HEX text)" % k["number"], kcv.hex().upper().encode()))
found = 0
for what, n in needles:
    for f, b in caps.items():
        if n and n in b:
            found += 1; print("found %s in %s" % (what, f))
print("searched %d capture streams (%d bytes) for %d needles (%d envelopes); found %d; not frames %d"
      % (len(caps), sum(map(len, caps.values())), len(needles), len(env), found, bad))
sys.exit(1 if found or bad or not env else 0)
PYEOF
if $PY "$T/scan.py" "$T/cap" "$VC_DIR/pcscd.log" "$T/inner.txt" examples/profiles/demo.json - \
    >"$T/scan.out" 2>&1; then
    ok "capture of the PC line: $(tail -n 1 "$T/scan.out")"
else
    not_ok "capture of the PC line: $(cat "$T/scan.out")"
fi
env1=$(grep -m1 -o 'APDU: 84 C2 [0-9A-F ]*' "$VC_DIR/pcscd.log" | sed 's/APDU: //; s/ //g' | head -n 1)
$PY "$T/scan.py" "$T/cap" "$VC_DIR/pcscd.log" "$T/inner.txt" examples/profiles/demo.json \
    "${env1:-00}" >"$T/plant.out" 2>&1
if grep -q '^found envelope in planted' "$T/plant.out"; then
    ok "the search finds an envelope planted in the capture"
else
    not_ok "the search does not find an envelope planted in the capture: $(cat "$T/plant.out")"
fi

# ---- the key card restarted under the station -------------------------------
# Reserved at start-up: another program is told at once that it is busy.
if "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" info >"$T/info.out" 2>&1; then
    not_ok "kc-admin info while the station holds the key card ran: the station did not reserve it"
elif grep -q "reserved by another program" "$T/info.out"; then
    ok "kc-admin info while the station holds the key card is told it is reserved"
else
    not_ok "kc-admin info while the station holds the key card: $(cat "$T/info.out")"
fi
# The key card power-cycled between two cards: the next ISSUE fails on it,
# nothing reaches the target, the station asks for a start-up; the start-up
# opens a new session and the card is issued.
vc_card_stop keycard
vc_card_start keycard 0 "$VC_STATE" && vc_wait_card "$VC_KEYCARD_READER" 10
vc_target_make "$VC_TARGET_STACK/012.card" 544152474554000C && vc_wait_card "$VC_TARGET_READER" 10
check "$($K issue | sed 's/ serial=.*//')" "op=90 res=6300 tstate=1 locks=0 outcome=3" \
    "ISSUE after a key card power cycle: not issued, the target untouched (the key card's session is gone)"
check "$($K status | sed 's/ tstate.*//')" "op=81 res=9000 ready=0" \
    "the station asks for a start-up again"
check "$($K issue)" "op=90 res=6985" "an ISSUE before it is refused"
$PY - "$CAPSOCK" <<'PYEOF' >"$T/startup2.out"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"\x02\x00\x03\x02\x00\x00\x03")
print(s.recv(4096)[3:6].hex())
PYEOF
check "$(cat "$T/startup2.out")" "829000" "start-up again: a new key card session"
check "$($K issue)" "op=90 res=9000 tstate=3 locks=8 outcome=0 serial=544152474554000c issued=12 failed=1" \
    "the card is issued with the new session (untouched by the failed try)"

# ---- shut-down --------------------------------------------------------------
check "$($K shutdown)" "op=FF res=9000 issued=12 failed=1" "shut-down instruction answered"
n=0
while kill -0 "$STATION_PID" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if ! kill -0 "$STATION_PID" 2>/dev/null; then
    wait "$STATION_PID"
    check "$?" 0 "station stopped with exit 0"
    STATION_PID=
else
    not_ok "station still running after shut-down"
fi
[ ! -e "$SOCK" ] && ok "station socket removed" || not_ok "station socket left behind"

if [ "$st_fails" -ne 0 ]; then
    echo "--- station log"; cat "$T/station.log"; echo "--- kc-issue"; cat "$T/issue.out"
fi
echo "1..$st_n"
[ "$st_fails" -eq 0 ]
