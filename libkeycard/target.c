/*
 * target.c - the target card handle of libkeycard (include/keycard.h,
 * "Target card"): the card being issued, reached over the same transports as
 * the key card (a PC/SC reader, or the target firmware run in this process
 * over a flash image). The station relays the key card's envelopes here and
 * brings the target's answers back; nothing here knows any key.
 */
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "crypto.h"
#include "keycard.h"
#include "keycard_proto.h"
#include "keycard_target_proto.h"
#include "session.h"
#include "trace.h"
#include "transport.h"

/* Target card commands (docs/target-card.md). */
/*
 * The target card's wire constants come from keycard_target_proto.h, the
 * header its firmware uses; the public mirrors in keycard.h and the values
 * it shares with the key card's protocol are tied to them here.
 */
_Static_assert(KEYCARD_TARGET_VIRGIN == TC_STATE_VIRGIN &&
                   KEYCARD_TARGET_MANUFACTURED == TC_STATE_MANUFACTURED &&
                   KEYCARD_TARGET_ISSUING == TC_STATE_ISSUING &&
                   KEYCARD_TARGET_ISSUED == TC_STATE_ISSUED,
               "target states: keycard.h and keycard_target_proto.h disagree");
_Static_assert(KEYCARD_LOCK_KEY == TC_LOCK_A && KEYCARD_LOCK_TABLE == TC_LOCK_B &&
                   KEYCARD_LOCK_FILE == TC_LOCK_C && KEYCARD_LOCK_EXPLICIT == TC_LOCK_D,
               "lock bits: keycard.h and keycard_target_proto.h disagree");
_Static_assert(KEYCARD_WAY_STATIC == TC_WAY_STATIC && KEYCARD_WAY_TARGET_SEED == TC_WAY_TARGET_SEED &&
                   KEYCARD_WAY_PREVIOUS_RANDOM == TC_WAY_HOST_SEED &&
                   TC_WAY_STATIC == KC_WAY_STATIC && TC_WAY_TARGET_SEED == KC_WAY_TARGET_SEED &&
                   TC_WAY_HOST_SEED == KC_WAY_PREVIOUS_RANDOM,
               "seeding ways: keycard.h, keycard_proto.h and keycard_target_proto.h disagree");
_Static_assert(TC_INS_COMPLETE == KC_TGT_INS_COMPLETE && TC_CLA_PROP == KC_CLA_PROP,
               "COMPLETE ISSUANCE: keycard_proto.h and keycard_target_proto.h disagree");
_Static_assert(KEYCARD_TARGET_KEYF_STATIC == TC_IKEY_STATIC,
               "issuance key flags: keycard.h and keycard_target_proto.h disagree");
_Static_assert(KEYCARD_ISSUE_PACKED == TC_BEGIN_PACKED && TC_BEGIN_PACKED == KC_ISSUE_BEGIN_PACKED,
               "packed sessions: keycard.h, keycard_proto.h and keycard_target_proto.h disagree");
_Static_assert(KEYCARD_LOCK_DATA_MAX == TC_LOCK_DATA_MAX,
               "lock data: keycard.h and keycard_target_proto.h disagree");

struct keycard_target {
    kcl_session s; /* transport, recovery after a reset or removal, hold (session.h) */
    int way;       /* of the last BEGIN, for BIND (0: none) */
};

/* Lock the card for one operation, unless a hold has it locked already. */
static keycard_rc op_begin(keycard_target *t)
{
    return t ? kcl_session_begin(&t->s) : KEYCARD_ERR_ARG;
}

static keycard_rc op_end(keycard_target *t, keycard_rc rc)
{
    return kcl_session_end(&t->s, rc);
}

KEYCARD_API keycard_rc keycard_target_hold(keycard_target *t)
{
    return t ? kcl_session_hold(&t->s) : KEYCARD_ERR_ARG;
}

