#!/bin/sh
# pgsql.sh - a private PostgreSQL server for tests (sourced):
#
#   . tests/pgsql.sh
#   pg_up "$T/pg" || exit 1      # initdb, start, database kcline; sets PG_URL
#   pg_psql "SELECT 1"           # unaligned, tuples only, one row a line
#   pg_restart_later 3           # stop now, start again in 3 s (background)
#   pg_down                      # at the end (trap): everything stopped by PID
#
# The server listens on no TCP address (listen_addresses = ''): only on the
# Unix socket in DIR, named after a port number chosen for it (.s.PGSQL.PORT);
# fsync stays on. Local connections are trusted (initdb -A trust); the
# superuser is "postgres". initdb and postgres refuse to run as root, so as
# root they run as the system user postgres (runuser), which then owns DIR;
# DIR's parent is given o+x when postgres cannot reach DIR through it. The
# caller removes DIR.
#
# Environment: KC_PG_BIN (the directory of initdb/pg_ctl/postgres; default
# the highest /usr/lib/postgresql/*/bin), KC_PG_USER (the system user the
# server runs as when we are root, default postgres), KC_PG_LISTEN (TCP
# addresses to listen on as well, e.g. "127.0.0.1,10.77.0.1": trusted from
# anywhere, so only inside a network namespace of the test's own),
# KC_PG_SSL_CERT and KC_PG_SSL_KEY (PEM files: TLS on, with that certificate).
#
# Sets: PG_BIN, PG_DIR, PG_DATA (DIR/data), PG_PORT, PG_URL
# (postgresql:///kcline?host=DIR&port=PORT&user=postgres), PG_RESTART_PID
# (the pending pg_restart_later, or empty).

PG_DB=kcline
PG_RESTART_PID=
PG_DIR=
PG_URL=

pg_log() { echo "pgsql: $*" >&2; }

# pg_find_bin: PG_BIN = the directory with initdb, pg_ctl and postgres.
pg_find_bin() {
    if [ -n "${KC_PG_BIN:-}" ]; then
        PG_BIN=$KC_PG_BIN
    else
        PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ] ||
        [ ! -x "$PG_BIN/postgres" ]; then
        pg_log "PostgreSQL is not installed (no initdb/pg_ctl/postgres in ${PG_BIN:-/usr/lib/postgresql/*/bin}; apt-get install postgresql)"
        return 1
    fi
    PG_PSQL=$(command -v psql 2>/dev/null)
    [ -n "$PG_PSQL" ] || PG_PSQL=$PG_BIN/psql
    [ -x "$PG_PSQL" ] || { pg_log "psql not found (apt-get install postgresql-client)"; return 1; }
}

# pg_as CMD...: CMD as the server's user (runuser when we are root).
pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "${KC_PG_USER:-postgres}" -- "$@"
    else
        "$@"
    fi
}

# pg_alive PID: the process exists and is not a zombie.
pg_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    pg_st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ "$pg_st" != Z ]
}

# pg_postmaster_pid: the postmaster's PID from its lock file (empty if none).
pg_postmaster_pid() {
    [ -n "$PG_DIR" ] && head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null
}

# pg_start: start the server initialised by pg_up, wait until it accepts.
pg_start() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null 2>&1 || {
        pg_log "the server did not start; last lines of $PG_DIR/server.log:"
        tail -n 5 "$PG_DIR/server.log" >&2
        return 1
    }
}

