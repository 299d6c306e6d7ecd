/*
 * keycard.h - the public API of libkeycard: talk to a key card from an issuing
 * station or an administration tool.
 *
 * Life cycle of a session:
 *
 *     keycard *kc;
 *     keycard_rc rc = keycard_open(&kc, NULL);        // find the key card by AID
 *     rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "13579135", &left);
 *     rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, "246810", &left);
 *     rc = keycard_identity_check(kc, issuer_pub, issuer_pub_len, &id);
 *     rc = keycard_holder_info(kc, &holder);
 *     ...
 *     keycard_close(kc);
 *
 * Every function returns KEYCARD_OK (0) or a negative keycard_rc;
 * keycard_strerror() gives a one-line explanation. A handle is used by one
 * thread at a time. No PC/SC type appears here.
 */
#ifndef KEYCARD_H
#define KEYCARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KEYCARD_API __attribute__((visibility("default")))
#else
#define KEYCARD_API
#endif

/* Library version. */
#define KEYCARD_VERSION_MAJOR 0
#define KEYCARD_VERSION_MINOR 1
#define KEYCARD_VERSION_PATCH 0

typedef enum keycard_rc {
    KEYCARD_OK = 0,
    KEYCARD_ERR_ARG = -1,           /* invalid argument */
    KEYCARD_ERR_MEMORY = -2,        /* out of memory on the host */
    KEYCARD_ERR_BUFFER = -3,        /* caller's buffer too small (nothing written) */
    KEYCARD_ERR_NO_READER = -4,     /* PC/SC service or reader not available */
    KEYCARD_ERR_NO_CARD = -5,       /* no key card found / no card in the reader */
    KEYCARD_ERR_CARD_REMOVED = -6,  /* card removed during the operation */
    KEYCARD_ERR_CARD_RESET = -7,    /* card reset by another party; session lost */
    KEYCARD_ERR_TRANSPORT = -8,     /* communication failure */
    KEYCARD_ERR_PROTOCOL = -9,      /* malformed answer from the card */
    KEYCARD_ERR_WRONG_PIN = -10,    /* wrong PIN or key; see tries_left */
    KEYCARD_ERR_BLOCKED = -11,      /* credential blocked (6983) */
    KEYCARD_ERR_NOT_VERIFIED = -12, /* security status not satisfied (6982) */
    KEYCARD_ERR_CONDITIONS = -13,   /* conditions of use not satisfied (6985) */
    KEYCARD_ERR_WRONG_DATA = -14,   /* card rejected the data (6A80, 6700) */
    KEYCARD_ERR_NOT_FOUND = -15,    /* object not found on the card (6A82, 6A88) */
    KEYCARD_ERR_CARD_MEMORY = -16,  /* card out of memory or memory failure */
    KEYCARD_ERR_UNSUPPORTED = -17,  /* card does not support the command */
    KEYCARD_ERR_CARD = -18,         /* other status word from the card */
    KEYCARD_ERR_NOT_GENUINE = -19,  /* identity check failed: not a genuine key card */
    KEYCARD_ERR_BLANK = -20,        /* key card not provisioned yet */
    KEYCARD_ERR_KEY_FORMAT = -21,   /* a public/private key could not be parsed */
    KEYCARD_ERR_CRYPTO = -22,       /* host crypto failure */
    KEYCARD_ERR_IO = -23            /* file I/O failure on the host (sim state file) */
} keycard_rc;

/* One line that a person understands; never NULL. */
KEYCARD_API const char *keycard_strerror(keycard_rc rc);

/* Opaque session handle. */
typedef struct keycard keycard;

/*
 * Open a session with a key card and SELECT its application.
 *
 * where:
 *   NULL or ""         every PC/SC reader is tried; the first whose card
 *                      answers SELECT of the key card AID is used;
 *   "pcsc:NAME"/"NAME" the PC/SC reader NAME;
 *   "sim:FILE"         the key card firmware run in this process on the flash
 *                      image FILE (created blank when missing).
 *
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY, KEYCARD_ERR_NO_READER,
 * KEYCARD_ERR_NO_CARD, KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_IO.
 */
KEYCARD_API keycard_rc keycard_open(keycard **out, const char *where);

/* End the session and free the handle. keycard_close(NULL) does nothing. */
KEYCARD_API void keycard_close(keycard *kc);

