/*
 * kct_audit.c - a key card's audit export, read and checked offline
 * (kct_audit.h).
 */
#include "kct_audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kct.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t kct_audit_entry_wire(const keycard_audit_entry *e, uint8_t *out)
{
    put32(out, e->seq);
    put32(out + 4, e->time);
    out[8] = e->event;
    out[9] = e->len;
    memcpy(out + 10, e->data, e->len);
    memcpy(out + 10 + e->len, e->prev, 32);
    return 10 + (size_t)e->len + 32;
}

/* hex into exactly n bytes. */
static int hex_exact(const char *s, uint8_t *out, size_t n)
{
    uint8_t tmp[256];
    int got = kct_hex_parse(s, tmp, sizeof tmp);
    if (got < 0 || (size_t)got != n)
        return -1;
    memcpy(out, tmp, n);
    return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(s, &end, 10);
    if (!*s || *end || errno || x > 0xFFFFFFFFul)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

/* One entry line; a malformed one is remembered (named), not fatal. */
static void parse_entry(kct_audit_dump *d, const char *hex)
{
    uint8_t w[512];
    int n = kct_hex_parse(hex, w, sizeof w);
    uint32_t expect = d->n ? d->e[d->n - 1].seq + 1 : (n >= 4 ? be32(w) : 0);
    if (d->n == KCT_AUDIT_MAX || n < 10 + 32 || w[9] > 72 || (size_t)n != 10u + w[9] + 32) {
        if (!d->malformed) {
            d->malformed = 1;
            d->malformed_seq = expect;
        }
        return;
    }
    keycard_audit_entry *e = &d->e[d->n++];
    memset(e, 0, sizeof *e);
    e->seq = be32(w);
    e->time = be32(w + 4);
    e->event = w[8];
    e->len = w[9];
    memcpy(e->data, w + 10, e->len);
    memcpy(e->prev, w + 10 + e->len, 32);
}

int kct_audit_export_read(const char *path, kct_audit_dump *d, char *err, size_t errcap)
{
    uint8_t *buf;
    size_t len;
    if (kct_file_read(path, 1u << 20, &buf, &len, err, errcap) != 0)
        return -1;
    memset(d, 0, sizeof *d);
    unsigned have = 0;
    int bad = 0;
    size_t lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)buf, "\n", &save); line && !bad;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = 0;
        if (lineno == 1) {
            bad = strcmp(line, KCT_AUDIT_MAGIC) != 0;
            continue;
        }
        char *sp = strchr(line, ' ');
        if (!sp) {
            bad = 1;
            break;
        }
        *sp = 0;
        const char *k = line, *v = sp + 1;
        if (!strcmp(k, "entry")) {
            parse_entry(d, v);
        } else if (!strcmp(k, "serial")) {
            bad = hex_exact(v, d->id.serial, 8), have |= 1;
        } else if (!strcmp(k, "device-pub")) {
            bad = hex_exact(v, d->id.device_pub, 65), have |= 2;
        } else if (!strcmp(k, "issuer-sig")) {
            bad = hex_exact(v, d->id.issuer_sig, 64), have |= 4;
        } else if (!strcmp(k, "next")) {
            bad = parse_u32(v, &d->head.next), have |= 8;
        } else if (!strcmp(k, "lost")) {
            bad = parse_u32(v, &d->head.lost), have |= 16;
        } else if (!strcmp(k, "head")) {
            bad = hex_exact(v, d->head.head, 32), have |= 32;
        } else if (!strcmp(k, "nonce")) {
            int n = kct_hex_parse(v, d->head.nonce, sizeof d->head.nonce);
            bad = n < 8;
            d->head.nonce_len = n < 0 ? 0 : (size_t)n;
            have |= 64;
        } else if (!strcmp(k, "head-sig")) {
            bad = hex_exact(v, d->head.sig, 64), have |= 128;
        } else {
            bad = 1;
        }
    }
    kct_file_free(buf, len);
    if (bad || have != 255) {
        snprintf(err, errcap, "'%s' is not a whole audit export (line %lu)", path,
                 (unsigned long)lineno);
        return -2;
    }
    return 0;
}

int kct_audit_dump_verify(const kct_audit_dump *d, const uint8_t *pub, size_t pub_len, char *why,
                          size_t whycap, keycard_rc *rc)
{
    keycard_audit_fault fault = KEYCARD_AUDIT_FAULT_NONE;
    uint32_t bad = 0;
    char serial[17];
    *rc = keycard_audit_verify(d->e, d->n, &d->head, &d->id, pub, pub_len, &fault, &bad);
    kct_hex_format(d->id.serial, 8, serial);
    /* A malformed line is the first bad entry if nothing before it failed. */
    if (d->malformed && (*rc == KEYCARD_OK || fault == KEYCARD_AUDIT_FAULT_ENTRY ||
                         fault == KEYCARD_AUDIT_FAULT_MISSING) &&
        (*rc == KEYCARD_OK || d->malformed_seq <= bad)) {
        snprintf(why, whycap, "entry %lu is malformed", (unsigned long)d->malformed_seq);
        return 1;
    }
    switch (*rc == KEYCARD_OK ? KEYCARD_AUDIT_FAULT_NONE : fault) {
    case KEYCARD_AUDIT_FAULT_NONE:
        if (*rc != KEYCARD_OK)
            return -1;
        return 0;
    case KEYCARD_AUDIT_FAULT_IDENTITY:
        snprintf(why, whycap, "the identity of key card %s is not signed by the issuer key",
                 serial);
        return 1;
    case KEYCARD_AUDIT_FAULT_HEAD:
        snprintf(why, whycap, "head signature wrong (head of seq %lu)", (unsigned long)bad);
        return 1;
    case KEYCARD_AUDIT_FAULT_ENTRY:
        snprintf(why, whycap, "entry %lu altered or out of place", (unsigned long)bad);
        return 1;
    case KEYCARD_AUDIT_FAULT_MISSING:
        snprintf(why, whycap, "entry %lu missing", (unsigned long)bad);
        return 1;
    }
    return -1;
}
