#!/bin/sh
# 12-vcard-link.sh - kc-vcard's vpcd link against a scripted stand-in for
# the vpcd driver (no pcscd): controls, APDUs split into single bytes and
# joined in one write, an oversize message skipped with 6700, quiet
# retrying while nobody listens, reconnection, round-trip time (TCP_NODELAY
# and TCP_QUICKACK), SIGTERM, a locked state file, --listen (kc-vcard listens
# on loopback only for a vpcd that connects out), and usage errors.
set -u
B=${B:-build}
[ -x "$B/bin/kc-vcard" ] || { echo "FAIL: $B/bin/kc-vcard not built" >&2; exit 1; }
mkdir -p "$B/integration"
exec /usr/bin/python3 - "$B" <<'PYEOF'
import os, signal, socket, struct, subprocess, sys, time

B = sys.argv[1]
VCARD = os.path.join(B, "bin", "kc-vcard")
STATE = os.path.join(B, "integration", "12-vcard-link.state")
LOG = os.path.join(B, "integration", "12-vcard-link.kc-vcard.log")
SELECT = bytes.fromhex("00A4040C0AF04B4559434152440001")
GET_STATUS = bytes.fromhex("00CADF0300")
fails = 0
procs = []


def check(cond, what):
    global fails
    print(("ok: " if cond else "FAIL: ") + what, file=sys.stdout if cond else sys.stderr)
    if not cond:
        fails += 1


def frame(b):
    return struct.pack(">H", len(b)) + b


def recv_exact(c, n):
    out = b""
    while len(out) < n:
        chunk = c.recv(n - len(out))
        if not chunk:
            raise EOFError("kc-vcard closed the connection")
        out += chunk
    return out


def recv_msg(c):
    (n,) = struct.unpack(">H", recv_exact(c, 2))
    return recv_exact(c, n)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    s.settimeout(5)
    return s


