#!/bin/sh
# vcards.sh - start and stop the project's virtual PC/SC cards: a private
# pcscd with the two-slot vpcd reader, and kc-vcard running the key card
# (provisioned from examples/profiles/demo.json) in slot 0 and, in slot 1,
# a blank target card made with `kc-admin target-manufacture`, or a stacker
# of blank target cards (KC_TARGET_STACK).
#
#   sh tests/vcards.sh up|down|status      (make vcards-up / vcards-down)
#   . tests/vcards.sh; vc_up; ...; vc_down (integration tests)
#
# pcscd runs with $B/lib/kc-vpcd-loopback.so preloaded (tests/pcscd/
# vpcd_loopback.c): vpcd's card ports listen on 127.0.0.1 only.
#
# Run from the top of the tree. Environment: B (build dir, default build),
# KC_VPCD_PORT (default 35963 = 0x8C7B), KC_PCSCD_APDU_LOG=1 (pcscd -a: APDUs
# in $B/vcards/pcscd.log), KC_VPCD_LIB (the vpcd driver), KC_VCARD_STATE (the
# key card's state file, default $B/vcards/keycard.state; tests use their own),
# KC_TARGET_STATE (the target card's, default $B/vcards/target.state; made
# blank by kc-admin target-manufacture when missing), KC_TARGET_STACK=DIR
# (slot 1 is a stacker serving DIR/*.card: kc-vcard --stack),
# KC_VCARD_PROFILE (the profile the key card is provisioned from and the
# targets are manufactured for, default examples/profiles/demo.json),
# KC_VCARDS_TARGET=0 (leave slot 1 empty), KC_VC_TARGET_NO_PACKED=1 (the
# targets refuse packed sessions: kc-vcard --no-packed).
#
# Several stations: KC_VC_STATIONS=N (default 1: the above, nothing else).
# Station 1 is the reader above; station k = 2..N gets a vpcd reader entry of
# its own, "Keycard Station k Reader" (slots "... 00 00" key card, "... 00 01"
# target), on ports KC_VPCD_PORT + 2*(k-1) and +1, in the same pcscd; its own
# key card (state VC_STATE_k, default "$VC_STATE.k", provisioned from the same
# profile: same keys, a serial of its own) and its own target (stacker
# VC_TARGET_STACK_k, default "$VC_TARGET_STACK.k" when KC_TARGET_STACK is set;
# else the single image VC_TARGET_STATE_k, default "$VC_TARGET_STATE.k",
# serial 5441524745 kk 0001). Per station k (1 included):
#   vc_station_keycard_reader k, vc_station_target_reader k  (reader names;
#   also set as VC_KEYCARD_READER_k, VC_TARGET_READER_k), vc_station_state k,
#   vc_station_stack k, vc_station_port k; vc_card_start NAME SLOT STATE k,
#   vc_card_stop NAME k, vc_target_start k, vc_provision k. Station k's
#   kc-vcard PID files are kc-vcard-keycard-k.pid, kc-vcard-target-k.pid.
#
# Only one pcscd can run on a machine (fixed socket), so every user holds
# /tmp/kc-pcscd.lock: `up` takes it and its background processes inherit it,
# holding it until `down` stops them; integration tests take it around
# themselves (vc_lock). Processes are stopped by the PIDs recorded here, never
# by name.

