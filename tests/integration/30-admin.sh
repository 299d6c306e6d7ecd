#!/bin/sh
# 30-admin.sh - kc-admin and kc-startup against the in-process simulated key
# card (--sim FILE); no pcscd needed. Covers: provisioning from a profile,
# every broken profile refused with its JSON path and the card file left
# byte-identical (blank and provisioned), numbered keys and templates (listing,
# broken fields by JSON path, the common-key warning), target-manufacture,
# re-provisioning with a wrong admin
# key, the start-up flow and its audit entry, the audit log check (--verify,
# every byte of every exported entry changed or an entry removed is named,
# --export --ack; the export 0600 whatever the umask), PIN change and unblock through
# environment and files, wrong PINs with tries left.
#
# Run from the top of the tree: B=build sh tests/integration/30-admin.sh

set -u
B=${B:-build}
ADMIN=$B/bin/kc-admin
STARTUP=$B/bin/kc-startup
PROFILES=tests/data/profiles
DEMO=examples/profiles/demo.json
STATION=examples/profiles/demo-station.json
AKEY=000102030405060708090A0B0C0D0E0F
# The issuer public key: every command that sends a PIN or the admin key
# checks the card's channel certificate against it first.
IPUB=examples/profiles/demo-issuer.pub.pem
unset KEYCARD_ISSUER_PUB

for t in "$ADMIN" "$STARTUP"; do
    [ -x "$t" ] || { echo "30-admin: $t not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-30-admin.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
CARD=$T/card.img
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    fails=$((fails + 1))
    echo "not ok $n - $1"
    [ -f "$T/err" ] && sed 's/^/#   stderr: /' "$T/err" | head -n 5
    [ -f "$T/out" ] && sed 's/^/#   stdout: /' "$T/out" | head -n 10
}

# run WANT-RC DESC CMD...: run with stdout/stderr to $T/out, $T/err; check rc.
# setsid: no controlling terminal, so nothing can prompt.
run() {
    want=$1 desc=$2
    shift 2
    setsid -w "$@" </dev/null >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then
        ok "$desc (exit $got)"
        return 0
    fi
    not_ok "$desc: want exit $want, got $got"
    return 1
}

# expect FILE PATTERN DESC: grep -E PATTERN in $T/FILE.
expect() {
    if grep -qE -- "$2" "$T/$1"; then ok "$3"; else not_ok "$3: no /$2/ in $1"; fi
}

# refuse_not FILE PATTERN DESC: PATTERN must not appear.
refuse_not() {
    if grep -qE -- "$2" "$T/$1"; then not_ok "$3: /$2/ found in $1"; else ok "$3"; fi
}

# Expected JSON path in the error, per broken profile.
broken_table() {
    cat <<'EOF'
bad-pin.json         $.holder_pin.value
short-pin.json       $.issuer_pin.value
bad-tries.json       $.issuer_pin.tries
zero-tries.json      $.holder_pin.tries
unknown-field.json   $.holder.nmae
unknown-top.json     $.admin_keys
missing-field.json   $.holder.number
missing-pin.json     $.holder_pin
bad-hex.json         $.admin_key.hex
short-key.json       $.admin_key.hex
bad-version.json     $.profile
bad-number.json      $.holder.number
two-sources.json     $.issuer_pin
pin-as-number.json   $.holder_pin.value
missing-key-file.json $.issuer_key.file
not-a-key.json       $.issuer_key.file
not-json.json        $:
not-object.json      $:
EOF
}

