/*
 * journal.c - the issuance journal in SQLite (see journal.h,
 * docs/production.md "The journal").
 */
#include "journal.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "jdb.h"
#include "kct.h"
#include "kct_cli.h"

struct kcj {
    jdb *db;
};

/*
 * The schema (docs/production.md "Tables"), one text for both databases:
 * @ID@ is the key column of each dialect.
 */
static const char schema_v2[] =
    "CREATE TABLE kc_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE kc_record ("
    " id @ID@,"
    " batch TEXT NOT NULL DEFAULT '',"
    " fields TEXT NOT NULL,"
    " serial_wanted TEXT UNIQUE,"
    " state TEXT NOT NULL DEFAULT 'queued'"
    "  CHECK (state IN ('queued', 'claimed', 'issuing', 'issued', 'failed')),"
    " station TEXT, claimed_at BIGINT, heartbeat_at BIGINT,"
    " serial TEXT, keycard TEXT, head TEXT, mac TEXT, receipt_seq BIGINT, reason TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
    " claim TEXT);"
    "CREATE INDEX kc_record_queue ON kc_record (state, id);"
    "CREATE TABLE kc_attempt ("
    " id @ID@,"
    " record_id BIGINT NOT NULL REFERENCES kc_record (id),"
    " station TEXT, keycard TEXT, head TEXT, serial TEXT,"
    " started_at BIGINT NOT NULL, ended_at BIGINT,"
    " result TEXT CHECK (result IS NULL OR result IN ('issued', 'failed', 'aside')),"
    " reason TEXT, mac TEXT, receipt_seq BIGINT);"
    "INSERT INTO kc_meta VALUES ('schema', '2');"
    "INSERT INTO kc_meta VALUES ('columns', '[]');";

/* Schema 1 to 2: the claim token (a claim whose commit was not answered is found again). */
static const char migrate_v1[] = "ALTER TABLE kc_record ADD COLUMN claim TEXT;"
                                 "UPDATE kc_meta SET value = '2' WHERE name = 'schema';";

/* Free what jansson allocated (kct_json_init gives it an allocator of its own). */
static void json_text_free(char *text)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (text)
        f(text);
}

/* A number as a statement parameter. */
static const char *num(char buf[24], long v)
{
    snprintf(buf, 24, "%ld", v);
    return buf;
}

/* 128 fresh random bits in hex: a claim's or an import's token. */
static int token(char out[33], char *err, size_t cap)
{
    uint8_t b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t n = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    if (n != sizeof b) {
        snprintf(err, cap, "journal: cannot read /dev/urandom for a claim token");
        return JDB_ERR;
    }
    kct_hex_format(b, sizeof b, out);
    return JDB_OK;
}

/*
 * The time for the transaction's timestamps: the server's clock when there
 * is a server (the stations' clocks may differ; heartbeats are compared
 * across stations), else this machine's.
 */
static int now_of(kcj *j, char buf[24], long *now, char *err, size_t cap)
{
    jdb_rows *r;
    *now = (long)time(NULL);
    if (jdb_server(j->db)) {
        int rc = jdb_exec(j->db, "read the server's clock",
                          "SELECT CAST(extract(epoch FROM now()) AS BIGINT)", 0, NULL, &r, err, cap);
        if (rc != JDB_OK)
            return rc;
        *now = atol(jdb_get(r, 0, 0) ? jdb_get(r, 0, 0) : "0");
        jdb_rows_free(r);
    }
    num(buf, *now);
    return JDB_OK;
}

/* End a transaction: commit on JDB_OK, else roll back; the outcome. */
static int finish(kcj *j, int rc, const char *what, char *err, size_t cap)
{
    if (rc == JDB_OK)
        rc = jdb_commit(j->db, what, err, cap);
    if (rc != JDB_OK)
        jdb_rollback(j->db);
    return rc;
}

/*
 * Run a transaction (a function of j, ..., err, cap) to its end: after a
 * lost server, wait for it and run the whole transaction again (each is
 * written to be run again after a commit whose answer was lost).
 */
#define RUN(j, err, cap, call)                                                                     \
    do {                                                                                           \
        for (;;) {                                                                                 \
            int run_rc_ = (call);                                                                  \
            if (run_rc_ == JDB_LOST) {                                                             \
                if (jdb_wait((j)->db, err, cap) == JDB_OK)                                         \
                    continue;                                                                      \
                return -1;                                                                         \
            }                                                                                      \
            return run_rc_ == JDB_OK ? 0 : run_rc_ == KCJ_GONE ? -2 : -1;                          \
        }                                                                                          \
    } while (0)

/* Internal: the record is no longer this station's (kcj_issuing). */
#define KCJ_GONE (-10)

static int schema_version(kcj *j, int *v, char *err, size_t cap)
{
    jdb_rows *r;
    int have, rc = jdb_has_table(j->db, "kc_meta", &have, err, cap);
    *v = 0;
    if (rc != JDB_OK || !have)
        return rc;
    rc = jdb_exec(j->db, "read the schema", "SELECT value FROM kc_meta WHERE name = 'schema'", 0,
                  NULL, &r, err, cap);
    if (rc == JDB_OK)
        *v = jdb_get(r, 0, 0) ? atoi(jdb_get(r, 0, 0)) : -1;
    jdb_rows_free(r);
    return rc;
}

/* Create the schema, or migrate an older one, in one transaction; *v the version found. */
static int schema_once(kcj *j, int *v, char *err, size_t cap)
{
    int rc = jdb_begin(j->db, "create the schema", err, cap);
    if (rc != JDB_OK)
        return rc;
    /* Stations starting together: one creates, the others wait, then find it. */
    if (jdb_server(j->db))
        rc = jdb_exec(j->db, "create the schema", "SELECT pg_advisory_xact_lock(7316)", 0, NULL,
                      NULL, err, cap);
    if (rc == JDB_OK)
        rc = schema_version(j, v, err, cap);
    if (rc == JDB_OK && *v == 0) {
        char sql[sizeof schema_v2 + 64], *at;
        const char *id = jdb_server(j->db) ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY";
        size_t o = 0;
        const char *s = schema_v2;
        while ((at = strstr(s, "@ID@")) != NULL) {
            o += (size_t)snprintf(sql + o, sizeof sql - o, "%.*s%s", (int)(at - s), s, id);
            s = at + 4;
        }
        snprintf(sql + o, sizeof sql - o, "%s", s);
        rc = jdb_exec(j->db, "create the schema", sql, 0, NULL, NULL, err, cap);
    } else if (rc == JDB_OK && *v == 1) {
        rc = jdb_exec(j->db, "migrate the schema from 1 to 2", migrate_v1, 0, NULL, NULL, err, cap);
    }
    return finish(j, rc, "create the schema", err, cap);
}