B=${B:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
VC_DIR=$B/vcards
VC_PORT=${KC_VPCD_PORT:-35963}
VC_VPCD_LIB=${KC_VPCD_LIB:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
VC_LOOPBACK=$B/lib/kc-vpcd-loopback.so
VC_SOCKET=/run/pcscd/pcscd.comm
VC_LOCK=/tmp/kc-pcscd.lock
VC_READER="Keycard Virtual Reader"
VC_KEYCARD_READER="$VC_READER 00 00"
VC_TARGET_READER="$VC_READER 00 01"
VC_STATE=${KC_VCARD_STATE:-$VC_DIR/keycard.state}
VC_TARGET_STATE=${KC_TARGET_STATE:-$VC_DIR/target.state}
VC_TARGET_STACK=${KC_TARGET_STACK:-}
VC_PROFILE=${KC_VCARD_PROFILE:-examples/profiles/demo.json}
VC_STATIONS=${KC_VC_STATIONS:-1}
case $VC_STATIONS in '' | *[!0-9]* | 0*) VC_STATIONS=1 ;; esac
VC_PY=/usr/bin/python3
VC_APDU="$VC_PY $(pwd)/tests/pcscd/pcsc_apdu.py"

vc_log() { echo "vcards: $*" >&2; }

# ---- stations (KC_VC_STATIONS): station 1 is the reader of old ------------
# vc_station_port K: vpcd port of station K's slot 0 (slot 1: the next one).
vc_station_port() { echo $((VC_PORT + 2 * (${1:-1} - 1))); }
# vc_station_reader K: the reader's FRIENDLYNAME.
vc_station_reader() {
    if [ "${1:-1}" = 1 ]; then echo "$VC_READER"; else echo "Keycard Station $1 Reader"; fi
}
vc_station_keycard_reader() {
    if [ "${1:-1}" = 1 ]; then echo "$VC_KEYCARD_READER"; else echo "$(vc_station_reader "$1") 00 00"; fi
}
vc_station_target_reader() {
    if [ "${1:-1}" = 1 ]; then echo "$VC_TARGET_READER"; else echo "$(vc_station_reader "$1") 00 01"; fi
}
# vc_station_tag K: the suffix of station K's PID and log files ("" for 1).
vc_station_tag() { [ "${1:-1}" = 1 ] || echo "-$1"; }
# vc_station_state K: the key card's state file.
vc_station_state() {
    if [ "${1:-1}" = 1 ]; then echo "$VC_STATE"; else eval "echo \"\${VC_STATE_$1:-\$VC_STATE.$1}\""; fi
}
# vc_station_stack K: the target stacker directory ("" = a single target).
vc_station_stack() {
    if [ "${1:-1}" = 1 ]; then
        echo "$VC_TARGET_STACK"
    else
        eval "echo \"\${VC_TARGET_STACK_$1:-\${VC_TARGET_STACK:+\$VC_TARGET_STACK.$1}}\""
    fi
}
# vc_station_target_state K: the single target card's image.
vc_station_target_state() {
    if [ "${1:-1}" = 1 ]; then echo "$VC_TARGET_STATE"; else eval "echo \"\${VC_TARGET_STATE_$1:-\$VC_TARGET_STATE.$1}\""; fi
}
vc_k=1
while [ "$vc_k" -le "$VC_STATIONS" ]; do
    eval "VC_KEYCARD_READER_$vc_k=\$(vc_station_keycard_reader $vc_k)"
    eval "VC_TARGET_READER_$vc_k=\$(vc_station_target_reader $vc_k)"
    vc_k=$((vc_k + 1))
done
unset vc_k

# Re-run the calling script under the pcscd lock unless it holds it already.
# Usage (first line of a test): vc_lock "$0" "$@"
vc_lock() {
    [ -n "${KC_PCSCD_LOCKED:-}" ] && return 0
    KC_PCSCD_LOCKED=1 exec flock -w 300 -E 75 "$VC_LOCK" sh "$@"
}

# vc_alive PID: the process exists and is not a zombie.
vc_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ "$st" != Z ]
}

# vc_stop_pidfile FILE NAME: stop the process recorded in FILE, if it is
# still the NAME we started (guards against a reused PID), then remove FILE.
vc_stop_pidfile() {
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    if vc_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
        kill -TERM "$pid" 2>/dev/null
        n=0
        while vc_alive "$pid" && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
        if vc_alive "$pid"; then
            vc_log "$2 (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null
            sleep 0.1
        fi
        wait "$pid" 2>/dev/null # reaps it when it is our child; no-op otherwise
    fi
    rm -f "$1"
}

# 0 when some process accepts connections on the pcscd socket.
vc_socket_live() {
    [ -S "$VC_SOCKET" ] || return 1
    "$VC_PY" -c 'import socket,sys
s=socket.socket(socket.AF_UNIX)
try: s.connect(sys.argv[1])
except OSError: sys.exit(1)' "$VC_SOCKET" 2>/dev/null
}

