#!/bin/sh
# 51-station-hostile.sh - a hostile client on kc-station's socket (issue 10,
# finding 7) and the station's own hygiene while it holds the PINs:
#   - ISSUE records whose fields are full of '"' (each one doubles when the
#     station quotes the record for the CSV parser), in values, in names, in
#     both, one quote past the limit, and a hundred of them in a row: each
#     refused 6A80 with a message, the station alive and serving after every
#     one (the old station died on the first: signal 11);
#   - a record that fills the limit exactly once quoted is taken;
#   - malformed field lengths (empty item, name length 0, name longer than
#     the item, an item running past the data) refused 6A80;
#   - a record of fields at the largest size a frame carries, without
#     quotes: accepted as data (then 6A83: the target slot is empty);
#   - a frame longer than the protocol allows: 6700 and the client dropped,
#     the station still serving the next client;
#   - the started-up station has core files off (RLIMIT_CORE 0) and no
#     KEYCARD_HOLDER_PIN left in its environment.
#
# Run from the top of the tree: B=build sh tests/integration/51-station-hostile.sh

set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

for t in kc-admin kc-vcard kc-station; do
    [ -x "$B/bin/$t" ] || { echo "51-station-hostile: $B/bin/$t not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-51-hostile.XXXXXX") || exit 1
st_fails=0
st_n=0
ok() { st_n=$((st_n + 1)); echo "ok $st_n - $1"; }
not_ok() { st_n=$((st_n + 1)); st_fails=$((st_fails + 1)); echo "not ok $st_n - $1"; }
check() { if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3 (want [$2], got [$1])"; fi; }
STATION_PID=
finish() {
    if [ -n "$STATION_PID" ]; then
        kill -TERM "$STATION_PID" 2>/dev/null
        n=0
        while kill -0 "$STATION_PID" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
        kill -KILL "$STATION_PID" 2>/dev/null
        wait "$STATION_PID" 2>/dev/null
    fi
    vc_down
    rm -rf "$T"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PY=/usr/bin/python3
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
KC_VCARDS_TARGET=0 # the target slot stays empty: no card is ever issued here
export KC_VCARDS_TARGET
mkdir -p "$VC_DIR"
vc_up >/dev/null || { echo "51-station-hostile: virtual cards did not start" >&2; exit 1; }

SOCK=$T/station.sock
KEYCARD_HOLDER_PIN=246810 "$B/bin/kc-station" --config examples/profiles/demo-station.json \
    --profiles examples/profiles --socket "$SOCK" </dev/null >"$T/station.log" 2>&1 &
STATION_PID=$!
n=0
while [ ! -S "$SOCK" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ -S "$SOCK" ] || { echo "51-station-hostile: station did not start"; cat "$T/station.log"; exit 1; }

cat >"$T/hostile.py" <<'PYEOF'
"""A hostile station client, written from docs/station.md."""
import socket, sys

def frame(op, p1=0, p2=0, data=b""):
    body = bytes([op, p1, p2]) + data
    return b"\x02" + len(body).to_bytes(2, "big") + body + b"\x03"

def tlv(tag, v):
    assert len(v) < 256
    return bytes([tag, len(v)]) + v

def field(name, value):
    return tlv(0x02, bytes([len(name)]) + name + value)

def recv(s):
    buf = b""
    while len(buf) < 3 or len(buf) < 3 + int.from_bytes(buf[1:3], "big") + 1:
        c = s.recv(65536)
        if not c:
            return None
        buf += c
    n = int.from_bytes(buf[1:3], "big")
    op, res, data = buf[3], int.from_bytes(buf[4:6], "big"), buf[6:3 + n]
    items, i = {}, 0
    while i + 2 <= len(data):
        items.setdefault(data[i], data[i + 2:i + 2 + data[i + 1]])
        i += 2 + data[i + 1]
    return op, res, items

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    return s

def ask(s, f):
    s.sendall(f)
    r = recv(s)
    if r is None:
        return "closed"
    op, res, it = r
    msg = it.get(0x8F, b"").decode(errors="replace")
    return "%02X %04X%s" % (op, res, (" " + msg) if msg else "")

PROFILE = tlv(0x01, b"standard")
Q = b'"'
records = {
    # 31 fields, 250 quotes in each value: 7.9 KiB of data, 15.6 KiB once quoted.
    "quotes-in-values": b"".join(field(b"f%02d" % i, Q * 250) for i in range(31)),
    "quotes-in-names": b"".join(field(Q * 250, b"") for i in range(31)),
    "quotes-in-both": b"".join(field(Q * 60, Q * 193) for i in range(31)),
    # 16 fields of 250 quotes are 8047 bytes quoted; a 17th of 104 quotes
    # makes the row 8258, two past the limit (KCS_RECORD_LINE_MAX, 8256) ...
    "quotes-one-past-limit": b"".join(field(b"f%02d" % i, Q * 250) for i in range(16))
                             + field(b"q", Q * 104),
    # ... and one of 103 quotes exactly fills it: a record still taken.
    "quotes-at-limit": b"".join(field(b"f%02d" % i, Q * 250) for i in range(16))
                       + field(b"q", Q * 103),
    "empty-item": tlv(0x02, b""),
    "name-length-0": tlv(0x02, b"\x00value"),
    "name-past-item": tlv(0x02, b"\x09abc"),
    "item-past-data": b"\x02\xff\x03abc",
}
cmd = sys.argv[2]
if cmd == "record":
    s = connect()
    print(ask(s, frame(0x10, data=PROFILE + records[sys.argv[3]])))
elif cmd == "flood":                  # N hostile records on one connection
    s = connect()
    names = [k for k in records if k.startswith("quotes-in")]
    seen = {}
    for i in range(int(sys.argv[3])):
        a = ask(s, frame(0x10, data=PROFILE + records[names[i % len(names)]]))
        key = a[:7]
        seen[key] = seen.get(key, 0) + 1
    print(" ".join("%s x%d" % (k, v) for k, v in sorted(seen.items())))
elif cmd == "max-plain":              # the largest record a frame carries, no quotes
    data = PROFILE + b"".join(field(b"f%02d" % i, b"v" * 250) for i in range(31))
    assert len(data) <= 8192, len(data)
    s = connect()
    print(ask(s, frame(0x10, data=data)))
elif cmd == "long-frame":             # LEN past the protocol's maximum
    s = connect()
    s.sendall(b"\x02\xff\xff\x10\x00\x00" + b"\x00" * 100)
    r = recv(s)
    print("%02X %04X" % r[:2] if r else "closed")
elif cmd == "startup":
    s = connect()
    print(ask(s, frame(0x02)))
elif cmd == "status":
    s = connect()
    print(ask(s, frame(0x01))[:7])
PYEOF
H="$PY $T/hostile.py $SOCK"

check "$($H startup)" "82 9000" "station started up (holder PIN from its environment)"

# ---- the station's own hygiene ------------------------------------------------
# (PR_SET_DUMPABLE 0 itself is checked in tests/unit/test_tools_common.c:
# /proc shows it only as file ownership, which root cannot tell apart.)
check "$(awk '/^Max core file size/ { print $5 "/" $6 }' "/proc/$STATION_PID/limits")" 0/0 \
    "kc-station writes no core file (RLIMIT_CORE 0/0)"
if [ -r "/proc/$STATION_PID/environ" ] && tr '\0' '\n' <"/proc/$STATION_PID/environ" |
    grep -q '246810'; then
    not_ok "the holder PIN is still in the station's environment"
else
    ok "the holder PIN is gone from the station's environment (/proc/PID/environ)"
fi

alive() { kill -0 "$STATION_PID" 2>/dev/null && [ "$($H status)" = "81 9000" ]; }

# ---- hostile records ----------------------------------------------------------
for r in quotes-in-values quotes-in-names quotes-in-both quotes-one-past-limit; do
    got=$($H record "$r" 2>&1)
    case $got in
    "90 6A80 record too long"*) ok "$r: refused 6A80: ${got#90 6A80 }" ;;
    *) not_ok "$r: want 90 6A80 record too long..., got [$got]" ;;
    esac
    alive && ok "$r: the station is alive and serving" ||
        { not_ok "$r: the station died"; tail -n 5 "$T/station.log"; exit 1; }
