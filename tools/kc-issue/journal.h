/*
 * journal.h - the issuance journal (docs/production.md): every record and
 * every card attempt, in SQLite (WAL mode; no server). This first part
 * keeps the records: created and migrated by the tool, filled from CSV or by
 * the issuer's own SQL, counted and exported. Issuing from it (claims, card
 * attempts, the crash rules) and PostgreSQL come next.
 */
#ifndef KCI_JOURNAL_H
#define KCI_JOURNAL_H

#include <stddef.h>
#include <stdio.h>

#include "profile.h"

#define KCJ_SCHEMA_VERSION 1

typedef struct kcj kcj;

/* Records by state. */
typedef struct kcj_counts {
    long queued, claimed, issuing, issued, failed, total;
} kcj_counts;

/*
 * Open the journal at path; create selects creating it (with its schema)
 * when missing. The schema is created or checked (a newer one is refused),
 * WAL mode set. Returns 0, or -1 with the reason in err (the file named).
 */
int kcj_open(const char *path, int create, kcj **out, char *err, size_t errcap);
void kcj_close(kcj *j);

/*
 * Queue every row of c as a record of batch (one transaction: all or none).
 * A row whose "serial" column names a serial already in the journal is
 * refused (the whole import with it). *added: rows queued. Returns 0 or -1
 * with err.
 */
int kcj_import(kcj *j, const kci_csv *c, const char *batch, size_t *added, char *err,
               size_t errcap);

/* Count the records. Returns 0 or -1 with err. */
int kcj_count(kcj *j, kcj_counts *out, char *err, size_t errcap);

/*
 * Every record as CSV on f: record (its id), batch, state, card (the serial
 * of the card issued), keycard, mac, receipt, attempts, reason, then the
 * record's own columns (their union, in the order first imported). Returns 0
 * or -1 with err.
 */
int kcj_export(kcj *j, FILE *f, char *err, size_t errcap);

/* kc-issue journal init|status|import|export: argv from "journal". */
int kcj_main(int argc, char **argv);

#endif /* KCI_JOURNAL_H */