# check_broken LABEL: every broken profile exits 2, names its path, leaves
# the card file byte-identical.
check_broken() {
    label=$1
    before=$(sha256sum <"$CARD")
    broken_table | while read -r file path; do
        setsid -w env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" provision "$PROFILES/$file" \
            </dev/null >"$T/out" 2>"$T/err"
        rc=$?
        if [ $rc -ne 2 ]; then
            echo "not ok - $label: $file: want exit 2, got $rc"
            sed 's/^/#   /' "$T/err"
            echo FAIL >>"$T/broken-fails"
        elif ! grep -qF -- "$path" "$T/err"; then
            echo "not ok - $label: $file: error does not name $path"
            sed 's/^/#   /' "$T/err"
            echo FAIL >>"$T/broken-fails"
        elif [ "$(wc -l <"$T/err")" -gt 3 ]; then
            echo "not ok - $label: $file: too many error lines"
            echo FAIL >>"$T/broken-fails"
        fi
    done
    after=$(sha256sum <"$CARD")
    if [ -s "$T/broken-fails" ]; then
        not_ok "$label: broken profiles refused with exit 2 and their JSON path"
        rm -f "$T/broken-fails"
    else
        ok "$label: $(broken_table | wc -l) broken profiles refused with exit 2 and their JSON path"
    fi
    if [ "$before" = "$after" ]; then
        ok "$label: card file byte-identical after the broken profiles"
    else
        not_ok "$label: card file changed by a refused profile"
    fi
}

# ---- usage ------------------------------------------------------------------
run 2 "no command" "$ADMIN"
expect err "no command" "no command: one-line reason"
run 2 "unknown command" "$ADMIN" frobnicate
run 2 "unknown option" "$ADMIN" --bogus info
run 2 "--reader and --sim together" "$ADMIN" --reader x --sim "$CARD" info
run 0 "--help" "$ADMIN" --help
expect out "provision PROFILE" "--help lists the commands"
for c in provision info audit change-pin unblock readers; do
    run 0 "$c --help" "$ADMIN" "$c" --help
done
run 2 "change-pin needs issuer|holder|admin" "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" nobody
run 2 "unblock admin is refused" "$ADMIN" --sim "$CARD" unblock --issuer-pub "$IPUB" admin
run 2 "provision without a profile" "$ADMIN" --sim "$CARD" provision
run 2 "kc-startup without --config" "$STARTUP"
run 0 "kc-startup --help" "$STARTUP" --help

# ---- blank card -------------------------------------------------------------
run 0 "info on a new blank sim card" "$ADMIN" --sim "$CARD" info
expect out "life cycle: +BLANK" "blank card reports BLANK"
check_broken "blank card"
run 1 "kc-startup on a blank card" env KEYCARD_HOLDER_PIN=246810 "$STARTUP" --sim "$CARD" --config "$STATION"
expect err "blank" "kc-startup says the card is blank"

# A prompt in a profile without a terminal is bad input, sent nowhere.
sed 's/"value": "246810"/"prompt": true/' "$DEMO" >"$T/prompt.json"
cp examples/profiles/demo-issuer.key.pem "$T/"
before=$(sha256sum <"$CARD")
run 2 "profile with prompt and no terminal" "$ADMIN" --sim "$CARD" provision "$T/prompt.json"
expect err '\$\.holder_pin\.prompt' "prompt error names \$.holder_pin.prompt"
[ "$before" = "$(sha256sum <"$CARD")" ] && ok "card unchanged after prompt error" ||
    not_ok "card changed after prompt error"

# ---- provision ----------------------------------------------------------------
run 0 "provision blank card from demo.json" "$ADMIN" --sim "$CARD" provision "$DEMO"
cp "$T/out" "$T/provision.out"
cp "$T/err" "$T/provision.err"
expect out "provisioned key card [0-9a-f]{16} for Demo Operator \(OP-0001\)" "provision reports serial and holder"
refuse_not out "246810|13579135|000102030405" "provision prints no secret"
refuse_not err "246810|13579135|000102030405" "provision prints no secret on stderr"
run 0 "info" "$ADMIN" --sim "$CARD" info
expect out "life cycle: +PROVISIONED" "info shows PROVISIONED"
expect out "holder PIN: +3 tries left" "info shows tries left"
check_broken "provisioned card"

# ---- numbered keys and templates ---------------------------------------------
cp "$T/provision.out" "$T/out"
cp "$T/provision.err" "$T/err"
expect out "6 keys, 16 templates" "provision reports keys and templates"
expect err 'warning: .*\$\.keys\[1\].*common' "a common key is warned about with its path"
run 0 "keys" env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" keys --issuer-pub "$IPUB"
expect out "^1 +aes128 +envelope,static +[0-9a-f]{6} +1 +- +envelope master" "keys: number, type, flags, KCV, version, retired, label"
expect out "^2 +aes256 +envelope,COMMON" "keys: the common key is marked"
expect out "^6 +aes256 +inject" "keys: all six keys listed"
refuse_not out "404142434445|505152535455|707172737475" "keys prints no key value"
run 1 "keys with a wrong admin key" env KEYCARD_ADMIN_KEY=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF \
    "$ADMIN" --sim "$CARD" keys --issuer-pub "$IPUB"
