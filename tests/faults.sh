#!/bin/sh
# faults.sh - sourced by the integration tests that put
# tests/integration/faults_preload.c in front of pcsc-lite (kill points,
# line faults): faults_preload NAME builds it into $B/integration and sets
# PRELOAD to its absolute path; NAME (the test) is in the error message.
# With an ASan build (KC_SANITIZE) the sanitizer is told not to insist on
# being first: the preload only wraps pcsc-lite calls.
faults_preload() {
    PRELOAD=$B/integration/faults_preload.so
    mkdir -p "$B/integration" || return 1
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror -shared -fPIC $(pkg-config --cflags libpcsclite) \
        -o "$PRELOAD" tests/integration/faults_preload.c -ldl ||
        { echo "$1: cannot build faults_preload.c" >&2; return 1; }
    case $PRELOAD in /*) ;; *) PRELOAD=$(pwd)/$PRELOAD ;; esac
    if [ -n "${KC_SANITIZE:-}" ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
        export ASAN_OPTIONS
    fi
}
