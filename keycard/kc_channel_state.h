/*
 * kc_channel_state.h - the secure channel's session state (keys, counter,
 * the inner APDU buffer) and its end. Below both the card state (kc_state.h,
 * which ends the channel on power events and SELECT) and the channel layer
 * (kc_channel.h, which opens it and runs commands through it), so that the
 * call graph of the key card has one direction.
 */
#ifndef KC_CHANNEL_STATE_H
#define KC_CHANNEL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "keycard_proto.h"

/* Largest inner command: the outer data field holds ctr and tag besides. */
#define KC_CHANNEL_INNER_MAX (KC_APDU_MAX_DATA - KC_CHANNEL_CMD_OVERHEAD)

typedef struct kc_channel {
    int open;        /* OPEN CHANNEL succeeded and nothing failed since */
    int inside;      /* 1 while a command unwrapped from the channel is dispatched */
    uint32_t ctr;    /* counter of the last command accepted (0 after OPEN) */
    uint8_t s_enc[32];  /* S-ENC: command key */
    uint8_t s_renc[32]; /* S-RENC: response key */
    uint8_t apdu[4 + 3 + KC_CHANNEL_INNER_MAX + 3]; /* the inner APDU being dispatched */
} kc_channel;

/* End the channel and wipe its session keys (the inner APDU buffer is wiped after each command). */
void kc_channel_close(kc_channel *ch);

#endif /* KC_CHANNEL_STATE_H */