static int open_schema(kcj *j, int *v, char *err, size_t cap)
{
    RUN(j, err, cap, schema_once(j, v, err, cap));
}

int kcj_open(const char *where, int create, long wait_s, kcj **out, char *err, size_t errcap)
{
    kcj *j = calloc(1, sizeof *j);
    int v = 0;
    *out = NULL;
    if (!j) {
        snprintf(err, errcap, "%s: out of memory", where);
        return -1;
    }
    if (jdb_open(where, create, wait_s, &j->db, err, errcap) != JDB_OK) {
        free(j);
        return -1;
    }
    if (open_schema(j, &v, err, errcap) != 0) {
        kcj_close(j);
        return -1;
    }
    if (v != 0 && v != 1 && v != KCJ_SCHEMA_VERSION) {
        snprintf(err, errcap,
                 v > KCJ_SCHEMA_VERSION
                     ? "%s: a journal of schema %d, newer than this kc-issue's (%d): use a newer "
                       "kc-issue"
                     : "%s: not a journal this kc-issue knows (schema %d, expected %d)",
                 jdb_name(j->db), v, KCJ_SCHEMA_VERSION);
        kcj_close(j);
        return -1;
    }
    *out = j;
    return 0;
}

void kcj_close(kcj *j)
{
    if (!j)
        return;
    jdb_close(j->db);
    free(j);
}

const char *kcj_name(const kcj *j) { return jdb_name(j->db); }


/* The union of record columns, kept in kc_meta in first-import order. */
static json_t *columns_get(kcj *j, int *rc, char *err, size_t cap)
{
    jdb_rows *r;
    json_t *cols = NULL;
    *rc = jdb_exec(j->db, "read the columns", "SELECT value FROM kc_meta WHERE name = 'columns'",
                   0, NULL, &r, err, cap);
    if (*rc == JDB_OK && jdb_get(r, 0, 0))
        cols = json_loads(jdb_get(r, 0, 0), 0, NULL);
    jdb_rows_free(r);
    return json_is_array(cols) ? cols : (json_decref(cols), json_array());
}

static int import_once(kcj *j, const kci_csv *c, const char *batch, const char *tok,
                       size_t *added, char *err, size_t cap)
{
    int serial_col = kci_csv_col(c, "serial");
    char now_s[24], mark[64];
    long now;
    jdb_rows *r = NULL;
    *added = 0;
    int rc = jdb_begin(j->db, "import", err, cap);
    if (rc != JDB_OK)
        return rc;
    rc = now_of(j, now_s, &now, err, cap);
    /* This import's token: found when a commit's answer was lost, so nothing is queued twice. */
    snprintf(mark, sizeof mark, "import %s", tok);
    const char *pm[] = {mark};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "import", "SELECT value FROM kc_meta WHERE name = $1", 1, pm, &r,
                      err, cap);
    if (rc == JDB_OK && jdb_nrows(r) > 0) {
        *added = (size_t)atol(jdb_get(r, 0, 0) ? jdb_get(r, 0, 0) : "0");
        jdb_rows_free(r);
        return finish(j, rc, "import", err, cap);
    }
    jdb_rows_free(r);
    for (size_t i = 0; rc == JDB_OK && i < c->n_rows; i++) {
        json_t *o = json_object();
        for (size_t k = 0; k < c->n_cols; k++)
            json_object_set_new(o, c->head[k], json_string(c->rows[i][k]));
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        const char *p[] = {batch, text ? text : "{}", serial_col >= 0 ? c->rows[i][serial_col] : NULL,
                           now_s};
        rc = jdb_exec(j->db, "import",
                      "INSERT INTO kc_record (batch, fields, serial_wanted, created_at, "
                      "updated_at) VALUES ($1, $2, $3, $4, $4)",
                      4, p, NULL, err, cap);
        json_text_free(text);
        if (rc == JDB_CONFLICT) {
            snprintf(err, cap, "%s: line %zu: serial %s has a record already; nothing imported",
                     jdb_name(j->db), c->line ? c->line[i] : i + 2, c->rows[i][serial_col]);
            rc = JDB_ERR;
        }
        if (rc == JDB_OK)
            (*added)++;
    }
    if (rc == JDB_OK) {
        json_t *cols = columns_get(j, &rc, err, cap);
        for (size_t k = 0; k < c->n_cols; k++) {
            size_t i;
            json_t *v;
            int have = 0;
            json_array_foreach(cols, i, v) have |= strcmp(json_string_value(v), c->head[k]) == 0;
            if (!have)
                json_array_append_new(cols, json_string(c->head[k]));
        }
        char *text = json_dumps(cols, JSON_COMPACT), n_s[24];
        const char *p[] = {text ? text : "[]"}, *pk[] = {mark, num(n_s, (long)*added)};
        if (rc == JDB_OK)
            rc = jdb_exec(j->db, "import", "UPDATE kc_meta SET value = $1 WHERE name = 'columns'",
                          1, p, NULL, err, cap);
        if (rc == JDB_OK)
            rc = jdb_exec(j->db, "import", "INSERT INTO kc_meta (name, value) VALUES ($1, $2)", 2,
                          pk, NULL, err, cap);
        json_text_free(text);
        json_decref(cols);
    }
    rc = finish(j, rc, "import", err, cap);
    if (rc != JDB_OK)
        *added = 0;
    return rc;
}

