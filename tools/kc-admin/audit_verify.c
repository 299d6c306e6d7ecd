/*
 * audit_verify.c - kc-admin audit --verify / --export FILE / --verify-file FILE
 * / --ack (see audit_verify.h). The checking itself is keycard_audit_verify in
 * libkeycard, so every reader of a log uses one implementation; the export
 * file's format is in tools/common/kct_audit.h.
 */
#include "audit_verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "kct_audit.h"

typedef kct_audit_dump audit_dump;
#define MAX_ENTRIES KCT_AUDIT_MAX

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
    fprintf(f, "%s\n", KCT_AUDIT_MAGIC);
    put_hex(f, "serial", d->id.serial, sizeof d->id.serial);
    put_hex(f, "device-pub", d->id.device_pub, sizeof d->id.device_pub);
    put_hex(f, "issuer-sig", d->id.issuer_sig, sizeof d->id.issuer_sig);
    fprintf(f, "next %lu\nlost %lu\n", (unsigned long)d->head.next, (unsigned long)d->head.lost);
    put_hex(f, "head", d->head.head, sizeof d->head.head);
    put_hex(f, "nonce", d->head.nonce, d->head.nonce_len);
    put_hex(f, "head-sig", d->head.sig, sizeof d->head.sig);
    for (size_t i = 0; i < d->n; i++)
        put_hex(f, "entry", w, kct_audit_entry_wire(&d->e[i], w));
    if (kct_private_commit(&pf) != 0) {
        kct_err("audit: --export: cannot write '%s': %s", path, strerror(errno));
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
    char why[200];
    keycard_rc rc;
    int v = kct_audit_dump_verify(d, pub, kct_key_len(pub, pub_len), why, sizeof why, &rc);
    kct_file_free(pub, pub_len);
    kct_hex_format(d->id.serial, 8, serial);
    if (v == 0) {
        printf("audit log verified: key card %s, %lu entries (seq %lu..%lu), head signed, "
               "%lu lost\n",
               serial, (unsigned long)d->n, d->n ? (unsigned long)d->e[0].seq : 0ul,
               d->n ? (unsigned long)d->e[d->n - 1].seq : 0ul, (unsigned long)d->head.lost);
        if (d->head.lost)
            printf("warning: %lu security events were not recorded (log full)\n",
                   (unsigned long)d->head.lost);
        return KCT_EXIT_OK;
    }
    if (v < 0)
        return kct_fail(rc, "audit: verify", -1);
    kct_err("audit log does NOT verify: %s", why);
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
        char err[512];
        int rr = kct_audit_export_read(r->verify_file, d, err, sizeof err);
        if (rr != 0)
            kct_err("audit: --verify-file: %s", err);
        ex = rr == -1 ? KCT_EXIT_USAGE : rr == -2 ? KCT_EXIT_FAIL : check(d, r->issuer_pub);
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