run 0 "templates" env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" templates --issuer-pub "$IPUB"
expect out "^1 +create folder" "templates: first template listed"
expect out "^16 +lock \(d\) explicit" "templates: lock templates listed"
for c in keys templates target-manufacture; do
    run 0 "$c --help" "$ADMIN" "$c" --help
done

# No downgrade (issue 10): no secret to a provisioned card before its channel
# certificate verified under the issuer key; the admin key's tries untouched.
for c in keys templates audit "unblock holder" "change-pin admin"; do
    # shellcheck disable=SC2086
    run 2 "$c without the issuer key" env KEYCARD_ADMIN_KEY=$AKEY KEYCARD_NEW_ADMIN_KEY=$AKEY \
        "$ADMIN" --sim "$CARD" $c
    expect err "give --issuer-pub FILE" "$c without the issuer key: says to give --issuer-pub"
done
run 2 "info --issuer-pin without the issuer key" env KEYCARD_ISSUER_PIN=13579135 \
    "$ADMIN" --sim "$CARD" info --issuer-pin
run 1 "keys under another issuer's key" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" keys --issuer-pub tests/data/other-issuer.pub.pem
expect err "key card refused: .*no PIN or data was sent" "another issuer's key: refused, nothing sent"
run 0 "keys with KEYCARD_ISSUER_PUB" env KEYCARD_ADMIN_KEY=$AKEY KEYCARD_ISSUER_PUB=$IPUB \
    "$ADMIN" --sim "$CARD" keys
run 0 "info --issuer-pub without PINs checks the certificate" "$ADMIN" --sim "$CARD" info \
    --issuer-pub "$IPUB"
expect out "channel: +certified" "info: certified channel"
expect out "admin key: +3 tries left" "no admin key try spent by the refusals"

# Broken key and template fields: exit 2, the JSON path named, card unchanged.
bad_keys_table() {
    cat <<'EOF2'
$.keys[0].type s/"type": "aes128", "label": "envelope master"/"type": "aes192", "label": "envelope master"/
$.keys[0].value s/"hex": "404142434445464748494A4B4C4D4E4F"/"hex": "404142434445464748494A4B4C4D4E4F404142434445464748494A4B4C4D4E4F"/
$.keys[2].value.hex s/"hex": "707172737475767778797A7B7C7D7E7F"/"hex": "7071727374"/
$.keys[2].usage[0] 0,/"usage": \["inject"\]/s//"usage": ["injct"]/
$.keys[3].number s/"number": 4, "type": "aes128"/"number": 3, "type": "aes128"/
$.keys[0].static s/"usage": \["envelope"\], "static": true/"usage": ["inject"], "static": true/
$.templates[1].ins s/"ins": "E0", "p1": "02"/"ins": "E", "p1": "02"/
$.templates[0].data[2].int.size s/"size": 2, "min": 1, "max": 12288/"size": 3, "min": 1, "max": 12288/
$.templates[7].keys[0] 0,/"keys": \[3, 4\]/s//"keys": [1, 4]/
$.templates[2].data[2].fixd s/{ "fixed": "03" }/{ "fixd": "03" }/
$.templates[10].data[2].bytes.max 0,/"max": 200 }/s//"max": 300 }/
$.templates[12].colour s/"p2": "00" },/"p2": "00", "colour": 1 },/
EOF2
}
before=$(sha256sum <"$CARD")
bad=0
nb=0
while read -r path expr; do
    nb=$((nb + 1))
    sed "$expr" "$DEMO" >"$T/badk.json"
    if cmp -s "$DEMO" "$T/badk.json"; then
        echo "# sed did not change the profile: $expr"
        bad=$((bad + 1))
        continue
    fi
    setsid -w env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" provision "$T/badk.json" \
        </dev/null >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -qF -- "$path:" "$T/err"; then
        echo "# $path: exit $rc"
        sed 's/^/#   /' "$T/err"
        bad=$((bad + 1))
    fi
