/*
 * vpcd.c - vpcd link framing: parse a received buffer, frame an answer.
 * See vpcd.h for the wire format.
 */
#include "vpcd.h"

#include <string.h>

long kc_vpcd_parse(const uint8_t *buf, size_t avail, size_t max, kc_vpcd_msg *msg)
{
    size_t len;

    if (msg == NULL || (buf == NULL && avail > 0))
        return KC_VPCD_ERR_ARG;
    if (avail < KC_VPCD_HDR_LEN)
        return KC_VPCD_NEED_MORE;
    len = ((size_t)buf[0] << 8) | buf[1];
    memset(msg, 0, sizeof(*msg));
    msg->len = len;
    if (len == 0)
        return KC_VPCD_ERR_EMPTY;
    /* Checked before waiting for the body, so an oversize message is never buffered. */
    if (len > max)
        return KC_VPCD_ERR_TOO_BIG;
    if (avail - KC_VPCD_HDR_LEN < len)
        return KC_VPCD_NEED_MORE;
    if (len == 1) {
        msg->kind = KC_VPCD_MSG_CTRL;
        msg->ctrl = buf[KC_VPCD_HDR_LEN];
    } else {
        msg->kind = KC_VPCD_MSG_APDU;
    }
    msg->data = buf + KC_VPCD_HDR_LEN;
    return (long)(KC_VPCD_HDR_LEN + len);
}

size_t kc_vpcd_frame(const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    if (payload == NULL || out == NULL || len == 0 || len > 0xFFFF ||
        cap < len + KC_VPCD_HDR_LEN)
        return 0;
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    memmove(out + KC_VPCD_HDR_LEN, payload, len);
    return len + KC_VPCD_HDR_LEN;
}