# One reader entry per station: keycard-vpcd (station 1), keycard-vpcd-K.
# vpcd keeps its card connections in one static array indexed by slot only
# (ifd-vpcd.c: ctx[Lun & 0xffff]), so two readers on one loaded copy of the
# driver share their slots' cards. Station K >= 2 therefore gets a copy of
# the driver file of its own ($VC_DIR/vpcd/libifdvpcd-K.so): another file,
# another dlopen, another array.
vc_write_conf() {
    mkdir -p "$VC_DIR/reader.conf.d" || return 1
    rm -f "$VC_DIR/reader.conf.d"/keycard-vpcd-*
    vc_k=1
    while [ "$vc_k" -le "$VC_STATIONS" ]; do
        vc_port_k=$(vc_station_port "$vc_k")
        vc_hex=$(printf '0x%X' "$vc_port_k")
        vc_lib=$VC_VPCD_LIB
        if [ "$vc_k" -gt 1 ]; then
            vc_lib=$VC_DIR/vpcd/libifdvpcd-$vc_k.so
            mkdir -p "$VC_DIR/vpcd" && rm -f "$vc_lib" && cp "$VC_VPCD_LIB" "$vc_lib" || return 1
        fi
        sed -e "s|@PORT_HEX@|$vc_hex|g" -e "s|@PORT@|$vc_port_k|g" -e "s|@VPCD_LIB@|$vc_lib|g" \
            -e "s|^FRIENDLYNAME .*|FRIENDLYNAME \"$(vc_station_reader "$vc_k")\"|" \
            tests/pcscd/reader.conf.in >"$VC_DIR/reader.conf.d/keycard-vpcd$(vc_station_tag "$vc_k")" ||
            return 1
        vc_k=$((vc_k + 1))
    done
}

# Start our pcscd; refuse when another one owns the socket.
vc_pcscd_start() {
    if vc_alive "$(cat "$VC_DIR/pcscd.pid" 2>/dev/null)"; then
        vc_log "pcscd already running (pid $(cat "$VC_DIR/pcscd.pid")); run 'make vcards-down' first"
        return 1
    fi
    if vc_socket_live; then
        vc_log "another pcscd owns $VC_SOCKET; stop it first (e.g. systemctl stop pcscd.socket pcscd)"
        return 1
    fi
    [ -f "$VC_VPCD_LIB" ] || { vc_log "vpcd driver $VC_VPCD_LIB missing (apt-get install vsmartcard-vpcd)"; return 1; }
    [ -f "$VC_LOOPBACK" ] || { vc_log "$VC_LOOPBACK not built (run make)"; return 1; }
    vc_write_conf || return 1
    set -- -f -c "$VC_DIR/reader.conf.d"
    [ "${KC_PCSCD_APDU_LOG:-0}" = 1 ] && set -- "$@" -a
    # vpcd listens for the cards on every address; the preload keeps it on
    # loopback, so no host on the network can attach as a card.
    LD_PRELOAD=$VC_LOOPBACK pcscd "$@" </dev/null >>"$VC_DIR/pcscd.log" 2>&1 &
    echo $! >"$VC_DIR/pcscd.pid"
    n=0
    while ! vc_socket_live; do
        if ! vc_alive "$(cat "$VC_DIR/pcscd.pid")" || [ $n -ge 100 ]; then
            vc_log "pcscd did not start; last lines of $VC_DIR/pcscd.log:"
            tail -n 5 "$VC_DIR/pcscd.log" >&2
            vc_stop_pidfile "$VC_DIR/pcscd.pid" pcscd
            return 1
        fi
        sleep 0.1
        n=$((n + 1))
    done
}

vc_pcscd_stop() { vc_stop_pidfile "$VC_DIR/pcscd.pid" pcscd; }

# vc_provision [K]: provision station K's key card state once, when kc-admin
# exists (each provisioning makes a key card of its own serial).
vc_provision() {
    vc_st=$(vc_station_state "${1:-1}")
    vc_plog=$VC_DIR/provision$(vc_station_tag "${1:-1}").log
    [ -f "$vc_st.provisioned" ] && [ -f "$vc_st" ] && return 0
    rm -f "$vc_st.provisioned"
    if [ ! -x "$B/bin/kc-admin" ]; then
        vc_log "warning: $B/bin/kc-admin not built; key card left blank"
        return 0
    fi
    if "$B/bin/kc-admin" --sim "$vc_st" provision "$VC_PROFILE" >"$vc_plog" 2>&1; then
        touch "$vc_st.provisioned"
    else
        vc_log "provisioning the key card failed: $(tail -n 1 "$vc_plog")"
        return 1
    fi
}

