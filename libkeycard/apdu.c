/*
 * apdu.c - the encoding layer of libkeycard (see apdu.h): APDU building,
 * response collection, the SW -> keycard_rc table and the parsers of the
 * blobs a key card returns. Card answers are untrusted input here.
 */
#include <string.h>

#include "apdu.h"
#include "crypto.h"
#include "keycard_proto.h"
#include "trace.h"

keycard_rc kcl_apdu_build(uint8_t *out, size_t cap, size_t *len, uint8_t cla, uint8_t ins,
                          uint8_t p1, uint8_t p2, const uint8_t *data, size_t lc, size_t ne)
{
    if (!out || !len || lc > 65535 || ne > 65536 || (lc && !data))
        return KEYCARD_ERR_ARG;
    int ext = lc > 255 || ne > 256;
    size_t need = 4 + (lc ? (ext ? 3 : 1) + lc : 0) + (ne ? (ext ? (lc ? 2 : 3) : 1) : 0);
    if (need > cap)
        return KEYCARD_ERR_BUFFER;
    size_t o = 0;
    out[o++] = cla;
    out[o++] = ins;
    out[o++] = p1;
    out[o++] = p2;
    if (lc) {
        if (ext) {
            out[o++] = 0x00;
            out[o++] = (uint8_t)(lc >> 8);
        }
        out[o++] = (uint8_t)lc;
        memcpy(out + o, data, lc);
        o += lc;
    }
    if (ne) {
        if (ext) {
            if (!lc)
                out[o++] = 0x00; /* case 2E: the extended marker; 4E has it before Lc */
            out[o++] = (uint8_t)((ne == 65536 ? 0 : ne) >> 8);
            out[o++] = (uint8_t)(ne == 65536 ? 0 : ne);
        } else {
            out[o++] = (uint8_t)(ne == 256 ? 0 : ne);
        }
    }
    *len = o;
    return KEYCARD_OK;
}

/* GET RESPONSE rounds before a card's 61xx stream is called hostile. */
#define KCL_MAX_GET_RESPONSE 64

keycard_rc kcl_apdu_exchange(kcl_transport *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                             const uint8_t *data, size_t lc, size_t ne, uint8_t *resp,
                             size_t *resp_len, uint16_t *sw)
{
    if (!t || !resp_len || !sw || (*resp_len && !resp) || lc > KC_APDU_MAX_DATA)
        return KEYCARD_ERR_ARG;
    uint8_t cmd[4 + 3 + KC_APDU_MAX_DATA + 3];
    uint8_t rbuf[KCL_APDU_RESP_MAX + 2];
    size_t cap = *resp_len, got = 0, clen = 0, rlen, used = 0;
    int retried_le = 0, rounds = 0;
    int tracing = kcl_trace_on();
    uint64_t t0 = 0;
    if (tracing) {
        kcl_trace_command(t->ops->name(t), cla, ins, p1, p2, data, lc);
        t0 = kcl_trace_clock();
    }
    keycard_rc rc = kcl_apdu_build(cmd, sizeof cmd, &clen, cla, ins, p1, p2, data, lc, ne);
    if (rc != KEYCARD_OK)
        goto out;
    for (;;) {
        rlen = sizeof rbuf;
        rc = t->ops->transmit(t, cmd, clen, rbuf, &rlen);
        if (rc != KEYCARD_OK)
            goto out;
        if (rlen > used)
            used = rlen <= sizeof rbuf ? rlen : sizeof rbuf;
        if (rlen < 2 || rlen > sizeof rbuf) {
            rc = KEYCARD_ERR_PROTOCOL; /* a transport must not do this; do not trust it */
            goto out;
        }
        uint16_t w = (uint16_t)(rbuf[rlen - 2] << 8 | rbuf[rlen - 1]);
        size_t dlen = rlen - 2;
        if ((w >> 8) == 0x6C && !retried_le && got == 0) {
            /* Wrong Le: the card tells the right one; ask again, once. */
            retried_le = 1;
            size_t want = (w & 0xFF) ? (w & 0xFF) : 256;
            rc = kcl_apdu_build(cmd, sizeof cmd, &clen, cla, ins, p1, p2, data, lc, want);
            if (rc != KEYCARD_OK)
                goto out;
            continue;
        }
        if (dlen > cap - got) {
            rc = KEYCARD_ERR_PROTOCOL;
            goto out;
        }
        if (dlen)
            memcpy(resp + got, rbuf, dlen);
        got += dlen;
        if ((w >> 8) == 0x61) {
            /* More data waiting: GET RESPONSE for it. */
            if (++rounds > KCL_MAX_GET_RESPONSE) {
                rc = KEYCARD_ERR_PROTOCOL;
                goto out;
            }
            size_t want = (w & 0xFF) ? (w & 0xFF) : 256;
            kcl_wipe(cmd, sizeof cmd);
            rc = kcl_apdu_build(cmd, sizeof cmd, &clen, 0x00, 0xC0, 0x00, 0x00, NULL, 0, want);
            if (rc != KEYCARD_OK)
                goto out;
            continue;
        }
        *sw = w;
        *resp_len = got;
        break;
    }
out:
    if (tracing)
        kcl_trace_answer(t->ops->name(t), cla, ins, p1, p2, rc == KEYCARD_OK ? *sw : 0, resp,
                         rc == KEYCARD_OK ? got : 0, rc, t0);
    kcl_wipe(cmd, sizeof cmd);
    /* Only what answers filled: the buffer is sized for the largest one (16 KiB). */
    kcl_wipe(rbuf, used);
    if (rc != KEYCARD_OK && resp && cap)
        kcl_wipe(resp, cap);
    return rc;
}

