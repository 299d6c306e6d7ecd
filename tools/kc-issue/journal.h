/*
 * journal.h - the issuance journal (docs/production.md): every record and
 * every card attempt, in SQLite (a file, WAL mode, no server) or PostgreSQL
 * (several stations sharing the work). The tables are created and migrated
 * by the tool, filled from CSV or by the issuer's own SQL; records are
 * claimed, issued and settled by kc-issue --journal.
 *
 * Against a server that goes away, every function below waits for it (and
 * says so on stderr), then runs its transaction again; each transaction is
 * safe to run again after a commit whose answer was lost (jdb.h).
 */
#ifndef KCI_JOURNAL_H
#define KCI_JOURNAL_H

#include <stddef.h>
#include <stdio.h>

#include "profile.h"

#define KCJ_SCHEMA_VERSION 2

/*
 * A claim whose station has not touched it for this long (seconds) goes back
 * to the queue when another station claims. A living station moves its claim
 * to "issuing" at once, before the first command to the card.
 */
#define KCJ_STALE_S 120

typedef struct kcj kcj;

/* Records by state. */
typedef struct kcj_counts {
    long queued, claimed, issuing, issued, failed, total;
} kcj_counts;

/*
 * Open the journal at where (FILE.db or postgresql://...); create selects
 * creating a missing file; wait_s how long to wait for a server that is not
 * up or goes away (JDB_WAIT_DEFAULT for a station, 0 for a one-off command). The schema is created, migrated or checked (a
 * newer one is refused). Returns 0, or -1 with the reason in err (the
 * journal named).
 */
int kcj_open(const char *where, int create, long wait_s, kcj **out, char *err, size_t errcap);
void kcj_close(kcj *j);

/* The journal's name for messages (a URI without its password). */
const char *kcj_name(const kcj *j);

/*
 * Queue every row of c as a record of batch (one transaction: all or none).
 * A row whose "serial" column names a serial already in the journal is
 * refused (the whole import with it). *added: rows queued. Returns 0 or -1
 * with err.
 */
int kcj_import(kcj *j, const kci_csv *c, const char *batch, size_t *added, char *err,
               size_t errcap);

/* Count the records (of one batch; NULL: all). Returns 0 or -1 with err. */
int kcj_count(kcj *j, const char *batch, kcj_counts *out, char *err, size_t errcap);

/*
 * Every record as CSV on f: record (its id), batch, state, card (the serial
 * of the card issued), keycard, mac, receipt, attempts, reason, then the
 * record's own columns (their union, in the order first imported). Returns 0
 * or -1 with err.
 */
int kcj_export(kcj *j, FILE *f, char *err, size_t errcap);

/*
 * Issuing from the journal (docs/production.md "States", "After a crash").
 * A claimed record comes as a one-row kci_csv (its columns), for
 * kci_issue_card; free it with kci_csv_free.
 */

/*
 * After a crash: this station's claimed records go back to the queue;
 * its issuing records are listed (at most cap) for the caller to settle
 * with kcj_settle. Returns the number listed, or -1 with err.
 */
typedef struct kcj_open_attempt {
    long record, attempt;
    char serial[17];
} kcj_open_attempt;
int kcj_recover(kcj *j, const char *station, kcj_open_attempt *out, size_t cap, char *err,
                size_t errcap);

/*
 * Claim the next queued record for the card of serial (hex): the record that
 * names that serial, else the oldest that names none. *id 0: none left.
 * Returns 0 or -1 with err.
 */
int kcj_claim(kcj *j, const char *station, const char *serial, long *id, kci_csv *row,
              char *err, size_t errcap);

/*
 * The record's card attempt starts: state issuing with the card's serial, an
 * attempt row; committed before the first command goes to the card. Returns
 * 0, -1 with err, or -2 when the record is no longer this station's claim
 * (it went back to the queue: claim again).
 */
int kcj_issuing(kcj *j, long id, const char *station, const char *serial, const char *kcard,
                const char *head, long *attempt, char *err, size_t errcap);

/*
 * How the attempt ended: result "issued" (the record issued), "aside" (the
 * card set aside; the record back to the queue, or failed after
 * KCJ_MAX_ATTEMPTS cards) or "failed" (the run stopped before the card was
 * issued and left it in the slot, e.g. the key card's log is full: the
 * record back to the queue, the attempt not counted against it); mac (hex)
 * the completion MAC the key card verified, or NULL. Returns 0 or -1 with err.
 */
#define KCJ_MAX_ATTEMPTS 3
int kcj_settle(kcj *j, long id, long attempt, const char *result, const char *reason,
               const char *mac, char *err, size_t errcap);

/* The record in state issuing for serial on this station (after a crash), or *id 0. */
int kcj_find_issuing(kcj *j, const char *station, const char *serial, long *id, long *attempt,
                     kci_csv *row, char *err, size_t errcap);

/* ---- reconciliation (reconcile.c) ---- */

/* A card attempt as reconciliation sees it. */
typedef struct kcj_card {
    long record, attempt;
    char serial[17], keycard[17], mac[33]; /* "" when not known */
    char record_mac[33];                   /* the record's (an issued attempt's record) */
    char result[8];                        /* issued, aside, failed, "" (open) */
    char state[8];                         /* the record's state */
    long receipt_seq;                      /* -1 when not known */
} kcj_card;

/* Every card attempt, oldest first (*out malloc'd, free it). Returns 0 or -1 with err. */
int kcj_cards(kcj *j, kcj_card **out, size_t *n, char *err, size_t errcap);

/*
 * Record the receipt that vouches for an issued record's card: its
 * sequence number, and the key card and MAC where the journal had none.
 * All in one transaction. Returns 0 or -1 with err.
 */
int kcj_receipts_set(kcj *j, const kcj_card *cards, size_t n, char *err, size_t errcap);

/* kc-issue journal reconcile ...: argv from "reconcile". */
int kcj_reconcile_main(kcj *j, int argc, char **argv, const char *pub_path, int json);

/* kc-issue journal init|status|import|export|reconcile: argv from "journal". */
int kcj_main(int argc, char **argv);

#endif /* KCI_JOURNAL_H */