int kcj_import(kcj *j, const kci_csv *c, const char *batch, size_t *added, char *err,
               size_t errcap)
{
    char tok[33];
    if (token(tok, err, errcap) != JDB_OK)
        return -1;
    RUN(j, err, errcap, import_once(j, c, batch, tok, added, err, errcap));
}

static int count_once(kcj *j, const char *batch, kcj_counts *out, char *err, size_t cap)
{
    jdb_rows *r;
    const char *p[] = {batch};
    memset(out, 0, sizeof *out);
    int rc = jdb_exec(j->db, "count the records",
                      "SELECT state, count(*) FROM kc_record WHERE batch = coalesce($1, batch) "
                      "GROUP BY state",
                      1, p, &r, err, cap);
    for (size_t i = 0; rc == JDB_OK && i < jdb_nrows(r); i++) {
        const char *s = jdb_get(r, i, 0);
        long n = atol(jdb_get(r, i, 1));
        out->total += n;
        if (strcmp(s, "queued") == 0)
            out->queued = n;
        else if (strcmp(s, "claimed") == 0)
            out->claimed = n;
        else if (strcmp(s, "issuing") == 0)
            out->issuing = n;
        else if (strcmp(s, "issued") == 0)
            out->issued = n;
        else if (strcmp(s, "failed") == 0)
            out->failed = n;
    }
    jdb_rows_free(r);
    return rc;
}

int kcj_count(kcj *j, const char *batch, kcj_counts *out, char *err, size_t errcap)
{
    RUN(j, err, errcap, count_once(j, batch, out, err, errcap));
}

/* One CSV field, quoted when it must be. */
static void csv_field(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(',', f);
    if (!s)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int export_once(kcj *j, FILE *f, char *err, size_t cap)
{
    static const char *const fixed[] = {"record", "batch",   "state",    "card", "keycard",
                                        "mac",    "receipt", "attempts", "reason"};
    jdb_rows *r = NULL;
    int rc;
    json_t *cols = columns_get(j, &rc, err, cap);
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "export",
                      "SELECT id, batch, state, serial, keycard, mac, receipt_seq, attempts, "
                      "reason, fields FROM kc_record ORDER BY id",
                      0, NULL, &r, err, cap);
    if (rc == JDB_OK) {
        size_t i;
        json_t *v;
        for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            csv_field(f, fixed[i], i == 0);
        json_array_foreach(cols, i, v) csv_field(f, json_string_value(v), 0);
        fputc('\n', f);
        for (size_t n = 0; n < jdb_nrows(r); n++) {
            for (int k = 0; k < 9; k++)
                csv_field(f, jdb_get(r, n, k), k == 0);
            json_t *o = json_loads(jdb_get(r, n, 9) ? jdb_get(r, n, 9) : "{}", 0, NULL);
            json_array_foreach(cols, i, v)
                csv_field(f, json_string_value(json_object_get(o, json_string_value(v))), 0);
            json_decref(o);
            fputc('\n', f);
        }
    }
    jdb_rows_free(r);
    json_decref(cols);
    return rc;
}

int kcj_export(kcj *j, FILE *f, char *err, size_t errcap)
{
    RUN(j, err, errcap, export_once(j, f, err, errcap));
}

/* ---- issuing from the journal ------------------------------------------- */

/* A one-row kci_csv from a record's fields (a JSON object). */
static int row_of(const char *fields, kci_csv *row)
{
    json_t *o = fields ? json_loads(fields, 0, NULL) : NULL;
    size_t n = json_is_object(o) ? json_object_size(o) : 0, k = 0;
    const char *key;
    json_t *v;
    memset(row, 0, sizeof *row);
    if (!json_is_object(o)) {
        json_decref(o);
        return -1;
    }
    row->head = calloc(n + 1, sizeof *row->head);
    row->rows = calloc(1, sizeof *row->rows);
    row->line = calloc(1, sizeof *row->line);
    if (row->rows)
        row->rows[0] = calloc(n + 1, sizeof **row->rows);
    if (!row->head || !row->rows || !row->rows[0] || !row->line) {
        json_decref(o);
        return -1;
    }
    row->n_rows = 1;
    json_object_foreach(o, key, v)
    {
        row->head[k] = strdup(key);
        row->rows[0][k] = strdup(json_is_string(v) ? json_string_value(v) : "");
        row->n_cols = ++k;
    }
    json_decref(o);
    return 0;
}

static int recover_once(kcj *j, const char *station, kcj_open_attempt *out, size_t cap, int *n,
                        char *err, size_t errcap)
{
    char now_s[24];
    long now;
    jdb_rows *r = NULL;
    *n = 0;
    int rc = jdb_begin(j->db, "recover", err, errcap);
    if (rc != JDB_OK)
        return rc;
    rc = now_of(j, now_s, &now, err, errcap);
    const char *p[] = {now_s, station};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "recover",
                      "UPDATE kc_record SET state = 'queued', station = NULL, claim = NULL, "
                      "claimed_at = NULL, updated_at = $1 WHERE state = 'claimed' AND station = $2",
                      2, p, NULL, err, errcap);
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "recover",
                      "SELECT r.id, a.id, r.serial FROM kc_record r JOIN kc_attempt a ON "
                      "a.record_id = r.id AND a.result IS NULL WHERE r.state = 'issuing' AND "
                      "r.station = $1 ORDER BY r.id",
                      1, p + 1, &r, err, errcap);
    for (size_t i = 0; rc == JDB_OK && i < jdb_nrows(r) && (size_t)*n < cap; i++, (*n)++) {
        out[*n].record = atol(jdb_get(r, i, 0));
        out[*n].attempt = atol(jdb_get(r, i, 1));
        snprintf(out[*n].serial, sizeof out[*n].serial, "%s",
                 jdb_get(r, i, 2) ? jdb_get(r, i, 2) : "");
    }
    jdb_rows_free(r);
    return finish(j, rc, "recover", err, errcap);
}

