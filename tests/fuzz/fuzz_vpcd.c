/*
 * fuzz_vpcd.c - libFuzzer target: kc-vcard's vpcd link framing
 * (tools/kc-vcard/vpcd.c) on arbitrary byte streams.
 *
 * Input: byte 0 picks the caller's maximum payload (small values reach the
 * TOO_BIG path often); the rest is the stream, parsed as kc-vcard does:
 * message after message, skipping oversized ones, until more bytes are
 * needed. Every parsed APDU payload is framed back and checked to give the
 * bytes it came from.
 *
 * Checks beyond the sanitizers: consumed lengths are within the stream,
 * payload pointers point inside it, frame(parse(x)) == x.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/kc-vcard/vpcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t maxes[] = {KC_VPCD_MSG_MAX, 1, 2, 5, 261, 65535};
    size_t max = maxes[data[0] % (sizeof maxes / sizeof maxes[0])];
    const uint8_t *buf = data + 1;
    size_t avail = size - 1;
    static uint8_t framed[65535 + 2];

    while (avail > 0) {
        kc_vpcd_msg m;
        long r = kc_vpcd_parse(buf, avail, max, &m);
        if (r == KC_VPCD_NEED_MORE)
            break;
        if (r == KC_VPCD_ERR_EMPTY) {
            buf += 2;
            avail = avail >= 2 ? avail - 2 : 0;
            continue;
        }
        if (r == KC_VPCD_ERR_TOO_BIG) {
            if (m.len <= max)
                abort();
            size_t skip = 2 + m.len;
            if (skip > avail)
                break;
            buf += skip;
            avail -= skip;
            continue;
        }
        if (r < 0 || (size_t)r > avail || r < 3)
            abort();
        if (m.kind == KC_VPCD_MSG_CTRL) {
            if (r != 3 || m.ctrl != buf[2])
                abort();
        } else if (m.kind == KC_VPCD_MSG_APDU) {
            if (m.data != buf + 2 || m.len + 2 != (size_t)r || m.len > max || m.len < 2)
                abort();
            size_t f = kc_vpcd_frame(m.data, m.len, framed, sizeof framed);
            if (f != (size_t)r || memcmp(framed, buf, f) != 0)
                abort();
            /* One byte short: the frame refuses. */
            if (kc_vpcd_frame(m.data, m.len, framed, f - 1) != 0)
                abort();
        } else {
            abort();
        }
        /* Any shorter prefix of a complete message needs more bytes. */
        if (kc_vpcd_parse(buf, (size_t)r - 1, max, &m) != KC_VPCD_NEED_MORE)
            abort();
        buf += r;
        avail -= (size_t)r;
    }
    return 0;
}