# vc_card_start NAME SLOT STATE [K]: run kc-vcard with a card in a slot of
# station K's reader (default 1).
vc_card_start() {
    [ -x "$B/bin/kc-vcard" ] || { vc_log "$B/bin/kc-vcard not built (run make)"; return 1; }
    vc_tag=$1$(vc_station_tag "${4:-1}")
    if vc_alive "$(cat "$VC_DIR/kc-vcard-$vc_tag.pid" 2>/dev/null)"; then
        vc_log "kc-vcard for the $vc_tag card already running"
        return 1
    fi
    # shellcheck disable=SC2086
    vc_np=""
    [ "$1" = target ] && [ -n "${KC_VC_TARGET_NO_PACKED:-}" ] && vc_np=--no-packed
    "$B/bin/kc-vcard" --card "$1" --state "$3" --port "$(vc_station_port "${4:-1}")" --reader-slot "$2" \
        ${KC_VCARD_TRACE:+--trace} $vc_np </dev/null >>"$VC_DIR/kc-vcard-$vc_tag.log" 2>&1 &
    echo $! >"$VC_DIR/kc-vcard-$vc_tag.pid"
}

# vc_target_make FILE SERIAL: a blank (manufactured, not issued) target card
# image with the 16-hex-digit SERIAL and the envelope keys of the profile.
vc_target_make() {
    [ -x "$B/bin/kc-admin" ] || { vc_log "$B/bin/kc-admin not built (run make)"; return 1; }
    mkdir -p "$VC_DIR" || return 1
    if ! "$B/bin/kc-admin" target-manufacture --profile "$VC_PROFILE" --serial "$2" --out "$1" \
        >>"$VC_DIR/manufacture.log" 2>&1; then
        vc_log "manufacturing target $2 into $1 failed: $(tail -n 1 "$VC_DIR/manufacture.log")"
        return 1
    fi
}

# vc_stack_make DIR N [PREFIX]: DIR holds N blank target images 001.card ..,
# serials PREFIX (12 hex digits, default 544152474554 = "TARGET") || 0001 ...
vc_stack_make() {
    mkdir -p "$1" || return 1
    i=1
    while [ "$i" -le "$2" ]; do
        vc_target_make "$1/$(printf '%03d' "$i").card" "${3:-544152474554}$(printf '%04X' "$i")" ||
            return 1
        i=$((i + 1))
    done
}

