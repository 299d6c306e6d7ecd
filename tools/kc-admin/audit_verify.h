/*
 * audit_verify.h - kc-admin audit --verify / --export / --verify-file / --ack:
 * reading the whole audit log with its signed head and identity, the export
 * file, and the offline check (keycard_audit_verify does the checking).
 */
#ifndef KCA_AUDIT_VERIFY_H
#define KCA_AUDIT_VERIFY_H

#include "../common/kct.h"

/* Options of the audit command, outside the ranges commands.c uses. */
#define KCA_OPT_AUDIT_VERIFY 0x300
#define KCA_OPT_AUDIT_EXPORT 0x301
#define KCA_OPT_AUDIT_VERIFY_FILE 0x302
#define KCA_OPT_AUDIT_ACK 0x303

typedef struct kca_audit_req {
    const char *admin_key_file;
    const char *issuer_pub;  /* PEM/DER file; needed by every check */
    const char *export_file; /* write the export here */
    const char *verify_file; /* check this export offline, no card */
    int verify;              /* check the card's log now */
    int ack;                 /* after a verified export: AUDIT ACKNOWLEDGE up to it */
} kca_audit_req;

/*
 * Run the request. Prints one line saying what was checked or exported, or
 * the first bad entry. Returns the exit code (KCT_EXIT_OK, KCT_EXIT_FAIL for
 * a log that does not verify or a card that refused, KCT_EXIT_USAGE).
 */
int kca_audit_prove(const kca_audit_req *r, kct_where *w);

#endif /* KCA_AUDIT_VERIFY_H */
