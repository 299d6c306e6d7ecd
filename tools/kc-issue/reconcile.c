/*
 * reconcile.c - kc-issue journal reconcile: the journal against the key
 * cards' audit exports (docs/production.md "Reconciliation").
 *
 * Every export is checked first (keycard_audit_verify: identity signed by the
 * issuer key, head signed, hash chain whole); one that does not verify stops
 * the reconciliation. Then:
 *   - every issued record has exactly one completed receipt for its card,
 *     on the key card the journal names, with the MAC the journal holds;
 *   - every completed receipt vouches for exactly one issued record;
 *   - receipts of aborted sessions (and of MACs that did not verify) are
 *     listed with the record whose card it was, if any.
 * Mismatches one per line, exit 1. A clean match records the receipt's
 * sequence number (and a MAC or key card the journal lacked) in the journal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "journal.h"
#include "kct.h"
#include "kct_audit.h"

typedef struct receipt {
    char keycard[17], serial[17], mac[33];
    uint32_t seq;
    int result, late, unclean;
    size_t used;   /* issued records it vouches for */
    long record;   /* the first of them */
} receipt;

typedef struct recon {
    receipt *r;
    size_t n, cap;
    char (*keycards)[17];
    size_t n_keycards;
    json_t *mismatches, *aborted;
    int json;
} recon;

static int have_keycard(const recon *x, const char *k)
{
    for (size_t i = 0; i < x->n_keycards; i++)
        if (strcasecmp(x->keycards[i], k) == 0)
            return 1;
    return 0;
}

