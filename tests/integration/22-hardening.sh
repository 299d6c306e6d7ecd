#!/bin/sh
# 22-hardening.sh - what a distribution's packaging checks would say: the
# project built and installed with Debian's build flags (dpkg-buildflags with
# hardening=+all: CFLAGS, CPPFLAGS with _FORTIFY_SOURCE, LDFLAGS with relro
# and now), then every installed ELF
# file checked as lintian's hardening tags do (relro, bindnow, fortify), no
# RUNPATH in the installed tools, the libraries 0644, man pages that groff
# formats without a warning and whose docs references are installed, and a
# consumer built with the same flags from pkg-config's answer passes the
# same checks. `make uninstall` then leaves nothing behind.
set -u
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
command -v dpkg-buildflags >/dev/null || { echo "FAIL: dpkg-buildflags missing (dpkg-dev)" >&2; exit 1; }

# The flags of a package that asks for all of Debian's hardening (bindnow too).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-hardening.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
cflags=$(dpkg-buildflags --get CFLAGS)
cppflags=$(dpkg-buildflags --get CPPFLAGS)
ldflags=$(dpkg-buildflags --get LDFLAGS)
echo "dpkg-buildflags: CFLAGS [$cflags] CPPFLAGS [$cppflags] LDFLAGS [$ldflags]"
if ! make -s B="$tmp/b" CFLAGS="$cflags" CPPFLAGS="$cppflags" LDFLAGS="$ldflags" \
        PREFIX=/usr DESTDIR="$dest" install >"$tmp/install.log" 2>&1; then
    tail -n 20 "$tmp/install.log" >&2
    echo "FAIL: make install with dpkg-buildflags" >&2
    exit 1
fi
ok "built and installed with dpkg-buildflags"

# Functions _FORTIFY_SOURCE has a checked variant of (glibc), as lintian's list.
fortifiable='^(memcpy|memmove|memset|mempcpy|strcpy|stpcpy|strncpy|stpncpy|strcat|strncat|sprintf|snprintf|vsprintf|vsnprintf|printf|fprintf|vprintf|vfprintf|dprintf|vdprintf|read|pread|pread64|recv|recvfrom|readlink|getcwd|fgets|fread|poll|realpath|syslog|vsyslog|explicit_bzero)$'
# check FILE: relro, bindnow, fortify (a file that calls a fortifiable
# function calls at least one checked one), no RUNPATH for a program.
check() {
    f=$1 kind=$2 name=$(basename "$1")
    readelf -lW "$f" | grep -q GNU_RELRO || fail "$name: no relro (GNU_RELRO)"
    readelf -dW "$f" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' || fail "$name: no bindnow"
    und=$(readelf --dyn-syms -W "$f" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')
    plain=$(echo "$und" | grep -Ec "$fortifiable")
    chk=$(echo "$und" | grep -Ec '^__.*_chk$')
    if [ "$plain" -gt 0 ] && [ "$chk" -eq 0 ]; then
        fail "$name: $plain fortifiable functions, none fortified"
    fi
    if [ "$kind" = program ] && readelf -dW "$f" | grep -Eq 'RUNPATH|RPATH'; then
        fail "$name: has $(readelf -dW "$f" | grep -E 'RUNPATH|RPATH' | sed 's/.*\[\(.*\)\]/\1/')"
    fi
    echo "    $name: relro, bindnow, $chk fortified functions ($plain unchecked ones too)"
}
n=0
for f in "$dest"/usr/bin/* "$dest"/usr/lib/*.so.*.*.*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    case $f in */bin/*) check "$f" program ;; *) check "$f" library ;; esac
    n=$((n + 1))
done
[ "$n" -ge 7 ] && ok "$n installed ELF files checked" || fail "only $n ELF files installed"
for l in "$dest"/usr/lib/*.so.*.*.*; do
    m=$(stat -c %a "$l")
    [ "$m" = 644 ] || fail "$(basename "$l") installed $m, want 644"
done
ok "libraries installed 0644"

# Man pages: no groff warning; every docs reference points at an installed doc.
for m in "$dest"/usr/share/man/man1/*.1; do
    w=$(groff -man -ww -z "$m" 2>&1)
    [ -z "$w" ] || fail "$(basename "$m"): groff: $w"
    for d in $(grep -o '/usr/share/doc/keycard/[a-z-]*\.md' "$m" | sort -u); do
        [ -f "$dest$d" ] || fail "$(basename "$m") names $d, not installed"
    done
    grep -q 'docs/[a-z-]*\.md' "$m" && fail "$(basename "$m") still names docs/ of the source tree"
done
[ "$(grep -h '^\.TH' "$dest"/usr/share/man/man1/*.1 | awk '{ $2 = ""; print }' | sort -u | wc -l)" = 1 ] &&
    ok "man pages: no warning, one footer, their docs installed" || fail "man page footers differ"

# A consumer, built the distribution's way against the installed library.
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_LIBDIR="$dest/usr/lib/pkgconfig:$(pkg-config --variable pc_path pkg-config)"
cat >"$tmp/app.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <keycard.h>

int main(int argc, char **argv)
{
    char line[256];
    snprintf(line, sizeof line, "%s: %s", argc > 1 ? argv[1] : "keycard",
             keycard_strerror(KEYCARD_ERR_WRONG_PIN));
    printf("%s (libkeycard %s)\n", line, keycard_version());
    return strlen(line) > 0 ? 0 : 1;
}
C
# shellcheck disable=SC2046,SC2086
if cc $cppflags $cflags $(pkg-config --cflags keycard) -o "$tmp/app" "$tmp/app.c" $ldflags \
        $(pkg-config --libs keycard) 2>"$tmp/cc.log"; then
    check "$tmp/app" program
    out=$(LD_LIBRARY_PATH="$dest/usr/lib" "$tmp/app" x) && ok "consumer runs: $out" ||
        fail "consumer did not run"
else
    cat "$tmp/cc.log" >&2
    fail "consumer build with dpkg-buildflags and pkg-config"
fi

# The check can fail: the same consumer without the flags (no fortify, lazy binding).
# shellcheck disable=SC2046
if cc -O0 -Wl,-z,lazy $(pkg-config --cflags keycard) -o "$tmp/app-plain" "$tmp/app.c" \
        $(pkg-config --libs keycard) 2>"$tmp/cc.log"; then
    before=$fails
    check "$tmp/app-plain" program >/dev/null 2>"$tmp/plain.log"
    if [ "$fails" -ge $((before + 2)) ]; then
        fails=$before
        ok "a consumer built without the flags is caught: $(tr '\n' ' ' <"$tmp/plain.log")"
    else
        fails=$before
        fail "a consumer built without the flags passed the check"
    fi
else
    fail "plain consumer build"
fi

make -s B="$tmp/b" CFLAGS="$cflags" CPPFLAGS="$cppflags" LDFLAGS="$ldflags" PREFIX=/usr \
    DESTDIR="$dest" uninstall >/dev/null 2>&1 || fail "make uninstall"
left=$(find "$dest" ! -type d | sed "s|^$dest||")
[ -z "$left" ] && ok "make uninstall removes everything it installed" ||
    fail "left after uninstall: $(echo "$left" | tr '\n' ' ')"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all checks passed"
