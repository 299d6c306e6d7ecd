#!/bin/sh
# 27-key-ceremony.sh - the whole key lifecycle of issue 14 on virtual cards,
# over real PC/SC (pcscd logs every APDU, -a), with no key value on any PC:
#   key card A: provisioned from a production profile whose keys are made on
#   the card; the envelope (transport) key arrives wrapped from the fab's
#   offline preparer (kc-admin keys wrap, no card); key 4 is replaced by a key
#   from three custodians' components;
#   clone to key card B (B's certificate, export on A, import on B);
#   back up A as 3-of-5 shares; destroy A (its image deleted);
#   two shares restore nothing onto blank key card C; three of them do;
#   one target serial issued by A, by B and by C from one issuance profile:
#   the three targets hold the same diversified keys (interchangeable);
#   on B a new version of a key is made and the retired one destroyed: not a
#   byte of it is left in B's flash image;
#   every key event is in the signed audit logs, which verify;
#   no key value (read from the cards' own flash), no component, no share and
#   not the fab's key appears in the APDU log, in any spelling, nor in any
#   file the PCs wrote (a value planted into a copy of the log is found).
set -u
. tests/vcards.sh
vc_lock "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-27-ceremony.XXXXXX") || exit 1
A=$T/a.img
KB=$T/b.img
C=$T/c.img
KC_VCARD_STATE=$A
VC_STATE=$A
VC_PROFILE=$T/prod.json
KC_VCARDS_TARGET=0
KC_PCSCD_APDU_LOG=1
export KC_PCSCD_APDU_LOG KC_VCARDS_TARGET
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
trap 'vc_down; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
export KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810
PUB=examples/profiles/demo-issuer.pub.pem
STATION=examples/profiles/demo-station.json
ADM="$B/bin/kc-admin --reader 0"
SERIAL=5441524745540042
mkdir -p "$B/integration"
DUMP=$B/integration/store_dump
cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror ${KC_SANITIZE:-} -Iinclude -Ikeycard -o "$DUMP" \
    tests/integration/store_dump.c "$B/lib/libkeycard-internal.a" -lmbedcrypto ||
    { echo "27-key-ceremony: cannot build store_dump.c" >&2; exit 1; }

# Profiles: production (keys made on the card, no value), blank (the same
# templates, its keys "import": they arrive from A or the backup), the fab's
# (its transport key, for target manufacture), issuance.
FAB=$(python3 -c 'import os; print(os.urandom(16).hex())')
echo "$FAB" >"$T/fab.key"
python3 - "$T" "$FAB" "$PWD/examples/profiles/demo-issuer.key.pem" <<'PY'
import json, sys
t, fab, issuer = sys.argv[1:]
d = json.load(open("examples/profiles/demo.json"))
d["issuer_key"] = {"file": issuer}
fabp = json.loads(json.dumps(d))
d.pop("demo", None)
keys = [k for k in d["keys"] if k["number"] in (3, 4, 5, 6)]
for k in keys:
    k.pop("value", None)
    k["generate"] = True
prod = dict(d, keys=keys)
json.dump(prod, open(t + "/prod.json", "w"), indent=1)
clone = [dict(k, generate=False, **{"import": True}) for k in keys]
for k in clone:
    k.pop("generate")
json.dump(dict(d, keys=clone), open(t + "/blank.json", "w"), indent=1)
fabp["keys"] = [dict(k, value={"hex": fab}) for k in fabp["keys"] if k["number"] == 1]
fabp["templates"] = []
json.dump(fabp, open(t + "/fab.json", "w"), indent=1)
issue = {"issuance": "keycard/1", "name": "ceremony", "key": 1, "way": "target-seed",
         "bucket": 256, "steps": [
    {"template": 1, "params": [{"u16": "0x1000"}, {"u16": "0x3F00"}, {"u16": 512}, {"u8": 0},
                               {"u8": "0xFF"}, {"text": "STORE"}]},
    {"template": 2, "params": [{"u16": "0x1001"}, {"u16": "0x1000"}, {"u8": "0xFF"}]},
    {"template": 8, "params": [{"u16": "0x1001"}, {"key": 3}]},
    {"template": 9, "params": [{"u16": "0x1001"}, {"key": 4}]},
    {"template": 10, "params": [{"u16": "0x1001"}, {"key": 5}]},
    {"template": 13}]}
