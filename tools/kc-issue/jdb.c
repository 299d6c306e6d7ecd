/*
 * jdb.c - the journal's database: SQLite (a file) or PostgreSQL (libpq), one
 * interface (jdb.h).
 */
#include "jdb.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct jdb {
    sqlite3 *sq;
    PGconn *pg;
    long changes, wait_s;
    char name[1024];
};

struct jdb_rows {
    PGresult *pg; /* PostgreSQL: the result itself */
    size_t n;     /* SQLite: n rows of ncol values */
    int ncol;
    char **v;
};

static int is_uri(const char *where)
{
    return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

/* The URI for messages: a password in its user part or its parameters hidden. */
static void name_of(const char *where, char *out, size_t cap)
{
    const char *s = strstr(where, "://");
    size_t o = 0;
    const char *p = where;
    const char *at = s ? strchr(s + 3, '@') : NULL, *slash = s ? strchr(s + 3, '/') : NULL;
    const char *colon = s ? strchr(s + 3, ':') : NULL;
    if (at && (!slash || at < slash) && colon && colon < at) {
        o = (size_t)snprintf(out, cap, "%.*s:***", (int)(colon - where), where);
        p = at;
    }
    for (; *p && o + 1 < cap; p++) {
        if ((p == where || p[-1] == '?' || p[-1] == '&') && strncmp(p, "password=", 9) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "password=***");
            while (p[1] && p[1] != '&')
                p++;
            continue;
        }
        out[o++] = *p;
    }
    if (o >= cap)
        o = cap - 1;
    out[o] = '\0';
}

/* SQLite's reason in words a user acts on. */
static void sq_say(jdb *d, int rc, const char *what, char *err, size_t cap)
{
    const char *why = rc == SQLITE_FULL       ? "the disk is full"
                      : rc == SQLITE_READONLY ? "the journal or its directory is read-only"
                      : rc == SQLITE_CANTOPEN ? "cannot open or create the file (does the "
                                                "directory exist, may it be written?)"
                      : rc == SQLITE_BUSY     ? "another program holds the journal"
                      : rc == SQLITE_NOTADB   ? "not a journal (not an SQLite database)"
                      : rc == SQLITE_CORRUPT  ? "the journal file is damaged"
                      : d->sq                 ? sqlite3_errmsg(d->sq)
                                              : sqlite3_errstr(rc);
    snprintf(err, cap, "%s: %s: %s", d->name, what, why);
}

/* libpq's message, one line (it ends in a newline and may hold several). */
static void pg_say(jdb *d, const char *msg, const char *what, char *err, size_t cap)
{
    char one[600];
    size_t n = 0;
    for (; msg && *msg && n + 1 < sizeof one; msg++) {
        char c = *msg == '\n' || *msg == '\t' ? ' ' : *msg;
        if (c != ' ' || (n && one[n - 1] != ' '))
            one[n++] = c;
    }
    while (n && one[n - 1] == ' ')
        n--;
    one[n] = '\0';
    snprintf(err, cap, "%s: %s: %s", d->name, what, n ? one : "the server gave no reason");
}

/* A connection error that a server starting, stopping or restarting gives. */
static int pg_not_up(const char *msg)
{
    static const char *const says[] = {"Connection refused", "No such file or directory",
                                       "starting up", "shutting down", "in recovery mode",
                                       "not yet accepting connections",
                                       "server closed the connection", "terminating connection"};
    for (size_t i = 0; msg && i < sizeof says / sizeof says[0]; i++)
        if (strstr(msg, says[i]))
            return 1;
    return 0;
}

static volatile sig_atomic_t *g_cancel;

void jdb_set_cancel(volatile sig_atomic_t *flag)
{
    g_cancel = flag;
}

static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "already exists, skipping") are not the user's concern */
}

/* 1 when addr (text) is a loopback address: 127.0.0.0/8 or ::1. */
static int loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * The records are the holders' personal data: over TCP to another machine
 * only with TLS and a checked server certificate (sslmode verify-full),
 * unless KC_JOURNAL_PLAINTEXT=1 says the network is the operator's own.
 * A Unix socket or the loopback stays on this machine. 0, or -1 with why.
 */
static int pg_transport_ok(PGconn *c, char *why, size_t cap)
{
    const char *host = PQhost(c), *addr = PQhostaddr(c);
    if (host == NULL || host[0] == '/' || host[0] == '@' || (addr && addr[0] && loopback(addr)) ||
        (!(addr && addr[0]) && strcmp(host, "localhost") == 0))
        return 0;
    int tls = PQsslInUse(c), checked = 0;
    PQconninfoOption *o = PQconninfo(c);
    for (PQconninfoOption *p = o; p && p->keyword; p++)
        if (strcmp(p->keyword, "sslmode") == 0 && p->val && strcmp(p->val, "verify-full") == 0)
            checked = tls;
    PQconninfoFree(o);
    if (checked)
        return 0;
    const char *plain = getenv("KC_JOURNAL_PLAINTEXT");
    if (plain && strcmp(plain, "1") == 0)
        return 0;
    snprintf(why, cap, "the server at %s is on another machine and the connection %s: the "
                       "records are personal data; connect with sslmode=verify-full (and "
                       "sslrootcert), or set KC_JOURNAL_PLAINTEXT=1 on a network of your own",
             addr && addr[0] ? addr : host,
             tls ? "does not check the server's certificate (sslmode is not verify-full)"
                 : "is not encrypted (no TLS)");
    return -1;
}

