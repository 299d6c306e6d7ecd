#!/bin/sh
# 20-pkgconfig.sh - libkeycard as a user of the installed library sees it:
# `make install PREFIX=/usr DESTDIR=tmp`, then a small program built only with
# what pkg-config says about "keycard" (sysroot pointing into DESTDIR) runs
# against the installed library: keycard_strerror, and "sim:" refused (no
# firmware in libkeycard.so); built with "keycard-sim" and keycard_sim_enable,
# the same program opens a "sim:" key card. Also: SONAMEs, only keycard_*
# symbols exported, no firmware symbol in libkeycard.so.
set -u
B=${B:-build}
export B
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-pkgconfig.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

# A sanitizer run (make sanitize) builds with KC_SANITIZE flags: keep them.
san=${KC_SANITIZE:-}
if [ -n "$san" ]; then set -- EXTRA_CFLAGS="$san" LDFLAGS="$san"; else set --; fi
if ! make -s B="$B" "$@" PREFIX=/usr DESTDIR="$dest" install >"$tmp/install.log" 2>&1; then
    tail -n 20 "$tmp/install.log" >&2
    echo "FAIL: make install PREFIX=/usr DESTDIR=$dest" >&2
    exit 1
fi
ok "make install PREFIX=/usr DESTDIR=..."

lib=$dest/usr/lib
for f in libkeycard.so.1.0.0 libkeycard.so.1 libkeycard.so pkgconfig/keycard.pc \
    libkeycard-sim.so.1.0.0 libkeycard-sim.so.1 libkeycard-sim.so pkgconfig/keycard-sim.pc; do
    [ -e "$lib/$f" ] && ok "installed usr/lib/$f" || fail "usr/lib/$f not installed"
done
for h in keycard.h keycard_sim.h keycard_proto.h; do
    [ -f "$dest/usr/include/$h" ] && ok "installed usr/include/$h" || fail "usr/include/$h not installed"
done

# SONAME.
soname=$(readelf -d "$lib/libkeycard.so.1.0.0" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = libkeycard.so.1 ] && ok "SONAME $soname" || fail "SONAME is '$soname', want libkeycard.so.1"

# Exports: only keycard_* (nm also lists the version node LIBKEYCARD_1 as an A symbol).
nm -D --defined-only "$lib/libkeycard.so.1.0.0" >"$tmp/syms" || fail "nm -D failed"
bad=$(awk '$2 != "A" && $3 !~ /^keycard_/ { print $3 }' "$tmp/syms" | tr '\n' ' ')
n=$(awk '$3 ~ /^keycard_/' "$tmp/syms" | wc -l)
if [ -n "$bad" ]; then
    fail "exported symbols outside keycard_*: $bad"
elif [ "$n" -lt 20 ]; then
    fail "only $n keycard_* symbols exported"
else
    ok "$n symbols exported, all keycard_*"
fi
# No firmware: neither card's entry table nor any firmware function.
fw=$(nm "$lib/libkeycard.so.1.0.0" | awk '$3 ~ /^(kc_keycard_card|kc_target_card|kc_applet_|kc_store_|tc_)/ { print $3 }' |
    tr '\n' ' ')
[ -z "$fw" ] && ok "libkeycard.so holds no firmware symbol" || fail "firmware in libkeycard.so: $fw"
nm "$lib/libkeycard-sim.so.1.0.0" | grep -q ' kc_keycard_card$' &&
    ok "the firmware is in libkeycard-sim.so" || fail "libkeycard-sim.so without the key card firmware"

# pkg-config, as a cross/staged build would use it.
export PKG_CONFIG_SYSROOT_DIR="$dest"
# The system's own .pc files too: keycard.pc names libpcsclite in Requires.private.
export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$(pkg-config --variable pc_path pkg-config)"
unset PKG_CONFIG_PATH
cflags=$(pkg-config --cflags keycard) || fail "pkg-config --cflags keycard"
libs=$(pkg-config --libs keycard) || fail "pkg-config --libs keycard"
echo "pkg-config: cflags [$cflags] libs [$libs]"
case $cflags in *"$dest/usr/include"*) ok "cflags point into the install" ;; *) fail "cflags '$cflags'" ;; esac
ver=$(pkg-config --modversion keycard)
[ "$ver" = 1.0.0 ] && ok "modversion $ver" || fail "modversion '$ver'"

cat >"$tmp/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <keycard.h>

#ifdef WITH_SIM
#include <keycard_sim.h>
#endif