int kcj_recover(kcj *j, const char *station, kcj_open_attempt *out, size_t cap, char *err,
                size_t errcap)
{
    int n = 0;
    for (;;) {
        int rc = recover_once(j, station, out, cap, &n, err, errcap);
        if (rc == JDB_LOST && jdb_wait(j->db, err, errcap) == JDB_OK)
            continue;
        return rc == JDB_OK ? n : -1;
    }
}

static int claim_once(kcj *j, const char *station, const char *serial, const char *tok, long *id,
                      kci_csv *row, char *err, size_t cap)
{
    char now_s[24], stale_s[24];
    long now;
    jdb_rows *r = NULL;
    *id = 0;
    int rc = jdb_begin(j->db, "claim a record", err, cap);
    if (rc != JDB_OK)
        return rc;
    rc = now_of(j, now_s, &now, err, cap);
    /* The same claim again (its commit's answer was lost): the record it took. */
    const char *pt[] = {tok};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "claim a record",
                      "SELECT id, fields FROM kc_record WHERE claim = $1 AND state = 'claimed'", 1,
                      pt, &r, err, cap);
    if (rc == JDB_OK && jdb_nrows(r) == 0) {
        jdb_rows_free(r);
        r = NULL;
        /* A dead station's claims (no heartbeat for KCJ_STALE_S) go back to the queue. */
        const char *ps[] = {now_s, num(stale_s, now - KCJ_STALE_S)};
        rc = jdb_exec(j->db, "claim a record",
                      "UPDATE kc_record SET state = 'queued', station = NULL, claim = NULL, "
                      "claimed_at = NULL, updated_at = $1 WHERE state = 'claimed' AND "
                      "heartbeat_at < $2",
                      2, ps, NULL, err, cap);
        const char *pq[] = {serial};
        if (rc == JDB_OK)
            rc = jdb_exec(j->db, "claim a record",
                          jdb_server(j->db)
                              ? "SELECT id, fields FROM kc_record WHERE state = 'queued' AND "
                                "(serial_wanted IS NULL OR upper(serial_wanted) = upper($1)) "
                                "ORDER BY serial_wanted IS NULL, id LIMIT 1 FOR UPDATE SKIP LOCKED"
                              : "SELECT id, fields FROM kc_record WHERE state = 'queued' AND "
                                "(serial_wanted IS NULL OR upper(serial_wanted) = upper($1)) "
                                "ORDER BY serial_wanted IS NULL, id LIMIT 1",
                          1, pq, &r, err, cap);
        if (rc == JDB_OK && jdb_nrows(r) > 0) {
            const char *pu[] = {station, now_s, tok, jdb_get(r, 0, 0)};
            rc = jdb_exec(j->db, "claim a record",
                          "UPDATE kc_record SET state = 'claimed', station = $1, claimed_at = $2, "
                          "heartbeat_at = $2, updated_at = $2, claim = $3 WHERE id = $4",
                          4, pu, NULL, err, cap);
        }
    }
    if (rc == JDB_OK && jdb_nrows(r) > 0) {
        if (row_of(jdb_get(r, 0, 1), row) != 0) {
            snprintf(err, cap, "%s: record %s: its fields are not a JSON object", jdb_name(j->db),
                     jdb_get(r, 0, 0));
            rc = JDB_ERR;
        } else {
            *id = atol(jdb_get(r, 0, 0));
        }
    }
    jdb_rows_free(r);
    rc = finish(j, rc, "claim a record", err, cap);
    if (rc != JDB_OK) {
        kci_csv_free(row);
        *id = 0;
    }
    return rc;
}

int kcj_claim(kcj *j, const char *station, const char *serial, long *id, kci_csv *row,
              char *err, size_t errcap)
{
    char tok[33];
    memset(row, 0, sizeof *row);
    *id = 0;
    if (token(tok, err, errcap) != JDB_OK)
        return -1;
    RUN(j, err, errcap, claim_once(j, station, serial, tok, id, row, err, errcap));
}

static int issuing_once(kcj *j, long id, const char *station, const char *serial,
                        const char *kcard, const char *head, long *attempt, char *err, size_t cap)
{
    char now_s[24], id_s[24];
    long now;
    jdb_rows *r = NULL;
    int rc = jdb_begin(j->db, "start a card", err, cap);
    if (rc != JDB_OK)
        return rc;
    rc = now_of(j, now_s, &now, err, cap);
    num(id_s, id);
    /* Started already (this transaction's commit was not answered): its open attempt. */
    const char *pf[] = {id_s, station, serial};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "start a card",
                      "SELECT a.id FROM kc_record r JOIN kc_attempt a ON a.record_id = r.id AND "
                      "a.result IS NULL WHERE r.id = $1 AND r.state = 'issuing' AND r.station = "
                      "$2 AND a.serial = $3",
                      3, pf, &r, err, cap);
    if (rc == JDB_OK && jdb_nrows(r) > 0) {
        *attempt = atol(jdb_get(r, 0, 0));
        jdb_rows_free(r);
        return finish(j, rc, "start a card", err, cap);
    }
    jdb_rows_free(r);
    r = NULL;
    /* Both rows in one transaction: the record issuing and its open attempt. */
    const char *pu[] = {serial, kcard, head, now_s, id_s, station};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "start a card",
                      "UPDATE kc_record SET state = 'issuing', serial = $1, keycard = $2, head = "
                      "$3, attempts = attempts + 1, heartbeat_at = $4, updated_at = $4 WHERE id "
                      "= $5 AND state = 'claimed' AND station = $6",
                      6, pu, NULL, err, cap);
    if (rc == JDB_OK && jdb_changes(j->db) != 1) {
        snprintf(err, cap, "%s: record %ld is no longer claimed by this station", jdb_name(j->db),
                 id);
        rc = KCJ_GONE;
    }
    const char *pa[] = {id_s, station, kcard, head, serial, now_s};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "start a card",
                      "INSERT INTO kc_attempt (record_id, station, keycard, head, serial, "
                      "started_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                      6, pa, &r, err, cap);
    if (rc == JDB_OK)
        *attempt = atol(jdb_get(r, 0, 0) ? jdb_get(r, 0, 0) : "0");
    jdb_rows_free(r);
    return finish(j, rc, "start a card", err, cap);
}

