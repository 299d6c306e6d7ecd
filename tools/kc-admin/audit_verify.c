/*
 * audit_verify.c - kc-admin audit --verify / --export FILE / --verify-file FILE
 * / --ack (see audit_verify.h). The checking itself is keycard_audit_verify in
 * libkeycard, so every reader of a log uses one implementation.
 *
 * Export file (text, one item a line, hex in lower case):
 *     keycard-audit-export 1
 *     serial HEX8 / device-pub HEX65 / issuer-sig HEX64     the identity
 *     next N / lost N / head HEX32 / nonce HEX / head-sig HEX64   the signed head
 *     entry HEX      one per entry, oldest first, in its wire form
 *                    seq(4) time(4) event(1) len(1) data(len) prev(32)
 * A text file so that a person (or a test) can see and change one entry.
 */
#include "audit_verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

#define MAX_ENTRIES 256 /* the card keeps 128; room for a doctored file */
#define EXPORT_MAGIC "keycard-audit-export 1"

typedef struct audit_dump {
    keycard_identity id;
    keycard_audit_head head;
    keycard_audit_entry e[MAX_ENTRIES];
    size_t n;
    int malformed;        /* an entry line that does not parse */
    uint32_t malformed_seq;
} audit_dump;

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

/* Wire form of an entry; returns its length. */
static size_t entry_wire(const keycard_audit_entry *e, uint8_t *out)
{
    put32(out, e->seq);
    put32(out + 4, e->time);
    out[8] = e->event;
    out[9] = e->len;
    memcpy(out + 10, e->data, e->len);
    memcpy(out + 10 + e->len, e->prev, 32);
    return 10 + (size_t)e->len + 32;
}

/* Read everything the check needs from the card (admin key verified). */
static int collect(keycard *kc, audit_dump *d)
{
    keycard_rc rc;
    uint32_t from = 0;
    d->n = 0;
    for (;;) {
        size_t k = MAX_ENTRIES - d->n;
        if (k == 0)
            break;
        if ((rc = keycard_audit_read(kc, from, d->e + d->n, &k)) != KEYCARD_OK)
            return kct_fail(rc, "audit: read", -1);
        if (k == 0)
            break;
        d->n += k;
        from = d->e[d->n - 1].seq + 1;
        if (from == 0)
            break;
    }
    if ((rc = keycard_audit_sign(kc, NULL, 0, &d->head)) != KEYCARD_OK)
        return kct_fail(rc, "audit: sign head", -1);
    if ((rc = keycard_identity_read(kc, &d->id)) != KEYCARD_OK)
        return kct_fail(rc, "audit: read identity", -1);
    return 0;
}

static void put_hex(FILE *f, const char *name, const uint8_t *b, size_t n)
{
    char hex[2 * (10 + 72 + 32) + 1];
    kct_hex_format(b, n, hex);
    fprintf(f, "%s %s\n", name, hex);
}