done
for r in empty-item name-length-0 name-past-item item-past-data; do
    got=$($H record "$r" 2>&1)
    case $got in
    "90 6A80 "*malformed*) ok "$r: refused 6A80: ${got#90 6A80 }" ;;
    *) not_ok "$r: want 90 6A80 ...malformed, got [$got]" ;;
    esac
    alive && ok "$r: the station is alive and serving" ||
        { not_ok "$r: the station died"; exit 1; }
done
check "$($H flood 100 2>&1)" "90 6A80 x100" "100 hostile records on one connection: 100 refusals"
alive && ok "the station is alive after the flood" || not_ok "the station died in the flood"
got=$($H record quotes-at-limit 2>&1)
case $got in
"90 6A83 "*) ok "a record exactly at the limit once quoted: accepted as data (then: ${got#90 6A83 })" ;;
*) not_ok "record at the limit: want 90 6A83 (no card), got [$got]" ;;
esac
got=$($H max-plain 2>&1)
case $got in
"90 6A83 "*) ok "31 fields of 254 bytes without quotes: accepted as data (then: ${got#90 6A83 })" ;;
*) not_ok "largest plain record: want 90 6A83 (no card), got [$got]" ;;
esac
check "$($H long-frame 2>&1)" "80 6700" "a frame longer than the protocol allows: 6700"
alive && ok "the station serves the next client after a dropped one" ||
    not_ok "the station died after the long frame"
check "$(grep -c 'ISSUED\|WRITTEN' "$T/station.log")" 0 "no card touched"

if [ "$st_fails" -ne 0 ]; then
    echo "--- station log"; tail -n 30 "$T/station.log"
fi
echo "1..$st_n"
[ "$st_fails" -eq 0 ]