int kcj_issuing(kcj *j, long id, const char *station, const char *serial, const char *kcard,
                const char *head, long *attempt, char *err, size_t errcap)
{
    RUN(j, err, errcap, issuing_once(j, id, station, serial, kcard, head, attempt, err, errcap));
}

static int settle_once(kcj *j, long id, long attempt, const char *result, const char *reason,
                       const char *mac, char *err, size_t cap)
{
    char now_s[24], id_s[24], at_s[24], max_s[24];
    long now;
    int issued = strcmp(result, "issued") == 0;
    int rc = jdb_begin(j->db, "settle a card", err, cap);
    if (rc != JDB_OK)
        return rc;
    rc = now_of(j, now_s, &now, err, cap);
    const char *pa[] = {result, reason, now_s, num(at_s, attempt), mac};
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "settle a card",
                      "UPDATE kc_attempt SET result = $1, reason = $2, ended_at = $3, mac = $5 "
                      "WHERE id = $4 AND result IS NULL",
                      5, pa, NULL, err, cap);
    /* Settled already (the commit's answer was lost): nothing more to do. */
    if (rc == JDB_OK && jdb_changes(j->db) == 1) {
        num(id_s, id);
        const char *pi[] = {now_s, id_s, mac};
        const char *pq[] = {now_s, id_s, num(max_s, KCJ_MAX_ATTEMPTS), reason,
                            strcmp(result, "failed") == 0 ? "1" : "0"};
        rc = issued ? jdb_exec(j->db, "settle a card",
                               "UPDATE kc_record SET state = 'issued', reason = NULL, claim = NULL, "
                               "updated_at = $1, heartbeat_at = $1, mac = coalesce($3, mac) "
                               "WHERE id = $2 AND state = 'issuing'",
                               3, pi, NULL, err, cap)
                    : jdb_exec(j->db, "settle a card",
                               "UPDATE kc_record SET state = CASE WHEN attempts - $5 >= $3 THEN "
                               "'failed' ELSE 'queued' END, station = CASE WHEN attempts - $5 >= "
                               "$3 THEN station ELSE NULL END, attempts = attempts - $5, serial = "
                               "NULL, keycard = NULL, head = NULL, claim = NULL, reason = $4, "
                               "updated_at = $1 WHERE id = $2 AND state = 'issuing'",
                               5, pq, NULL, err, cap);
    }
    return finish(j, rc, "settle a card", err, cap);
}

int kcj_settle(kcj *j, long id, long attempt, const char *result, const char *reason,
               const char *mac, char *err, size_t errcap)
{
    RUN(j, err, errcap, settle_once(j, id, attempt, result, reason, mac, err, errcap));
}

static int find_once(kcj *j, const char *station, const char *serial, long *id, long *attempt,
                     kci_csv *row, char *err, size_t cap)
{
    jdb_rows *r;
    const char *p[] = {station, serial};
    *id = 0;
    int rc = jdb_exec(j->db, "find a card's record",
                      "SELECT r.id, a.id, r.fields FROM kc_record r JOIN kc_attempt a ON "
                      "a.record_id = r.id AND a.result IS NULL WHERE r.state = 'issuing' AND "
                      "r.station = $1 AND upper(r.serial) = upper($2) LIMIT 1",
                      2, p, &r, err, cap);
    if (rc == JDB_OK && jdb_nrows(r) > 0 && row_of(jdb_get(r, 0, 2), row) == 0) {
        *id = atol(jdb_get(r, 0, 0));
        *attempt = atol(jdb_get(r, 0, 1));
    }
    jdb_rows_free(r);
    return rc;
}

int kcj_find_issuing(kcj *j, const char *station, const char *serial, long *id, long *attempt,
                     kci_csv *row, char *err, size_t errcap)
{
    memset(row, 0, sizeof *row);
    RUN(j, err, errcap, find_once(j, station, serial, id, attempt, row, err, errcap));
}

/*
 * The attempts' figures, of one batch or (batch NULL) of all: issued cards
 * per hour from the first start to the last end (-1: fewer than two or no
 * time between), the cards set aside by reason (most first) into reasons:
 * [{"reason", "cards"}], the stations with open records into stations:
 * [{"station", "claimed", "issuing", "quiet_s"}] (seconds since the
 * station's last heartbeat), and per batch into batches: [{"batch",
 * "total", "queued", "claimed", "issuing", "issued", "failed", "set_aside",
 * "cards_per_hour"}].
 */
static double rate_of(const char *n_s, const char *from_s, const char *to_s)
{
    long n = atol(n_s ? n_s : "0"), span = atol(to_s ? to_s : "0") - atol(from_s ? from_s : "0");
    return n >= 2 && from_s && to_s && span > 0 ? 3600.0 * (double)n / (double)span : -1;
}

