#!/bin/sh
# demo-station.sh - `make demo-station`: the reader/writer station of the
# patent's figures 28 to 32. pcscd with the virtual key card (slot 0) and a
# stacker of five blank target cards (slot 1); kc-station owns both slots and
# listens on a UNIX socket; kc-issue --station sends operation instructions
# (start-up, issue with the named profile "standard", read back, eject) and
# prints the results. A relay in between records the PC line; at the end the
# record is searched for the envelopes pcscd saw on the card line, for the
# PINs and for the key check values: none is there. Everything started is
# stopped at the end.
#
# Run from the top of the tree. B is the build dir (default build). The
# operator's holder PIN stands in KEYCARD_HOLDER_PIN (the demo PIN 246810),
# as automation would give it; a real station reads it on its own keypad.

set -u
B=${B:-build}
[ -f tests/vcards.sh ] || { echo "demo-station: run from the top of the source tree" >&2; exit 2; }
for t in kc-admin kc-vcard kc-issue kc-station; do
    [ -x "$B/bin/$t" ] || { echo "demo-station: $B/bin/$t not built (run make)" >&2; exit 2; }
done

KC_VCARD_STATE=$B/demo-station/keycard.state
KC_TARGET_STACK=$B/demo-station/stack
KC_PCSCD_APDU_LOG=1
export KC_VCARD_STATE KC_TARGET_STACK KC_PCSCD_APDU_LOG
. tests/vcards.sh
vc_lock "$0" "$@"

D=$B/demo-station
mkdir -p "$D" "$VC_DIR"
rm -f "$VC_STATE" "$VC_STATE.provisioned" "$VC_DIR/pcscd.log"
rm -rf "$KC_TARGET_STACK" "$D/cap"
mkdir -p "$D/cap"
SOCK=$D/station.sock
CAPSOCK=$D/pc-line.sock
STATION_PID= RELAY_PID=

stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    n=0
    while kill -0 "$1" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
finish() {
    rc=$?
    trap - EXIT INT TERM HUP
    stop_pid "$RELAY_PID"
    stop_pid "$STATION_PID"
    pids=""
    for f in "$VC_DIR/pcscd.pid" "$VC_DIR/kc-vcard-keycard.pid" "$VC_DIR/kc-vcard-target.pid"; do
        [ -f "$f" ] && pids="$pids $(cat "$f")"
    done
    vc_down
    for p in $pids $STATION_PID $RELAY_PID; do
        vc_alive "$p" && { echo "demo-station: process $p still running" >&2; rc=1; }
    done
    rm -f "$SOCK" "$CAPSOCK"
    [ "$rc" = 0 ] && echo "== stopped the station, pcscd and the virtual cards; nothing left running"
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

step() { printf '\n== %s\n' "$*"; }

step "a stack of five blank target cards; the virtual key card; pcscd"
vc_stack_make "$KC_TARGET_STACK" 5 || exit 1
vc_up || exit 1

step "kc-station: owns both slots, listens on $SOCK (its display: $D/station.log)"
KEYCARD_HOLDER_PIN=246810 "$B/bin/kc-station" --config examples/profiles/demo-station.json \
    --profiles examples/profiles --socket "$SOCK" </dev/null >"$D/station.log" 2>&1 &
STATION_PID=$!
n=0
while [ ! -S "$SOCK" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ -S "$SOCK" ] || { cat "$D/station.log"; exit 1; }
# The PC line, recorded: every byte each way, per connection.
/usr/bin/python3 - "$CAPSOCK" "$SOCK" "$D/cap" <<'PYEOF' &
import os, selectors, socket, sys
listen, upstream, d = sys.argv[1:4]
sel = selectors.DefaultSelector()
ls = socket.socket(socket.AF_UNIX); ls.bind(listen); ls.listen(8)
sel.register(ls, selectors.EVENT_READ, None)
n = 0
while True:
    for key, _ in sel.select():
        if key.data is None:
            c, _ = ls.accept(); u = socket.socket(socket.AF_UNIX); u.connect(upstream); n += 1
            sel.register(c, selectors.EVENT_READ, (u, open(os.path.join(d, "%03d.pc" % n), "wb", buffering=0)))
            sel.register(u, selectors.EVENT_READ, (c, open(os.path.join(d, "%03d.station" % n), "wb", buffering=0)))
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
RELAY_PID=$!
n=0
while [ ! -S "$CAPSOCK" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done

step "kc-issue --station: the whole stack through operation instructions"
"$B/bin/kc-issue" --station "$CAPSOCK" --profile standard --all --show || exit 1

step "the station's display"
cat "$D/station.log"

step "the PC line: only instructions and results"
/usr/bin/python3 - "$D/cap" "$VC_DIR/pcscd.log" examples/profiles/demo.json <<'PYEOF' || exit 1
import glob, json, re, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
d, log, prof = sys.argv[1:4]
ops = {0x01: "status", 0x02: "start-up", 0x10: "issue", 0x11: "read back", 0x20: "eject",
       0x30: "display", 0x7F: "shut down"}
data = b""
for f in sorted(glob.glob(d + "/*")):
    b = open(f, "rb").read(); data += b; i = 0
    while i < len(b):
        n = int.from_bytes(b[i + 1:i + 3], "big")
        op = b[i + 3]
        if f.endswith(".pc"):
            print("  PC -> station: %s  (%s)" % (b[i:i + 4 + n].hex(" ")[:60] + (" ..." if n > 16 else ""),
                                             ops.get(op, "?")))
        i += 4 + n
    if f.endswith("001.pc"):
        print("  ... (only the first connection shown)")
        break
data = b"".join(open(f, "rb").read() for f in glob.glob(d + "/*"))
env = [bytes.fromhex(m.group(1).replace(" ", "")) for m in
       (re.search(r"APDU: (84 C2 (?:[0-9A-F]{2} ?)*)", l) for l in open(log, errors="replace")) if m]
p = json.load(open(prof))
needles = [("envelope", e) for e in env]
for k in ("issuer_pin", "holder_pin"):
    needles.append((k, (p[k]["value"] if isinstance(p[k], dict) else p[k]).encode()))
for k in p["keys"]:
    key = bytes.fromhex(k["value"]["hex"])
    needles.append(("key %d" % k["number"], key))
    needles.append(("KCV %d" % k["number"], Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(b"\x01" * 16)[:3]))
found = [w for w, n in needles if n in data]
print("PC line: %d bytes; searched for %d envelopes seen on the card line, both PINs, %d keys and "
      "their KCVs: %s" % (len(data), len(env), len(p["keys"]), "FOUND " + ", ".join(found) if found else "none there"))
sys.exit(1 if found or not env else 0)
PYEOF

step "shut down the station by instruction"
/usr/bin/python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(bytes.fromhex("0200037F000003"))
print("result:", s.recv(4096).hex(" "))' "$SOCK"
n=0
while kill -0 "$STATION_PID" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
wait "$STATION_PID" 2>/dev/null
STATION_PID=
tail -n 2 "$D/station.log"
step "demo finished"
exit 0