/* The one status word -> keycard_rc table (63Cx is handled before it). */
static const struct {
    uint16_t sw;
    keycard_rc rc;
} sw_table[] = {
    {KC_SW_OK, KEYCARD_OK},
    {KC_SW_AUTH_BLOCKED, KEYCARD_ERR_BLOCKED},
    {KC_SW_SECURITY_STATUS, KEYCARD_ERR_NOT_VERIFIED},
    {KC_SW_CONDITIONS, KEYCARD_ERR_CONDITIONS},
    {KC_SW_WRONG_DATA, KEYCARD_ERR_WRONG_DATA},
    {KC_SW_WRONG_LENGTH, KEYCARD_ERR_WRONG_DATA},
    {KC_SW_FILE_NOT_FOUND, KEYCARD_ERR_NOT_FOUND},
    {KC_SW_REF_NOT_FOUND, KEYCARD_ERR_NOT_FOUND},
    {KC_SW_NOT_ENOUGH_MEMORY, KEYCARD_ERR_CARD_MEMORY},
    {KC_SW_MEMORY_FAILURE, KEYCARD_ERR_CARD_MEMORY},
    {KC_SW_INS_NOT_SUPPORTED, KEYCARD_ERR_UNSUPPORTED},
    {KC_SW_CLA_NOT_SUPPORTED, KEYCARD_ERR_UNSUPPORTED},
    {0x6988, KEYCARD_ERR_ENVELOPE}, /* incorrect secure messaging data (target card) */
};

keycard_rc kcl_sw_to_rc(uint16_t sw, int *tries)
{
    if ((sw & 0xFFF0) == 0x63C0) {
        if (tries)
            *tries = sw & 0x0F;
        return KEYCARD_ERR_WRONG_PIN;
    }
    for (size_t i = 0; i < sizeof sw_table / sizeof sw_table[0]; i++)
        if (sw_table[i].sw == sw)
            return sw_table[i].rc;
    return KEYCARD_ERR_CARD;
}

keycard_rc kcl_tlv_find(const uint8_t *buf, size_t len, uint8_t tag, const uint8_t **val,
                        size_t *vlen)
{
    if (!buf && len)
        return KEYCARD_ERR_PROTOCOL;
    size_t o = 0;
    while (o < len) {
        uint8_t t = buf[o++];
        if (o >= len)
            return KEYCARD_ERR_PROTOCOL;
        size_t l = buf[o++];
        if (l == 0x81 || l == 0x82) {
            size_t nb = l - 0x80;
            if (len - o < nb)
                return KEYCARD_ERR_PROTOCOL;
            l = 0;
            for (size_t i = 0; i < nb; i++)
                l = l << 8 | buf[o++];
        } else if (l > 0x7F) {
            return KEYCARD_ERR_PROTOCOL;
        }
        if (len - o < l)
            return KEYCARD_ERR_PROTOCOL;
        if (t == tag) {
            *val = buf + o;
            *vlen = l;
            return KEYCARD_OK;
        }
        o += l;
    }
    return KEYCARD_ERR_NOT_FOUND;
}

/* A required field of exactly n bytes; anything else is a protocol error. */
static keycard_rc tlv_exact(const uint8_t *buf, size_t len, uint8_t tag, size_t n,
                            const uint8_t **val)
{
    size_t vl = 0;
    keycard_rc rc = kcl_tlv_find(buf, len, tag, val, &vl);
    if (rc != KEYCARD_OK || vl != n)
        return KEYCARD_ERR_PROTOCOL;
    return KEYCARD_OK;
}

