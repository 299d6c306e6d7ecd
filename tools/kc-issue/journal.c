/*
 * journal.c - the issuance journal in SQLite (see journal.h,
 * docs/production.md "The journal").
 */
#include "journal.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kct.h"
#include "kct_cli.h"

struct kcj {
    sqlite3 *db;
    char path[4096];
};

/* The schema of version 1 (docs/production.md "Tables"). */
static const char schema_v1[] =
    "CREATE TABLE kc_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE kc_record ("
    " id INTEGER PRIMARY KEY,"
    " batch TEXT NOT NULL DEFAULT '',"
    " fields TEXT NOT NULL,"
    " serial_wanted TEXT UNIQUE,"
    " state TEXT NOT NULL DEFAULT 'queued'"
    "  CHECK (state IN ('queued', 'claimed', 'issuing', 'issued', 'failed')),"
    " station TEXT, claimed_at BIGINT, heartbeat_at BIGINT,"
    " serial TEXT, keycard TEXT, head TEXT, mac TEXT, receipt_seq BIGINT, reason TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE INDEX kc_record_queue ON kc_record (state, id);"
    "CREATE TABLE kc_attempt ("
    " id INTEGER PRIMARY KEY,"
    " record_id INTEGER NOT NULL REFERENCES kc_record (id),"
    " station TEXT, keycard TEXT, head TEXT, serial TEXT,"
    " started_at BIGINT NOT NULL, ended_at BIGINT,"
    " result TEXT CHECK (result IS NULL OR result IN ('issued', 'failed', 'aside')),"
    " reason TEXT, mac TEXT, receipt_seq BIGINT);"
    "INSERT INTO kc_meta VALUES ('schema', '1');"
    "INSERT INTO kc_meta VALUES ('columns', '[]');";

/* Free what jansson allocated (kct_json_init gives it an allocator of its own). */
static void json_text_free(char *text)
{
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    if (text)
        f(text);
}

/* SQLite's reason in words a user acts on. */
static void say(kcj *j, int rc, const char *what, char *err, size_t cap)
{
    const char *why = rc == SQLITE_FULL       ? "the disk is full"
                      : rc == SQLITE_READONLY ? "the journal or its directory is read-only"
                      : rc == SQLITE_CANTOPEN ? "cannot open or create the file (does the "
                                                "directory exist, may it be written?)"
                      : rc == SQLITE_BUSY     ? "another program holds the journal"
                      : rc == SQLITE_NOTADB   ? "not a journal (not an SQLite database)"
                      : rc == SQLITE_CORRUPT  ? "the journal file is damaged"
                      : j && j->db            ? sqlite3_errmsg(j->db)
                                              : sqlite3_errstr(rc);
    snprintf(err, cap, "%s: %s: %s", j ? j->path : "journal", what, why);
}

static int exec(kcj *j, const char *sql, const char *what, char *err, size_t cap)
{
    int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        say(j, rc, what, err, cap);
        return -1;
    }
    return 0;
}

