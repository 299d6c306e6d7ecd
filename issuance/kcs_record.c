/*
 * kcs_record.c - kc-station's checks of instruction data that need no
 * card (kcs_record.h): profile names, and an ISSUE's record fields as CSV.
 * Every byte of the CSV text goes through a length-checked appender
 * (kct_buf): a record full of quotes is refused, never written past a buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcs_record.h"
#include "kct.h"

int kcs_profile_name_ok(const char *n)
{
    size_t i;

    if (n[0] == '\0' || n[0] == '.')
        return 0;
    for (i = 0; n[i]; i++)
        if (!(n[i] >= 'a' && n[i] <= 'z') && !(n[i] >= 'A' && n[i] <= 'Z') &&
            !(n[i] >= '0' && n[i] <= '9') && n[i] != '-' && n[i] != '_' && n[i] != '.')
            return 0;
    return 1;
}

int kcs_record_csv(const kcs_frame *in, kci_csv *c, char *err, size_t errcap)
{
    /* On the heap: 25 KiB is too much for the stack of a long-running station. */
    struct lines {
        char head[KCS_RECORD_LINE_MAX], row[KCS_RECORD_LINE_MAX];
        char text[2 * KCS_RECORD_LINE_MAX + 2];
    } *l = malloc(sizeof *l);
    char *head, *row, *text;
    kct_buf h, r, t;
    size_t off = 0, nf = 0, vl;
    const uint8_t *v;
    uint8_t tag;
    int rc = -1, more;

    memset(c, 0, sizeof *c);
    if (l == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    head = l->head;
    row = l->row;
    text = l->text;
    kct_buf_init(&h, head, sizeof l->head);
    kct_buf_init(&r, row, sizeof l->row);
    kct_buf_init(&t, text, sizeof l->text);
    while ((more = kcs_next(in, &off, &tag, &v, &vl)) == 1) {
        size_t nl;
        if (tag != KCS_T_FIELD)
            continue;
        if (vl < 1 || (nl = v[0]) == 0 || 1 + nl > vl) {
            snprintf(err, errcap, "record field %zu malformed", nf + 1);
            goto out;
        }
        nf++;
        /* Every field quoted, quotes doubled: any text stays one field. */
        if (nf > 1) {
            kct_buf_addc(&h, ',');
            kct_buf_addc(&r, ',');
        }
        kct_buf_add_csv(&h, v + 1, nl);
        kct_buf_add_csv(&r, v + 1 + nl, vl - 1 - nl);
        if (h.over || r.over) {
            snprintf(err, errcap,
                     "record too long: field %zu takes the record's %s past %d bytes once "
                     "quoted",
                     nf, h.over ? "names" : "values", KCS_RECORD_LINE_MAX);
            goto out;
        }
    }
    if (more < 0) {
        snprintf(err, errcap, "processing data malformed");
        goto out;
    }
    if (nf == 0) {
        rc = 0;
        goto out;
    }
    kct_buf_add(&t, head, h.len);
    kct_buf_addc(&t, '\n');
    kct_buf_add(&t, row, r.len);
    kct_buf_addc(&t, '\n');
    if (t.over) { /* cannot happen: text holds both lines whole */
        snprintf(err, errcap, "record too long");
        goto out;
    }
    rc = kci_csv_parse(text, t.len, c, err, errcap);
out:
    kct_buf_wipe(&h);
    kct_buf_wipe(&r);
    kct_buf_wipe(&t);
    free(l);
    return rc;
}
