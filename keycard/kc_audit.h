/*
 * kc_audit.h - the key card's audit log (the patent's usage history list):
 * a ring of KC_AUDIT_CAPACITY entries on the store plus a head record.
 *
 * Entry seq numbers are monotonic and never reused, reprovisioning included:
 * the head record is never deleted. An entry is written inside the caller's
 * store transaction, so the event and its record are one atomic commit.
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
 * Add an entry (event, data of len <= KC_AUDIT_DATA_MAX, time from hw->clock)
 * and the advanced head to the caller's open transaction. At most one append
 * per transaction: the head is read from committed state.
 * Errors: KC_ERR_ARG (len too big), and those of kc_store_put (KC_ERR_STATE
 * when no transaction is open, KC_ERR_NO_SPACE, KC_ERR_FLASH).
 */
int kc_audit_append(kc_store *s, const kc_hw *hw, uint8_t event, const uint8_t *data,
                    size_t len);

/*
 * Copy the entries with seq >= from, oldest kept first, as wire entries
 * (seq(4) time(4) event(1) len(1) data(len)) into out: as many whole entries
 * as fit in cap. *len receives the bytes written (0: no more entries).
 * Errors: KC_ERR_TOO_BIG (entries remain but the first does not fit in cap),
 * KC_ERR_CORRUPT (an entry record is missing or inconsistent).
 */
int kc_audit_read(const kc_store *s, uint32_t from, uint8_t *out, size_t cap, size_t *len);

#endif /* KC_AUDIT_H */