/* A mismatch: one line (or a JSON item). */
static void mismatch(recon *x, long record, const char *serial, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void mismatch(recon *x, long record, const char *serial, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    json_array_append_new(x->mismatches,
                          json_pack("{s:o, s:s, s:s}", "record",
                                    record > 0 ? json_integer(record) : json_null(), "serial",
                                    serial, "what", what));
    if (!x->json) {
        if (record > 0)
            printf("mismatch: record %ld card %s: %s\n", record, serial, what);
        else
            printf("mismatch: card %s: %s\n", serial, what);
    }
}

/* Read, check and take the receipts of one export. Returns 0, or the exit code. */
static int load_export(recon *x, const char *path, const uint8_t *pub, size_t pub_len)
{
    kct_audit_dump *d = calloc(1, sizeof *d);
    char err[512], why[200], kc[17];
    keycard_rc rc;
    if (!d) {
        kct_err("reconcile: out of memory");
        return KCT_EXIT_FAIL;
    }
    int rr = kct_audit_export_read(path, d, err, sizeof err);
    if (rr != 0) {
        kct_err("reconcile: --audit: %s", err);
        free(d);
        return rr == -1 ? KCT_EXIT_USAGE : KCT_EXIT_FAIL;
    }
    int v = kct_audit_dump_verify(d, pub, pub_len, why, sizeof why, &rc);
    if (v != 0) {
        if (v > 0)
            kct_err("reconcile: %s does NOT verify: %s; nothing reconciled", path, why);
        else
            kct_fail(rc, "reconcile: verify", -1);
        free(d);
        return KCT_EXIT_FAIL;
    }
    kct_hex_format(d->id.serial, 8, kc);
    if (!have_keycard(x, kc)) {
        char(*k)[17] = realloc(x->keycards, (x->n_keycards + 1) * sizeof *k);
        if (!k) {
            free(d);
            return KCT_EXIT_FAIL;
        }
        x->keycards = k;
        snprintf(k[x->n_keycards++], 17, "%s", kc);
    }
    for (size_t i = 0; i < d->n; i++) {
        const keycard_audit_entry *e = &d->e[i];
        if (e->event != KEYCARD_AUDIT_ISSUE_RECEIPT || e->len < KEYCARD_AUDIT_RECEIPT_MAC_OFF + 16)
            continue;
        int dup = 0;
        for (size_t k = 0; k < x->n && !dup; k++)
            dup = x->r[k].seq == e->seq && strcmp(x->r[k].keycard, kc) == 0;
        if (dup) /* the same entry in two exports of one key card */
            continue;
        if (x->n == x->cap) {
            size_t nc = x->cap ? 2 * x->cap : 64;
            receipt *nr = realloc(x->r, nc * sizeof *nr);
            if (!nr) {
                free(d);
                return KCT_EXIT_FAIL;
            }
            x->r = nr;
            x->cap = nc;
        }
        receipt *r = &x->r[x->n++];
        memset(r, 0, sizeof *r);
        snprintf(r->keycard, sizeof r->keycard, "%s", kc);
        kct_hex_format(e->data, 8, r->serial);
        for (char *p = r->serial; *p; p++) /* as the journal writes card serials */
            *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
        kct_hex_format(e->data + KEYCARD_AUDIT_RECEIPT_MAC_OFF, 16, r->mac);
        for (char *p = r->mac; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
        r->seq = e->seq;
        r->result = e->data[11];
        r->late = (e->data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_LATE) != 0;
        r->unclean = (e->data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_UNCLEAN) != 0;
    }
    free(d);
    return 0;
}

int kcj_reconcile_main(kcj *j, int argc, char **argv, const char *pub_path, int json)
{
    recon x;
    kcj_card *c = NULL;
    size_t nc = 0, issued = 0, filled = 0, completed = 0;
    uint8_t *pub;
    size_t pub_len;
    char err[1024];
    int ex = KCT_EXIT_OK;
    memset(&x, 0, sizeof x);
    x.json = json;
    if (kct_file_read(pub_path, 64 * 1024, &pub, &pub_len, err, sizeof err) != 0) {
        kct_err("reconcile: --issuer-pub: %s", err);
        return KCT_EXIT_USAGE;
    }
    for (int i = 0; i < argc && ex == KCT_EXIT_OK; i++)
        ex = load_export(&x, argv[i], pub, kct_key_len(pub, pub_len));
    kct_file_free(pub, pub_len);
    if (ex == KCT_EXIT_OK && kcj_cards(j, &c, &nc, err, sizeof err) != 0) {
        kct_err("%s", err);
        ex = KCT_EXIT_FAIL;
    }
    if (ex != KCT_EXIT_OK) {
        free(x.r);
        free(x.keycards);
        return ex;
    }
    x.mismatches = json_array();
    x.aborted = json_array();
    for (size_t i = 0; i < x.n; i++)
        completed += x.r[i].result == KEYCARD_ISSUE_COMPLETED;

    /* Every issued card: exactly one completed receipt, on its key card, with its MAC. */
    for (size_t i = 0; i < nc; i++) {
        kcj_card *a = &c[i];
        if (strcmp(a->result, "issued") != 0)
            continue;
        issued++;
        size_t found = 0, at = 0;
        char list[300] = "";
        for (size_t k = 0; k < x.n; k++) {
            if (x.r[k].result != KEYCARD_ISSUE_COMPLETED || strcasecmp(x.r[k].serial, a->serial))
                continue;
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s#%lu", found ? ", " : "", x.r[k].keycard,
                     (unsigned long)x.r[k].seq);
            if (!found++)
                at = k;
        }
        if (found == 0) {
            if (a->keycard[0] && !have_keycard(&x, a->keycard))
                mismatch(&x, a->record, a->serial,
                         "issued by key card %s, and no audit export of that key card was given",
                         a->keycard);
            else
                mismatch(&x, a->record, a->serial,
                         "no completed receipt for the card in the audit exports");
            continue;
        }
        if (found > 1) {
            mismatch(&x, a->record, a->serial, "%zu completed receipts for the card (%s)", found,
                     list);
            continue;
        }
        receipt *r = &x.r[at];
        if (r->used++ == 0)
            r->record = a->record;
        if (a->keycard[0] && strcasecmp(a->keycard, r->keycard) != 0) {
            mismatch(&x, a->record, a->serial,
                     "the journal says key card %s, the receipt (%s#%lu) is on key card %s",
                     a->keycard, r->keycard, (unsigned long)r->seq, r->keycard);
            continue;
        }
        const char *jm = a->record_mac[0] && strcasecmp(a->record_mac, r->mac) != 0 ? a->record_mac
                         : a->mac[0] && strcasecmp(a->mac, r->mac) != 0           ? a->mac
                                                                                  : NULL;
        if (jm) {
            mismatch(&x, a->record, a->serial,
                     "the journal's completion MAC %s is not the receipt's (%s#%lu: %s)", jm,
                     r->keycard, (unsigned long)r->seq, r->mac);
            continue;
        }
        /* Matched: the journal learns the receipt (and what it lacked). */
        a->receipt_seq = (long)r->seq;
        snprintf(a->keycard, sizeof a->keycard, "%s", r->keycard);
        snprintf(a->mac, sizeof a->mac, "%s", r->mac);
        a->result[0] = '+'; /* marked for kcj_receipts_set */
    }
    /* Every completed receipt: exactly one issued record. */
    for (size_t k = 0; k < x.n; k++) {
        receipt *r = &x.r[k];
        if (r->result == KEYCARD_ISSUE_COMPLETED && r->used > 1) {
            char recs[200] = "";
            for (size_t i = 0; i < nc; i++) {
                if ((c[i].result[0] == '+' || strcmp(c[i].result, "issued") == 0) &&
                    strcasecmp(c[i].serial, r->serial) == 0) {
                    size_t l = strlen(recs);
                    snprintf(recs + l, sizeof recs - l, "%s%ld", l ? ", " : "", c[i].record);
                    c[i].result[0] = 'x'; /* not recorded: the card is counted twice */
                }
            }
            mismatch(&x, -1, r->serial, "the receipt %s#%lu vouches for %zu records (%s)",
                     r->keycard, (unsigned long)r->seq, r->used, recs);
        } else if (r->result == KEYCARD_ISSUE_COMPLETED && r->used == 0) {
            long aside = 0;
            for (size_t i = 0; i < nc; i++)
                if (strcasecmp(c[i].serial, r->serial) == 0)
                    aside = c[i].record;
            if (aside)
                mismatch(&x, -1, r->serial,
                         "completed receipt %s#%lu, but the journal set the card aside (an "
                         "attempt of record %ld)",
                         r->keycard, (unsigned long)r->seq, aside);
            else
                mismatch(&x, -1, r->serial,
                         "completed receipt %s#%lu, but no record of the journal names the card",
                         r->keycard, (unsigned long)r->seq);
        } else if (r->result != KEYCARD_ISSUE_COMPLETED) {
            long rec = 0;
            const char *what = "";
            for (size_t i = 0; i < nc; i++)
                if (strcasecmp(c[i].serial, r->serial) == 0) {
                    rec = c[i].record;
                    what = c[i].result[0] ? c[i].result : "open";
                }
            const char *res = r->result == KEYCARD_ISSUE_MAC_MISMATCH ? "MAC-mismatch" : "aborted";
            json_array_append_new(
                x.aborted, json_pack("{s:s, s:I, s:s, s:s, s:o, s:s}", "keycard", r->keycard,
                                     "seq", (json_int_t)r->seq, "serial", r->serial, "result",
                                     res, "record", rec ? json_integer(rec) : json_null(),
                                     "attempt", what));
            if (!json) {
                if (rec)
                    printf("%s: key card %s receipt %lu: card %s%s: record %ld (attempt %s)\n",
                           res, r->keycard, (unsigned long)r->seq, r->serial,
                           r->unclean ? " (no END)" : "", rec, what);
                else
                    printf("%s: key card %s receipt %lu: card %s%s: no record names it\n", res,
                           r->keycard, (unsigned long)r->seq, r->serial,
                           r->unclean ? " (no END)" : "");
            }
        }
    }
    /* The clean matches: their receipt numbers into the journal. */
    size_t w = 0;
    for (size_t i = 0; i < nc; i++)
        if (c[i].result[0] == '+')
            c[w++] = c[i];
    if (w && kcj_receipts_set(j, c, w, err, sizeof err) != 0) {
        kct_err("%s", err);
        ex = KCT_EXIT_FAIL;
    }
    filled = w;
    size_t nm = json_array_size(x.mismatches), na = json_array_size(x.aborted);
    if (json) {
        json_t *kcs = json_array();
        for (size_t i = 0; i < x.n_keycards; i++)
            json_array_append_new(kcs, json_string(x.keycards[i]));
        kct_json_print(json_pack("{s:s, s:i, s:i, s:i, s:o, s:O, s:O, s:b}", "journal",
                                 kcj_name(j), "issued", (int)issued, "receipts", (int)completed,
                                 "matched", (int)filled, "keycards", kcs, "mismatches",
                                 x.mismatches, "aborted", x.aborted, "clean", nm == 0));
    } else {
        printf("%s: %zu issued records, %zu completed receipts on %zu key cards; %zu matched, "
               "%zu mismatches, %zu sessions aborted or refused\n",
               nm ? "NOT reconciled" : "reconciled", issued, completed, x.n_keycards, filled, nm,
               na);
    }
    json_decref(x.mismatches);
    json_decref(x.aborted);
    free(c);
    free(x.r);
    free(x.keycards);
    return ex != KCT_EXIT_OK ? ex : nm ? KCT_EXIT_FAIL : KCT_EXIT_OK;
}