int main(int argc, char **argv)
{
    keycard *kc;
    keycard_status st;
    if (argc != 2)
        return 2;
#ifdef WITH_SIM
    if (keycard_sim_enable() != KEYCARD_OK)
        return 3;
#endif
    printf("strerror: %s\n", keycard_strerror(KEYCARD_ERR_WRONG_PIN));
    keycard_rc rc = keycard_open(&kc, argv[1]);
    if (rc != KEYCARD_OK) {
        printf("open: %s (%s)\n", keycard_strerror(rc), keycard_open_detail());
        return 1;
    }
    rc = keycard_status_read(kc, &st);
    printf("status: %s lifecycle %d version %u.%u\n", keycard_strerror(rc), (int)st.lifecycle,
           st.version_major, st.version_minor);
    printf("reader: %s\n", keycard_reader_name(kc));
    keycard_close(kc);
    return rc == KEYCARD_OK ? 0 : 1;
}
C
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror $san $cflags -o "$tmp/use" "$tmp/use.c" $libs 2>"$tmp/cc.log"; then
    ok "a program builds with pkg-config's flags alone"
    out=$(LD_LIBRARY_PATH="$lib" "$tmp/use" "sim:$tmp/card.img" 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    echo "$out" | grep -qx "strerror: wrong PIN or key" && ok "keycard_strerror" ||
        fail "keycard_strerror output"
    [ $rc -eq 1 ] && echo "$out" | grep -q "^open: .*libkeycard-sim" && [ ! -e "$tmp/card.img" ] &&
        ok "libkeycard alone refuses sim: and names the simulator library" ||
        fail "sim: without libkeycard-sim (exit $rc)"
    # It really used the installed copy.
    LD_LIBRARY_PATH="$lib" ldd "$tmp/use" | grep -q "$lib/libkeycard.so.1" &&
        ok "linked to the installed libkeycard.so.1" || fail "not linked to the installed library"
else
    cat "$tmp/cc.log" >&2
    fail "compiling against the installed headers and library"
fi

scflags=$(pkg-config --cflags keycard-sim) || fail "pkg-config --cflags keycard-sim"
slibs=$(pkg-config --libs keycard-sim) || fail "pkg-config --libs keycard-sim"
echo "pkg-config keycard-sim: cflags [$scflags] libs [$slibs]"
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror -DWITH_SIM $san $scflags -o "$tmp/use-sim" "$tmp/use.c" $slibs \
        2>"$tmp/cc.log"; then
    ok "a simulator program builds with pkg-config's keycard-sim flags alone"
    out=$(LD_LIBRARY_PATH="$lib" "$tmp/use-sim" "sim:$tmp/card.img" 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    [ $rc -eq 0 ] && ok "it runs against the installed libraries" || fail "program exit $rc"
    echo "$out" | grep -q "^status: success lifecycle 1 version 2\.0$" && ok "a blank sim card opened" ||
        fail "sim card status output"
    echo "$out" | grep -qx "reader: sim:$tmp/card.img" && ok "named sim:FILE" || fail "reader name"
else
    cat "$tmp/cc.log" >&2
    fail "compiling against the installed simulator library"
fi

# The API example (examples/api/issue-one.c: the public headers alone) built
# as an application would, issuing a card end to end against sim images.
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror $san $scflags -o "$tmp/issue-one" examples/api/issue-one.c \
        $slibs 2>"$tmp/cc.log"; then
    export KEYCARD_ADMIN_KEY=000102030405060708090A0B0C0D0E0F
    "$B/bin/kc-admin" --sim "$tmp/kc.img" provision examples/profiles/demo.json >/dev/null 2>&1 &&
        "$B/bin/kc-admin" --sim "$tmp/kc.img" target-manufacture --profile examples/profiles/demo.json \
            --serial 4150494558414D50 --out "$tmp/tc.img" >/dev/null 2>&1 ||
        fail "sim images for the API example"
    out=$(KEYCARD_ISSUER_PIN=13579135 KEYCARD_HOLDER_PIN=246810 LD_LIBRARY_PATH="$lib" \
        "$tmp/issue-one" "sim:$tmp/kc.img" "sim:$tmp/tc.img" examples/profiles/demo-issuer.pub.pem 2>&1)
    [ "$out" = "card 4150494558414D50: ISSUED" ] &&
        ok "examples/api/issue-one.c, public API only: $out" || fail "issue-one: $out"
else
    cat "$tmp/cc.log" >&2
    fail "compiling examples/api/issue-one.c against the installed headers"
fi

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