keycard_rc kcl_parse_status(const uint8_t *buf, size_t len, keycard_status *st)
{
    const uint8_t *serial, *lc, *ver, *tries, *audit, *staging;
    if (!st || tlv_exact(buf, len, KC_ST_TAG_SERIAL, KC_SERIAL_LEN, &serial) ||
        tlv_exact(buf, len, KC_ST_TAG_LIFECYCLE, 1, &lc) ||
        tlv_exact(buf, len, KC_ST_TAG_VERSION, 2, &ver) ||
        tlv_exact(buf, len, KC_ST_TAG_TRIES, 3, &tries) ||
        tlv_exact(buf, len, KC_ST_TAG_AUDIT, 6, &audit) ||
        tlv_exact(buf, len, KC_ST_TAG_STAGING, 1, &staging))
        return KEYCARD_ERR_PROTOCOL;
    if (lc[0] != KC_LIFECYCLE_BLANK && lc[0] != KC_LIFECYCLE_PROVISIONED)
        return KEYCARD_ERR_PROTOCOL;
    if (staging[0] > 1)
        return KEYCARD_ERR_PROTOCOL;
    for (int i = 0; i < 3; i++)
        if (tries[i] != 0xFF && tries[i] > KC_TRIES_MAX)
            return KEYCARD_ERR_PROTOCOL;
    memset(st, 0, sizeof *st);
    st->lifecycle = (keycard_lifecycle)lc[0];
    memcpy(st->serial, serial, KC_SERIAL_LEN);
    st->version_major = ver[0];
    st->version_minor = ver[1];
    for (int i = 0; i < 3; i++)
        st->tries_left[i] = tries[i] == 0xFF ? -1 : tries[i];
    st->audit_next = (uint32_t)audit[0] << 24 | (uint32_t)audit[1] << 16 |
                     (uint32_t)audit[2] << 8 | audit[3];
    st->audit_capacity = (unsigned)(audit[4] << 8 | audit[5]);
    st->staging = staging[0];
    return KEYCARD_OK;
}

keycard_rc kcl_parse_identity(const uint8_t *buf, size_t len, int with_sig,
                              keycard_identity *id)
{
    const uint8_t *serial, *pub, *sig = NULL;
    if (!id || tlv_exact(buf, len, KC_ID_TAG_SERIAL, KC_SERIAL_LEN, &serial) ||
        tlv_exact(buf, len, KC_ID_TAG_DEVICE_PUB, KC_P256_PUB_LEN, &pub) ||
        (with_sig && tlv_exact(buf, len, KC_ID_TAG_SIGNATURE, KC_P256_SIG_LEN, &sig)))
        return KEYCARD_ERR_PROTOCOL;
    if (pub[0] != 0x04)
        return KEYCARD_ERR_PROTOCOL;
    memset(id, 0, sizeof *id);
    memcpy(id->serial, serial, KC_SERIAL_LEN);
    memcpy(id->device_pub, pub, KC_P256_PUB_LEN);
    if (sig)
        memcpy(id->issuer_sig, sig, KC_P256_SIG_LEN);
    return KEYCARD_OK;
}

void kcl_identity_tbs(const keycard_identity *id, uint8_t out[KCL_IDENTITY_TBS_LEN])
{
    out[0] = KC_ID_TAG_SERIAL;
    out[1] = KC_SERIAL_LEN;
    memcpy(out + 2, id->serial, KC_SERIAL_LEN);
    out[10] = KC_ID_TAG_DEVICE_PUB;
    out[11] = KC_P256_PUB_LEN;
    memcpy(out + 12, id->device_pub, KC_P256_PUB_LEN);
}

keycard_rc kcl_parse_audit(const uint8_t *buf, size_t len, keycard_audit_entry *entries,
                           size_t max, size_t *n, int have_prev, uint32_t prev)
{
    size_t o = 0, k = 0;
    if ((!buf && len) || !n || (max && !entries))
        return KEYCARD_ERR_PROTOCOL;
    while (o < len && k < max) {
        if (len - o < KC_AUDIT_HDR_LEN)
            return KEYCARD_ERR_PROTOCOL;
        const uint8_t *e = buf + o;
        uint32_t seq = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
        size_t dl = e[9];
        if (dl > KC_AUDIT_DATA_MAX || len - o - KC_AUDIT_HDR_LEN < dl + KC_AUDIT_PREV_LEN)
            return KEYCARD_ERR_PROTOCOL;
        /* Strictly increasing: a card repeating itself must not loop us forever. */
        if (have_prev && seq <= prev)
            return KEYCARD_ERR_PROTOCOL;
        keycard_audit_entry *a = &entries[k++];
        memset(a, 0, sizeof *a);
        a->seq = seq;
        a->time = (uint32_t)e[4] << 24 | (uint32_t)e[5] << 16 | (uint32_t)e[6] << 8 | e[7];
        a->event = e[8];
        a->len = (uint8_t)dl;
        memcpy(a->data, e + KC_AUDIT_HDR_LEN, dl);
        memcpy(a->prev, e + KC_AUDIT_HDR_LEN + dl, KC_AUDIT_PREV_LEN);
        have_prev = 1;
        prev = seq;
        o += KC_AUDIT_HDR_LEN + dl + KC_AUDIT_PREV_LEN;
    }
    *n = k;
    return KEYCARD_OK;
}