/* The export holds the card's audit log: written 0600, whole or not at all. */
static int export_write(const audit_dump *d, const char *path)
{
    kct_private pf;
    if (kct_private_create(&pf, path) != 0) {
        kct_err("audit: --export: cannot write '%s': %s", path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    FILE *f = pf.f;
    uint8_t w[10 + 72 + 32];
    fprintf(f, "%s\n", EXPORT_MAGIC);
    put_hex(f, "serial", d->id.serial, sizeof d->id.serial);
    put_hex(f, "device-pub", d->id.device_pub, sizeof d->id.device_pub);
    put_hex(f, "issuer-sig", d->id.issuer_sig, sizeof d->id.issuer_sig);
    fprintf(f, "next %lu\nlost %lu\n", (unsigned long)d->head.next, (unsigned long)d->head.lost);
    put_hex(f, "head", d->head.head, sizeof d->head.head);
    put_hex(f, "nonce", d->head.nonce, d->head.nonce_len);
    put_hex(f, "head-sig", d->head.sig, sizeof d->head.sig);
    for (size_t i = 0; i < d->n; i++)
        put_hex(f, "entry", w, entry_wire(&d->e[i], w));
    if (kct_private_commit(&pf) != 0) {
        kct_err("audit: --export: cannot write '%s': %s", path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    return 0;
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
static void parse_entry(audit_dump *d, const char *hex)
{
    uint8_t w[512];
    int n = kct_hex_parse(hex, w, sizeof w);
    uint32_t expect = d->n ? d->e[d->n - 1].seq + 1 : (n >= 4 ? be32(w) : 0);
    if (d->n == MAX_ENTRIES || n < 10 + 32 || w[9] > 72 || (size_t)n != 10u + w[9] + 32) {
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

static int export_read(const char *path, audit_dump *d)
{
    uint8_t *buf;
    size_t len;
    char err[256];
    if (kct_file_read(path, 1u << 20, &buf, &len, err, sizeof err) != 0) {
        kct_err("audit: --verify-file: %s", err);
        return KCT_EXIT_USAGE;
    }
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
            bad = strcmp(line, EXPORT_MAGIC) != 0;
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
        kct_err("audit: --verify-file: '%s' is not a whole audit export (line %lu)", path,
                (unsigned long)lineno);
        return KCT_EXIT_FAIL;
    }
    return 0;
}

/* Check a dump; one line either way. Returns the exit code. */
static int check(const audit_dump *d, const char *pub_path)
{
    uint8_t *pub;
    size_t pub_len;
    char err[256];
    char serial[17];
    if (kct_file_read(pub_path, 64 * 1024, &pub, &pub_len, err, sizeof err) != 0) {
        kct_err("audit: --issuer-pub: %s", err);
        return KCT_EXIT_USAGE;
    }
    keycard_audit_fault fault = KEYCARD_AUDIT_FAULT_NONE;
    uint32_t bad = 0;
    keycard_rc rc = keycard_audit_verify(d->e, d->n, &d->head, &d->id, pub,
                                         kct_key_len(pub, pub_len), &fault, &bad);
    kct_file_free(pub, pub_len);
    kct_hex_format(d->id.serial, 8, serial);
    /* A malformed line is the first bad entry if nothing before it failed. */
    if (d->malformed && (rc == KEYCARD_OK || fault == KEYCARD_AUDIT_FAULT_ENTRY ||
                         fault == KEYCARD_AUDIT_FAULT_MISSING) &&
        (rc == KEYCARD_OK || d->malformed_seq <= bad)) {
        kct_err("audit log does NOT verify: entry %lu is malformed", (unsigned long)d->malformed_seq);
        return KCT_EXIT_FAIL;
    }
    if (rc == KEYCARD_OK) {
        printf("audit log verified: key card %s, %lu entries (seq %lu..%lu), head signed, "
               "%lu lost\n",
               serial, (unsigned long)d->n, d->n ? (unsigned long)d->e[0].seq : 0ul,
               d->n ? (unsigned long)d->e[d->n - 1].seq : 0ul, (unsigned long)d->head.lost);
        if (d->head.lost)
            printf("warning: %lu security events were not recorded (log full)\n",
                   (unsigned long)d->head.lost);
        return KCT_EXIT_OK;
    }
    switch (fault) {
    case KEYCARD_AUDIT_FAULT_IDENTITY:
        kct_err("audit log does NOT verify: the identity of key card %s is not signed by "
                "the issuer key",
                serial);
        break;
    case KEYCARD_AUDIT_FAULT_HEAD:
        kct_err("audit log does NOT verify: head signature wrong (head of seq %lu)",
                (unsigned long)bad);
        break;
    case KEYCARD_AUDIT_FAULT_ENTRY:
        kct_err("audit log does NOT verify: entry %lu altered or out of place",
                (unsigned long)bad);
        break;
    case KEYCARD_AUDIT_FAULT_MISSING:
        kct_err("audit log does NOT verify: entry %lu missing", (unsigned long)bad);
        break;
    default:
        return kct_fail(rc, "audit: verify", -1);
    }
    return KCT_EXIT_FAIL;
}

int kca_audit_prove(const kca_audit_req *r, kct_where *w)
{
    if ((r->verify || r->verify_file || r->ack) && !r->issuer_pub) {
        kct_err("audit: --verify, --verify-file and --ack need --issuer-pub FILE");
        return KCT_EXIT_USAGE;
    }
    if (r->ack && !r->export_file) {
        kct_err("audit: --ack acknowledges what --export wrote: give --export FILE too");
        return KCT_EXIT_USAGE;
    }
    if (r->verify_file && (r->verify || r->export_file)) {
        kct_err("audit: --verify-file works offline: not with --verify or --export");
        return KCT_EXIT_USAGE;
    }
    audit_dump *d = calloc(1, sizeof *d);
    if (!d) {
        kct_err("audit: out of memory");
        return KCT_EXIT_FAIL;
    }
    int ex;
    if (r->verify_file) {
        ex = export_read(r->verify_file, d);
        if (ex == 0)
            ex = check(d, r->issuer_pub);
        free(d);
        return ex;
    }
    /* The admin key goes only through a channel certified by the issuer key. */
    keycard *kc = NULL;
    kca_issuer iss;
    if ((ex = kca_issuer_load("audit", r->issuer_pub, &iss)) == 0)
        ex = kca_open_secret(w, "audit", "the admin key", &iss, &kc, 0, NULL);
    kca_issuer_free(&iss);
    if (ex) {
        free(d);
        return ex;
    }
    if ((ex = kca_verify(kc, KEYCARD_ADMIN_KEY, r->admin_key_file)) != 0 ||
        (ex = collect(kc, d)) != 0)
        goto out;
    if (r->export_file) {
        if ((ex = export_write(d, r->export_file)) != 0)
            goto out;
        printf("exported %lu entries (next %lu) to %s\n", (unsigned long)d->n,
               (unsigned long)d->head.next, r->export_file);
    }
    if (r->verify || r->ack)
        ex = check(d, r->issuer_pub);
    if (ex == 0 && r->ack) {
        /* Only a log that verified is let go: its slots may be overwritten now. */
        keycard_rc rc = keycard_audit_ack(kc, d->head.next);
        if (rc != KEYCARD_OK)
            ex = kct_fail(rc, "audit: acknowledge", -1);
        else
            printf("acknowledged entries below %lu\n", (unsigned long)d->head.next);
    }
out:
    keycard_close(kc);
    free(d);
    return ex;
}
