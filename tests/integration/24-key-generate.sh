#!/bin/sh
# 24-key-generate.sh - keys no PC ever sees (issue 14, first part), on a
# simulated key card:
#   (a) a production profile (no "demo": true) that carries a key value is
#       refused, naming the field, before anything is sent;
#   (b) its keys marked "generate": true are made on the card at
#       provisioning; kc-admin prints only their KCVs, which `kc-admin keys`
#       lists the same;
#   (c) `kc-admin keys generate` makes another, replaces it on a second run
#       (another KCV), and refuses without the admin key;
#   (d) every key made is a key-generated entry of the signed audit log, and
#       `kc-admin audit --verify` passes;
#   (e) target-manufacture refuses a generated key (its value is on no PC);
#   (f) `kc-admin keys import --components 3`: three custodians' components
#       (from a file, a descriptor and a variable), each checked by its KCV,
#       combined on the card into the key whose KCV Python computes apart;
#       a mistyped component is refused before it is sent; the trace shows no
#       component byte; the log names the custodians and verifies.
set -u
B=${B:-build}
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-24-keygen.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
ADMIN="$B/bin/kc-admin"
PUB=examples/profiles/demo-issuer.pub.pem
cp examples/profiles/demo-issuer.key.pem "$T/"
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F

# A production profile from the demo one: not demo, keys made on the card.
python3 - examples/profiles/demo.json "$T/prod.json" "$T/prod-value.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.pop("demo", None)
d["issuer_key"] = {"file": "demo-issuer.key.pem"}
bad = json.loads(json.dumps(d))
for k in d["keys"]:
    k.pop("value", None)
    k["generate"] = True
d["keys"] = [k for k in d["keys"] if not k.get("common")]
json.dump(d, open(sys.argv[2], "w"), indent=1)
json.dump(bad, open(sys.argv[3], "w"), indent=1)
PY

# (a)
"$ADMIN" --sim "$T/a.img" provision "$T/prod-value.json" >"$T/a.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q '\$.keys\[0\].value: a production profile (without "demo": true) carries no key value' "$T/a.out" &&
    [ ! -s "$T/a.img" ]; then
    ok "a production profile with a key value: refused, the field named ($(grep -c 'carries no key value' "$T/a.out") keys)"
else
    fail "production profile with values (rc $rc): $(head -3 "$T/a.out")"
fi

# (b)
"$ADMIN" --sim "$T/k.img" provision "$T/prod.json" >"$T/b.out" 2>"$T/b.err"
rc=$?
made=$(grep -c '^key [0-9]* made on the card (.*): KCV [0-9a-f]\{6\}$' "$T/b.out")
want=$(python3 -c 'import json; print(len(json.load(open("'"$T"'/prod.json"))["keys"]))')
"$ADMIN" --sim "$T/k.img" keys --json --issuer-pub "$PUB" >"$T/keys.json" 2>&1
same=$(python3 - "$T/b.out" "$T/keys.json" <<'PY'
import json, re, sys
made = dict(re.findall(r"^key (\d+) made on the card \(.*\): KCV ([0-9a-f]{6})$", open(sys.argv[1]).read(), re.M))
listed = {str(k["number"]): k["kcv"] for k in json.load(open(sys.argv[2]))["keys"]}
print("same" if made and all(listed.get(n) == v for n, v in made.items()) else "differ")
PY
)
if [ $rc -eq 0 ] && [ "$made" -eq "$want" ] && [ "$same" = same ]; then
    ok "provisioning made $made keys on the card; their KCVs printed and listed alike"
else
    fail "provision with generated keys (rc $rc, $made of $want, $same): $(cat "$T/b.err" | head -3)"
fi
if grep -qi 'value' "$T/b.out"; then fail "provisioning output mentions a value"; fi

# (c)
gen() { "$ADMIN" --sim "$T/k.img" keys generate 40 --type aes256 --usage envelope,inject \
    --label spare --issuer-pub "$PUB" "$@"; }
k1=$(gen --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kcv"])')
k2=$(gen --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kcv"])')
[ -n "$k1" ] && [ -n "$k2" ] && [ "$k1" != "$k2" ] &&
    ok "keys generate: KCV $k1, made again: $k2 (replaced)" || fail "keys generate: [$k1] [$k2]"
env -u KEYCARD_ADMIN_KEY "$ADMIN" --sim "$T/k.img" keys generate 41 --type aes128 --usage inject \
    --admin-key-file "$T/nowhere" --issuer-pub "$PUB" >"$T/c.out" 2>&1
rc=$?
[ $rc -ne 0 ] && ok "keys generate without the admin key: refused (exit $rc)" ||
    fail "keys generate without the admin key ran"

# (d)
"$ADMIN" --sim "$T/k.img" audit --json --issuer-pub "$PUB" >"$T/audit.json" 2>&1
n_ev=$(python3 -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1]))["entries"] if e["event"] == "key-generated"))' "$T/audit.json")
[ "$n_ev" -eq $((want + 2)) ] && ok "the audit log holds $n_ev key-generated entries" ||
    fail "key-generated entries: $n_ev, want $((want + 2))"
