/*
 * jdb.h - the journal's database, SQLite or PostgreSQL, behind one small
 * interface (docs/production.md "The journal"): SQL with $1, $2 ...
 * parameters, every value text, every row text. journal.c writes its SQL
 * once for both; the few places the dialects differ ask jdb_server().
 *
 * A server that goes away (restarted, network cut) is JDB_LOST: the caller
 * rolls its transaction back and calls jdb_wait(), which reconnects (saying
 * so on stderr) and returns 0 once the server answers again; then the whole
 * transaction is run again. Each of journal.c's transactions is written so
 * that running it again after a commit whose answer was lost does no harm.
 */
#ifndef KCI_JDB_H
#define KCI_JDB_H

#include <signal.h>
#include <stddef.h>

typedef struct jdb jdb;
typedef struct jdb_rows jdb_rows;

enum {
    JDB_OK = 0,
    JDB_ERR = -1,      /* said in err */
    JDB_LOST = -2,     /* the server went away: jdb_wait, then the transaction again */
    JDB_CONFLICT = -3, /* a unique constraint refused the row */
};

/* Default for jdb_wait: how long a station waits for its server (seconds). */
#define JDB_WAIT_DEFAULT 600

/*
 * Open the journal at where: "postgresql://..." or "postgres://..." (a
 * libpq connection URI) is PostgreSQL, anything else an SQLite file (create
 * selects creating a missing file). A server that is not up yet is waited
 * for up to wait_s seconds (0: not at all), as jdb_wait does, which then
 * waits as long. Returns JDB_OK or JDB_ERR with err.
 */
int jdb_open(const char *where, int create, long wait_s, jdb **out, char *err, size_t errcap);
void jdb_close(jdb *d);

/* The journal's name for messages (a URI without its password). */
const char *jdb_name(const jdb *d);

/* 1: PostgreSQL (row locks, SKIP LOCKED); 0: SQLite (one writer at a time). */
int jdb_server(const jdb *d);


/*
 * Run one statement with n text parameters (NULL: SQL NULL) as $1..$n.
 * rows (may be NULL) receives its rows; what names the step for err
 * ("NAME: WHAT: WHY"). Returns JDB_OK, JDB_ERR, JDB_LOST or JDB_CONFLICT.
 */
int jdb_exec(jdb *d, const char *what, const char *sql, int n, const char *const *params,
             jdb_rows **rows, char *err, size_t errcap);

/* Rows the last statement changed. */
long jdb_changes(const jdb *d);

/* Begin a write transaction (SQLite: BEGIN IMMEDIATE), commit, roll back. */
int jdb_begin(jdb *d, const char *what, char *err, size_t errcap);
int jdb_commit(jdb *d, const char *what, char *err, size_t errcap);
void jdb_rollback(jdb *d);

/* Whether a table exists (without failing the transaction when not). */
int jdb_has_table(jdb *d, const char *table, int *yes, char *err, size_t errcap);

/*
 * The server went away: reconnect, once a second, until it answers or the
 * wait is over. Says on stderr that it waits and that it resumed. Returns
 * JDB_OK, or JDB_ERR with err when the wait ran out.
 */
int jdb_wait(jdb *d, char *err, size_t errcap);

/* A flag (set by a signal handler) that ends every wait for the server at once. */
void jdb_set_cancel(volatile sig_atomic_t *flag);

size_t jdb_nrows(const jdb_rows *r);
/* The value at (row, col), NULL for SQL NULL or out of range. */
const char *jdb_get(const jdb_rows *r, size_t row, int col);
void jdb_rows_free(jdb_rows *r);

#endif /* KCI_JDB_H */
