/*
 * serve.h - one vpcd message in, one card action and its framed answer out.
 *
 * The bridge between the vpcd framing (vpcd.h) and a card firmware
 * (kc_card.h), free of sockets so that unit tests can drive it with a
 * stand-in card.
 */
#ifndef KC_VCARD_SERVE_H
#define KC_VCARD_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_card.h"
#include "keycard_proto.h"
#include "vpcd.h"

/* Capacity of an answer buffer: header + the card's largest response + SW. */
#define KC_VCARD_OUT_MAX (KC_VPCD_HDR_LEN + KC_APDU_MAX_RESP + 2)

/*
 * Act on message m for the card (ops, ctx): power events go to ops->power,
 * get-ATR and APDUs are answered. The framed answer goes to out (capacity
 * cap, at least KC_VCARD_OUT_MAX). Returns its length, or 0 when the message
 * takes no answer (power controls, unknown controls) or out is too small.
 */
size_t kc_vcard_serve(const kc_card_ops *ops, void *ctx, const kc_vpcd_msg *m, uint8_t *out,
                      size_t cap);

/*
 * Frame a bare status word (e.g. 6700 for a message too long to take).
 * Returns 4, or 0 when cap < 4.
 */
size_t kc_vcard_answer_sw(uint16_t sw, uint8_t *out, size_t cap);

#endif /* KC_VCARD_SERVE_H */