# pg_up DIR: initdb in DIR/data, socket in DIR, start, create database kcline.
pg_up() {
    pg_find_bin || return 1
    if [ "$(id -u)" = 0 ] && ! id "${KC_PG_USER:-postgres}" >/dev/null 2>&1; then
        pg_log "no system user ${KC_PG_USER:-postgres} to run the server as (initdb refuses root)"
        return 1
    fi
    mkdir -p "$1" || return 1
    PG_DIR=$(cd "$1" && pwd) || return 1
    PG_DATA=$PG_DIR/data
    if [ "$(id -u)" = 0 ]; then
        chown "${KC_PG_USER:-postgres}" "$PG_DIR" || return 1
        chmod 700 "$PG_DIR"
        pg_parent=$(dirname "$PG_DIR")
        if ! pg_as test -x "$PG_DIR"; then
            chmod o+x "$pg_parent" || return 1
        fi
        pg_as test -x "$PG_DIR" || { pg_log "user ${KC_PG_USER:-postgres} cannot reach $PG_DIR"; return 1; }
    fi
    # A port number for the socket's name only (no TCP): one nobody listens on.
    PG_PORT=$((40000 + $$ % 20000))
    while ss -ltn 2>/dev/null | grep -q "[:.]$PG_PORT "; do PG_PORT=$((PG_PORT + 1)); done
    case ${#PG_DIR} in [0-9] | [0-8][0-9]) ;; *)
        pg_log "$PG_DIR is too long for a Unix socket path"
        return 1
        ;;
    esac
    if ! pg_as "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --no-sync \
        >"$PG_DIR/initdb.log" 2>&1; then
        pg_log "initdb failed: $(tail -n 3 "$PG_DIR/initdb.log")"
        return 1
    fi
    cat >>"$PG_DATA/postgresql.conf" <<EOC
# tests/pgsql.sh
listen_addresses = '${KC_PG_LISTEN:-}'
unix_socket_directories = '$PG_DIR'
port = $PG_PORT
fsync = on
synchronous_commit = on
max_connections = 50
EOC
    if [ -n "${KC_PG_LISTEN:-}" ]; then
        printf 'host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n' >>"$PG_DATA/pg_hba.conf"
    fi
    if [ -n "${KC_PG_SSL_CERT:-}" ]; then
        cp "$KC_PG_SSL_CERT" "$PG_DATA/server.crt" && cp "$KC_PG_SSL_KEY" "$PG_DATA/server.key" &&
            chmod 600 "$PG_DATA/server.key" || return 1
        [ "$(id -u)" = 0 ] && chown "${KC_PG_USER:-postgres}" "$PG_DATA/server.crt" "$PG_DATA/server.key"
        echo "ssl = on" >>"$PG_DATA/postgresql.conf"
    fi
    pg_start || return 1
    PG_URL="postgresql:///$PG_DB?host=$PG_DIR&port=$PG_PORT&user=postgres"
    export PG_BIN PG_DIR PG_DATA PG_PORT PG_URL
    if ! "$PG_PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres \
        -c "CREATE DATABASE $PG_DB" >/dev/null; then
        pg_log "cannot create database $PG_DB"
        pg_stop
        return 1
    fi
    echo "$PG_URL"
}

# pg_psql SQL [PSQL-OPTION...]: run SQL in kcline; rows unaligned, tuples
# only ("|" between columns), one a line; exit status 0 only when it ran.
pg_psql() {
    pg_sql=$1
    shift
    "$PG_PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d "$PG_DB" \
        "$@" -c "$pg_sql"
}

# pg_stop: stop the server (fast: sessions cut, no crash recovery needed) and
# check that the postmaster it was is gone; killed by its PID if not.
pg_stop() {
    [ -n "$PG_DIR" ] || return 0
    pg_pid=$(pg_postmaster_pid)
    [ -n "$pg_pid" ] || return 0
    # PG_STOP_MODE=immediate: the server dies as in a crash (no checkpoint,
    # every connection cut; the next start recovers from the WAL).
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "${PG_STOP_MODE:-fast}" -w -t 30 stop >/dev/null 2>&1
    n=0
    while pg_alive "$pg_pid" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    if pg_alive "$pg_pid"; then
        if [ "$(cat "/proc/$pg_pid/comm" 2>/dev/null)" = postgres ]; then
            pg_log "postmaster (pid $pg_pid) still running after pg_ctl stop; killing it"
            kill -KILL "$pg_pid" 2>/dev/null
            sleep 0.5
        fi
        pg_alive "$pg_pid" && { pg_log "postmaster (pid $pg_pid) did not stop"; return 1; }
    fi
    return 0
}

# pg_restart_later SECS: stop the server now and start it again after SECS
# seconds, in the background (PG_RESTART_PID; pg_wait_restart waits for it).
pg_restart_later() {
    pg_stop || return 1
    (sleep "$1"; pg_start) </dev/null &
    PG_RESTART_PID=$!
}

# pg_wait_restart: wait for a pending pg_restart_later; 0 when it started the server.
pg_wait_restart() {
    [ -n "$PG_RESTART_PID" ] || return 0
    wait "$PG_RESTART_PID"
    pg_rc=$?
    PG_RESTART_PID=
    return $pg_rc
}

# pg_down: end a pending restart (by its PID), then stop the server.
pg_down() {
    if [ -n "$PG_RESTART_PID" ]; then
        if pg_alive "$PG_RESTART_PID"; then
            # Its sleep ends soon; a start already under way finishes first.
            wait "$PG_RESTART_PID" 2>/dev/null
        fi
        PG_RESTART_PID=
    fi
    pg_stop
}
