#!/bin/sh
# 23-readers-json.sh - reader choice and machine-readable output, as a script
# (or an operator at a counter) uses them over real PC/SC:
#   (a) `kc-admin readers` names each reader with its number and what is in it
#       (key card, target card), from pcscd's view: no APDU reaches a card;
#   (b) --reader takes a number, the exact name or a unique part of it, and
#       KEYCARD_READER; a part that fits two readers is refused naming both
#       (exit 2), a number past the end of the list says how many there are
#       (exit 1);
#   (c) --json of info, keys, templates, audit and readers parses
#       (python3 -m json.tool) with the documented field names, and nothing
#       but the document is on stdout;
#   (d) a piped run writes no escape byte;
#   (e) kc-vcard --trace logs each command's header, its status word and time,
#       and not one data byte: not the issuer PIN the info above sent.
set -u
. tests/vcards.sh
vc_lock "$0" "$@"

T=$(mktemp -d "${TMPDIR:-/tmp}/kc-23-readers.XXXXXX") || exit 1
KC_VCARD_STATE=$T/keycard.state
VC_STATE=$KC_VCARD_STATE
KC_PCSCD_APDU_LOG=1
KC_VCARD_TRACE=1 # the card side's trace, read in (e)
export KC_PCSCD_APDU_LOG KC_VCARD_TRACE
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
trap 'vc_down; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
ADMIN="$B/bin/kc-admin"
export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
PUB=examples/profiles/demo-issuer.pub.pem

vc_up >/dev/null || { echo "FAIL: virtual cards did not start" >&2; exit 1; }

# (a) the list, with no APDU sent
before=$(grep -c 'APDU: ' "$VC_DIR/pcscd.log")
"$ADMIN" readers >"$T/readers.txt" 2>&1
rc=$?
after=$(grep -c 'APDU: ' "$VC_DIR/pcscd.log")
cat "$T/readers.txt"
if [ $rc -eq 0 ] && grep -q "^0  $VC_KEYCARD_READER .* key card$" "$T/readers.txt" &&
    grep -q "^1  $VC_TARGET_READER .* target card$" "$T/readers.txt" && [ "$before" = "$after" ]; then
    ok "readers: numbered, the key card and the target card told apart, no APDU sent"
else
    fail "readers (rc $rc, APDUs $before -> $after)"
fi

# (b) reader choice
serial_of() { "$ADMIN" "$@" info --json 2>"$T/err" | python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])'; }
want=$(serial_of --reader "$VC_KEYCARD_READER")
[ -n "$want" ] && ok "by exact name: serial $want" || fail "by exact name: $(cat "$T/err")"
[ "$(serial_of --reader 0)" = "$want" ] && ok "by number 0" || fail "by number: $(cat "$T/err")"
[ "$(serial_of --reader '00 00')" = "$want" ] && ok "by a unique part ('00 00')" ||
    fail "by a part: $(cat "$T/err")"
[ "$(serial_of --reader 'keycard virtual reader 00 00')" = "$want" ] && ok "a part, case ignored" ||
    fail "case: $(cat "$T/err")"
[ "$(KEYCARD_READER=0 serial_of)" = "$want" ] && ok "KEYCARD_READER=0" || fail "KEYCARD_READER: $(cat "$T/err")"
"$ADMIN" --reader virtual info >"$T/amb.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "matches 2 readers: 0 '$VC_KEYCARD_READER', 1 '$VC_TARGET_READER'" "$T/amb.out"; then
    ok "an ambiguous part: exit 2, both named ($(head -n 1 "$T/amb.out" | cut -c1-100))"
else
    fail "ambiguous part (rc $rc): $(cat "$T/amb.out")"
fi
"$ADMIN" --reader 7 info >"$T/num.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'no reader number 7: there are 2 (0..1' "$T/num.out" &&
    ok "a number past the list: exit 1" || fail "number past the list (rc $rc): $(cat "$T/num.out")"

# (c) JSON documents
check_json() { # NAME FILE PYTHON-ASSERTION
    if python3 -m json.tool "$2" >/dev/null 2>&1 &&
        python3 -c "import json,sys; d=json.load(open('$2')); assert $3, d" 2>"$T/py.err"; then
        ok "$1 --json parses: $(cut -c1-110 "$2")"
    else
        fail "$1 --json: $(cat "$2" "$T/py.err" | head -5)"
    fi
}
"$ADMIN" readers --json >"$T/r.json" 2>/dev/null
check_json readers "$T/r.json" "[r['kind'] for r in d['readers']] == ['keycard', 'target'] and d['readers'][1]['index'] == 1 and d['readers'][0]['card'] is True"
"$ADMIN" --reader 0 --json info --issuer-pub "$PUB" >"$T/i.json" 2>/dev/null
check_json info "$T/i.json" "d['lifecycle'] == 'provisioned' and d['channel'] == 'certified' and d['tries']['issuer'] == 3 and d['audit']['capacity'] > 0"
"$ADMIN" --reader 0 keys --json --issuer-pub "$PUB" >"$T/k.json" 2>/dev/null
check_json keys "$T/k.json" "len(d['keys']) > 0 and set(d['keys'][0]) == {'number', 'type', 'flags', 'kcv', 'version', 'retired', 'label'} and d['keys'][0]['version'] == 1 and d['keys'][0]['retired'] is None and 'envelope' in d['keys'][0]['flags']"
"$ADMIN" --reader 0 templates --json --issuer-pub "$PUB" >"$T/t.json" 2>/dev/null
check_json templates "$T/t.json" "len(d['templates']) > 0 and set(d['templates'][0]) == {'number', 'label'}"
"$ADMIN" --reader 0 audit --json --issuer-pub "$PUB" >"$T/a.json" 2>/dev/null
check_json audit "$T/a.json" "len(d['entries']) > 0 and {'seq', 'time', 'event', 'detail', 'data'} <= set(d['entries'][0])"
[ "$(wc -l <"$T/i.json")" -eq 1 ] && ok "info --json: one line on stdout" || fail "info --json: more than the document"

# (d) no escape bytes when piped
if "$ADMIN" --reader 0 info 2>&1 | od -An -c | grep -q '033'; then
    fail "a piped run wrote an escape byte"
else
    ok "a piped run writes no escape byte"
fi

KEYCARD_ISSUER_PIN=13579135 "$ADMIN" --reader 0 info --issuer-pin --issuer-pub "$PUB" --json \
    >"$T/ip.json" 2>"$T/ip.err"
check_json "info --issuer-pin" "$T/ip.json" "d['tries']['issuer'] == 3"

# (e) the card side's trace
vlog=$VC_DIR/kc-vcard-keycard.log
if grep -Eq 'trace: > 00 A4 04 00 \[[0-9]+ bytes\]' "$vlog" && grep -Eq 'trace: < 9000 \[[0-9]+ bytes\] \([0-9.]+ ms\)' "$vlog" &&
    ! grep 'trace: ' "$vlog" | grep -Eqi '3133353739313335|13579135|F04B4559'; then
    ok "kc-vcard --trace: $(grep -c 'trace: >' "$vlog") commands with header, SW and time; no data bytes"
else
    fail "kc-vcard --trace: $(grep 'trace: ' "$vlog" | head -4 | tr '\n' '|')"
fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
