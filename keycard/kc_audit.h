/*
 * kc_audit.h - the key card's audit log (the patent's usage history list):
 * a ring of KC_AUDIT_CAPACITY hash-chained entries on the store plus a head
 * record, and the signed head that lets anyone holding the issuer public key
 * check a read-out log offline (docs/apdu.md "Audit log").
 *
 * Entry seq numbers are monotonic and never reused, reprovisioning included:
 * the head record is never deleted. An entry is written inside the caller's
 * store transaction, so the event and its record are one atomic commit.
 *
 * Full-log policy (keycard_proto.h, KC_AUDIT_RESERVE): an entry not yet
 * acknowledged (AUDIT ACKNOWLEDGE) is never overwritten. Starting events are
 * refused when the log is nearly full, receipts when it is full; security
 * events that find it full are counted in "lost", which the signed head shows.
 * Channel failures, which need no credential, are only counted and written as
 * one summary entry before the next other entry (kc_audit_channel_failure).
 */
#ifndef KC_AUDIT_H
#define KC_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"
#include "kc_store.h"
#include "keycard_proto.h"

/* Sequence number the next entry gets (0 on a card without entries). */
uint32_t kc_audit_next(const kc_store *s);

/*
 * Whether an entry of event could be appended now under the full-log policy
 * (for callers that must refuse before they change anything). Events that
 * start something use KC_AUDIT_EVT_UNLOCK's class; ISSUE BEGIN asks for
 * KC_AUDIT_EVT_UNLOCK too, so that its receipt finds room.
 * Returns 0 or KC_ERR_NO_SPACE (6A84).
 */
int kc_audit_room(const kc_store *s, uint8_t event);

/*
 * Add an entry (event, data of len <= KC_AUDIT_DATA_MAX, time from hw->clock,
 * chained to the current head) and the advanced head to the caller's open
 * transaction. Channel failures counted since the last summary go first, as
 * one summary entry (event 07), when the log has room for both under the
 * security limit; else they stay counted. At most one append (or flush) per
 * transaction: head and count are read from committed state. A security
 * event (PIN blocked) on a full log only counts as lost and returns 0.
 * Errors: KC_ERR_ARG (len too big), KC_ERR_NO_SPACE (log full: see
 * kc_audit_room), KC_ERR_CRYPTO, and those of kc_store_put (KC_ERR_STATE when
 * no transaction is open, KC_ERR_NO_SPACE, KC_ERR_FLASH).
 */
int kc_audit_append(kc_store *s, const kc_hw *hw, uint8_t event, const uint8_t *data,
                    size_t len);

/*
 * Write the channel failures counted since the last summary as one summary
 * entry into the caller's open transaction (an authenticated moment that
 * appends nothing of its own: a verified admin key, so that an export shows
 * them). Nothing when none are counted or the log has no room (they stay
 * counted). Errors: KC_ERR_ARG, KC_ERR_STATE (no transaction open),
 * KC_ERR_CRYPTO, those of kc_store_put.
 */
int kc_audit_flush(kc_store *s, const kc_hw *hw);

/*
 * Firmware hook for the secure channel: count a channel failure (reason
 * KC_AUDIT_CHF_*, INS of the refused command) in the pending summary, in a
 * transaction of its own. Appends no entry, so any number of failures costs
 * no log room until the next entry (kc_audit_append, kc_audit_flush). Call it
 * when no store transaction is open (end a provisioning session first).
 * Errors: KC_ERR_ARG (reason out of range), KC_ERR_STATE (a transaction is
 * open: nothing recorded), KC_ERR_FLASH, KC_ERR_NO_SPACE.
 */
int kc_audit_channel_failure(kc_store *s, const kc_hw *hw, uint8_t reason, uint8_t ins);

/* Channel failures counted and not yet written as a summary entry. */
uint32_t kc_audit_pending(const kc_store *s);

/*
 * Copy the entries with seq >= from, oldest kept first, as wire entries
 * (seq(4) time(4) event(1) len(1) data(len) prev(32)) into out: as many whole
 * entries as fit in cap. *len receives the bytes written (0: no more entries).
 * Errors: KC_ERR_TOO_BIG (entries remain but the first does not fit in cap),
 * KC_ERR_CORRUPT (an entry record is missing or inconsistent).
 */
int kc_audit_read(const kc_store *s, uint32_t from, uint8_t *out, size_t cap, size_t *len);

/*
 * The newest entry kept below *seq (start with kc_audit_next) of event
 * whose data begins with prefix (plen bytes): *seq becomes its seq (so a
 * second call finds the one before), *data and *len point at its data inside
 * the store (valid until the next store change).
 * Returns 0, KC_ERR_NOT_FOUND (none kept), KC_ERR_CORRUPT.
 */
int kc_audit_find_prev(const kc_store *s, uint8_t event, const uint8_t *prefix, size_t plen,
                       uint32_t *seq, const uint8_t **data, size_t *len);

/*
 * AUDIT SIGN: out (KC_AUDIT_SIGNED_LEN bytes) = next(4) head(32) lost(4) sig(64),
 * sig = ECDSA P-256 by the device key over
 * SHA-256(KC_SIG_LABEL_AUDIT_HEAD NUL || next || head || lost || nonce).
 * Errors: KC_ERR_ARG (nonce length outside 8..32), KC_ERR_NOT_FOUND (no device
 * key), KC_ERR_CORRUPT, KC_ERR_CRYPTO.
 */
int kc_audit_sign(const kc_store *s, const kc_hw *hw, const uint8_t *nonce, size_t nonce_len,
                  uint8_t out[KC_AUDIT_SIGNED_LEN]);

/*
 * AUDIT ACKNOWLEDGE: entries with seq < upto are exported; their slots may be
 * overwritten. A mark below the current one changes nothing (never moves
 * back). Opens and commits its own transaction.
 * Errors: KC_ERR_BAD_DATA (upto beyond the next seq), KC_ERR_STATE (a
 * transaction is open), KC_ERR_FLASH, KC_ERR_NO_SPACE.
 */
int kc_audit_ack(kc_store *s, uint32_t upto);

#endif /* KC_AUDIT_H */
