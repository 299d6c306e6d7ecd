/*
 * kc_err.h - error codes of the card firmware services.
 *
 * Services return 0 or a negative KC_ERR_*; only the APDU handler boundary
 * turns them into status words (kc_err_to_sw in kc_applet.c).
 */
#ifndef KC_ERR_H
#define KC_ERR_H

#define KC_OK 0
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

#endif /* KC_ERR_H */
