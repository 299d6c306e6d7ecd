/*
 * kc_card.c - helpers every card face (kc_card.h) shares.
 */
#include "kc_card.h"

#include <string.h>

size_t kc_card_atr_build(const uint8_t *body, size_t body_len, uint8_t *atr, size_t cap)
{
    uint8_t tck = 0;

    if (body == NULL || body_len < 2 || atr == NULL || cap < body_len + 1)
        return 0;
    memcpy(atr, body, body_len);
    for (size_t i = 1; i < body_len; i++) /* TCK: XOR of T0 .. the last historical byte */
        tck ^= body[i];
    atr[body_len] = tck;
    return body_len + 1;
}
