/*
 * tc_card.h - the target card (docs/target-card.md): the IC card being
 * issued. All firmware state in one caller-owned structure, the protocol
 * constants of the card, and the internal interfaces between its modules:
 *
 *   tc_card.c     boot, power events, ATR, kc_target_card (kc_card.h)
 *   tc_apdu.c     command table, dispatcher, plaintext command handlers
 *   tc_session.c  issuance session: BEGIN, ENVELOPE, inner issuance commands, lock
 *   tc_fs.c       file system objects, quotas, access conditions, file keys
 *
 * Persistent state lives in the store (map in tc_keys.h); everything else
 * here is volatile and cleared by power events.
 */
#ifndef TC_CARD_H
#define TC_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "kc_apdu.h"
#include "kc_card.h"
#include "kc_envelope.h"
#include "kc_hw.h"
#include "kc_store.h"
#include "keycard_target_proto.h"

/* Flash geometry: 64 KiB in 2 KiB pages. */
#define TC_FLASH_SIZE (64u * 1024u)
#define TC_PAGE_SIZE 2048u

/* Firmware limits (the wire constants are in keycard_target_proto.h). */
#define TC_COMPLETION_MAX (3 + KC_ENV_LOCK_DATA_MAX + KC_ENV_MAC_LEN)
#define TC_MAX_OBJECTS 64
#define TC_FILE_MAX 1024u     /* largest data file (bytes) */
#define TC_MF_QUOTA 12288u    /* bytes the master folder hands out */

/* One issuance session (RAM only). */
typedef struct tc_session {
    int open;                     /* BIND done: envelopes accepted */
    int pending;                  /* BEGIN done, BIND awaited */
    uint8_t way;                  /* TC_WAY_* */
    uint8_t key_no;
    uint8_t kcard_len;
    uint8_t kcard[32];            /* between BEGIN and BIND only */
    uint8_t nt[KC_ENV_NONCE_LEN]; /* this card's fresh nonce of the session */
    uint8_t r[KC_ENV_R_LEN];      /* chain modes: R_{c-1}; static mode: the session base B */
    uint8_t kcomp[16];
    uint32_t next_c;              /* the counter the next envelope must carry */
    uint32_t c0;                  /* the first envelope's: inner command i is [c0 + i] in the transcript */
    uint8_t packed;               /* BEGIN P1 bit 80: several inner commands per envelope */
    kc_env_transcript transcript;
} tc_session;

typedef struct tc_card {
    kc_hw hw;
    kc_store store;
    int mounted;
    /* security state, cleared by power events */
    uint16_t pin_ok;              /* bit k: PIN key k verified */
    uint16_t auth_ok;             /* bit k: AES key k authenticated */
    int have_challenge;
    uint8_t challenge[TC_CHALLENGE_LEN];
    /* selection: object slots, -1 none */
    int cur_df;
    int cur_ef;
    tc_session sess;
} tc_card;

/* A decoded file system object header (tc_fs.c). */
typedef struct tc_obj {
    int slot;
    uint16_t fid, parent;
    uint8_t type;
    uint8_t read_ac, change_ac;
    uint16_t size;    /* folder: quota; transparent: bytes; record: rec_len * rec_max; key file: 0 */
    uint8_t rec_len, rec_max;
    uint16_t used;    /* folder: bytes of quota handed out to children */
    uint8_t name_len;
    uint8_t name[TC_NAME_MAX];
} tc_obj;

/* ---- tc_card.c ---------------------------------------------------------- */

/* Boot on hw. Errors: KC_ERR_ARG, KC_ERR_FLASH. */
int tc_card_init(tc_card *tc, const kc_hw *hw);
/* Clear security state, challenge, session and selection (power events). */
void tc_card_clear_volatile(tc_card *tc);
/* State (TC_STATE_*) and lock ways (TC_LOCK_* bits) from the store. */
uint8_t tc_card_state(const tc_card *tc);
uint8_t tc_card_locks(const tc_card *tc);
/* Serial into serial (zeros while VIRGIN). Returns 0 or KC_ERR_NOT_FOUND. */
int tc_card_serial(const tc_card *tc, uint8_t serial[8]);
/* Put the card record (state, locks) into the open transaction. */
int tc_card_put_record(tc_card *tc, uint8_t state, uint8_t locks);
/* Status word of a service error. */
uint16_t tc_err_to_sw(int err);

/* ---- tc_apdu.c ---------------------------------------------------------- */

/* Process one command APDU into resp (cap >= 2); returns the response length. */
size_t tc_apdu_process(tc_card *tc, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap);

/* ---- tc_session.c ------------------------------------------------------- */

/* Wipe the session. */
void tc_session_end(tc_card *tc);

/*
 * BEGIN ISSUANCE: way, key number, data (way 04: seed). Writes the response
 * (seed or counter) to out. Returns a status word.
 */
uint16_t tc_session_begin(tc_card *tc, uint8_t way, uint8_t key_no, const uint8_t *data,
                          size_t lc, uint8_t *out, size_t cap, size_t *out_len);

