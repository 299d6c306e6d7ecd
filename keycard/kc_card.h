/*
 * kc_card.h - a card as its reader sees it: power events, ATR, APDUs.
 *
 * The uniform face of every card firmware in this project (the key card in
 * keycard/, the target card in examples/targetcard/), so that one virtual-card
 * runner (kc-vcard) and the in-process "sim" transport of libkeycard can drive
 * any of them. The host side allocates ctx_size bytes; the firmware itself
 * never allocates.
 */
#ifndef KC_CARD_H
#define KC_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"

#define KC_POWER_OFF 0
#define KC_POWER_ON 1
#define KC_POWER_RESET 2

/* Largest ATR any card returns. */
#define KC_ATR_MAX 33

typedef struct kc_card_ops {
    const char *name;  /* "keycard", "target" */
    size_t ctx_size;   /* bytes the host allocates for one card */
    size_t flash_size; /* bytes of flash this card expects */
    size_t page_size;  /* its erase unit */
    /*
     * Boot: mount the store (formatting a blank flash). 0 or negative KC_ERR_*;
     * KC_ERR_CORRUPT for a damaged image, which is left as it is (damage_at
     * then tells where).
     */
    int (*init)(void *ctx, const kc_hw *hw);
    /* After init answered KC_ERR_CORRUPT: the flash offset of the damage. */
    size_t (*damage_at)(const void *ctx);
    /* KC_POWER_*: clears all volatile state (security state, open sessions). */
    void (*power)(void *ctx, int event);
    /* Write the ATR into atr (cap >= KC_ATR_MAX); returns its length. */
    size_t (*atr)(void *ctx, uint8_t *atr, size_t cap);
    /*
     * Process one command APDU; writes response data and SW1 SW2 into resp
     * (cap >= KC_APDU_MAX_RESP + 2) and returns the response length (>= 2).
     */
    size_t (*process)(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap);
} kc_card_ops;

/*
 * Write an ATR: body (TS T0 interface and historical bytes, T=1 offered so a
 * TCK is due) followed by its TCK. Returns the ATR length, or 0 when cap is
 * too small or body is shorter than 2 bytes.
 */
size_t kc_card_atr_build(const uint8_t *body, size_t body_len, uint8_t *atr, size_t cap);

/* The key card (keycard/kc_keycard.c). */
extern const kc_card_ops kc_keycard_card;
/* The target card (examples/targetcard/tc_card.c). */
extern const kc_card_ops kc_target_card;

#endif /* KC_CARD_H */