static int report_once(kcj *j, const char *batch, double *rate, json_t *reasons, json_t *stations,
                       json_t *batches, char *err, size_t cap)
{
    jdb_rows *r = NULL;
    char now_s[24];
    long now;
    const char *pb[] = {batch};
    *rate = -1;
    json_array_clear(reasons);
    json_array_clear(stations);
    json_array_clear(batches);
    int rc = now_of(j, now_s, &now, err, cap);
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "report",
                      "SELECT count(*), min(a.started_at), max(a.ended_at) FROM kc_attempt a "
                      "JOIN kc_record r ON r.id = a.record_id WHERE a.result = 'issued' AND "
                      "r.batch = coalesce($1, r.batch)",
                      1, pb, &r, err, cap);
    if (rc == JDB_OK)
        *rate = rate_of(jdb_get(r, 0, 0), jdb_get(r, 0, 1), jdb_get(r, 0, 2));
    jdb_rows_free(r);
    r = NULL;
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "report",
                      "SELECT coalesce(a.reason, ''), count(*) FROM kc_attempt a JOIN kc_record "
                      "r ON r.id = a.record_id WHERE a.result IN ('aside', 'failed') AND r.batch "
                      "= coalesce($1, r.batch) GROUP BY coalesce(a.reason, '') ORDER BY "
                      "count(*) DESC, coalesce(a.reason, '')",
                      1, pb, &r, err, cap);
    for (size_t i = 0; rc == JDB_OK && i < jdb_nrows(r); i++)
        json_array_append_new(reasons, json_pack("{s:s, s:I}", "reason", jdb_get(r, i, 0),
                                                 "cards", (json_int_t)atol(jdb_get(r, i, 1))));
    jdb_rows_free(r);
    r = NULL;
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "report",
                      "SELECT station, sum(CASE WHEN state = 'claimed' THEN 1 ELSE 0 END), "
                      "sum(CASE WHEN state = 'issuing' THEN 1 ELSE 0 END), max(heartbeat_at) "
                      "FROM kc_record WHERE state IN ('claimed', 'issuing') AND batch = "
                      "coalesce($1, batch) GROUP BY station ORDER BY station",
                      1, pb, &r, err, cap);
    for (size_t i = 0; rc == JDB_OK && i < jdb_nrows(r); i++)
        json_array_append_new(
            stations, json_pack("{s:s, s:I, s:I, s:I}", "station",
                                jdb_get(r, i, 0) ? jdb_get(r, i, 0) : "", "claimed",
                                (json_int_t)atol(jdb_get(r, i, 1)), "issuing",
                                (json_int_t)atol(jdb_get(r, i, 2)), "quiet_s",
                                (json_int_t)(now - atol(jdb_get(r, i, 3) ? jdb_get(r, i, 3) : "0"))));
    jdb_rows_free(r);
    r = NULL;
    /* Per batch: records by state, then the attempts' figures. */
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "report",
                      "SELECT batch, count(*), "
                      "sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), "
                      "sum(CASE WHEN state = 'claimed' THEN 1 ELSE 0 END), "
                      "sum(CASE WHEN state = 'issuing' THEN 1 ELSE 0 END), "
                      "sum(CASE WHEN state = 'issued' THEN 1 ELSE 0 END), "
                      "sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) "
                      "FROM kc_record WHERE batch = coalesce($1, batch) GROUP BY batch ORDER BY "
                      "min(id)",
                      1, pb, &r, err, cap);
    for (size_t i = 0; rc == JDB_OK && i < jdb_nrows(r); i++)
        json_array_append_new(
            batches, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:n}", "batch",
                               jdb_get(r, i, 0), "total", (json_int_t)atol(jdb_get(r, i, 1)),
                               "queued", (json_int_t)atol(jdb_get(r, i, 2)), "claimed",
                               (json_int_t)atol(jdb_get(r, i, 3)), "issuing",
                               (json_int_t)atol(jdb_get(r, i, 4)), "issued",
                               (json_int_t)atol(jdb_get(r, i, 5)), "failed",
                               (json_int_t)atol(jdb_get(r, i, 6)), "set_aside", (json_int_t)0,
                               "cards_per_hour"));
    jdb_rows_free(r);
    r = NULL;
    if (rc == JDB_OK)
        rc = jdb_exec(j->db, "report",
                      "SELECT r.batch, sum(CASE WHEN a.result = 'issued' THEN 1 ELSE 0 END), "
                      "min(CASE WHEN a.result = 'issued' THEN a.started_at END), "
                      "max(CASE WHEN a.result = 'issued' THEN a.ended_at END), "
                      "sum(CASE WHEN a.result IN ('aside', 'failed') THEN 1 ELSE 0 END) "
                      "FROM kc_attempt a JOIN kc_record r ON r.id = a.record_id WHERE r.batch = "
                      "coalesce($1, r.batch) GROUP BY r.batch",
                      1, pb, &r, err, cap);
    for (size_t i = 0; rc == JDB_OK && i < jdb_nrows(r); i++) {
        size_t k;
        json_t *b;
        json_array_foreach(batches, k, b)
        {
            if (strcmp(json_string_value(json_object_get(b, "batch")), jdb_get(r, i, 0)) != 0)
                continue;
            double br = rate_of(jdb_get(r, i, 1), jdb_get(r, i, 2), jdb_get(r, i, 3));
            json_object_set_new(b, "set_aside", json_integer(atol(jdb_get(r, i, 4))));
            json_object_set_new(b, "cards_per_hour", br < 0 ? json_null() : json_real(br));
        }
    }
    jdb_rows_free(r);
    return rc;
}

static int attempt_report(kcj *j, const char *batch, double *rate, json_t *reasons,
                          json_t *stations, json_t *batches, char *err, size_t cap)
{
    RUN(j, err, cap, report_once(j, batch, rate, reasons, stations, batches, err, cap));
}

/* ---- reconciliation's view --------------------------------------------- */

static void copy_field(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v ? v : "");
}

static int cards_once(kcj *j, kcj_card **out, size_t *n, char *err, size_t cap)
{
    jdb_rows *r;
    *out = NULL;
    *n = 0;
    int rc = jdb_exec(j->db, "read the card attempts",
                      "SELECT a.record_id, a.id, upper(a.serial), lower(coalesce(a.keycard, "
                      "r.keycard)), lower(a.mac), coalesce(a.result, ''), r.state, "
                      "coalesce(a.receipt_seq, -1), lower(CASE WHEN a.result = 'issued' THEN "
                      "r.mac END) "
                      "FROM kc_attempt a JOIN kc_record r ON r.id = a.record_id ORDER BY a.id",
                      0, NULL, &r, err, cap);
    if (rc != JDB_OK)
        return rc;
    size_t m = jdb_nrows(r);
    kcj_card *c = calloc(m ? m : 1, sizeof *c);
    if (!c) {
        jdb_rows_free(r);
        snprintf(err, cap, "%s: out of memory", jdb_name(j->db));
        return JDB_ERR;
    }
    for (size_t i = 0; i < m; i++) {
        c[i].record = atol(jdb_get(r, i, 0));
        c[i].attempt = atol(jdb_get(r, i, 1));
        copy_field(c[i].serial, sizeof c[i].serial, jdb_get(r, i, 2));
        copy_field(c[i].keycard, sizeof c[i].keycard, jdb_get(r, i, 3));
        copy_field(c[i].mac, sizeof c[i].mac, jdb_get(r, i, 4));
        copy_field(c[i].result, sizeof c[i].result, jdb_get(r, i, 5));
        copy_field(c[i].state, sizeof c[i].state, jdb_get(r, i, 6));
        c[i].receipt_seq = atol(jdb_get(r, i, 7) ? jdb_get(r, i, 7) : "-1");
        copy_field(c[i].record_mac, sizeof c[i].record_mac, jdb_get(r, i, 8));
    }
    jdb_rows_free(r);
    *out = c;
    *n = m;
    return JDB_OK;
}

