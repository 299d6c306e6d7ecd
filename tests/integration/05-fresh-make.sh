#!/bin/sh
# 05-fresh-make.sh - `make demo` must work at the first attempt on a fresh
# machine, where the packages arrive only when the deps step runs: the
# package flags must not be read before that (a make that parsed the
# Makefile before the install has empty PCSC flags and fails on winscard.h).
#
# A stub pkg-config answers nothing until the stand-in deps step has run (it
# creates a marker), then passes through to the real one. The demo script is
# replaced by an empty script; the build goes to a build dir of its own.
#
# Run from the top of the tree: sh tests/integration/05-fresh-make.sh
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-05-fresh.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

real=$(command -v pkg-config) || { echo "05-fresh-make: no pkg-config" >&2; exit 1; }
mkdir -p "$T/bin"
cat >"$T/bin/pkg-config" <<EOS
#!/bin/sh
[ -f "$T/installed" ] || exit 1
exec "$real" "\$@"
EOS
chmod +x "$T/bin/pkg-config"
printf 'exit 0\n' >"$T/demo.sh"

# The stub itself: before the marker it knows no package.
if PATH="$T/bin:$PATH" pkg-config --cflags libpcsclite >/dev/null 2>&1; then
    not_ok "the stub plays a machine without the packages"
else
    ok "the stub plays a machine without the packages"
fi

for target in demo; do
    rm -f "$T/installed"
    if PATH="$T/bin:$PATH" make --no-print-directory B="$T/b-$target" \
        DEPS_CMD="touch $T/installed" DEMO_SCRIPT="$T/demo.sh" "$target" >"$T/$target.log" 2>&1; then
        ok "make $target at the first attempt"
    else
        not_ok "make $target at the first attempt"
        tail -n 15 "$T/$target.log" | sed 's/^/#   /'
    fi
    grep -q -- '-I/usr/include/PCSC' "$T/$target.log" && ok "$target compiled with the PC/SC flags" ||
        not_ok "$target compiled with the PC/SC flags"
done

echo "05-fresh-make: $n checks, $fails failed"
[ "$fails" -eq 0 ]
