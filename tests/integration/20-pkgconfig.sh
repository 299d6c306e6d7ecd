#!/bin/sh
# 20-pkgconfig.sh - libkeycard as a user of the installed library sees it:
# `make install PREFIX=/usr DESTDIR=tmp`, then a small program built only with
# what pkg-config says about "keycard" (sysroot pointing into DESTDIR) runs
# against the installed library: keycard_strerror and a "sim:" key card.
# Also: SONAME libkeycard.so.1, and only keycard_* symbols exported.
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
for f in libkeycard.so.1.0.0 libkeycard.so.1 libkeycard.so pkgconfig/keycard.pc; do
    [ -e "$lib/$f" ] && ok "installed usr/lib/$f" || fail "usr/lib/$f not installed"
done
[ -f "$dest/usr/include/keycard.h" ] && ok "installed usr/include/keycard.h" ||
    fail "usr/include/keycard.h not installed"

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

# pkg-config, as a cross/staged build would use it.
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_LIBDIR="$lib/pkgconfig"
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

int main(int argc, char **argv)
{
    keycard *kc;
    keycard_status st;
    if (argc != 2)
        return 2;
    printf("strerror: %s\n", keycard_strerror(KEYCARD_ERR_WRONG_PIN));
    keycard_rc rc = keycard_open(&kc, argv[1]);
    if (rc != KEYCARD_OK) {
        printf("open: %s\n", keycard_strerror(rc));
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
    [ $rc -eq 0 ] && ok "it runs against the installed library" || fail "program exit $rc"
    echo "$out" | grep -qx "strerror: wrong PIN or key" && ok "keycard_strerror" ||
        fail "keycard_strerror output"
    echo "$out" | grep -q "^status: success lifecycle 1 version 2\.0$" && ok "a blank sim card opened" ||
        fail "sim card status output"
    # It really used the installed copy.
    LD_LIBRARY_PATH="$lib" ldd "$tmp/use" | grep -q "$lib/libkeycard.so.1" &&
        ok "linked to the installed libkeycard.so.1" || fail "not linked to the installed library"
else
    cat "$tmp/cc.log" >&2
    fail "compiling against the installed headers and library"
fi

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