int kcj_cards(kcj *j, kcj_card **out, size_t *n, char *err, size_t errcap)
{
    RUN(j, err, errcap, cards_once(j, out, n, err, errcap));
}

static int receipts_once(kcj *j, const kcj_card *c, size_t n, char *err, size_t cap)
{
    int rc = jdb_begin(j->db, "record the receipts", err, cap);
    for (size_t i = 0; rc == JDB_OK && i < n; i++) {
        char seq_s[24], id_s[24], at_s[24];
        const char *pr[] = {num(seq_s, c[i].receipt_seq), c[i].keycard, c[i].mac,
                            num(id_s, c[i].record)};
        const char *pa[] = {seq_s, c[i].keycard, c[i].mac, num(at_s, c[i].attempt)};
        rc = jdb_exec(j->db, "record the receipts",
                      "UPDATE kc_record SET receipt_seq = $1, keycard = coalesce(keycard, $2), "
                      "mac = coalesce(mac, $3) WHERE id = $4 AND state = 'issued'",
                      4, pr, NULL, err, cap);
        if (rc == JDB_OK)
            rc = jdb_exec(j->db, "record the receipts",
                          "UPDATE kc_attempt SET receipt_seq = $1, keycard = coalesce(keycard, "
                          "$2), mac = coalesce(mac, $3) WHERE id = $4",
                          4, pa, NULL, err, cap);
    }
    return finish(j, rc, "record the receipts", err, cap);
}

int kcj_receipts_set(kcj *j, const kcj_card *cards, size_t n, char *err, size_t errcap)
{
    RUN(j, err, errcap, receipts_once(j, cards, n, err, errcap));
}

/* ---- kc-issue journal ... ------------------------------------------------ */

static const char journal_help[] =
    "usage: kc-issue journal init --journal JOURNAL\n"
    "       kc-issue journal import --journal JOURNAL CSV [--batch NAME]\n"
    "       kc-issue journal status --journal JOURNAL [--batch NAME] [--json]\n"
    "       kc-issue journal export --journal JOURNAL [--out FILE]\n"
    "       kc-issue journal reconcile --journal JOURNAL --issuer-pub PUB\n"
    "                                  --audit EXPORT... [--json]\n"
    "\n"
    "The issuance journal (docs/production.md): every record to issue and every\n"
    "card attempt. JOURNAL is FILE.db (SQLite in WAL mode: a file, no server) or\n"
    "postgresql://... (a PostgreSQL database that several stations share).\n"
    "\n"
    "  init       create the tables, or migrate older ones (again: a no-op)\n"
    "  import     queue every row of CSV (a header line, one record per row; a\n"
    "             \"serial\" column ties a record to its card), all or none;\n"
    "             creates the journal on first use\n"
    "  status     the records by state, cards per hour, the cards set aside by\n"
    "             reason and the stations holding records, in all and per batch\n"
    "             (--batch NAME: that batch only)\n"
    "  export     every record as CSV: state, card serial, key card, completion\n"
    "             MAC, receipt, attempts, reason, then the record's columns\n"
    "  reconcile  the key cards' audit exports (kc-admin audit --export), each\n"
    "             verified with the issuer public key, against the journal:\n"
    "             every issued record has exactly one completed receipt for its\n"
    "             card with the MAC the journal holds, every completed receipt\n"
    "             vouches for one record; aborted sessions are listed.\n"
    "             Mismatches one per line, exit 1; the receipt numbers of the\n"
    "             matches are written to the journal\n"
    "\n"
    "The issuer's own system may insert records with SQL (the tables are in\n"
    "docs/production.md). Against a server that is not there these commands\n"
    "say so at once (exit 1).\n";

