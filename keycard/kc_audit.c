/*
 * kc_audit.c - the audit log on the store (see kc_audit.h).
 *
 * Records: KC_KEY_AUDIT_HEAD holds the next seq (u32 BE); entry seq lives at
 * KC_KEY_AUDIT_ENTRY(seq) in its wire form, seq(4) time(4) event(1) len(1)
 * data(len), so reading is a copy. Writing entry seq overwrites entry
 * seq - KC_AUDIT_CAPACITY: the ring. The entries kept are
 * [max(0, next - capacity), next).
 */
#include "kc_audit.h"

#include <string.h>

#include "kc_err.h"
#include "kc_keys.h"

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t kc_audit_next(const kc_store *s)
{
    const uint8_t *d;
    size_t len;
    if (kc_store_get(s, KC_KEY_AUDIT_HEAD, &d, &len) != 0 || len != 4)
        return 0;
    return get_u32(d);
}

int kc_audit_append(kc_store *s, const kc_hw *hw, uint8_t event, const uint8_t *data,
                    size_t len)
{
    uint8_t e[KC_AUDIT_HDR_LEN + KC_AUDIT_DATA_MAX];
    uint8_t head[4];
    int rc;

    if (len > KC_AUDIT_DATA_MAX || (len && data == NULL))
        return KC_ERR_ARG;
    uint32_t seq = kc_audit_next(s);
    put_u32(e, seq);
    put_u32(e + 4, hw && hw->clock ? hw->clock(hw->ctx) : 0);
    e[8] = event;
    e[9] = (uint8_t)len;
    if (len)
        memcpy(e + KC_AUDIT_HDR_LEN, data, len);
    put_u32(head, seq + 1);
    if ((rc = kc_store_put(s, KC_KEY_AUDIT_ENTRY(seq), e, KC_AUDIT_HDR_LEN + len)) != 0)
        return rc;
    return kc_store_put(s, KC_KEY_AUDIT_HEAD, head, sizeof(head));
}

int kc_audit_read(const kc_store *s, uint32_t from, uint8_t *out, size_t cap, size_t *len)
{
    uint32_t next = kc_audit_next(s);
    uint32_t oldest = next > KC_AUDIT_CAPACITY ? next - KC_AUDIT_CAPACITY : 0;
    size_t n = 0;

    *len = 0;
    for (uint32_t seq = from > oldest ? from : oldest; seq < next; seq++) {
        const uint8_t *d;
        size_t dl;
        if (kc_store_get(s, KC_KEY_AUDIT_ENTRY(seq), &d, &dl) != 0 || dl < KC_AUDIT_HDR_LEN ||
            get_u32(d) != seq || dl != (size_t)KC_AUDIT_HDR_LEN + d[9])
            return KC_ERR_CORRUPT;
        if (dl > cap - n) {
            if (n == 0)
                return KC_ERR_TOO_BIG;
            break;
        }
        memcpy(out + n, d, dl);
        n += dl;
    }
    *len = n;
    return 0;
}
