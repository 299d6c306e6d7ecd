/*
 * kc_state.c - what clears the key card's state, and two reads of it
 * (kc_state.h).
 */
#include "kc_state.h"

#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_keys.h"

uint8_t kc_keycard_lifecycle(const kc_keycard *kc)
{
    const uint8_t *d;
    size_t len;
    if (kc_store_get(&kc->store, KC_KEY_LIFECYCLE, &d, &len) != 0 || len != 1)
        return KC_LIFECYCLE_BLANK;
    return d[0];
}

int kc_keycard_serial(const kc_keycard *kc, uint8_t serial[KC_SERIAL_LEN])
{
    return kc_store_read_exact(&kc->store, KC_KEY_MANUFACTURE, serial, KC_SERIAL_LEN);
}

void kc_keycard_clear_security(kc_keycard *kc)
{
    if (kc->staging || kc->store.txn_open)
        kc_store_abort(&kc->store);
    kc->staging = 0;
    kc->staged = 0;
    kc->sec = 0;
    kc->selected = 0;
    kc_issue_close_all(kc->issue, KC_ISSUE_SESSIONS);
    kc_wipe(&kc->comp, sizeof(kc->comp));
    kc_wipe(&kc->backup, sizeof(kc->backup));
    kc_channel_close(&kc->chan);
}

void kc_keycard_clear_volatile(kc_keycard *kc)
{
    kc_keycard_clear_security(kc);
    kc_apdu_chain_reset(&kc->chain);
}