/* Connect (again): wait for a server that is not up, up to d->wait_s. */
static int pg_connect(jdb *d, const char *where, int again, char *err, size_t cap)
{
    time_t start = time(NULL);
    int said = 0;
    for (;;) {
        if (again && d->pg) {
            PQreset(d->pg);
        } else {
            PQfinish(d->pg);
            d->pg = PQconnectdb(where);
        }
        if (d->pg && PQstatus(d->pg) == CONNECTION_OK) {
            char why[600];
            if (pg_transport_ok(d->pg, why, sizeof why) != 0) {
                snprintf(err, cap, "%s: connect: %s", d->name, why);
                PQfinish(d->pg);
                d->pg = NULL;
                return JDB_ERR;
            }
            PQsetNoticeProcessor(d->pg, pg_quiet, NULL);
            if (said)
                fprintf(stderr, "kc-issue: journal %s: the server answers again after %ld s; "
                                "resuming\n",
                        d->name, (long)(time(NULL) - start));
            return JDB_OK;
        }
        const char *msg = d->pg ? PQerrorMessage(d->pg) : "out of memory";
        if (!pg_not_up(msg) && !again) {
            pg_say(d, msg, "connect", err, cap);
            return JDB_ERR;
        }
        if (g_cancel && *g_cancel) {
            pg_say(d, msg, "connect", err, cap);
            snprintf(err + strlen(err), cap - strlen(err),
                     " (interrupted while waiting for the server)");
            return JDB_ERR;
        }
        if (time(NULL) - start >= d->wait_s) {
            pg_say(d, msg, "connect", err, cap);
            if (d->wait_s > 0)
                snprintf(err + strlen(err), cap - strlen(err),
                         " (waited %ld s for the server; nothing was issued meanwhile)",
                         d->wait_s);
            return JDB_ERR;
        }
        if (!said) {
            char why[700];
            pg_say(d, msg, "the server is unreachable", why, sizeof why);
            fprintf(stderr, "kc-issue: journal %s; waiting for it (up to %ld s), no card is "
                            "issued meanwhile\n",
                    why, d->wait_s);
            said = 1;
        }
        sleep(1);
    }
}

int jdb_open(const char *where, int create, long wait_s, jdb **out, char *err, size_t errcap)
{
    jdb *d = calloc(1, sizeof *d);
    struct stat sb;
    *out = NULL;
    if (!d) {
        snprintf(err, errcap, "%s: out of memory", where);
        return JDB_ERR;
    }
    d->wait_s = wait_s < 0 ? 0 : wait_s;
    name_of(where, d->name, sizeof d->name);
    if (is_uri(where)) {
        if (pg_connect(d, where, 0, err, errcap) != JDB_OK) {
            jdb_close(d);
            return JDB_ERR;
        }
        *out = d;
        return JDB_OK;
    }
    if (!create && stat(where, &sb) != 0) {
        snprintf(err, errcap, "%s: no journal here (kc-issue journal init --journal %s makes one)",
                 where, where);
        free(d);
        return JDB_ERR;
    }
    int rc = sqlite3_open_v2(where, &d->sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(d->sq, 10000);
    if (rc != SQLITE_OK) {
        sq_say(d, rc, "open", err, errcap);
        jdb_close(d);
        return JDB_ERR;
    }
    /* WAL: readers never wait for the writer; a commit is one append and one sync. */
    if (jdb_exec(d, "set WAL mode",
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
                 0, NULL, NULL, err, errcap) != JDB_OK) {
        jdb_close(d);
        return JDB_ERR;
    }
    *out = d;
    return JDB_OK;
}

void jdb_close(jdb *d)
{
    if (!d)
        return;
    if (d->sq)
        sqlite3_close(d->sq);
    PQfinish(d->pg);
    free(d);
}

const char *jdb_name(const jdb *d) { return d->name; }
int jdb_server(const jdb *d) { return d->pg != NULL; }
long jdb_changes(const jdb *d) { return d->changes; }


static int sq_exec(jdb *d, const char *what, const char *sql, int n, const char *const *params,
                   jdb_rows **rows, char *err, size_t errcap)
{
    sqlite3_stmt *st;
    int rc;
    if (n == 0 && !rows) { /* a script of statements, no parameters */
        rc = sqlite3_exec(d->sq, sql, NULL, NULL, NULL);
        d->changes = sqlite3_changes(d->sq);
        if (rc != SQLITE_OK) {
            sq_say(d, rc, what, err, errcap);
            return JDB_ERR;
        }
        return JDB_OK;
    }
    rc = sqlite3_prepare_v2(d->sq, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sq_say(d, rc, what, err, errcap);
        return JDB_ERR;
    }
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int at = sqlite3_bind_parameter_index(st, name);
        if (at > 0 && params[i])
            sqlite3_bind_text(st, at, params[i], -1, SQLITE_STATIC);
    }
    jdb_rows *r = rows ? calloc(1, sizeof *r) : NULL;
    if (rows && !r) {
        sqlite3_finalize(st);
        snprintf(err, errcap, "%s: %s: out of memory", d->name, what);
        return JDB_ERR;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!r)
            continue;
        int nc = sqlite3_column_count(st);
        char **v = realloc(r->v, (r->n + 1) * (size_t)nc * sizeof *v);
        if (!v) {
            rc = SQLITE_NOMEM;
            break;
        }
        r->v = v;
        r->ncol = nc;
        for (int c = 0; c < nc; c++) {
            const char *t = (const char *)sqlite3_column_text(st, c);
            v[r->n * (size_t)nc + (size_t)c] = t ? strdup(t) : NULL;
        }
        r->n++;
    }
    d->changes = sqlite3_changes(d->sq);
    int ext = sqlite3_extended_errcode(d->sq);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        jdb_rows_free(r);
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
            return JDB_CONFLICT;
        sq_say(d, rc, what, err, errcap);
        return JDB_ERR;
    }
    if (rows)
        *rows = r;
    return JDB_OK;
}

