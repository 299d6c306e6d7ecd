#!/bin/sh
# 26-key-move-hostile.sh - the key lifecycle commands as an attacker who holds
# a PC (and, where said, the admin key) would misuse them, through kc-admin on
# simulated key cards; each refusal says why, exits non-zero and changes no key:
#   (a) export to a genuine key card of another issuer;
#   (b) a wrapped key for key card B imported into C; a blob with one byte
#       changed; a replay of an imported blob;
#   (c) `keys wrap` to a certificate that does not verify;
#   (d) restore from shares of two backups, from two shares, from the shares
#       with another backup's key file;
#   (e) destroy with a wrong version or KCV, or of a key without a retired version;
#   (f) provisioning that tries to swap the issuer key a card holds.
set -u
B=${B:-build}
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-26-hostile.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
ADM="$B/bin/kc-admin"
PUB=examples/profiles/demo-issuer.pub.pem
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F

# Another issuer, and profiles: A with the demo keys, blank ones for B and C,
# X certified by the other issuer.
python3 - "$T" "$PWD/examples/profiles/demo-issuer.key.pem" <<'PY'
import json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
t, issuer = sys.argv[1:]
k = ec.generate_private_key(ec.SECP256R1())
open(t + "/other.key.pem", "wb").write(k.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(t + "/other.pub.pem", "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM,
    serialization.PublicFormat.SubjectPublicKeyInfo))
d = json.load(open("examples/profiles/demo.json"))
d["issuer_key"] = {"file": issuer}
json.dump(d, open(t + "/a.json", "w"))
blank = dict(d, keys=[dict({kk: v for kk, v in key.items() if kk != "value"}, **{"import": True})
                      for key in d["keys"]])
json.dump(blank, open(t + "/blank.json", "w"))
json.dump(dict(blank, issuer_key={"file": t + "/other.key.pem"}), open(t + "/x.json", "w"))
PY
for c in a:a b:blank c:blank x:x; do
    "$ADM" --sim "$T/${c%%:*}.img" provision "$T/${c#*:}.json" >/dev/null 2>&1 ||
        { echo "FAIL: provision ${c%%:*}" >&2; exit 1; }
done
"$ADM" --sim "$T/b.img" keys cert --out "$T/b.cert" >/dev/null || fail "B's certificate"
"$ADM" --sim "$T/x.img" keys cert --out "$T/x.cert" >/dev/null || fail "X's certificate"
keys() { "$ADM" --sim "$1" keys --issuer-pub "${2:-$PUB}" 2>&1; }

# (a)
"$ADM" --sim "$T/a.img" keys export --to "$T/x.cert" --issuer-pub "$PUB" --out "$T/ax.kw" >"$T/a1" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'not a key card of this issuer' "$T/a1" && [ ! -e "$T/ax.kw" ] &&
    ok "export to another issuer's key card refused by kc-admin: $(head -c 100 "$T/a1")" ||
    fail "export to X (rc $rc): $(cat "$T/a1")"
# (The card's own check of the certificate, for a PC that skips kc-admin's, is
# tests/unit/test_keywrap.c test_export_refused.)

# (b)
"$ADM" --sim "$T/a.img" keys export 1 3 --to "$T/b.cert" --issuer-pub "$PUB" --out "$T/ab.kw" 2>/dev/null ||
    fail "export A -> B"
kb0=$(keys "$T/b.img")
"$ADM" --sim "$T/c.img" keys import "$T/ab.kw" --issuer-pub "$PUB" >"$T/b1" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'not wrapped for it' "$T/b1" && [ "$(keys "$T/c.img")" = "no keys" ] &&
    ok "B's wrapped keys refused by C, C holds nothing" || fail "import into C (rc $rc): $(cat "$T/b1")"