done <<EOF3
$(bad_keys_table)
EOF3
if [ $bad -eq 0 ]; then
    ok "$nb broken key/template fields refused with exit 2 and their JSON path"
else
    not_ok "$bad of $nb broken key/template fields not refused right"
fi
[ "$before" = "$(sha256sum <"$CARD")" ] && ok "card unchanged after broken key/template fields" ||
    not_ok "card changed by a refused key/template profile"

# target-manufacture: blank target images with card keys from the profile.
run 0 "target-manufacture" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447000000000001 --out "$T/target1.img"
expect out "manufactured target card 5447000000000001 .* with keys 1,2" "target-manufacture: envelope keys by default"
[ -s "$T/target1.img" ] && ok "target image written" || not_ok "no target image"
run 1 "target-manufacture twice on one image" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447000000000001 --out "$T/target1.img"
expect err "not a virgin target" "second manufacture: says why"
run 0 "target-manufacture --keys 1" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447000000000002 --out "$T/target2.img" --keys 1
expect out "with key 1$" "target-manufacture: only the keys asked for"
run 2 "target-manufacture of an inject key" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447000000000003 --out "$T/target3.img" --keys 3
expect err "key 3 is not an \"envelope\" key" "inject key refused with a reason"
[ -e "$T/target3.img" ] && not_ok "image written despite bad --keys" || ok "no image for bad --keys"
run 2 "target-manufacture with a short serial" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447 --out "$T/target4.img"
run 2 "target-manufacture without --out" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447000000000004
run 2 "target-manufacture on a broken profile" "$ADMIN" target-manufacture \
    --profile "$T/badk.json" --serial 5447000000000005 --out "$T/target5.img"
run 1 "target-manufacture on a key card image" "$ADMIN" target-manufacture --profile "$DEMO" \
    --serial 5447000000000006 --out "$CARD"

run 1 "re-provision with a wrong admin key" env KEYCARD_ADMIN_KEY=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF \
    "$ADMIN" --sim "$CARD" provision "$DEMO"
expect err "admin key.*2 tries left" "wrong admin key: tries left shown"
run 2 "re-provision with a malformed admin key" env KEYCARD_ADMIN_KEY=123 \
    "$ADMIN" --sim "$CARD" provision "$DEMO"
run 2 "re-provision, no admin key and no terminal" "$ADMIN" --sim "$CARD" provision "$DEMO"
expect err "KEYCARD_ADMIN_KEY" "missing admin key: says how to give it"

# Re-provision from a profile whose secrets come from files.
printf '97531\n' >"$T/holder.pin"
printf '%s\n' "$AKEY" >"$T/admin.key"
cat >"$T/files.json" <<'EOF'
{
  "profile": "keycard/1",
  "holder": { "name": "Zoë Ångström", "number": "OP-0002" },
  "issuer_pin": { "value": "13579135" },
  "holder_pin": { "file": "holder.pin", "tries": 5 },
  "admin_key": { "file": "admin.key", "tries": 3 },
  "issuer_key": { "file": "demo-issuer.key.pem" }
}
EOF
run 0 "re-provision with --admin-key-file and file secrets" \
    "$ADMIN" --sim "$CARD" provision --admin-key-file "$T/admin.key" "$T/files.json"
printf '13579135\n' >"$T/issuer.pin"
run 0 "info with PINs from files" "$ADMIN" --sim "$CARD" info --issuer-pub "$IPUB" \
    --issuer-pin-file "$T/issuer.pin" --holder-pin-file "$T/holder.pin"
expect out "holder name: +Zoë Ångström" "UTF-8 holder name kept"
expect out "holder PIN: +5 tries left" "tries from the profile"
run 0 "info --issuer-pub checks the identity" env KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=97531 \
    "$ADMIN" --sim "$CARD" info --issuer-pin --holder-pin --issuer-pub examples/profiles/demo-issuer.pub.pem
expect out "identity: +genuine" "identity genuine"

run 0 "re-provision back to demo.json (admin key from env)" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" provision "$DEMO"

