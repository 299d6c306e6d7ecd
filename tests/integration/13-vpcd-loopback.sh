#!/bin/sh
# 13-vpcd-loopback.sh - the virtual cards' link stays on this machine (issue
# 10, finding 8): after vc_up (what `make vcards-up` starts),
#   - no listening TCP socket of the started pcscd or kc-vcard processes, and
#     none on the vpcd ports, is bound to an address other than loopback
#     (`ss -ltnp`): vpcd (in pcscd, with tests/pcscd/vpcd_loopback.c
#     preloaded) listens on 127.0.0.1 for both slots (before: on 0.0.0.0);
#   - a connection to the vpcd ports through one of the machine's other
#     addresses is refused: no host on the network can attach as a card;
#   - kc-vcard, which holds the cards' secrets, writes no core file.
#
# Run from the top of the tree: B=build sh tests/integration/13-vpcd-loopback.sh

set -u
B=${B:-build}
. tests/vcards.sh
vc_lock "$0" "$@"

command -v ss >/dev/null || { echo "13-vpcd-loopback: ss (iproute2) missing" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-13-loopback.XXXXXX") || exit 1
lb_fails=0
lb_n=0
ok() { lb_n=$((lb_n + 1)); echo "ok $lb_n - $1"; }
not_ok() { lb_n=$((lb_n + 1)); lb_fails=$((lb_fails + 1)); echo "not ok $lb_n - $1"; }
trap 'vc_down; rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
VC_TARGET_STATE=$T/target.state
mkdir -p "$VC_DIR"
vc_up >/dev/null || { echo "13-vpcd-loopback: virtual cards did not start" >&2; exit 1; }
ok "both virtual cards are present in their readers"

pids=$(cat "$VC_DIR/pcscd.pid" "$VC_DIR/kc-vcard-keycard.pid" "$VC_DIR/kc-vcard-target.pid")
P0=$VC_PORT
P1=$((VC_PORT + 1))
ss -ltnpH >"$T/ss" 2>&1 || { echo "13-vpcd-loopback: ss failed: $(cat "$T/ss")" >&2; exit 1; }
# Our processes' listeners, and every listener on the vpcd ports.
: >"$T/ours"
for p in $pids; do
    grep -E "pid=$p," "$T/ss" >>"$T/ours"
done
awk -v a=":$P0" -v b=":$P1" '{ l = $4; if (substr(l, length(l) - length(a) + 1) == a ||
    substr(l, length(l) - length(b) + 1) == b) print }' "$T/ss" >>"$T/ours"
sort -u "$T/ours" -o "$T/ours"
sed 's/^/#   /' "$T/ours"
wide=$(awk '{ print $4 }' "$T/ours" | grep -vE '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$')
[ -z "$wide" ] && ok "no listener of pcscd or kc-vcard, none on ports $P0/$P1, beyond loopback" ||
    not_ok "listening beyond loopback: $(echo $wide)"
for port in $P0 $P1; do
    if grep -E "127\.0\.0\.1:$port .*pcscd" "$T/ours" >/dev/null; then
        ok "vpcd (pcscd) listens for its card on 127.0.0.1:$port"
    else
        not_ok "no pcscd listener on 127.0.0.1:$port"
    fi
done

# The attack itself: attach as a card through an address the network reaches.
addr=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' |
    grep -v '^127\.' | head -n 1)
if [ -n "$addr" ]; then
    got=$(/usr/bin/python3 - "$addr" "$P0" "$P1" <<'PYEOF'
import socket, sys
addr, ports = sys.argv[1], sys.argv[2:]
out = []
for p in ports:
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((addr, int(p)))
        out.append("%s:accepted" % p)
    except OSError as e:
        out.append("%s:%s" % (p, "refused" if isinstance(e, ConnectionRefusedError) else e))
    s.close()
print(" ".join(out))
PYEOF
)
    [ "$got" = "$P0:refused $P1:refused" ] &&
        ok "connecting to the vpcd ports through $addr is refused ($got)" ||
        not_ok "a card can attach through $addr: $got"
else
    ok "# SKIP no non-loopback IPv4 address on this machine to attach through"
fi

for c in keycard target; do
    pid=$(cat "$VC_DIR/kc-vcard-$c.pid")
    lim=$(awk '/^Max core file size/ { print $5 "/" $6 }' "/proc/$pid/limits")
    [ "$lim" = 0/0 ] && ok "kc-vcard ($c) writes no core file (RLIMIT_CORE $lim)" ||
        not_ok "kc-vcard ($c) core file limit $lim"
done
echo "1..$lb_n"
[ "$lb_fails" -eq 0 ]
