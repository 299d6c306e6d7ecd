#!/bin/sh
# heads.sh - part of `make bench` (run by tests/bench/run.sh under the pcscd
# lock): cards/h of kc-issue --all with N = 1, 2, 4, 8 target heads on one
# key card, over one pcscd with eight vpcd readers (KC_VC_STATIONS=8 in
# tests/vcards.sh; the key card in station 1's slot 0, a stacker of blank
# cards in each head's slot 1). Every figure is the whole line's: card
# changes (eject, the next card from the stacker) included. kc-issue also
# says how long the key card was busy per card, hence its own limit.
# Writes $W/heads.json: {"heads_N_cards_per_hour", "heads_N_cards",
# "heads_N_keycard_busy_ms_per_card"} for each N.
#
#   B=build W=DIR sh tests/bench/heads.sh      (KC_BENCH_HEAD_CARDS: cards per head, default 6)
set -u
B=${B:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
W=${W:-$B/bench/work}
M=${KC_BENCH_HEAD_CARDS:-6}
PROFILE=examples/profiles/standard.json
KC_VC_STATIONS=8
KC_VCARD_STATE=$W/heads-keycard.state
KC_TARGET_STACK=$W/heads-stack
export KC_VC_STATIONS KC_VCARD_STATE KC_TARGET_STACK
. tests/vcards.sh
trap vc_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export KEYCARD_ISSUER_PIN=${KEYCARD_ISSUER_PIN:-13579135} KEYCARD_HOLDER_PIN=${KEYCARD_HOLDER_PIN:-246810}
export KEYCARD_ADMIN_KEY=${KEYCARD_ADMIN_KEY:-000102030405060708090A0B0C0D0E0F}
PUB=examples/profiles/demo-issuer.pub.pem
rm -f "$KC_VCARD_STATE" "$KC_VCARD_STATE".*
echo "{" >"$W/heads.json"
sep=""
for hn in 1 2 4 8; do
    hk=1
    while [ $hk -le 8 ]; do
        st=$(vc_station_stack $hk)
        rm -rf "$st"
        mkdir -p "$st" || exit 1
        if [ $hk -le $hn ]; then
            vc_stack_make "$st" "$M" "4845$(printf '%02X%02X' "$hn" "$hk")0000" || exit 1
        fi
        hk=$((hk + 1))
    done
    vc_up >/dev/null || { echo "bench: heads: virtual cards did not start" >&2; exit 1; }
    # The key card refuses issuance with 112 unacknowledged log entries: a clean log per run.
    "$B/bin/kc-admin" --reader "$VC_KEYCARD_READER" audit --export "$W/heads-$hn.export" --ack \
        --issuer-pub "$PUB" >"$W/heads-$hn.ack" 2>&1 ||
        { echo "bench: heads: audit export: $(tail -n 1 "$W/heads-$hn.ack")" >&2; exit 1; }
    set --
    hk=1
    while [ $hk -le $hn ]; do
        set -- "$@" --target-reader "$(vc_station_target_reader $hk)"
        hk=$((hk + 1))
    done
    "$B/bin/kc-issue" --config examples/profiles/demo-station.json --profile "$PROFILE" --all \
        --wait 2 --json --reader "$VC_KEYCARD_READER" "$@" >"$W/heads-$hn.json" 2>"$W/heads-$hn.err"
    rc=$?
    vc_down
    /usr/bin/python3 - "$W/heads-$hn.json" "$W/heads-$hn.err" "$hn" "$M" "$rc" >"$W/heads-$hn.fig" <<'PY' ||
import json, re, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
err = open(sys.argv[2]).read()
n, m, rc = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = docs[-1] if docs else {}
if rc != 0 or s.get("type") != "summary" or s["issued"] != n * m or not s.get("cards_per_hour"):
    sys.exit("bench: heads %d: exit %d, %s; %s" % (n, rc, s, err.strip().splitlines()[-3:]))
busy = re.search(r"key card busy ([0-9.]+) ms per card", err)
if n > 1 and not busy:
    sys.exit("bench: heads %d: kc-issue said nothing of the key card's busy time" % n)
print('"heads_%d_cards_per_hour": %.1f, "heads_%d_cards": %d, "heads_%d_keycard_busy_ms_per_card": %s'
      % (n, s["cards_per_hour"], n, s["issued"], n, busy.group(1) if busy else "null"))
PY
        { cat "$W/heads-$hn.fig" >&2; exit 1; }
    printf '%s%s\n' "$sep" "$(cat "$W/heads-$hn.fig")" >>"$W/heads.json"
    sep=", "
    echo "bench: heads $hn: $(cat "$W/heads-$hn.fig")"
done
echo "}" >>"$W/heads.json"