# vc_target_start [K]: slot 1 of station K (default 1) gets the stacker
# (KC_TARGET_STACK; vc_station_stack K) or the single target card
# (manufactured blank when its image is missing).
vc_target_start() {
    vc_tk=${1:-1}
    vc_stack=$(vc_station_stack "$vc_tk")
    if [ -n "$vc_stack" ]; then
        [ -x "$B/bin/kc-vcard" ] || { vc_log "$B/bin/kc-vcard not built (run make)"; return 1; }
        vc_tag=target$(vc_station_tag "$vc_tk")
        if vc_alive "$(cat "$VC_DIR/kc-vcard-$vc_tag.pid" 2>/dev/null)"; then
            vc_log "kc-vcard for the $vc_tag card already running"
            return 1
        fi
        # shellcheck disable=SC2086
        "$B/bin/kc-vcard" --card target --stack "$vc_stack" --port "$(vc_station_port "$vc_tk")" \
            --reader-slot 1 ${KC_VC_TARGET_NO_PACKED:+--no-packed} \
            </dev/null >>"$VC_DIR/kc-vcard-$vc_tag.log" 2>&1 &
        echo $! >"$VC_DIR/kc-vcard-$vc_tag.pid"
        # An empty stack leaves the slot empty: nothing to wait for.
        ls "$vc_stack"/*.card >/dev/null 2>&1 || return 0
    else
        vc_tst=$(vc_station_target_state "$vc_tk")
        if [ ! -f "$vc_tst" ]; then
            vc_target_make "$vc_tst" "5441524745$(printf '%02X' "$vc_tk")0001" || return 1
        fi
        vc_card_start target 1 "$vc_tst" "$vc_tk" || return 1
    fi
    vc_wait_card "$(vc_station_target_reader "$vc_tk")"
}

# vc_card_stop NAME: stop its kc-vcard and, while pcscd runs, wait until
# pcscd has seen the card leave (else a client could still connect to the
# stale card and fail on its first command).
# vc_card_stop NAME [K]: the same for station K's card (default 1).
vc_card_stop() {
    [ -f "$VC_DIR/kc-vcard-$1$(vc_station_tag "${2:-1}").pid" ] || return 0
    vc_stop_pidfile "$VC_DIR/kc-vcard-$1$(vc_station_tag "${2:-1}").pid" kc-vcard
    case $1 in
    target) vc_wait_empty "$(vc_station_target_reader "${2:-1}")" ;;
    *) vc_wait_empty "$(vc_station_keycard_reader "${2:-1}")" ;;
    esac
}

# vc_wait_empty READER: while our pcscd runs, wait (up to 5 s) until it
# reports no card in READER.
vc_wait_empty() {
    vc_alive "$(cat "$VC_DIR/pcscd.pid" 2>/dev/null)" || return 0
    n=0
    while [ $n -lt 50 ] && $VC_APDU --list 2>/dev/null | grep -qxF "$1 [card]"; do
        sleep 0.1
        n=$((n + 1))
    done
}

# vc_wait_card READER [SECS]: wait until a card is present in READER.
vc_wait_card() {
    n=0
    lim=$(( ${2:-10} * 10 ))
    while [ $n -lt $lim ]; do
        $VC_APDU --list 2>/dev/null | grep -qxF "$1 [card]" && return 0
        sleep 0.1
        n=$((n + 1))
    done
    vc_log "no card appeared in '$1'"
    return 1
}

# vc_sws STEP...: run pcsc_apdu.py steps on the key card reader and print
# only the status words, space-separated (e.g. "9000 63C2").
vc_sws() {
    $VC_APDU --reader "$VC_KEYCARD_READER" "$@" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $NF } END { print "" }'
}

# vc_expect DESC EXPECTED-SWS STEP...: vc_sws, compared; says PASS/FAIL lines.
vc_expect() {
    desc=$1 want=$2
    shift 2
    got=$(vc_sws "$@")
    if [ "$got" = "$want" ]; then
        echo "ok: $desc"
    else
        echo "FAIL: $desc: want [$want], got [$got]" >&2
        return 1
    fi
}

vc_up() {
    mkdir -p "$VC_DIR" || return 1
    vc_pcscd_start || return 1
    if ! vc_provision || ! vc_card_start keycard 0 "$VC_STATE" || ! vc_wait_card "$VC_KEYCARD_READER"; then
        vc_down
        return 1
    fi
    if [ "${KC_VCARDS_TARGET:-1}" = 1 ] && "$B/bin/kc-vcard" --list-cards | grep -qx target; then
        if ! vc_target_start; then
            vc_down
            return 1
        fi
    fi
    vc_k=2
    while [ "$vc_k" -le "$VC_STATIONS" ]; do
        if ! vc_provision "$vc_k" || ! vc_card_start keycard 0 "$(vc_station_state "$vc_k")" "$vc_k" ||
            ! vc_wait_card "$(vc_station_keycard_reader "$vc_k")"; then
            vc_down
            return 1
        fi
        if [ "${KC_VCARDS_TARGET:-1}" = 1 ] && ! vc_target_start "$vc_k"; then
            vc_down
            return 1
        fi
        vc_k=$((vc_k + 1))
    done
    $VC_APDU --list | sed 's/^/vcards: reader: /'
}

# Stops every station's cards that a PID file names (whatever KC_VC_STATIONS
# is now), then pcscd.
vc_down() {
    for f in "$VC_DIR"/kc-vcard-keycard-*.pid "$VC_DIR"/kc-vcard-target-*.pid; do
        [ -f "$f" ] || continue
        vc_stop_pidfile "$f" kc-vcard
    done
    vc_card_stop keycard
    vc_card_stop target
    vc_pcscd_stop
}

vc_status() {
    for f in "$VC_DIR"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        if vc_alive "$pid"; then s=running; else s=dead; fi
        echo "vcards: $(basename "$f" .pid): pid $pid $s"
    done
}

if [ "$(basename -- "$0")" = vcards.sh ]; then
    case ${1:-} in
    up)
        vc_lock "$0" "$@"
        vc_up || exit 1
        ;;
    down) vc_down ;;
    status) vc_status ;;
    *)
        echo "usage: sh tests/vcards.sh up|down|status" >&2
        exit 2
        ;;
    esac
fi