def start(port, log):
    p = subprocess.Popen([VCARD, "--card", "keycard", "--state", STATE, "--port", str(port)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    procs.append(p)
    return p


def run(args):
    r = subprocess.run([VCARD] + args, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


try:
    for f in (STATE, LOG):
        if os.path.exists(f):
            os.remove(f)
    log = open(LOG, "w")
    port = free_port()

    # Nobody listens yet: kc-vcard waits, quietly.
    p = start(port, log)
    time.sleep(1.2)
    check(p.poll() is None, "kc-vcard keeps running while nobody listens")
    srv = listen(port)
    c, _ = srv.accept()
    c.settimeout(5)
    with open(LOG) as f:
        waiting = [l for l in f if "waiting" in l]
    check(len(waiting) == 1, "one log line while retrying for 1.2 s (got %d)" % len(waiting))
    mode = os.stat(STATE).st_mode & 0o777
    check(mode == 0o600, "the state file is created 0600 (%o)" % mode)

    # Controls and APDUs.
    c.sendall(frame(b"\x04"))
    atr = recv_msg(c)
    check(len(atr) >= 2 and atr[0] in (0x3B, 0x3F), "get ATR answered with an ATR: " + atr.hex())
    c.sendall(frame(b"\x01"))  # power on: no answer
    c.sendall(frame(SELECT))
    check(recv_msg(c) == b"\x90\x00", "SELECT answers 9000")
    whole = frame(GET_STATUS)
    for i in range(len(whole)):  # one byte per segment
        c.sendall(whole[i:i + 1])
        time.sleep(0.005)
    r = recv_msg(c)
    check(r[:2] == b"\xC1\x08" and r[-2:] == b"\x90\x00", "APDU split into single bytes answered")
    c.sendall(frame(b"\x04") + frame(GET_STATUS) + frame(b"\x02") + frame(SELECT))
    a1, a2, a3 = recv_msg(c), recv_msg(c), recv_msg(c)
    check(a1 == atr and a2 == r and a3 == b"\x90\x00",
          "three messages in one write answered in order (reset takes no answer)")
    c.sendall(b"\x00\x00" + frame(SELECT))
    check(recv_msg(c) == b"\x90\x00", "an empty message is skipped")
    c.sendall(frame(b"\x00" * 5000))
    check(recv_msg(c) == b"\x67\x00", "a 5000-byte message is answered 6700")
    c.sendall(frame(GET_STATUS))
    check(recv_msg(c) == r, "and the link stays in step after it")

    # Round trips: without TCP_NODELAY/TCP_QUICKACK each would cost ~40 ms.
    n = 200
    t0 = time.monotonic()
    for _ in range(n):
        c.sendall(frame(GET_STATUS))
        recv_msg(c)
    ms = (time.monotonic() - t0) * 1000 / n
    check(ms < 5, "mean APDU round trip %.3f ms (< 5 ms)" % ms)

    # The reader goes away and comes back: kc-vcard reconnects.
    c.close()
    c, _ = srv.accept()
    c.settimeout(5)
    c.sendall(frame(b"\x01") + frame(SELECT) + frame(GET_STATUS))
    ok = recv_msg(c) == b"\x90\x00" and recv_msg(c) == r
    check(ok, "reconnected after the reader closed the link; same card")

    # A second kc-vcard cannot take the same state file.
    rc, err = run(["--card", "keycard", "--state", STATE, "--port", str(port)])
    check(rc == 1 and err != "", "a second kc-vcard on the same state file exits 1: " + err)

    # SIGTERM: exit 0.
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "SIGTERM: exit status %s" % rc)
    c.close()
    srv.close()

    # --listen: the other direction (vpcd connects out, DEVICENAME 127.0.0.1:PORT):
    # kc-vcard listens on loopback only, serves one vpcd at a time, and waits
    # for it again when it goes.
    lport = free_port()
    open(STATE + ".listen", "w").close()
    os.chmod(STATE + ".listen", 0o644)  # an image open to other users ...
    lp = subprocess.Popen([VCARD, "--card", "keycard", "--state", STATE + ".listen",
                           "--port", str(lport), "--listen"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    procs.append(lp)
    lc = None
    for _ in range(50):
        try:
            lc = socket.create_connection(("127.0.0.1", lport), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    check(lc is not None, "--listen: vpcd's connection to 127.0.0.1:%d accepted" % lport)
    if lc is not None:
        lc.sendall(frame(b"\x04") + frame(b"\x01") + frame(SELECT))
        check(recv_msg(lc) == atr and recv_msg(lc) == b"\x90\x00", "--listen: ATR and SELECT answered")
        lc.close()
        lc = socket.create_connection(("127.0.0.1", lport), timeout=5)
        lc.sendall(frame(SELECT))
        check(recv_msg(lc) == b"\x90\x00", "--listen: vpcd gone and back: served again")
        lc.close()
    mode = os.stat(STATE + ".listen").st_mode & 0o777
    check(mode == 0o600, "a state file open to other users is made 0600 (now %o)" % mode)
    ss = subprocess.run(["ss", "-ltnH", "sport = :%d" % lport], capture_output=True, text=True).stdout
    locs = sorted(set(l.split()[3] for l in ss.splitlines() if l.strip()))
    check(locs == ["127.0.0.1:%d" % lport], "--listen: bound to loopback only: %s" % locs)
    addrs = [a for a in subprocess.run(["hostname", "-I"], capture_output=True,
                                       text=True).stdout.split() if "." in a and not a.startswith("127.")]
    if addrs:
        try:
            socket.create_connection((addrs[0], lport), timeout=3).close()
            refused = False
        except OSError:
            refused = True
        check(refused, "--listen: a connection through %s is refused" % addrs[0])
    lp.send_signal(signal.SIGTERM)
    try:
        rc = lp.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "--listen: SIGTERM: exit status %s" % rc)
    if os.path.exists(STATE + ".listen"):
        os.remove(STATE + ".listen")

    # Usage errors: exit 2 and one line.
    for args, want in (([], "--card is required"),
                       (["--card", "target", "--state", STATE], "this card needs 65536"),
                       (["--card", "nosuch", "--state", STATE], "unknown card"),
                       (["--card", "keycard"], "is required"),
                       (["--card", "keycard", "--state", STATE, "--port", "70000"], "--port"),
                       (["--card", "keycard", "--state", STATE, "--reader-slot", "2"], "--reader-slot"),
                       (["--card", "keycard", "--state", STATE, "--frobnicate"], "unknown option"),
                       (["--card", "keycard", "--state", STATE, "--listen", "--host", "h"], "not both")):
        rc, err = run(args)
        check(rc == 2 and want in err and "\n" not in err,
              "kc-vcard %s: exit %d, '%s'" % (" ".join(args), rc, err))
    rc, out = subprocess.run([VCARD, "--help"], capture_output=True, text=True).returncode, ""
    check(rc == 0, "--help exits 0")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()

if fails:
    print("%d check(s) failed" % fails, file=sys.stderr)
    sys.exit(1)
print("all checks passed")
PYEOF
