/*
 * serve.c - turn parsed vpcd messages into card calls and framed answers.
 */
#include "serve.h"

size_t kc_vcard_answer_sw(uint16_t sw, uint8_t *out, size_t cap)
{
    const uint8_t b[2] = {(uint8_t)(sw >> 8), (uint8_t)sw};

    return kc_vpcd_frame(b, sizeof(b), out, cap);
}

/* Write the 2-byte header in front of a payload already placed at out + 2. */
static size_t frame_in_place(uint8_t *out, size_t len)
{
    if (len == 0 || len > 0xFFFF)
        return 0;
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    return len + KC_VPCD_HDR_LEN;
}

size_t kc_vcard_serve(const kc_card_ops *ops, void *ctx, const kc_vpcd_msg *m, uint8_t *out,
                      size_t cap)
{
    size_t n;

    if (ops == NULL || m == NULL || out == NULL || cap < KC_VCARD_OUT_MAX)
        return 0;
    if (m->kind == KC_VPCD_MSG_CTRL) {
        switch (m->ctrl) {
        case KC_VPCD_CTRL_OFF:
            ops->power(ctx, KC_POWER_OFF);
            return 0;
        case KC_VPCD_CTRL_ON:
            ops->power(ctx, KC_POWER_ON);
            return 0;
        case KC_VPCD_CTRL_RESET:
            ops->power(ctx, KC_POWER_RESET);
            return 0;
        case KC_VPCD_CTRL_ATR:
            n = ops->atr(ctx, out + KC_VPCD_HDR_LEN, cap - KC_VPCD_HDR_LEN);
            if (n > KC_ATR_MAX)
                n = 0; /* a firmware bug */
            /* vpcd waits for an answer either way; an empty one reads as "no card". */
            out[0] = 0;
            out[1] = (uint8_t)n;
            return n + KC_VPCD_HDR_LEN;
        default:
            /*
             * vpcd has no other control: this is a 1-byte command, and vpcd
             * waits for its answer (without one the slot hangs until pcscd
             * restarts). A 1-byte APDU is malformed: 6700. A 1-byte command
             * equal to 00, 01, 02 or 04 cannot be told from a control
             * (docs/apdu.md, "Transport rules").
             */
            return kc_vcard_answer_sw(KC_SW_WRONG_LENGTH, out, cap);
        }
    }
    if (m->kind != KC_VPCD_MSG_APDU || m->data == NULL)
        return 0;
    n = ops->process(ctx, m->data, m->len, out + KC_VPCD_HDR_LEN, cap - KC_VPCD_HDR_LEN);
    if (n < 2 || n > cap - KC_VPCD_HDR_LEN)
        return kc_vcard_answer_sw(KC_SW_UNKNOWN, out, cap); /* firmware bug: say so as 6F00 */
    return frame_in_place(out, n);
}