/* BIND: the key card's nonce (and way-04 seed). Returns the status word. */
uint16_t tc_session_bind(tc_card *tc, const uint8_t *data, size_t lc);
/*
 * ENVELOPE, as the APDU layer parsed it (a) from the len bytes it came in: it
 * must be one canonical APDU (84 C2 00 00, short Lc and Le 00 up to 255 data
 * bytes, extended above, nothing chained), then its data field is opened
 * without being parsed again. Returns the outer status word.
 */
uint16_t tc_session_envelope(tc_card *tc, const kc_apdu *a, size_t len, uint8_t *out,
                             size_t cap, size_t *out_len);

/* ---- tc_fs.c ------------------------------------------------------------ */

/*
 * Create the master folder in the open transaction (MANUFACTURE).
 * Errors: those of kc_store_put.
 */
int tc_fs_format(tc_card *tc);

/* Find an object by FID / by folder name. Errors: TC_ERR_FILE_NOT_FOUND, KC_ERR_CORRUPT. */
int tc_fs_find(const tc_card *tc, uint16_t fid, tc_obj *o);
int tc_fs_find_name(const tc_card *tc, const uint8_t *name, size_t len, tc_obj *o);
/* Object in slot. Errors: TC_ERR_FILE_NOT_FOUND, KC_ERR_CORRUPT. */
int tc_fs_get(const tc_card *tc, int slot, tc_obj *o);

/* 1 when the access condition ac is satisfied by the security state. */
int tc_fs_ac_ok(const tc_card *tc, uint8_t ac);
/* 1 when ac is a valid access condition byte. */
int tc_fs_ac_valid(uint8_t ac);

/*
 * Inner CREATE (P1 TC_CREATE_*) with its data, puts into the open
 * transaction. Errors: KC_ERR_BAD_DATA, TC_ERR_LENGTH, TC_ERR_EXISTS,
 * TC_ERR_FILE_NOT_FOUND, TC_ERR_WRONG_TYPE, TC_ERR_QUOTA, store errors.
 */
int tc_fs_create(tc_card *tc, uint8_t kind, const uint8_t *d, size_t n);

/*
 * Read len bytes at off of transparent file o into out (*n bytes given).
 * Errors: TC_ERR_WRONG_TYPE, TC_ERR_OFFSET, KC_ERR_CORRUPT.
 */
int tc_fs_read_binary(const tc_card *tc, const tc_obj *o, size_t off, uint8_t *out,
                      size_t max, size_t *n);
/* Write into transparent file o in the open transaction. Errors: TC_ERR_WRONG_TYPE, TC_ERR_OFFSET, TC_ERR_LENGTH, store. */
int tc_fs_write_binary(tc_card *tc, const tc_obj *o, size_t off, const uint8_t *d, size_t n);
/* Record recno (1..) of record file o. Errors: TC_ERR_WRONG_TYPE, TC_ERR_NO_RECORD. */
int tc_fs_read_record(const tc_card *tc, const tc_obj *o, unsigned recno, uint8_t *out,
                      size_t *n);
/* Append a record (exactly rec_len bytes) in the open transaction. Errors: TC_ERR_WRONG_TYPE, TC_ERR_LENGTH, TC_ERR_QUOTA, store. */
int tc_fs_append_record(tc_card *tc, const tc_obj *o, const uint8_t *d, size_t n);

/*
 * SET KEY: key id k, type, data = key file FID || value, in the open
 * transaction. Errors: KC_ERR_BAD_DATA, TC_ERR_LENGTH, TC_ERR_EXISTS,
 * TC_ERR_FILE_NOT_FOUND, TC_ERR_WRONG_TYPE, KC_ERR_RNG, KC_ERR_CRYPTO, store.
 */
int tc_fs_set_key(tc_card *tc, uint8_t k, uint8_t type, const uint8_t *d, size_t n);

/* Type of file key k (TC_FKEY_*), or 0 when absent. */
uint8_t tc_fs_key_type(const tc_card *tc, uint8_t k);

/*
 * VERIFY PIN key k: spend a try (committed), compare in constant time, on a
 * match restore the tries (committed). *left gets the tries left.
 * Errors: KC_ERR_NOT_FOUND, TC_ERR_PIN_WRONG, TC_ERR_PIN_BLOCKED, store, crypto.
 */
int tc_fs_verify_pin(tc_card *tc, uint8_t k, const uint8_t *pin, size_t len, unsigned *left);
/* Tries left of PIN key k. Errors: KC_ERR_NOT_FOUND. */
int tc_fs_pin_tries(const tc_card *tc, uint8_t k, unsigned *left);

/* CMAC of msg under AES key k. Errors: KC_ERR_NOT_FOUND, KC_ERR_CRYPTO. */
int tc_fs_key_cmac(const tc_card *tc, uint8_t k, const uint8_t *msg, size_t len,
                   uint8_t mac[16]);

/* The file list of GET DATA DF11 into out. Errors: KC_ERR_TOO_BIG. */
int tc_fs_list(const tc_card *tc, uint8_t *out, size_t cap, size_t *n);

#endif /* TC_CARD_H */
