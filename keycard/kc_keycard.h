/*
 * kc_keycard.h - the key card's face: boot, and the kc_card_ops table
 * (kc_keycard_card, kc_card.h) through which kc-vcard and libkeycard's sim
 * transport run it. The state it runs on is kc_state.h.
 */
#ifndef KC_KEYCARD_H
#define KC_KEYCARD_H

#include <stddef.h>
#include <stdint.h>

#include "kc_card.h"
#include "kc_hw.h"
#include "kc_state.h"

/* Flash geometry of the key card: 128 KiB in 2 KiB pages. */
#define KC_KEYCARD_FLASH_SIZE (128u * 1024u)
#define KC_KEYCARD_PAGE_SIZE 2048u

/*
 * Boot: mount the store on hw's flash; on a blank store create the
 * manufacture record (random serial) and life cycle BLANK in one commit.
 * Errors: KC_ERR_ARG, KC_ERR_FLASH, KC_ERR_RNG, KC_ERR_NO_SPACE.
 */
int kc_keycard_init(kc_keycard *kc, const kc_hw *hw);

#endif /* KC_KEYCARD_H */
