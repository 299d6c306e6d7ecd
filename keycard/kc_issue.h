/*
 * kc_issue.h - the key card's side of issuance (docs/apdu.md "Issuance"):
 * numbered keys and templates on the store, the previous-random chain state,
 * and the issuance session BEGIN / WRAP / END that turns template steps into
 * ENVELOPE APDUs (kc_envelope.h) for one target card and ends with an audit
 * receipt.
 *
 * A session lives in a caller-owned kc_issue_session (inside kc_keycard,
 * RAM only, one per session number 0..KC_ISSUE_SESSIONS-1, each with its
 * own open-session mark in the store): power events and SELECT close them
 * (kc_issue_close). It keeps the
 * secrets the session needs (the chain value or the card key, the completion
 * key) and, per envelope, only its template number: at most
 * KC_ISSUE_MAX_STEPS envelopes.
 */
#ifndef KC_ISSUE_H
#define KC_ISSUE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"
#include "kc_store.h"
#include "keycard_proto.h"

/* Stored key record (0x2000+n): type flags kcv(3) label_len label key. */
#define KC_ISSUE_KEY_REC_MAX (6 + KC_LABEL_MAX + 32)

typedef struct kc_issue_session {
    int open;
    uint8_t slot;       /* its number (P2): the store key of its open-session mark */
    uint8_t way;        /* KC_WAY_* */
    uint8_t key_no;
    uint8_t flags;      /* KC_RECEIPT_FLAG_* */
    uint8_t serial[8];  /* the target's */
    uint16_t bucket;
    uint8_t secret[32]; /* ways 03/04: R_{c-1}, the chain value; way 01: the static base B */
    uint8_t secret_len;
    uint8_t kcomp[16];  /* completion key */
    uint32_t c0;        /* counter of the first envelope */
    uint8_t n;          /* steps (inner commands) wrapped */
    uint8_t ne;         /* envelopes produced (= n unless packed) */
    uint8_t packed;     /* ISSUE BEGIN P1 bit 80: several steps per envelope */
    uint8_t tpl[KC_ISSUE_MAX_STEPS]; /* template number of each envelope */
    uint8_t lock_way;   /* P1 of the COMPLETE ISSUANCE wrapped (0: none yet) */
    uint8_t lock_len;
    uint8_t lock_data[KC_ISSUE_LOCK_DATA_MAX];
} kc_issue_session;

/* Wipe and close the session (no receipt). kc_issue_close(NULL) does nothing. */
void kc_issue_close(kc_issue_session *s);

/* Close all[0..n-1] (power, SELECT, the channel's end, provisioning). */
void kc_issue_close_all(kc_issue_session *all, size_t n);

/*
 * Key check value of an AES key (16 or 32 bytes) into kcv[3].
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_issue_kcv(const uint8_t *key, size_t len, uint8_t kcv[KC_KCV_LEN]);

/* A stored numbered key: pointers into the store (valid until its next write). */
typedef struct kc_issue_key {
    uint8_t type, flags;
    const uint8_t *kcv;
    uint8_t label_len;
    const uint8_t *label;
    const uint8_t *key;
    size_t key_len;
} kc_issue_key;

/* Key n (1..254) from the store. Returns 0, KC_ERR_NOT_FOUND, KC_ERR_CORRUPT. */
int kc_issue_key_load(const kc_store *st, unsigned n, kc_issue_key *k);

/*
 * Validate a PROVISION PUT of key n (data: type flags label_len label key)
 * and add the record, with its KCV, to the store's open transaction.
 * Returns 0, KC_ERR_BAD_DATA (malformed; nothing written), KC_ERR_CRYPTO,
 * or the errors of kc_store_put.
 */
int kc_issue_key_put(kc_store *st, uint8_t n, const uint8_t *d, size_t len);

/*
 * Validate a binary template (kc_template_parse) and add it as template n
 * to the open transaction. Returns 0, KC_ERR_BAD_DATA, or kc_store_put's errors.
 */
int kc_issue_template_put(kc_store *st, uint8_t n, const uint8_t *d, size_t len);

/*
 * Directories from number from (1..254) on: as many whole entries as fit in
 * cap; *len 0 means no more. Keys: n type flags kcv(3) label_len label.
 * Templates: n label_len label.
 * Returns 0, KC_ERR_ISSUE_ROOM (entries remain but the first does not fit),
 * KC_ERR_CORRUPT.
 */
int kc_issue_key_dir(const kc_store *st, unsigned from, uint8_t *out, size_t cap, size_t *len);
int kc_issue_template_dir(const kc_store *st, unsigned from, uint8_t *out, size_t cap,
                          size_t *len);

/*
 * Inside the open transaction: create the previous-random state P (32 random
 * bytes) when the store has none. Returns 0, KC_ERR_RNG, kc_store_put's errors.
 */
int kc_issue_chain_init(kc_store *st, const kc_hw *hw);