python3 - "$T/ab.kw" "$T/bad.kw" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
out = []
for l in lines:
    if l and not l.startswith("#"):
        b = bytearray.fromhex(l)
        b[len(b) // 2] ^= 0x10
        l = b.hex()
    out.append(l)
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
"$ADM" --sim "$T/b.img" keys import "$T/bad.kw" --issuer-pub "$PUB" >"$T/b2" 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(keys "$T/b.img")" = "$kb0" ] && ok "an altered blob: refused, B unchanged" ||
    fail "altered blob (rc $rc): $(cat "$T/b2")"
"$ADM" --sim "$T/b.img" keys import "$T/ab.kw" --issuer-pub "$PUB" >/dev/null 2>&1 || fail "import into B"
"$ADM" --sim "$T/b.img" keys import "$T/ab.kw" --issuer-pub "$PUB" >"$T/b3" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'not the next version' "$T/b3" && ok "the blobs replayed: refused ($(head -c 90 "$T/b3"))" ||
    fail "replay (rc $rc): $(cat "$T/b3")"

# (c)
echo 00112233445566778899aabbccddeeff >"$T/k.hex"
"$ADM" keys wrap --to "$T/x.cert" 7 --type aes128 --usage inject --key "file:$T/k.hex" \
    --issuer-pub "$PUB" --out "$T/w.kw" >"$T/c1" 2>&1
rc=$?
[ $rc -eq 1 ] && [ ! -e "$T/w.kw" ] && grep -q 'not a key card of this issuer' "$T/c1" &&
    ok "keys wrap to a certificate of another issuer: refused, nothing written" ||
    fail "wrap to X (rc $rc): $(cat "$T/c1")"

# (d)
"$ADM" --sim "$T/a.img" backup --shares 2-of-3 --out "$T/bk1" --issuer-pub "$PUB" >/dev/null 2>&1 &&
    "$ADM" --sim "$T/a.img" backup --shares 2-of-3 --out "$T/bk2" --issuer-pub "$PUB" >/dev/null 2>&1 ||
    fail "two backups of A"
"$ADM" --sim "$T/c.img" restore "$T/bk1/keys.kcb" "$T/bk1/share-1.txt" "$T/bk2/share-2.txt" \
    --issuer-pub "$PUB" >"$T/d1" 2>&1
rc1=$?
"$ADM" --sim "$T/c.img" restore "$T/bk1/keys.kcb" "$T/bk2/share-1.txt" "$T/bk2/share-3.txt" \
    --issuer-pub "$PUB" >"$T/d2" 2>&1
rc2=$?
[ $rc1 -eq 1 ] && grep -q 'another backup' "$T/d1" && [ $rc2 -eq 1 ] &&
    [ "$(keys "$T/c.img")" = "no keys" ] &&
    ok "shares of two backups, and one backup's shares with the other's key file: refused, C holds nothing" ||
    fail "mixed backups (rc $rc1/$rc2): $(cat "$T/d1" "$T/d2")"

# (e)
"$ADM" --sim "$T/a.img" keys destroy 3 --version 1 --kcv dcc3ac --issuer-pub "$PUB" >"$T/e1" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'no retired version' "$T/e1" && ok "the current version is never destroyed" ||
    fail "destroy current (rc $rc): $(cat "$T/e1")"
"$ADM" --sim "$T/a.img" keys generate 3 --type aes128 --usage inject --issuer-pub "$PUB" >/dev/null 2>&1
"$ADM" --sim "$T/a.img" keys destroy 3 --version 1 --kcv 000000 --issuer-pub "$PUB" >"$T/e2" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'nothing destroyed' "$T/e2" && keys "$T/a.img" | grep -q '^3 .* v1 dcc3ac' &&
    ok "destroy naming the wrong KCV: refused, the retired version stays" ||
    fail "destroy wrong KCV (rc $rc): $(cat "$T/e2")"

# (f)
python3 - "$T/a.json" "$T/swap.json" "$T/other.key.pem" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["issuer_key"] = {"file": sys.argv[3]}
json.dump(d, open(sys.argv[2], "w"))
PY
"$ADM" --sim "$T/a.img" provision "$T/swap.json" --issuer-pub "$PUB" >"$T/f1" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q 'issuer public key' "$T/f1" &&
    "$ADM" --sim "$T/a.img" keys export 1 --to "$T/x.cert" --issuer-pub "$T/other.pub.pem" >/dev/null 2>&1
rc2=$?
[ $rc -ne 0 ] && [ $rc2 -eq 1 ] &&
    ok "re-provisioning with another issuer key: refused at its issuer key, A still exports to none of X's cards" ||
    fail "issuer key swap (rc $rc, export rc $rc2): $(cat "$T/f1")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
