/*
 * kc_keycard.c - the key card as a card: boot, power events, ATR and the
 * APDU entry point (kc_keycard_card of kc_card.h). Command work is in
 * kc_applet.c.
 */
#include "kc_keycard.h"

#include <string.h>

#include "kc_applet.h"
#include "kc_err.h"
#include "kc_keys.h"
#include "keycard_proto.h"

/* The ATR (keycard_proto.h); kc_card_atr_build appends the TCK. */
static const uint8_t atr_body[] = KC_ATR_BODY;

/* Mount and, on a blank store, manufacture. */
static int boot(kc_keycard *kc)
{
    uint8_t serial[KC_SERIAL_LEN];
    uint8_t lc = KC_LIFECYCLE_BLANK;
    const uint8_t *d;
    size_t dl;
    int rc;

    kc->mounted = 0;
    if ((rc = kc_store_mount(&kc->store, &kc->hw.flash)) != 0)
        return rc;
    if (kc_store_get(&kc->store, KC_KEY_MANUFACTURE, &d, &dl) != 0) {
        if (kc->hw.rng(kc->hw.ctx, serial, sizeof(serial)) != 0)
            return KC_ERR_RNG;
        if ((rc = kc_store_begin(&kc->store)) != 0)
            return rc;
        if ((rc = kc_store_put(&kc->store, KC_KEY_MANUFACTURE, serial, sizeof(serial))) != 0 ||
            (rc = kc_store_put(&kc->store, KC_KEY_LIFECYCLE, &lc, 1)) != 0 ||
            (rc = kc_store_commit(&kc->store)) != 0) {
            kc_store_abort(&kc->store);
            return rc;
        }
    }
    kc->mounted = 1;
    /* A key destroyed before a power cut: finish erasing its bytes (KEY DESTROY). */
    if (kc_store_get(&kc->store, KC_KEY_SCRUB, &d, &dl) == 0 && kc_store_scrub(&kc->store) == 0 &&
        kc_store_begin(&kc->store) == 0) {
        if (kc_store_delete(&kc->store, KC_KEY_SCRUB) != 0 || kc_store_commit(&kc->store) != 0)
            kc_store_abort(&kc->store);
    }
    return 0;
}

int kc_keycard_init(kc_keycard *kc, const kc_hw *hw)
{
    if (kc == NULL || hw == NULL || hw->rng == NULL)
        return KC_ERR_ARG;
    memset(kc, 0, sizeof(*kc));
    kc->hw = *hw;
    return boot(kc);
}

static int card_init(void *ctx, const kc_hw *hw)
{
    return kc_keycard_init(ctx, hw);
}

static size_t card_damage_at(const void *ctx)
{
    return ((const kc_keycard *)ctx)->store.damage_at;
}

static void card_power(void *ctx, int event)
{
    kc_keycard *kc = ctx;
    kc_keycard_clear_volatile(kc);
    /* A power-up is a reboot: rebuild the store's RAM index from flash. */
    if (event == KC_POWER_ON || event == KC_POWER_RESET)
        (void)boot(kc);
}

static size_t card_atr(void *ctx, uint8_t *atr, size_t cap)
{
    (void)ctx;
    return kc_card_atr_build(atr_body, sizeof(atr_body), atr, cap);
}

static size_t card_process(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap)
{
    return kc_applet_process(ctx, cmd, len, resp, cap);
}

const kc_card_ops kc_keycard_card = {
    .name = "keycard",
    .ctx_size = sizeof(kc_keycard),
    .flash_size = KC_KEYCARD_FLASH_SIZE,
    .page_size = KC_KEYCARD_PAGE_SIZE,
    .init = card_init,
    .damage_at = card_damage_at,
    .power = card_power,
    .atr = card_atr,
    .process = card_process,
};
