#!/bin/sh
# 77-journal-tls.sh - the journal's records are the holders' personal data:
# kc-issue reaches a PostgreSQL server on another machine only over TLS with
# a checked server certificate. The test runs in a network namespace of its
# own (unshare -n), where 10.77.0.1 on the loopback device stands for the
# other machine; its own server (tests/pgsql.sh) listens there and on
# 127.0.0.1, first without TLS, then with a certificate for 10.77.0.1.
#   (a) plain TCP to 10.77.0.1: refused before any statement, exit 1, the
#       reason and the remedy named, the password not printed;
#   (b) the same with KC_JOURNAL_PLAINTEXT=1 (a network of the operator's
#       own): accepted;
#   (c) 127.0.0.1 and the Unix socket: accepted (the records stay here);
#   (d) TLS that does not check the certificate (sslmode=require): refused;
#   (e) sslmode=verify-full with the server's certificate as root: accepted;
#   (f) verify-full against another root: libpq refuses the server.
#
# Run from the top of the tree: B=build sh tests/integration/77-journal-tls.sh
set -u
B=${B:-build}
if [ "${1:-}" != --netns ]; then
    exec unshare -n sh "$0" --netns
fi
K=$B/bin/kc-issue
[ -x "$K" ] || { echo "77-journal-tls: $K not built" >&2; exit 1; }
ip link set lo up && ip addr add 10.77.0.1/32 dev lo ||
    { echo "77-journal-tls: cannot set up the namespace's addresses" >&2; exit 1; }
. tests/pgsql.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/kc-77-tls.XXXXXX") || exit 1
chmod 755 "$T"
trap 'pg_down; rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tl_n=0
tl_fails=0
ok() { tl_n=$((tl_n + 1)); echo "ok $tl_n - $1"; }
not_ok() { tl_n=$((tl_n + 1)); tl_fails=$((tl_fails + 1)); echo "not ok $tl_n - $1"; }
unset KC_JOURNAL_PLAINTEXT

# status NAME URI [ENV...]: kc-issue journal status; exit status in $rc, output in NAME.out.
status() {
    st_name=$1
    st_uri=$2
    shift 2
    env "$@" "$K" journal status --journal "$st_uri" >"$T/$st_name.out" 2>&1
    rc=$?
}

# Two self-signed certificates: the server's (for 10.77.0.1) and another.
for c in server other; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=10.77.0.1" -addext "subjectAltName=IP:10.77.0.1" \
        -keyout "$T/$c.key" -out "$T/$c.crt" >"$T/openssl.log" 2>&1 ||
        { echo "77-journal-tls: openssl: $(tail -n 2 "$T/openssl.log")" >&2; exit 1; }
done
chmod 644 "$T/server.crt" "$T/other.crt"

# ---- a server without TLS ------------------------------------------------------
KC_PG_LISTEN="127.0.0.1,10.77.0.1" pg_up "$T/pg" >/dev/null || exit 1
"$K" journal init --journal "$PG_URL" >"$T/init.out" 2>&1 || { cat "$T/init.out"; exit 1; }
remote="postgresql://postgres:hunter2@10.77.0.1:$PG_PORT/kcline"

status a "$remote"
if [ $rc = 1 ] && grep -q 'is on another machine and the connection is not encrypted (no TLS)' "$T/a.out" &&
    grep -q 'sslmode=verify-full' "$T/a.out" && ! grep -q hunter2 "$T/a.out"; then
    ok "plain TCP to another machine refused: $(head -n 1 "$T/a.out" | cut -c1-120)"
else
    not_ok "plain TCP to another machine (exit $rc)"
    sed 's/^/#   /' "$T/a.out"
fi
status b "$remote" KC_JOURNAL_PLAINTEXT=1
if [ $rc = 0 ]; then
    ok "KC_JOURNAL_PLAINTEXT=1: accepted on a network of the operator's own"
else
    not_ok "KC_JOURNAL_PLAINTEXT=1 (exit $rc)"
    sed 's/^/#   /' "$T/b.out"
fi
status c1 "postgresql://postgres@127.0.0.1:$PG_PORT/kcline"
c1=$rc
status c2 "$PG_URL"
if [ $c1 = 0 ] && [ $rc = 0 ]; then
    ok "the loopback and the Unix socket: accepted"
else
    not_ok "the loopback (exit $c1) and the Unix socket (exit $rc)"
    sed 's/^/#   /' "$T/c1.out" "$T/c2.out"
fi
pg_down

# ---- the same server with TLS ----------------------------------------------------
KC_PG_LISTEN="127.0.0.1,10.77.0.1" KC_PG_SSL_CERT=$T/server.crt KC_PG_SSL_KEY=$T/server.key \
    pg_up "$T/pg2" >/dev/null || exit 1
"$K" journal init --journal "$PG_URL" >"$T/init2.out" 2>&1 || { cat "$T/init2.out"; exit 1; }
remote="postgresql://postgres@10.77.0.1:$PG_PORT/kcline"
status d "$remote?sslmode=require"
if [ $rc = 1 ] && grep -q "does not check the server's certificate" "$T/d.out"; then
    ok "TLS without a checked certificate (sslmode=require) refused"
else
    not_ok "sslmode=require (exit $rc)"
    sed 's/^/#   /' "$T/d.out"
fi
status e "$remote?sslmode=verify-full&sslrootcert=$T/server.crt"
if [ $rc = 0 ]; then
    ok "sslmode=verify-full with the server's certificate: accepted"
else
    not_ok "verify-full (exit $rc)"
    sed 's/^/#   /' "$T/e.out"
fi
status f "$remote?sslmode=verify-full&sslrootcert=$T/other.crt"
if [ $rc = 1 ] && grep -qi 'certificate' "$T/f.out"; then
    ok "verify-full against another root: the server is refused ($(head -n 1 "$T/f.out" | cut -c1-100))"
else
    not_ok "verify-full against another root (exit $rc)"
    sed 's/^/#   /' "$T/f.out"
fi

echo "77-journal-tls: $tl_n checks, $tl_fails failed"
[ "$tl_fails" -eq 0 ]