json.dump(issue, open(t + "/issue.json", "w"), indent=1)
PY

vc_up >/dev/null || { echo "FAIL: virtual cards did not start" >&2; exit 1; }
# swap IMAGE: the key card in slot 0 becomes the card of IMAGE.
swap() {
    vc_card_stop keycard
    vc_card_start keycard 0 "$1" && vc_wait_card "$VC_KEYCARD_READER"
}
keys_of() { $ADM keys --json --issuer-pub "$PUB" | python3 -c '
import json, sys
print(" ".join("%d:%s" % (k["number"], k["kcv"]) for k in json.load(sys.stdin)["keys"]))'; }
values_of() { "$DUMP" keycard "$1" 2001 20fe | python3 -c '
import sys
for line in sys.stdin:
    rec = bytes.fromhex(line.split()[1])
    print(rec[6 + rec[5]:].hex())'; }
issue() {
    rm -f "$2"
    "$B/bin/kc-admin" target-manufacture --profile "$T/fab.json" --serial "$SERIAL" --keys 1 \
        --out "$2" >/dev/null &&
        timeout 120 "$B/bin/kc-issue" --config "$STATION" --profile "$T/issue.json" --reader 0 \
            --target-sim "$2" >"$T/issue-$1.out" 2>&1
}

# ---- key card A -------------------------------------------------------------------
$ADM keys cert --out "$T/a.cert" --issuer-pub "$PUB" &&
    "$B/bin/kc-admin" keys wrap --to "$T/a.cert" 1 --type aes128 --usage envelope,static \
        --label transport --key "file:$T/fab.key" --issuer-pub "$PUB" --out "$T/fab.kw" &&
    $ADM keys import "$T/fab.kw" --issuer-pub "$PUB" >"$T/fab.out" &&
    ok "the fab's transport key wrapped off-card for A and imported: $(cat "$T/fab.out")" ||
    fail "transport key from the offline preparer"
C1=$(python3 -c 'import os; print(os.urandom(16).hex())')
C2=$(python3 -c 'import os; print(os.urandom(16).hex())')
C3=$(python3 -c 'import os; print(os.urandom(16).hex())')
set -- $(python3 - "$C1" "$C2" "$C3" <<'PY'
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
for h in sys.argv[1:]:
    e = Cipher(algorithms.AES(bytes.fromhex(h)), modes.ECB()).encryptor()
    print((e.update(b"\x01" * 16) + e.finalize())[:3].hex())
PY
)
for i in 1 2 3; do eval "echo \$C$i" >"$T/c$i"; done
$ADM keys import 4 --components 3 --type aes128 --usage inject --label "airline auth master" \
    --issuer-pub "$PUB" --custodian Ann --component "file:$T/c1" --component-kcv "$1" \
    --custodian Bo --component "file:$T/c2" --component-kcv "$2" --custodian Cy \
    --component "file:$T/c3" --component-kcv "$3" >"$T/comp.out" 2>&1 &&
    ok "key 4 from three custodians' components: $(tail -n 1 "$T/comp.out")" ||
    fail "components: $(cat "$T/comp.out")"
KA=$(keys_of)
[ "$(echo "$KA" | wc -w)" -eq 5 ] && ok "key card A holds keys $KA (KCVs only)" || fail "A's keys: $KA"
issue a "$T/ta.img" && ok "target $SERIAL issued by A" || fail "issue by A: $(tail -3 "$T/issue-a.out")"

# ---- clone to key card B ------------------------------------------------------------
"$B/bin/kc-admin" --sim "$KB" provision "$T/blank.json" >/dev/null 2>&1 || fail "provision B"
swap "$KB" && $ADM keys cert --out "$T/b.cert" --issuer-pub "$PUB" || fail "B's certificate"
swap "$A" && $ADM keys export --to "$T/b.cert" --out "$T/a2b.kw" --issuer-pub "$PUB" 2>"$T/exp.err" ||
    fail "export A -> B: $(cat "$T/exp.err")"
swap "$KB" && $ADM keys import "$T/a2b.kw" --issuer-pub "$PUB" >"$T/imp.out" 2>&1 || fail "import on B: $(cat "$T/imp.out")"
KBK=$(keys_of)
[ "$KBK" = "$KA" ] && ok "key card B holds the same keys: $KBK" || fail "B's keys: $KBK, A's: $KA"
issue b "$T/tb.img" && ok "target $SERIAL issued by B" || fail "issue by B: $(tail -3 "$T/issue-b.out")"

# ---- back up A as 3-of-5, then destroy it -------------------------------------------
swap "$A" && $ADM backup --shares 3-of-5 --out "$T/bk" --issuer-pub "$PUB" >"$T/bk.out" 2>&1 &&
    ok "$(cat "$T/bk.out")" || fail "backup: $(cat "$T/bk.out")"
$ADM audit --issuer-pub "$PUB" --verify >"$T/audit-a.out" 2>&1 && ok "A: $(tail -n 1 "$T/audit-a.out")" ||
    fail "A's audit log: $(tail -3 "$T/audit-a.out")"
$ADM audit --issuer-pub "$PUB" --json >"$T/audit-a.json" 2>/dev/null
vc_card_stop keycard
values_of "$A" >"$T/values"
rm -f "$A" "$A.provisioned"
[ ! -e "$A" ] && ok "key card A destroyed ($(wc -l <"$T/values") key values read from its flash first)"

# ---- restore onto blank key card C ------------------------------------------------------
"$B/bin/kc-admin" --sim "$C" provision "$T/blank.json" >/dev/null 2>&1 || fail "provision C"
swap "$C"
$ADM restore "$T/bk/keys.kcb" "$T/bk/share-2.txt" "$T/bk/share-4.txt" \
    --issuer-pub "$PUB" >"$T/two.out" 2>&1
rc=$?
left=$($ADM keys --issuer-pub "$PUB" 2>&1)
[ $rc -eq 1 ] && [ "$left" = "no keys" ] && ok "two shares restore nothing (exit 1, C holds no keys)" ||
    fail "two shares (rc $rc): $(cat "$T/two.out") / $left"
$ADM restore "$T/bk/keys.kcb" "$T/bk/share-1.txt" "$T/bk/share-3.txt" \
    "$T/bk/share-5.txt" --issuer-pub "$PUB" >"$T/three.out" 2>&1 || fail "restore: $(cat "$T/three.out")"
KC=$(keys_of)
[ "$KC" = "$KA" ] && ok "three shares restore A's keys onto C: $KC" || fail "C's keys: $KC"
issue c "$T/tc.img" && ok "target $SERIAL issued by C" || fail "issue by C: $(tail -3 "$T/issue-c.out")"

# ---- the three targets are interchangeable ---------------------------------------------
for t in a b c; do "$DUMP" target "$T/t$t.img" 0201 020f >"$T/fk-$t" 2>/dev/null; done
nk=$(wc -l <"$T/fk-a")
if [ "$nk" -ge 3 ] && cmp -s "$T/fk-a" "$T/fk-b" && cmp -s "$T/fk-a" "$T/fk-c"; then
    ok "targets issued by A, B and C hold the same $nk diversified keys"
else
    fail "targets differ ($nk keys): $(diff "$T/fk-a" "$T/fk-c" | head -3)"
fi

# ---- a new version on B, the old one destroyed: erased from B's flash -------------------
vc_card_stop keycard
old3=$("$DUMP" keycard "$KB" 2003 2003 | cut -d' ' -f2)
swap "$KB"
$ADM keys generate 3 --type aes128 --usage inject --label "store auth master" \
    --issuer-pub "$PUB" >"$T/rot.out" 2>&1 || fail "new version of key 3: $(cat "$T/rot.out")"
kcv3=$(echo "$KA" | tr ' ' '\n' | sed -n 's/^3://p')
$ADM keys --issuer-pub "$PUB" | grep -q "^3 .* 2 *v1 $kcv3 " &&
    ok "key 3 on B: version 2 made on the card, version 1 (KCV $kcv3) retired" ||
    fail "versions of key 3: $($ADM keys --issuer-pub "$PUB" 2>&1 | grep '^3 ')"
$ADM keys destroy 3 --version 1 --kcv "$kcv3" --issuer-pub "$PUB" >"$T/destroy.out" 2>&1 ||
    fail "destroy: $(cat "$T/destroy.out")"
vc_card_stop keycard
v3=$(python3 -c 'import sys; r = bytes.fromhex(sys.argv[1]); print(r[6 + r[5]:].hex())' "${old3:-00000000000000}")
if python3 -c 'import sys; sys.exit(bytes.fromhex(sys.argv[1]) in open(sys.argv[2], "rb").read())' \
    "$v3" "$KB" && [ ${#v3} -eq 32 ]; then
    ok "$(cat "$T/destroy.out"); none of its bytes is left in B's flash image"
else
    fail "destroyed key 3 version 1 (${#v3} hex digits) still in B's flash, or not found before"
fi
swap "$C"

# ---- the audit logs -----------------------------------------------------------------------
$ADM audit --issuer-pub "$PUB" --verify >"$T/audit-c.out" 2>&1 && ok "C: $(tail -n 1 "$T/audit-c.out")" ||
    fail "C's audit log"
$ADM audit --issuer-pub "$PUB" --json >"$T/audit-c.json" 2>/dev/null
swap "$KB" && $ADM audit --issuer-pub "$PUB" --verify >"$T/audit-b.out" 2>&1 &&
    ok "B: $(tail -n 1 "$T/audit-b.out")" || fail "B's audit log"
$ADM audit --issuer-pub "$PUB" --json >"$T/audit-b.json" 2>/dev/null
counts=$(python3 - "$T" <<'PY'
import json, sys, collections
t = sys.argv[1]
out = []
for c in "abc":
    n = collections.Counter(e["event"] for e in json.load(open("%s/audit-%s.json" % (t, c)))["entries"])
    out.append(c.upper() + ":" + ",".join("%s=%d" % (k, n[k]) for k in sorted(n) if k.startswith(("key", "backup"))))
print(" ".join(out))
PY
)
case $counts in
*"A:backup=1,key-combined=1,key-component=3,key-exported=5,key-generated=4,key-imported=1"*"B:key-destroyed=1,key-generated=1,key-imported=5"*"C:key-restored=5"*)
    ok "every key event in the signed logs: $counts" ;;
*) fail "key events: $counts" ;;
esac

# ---- nothing secret on the line or in the PCs' files ----------------------------------------
{
    cat "$T/values"
    for c in "$C1" "$C2" "$C3" "$FAB"; do echo "$c"; done
    for s in "$T"/bk/share-*.txt; do grep -v '^#' "$s" | cut -c21-; done
} | tr 'A-F' 'a-f' | sort -u >"$T/needles"
spell() { # the spaced form pcscd writes, and 8-byte pieces of it
    sp=$(echo "$1" | sed 's/../& /g; s/ $//')
    echo "$sp"
    echo "$1" | cut -c1-16 | sed 's/../& /g; s/ $//'
    echo "$1" | cut -c17-32 | sed 's/../& /g; s/ $//'
}
found=0 nn=0
while read -r v; do
    nn=$((nn + 1))
    for pat in $(spell "$v" | tr ' ' '_'); do
        grep -qi -- "$(echo "$pat" | tr '_' ' ')" "$VC_DIR/pcscd.log" && found=$((found + 1))
    done
    cat "$T"/*.kw "$T"/*.cert "$T/bk/keys.kcb" "$T"/*.out | grep -qi -- "$v" && found=$((found + 1))
done <"$T/needles"
apdus=$(grep -c 'APDU: ' "$VC_DIR/pcscd.log")
[ "$found" -eq 0 ] && [ "$nn" -ge 13 ] && [ "$apdus" -gt 100 ] &&
    ok "the APDU log ($apdus APDUs) and the files hold none of $nn secrets (key values, components, shares, the fab key), in 3 spellings each" ||
    fail "$found secrets found ($nn searched, $apdus APDUs)"
v=$(head -n 1 "$T/needles")
cp "$VC_DIR/pcscd.log" "$T/planted.log"
echo "00000000 APDU: 80 EC 00 01 $(echo "$v" | sed 's/../& /g')" >>"$T/planted.log"
grep -qi -- "$(spell "$v" | head -n 1)" "$T/planted.log" &&
    ok "the search finds a key value planted into a copy of the log" || fail "the planted needle"

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