/*
 * ISSUE BEGIN for way (KC_WAY_*, with KC_ISSUE_BEGIN_PACKED for a packed
 * session: several steps per envelope, bound into the session context),
 * data serial(8) key(1) bucket(2) Nt(16)
 * [first counter(4), way 01] as docs/apdu.md. Ends the session before it: a
 * session the store still marks open gets its aborted receipt first, in a
 * commit of its own. Then the key card draws its nonce Nk, derives the
 * session keys from serial || Nt || Nk || seed, and makes one commit with
 * the ISSUE-BEGIN audit entry, the open-session mark and (way 04) the
 * advanced previous-random state, before anything is returned. out (cap
 * bytes) receives Nk, and for way 04 the seed after it (*out_len 16 or 32).
 * The store must have no open transaction.
 * Returns 0; KC_ERR_BAD_DATA (data length or fields); KC_ERR_ISSUE_ROOM (cap
 * too small); KC_ERR_NOT_FOUND (no such key); KC_ERR_STATE (key without
 * ENVELOPE, way 01 without STATIC, way 04 without chain state); KC_ERR_RNG;
 * KC_ERR_NO_SPACE (audit log full); KC_ERR_CRYPTO; store errors (nothing
 * returned, no session).
 */
int kc_issue_begin(kc_issue_session *s, kc_store *st, const kc_hw *hw, uint8_t way,
                   const uint8_t *d, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/*
 * ISSUE BEGIN of session number slot among all[KC_ISSUE_SESSIONS] (the
 * key card's sessions; all[slot] is the one begun). Before kc_issue_begin,
 * a card may be in one session only: a RAM session of another number open
 * for the same serial refuses the BEGIN (KC_ERR_STATE); the mark another
 * number left for the serial with no RAM session (a run cut before its END)
 * gets its aborted receipt first. Returns as kc_issue_begin.
 */
int kc_issue_begin_slot(kc_issue_session *all, unsigned slot, kc_store *st, const kc_hw *hw,
                        uint8_t way, const uint8_t *d, size_t len, uint8_t *out, size_t cap,
                        size_t *out_len);

/*
 * ISSUE WRAP: steps = repeated template(1) param_len(2) params. Every step is
 * checked (template exists, parameters match, inner data fits the bucket,
 * answer fits cap, session step limit, nothing after a COMPLETE ISSUANCE)
 * before the first envelope is made; the COMPLETE ISSUANCE's lock way and
 * data are kept for the completion MAC and the receipt;
 * then out receives per step: length(2) || ENVELOPE APDU.
 * Returns 0; KC_ERR_STATE (no session); KC_ERR_BAD_DATA; KC_ERR_ISSUE_STEPS;
 * KC_ERR_ISSUE_ROOM; KC_ERR_CRYPTO (the session is closed).
 */
int kc_issue_wrap(kc_issue_session *s, const kc_store *st, const uint8_t *steps, size_t len,
                  uint8_t *out, size_t cap, size_t *out_len);

/*
 * ISSUE WRAP P1 01 (KC_ISSUE_WRAP_P1_CHECK): d = key(1) way(1) bucket(2)
 * steps. Checks the key for the way and every step as kc_issue_begin and
 * kc_issue_wrap would, without a session and without writing anything; out
 * (cap >= 3) receives result(1: 0 fits, 1 refused) step(1) reason(1:
 * KC_ISSUE_CHECK_*). Returns 0; KC_ERR_BAD_DATA (data too short, way or
 * bucket invalid); KC_ERR_ISSUE_ROOM; KC_ERR_ARG.
 */
int kc_issue_check(const kc_store *st, const uint8_t *d, size_t len, uint8_t *out,
                   size_t cap, size_t *out_len);

/*
 * ISSUE END: d empty = abort; else n(1) || n inner SWs (2 each) || MAC(16)
 * with n the number of envelopes produced. Appends one ISSUE-RECEIPT audit
 * entry and removes the open-session mark in one store commit, then closes
 * the session; *result gets
 * KC_ISSUE_*. The store must have no open transaction.
 * Returns 0; KC_ERR_STATE (no session); KC_ERR_BAD_DATA (length or n wrong:
 * session kept); KC_ERR_CRYPTO; store errors (session kept, no receipt).
 */
int kc_issue_end(kc_issue_session *s, kc_store *st, const kc_hw *hw, const uint8_t *d,
                 size_t len, uint8_t *result);

/*
 * ISSUE END P1 01 (keycard_proto.h KC_ISSUE_END_P1_LATE), no session open in
 * s: data serial(8) [n(1) n SWs MAC(16) lock_way(1) lock_len(1) lock_data].
 * When the store's open-session mark is this serial's and a completion is
 * given, checks the MAC with the mark's completion key and first counter and
 * writes the receipt (flag LATE, result completed or MAC mismatch, no
 * templates) with the end of the mark in one commit. Otherwise, *result =
 * KC_ISSUE_ON_RECORD when a receipt kept for the serial says completed. The store must have no open transaction.
 * Returns 0; KC_ERR_STATE (a session is open); KC_ERR_BAD_DATA (lengths);
 * KC_ERR_NOT_FOUND (no mark of this serial, no completed receipt kept);
 * KC_ERR_CORRUPT; KC_ERR_CRYPTO; store errors (mark kept, no receipt).
 */
int kc_issue_end_late(const kc_issue_session *s, kc_store *st, const kc_hw *hw,
                      const uint8_t *d, size_t len, uint8_t *result);

/*
 * ISSUE END P1 01 over all the key card's sessions (all[KC_ISSUE_SESSIONS]):
 * refused (KC_ERR_STATE) while a RAM session for the serial is open; the
 * marks of every session number are searched for the serial. Returns as
 * kc_issue_end_late.
 */
int kc_issue_end_late_any(const kc_issue_session *all, kc_store *st, const kc_hw *hw,
                          const uint8_t *d, size_t len, uint8_t *result);

#endif /* KC_ISSUE_H */
