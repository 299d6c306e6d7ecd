#!/bin/sh
# Install the Debian packages the build and the tests need, when missing.
# As root: apt-get installs them. Otherwise: print the one command to run.
set -u
PKGS="build-essential pkg-config libmbedtls-dev libpcsclite-dev pcscd vsmartcard-vpcd check
libjansson-dev opensc pcsc-tools python3-pyscard procps valgrind clang libclang-rt-14-dev
python3-cryptography gcc-arm-none-eabi libnewlib-arm-none-eabi groff-base dpkg-dev tmux libgfshare-dev libsqlite3-dev
libpq-dev postgresql openssl iproute2"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >/dev/null ||
        { echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
else
    echo "deps: missing packages; run as root:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
fi
