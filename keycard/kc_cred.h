/*
 * kc_cred.h - the key card's credentials: issuer PIN (0x81), holder PIN
 * (0x82) and admin key (0x83), each a salted verifier plus a try counter.
 *
 * The secret is never stored: a credential record keeps its length, the
 * maximum tries, a random 16-byte salt, the PBKDF2 iteration count and the
 * verifier (kc_crypto_verifier). Tries left live in a 1-byte record of their
 * own. Checking a value spends a try and commits that to flash before the
 * comparison, so cutting the power at the comparison cannot yield a free
 * guess; the comparison is constant time.
 */
#ifndef KC_CRED_H
#define KC_CRED_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"
#include "kc_store.h"

/* PBKDF2 iterations for new verifiers (stored per record, so it can change). */
#define KC_CRED_ITERATIONS 1000u

/* Work committed in the same transaction as a successful check. */
typedef struct kc_cred_on_match {
    const uint8_t *new_value; /* non-NULL: replace the value (CHANGE REFERENCE DATA) */
    size_t new_len;
    uint8_t audit_event;      /* 0: no audit entry */
    const uint8_t *audit_data;
    size_t audit_len;
} kc_cred_on_match;

/* 1 when ref is 0x81, 0x82 or 0x83. */
int kc_cred_ref_valid(uint8_t ref);

/*
 * 1 when value has the form ref requires: 4..16 ASCII digits for the PINs,
 * 16 or 32 bytes for the admin key; else 0.
 */
int kc_cred_form_ok(uint8_t ref, const uint8_t *value, size_t len);

/* Tries left of ref into *left. Errors: KC_ERR_NOT_FOUND (not set), KC_ERR_CORRUPT. */
int kc_cred_tries(const kc_store *s, uint8_t ref, unsigned *left);

/* Length of ref's current value. Errors: KC_ERR_NOT_FOUND, KC_ERR_CORRUPT. */
int kc_cred_value_len(const kc_store *s, uint8_t ref, size_t *len);

/*
 * Set ref to value with max_tries (1..15) and a full counter, inside the
 * caller's open transaction (provisioning). A fresh salt comes from hw->rng.
 * Errors: KC_ERR_BAD_DATA (form or tries), KC_ERR_RNG, KC_ERR_CRYPTO, and
 * those of kc_store_put.
 */
int kc_cred_put(kc_store *s, const kc_hw *hw, uint8_t ref, const uint8_t *value, size_t len,
                unsigned max_tries);

/*
 * Check value against ref. The counter is decremented and committed first;
 * then the comparison. On a match, one commit restores the counter to its
 * maximum together with on_match's work (may be NULL) - for the admin key
 * without an audit event, with the counted channel failures written as their
 * summary entry (kc_audit_flush). *left (may be NULL) receives the tries left.
 * Returns 0 (match), KC_ERR_CRED_WRONG (mismatch; when this try blocked ref a
 * pin-blocked audit entry is committed), KC_ERR_CRED_BLOCKED (nothing spent),
 * KC_ERR_NOT_FOUND, KC_ERR_CORRUPT, KC_ERR_STATE (a transaction is open),
 * KC_ERR_CRYPTO, KC_ERR_RNG, KC_ERR_FLASH, KC_ERR_NO_SPACE.
 */
int kc_cred_check(kc_store *s, const kc_hw *hw, uint8_t ref, const uint8_t *value, size_t len,
                  const kc_cred_on_match *on_match, unsigned *left);

/*
 * RESET RETRY COUNTER: restore ref's counter to its maximum and, when
 * new_value != NULL, set a new value, in one commit with an "unblocked" audit
 * entry. Errors: KC_ERR_NOT_FOUND, KC_ERR_BAD_DATA, KC_ERR_CORRUPT,
 * KC_ERR_STATE, KC_ERR_RNG, KC_ERR_CRYPTO, KC_ERR_FLASH, KC_ERR_NO_SPACE.
 */
int kc_cred_reset(kc_store *s, const kc_hw *hw, uint8_t ref, const uint8_t *new_value,
                  size_t new_len);

#endif /* KC_CRED_H */