# ---- start-up and audit ----------------------------------------------------------
run 0 "kc-startup with the holder PIN from the env" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
expect out "\[1/6\] key card present" "start-up step 1"
expect out "holder recorded: Demo Operator \(OP-0001\)" "start-up shows the holder"
expect out "identity verified" "start-up verifies the identity"
expect out "\[6/6\] ready" "start-up ready"
refuse_not out "246810|13579135" "start-up prints no PIN"
run 0 "audit" env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" audit --issuer-pub "$IPUB"
expect out "provisioned" "audit shows provisioned"
expect out "unlock +holder OP-0001" "audit shows the unlock of kc-startup"
expect out "^[0-9]+ +([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z|-) " "audit times ISO 8601 or -"
run 1 "audit with a wrong admin key" env KEYCARD_ADMIN_KEY=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF \
    "$ADMIN" --sim "$CARD" audit --issuer-pub "$IPUB"
expect err "tries left" "audit: wrong admin key says tries left"

# ---- audit log that proves itself (--verify, --export, --verify-file, --ack) ----------
run 0 "audit --verify on the real log" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" audit --verify --issuer-pub "$IPUB"
expect out "audit log verified: key card [0-9a-f]{16}, [0-9]+ entries" "audit --verify: verified"
run 1 "audit --verify with another issuer key" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" audit --verify --issuer-pub tests/data/other-issuer.pub.pem
expect err "key card refused" "audit --verify: another issuer's key: the card is refused before the admin key"
run 2 "audit --verify without --issuer-pub" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" audit --verify
run 2 "audit --ack without --export" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" audit --ack --issuer-pub "$IPUB"
# The export holds the card's audit log: 0600 whatever the umask (here 022),
# and what is already at the name (a 0644 file, a symbolic link) is replaced
# by the new file, never written through.
printf 'old export\n' >"$T/audit.txt"
chmod 0644 "$T/audit.txt"
printf 'not an export\n' >"$T/victim"
ln -s "$T/victim" "$T/audit-link.txt"
old_umask=$(umask)
umask 022
run 0 "audit --export" env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" audit --issuer-pub "$IPUB" --export "$T/audit.txt"
expect out "exported [0-9]+ entries" "audit --export reports"
run 0 "audit --export to a symbolic link's name" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" audit --issuer-pub "$IPUB" --export "$T/audit-link.txt"
umask "$old_umask"
m=$(stat -c %a "$T/audit.txt")
[ "$m" = 600 ] && ok "audit --export writes mode 0600 under umask 022 (over a 0644 file)" ||
    not_ok "audit --export wrote mode $m, not 600"
[ ! -L "$T/audit-link.txt" ] && [ "$(stat -c %a "$T/audit-link.txt")" = 600 ] &&
    [ "$(cat "$T/victim")" = "not an export" ] &&
    ok "audit --export replaces a symbolic link, the file it pointed at untouched" ||
    not_ok "audit --export wrote through a symbolic link"
[ -z "$(find "$T" -maxdepth 1 -name 'audit*.txt.*')" ] && ok "audit --export leaves no temporary file" ||
    not_ok "audit --export left $(find "$T" -maxdepth 1 -name 'audit*.txt.*')"
run 0 "audit --verify-file, offline (no card)" "$ADMIN" audit --verify-file "$T/audit.txt" --issuer-pub "$IPUB"
expect out "audit log verified" "audit --verify-file: verified"