int kcj_main(int argc, char **argv)
{
    static const struct option lo[] = {{"journal", required_argument, NULL, 'J'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"audit", required_argument, NULL, 'a'},
                                       {"issuer-pub", required_argument, NULL, 'P'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *path = NULL, *batch = "", *out = NULL, *pub = getenv("KEYCARD_ISSUER_PUB");
    const char *audits[64];
    int json = 0, opt, n_audits = 0, have_batch = 0;
    char err[1024] = "";
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (opt) {
        case 'J':
            path = optarg;
            break;
        case 'b':
            batch = optarg;
            have_batch = 1;
            break;
        case 'o':
            out = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'a':
            if (n_audits == (int)(sizeof audits / sizeof audits[0]))
                return kct_cli_usage("kc-issue journal", "at most 64 --audit files");
            audits[n_audits++] = optarg;
            break;
        case 'P':
            pub = optarg;
            break;
        case 'h':
            fputs(journal_help, stdout);
            return KCT_EXIT_OK;
        default:
            return kct_cli_bad_option("kc-issue journal", argv[optind - 1], lo);
        }
    }
    const char *cmd = optind < argc ? argv[optind++] : NULL;
    if (!cmd || (strcmp(cmd, "init") && strcmp(cmd, "import") && strcmp(cmd, "status") &&
                 strcmp(cmd, "export") && strcmp(cmd, "reconcile")))
        return kct_cli_usage("kc-issue journal", "init, import, status, export or reconcile");
    int reconcile = strcmp(cmd, "reconcile") == 0;
    /* reconcile: the exports are every --audit FILE and every argument after it. */
    while (reconcile && optind < argc && n_audits < (int)(sizeof audits / sizeof audits[0]))
        audits[n_audits++] = argv[optind++];
    if (reconcile && n_audits == 0)
        return kct_cli_usage("kc-issue journal", "reconcile takes the key cards' audit exports: "
                                                 "--audit FILE... (kc-admin audit --export)");
    if (reconcile && !pub)
        return kct_cli_usage("kc-issue journal", "reconcile checks the exports with the issuer "
                                                 "public key: --issuer-pub FILE");
    if (!path)
        return kct_cli_usage("kc-issue journal", "--journal FILE.db or postgresql://... names the journal");
    if (strcmp(cmd, "import") == 0 ? argc - optind != 1 : argc - optind != 0)
        return kct_cli_usage("kc-issue journal", strcmp(cmd, "import") == 0
                                                     ? "import takes one CSV file"
                                                     : "no arguments expected");
    kci_csv csv;
    memset(&csv, 0, sizeof csv);
    if (strcmp(cmd, "import") == 0 && kci_csv_load(argv[optind], &csv, err, sizeof err) != 0) {
        kct_err("%s: %s", argv[optind], err);
        return KCT_EXIT_USAGE;
    }
    kcj *j;
    /* A one-off command: a server that is not there is said at once, not waited for. */
    if (kcj_open(path, strcmp(cmd, "init") == 0 || strcmp(cmd, "import") == 0, 0, &j, err,
                 sizeof err) != 0) {
        kct_err("%s", err);
        kci_csv_free(&csv);
        return KCT_EXIT_FAIL;
    }
    int ex = KCT_EXIT_OK;
    if (strcmp(cmd, "init") == 0) {
        printf("journal %s: schema %d, ready\n", kcj_name(j), KCJ_SCHEMA_VERSION);
    } else if (strcmp(cmd, "import") == 0) {
        size_t added;
        if (kcj_import(j, &csv, batch, &added, err, sizeof err) != 0) {
            kct_err("%s", err);
            ex = KCT_EXIT_FAIL;
        } else {
            printf("%zu records queued from %s\n", added, argv[optind]);
        }
    } else if (reconcile) {
        ex = kcj_reconcile_main(j, n_audits, (char **)audits, pub, json);
    } else if (strcmp(cmd, "status") == 0) {
        kcj_counts n;
        json_t *reasons = json_array(), *stations = json_array(), *batches = json_array();
        double rate = -1;
        const char *only = have_batch ? batch : NULL;
        if (kcj_count(j, only, &n, err, sizeof err) != 0 ||
            attempt_report(j, only, &rate, reasons, stations, batches, err, sizeof err) != 0) {
            kct_err("%s", err);
            ex = KCT_EXIT_FAIL;
        } else if (json) {
            json_t *doc = json_pack(
                "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:O, s:O, s:O}", "journal", kcj_name(j),
                "total", (int)n.total, "queued", (int)n.queued, "claimed", (int)n.claimed,
                "issuing", (int)n.issuing, "issued", (int)n.issued, "failed", (int)n.failed,
                "cards_per_hour", rate < 0 ? json_null() : json_real(rate), "set_aside", reasons,
                "stations", stations, "batches", batches);
            if (only)
                json_object_set_new(doc, "batch", json_string(only));
            ex = kct_json_print(doc);
        } else {
            printf("journal %s%s%s: %ld records: %ld queued, %ld claimed, %ld issuing, %ld "
                   "issued, %ld failed\n",
                   kcj_name(j), only ? ", batch " : "", only ? only : "", n.total, n.queued,
                   n.claimed, n.issuing, n.issued, n.failed);
            if (rate >= 0)
                printf("rate: %.0f cards/h (issued cards over the time from the first attempt "
                       "to the last)\n", rate);
            size_t i;
            json_t *v;
            json_array_foreach(reasons, i, v)
                printf("set aside %lld x: %s\n",
                       (long long)json_integer_value(json_object_get(v, "cards")),
                       json_string_value(json_object_get(v, "reason")));
            json_array_foreach(stations, i, v)
                printf("station %s: %lld claimed, %lld issuing, last heard %lld s ago\n",
                       json_string_value(json_object_get(v, "station")),
                       (long long)json_integer_value(json_object_get(v, "claimed")),
                       (long long)json_integer_value(json_object_get(v, "issuing")),
                       (long long)json_integer_value(json_object_get(v, "quiet_s")));
            /* Per batch when there are several (one: the lines above are its figures). */
            if (json_array_size(batches) > 1) {
                json_array_foreach(batches, i, v)
                {
                    json_t *br = json_object_get(v, "cards_per_hour");
                    const char *bn = json_string_value(json_object_get(v, "batch"));
                    printf("batch %s: %lld records, %lld issued, %lld queued, %lld failed, %lld "
                           "cards set aside",
                           bn[0] ? bn : "(none)",
                           (long long)json_integer_value(json_object_get(v, "total")),
                           (long long)json_integer_value(json_object_get(v, "issued")),
                           (long long)json_integer_value(json_object_get(v, "queued")),
                           (long long)json_integer_value(json_object_get(v, "failed")),
                           (long long)json_integer_value(json_object_get(v, "set_aside")));
                    if (json_is_real(br))
                        printf(", %.0f cards/h", json_real_value(br));
                    putchar('\n');
                }
            }
        }
        json_decref(reasons);
        json_decref(stations);
        json_decref(batches);
    } else {
        FILE *f = out ? fopen(out, "w") : stdout;
        if (!f) {
            kct_err("--out %s: %s", out, strerror(errno));
            ex = KCT_EXIT_FAIL;
        } else {
            if (kcj_export(j, f, err, sizeof err) != 0) {
                kct_err("%s", err);
                ex = KCT_EXIT_FAIL;
            }
            if ((out ? fclose(f) : fflush(f)) != 0 && ex == KCT_EXIT_OK) {
                kct_err("%s: %s", out ? out : "stdout", strerror(errno));
                ex = KCT_EXIT_FAIL;
            }
        }
    }
    kcj_close(j);
    kci_csv_free(&csv);
    return ex;
}