static int pg_exec(jdb *d, const char *what, const char *sql, int n, const char *const *params,
                   jdb_rows **rows, char *err, size_t errcap)
{
    PGresult *res = n == 0 && !rows ? PQexec(d->pg, sql)
                                    : PQexecParams(d->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        d->changes = atol(PQcmdTuples(res));
        if (rows) {
            jdb_rows *r = calloc(1, sizeof *r);
            if (!r) {
                PQclear(res);
                snprintf(err, errcap, "%s: %s: out of memory", d->name, what);
                return JDB_ERR;
            }
            r->pg = res;
            *rows = r;
        } else {
            PQclear(res);
        }
        return JDB_OK;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int lost = PQstatus(d->pg) != CONNECTION_OK ||
               (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0));
    int conflict = state && strcmp(state, "23505") == 0;
    if (!lost && !conflict)
        pg_say(d, res ? PQresultErrorMessage(res) : PQerrorMessage(d->pg), what, err, errcap);
    PQclear(res);
    return lost ? JDB_LOST : conflict ? JDB_CONFLICT : JDB_ERR;
}

int jdb_exec(jdb *d, const char *what, const char *sql, int n, const char *const *params,
             jdb_rows **rows, char *err, size_t errcap)
{
    if (rows)
        *rows = NULL;
    d->changes = 0;
    return d->pg ? pg_exec(d, what, sql, n, params, rows, err, errcap)
                 : sq_exec(d, what, sql, n, params, rows, err, errcap);
}

int jdb_begin(jdb *d, const char *what, char *err, size_t errcap)
{
    return jdb_exec(d, what, d->pg ? "BEGIN" : "BEGIN IMMEDIATE", 0, NULL, NULL, err, errcap);
}

int jdb_commit(jdb *d, const char *what, char *err, size_t errcap)
{
    return jdb_exec(d, what, "COMMIT", 0, NULL, NULL, err, errcap);
}

void jdb_rollback(jdb *d)
{
    char err[8];
    if (d->pg && PQstatus(d->pg) != CONNECTION_OK)
        return;
    (void)jdb_exec(d, "roll back", "ROLLBACK", 0, NULL, NULL, err, sizeof err);
}

int jdb_has_table(jdb *d, const char *table, int *yes, char *err, size_t errcap)
{
    jdb_rows *r;
    const char *p[] = {table};
    int rc = jdb_exec(d, "read the schema",
                      d->pg ? "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND "
                              "tablename = $1"
                            : "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1",
                      1, p, &r, err, errcap);
    *yes = rc == JDB_OK && jdb_nrows(r) > 0;
    jdb_rows_free(r);
    return rc;
}

int jdb_wait(jdb *d, char *err, size_t errcap)
{
    if (!d->pg) {
        snprintf(err, errcap, "%s: the journal file went away", d->name);
        return JDB_ERR;
    }
    return pg_connect(d, NULL, 1, err, errcap);
}

size_t jdb_nrows(const jdb_rows *r)
{
    if (!r)
        return 0;
    return r->pg ? (size_t)PQntuples(r->pg) : r->n;
}

const char *jdb_get(const jdb_rows *r, size_t row, int col)
{
    if (!r || row >= jdb_nrows(r) || col < 0)
        return NULL;
    if (r->pg) {
        if (col >= PQnfields(r->pg) || PQgetisnull(r->pg, (int)row, col))
            return NULL;
        return PQgetvalue(r->pg, (int)row, col);
    }
    return col < r->ncol ? r->v[row * (size_t)r->ncol + (size_t)col] : NULL;
}

void jdb_rows_free(jdb_rows *r)
{
    if (!r)
        return;
    PQclear(r->pg);
    for (size_t i = 0; r->v && i < r->n * (size_t)r->ncol; i++)
        free(r->v[i]);
    free(r->v);
    free(r);
}