KEYCARD_API keycard_rc keycard_target_release(keycard_target *t)
{
    return t ? kcl_session_release(&t->s) : KEYCARD_ERR_ARG;
}

KEYCARD_API keycard_rc keycard_target_present(keycard_target *t)
{
    return t ? kcl_session_present(&t->s) : KEYCARD_ERR_ARG;
}

/* One command whose status word becomes the result. */
static keycard_rc tcmd(keycard_target *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                       const uint8_t *data, size_t lc, size_t ne, uint8_t *resp, size_t *rlen)
{
    size_t none = 0;
    uint16_t sw = 0;
    keycard_rc rc = op_begin(t);
    if (rc != KEYCARD_OK)
        return rc;
    rc = kcl_apdu_exchange(t->s.t, cla, ins, p1, p2, data, lc, ne, resp, rlen ? rlen : &none,
                           &sw);
    if (rc == KEYCARD_OK) {
        t->s.last_sw = sw;
        rc = kcl_sw_to_rc(sw, NULL);
    }
    return op_end(t, rc);
}

static keycard_rc parse_info(const uint8_t *b, size_t n, keycard_target_info *info)
{
    const uint8_t *v;
    size_t vl;
    keycard_target_info i;
    memset(&i, 0, sizeof i);
    keycard_rc rc = kcl_tlv_find(b, n, TC_INFO_STATE, &v, &vl);
    if (rc != KEYCARD_OK || vl != 1 || v[0] > KEYCARD_TARGET_ISSUED)
        return KEYCARD_ERR_PROTOCOL;
    i.state = v[0];
    rc = kcl_tlv_find(b, n, TC_INFO_SERIAL, &v, &vl);
    if (rc == KEYCARD_OK && vl == KEYCARD_SERIAL_LEN)
        memcpy(i.serial, v, KEYCARD_SERIAL_LEN);
    else if (rc == KEYCARD_OK || i.state != KEYCARD_TARGET_VIRGIN)
        return KEYCARD_ERR_PROTOCOL; /* only a virgin card may lack its serial */
    rc = kcl_tlv_find(b, n, TC_INFO_LOCKS, &v, &vl);
    if (rc == KEYCARD_OK && vl == 1)
        i.locks = v[0];
    else if (rc != KEYCARD_ERR_NOT_FOUND)
        return KEYCARD_ERR_PROTOCOL;
    *info = i;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_target_info_read(keycard_target *t, keycard_target_info *info)
{
    if (!t || !info)
        return KEYCARD_ERR_ARG;
    uint8_t b[256];
    size_t n = sizeof b;
    keycard_rc rc = tcmd(t, KC_CLA_ISO, KC_INS_GET_DATA, TC_TAG_CARD_INFO >> 8, TC_TAG_CARD_INFO & 0xFF,
                         NULL, 0, 256, b, &n);
    if (rc != KEYCARD_OK)
        return rc;
    return parse_info(b, n, info);
}

KEYCARD_API keycard_rc keycard_target_completion(keycard_target *t, keycard_completion *c)
{
    if (!t || !c)
        return KEYCARD_ERR_ARG;
    uint8_t b[256];
    size_t n = sizeof b;
    keycard_rc rc = tcmd(t, KC_CLA_ISO, KC_INS_GET_DATA, TC_TAG_COMPLETION >> 8,
                         TC_TAG_COMPLETION & 0xFF, NULL, 0, 256, b, &n);
    if (rc != KEYCARD_OK)
        return rc;
    /* steps(1) lock_way(1) lock_len(1) lock_data mac(16) */
    if (n < 3 + KEYCARD_MAC_LEN || b[2] > KEYCARD_LOCK_DATA_MAX ||
        n != 3u + b[2] + KEYCARD_MAC_LEN || b[0] == 0)
        return KEYCARD_ERR_PROTOCOL;
    memset(c, 0, sizeof *c);
    c->steps = b[0];
    c->lock_way = b[1];
    c->lock_len = b[2];
    memcpy(c->lock_data, b + 3, b[2]);
    memcpy(c->mac, b + 3 + b[2], KEYCARD_MAC_LEN);
    return KEYCARD_OK;
}

/* 1 when the card in a pcsc transport has the key card's ATR. */
static int is_keycard_atr(kcl_transport *tr)
{
    static const uint8_t body[] = KC_ATR_BODY;
    uint8_t atr[64];
    size_t n = sizeof atr;
    return kcl_transport_atr(tr, atr, &n) == KEYCARD_OK && n == sizeof body + 1 &&
           memcmp(atr, body, sizeof body) == 0;
}

/* The card on tr answers GET DATA DF10 like a target card; tr closed when not. */
static keycard_rc probe_on(kcl_transport *tr, kcl_transport **out)
{
    keycard_rc rc;
    /*
     * A key card is never probed: a plain command to it while another
     * program's secure channel is open would end that session. Its ATR
     * (pcscd's copy, nothing is sent; a link has none) tells it.
     */
    if (is_keycard_atr(tr)) {
        kcl_transport_leave_on_close(tr);
        tr->ops->close(tr);
        return KEYCARD_ERR_NO_CARD;
    }
    keycard_target probe = {{tr, 0, KEYCARD_OK, 0, 0, 0, NULL}, 0};
    keycard_target_info info;
    rc = keycard_target_info_read(&probe, &info);
    if (rc != KEYCARD_OK && rc != KEYCARD_ERR_MEMORY && rc != KEYCARD_ERR_NO_READER &&
        rc != KEYCARD_ERR_NO_SERVICE && rc != KEYCARD_ERR_TRANSPORT)
        rc = KEYCARD_ERR_NO_CARD; /* a card, but not a target card */
    if (rc != KEYCARD_OK) {
        kcl_transport_leave_on_close(tr); /* a probe: leave it as it was */
        tr->ops->close(tr);
        return rc;
    }
    *out = tr;
    return KEYCARD_OK;
}

static keycard_rc open_on(const kcl_transport_ops *ops, const char *arg, kcl_transport **out)
{
    kcl_transport *tr = NULL;
    keycard_rc rc = ops->open(arg, &tr);
    return rc != KEYCARD_OK ? rc : probe_on(tr, out);
}

static keycard_rc open_any(kcl_transport **out)
{
    size_t cap = 64 * 1024;
    char *list = malloc(cap);
    if (!list)
        return KEYCARD_ERR_MEMORY;
    keycard_rc rc = kcl_pcsc_list(list, cap);
    if (rc != KEYCARD_OK) {
        free(list);
        return rc;
    }
    keycard_rc best = KEYCARD_ERR_NO_READER;
    char *save = NULL;
    for (char *r = strtok_r(list, "\n", &save); r; r = strtok_r(NULL, "\n", &save)) {
        rc = open_on(&kcl_transport_pcsc, r, out);
        if (rc == KEYCARD_OK) {
            free(list);
            return KEYCARD_OK;
        }
        if (rc != KEYCARD_ERR_NO_READER && rc != KEYCARD_ERR_NO_SERVICE)
            best = KEYCARD_ERR_NO_CARD;
    }
    free(list);
    return best;
}

KEYCARD_API keycard_rc keycard_target_open(keycard_target **out, const char *where)
{
    if (!out)
        return KEYCARD_ERR_ARG;
    *out = NULL;
    keycard_target *t = calloc(1, sizeof *t);
    if (!t)
        return KEYCARD_ERR_MEMORY;
    kcl_transport *link = NULL;
    int is_link = 0;
    kcl_open_detail_reset();
    keycard_rc rc = kcl_link_open(where, KEYCARD_LINK_TARGET, &link, &is_link);
    if (is_link)
        rc = rc == KEYCARD_OK ? probe_on(link, &t->s.t) : rc;
    else if (where && strncmp(where, "pcsc:", 5) == 0)
        rc = where[5] ? open_on(&kcl_transport_pcsc, where + 5, &t->s.t) : open_any(&t->s.t);
    else if (where && *where)
        rc = open_on(&kcl_transport_pcsc, where, &t->s.t);
    else
        rc = open_any(&t->s.t);
    if (rc != KEYCARD_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return KEYCARD_OK;
}

KEYCARD_API void keycard_target_close(keycard_target *t)
{
    if (!t)
        return;
    t->s.t->ops->close(t->s.t);
    free(t);
}

KEYCARD_API const char *keycard_target_reader_name(const keycard_target *t)
{
    return t ? t->s.t->ops->name(t->s.t) : "";
}

KEYCARD_API uint16_t keycard_target_last_sw(const keycard_target *t)
{
    return t ? t->s.last_sw : 0;
}

KEYCARD_API keycard_rc keycard_target_manufacture(keycard_target *t, const uint8_t serial[8],
                                                  const keycard_target_key *keys, size_t n)
{
    if (!t || !serial || !keys || n == 0 || n > TC_IKEY_MAX)
        return KEYCARD_ERR_ARG;
    uint8_t d[8 + 1 + TC_IKEY_MAX * (3 + 32)];
    size_t lc = 0;
    memcpy(d, serial, 8);
    lc = 8;
    d[lc++] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        if ((keys[i].len != 16 && keys[i].len != 32) || keys[i].number == 0 ||
            keys[i].number == 0xFF) {
            kcl_wipe(d, sizeof d);
            return KEYCARD_ERR_ARG;
        }
        d[lc++] = keys[i].number;
        d[lc++] = keys[i].flags;
        d[lc++] = (uint8_t)keys[i].len;
        memcpy(d + lc, keys[i].key, keys[i].len);
        lc += keys[i].len;
    }
    keycard_rc rc = tcmd(t, TC_CLA_PROP, TC_INS_MANUFACTURE, 0x00, 0x00, d, lc, 0, NULL, NULL);
    kcl_wipe(d, sizeof d);
    return rc;
}

KEYCARD_API keycard_rc keycard_target_issue_begin(keycard_target *t, keycard_issue_way way,
                                                  uint8_t key_no, keycard_issue_nonces *n)
{
    if (!t || !n)
        return KEYCARD_ERR_ARG;
    uint8_t p1 = (uint8_t)way; /* the way, and bit 80 for a packed session */
    way = (keycard_issue_way)(way & ~KEYCARD_ISSUE_PACKED);
    if (way != KEYCARD_WAY_STATIC && way != KEYCARD_WAY_TARGET_SEED &&
        way != KEYCARD_WAY_PREVIOUS_RANDOM)
        return KEYCARD_ERR_ARG;
    /* version(1) Nt(16) [next counter(4), way 01] */
    size_t want = 1 + KEYCARD_NONCE_LEN + (way == KEYCARD_WAY_STATIC ? 4u : 0u);
    uint8_t r[256];
    size_t rl = sizeof r;
    t->way = 0;
    keycard_rc rc = tcmd(t, TC_CLA_PROP, TC_INS_BEGIN, p1, key_no, NULL, 0, 256, r, &rl);
    if (rc != KEYCARD_OK && p1 != way && t->s.last_sw == KC_SW_WRONG_P1P2)
        return KEYCARD_ERR_UNSUPPORTED; /* a target without packed sessions */
    if (rc == KEYCARD_OK && rl >= 1 && r[0] != TC_PROTO_VERSION)
        rc = KEYCARD_ERR_VERSION;
    else if (rc == KEYCARD_OK && rl != want)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc != KEYCARD_OK)
        return rc;
    memcpy(n->target_nonce, r + 1, KEYCARD_NONCE_LEN);
    n->first_ctr = 0;
    if (way == KEYCARD_WAY_STATIC) {
        const uint8_t *c = r + 1 + KEYCARD_NONCE_LEN;
        n->first_ctr = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
    }
    t->way = way;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_target_issue_bind(keycard_target *t, const keycard_issue_nonces *n)
{
    if (!t || !n)
        return KEYCARD_ERR_ARG;
    if (!t->way)
        return KEYCARD_ERR_CONDITIONS;
    uint8_t d[KEYCARD_NONCE_LEN + KEYCARD_SEED_LEN];
    size_t lc = KEYCARD_NONCE_LEN;
    memcpy(d, n->keycard_nonce, KEYCARD_NONCE_LEN);
    if (t->way == KEYCARD_WAY_PREVIOUS_RANDOM) {
        memcpy(d + lc, n->seed, KEYCARD_SEED_LEN);
        lc += KEYCARD_SEED_LEN;
    }
    keycard_rc rc = tcmd(t, TC_CLA_PROP, TC_INS_BIND, 0x00, 0x00, d, lc, 0, NULL, NULL);
    kcl_wipe(d, sizeof d);
    t->way = 0;
    return rc;
}

KEYCARD_API keycard_rc keycard_target_begin(keycard_target *t, keycard_issue_way way,
                                            uint8_t key_no, const uint8_t *seed_in,
                                            uint8_t *seed_out, uint32_t *ctr)
{
    (void)t, (void)way, (void)key_no, (void)seed_in, (void)seed_out, (void)ctr;
    return KEYCARD_ERR_VERSION;
}

/* Raw exchange within one transaction; resp gets data || SW. */
static keycard_rc raw(keycard_target *t, const uint8_t *apdu, size_t len, uint8_t *resp,
                      size_t *rlen)
{
    keycard_rc rc = op_begin(t);
    if (rc != KEYCARD_OK)
        return rc;
    uint64_t t0 = kcl_trace_on() ? kcl_trace_clock() : 0;
    rc = t->s.t->ops->transmit(t->s.t, apdu, len, resp, rlen);
    if (rc == KEYCARD_OK && *rlen >= 2)
        t->s.last_sw = (uint16_t)(resp[*rlen - 2] << 8 | resp[*rlen - 1]);
    if (t0 && len >= 4)
        kcl_trace_envelope(t->s.t->ops->name(t->s.t), apdu, len, resp,
                           rc == KEYCARD_OK ? *rlen : 0, rc, t0);
    return op_end(t, rc);
}

/*
 * Send one ENVELOPE; an outer status word other than 9000 becomes the error
 * (the session is over on the target). r (KCL_APDU_RESP_MAX + 2 bytes) gets
 * the answer, *dl its length without the status word.
 */
static keycard_rc send_envelope(keycard_target *t, const uint8_t *apdu, size_t len, uint8_t *r,
                                size_t *dl)
{
    size_t rl = KCL_APDU_RESP_MAX + 2;
    keycard_rc rc = raw(t, apdu, len, r, &rl);
    if (rc != KEYCARD_OK)
        return rc;
    if (rl < 2)
        return KEYCARD_ERR_PROTOCOL;
    uint16_t sw = (uint16_t)(r[rl - 2] << 8 | r[rl - 1]);
    if (sw != KC_SW_OK) {
        rc = kcl_sw_to_rc(sw, NULL);
        return rc == KEYCARD_OK ? KEYCARD_ERR_PROTOCOL : rc;
    }
    *dl = rl - 2;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_target_envelope(keycard_target *t, const uint8_t *apdu,
                                               size_t len, uint16_t *inner_sw,
                                               uint8_t *inner_data, size_t *inner_len,
                                               uint8_t *mac)
{
    if (!t || !apdu || len < 5 || !inner_sw || (inner_len && *inner_len && !inner_data))
        return KEYCARD_ERR_ARG;
    uint8_t r[KCL_APDU_RESP_MAX + 2];
    size_t dl = 0, rl;
    keycard_rc rc = send_envelope(t, apdu, len, r, &dl);
    if (rc != KEYCARD_OK)
        return rc;
    rl = dl + 2;
    /* [c]_4 || inner SW1 SW2 || inner data || MAC(16) */
    if (dl < 4 + 2 + KEYCARD_MAC_LEN)
        return KEYCARD_ERR_PROTOCOL;
    size_t il = dl - (4 + 2 + KEYCARD_MAC_LEN);
    if (il && (!inner_len || il > *inner_len))
        return inner_len ? KEYCARD_ERR_BUFFER : KEYCARD_ERR_ARG;
    *inner_sw = (uint16_t)(r[4] << 8 | r[5]);
    if (il)
        memcpy(inner_data, r + 6, il);
    if (inner_len)
        *inner_len = il;
    if (mac)
        memcpy(mac, r + 6 + il, KEYCARD_MAC_LEN);
    kcl_wipe(r, rl); /* what the answer filled */
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_target_envelope_packed(keycard_target *t, const uint8_t *apdu,
                                                      size_t len, uint16_t *sws, size_t *n,
                                                      uint8_t *data, size_t *data_len)
{
    if (!t || !apdu || len < 5 || !sws || !n || *n == 0 || (data_len && *data_len && !data))
        return KEYCARD_ERR_ARG;
    uint8_t r[KCL_APDU_RESP_MAX + 2];
    size_t end = 0, dl = 0;
    keycard_rc rc = send_envelope(t, apdu, len, r, &end);
    if (rc != KEYCARD_OK)
        return rc;
    size_t rl = end + 2;
    /* [c]_4 || SW_last || [k]_1 || k x (SW1 SW2 [len]_1 data) || MAC(16) */
    if (end < 4 + 2 + 1 + KEYCARD_MAC_LEN)
        return KEYCARD_ERR_PROTOCOL;
    end -= KEYCARD_MAC_LEN;
    size_t k = r[6], o = 7, i;
    const uint8_t *last = NULL;
    if (k == 0 || k > *n) {
        rc = k == 0 ? KEYCARD_ERR_PROTOCOL : KEYCARD_ERR_BUFFER;
        goto out;
    }
    for (i = 0; i < k; i++) {
        if (end - o < 3 || end - o - 3 < r[o + 2]) {
            rc = KEYCARD_ERR_PROTOCOL;
            goto out;
        }
        sws[i] = (uint16_t)(r[o] << 8 | r[o + 1]);
        dl = r[o + 2];
        last = r + o + 3;
        o += 3 + dl;
    }
    /* Nothing after the last answer, and the envelope's SW is the last one's. */
    if (o != end || sws[k - 1] != (uint16_t)(r[4] << 8 | r[5])) {
        rc = KEYCARD_ERR_PROTOCOL;
        goto out;
    }
    if (dl && (!data_len || dl > *data_len)) {
        rc = data_len ? KEYCARD_ERR_BUFFER : KEYCARD_ERR_ARG;
        goto out;
    }
    if (dl)
        memcpy(data, last, dl);
    if (data_len)
        *data_len = dl;
    *n = k;
out:
    kcl_wipe(r, rl); /* what the answer filled */
    return rc;
}

KEYCARD_API keycard_rc keycard_target_transmit(keycard_target *t, const uint8_t *apdu,
                                               size_t apdu_len, uint8_t *resp,
                                               size_t *resp_len)
{
    if (!t || !apdu || apdu_len < 4 || !resp || !resp_len)
        return KEYCARD_ERR_ARG;
    uint8_t r[KCL_APDU_RESP_MAX + 2];
    size_t rl = sizeof r;
    keycard_rc rc = raw(t, apdu, apdu_len, r, &rl);
    if (rc == KEYCARD_OK) {
        if (rl > *resp_len) {
            rc = KEYCARD_ERR_BUFFER;
        } else {
            memcpy(resp, r, rl);
            *resp_len = rl;
        }
    }
    kcl_wipe(r, rl <= sizeof r ? rl : sizeof r); /* what the answer filled */
    return rc;
}