static int schema_version(kcj *j)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(j->db, "SELECT value FROM kc_meta WHERE name = 'schema'", -1, &st,
                           NULL) != SQLITE_OK)
        return 0; /* no kc_meta: an empty database */
    if (sqlite3_step(st) == SQLITE_ROW)
        v = atoi((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

int kcj_open(const char *path, int create, kcj **out, char *err, size_t errcap)
{
    kcj *j = calloc(1, sizeof *j);
    struct stat sb;
    *out = NULL;
    if (!j) {
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    snprintf(j->path, sizeof j->path, "%s", path);
    if (!create && stat(path, &sb) != 0) {
        snprintf(err, errcap, "%s: no journal here (kc-issue journal init --journal %s makes one)",
                 path, path);
        free(j);
        return -1;
    }
    int rc = sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(j->db, 10000);
    if (rc != SQLITE_OK) {
        say(j, rc, "open", err, errcap);
        kcj_close(j);
        return -1;
    }
    /* WAL: readers never wait for the writer; a commit is one append and one sync. */
    if (exec(j, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
             "set WAL mode", err, errcap) != 0) {
        kcj_close(j);
        return -1;
    }
    int v = schema_version(j);
    if (v == 0) {
        if (exec(j, "BEGIN IMMEDIATE", "create the schema", err, errcap) != 0 ||
            exec(j, schema_v1, "create the schema", err, errcap) != 0 ||
            exec(j, "COMMIT", "create the schema", err, errcap) != 0) {
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
            kcj_close(j);
            return -1;
        }
        v = KCJ_SCHEMA_VERSION;
    }
    if (v != KCJ_SCHEMA_VERSION) {
        snprintf(err, errcap,
                 v > KCJ_SCHEMA_VERSION
                     ? "%s: a journal of schema %d, newer than this kc-issue's (%d): use a newer "
                       "kc-issue"
                     : "%s: not a journal this kc-issue knows (schema %d, expected %d)",
                 path, v, KCJ_SCHEMA_VERSION);
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
    if (j->db)
        sqlite3_close(j->db);
    free(j);
}

/* The union of record columns, kept in kc_meta in first-import order. */
static json_t *columns_get(kcj *j)
{
    sqlite3_stmt *st;
    json_t *cols = NULL;
    if (sqlite3_prepare_v2(j->db, "SELECT value FROM kc_meta WHERE name = 'columns'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        cols = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    return json_is_array(cols) ? cols : (json_decref(cols), json_array());
}

int kcj_import(kcj *j, const kci_csv *c, const char *batch, size_t *added, char *err,
               size_t errcap)
{
    sqlite3_stmt *ins = NULL, *meta = NULL;
    json_t *cols = NULL;
    int serial_col = kci_csv_col(c, "serial"), rc;
    long now = (long)time(NULL);
    *added = 0;
    if (exec(j, "BEGIN IMMEDIATE", "import", err, errcap) != 0)
        return -1;
    rc = sqlite3_prepare_v2(j->db,
                            "INSERT INTO kc_record (batch, fields, serial_wanted, created_at, "
                            "updated_at) VALUES (?, ?, ?, ?, ?)",
                            -1, &ins, NULL);
    for (size_t r = 0; rc == SQLITE_OK && r < c->n_rows; r++) {
        json_t *o = json_object();
        for (size_t k = 0; k < c->n_cols; k++)
            json_object_set_new(o, c->head[k], json_string(c->rows[r][k]));
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, batch, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, text ? text : "{}", -1, SQLITE_TRANSIENT);
        if (serial_col >= 0)
            sqlite3_bind_text(ins, 3, c->rows[r][serial_col], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 3);
        sqlite3_bind_int64(ins, 4, now);
        sqlite3_bind_int64(ins, 5, now);
        json_text_free(text);
        rc = sqlite3_step(ins);
        if (rc == SQLITE_CONSTRAINT) {
            snprintf(err, errcap, "%s: line %zu: serial %s has a record already; nothing imported",
                     j->path, c->line ? c->line[r] : r + 2, c->rows[r][serial_col]);
            break;
        }
        if (rc != SQLITE_DONE)
            break;
        rc = SQLITE_OK;
        (*added)++;
    }
    if (rc == SQLITE_OK) {
        cols = columns_get(j);
        for (size_t k = 0; k < c->n_cols; k++) {
            size_t i;
            json_t *v;
            int have = 0;
            json_array_foreach(cols, i, v) have |= strcmp(json_string_value(v), c->head[k]) == 0;
            if (!have)
                json_array_append_new(cols, json_string(c->head[k]));
        }
        char *text = json_dumps(cols, JSON_COMPACT);
        rc = sqlite3_prepare_v2(j->db, "UPDATE kc_meta SET value = ? WHERE name = 'columns'", -1,
                                &meta, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(meta, 1, text ? text : "[]", -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(meta) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
        }
        json_text_free(text);
        json_decref(cols);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(meta);
    if (rc == SQLITE_OK && exec(j, "COMMIT", "import", err, errcap) == 0)
        return 0;
    if (rc != SQLITE_OK && rc != SQLITE_CONSTRAINT)
        say(j, sqlite3_errcode(j->db), "import", err, errcap);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    *added = 0;
    return -1;
}

int kcj_count(kcj *j, kcj_counts *out, char *err, size_t errcap)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    int rc = sqlite3_prepare_v2(j->db, "SELECT state, count(*) FROM kc_record GROUP BY state", -1,
                                &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        long n = (long)sqlite3_column_int64(st, 1);
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
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        say(j, rc, "count the records", err, errcap);
        return -1;
    }
    return 0;
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

int kcj_export(kcj *j, FILE *f, char *err, size_t errcap)
{
    static const char *const fixed[] = {"record", "batch",   "state",    "card", "keycard",
                                        "mac",    "receipt", "attempts", "reason"};
    sqlite3_stmt *st;
    json_t *cols = columns_get(j);
    size_t i;
    json_t *v;
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        csv_field(f, fixed[i], i == 0);
    json_array_foreach(cols, i, v) csv_field(f, json_string_value(v), 0);
    fputc('\n', f);
    int rc = sqlite3_prepare_v2(j->db,
                                "SELECT id, batch, state, serial, keycard, mac, receipt_seq, "
                                "attempts, reason, fields FROM kc_record ORDER BY id",
                                -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int k = 0; k < 9; k++)
            csv_field(f, (const char *)sqlite3_column_text(st, k), k == 0);
        json_t *o = json_loads((const char *)sqlite3_column_text(st, 9), 0, NULL);
        json_array_foreach(cols, i, v) csv_field(f, json_string_value(json_object_get(o, json_string_value(v))), 0);
        json_decref(o);
        fputc('\n', f);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    json_decref(cols);
    if (rc != SQLITE_DONE) {
        say(j, rc, "export", err, errcap);
        return -1;
    }
    return 0;
}

/* ---- issuing from the journal ------------------------------------------- */

/* A one-row kci_csv from a record's fields (a JSON object). */
static int row_of(const char *fields, kci_csv *row)
{
    json_t *o = json_loads(fields, 0, NULL);
    size_t n = json_is_object(o) ? json_object_size(o) : 0, k = 0;
    const char *key;
    json_t *v;
    memset(row, 0, sizeof *row);
    if (!o)
        return -1;
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

int kcj_recover(kcj *j, const char *station, kcj_open_attempt *out, size_t cap, char *err,
                size_t errcap)
{
    sqlite3_stmt *up = NULL, *sel = NULL;
    int n = 0, rc;
    if (exec(j, "BEGIN IMMEDIATE", "recover", err, errcap) != 0)
        return -1;
    rc = sqlite3_prepare_v2(j->db,
                            "UPDATE kc_record SET state = 'queued', station = NULL, "
                            "claimed_at = NULL, updated_at = ? WHERE state = 'claimed' AND "
                            "station = ?",
                            -1, &up, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(up, 1, (sqlite3_int64)time(NULL));
        sqlite3_bind_text(up, 2, station, -1, SQLITE_STATIC);
        rc = sqlite3_step(up) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(j->db,
                                "SELECT r.id, a.id, r.serial FROM kc_record r JOIN kc_attempt a "
                                "ON a.record_id = r.id AND a.result IS NULL WHERE r.state = "
                                "'issuing' AND r.station = ? ORDER BY r.id",
                                -1, &sel, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(sel, 1, station, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
            if ((size_t)n < cap) {
                out[n].record = (long)sqlite3_column_int64(sel, 0);
                out[n].attempt = (long)sqlite3_column_int64(sel, 1);
                snprintf(out[n].serial, sizeof out[n].serial, "%s",
                         (const char *)sqlite3_column_text(sel, 2));
                n++;
            }
        }
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(up);
    sqlite3_finalize(sel);
    if (rc == SQLITE_OK && exec(j, "COMMIT", "recover", err, errcap) == 0)
        return n;
    if (rc != SQLITE_OK)
        say(j, rc, "recover", err, errcap);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int kcj_claim(kcj *j, const char *station, const char *serial, long *id, kci_csv *row,
              char *err, size_t errcap)
{
    sqlite3_stmt *sel = NULL, *up = NULL;
    char *fields = NULL;
    int rc;
    *id = 0;
    memset(row, 0, sizeof *row);
    if (exec(j, "BEGIN IMMEDIATE", "claim a record", err, errcap) != 0)
        return -1;
    rc = sqlite3_prepare_v2(j->db,
                            "SELECT id, fields FROM kc_record WHERE state = 'queued' AND "
                            "(serial_wanted IS NULL OR upper(serial_wanted) = upper(?)) "
                            "ORDER BY serial_wanted IS NULL, id LIMIT 1",
                            -1, &sel, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(sel, 1, serial, -1, SQLITE_STATIC);
        rc = sqlite3_step(sel);
        if (rc == SQLITE_ROW) {
            *id = (long)sqlite3_column_int64(sel, 0);
            fields = strdup((const char *)sqlite3_column_text(sel, 1));
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    if (rc == SQLITE_OK && *id)
        rc = sqlite3_prepare_v2(j->db,
                                "UPDATE kc_record SET state = 'claimed', station = ?, claimed_at "
                                "= ?, heartbeat_at = ?, updated_at = ? WHERE id = ?",
                                -1, &up, NULL);
    if (rc == SQLITE_OK && *id) {
        sqlite3_int64 now = (sqlite3_int64)time(NULL);
        sqlite3_bind_text(up, 1, station, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, now);
        sqlite3_bind_int64(up, 3, now);
        sqlite3_bind_int64(up, 4, now);
        sqlite3_bind_int64(up, 5, *id);
        rc = sqlite3_step(up) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(up);
    if (rc == SQLITE_OK && *id && row_of(fields, row) != 0) {
        snprintf(err, errcap, "%s: record %ld: its fields are not a JSON object", j->path, *id);
        free(fields);
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        *id = 0;
        return -1;
    }
    free(fields);
    if (rc == SQLITE_OK && exec(j, "COMMIT", "claim a record", err, errcap) == 0)
        return 0;
    if (rc != SQLITE_OK)
        say(j, rc, "claim a record", err, errcap);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    kci_csv_free(row);
    *id = 0;
    return -1;
}

int kcj_issuing(kcj *j, long id, const char *station, const char *serial, const char *kcard,
                const char *head, long *attempt, char *err, size_t errcap)
{
    long now = (long)time(NULL);
    /* Both rows in one transaction: the record issuing and its open attempt. */
    if (exec(j, "BEGIN IMMEDIATE", "start a card", err, errcap) != 0)
        return -1;
    sqlite3_stmt *a = NULL, *r = NULL;
    int rc = sqlite3_prepare_v2(j->db,
                                "INSERT INTO kc_attempt (record_id, station, keycard, head, "
                                "serial, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                                -1, &a, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(a, 1, id);
        sqlite3_bind_text(a, 2, station, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 3, kcard, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 4, head, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 5, serial, -1, SQLITE_STATIC);
        sqlite3_bind_int64(a, 6, now);
        rc = sqlite3_step(a) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
        *attempt = (long)sqlite3_last_insert_rowid(j->db);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(j->db,
                                "UPDATE kc_record SET state = 'issuing', serial = ?, keycard = ?, "
                                "head = ?, attempts = attempts + 1, heartbeat_at = ?, updated_at "
                                "= ? WHERE id = ? AND state = 'claimed' AND station = ?",
                                -1, &r, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(r, 1, serial, -1, SQLITE_STATIC);
        sqlite3_bind_text(r, 2, kcard, -1, SQLITE_STATIC);
        sqlite3_bind_text(r, 3, head, -1, SQLITE_STATIC);
        sqlite3_bind_int64(r, 4, now);
        sqlite3_bind_int64(r, 5, now);
        sqlite3_bind_int64(r, 6, id);
        sqlite3_bind_text(r, 7, station, -1, SQLITE_STATIC);
        rc = sqlite3_step(r) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
        if (rc == SQLITE_OK && sqlite3_changes(j->db) != 1) {
            snprintf(err, errcap, "%s: record %ld is no longer claimed by this station", j->path,
                     id);
            rc = SQLITE_ABORT;
        }
    }
    sqlite3_finalize(a);
    sqlite3_finalize(r);
    if (rc == SQLITE_OK && exec(j, "COMMIT", "start a card", err, errcap) == 0)
        return 0;
    if (rc != SQLITE_OK && rc != SQLITE_ABORT)
        say(j, rc, "start a card", err, errcap);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int kcj_settle(kcj *j, long id, long attempt, const char *result, const char *reason,
               const char *mac, char *err, size_t errcap)
{
    long now = (long)time(NULL);
    int issued = strcmp(result, "issued") == 0;
    if (exec(j, "BEGIN IMMEDIATE", "settle a card", err, errcap) != 0)
        return -1;
    sqlite3_stmt *a = NULL, *r = NULL;
    int rc = sqlite3_prepare_v2(j->db,
                                "UPDATE kc_attempt SET result = ?1, reason = ?2, ended_at = ?3, "
                                "mac = ?5 WHERE id = ?4",
                                -1, &a, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(a, 1, result, -1, SQLITE_STATIC);
        sqlite3_bind_text(a, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(a, 3, now);
        sqlite3_bind_int64(a, 4, attempt);
        if (mac)
            sqlite3_bind_text(a, 5, mac, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(a, 5);
        rc = sqlite3_step(a) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            j->db,
            issued ? "UPDATE kc_record SET state = 'issued', reason = NULL, updated_at = ?1, "
                     "mac = coalesce(?5, mac) WHERE id = ?2"
                   : "UPDATE kc_record SET state = CASE WHEN attempts >= ?3 THEN 'failed' ELSE "
                     "'queued' END, station = CASE WHEN attempts >= ?3 THEN station ELSE NULL "
                     "END, serial = NULL, keycard = NULL, head = NULL, reason = ?4, updated_at "
                     "= ?1 WHERE id = ?2",
            -1, &r, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(r, 1, now);
        sqlite3_bind_int64(r, 2, id);
        if (!issued) {
            sqlite3_bind_int64(r, 3, KCJ_MAX_ATTEMPTS);
            sqlite3_bind_text(r, 4, reason, -1, SQLITE_STATIC);
        } else if (mac) {
            sqlite3_bind_text(r, 5, mac, -1, SQLITE_STATIC);
        }
        rc = sqlite3_step(r) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
    }
    sqlite3_finalize(a);
    sqlite3_finalize(r);
    if (rc == SQLITE_OK && exec(j, "COMMIT", "settle a card", err, errcap) == 0)
        return 0;
    if (rc != SQLITE_OK)
        say(j, rc, "settle a card", err, errcap);
    sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int kcj_find_issuing(kcj *j, const char *station, const char *serial, long *id, long *attempt,
                     kci_csv *row, char *err, size_t errcap)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db,
                                "SELECT r.id, a.id, r.fields FROM kc_record r JOIN kc_attempt a ON "
                                "a.record_id = r.id AND a.result IS NULL WHERE r.state = "
                                "'issuing' AND r.station = ? AND upper(r.serial) = upper(?) "
                                "LIMIT 1",
                                -1, &st, NULL);
    *id = 0;
    memset(row, 0, sizeof *row);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, station, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *id = (long)sqlite3_column_int64(st, 0);
            *attempt = (long)sqlite3_column_int64(st, 1);
            if (row_of((const char *)sqlite3_column_text(st, 2), row) != 0)
                *id = 0;
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        say(j, rc, "find a card's record", err, errcap);
        return -1;
    }
    return 0;
}

/*
 * The attempts' figures: issued cards per hour from the first start to the
 * last end (-1: fewer than two or no time between), and the cards set aside
 * by reason (most first) into reasons: [{"reason", "cards"}].
 */
static int attempt_report(kcj *j, double *rate, json_t *reasons)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(j->db,
                                "SELECT count(*), min(started_at), max(ended_at) FROM kc_attempt "
                                "WHERE result = 'issued'",
                                -1, &st, NULL);
    *rate = -1;
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        long n = (long)sqlite3_column_int64(st, 0);
        long span = (long)(sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 1));
        if (n >= 2 && span > 0)
            *rate = 3600.0 * (double)n / (double)span;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return -1;
    rc = sqlite3_prepare_v2(j->db,
                            "SELECT coalesce(reason, ''), count(*) FROM kc_attempt WHERE result "
                            "IN ('aside', 'failed') GROUP BY reason ORDER BY count(*) DESC, reason",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_array_append_new(reasons,
                              json_pack("{s:s, s:I}", "reason",
                                        (const char *)sqlite3_column_text(st, 0), "cards",
                                        (json_int_t)sqlite3_column_int64(st, 1)));
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- kc-issue journal ... ------------------------------------------------ */

static const char journal_help[] =
    "usage: kc-issue journal init --journal FILE.db\n"
    "       kc-issue journal import --journal FILE.db CSV [--batch NAME]\n"
    "       kc-issue journal status --journal FILE.db [--json]\n"
    "       kc-issue journal export --journal FILE.db [--out FILE]\n"
    "\n"
    "The issuance journal (docs/production.md): every record to issue and, as\n"
    "issuing from it comes, every card attempt. SQLite in WAL mode: a file, no\n"
    "server. init creates it (and is a no-op on a journal of this version);\n"
    "import (which also creates it on first use) queues every row of CSV (header line, one record per row; a\n"
    "\"serial\" column ties a record to its card), all or none; status counts the\n"
    "records by state; export writes every record as CSV (state, serial, key\n"
    "card, completion MAC, receipt, attempts, reason, then the record's columns).\n"
    "The issuer's own system may insert records with SQL (the table is in\n"
    "docs/production.md).\n";

int kcj_main(int argc, char **argv)
{
    static const struct option lo[] = {{"journal", required_argument, NULL, 'J'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *path = NULL, *batch = "", *out = NULL;
    int json = 0, opt;
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
            break;
        case 'o':
            out = optarg;
            break;
        case 'j':
            json = 1;
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
                 strcmp(cmd, "export")))
        return kct_cli_usage("kc-issue journal", "init, import, status or export");
    if (!path)
        return kct_cli_usage("kc-issue journal", "--journal FILE.db names the journal");
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
    if (kcj_open(path, strcmp(cmd, "init") == 0 || strcmp(cmd, "import") == 0, &j, err,
                 sizeof err) != 0) {
        kct_err("%s", err);
        kci_csv_free(&csv);
        return KCT_EXIT_FAIL;
    }
    int ex = KCT_EXIT_OK;
    if (strcmp(cmd, "init") == 0) {
        printf("journal %s: schema %d, ready\n", path, KCJ_SCHEMA_VERSION);
    } else if (strcmp(cmd, "import") == 0) {
        size_t added;
        if (kcj_import(j, &csv, batch, &added, err, sizeof err) != 0) {
            kct_err("%s", err);
            ex = KCT_EXIT_FAIL;
        } else {
            printf("%zu records queued from %s\n", added, argv[optind]);
        }
    } else if (strcmp(cmd, "status") == 0) {
        kcj_counts n;
        json_t *reasons = json_array();
        double rate = -1;
        if (kcj_count(j, &n, err, sizeof err) != 0 || attempt_report(j, &rate, reasons) != 0) {
            if (!err[0])
                say(j, sqlite3_errcode(j->db), "report", err, sizeof err);
            kct_err("%s", err);
            ex = KCT_EXIT_FAIL;
        } else if (json) {
            ex = kct_json_print(json_pack(
                "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:O}", "journal", path, "total",
                (int)n.total, "queued", (int)n.queued, "claimed", (int)n.claimed, "issuing",
                (int)n.issuing, "issued", (int)n.issued, "failed", (int)n.failed, "cards_per_hour",
                rate < 0 ? json_null() : json_real(rate), "set_aside", reasons));
        } else {
            printf("journal %s: %ld records: %ld queued, %ld claimed, %ld issuing, %ld issued, "
                   "%ld failed\n",
                   path, n.total, n.queued, n.claimed, n.issuing, n.issued, n.failed);
            if (rate >= 0)
                printf("rate: %.0f cards/h (issued cards over the time from the first attempt "
                       "to the last)\n", rate);
            size_t i;
            json_t *v;
            json_array_foreach(reasons, i, v)
                printf("set aside %lld x: %s\n",
                       (long long)json_integer_value(json_object_get(v, "cards")),
                       json_string_value(json_object_get(v, "reason")));
        }
        json_decref(reasons);
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