"$ADMIN" --sim "$T/k.img" audit --verify --issuer-pub "$PUB" >"$T/v.out" 2>&1 &&
    ok "audit --verify: $(tail -n 1 "$T/v.out")" || fail "audit --verify: $(tail -n 3 "$T/v.out")"

# (e)
"$ADMIN" --sim "$T/k.img" target-manufacture --profile "$T/prod.json" --serial 5447000000000024 \
    --out "$T/t.img" >"$T/e.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'is made on or imported into the key card' "$T/e.out" && [ ! -s "$T/t.img" ] &&
    ok "target-manufacture refuses a generated key: $(head -c 90 "$T/e.out")" ||
    fail "target-manufacture with a generated key (rc $rc): $(cat "$T/e.out")"

# (f) a key from three custodians' components, each from another source
C1=1111111111111111111111111111111A C2=2222222222222222222222222222222B
export C3=3737373737373737373737373737373C
echo "$C1" >"$T/c1"
kcvs=$(python3 - "$C1" "$C2" "$C3" <<'PY'
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
def kcv(k):
    e = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    return (e.update(b"\x01" * 16) + e.finalize())[:3].hex()
ks = [bytes.fromhex(h) for h in sys.argv[1:]]
x = bytes(a ^ b ^ c for a, b, c in zip(*ks))
print(" ".join([kcv(k) for k in ks] + [kcv(x)]))
PY
)
set -- $kcvs
imp() { "$ADMIN" --sim "$T/k.img" --trace keys import 50 --components 3 --type aes128 --usage envelope \
    --label dual --issuer-pub "$PUB" --custodian "Alice Sato" --component "file:$T/c1" \
    --component-kcv "$1" --custodian "Bob Ito" --component fd:3 --component-kcv "$2" \
    --custodian Carol --component env:C3 --component-kcv "$3"; }
out=$(imp "$1" "$2" "$3" 3<<EOF2 2>"$T/f.err"
$C2
EOF2
)
if echo "$out" | grep -q "^key 50 imported from components: aes128, envelope, KCV $4, label dual$"; then
    ok "keys import from 3 components: KCV $4, as computed apart from the card"
else
    fail "keys import: [$out] $(grep -v trace: "$T/f.err" | head -3)"
fi
leak=""
for c in "$C1" "$C2" "$C3"; do
    sp=$(echo "$c" | sed 's/../& /g; s/ $//')
    grep -qi -e "$c" -e "$sp" "$T/f.err" && leak="$leak $c"
done
grep -q 'trace: .* > 80 E2 22 32 \[[0-9]* bytes, not shown\]' "$T/f.err" && [ -z "$leak" ] &&
    ok "each component in its own command; the trace shows none of their bytes" ||
    fail "component trace: leak [$leak], $(grep -c '80 E2 22' "$T/f.err") component commands"
export C3
out=$("$ADMIN" --sim "$T/k.img" keys import 51 --components 2 --type aes128 --usage envelope \
    --issuer-pub "$PUB" --custodian A --component "file:$T/c1" --component-kcv 000000 \
    --custodian B --component env:C3 --component-kcv "$3" 2>&1)
rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "its KCV is $1, the custodian's is 000000: mistyped; nothing of it sent" &&
    ok "a mistyped component is refused before it is sent (exit 1)" || fail "mistyped component (rc $rc): $out"
"$ADMIN" --sim "$T/k.img" audit --json --issuer-pub "$PUB" >"$T/audit2.json" 2>&1
who=$(python3 -c 'import json,sys; print(",".join(e["component"]["custodian"] for e in json.load(open(sys.argv[1]))["entries"] if e["event"] == "key-component"))' "$T/audit2.json")
[ "$who" = "Alice Sato,Bob Ito,Carol" ] && ok "the audit log names the custodians: $who" ||
    fail "custodians in the log: [$who]"
"$ADMIN" --sim "$T/k.img" audit --verify --issuer-pub "$PUB" >"$T/v2.out" 2>&1 &&
    ok "audit --verify after the import: $(tail -n 1 "$T/v2.out")" || fail "audit --verify: $(tail -n 3 "$T/v2.out")"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
