/*
 * kct_audit.h - a key card's audit export (kc-admin audit --export FILE):
 * read and checked offline, for kc-admin audit --verify-file and for
 * kc-issue journal reconcile. The checking itself is keycard_audit_verify.
 *
 * Export file (text, one item a line, hex in lower case):
 *     keycard-audit-export 1
 *     serial HEX8 / device-pub HEX65 / issuer-sig HEX64     the identity
 *     next N / lost N / head HEX32 / nonce HEX / head-sig HEX64   the signed head
 *     entry HEX      one per entry, oldest first, in its wire form
 *                    seq(4) time(4) event(1) len(1) data(len) prev(32)
 * A text file so that a person (or a test) can see and change one entry.
 */
#ifndef KCT_AUDIT_H
#define KCT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"

#define KCT_AUDIT_MAX 256 /* the card keeps 128; room for a doctored file */
#define KCT_AUDIT_MAGIC "keycard-audit-export 1"

typedef struct kct_audit_dump {
    keycard_identity id;
    keycard_audit_head head;
    keycard_audit_entry e[KCT_AUDIT_MAX];
    size_t n;
    int malformed; /* an entry line that does not parse */
    uint32_t malformed_seq;
} kct_audit_dump;

/* The wire form of an entry (the export's "entry" line); returns its length. */
size_t kct_audit_entry_wire(const keycard_audit_entry *e, uint8_t *out);

/*
 * Read an export. Returns 0, -1 when the file cannot be read (err says
 * why), -2 when it is not a whole export (err names the line).
 */
int kct_audit_export_read(const char *path, kct_audit_dump *d, char *err, size_t errcap);

/*
 * Check a dump with the issuer public key (pub as read from its file).
 * Returns 0 (verified), 1 (does not verify: why says what, e.g. "entry 7
 * altered or out of place"), or -1 (a library error: *rc).
 */
int kct_audit_dump_verify(const kct_audit_dump *d, const uint8_t *pub, size_t pub_len, char *why,
                          size_t whycap, keycard_rc *rc);

#endif /* KCT_AUDIT_H */