# flip FILE LINE POS: change the hex digit at POS (1-based) of line LINE.
flip() {
    awk -v l="$2" -v p="$3" 'NR == l {
        c = substr($0, p, 1); d = (c == "0") ? "1" : "0";
        $0 = substr($0, 1, p - 1) d substr($0, p + 1) } { print }' "$1"
}
# Every byte of every entry changed (one at a time): the entry is named.
entries=$(grep -c '^entry ' "$T/audit.txt")
[ "$entries" -ge 3 ] && ok "export holds $entries entries" || not_ok "export holds $entries entries"
grep -n '^entry ' "$T/audit.txt" | while IFS=: read -r line rest; do
    hex=${rest#entry }
    seq=$(printf '%d' "0x$(printf '%s' "$hex" | cut -c1-8)")
    len=${#hex}
    bad=0 pos=7 # "entry " is 6 characters; byte k starts at 7 + 2k
    while [ "$pos" -le $((6 + len)) ]; do
        flip "$T/audit.txt" "$line" "$pos" >"$T/doctored.txt"
        setsid -w "$ADMIN" audit --verify-file "$T/doctored.txt" --issuer-pub "$IPUB" \
            </dev/null >/dev/null 2>"$T/verr"
        rc=$?
        if [ "$rc" -ne 1 ] || ! grep -qE "entry $seq (altered|is malformed)" "$T/verr"; then
            bad=$((bad + 1))
            echo "# byte at $pos of entry $seq: rc $rc, $(cat "$T/verr")"
        fi
        pos=$((pos + 2))
    done
    [ "$bad" -eq 0 ] && echo "ok - every byte of entry $seq changed: named" \
        || echo "not ok - entry $seq: $bad changed bytes not named"
done >"$T/flips"
cat "$T/flips"
n=$((n + $(grep -c '^ok' "$T/flips") + $(grep -c '^not ok' "$T/flips")))
fails=$((fails + $(grep -c '^not ok' "$T/flips")))
# Each entry removed: named missing.
grep -n '^entry ' "$T/audit.txt" | while IFS=: read -r line rest; do
    hex=${rest#entry }
    seq=$(printf '%d' "0x$(printf '%s' "$hex" | cut -c1-8)")
    sed "${line}d" "$T/audit.txt" >"$T/doctored.txt"
    setsid -w "$ADMIN" audit --verify-file "$T/doctored.txt" --issuer-pub "$IPUB" \
        </dev/null >/dev/null 2>"$T/verr"
    rc=$?
    if [ "$rc" -eq 1 ] && grep -q "entry $seq missing" "$T/verr"; then
        echo "ok - entry $seq removed: named missing"
    else
        echo "not ok - entry $seq removed: rc $rc, $(cat "$T/verr")"
    fi
done >"$T/removes"
cat "$T/removes"
n=$((n + $(grep -c '^ok' "$T/removes") + $(grep -c '^not ok' "$T/removes")))
fails=$((fails + $(grep -c '^not ok' "$T/removes")))
flip "$T/audit.txt" "$(grep -n '^head-sig ' "$T/audit.txt" | cut -d: -f1)" 12 >"$T/doctored.txt"
run 1 "verify-file: a changed head signature" "$ADMIN" audit --verify-file "$T/doctored.txt" --issuer-pub "$IPUB"
expect err "head signature" "verify-file: names the head signature"
run 0 "audit --export --ack" env KEYCARD_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" audit --export "$T/audit2.txt" --ack --issuer-pub "$IPUB"
expect out "acknowledged entries below [0-9]+" "audit --ack acknowledges the verified export"

run 1 "kc-startup with a wrong holder PIN" env KEYCARD_HOLDER_PIN=111111 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
expect err "holder PIN.*2 tries left" "wrong holder PIN: 2 tries left"
run 2 "kc-startup with a malformed holder PIN" env KEYCARD_HOLDER_PIN=12ab \
    "$STARTUP" --sim "$CARD" --config "$STATION"
run 0 "kc-startup with the right PIN resets the tries" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$STATION"

sed 's/13579135/13579136/' "$STATION" >"$T/station-wrong.json"
cp examples/profiles/demo-issuer.pub.pem "$T/"
run 1 "kc-startup with a wrong issuer PIN in the station config" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$T/station-wrong.json"
expect err "issuer PIN.*2 tries left" "wrong issuer PIN: tries left"
printf '{"station":"keycard/1","issuer_pin":{"value":"13579135"},"issuer_public_key":"demo-issuer.pub.pem","colour":1}\n' >"$T/station-bad.json"
run 2 "station config with an unknown field" "$STARTUP" --sim "$CARD" --config "$T/station-bad.json"
expect err '\$\.colour: unknown field' "station config error names the path"

# ---- change-pin -------------------------------------------------------------------
run 0 "change holder PIN via env" env KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810 \
    KEYCARD_NEW_PIN=112233 "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" holder
run 1 "old holder PIN no longer works" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
run 0 "new holder PIN works" env KEYCARD_HOLDER_PIN=112233 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
printf '112233\n' >"$T/old.pin"
printf '246810\n' >"$T/new.pin"
run 0 "change holder PIN back via files" "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" holder \
    --issuer-pin-file "$T/issuer.pin" --old-file "$T/old.pin" --new-file "$T/new.pin"
run 1 "change holder PIN with a wrong old PIN" env KEYCARD_ISSUER_PIN=13579135 \
    KEYCARD_HOLDER_PIN=999999 KEYCARD_NEW_PIN=112233 "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" holder
expect err "tries left" "wrong old PIN: tries left"
run 2 "change holder PIN to a malformed PIN" env KEYCARD_ISSUER_PIN=13579135 \
    KEYCARD_HOLDER_PIN=246810 KEYCARD_NEW_PIN=12 "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" holder
run 0 "change issuer PIN via env" env KEYCARD_ISSUER_PIN=13579135 KEYCARD_NEW_PIN=86420864 \
    "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" issuer
run 0 "change issuer PIN back" env KEYCARD_ISSUER_PIN=86420864 KEYCARD_NEW_PIN=13579135 \
    "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" issuer
NEWKEY=00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF
run 0 "change admin key to a 32-byte key" env KEYCARD_ADMIN_KEY=$AKEY KEYCARD_NEW_ADMIN_KEY=$NEWKEY \
    "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" admin
run 0 "audit with the new admin key" env KEYCARD_ADMIN_KEY=$NEWKEY "$ADMIN" --sim "$CARD" audit --issuer-pub "$IPUB"
expect out "pin-changed|changed" "audit shows the PIN changes"
run 0 "change admin key back" env KEYCARD_ADMIN_KEY=$NEWKEY KEYCARD_NEW_ADMIN_KEY=$AKEY \
    "$ADMIN" --sim "$CARD" change-pin --issuer-pub "$IPUB" admin

# ---- block and unblock ---------------------------------------------------------------
for i in 1 2; do
    run 1 "wrong holder PIN $i" env KEYCARD_HOLDER_PIN=000000 "$STARTUP" --sim "$CARD" --config "$STATION"
done
run 1 "wrong holder PIN 3 blocks it" env KEYCARD_HOLDER_PIN=000000 "$STARTUP" --sim "$CARD" --config "$STATION"
expect err "blocked" "third wrong PIN: blocked"
run 1 "right holder PIN refused while blocked" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
expect err "blocked" "blocked PIN: says blocked"
run 0 "info shows BLOCKED" "$ADMIN" --sim "$CARD" info
expect out "holder PIN: +BLOCKED" "info: holder PIN BLOCKED"
run 0 "unblock holder with --admin-key-file" "$ADMIN" --sim "$CARD" unblock --issuer-pub "$IPUB" holder \
    --admin-key-file "$T/admin.key"
run 0 "holder PIN works after unblock" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
run 1 "unblock with a wrong admin key" env KEYCARD_ADMIN_KEY=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF \
    "$ADMIN" --sim "$CARD" unblock --issuer-pub "$IPUB" holder
run 0 "unblock holder with a new PIN from env" env KEYCARD_ADMIN_KEY=$AKEY KEYCARD_NEW_PIN=555555 \
    "$ADMIN" --sim "$CARD" unblock --issuer-pub "$IPUB" holder --new-pin
run 0 "new PIN set by unblock works" env KEYCARD_HOLDER_PIN=555555 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
run 0 "unblock holder with a new PIN from a file" "$ADMIN" --sim "$CARD" unblock --issuer-pub "$IPUB" holder \
    --admin-key-file "$T/admin.key" --new-file "$T/new.pin"
run 0 "PIN from the file works" env KEYCARD_HOLDER_PIN=246810 \
    "$STARTUP" --sim "$CARD" --config "$STATION"
run 0 "audit after unblock" env KEYCARD_ADMIN_KEY=$AKEY "$ADMIN" --sim "$CARD" audit --issuer-pub "$IPUB"
expect out "pin-blocked|blocked +holder PIN" "audit shows the block"
expect out "unblocked +holder PIN" "audit shows the unblock"

echo "30-admin: $n checks, $fails failed"
[ "$fails" -eq 0 ]