/* Name of the reader in use ("sim:FILE" for the simulator). */
KEYCARD_API const char *keycard_reader_name(const keycard *kc);

/*
 * List PC/SC readers: names separated by '\n' into buf (cap bytes, NUL-terminated).
 * Errors: KEYCARD_ERR_NO_READER, KEYCARD_ERR_BUFFER, KEYCARD_ERR_ARG.
 */
KEYCARD_API keycard_rc keycard_list_readers(char *buf, size_t cap);

typedef enum keycard_pin {
    KEYCARD_PIN_ISSUER = 0x81, /* issuer (issuing machine) PIN */
    KEYCARD_PIN_HOLDER = 0x82, /* holder (operator) PIN */
    KEYCARD_ADMIN_KEY = 0x83   /* administration key (raw bytes) */
} keycard_pin;

typedef enum keycard_lifecycle {
    KEYCARD_LIFECYCLE_BLANK = 1,
    KEYCARD_LIFECYCLE_PROVISIONED = 7
} keycard_lifecycle;

/* Public status of a key card; readable without any credential. */
typedef struct keycard_status {
    keycard_lifecycle lifecycle;
    uint8_t serial[8];
    unsigned version_major, version_minor;
    int tries_left[3];   /* issuer PIN, holder PIN, admin key; -1 when not set */
    uint32_t audit_next; /* sequence number the next audit entry gets */
    unsigned audit_capacity;
    int staging;         /* 1 while a provisioning session is open */
} keycard_status;

/* Read the status. Errors: transport errors, KEYCARD_ERR_PROTOCOL. */
KEYCARD_API keycard_rc keycard_status_read(keycard *kc, keycard_status *st);

/*
 * Verify a PIN (ASCII digits, 4..16) for KEYCARD_PIN_ISSUER or
 * KEYCARD_PIN_HOLDER. The holder PIN is accepted only after the issuer PIN.
 * tries_left (may be NULL) receives the tries left after a wrong PIN.
 * Errors: KEYCARD_ERR_WRONG_PIN, KEYCARD_ERR_BLOCKED, KEYCARD_ERR_NOT_VERIFIED
 * (holder before issuer), KEYCARD_ERR_BLANK, KEYCARD_ERR_ARG, transport errors.
 */
KEYCARD_API keycard_rc keycard_verify_pin(keycard *kc, keycard_pin ref, const char *pin,
                                          int *tries_left);

/*
 * Verify the admin key (16 or 32 bytes). Same errors as keycard_verify_pin;
 * a blocked admin key stays blocked for good.
 */
KEYCARD_API keycard_rc keycard_verify_admin(keycard *kc, const uint8_t *key, size_t key_len,
                                            int *tries_left);

/*
 * Tries left for ref without spending one (empty VERIFY).
 * *tries_left is 0 when blocked. Errors: KEYCARD_ERR_BLANK, transport errors.
 */
KEYCARD_API keycard_rc keycard_tries_left(keycard *kc, keycard_pin ref, int *tries_left);

/*
 * Change a PIN (old and new as ASCII digits) or, with KEYCARD_ADMIN_KEY, the
 * admin key (old and new as raw bytes, passed through the same char pointers
 * with explicit lengths). Errors as keycard_verify_pin, plus
 * KEYCARD_ERR_WRONG_DATA for a new value of the wrong form.
 */
KEYCARD_API keycard_rc keycard_change_pin(keycard *kc, keycard_pin ref, const char *old_pin,
                                          const char *new_pin, int *tries_left);
KEYCARD_API keycard_rc keycard_change_admin(keycard *kc, const uint8_t *old_key,
                                            size_t old_len, const uint8_t *new_key,
                                            size_t new_len, int *tries_left);

/*
 * Unblock a PIN (reset its tries) with the admin key verified in this session;
 * new_pin NULL keeps the PIN. Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_ARG,
 * KEYCARD_ERR_WRONG_DATA, transport errors.
 */
KEYCARD_API keycard_rc keycard_unblock_pin(keycard *kc, keycard_pin ref, const char *new_pin);

/* Holder data, readable after the issuer and holder PINs. */
typedef struct keycard_holder {
    char name[64 + 1];   /* UTF-8, NUL-terminated */
    char number[32 + 1]; /* ASCII, NUL-terminated */
} keycard_holder;

/* Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL, transport errors. */
KEYCARD_API keycard_rc keycard_holder_info(keycard *kc, keycard_holder *out);

/* The key card's identity. */
typedef struct keycard_identity {
    uint8_t serial[8];
    uint8_t device_pub[65];     /* uncompressed P-256 point */
    uint8_t issuer_sig[64];     /* r||s over the identity, by the issuer key */
} keycard_identity;

/*
 * Prove the key card genuine: read its identity (needs issuer and holder
 * PINs), check the issuer's signature over it with issuer_pub (PEM or DER
 * SubjectPublicKeyInfo, or a raw 65-byte uncompressed P-256 point), then send
 * a fresh random challenge to INTERNAL AUTHENTICATE and check the answer with
 * the device key. out (may be NULL) receives the identity.
 * Errors: KEYCARD_ERR_NOT_GENUINE, KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_identity_check(keycard *kc, const uint8_t *issuer_pub,
                                              size_t issuer_pub_len, keycard_identity *out);

/* One audit log entry. */
typedef struct keycard_audit_entry {
    uint32_t seq;   /* monotonic, never reused */
    uint32_t time;  /* seconds since the epoch by the card's clock, 0 if none */
    uint8_t event;  /* KEYCARD_AUDIT_* */
    uint8_t len;
    uint8_t data[54];
} keycard_audit_entry;

#define KEYCARD_AUDIT_UNLOCK 0x01      /* data: holder number */
#define KEYCARD_AUDIT_PROVISIONED 0x02
#define KEYCARD_AUDIT_PIN_BLOCKED 0x03 /* data: reference */
#define KEYCARD_AUDIT_UNBLOCKED 0x04   /* data: reference */
#define KEYCARD_AUDIT_PIN_CHANGED 0x05 /* data: reference */

/* Name of an audit event ("unlock", ...); "unknown" for others. */
KEYCARD_API const char *keycard_audit_event_name(uint8_t event);

/*
 * Read audit entries with seq >= from (older ones the card still keeps are
 * returned from the oldest kept). Needs the admin key verified.
 * *count: capacity of entries in, entries written out. Fewer than asked means
 * the end of the log. Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL,
 * transport errors.
 */
KEYCARD_API keycard_rc keycard_audit_read(keycard *kc, uint32_t from,
                                          keycard_audit_entry *entries, size_t *count);

/*
 * Provisioning (used by kc-admin). A session: begin, any puts, generate the
 * device key, put the issuer's signature of the identity, commit. Nothing is
 * changed on the card before commit; close, abort or a card pulled earlier
 * leave it as it was. On a provisioned card begin needs the admin key.
 *
 * keycard_provision_put: tag is a KC_TAG_* of keycard_proto.h.
 * keycard_provision_generate: the card makes its device key; out receives the
 * identity to be signed (serial and device public key).
 * Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_CONDITIONS, KEYCARD_ERR_WRONG_DATA,
 * KEYCARD_ERR_CARD_MEMORY, transport errors.
 */
KEYCARD_API keycard_rc keycard_provision_begin(keycard *kc);
KEYCARD_API keycard_rc keycard_provision_put(keycard *kc, uint16_t tag, const uint8_t *data,
                                             size_t len);
KEYCARD_API keycard_rc keycard_provision_generate(keycard *kc, keycard_identity *out);
KEYCARD_API keycard_rc keycard_provision_commit(keycard *kc);
KEYCARD_API keycard_rc keycard_provision_abort(keycard *kc);

/*
 * Sign an identity with the issuer's private key (PEM or DER, P-256) as the
 * provisioning step needs: fills id->issuer_sig. Errors: KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_CRYPTO.
 */
KEYCARD_API keycard_rc keycard_identity_sign(keycard_identity *id, const uint8_t *issuer_priv,
                                             size_t issuer_priv_len);

/*
 * Send a raw APDU and receive the raw response (data and SW1 SW2), for tools
 * and tests. *resp_len: capacity in, length out. Errors: KEYCARD_ERR_BUFFER,
 * transport errors.
 */
KEYCARD_API keycard_rc keycard_transmit(keycard *kc, const uint8_t *apdu, size_t apdu_len,
                                        uint8_t *resp, size_t *resp_len);

#ifdef __cplusplus
}
#endif

#endif /* KEYCARD_H */
