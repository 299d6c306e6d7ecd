#!/bin/sh
# 25-key-import-line.sh - a key imported from components over real PC/SC, as
# the attacker on the line sees it: pcscd logs every APDU (-a); the three
# custodians' components and the key (their XOR) appear nowhere in the log,
# in any spelling, while the import succeeds and the search finds a
# component planted into a copy of the log.
set -u
. tests/vcards.sh
vc_lock "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-25-import.XXXXXX") || exit 1
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
trap 'vc_down; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
PUB=examples/profiles/demo-issuer.pub.pem
vc_up >/dev/null || { echo "FAIL: virtual cards did not start" >&2; exit 1; }

C1=5A1B2C3D4E5F60718293A4B5C6D7E8F9 C2=0F1E2D3C4B5A69788796A5B4C3D2E1F0 C3=13579BDF02468ACE13579BDF02468ACE
X=$(python3 -c "import sys; print(bytes(a^b^c for a,b,c in zip(*[bytes.fromhex(h) for h in sys.argv[1:]])).hex().upper())" "$C1" "$C2" "$C3")
kcvs=$(python3 - "$C1" "$C2" "$C3" <<'PY'
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
for h in sys.argv[1:]:
    e = Cipher(algorithms.AES(bytes.fromhex(h)), modes.ECB()).encryptor()
    print((e.update(b"\x01" * 16) + e.finalize())[:3].hex(), end=" ")
PY
)
set -- $kcvs
for i in 1 2 3; do eval "echo \$C$i" >"$T/c$i"; done
"$B/bin/kc-admin" --reader 0 keys import 60 --components 3 --type aes128 --usage envelope \
    --label line --issuer-pub "$PUB" --custodian A --component "file:$T/c1" --component-kcv "$1" \
    --custodian B --component "file:$T/c2" --component-kcv "$2" --custodian C \
    --component "file:$T/c3" --component-kcv "$3" >"$T/imp.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "import over PC/SC: $(tail -n 1 "$T/imp.out")" || fail "import (rc $rc): $(cat "$T/imp.out")"

# Every spelling: hex as pcscd writes it (spaced), packed, either case, and 8-byte pieces.
needles() {
    for h in "$C1" "$C2" "$C3" "$X"; do
        echo "$h"
        echo "$h" | sed 's/../& /g; s/ $//'
        echo "$h" | cut -c1-16 | sed 's/../& /g; s/ $//'
        echo "$h" | cut -c17-32 | sed 's/../& /g; s/ $//'
    done
}
found=0
for n in $(needles | tr ' ' '_'); do
    pat=$(echo "$n" | tr '_' ' ')
    grep -qi -- "$pat" "$VC_DIR/pcscd.log" && found=$((found + 1))
done
lines=$(grep -c 'APDU: ' "$VC_DIR/pcscd.log")
[ "$found" -eq 0 ] && [ "$lines" -gt 10 ] &&
    ok "the APDU log ($lines APDUs) holds no component and not the key, in 16 spellings" ||
    fail "$found needles found in the APDU log"
cp "$VC_DIR/pcscd.log" "$T/planted.log"
echo "00000000 APDU: 80 E2 22 3C $(echo "$C2" | sed 's/../& /g')" >>"$T/planted.log"
grep -qi -- "$(echo "$C2" | sed 's/../& /g; s/ $//')" "$T/planted.log" &&
    ok "the search finds a component planted into a copy of the log" || fail "the planted needle"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
