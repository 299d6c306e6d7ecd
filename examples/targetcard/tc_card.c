/*
 * tc_card.c - the target card as a card: boot, power events, ATR, the card
 * record (state and lock ways) and kc_target_card (kc_card.h), through which
 * kc-vcard and libkeycard's sim transport run it. Commands are in tc_apdu.c.
 */
#include <string.h>

#include "kc_crypto.h"
#include "kc_err.h"
#include "keycard_proto.h"
#include "tc_card.h"
#include "tc_keys.h"

/* The ATR (keycard_target_proto.h); kc_card_atr_build appends the TCK. */
static const uint8_t atr_body[] = TC_ATR_BODY;

/* The target's own status words; the rest from the common table (kc_err.h). */
static const kc_err_sw_entry tc_sw[] = {
    {TC_ERR_FILE_NOT_FOUND, KC_SW_FILE_NOT_FOUND},
    {TC_ERR_QUOTA, KC_SW_NOT_ENOUGH_MEMORY},
    {TC_ERR_LENGTH, KC_SW_WRONG_LENGTH},
    {TC_ERR_EXISTS, TC_SW_FILE_EXISTS},
    {TC_ERR_WRONG_TYPE, TC_SW_INCOMPATIBLE},
    {TC_ERR_ACCESS, KC_SW_SECURITY_STATUS},
    {TC_ERR_OFFSET, TC_SW_WRONG_OFFSET},
    {TC_ERR_NO_RECORD, TC_SW_RECORD_NOT_FOUND},
    {TC_ERR_PIN_BLOCKED, KC_SW_AUTH_BLOCKED},
};

uint16_t tc_err_to_sw(int err)
{
    return kc_err_sw(err, tc_sw, sizeof(tc_sw) / sizeof(tc_sw[0]));
}

static int card_record(const tc_card *tc, uint8_t rec[2])
{
    size_t len;
    if (kc_store_read(&tc->store, TC_KEY_CARD, rec, 2, &len) != 0 || len != 2) {
        rec[0] = TC_STATE_VIRGIN;
        rec[1] = 0;
        return KC_ERR_NOT_FOUND;
    }
    return 0;
}

uint8_t tc_card_state(const tc_card *tc)
{
    uint8_t rec[2];
    (void)card_record(tc, rec);
    return rec[0];
}

uint8_t tc_card_locks(const tc_card *tc)
{
    uint8_t rec[2];
    (void)card_record(tc, rec);
    return rec[1];
}

int tc_card_put_record(tc_card *tc, uint8_t state, uint8_t locks)
{
    uint8_t rec[2] = {state, locks};
    return kc_store_put(&tc->store, TC_KEY_CARD, rec, 2);
}

int tc_card_serial(const tc_card *tc, uint8_t serial[8])
{
    size_t len;
    if (kc_store_read(&tc->store, TC_KEY_SERIAL, serial, 8, &len) != 0 || len != 8) {
        memset(serial, 0, 8);
        return KC_ERR_NOT_FOUND;
    }
    return 0;
}

void tc_card_clear_volatile(tc_card *tc)
{
    if (tc->store.txn_open)
        kc_store_abort(&tc->store);
    tc_session_end(tc);
    tc->pin_ok = 0;
    tc->auth_ok = 0;
    tc->have_challenge = 0;
    kc_wipe(tc->challenge, sizeof(tc->challenge));
    tc->cur_df = 0; /* the master folder */
    tc->cur_ef = -1;
}

static int boot(tc_card *tc)
{
    int rc;
    tc->mounted = 0;
    if ((rc = kc_store_mount(&tc->store, &tc->hw.flash)) != 0)
        return rc;
    tc->mounted = 1;
    return 0;
}

int tc_card_init(tc_card *tc, const kc_hw *hw)
{
    if (tc == NULL || hw == NULL || hw->rng == NULL)
        return KC_ERR_ARG;
    memset(tc, 0, sizeof(*tc));
    tc->hw = *hw;
    tc->cur_ef = -1;
    return boot(tc);
}

static int card_init(void *ctx, const kc_hw *hw)
{
    return tc_card_init(ctx, hw);
}

static void card_power(void *ctx, int event)
{
    tc_card *tc = ctx;
    tc_card_clear_volatile(tc);
    /* A power-up is a reboot: rebuild the store's RAM index from flash. */
    if (event == KC_POWER_ON || event == KC_POWER_RESET)
        (void)boot(tc);
}

static size_t card_atr(void *ctx, uint8_t *atr, size_t cap)
{
    (void)ctx;
    return kc_card_atr_build(atr_body, sizeof(atr_body), atr, cap);
}

static size_t card_process(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap)
{
    return tc_apdu_process(ctx, cmd, len, resp, cap);
}

static size_t card_damage_at(const void *ctx)
{
    return ((const tc_card *)ctx)->store.damage_at;
}

const kc_card_ops kc_target_card = {
    .name = "target",
    .ctx_size = sizeof(tc_card),
    .flash_size = TC_FLASH_SIZE,
    .page_size = TC_PAGE_SIZE,
    .init = card_init,
    .damage_at = card_damage_at,
    .power = card_power,
    .atr = card_atr,
    .process = card_process,
};
