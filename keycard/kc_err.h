/*
 * kc_err.h - the register of the card firmware's error codes, both cards:
 * every code is defined here, once, so two modules can never pick the same
 * value, and kc_err_sw() turns them into status words from one table.
 *
 * Services return 0 or a negative code; only the APDU handler boundary turns
 * them into status words (kc_err_to_sw for the key card, tc_err_to_sw for the
 * target card, which passes its own overrides to the same table).
 */
#ifndef KC_ERR_H
#define KC_ERR_H

#include <stddef.h>
#include <stdint.h>

#define KC_OK 0

/* -1..-31: every module (kc_store, kc_apdu, kc_crypto, ...). */
#define KC_ERR_ARG (-1)       /* bad argument from the caller (firmware bug) */
#define KC_ERR_NOT_FOUND (-2) /* no such record / object */
#define KC_ERR_NO_SPACE (-3)  /* store full even after compaction */
#define KC_ERR_FLASH (-4)     /* program/erase failed or read-back mismatch */
#define KC_ERR_CORRUPT (-5)   /* store contents fail their checks */
#define KC_ERR_STATE (-6)     /* operation not allowed now (e.g. no open txn) */
#define KC_ERR_CRYPTO (-7)    /* crypto primitive failed */
#define KC_ERR_RNG (-8)       /* random source failed */
#define KC_ERR_TOO_BIG (-9)   /* data larger than the stated maximum */
#define KC_ERR_BAD_DATA (-10) /* input data malformed */

/* -32..-47: credentials (kc_cred). */
#define KC_ERR_CRED_WRONG (-32)   /* the value did not match (tries left reported apart) */
#define KC_ERR_CRED_BLOCKED (-33) /* no tries left */

/* -48..-59: crypto and envelopes (kc_crypto, kc_envelope). */
#define KC_ERR_AUTH (-48)        /* a tag or MAC did not verify */
#define KC_ERR_ENV_FORMAT (-49)  /* ENVELOPE/response bytes malformed (header, Lc, Le, size) */
#define KC_ERR_ENV_COUNTER (-50) /* counter is not the expected one (replayed or skipped) */

/* -60..-63: the issuance session (kc_issue). */
#define KC_ERR_ISSUE_STEPS (-60) /* more than KC_ISSUE_MAX_STEPS envelopes in the session */
#define KC_ERR_ISSUE_ROOM (-61)  /* the answer does not fit the caller's buffer */

/* -64..-79: the target card (examples/targetcard/). */
#define TC_ERR_EXISTS (-64)         /* FID, folder name or key id already taken */
#define TC_ERR_WRONG_TYPE (-65)     /* object of another type (6981) */
#define TC_ERR_QUOTA (-66)          /* folder quota or file size exceeded (6A84) */
#define TC_ERR_ACCESS (-67)         /* access condition not satisfied (6982) */
#define TC_ERR_OFFSET (-68)         /* offset outside the file (6B00) */
#define TC_ERR_NO_RECORD (-69)      /* record number not present (6A83) */
#define TC_ERR_LENGTH (-70)         /* data length does not fit the object (6700) */
#define TC_ERR_PIN_WRONG (-71)      /* VERIFY mismatch; tries left reported apart */
#define TC_ERR_PIN_BLOCKED (-72)    /* no tries left (6983) */
#define TC_ERR_FILE_NOT_FOUND (-73) /* no such FID or name (6A82) */

/* One entry of an error-to-status-word table. */
typedef struct kc_err_sw_entry {
    int err;
    uint16_t sw;
} kc_err_sw_entry;

/*
 * The status word of err: a card's own entries first (over, n of them; NULL
 * for none), then the common table (0 9000, NOT_FOUND 6A88, NO_SPACE and
 * ISSUE_STEPS 6A84, FLASH 6581, STATE 6985, BAD_DATA and TOO_BIG 6A80,
 * ISSUE_ROOM 6700, CRED_BLOCKED 6983, CRED_WRONG 63C0 (the handler adds the
 * count)); anything else (ARG, CORRUPT, CRYPTO, RNG, ...) 6F00.
 */
uint16_t kc_err_sw(int err, const kc_err_sw_entry *over, size_t n);

#endif /* KC_ERR_H */
