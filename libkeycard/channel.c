/*
 * channel.c - libkeycard's side of the secure channel (see channel.h and
 * docs/protocol.md "Secure channel"): a transport wrapping another one.
 *
 * Card answers are untrusted: an answer whose tag does not verify, or that
 * does not carry the wrapping at all while the channel is open, ends the
 * channel and gives KEYCARD_ERR_CHANNEL. Any failure inside an open channel
 * (that, a transport error, a reset, a raw SELECT) leaves it *lost*: nothing
 * more is sent (KEYCARD_ERR_SESSION_LOST) until the API starts a new channel
 * on an explicit keycard_reopen. The wrapper never opens a channel by itself
 * and never falls back to plain for a command that carries a secret.
 */
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "channel.h"
#include "crypto.h"
#include "keycard_proto.h"

#define KDF_OUT_LEN 128 /* S-ENC | S-RENC | S-RECEIPT | reserved */
#define CERT_TBS_LEN 77
#define CERT_LEN 143
#define INNER_MAX (KC_APDU_MAX_DATA - KC_CHANNEL_CMD_OVERHEAD)

typedef struct chan {
    kcl_transport base; /* first: the API holds a kcl_transport * */
    kcl_transport *inner;
    keycard_channel_mode mode;
    int have_issuer;
    uint8_t issuer_pub[65];
    int open, genuine;
    /*
     * lost: a failure inside the channel ended it; only kcl_channel_start
     * (keycard_reopen) clears it. starting: between kcl_channel_restart and
     * kcl_channel_start, the SELECT and reconnect before the new channel.
     * plain_secrets: with the channel closed, commands that carry a secret
     * may still go (a blank card without an issuer key, or INSECURE_PLAIN).
     */
    int lost, starting, plain_secrets;
    uint32_t ctr;
    uint8_t s_enc[32], s_renc[32];
} chan;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void make_iv(uint8_t iv[12], uint8_t dir, uint32_t ctr)
{
    memset(iv, 0, 12);
    iv[0] = dir;
    put32(iv + 4, ctr);
}

static void close_channel(chan *c)
{
    c->open = 0;
    c->genuine = 0;
    c->ctr = 0;
    kcl_wipe(c->s_enc, sizeof c->s_enc);
    kcl_wipe(c->s_renc, sizeof c->s_renc);
}

/* A failure inside an open channel: it ends, and the session with it. */
static void lose_if_open(chan *c)
{
    if (c->open)
        c->lost = 1;
    close_channel(c);
}

/* A parsed command APDU (what apdu.c built). */
typedef struct cmd_view {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc, ne; /* ne 0: no Le */
} cmd_view;

static int parse_cmd(const uint8_t *b, size_t len, cmd_view *v)
{
    if (len < 4)
        return -1;
    memset(v, 0, sizeof *v);
    v->cla = b[0];
    v->ins = b[1];
    v->p1 = b[2];
    v->p2 = b[3];
    size_t rest = len - 4;
    const uint8_t *p = b + 4;
    if (rest == 0)
        return 0;
    if (rest == 1) {
        v->ne = p[0] ? p[0] : 256;
        return 0;
    }
    if (p[0] != 0) { /* short Lc */
        v->lc = p[0];
        if (rest == 1 + v->lc)
            ;
        else if (rest == 2 + v->lc)
            v->ne = p[1 + v->lc] ? p[1 + v->lc] : 256;
        else
            return -1;
        v->data = p + 1;
        return 0;
    }
    if (rest == 3) { /* case 2E */
        size_t n = (size_t)p[1] << 8 | p[2];
        v->ne = n ? n : 65536;
        return 0;
    }
    if (rest < 3)
        return -1;
    v->lc = (size_t)p[1] << 8 | p[2];
    if (v->lc == 0)
        return -1;
    v->data = p + 3;
    if (rest == 3 + v->lc)
        return 0;
    if (rest == 5 + v->lc) {
        size_t n = (size_t)p[3 + v->lc] << 8 | p[4 + v->lc];
        v->ne = n ? n : 65536;
        return 0;
    }
    return -1;
}

static int is_select(const cmd_view *v)
{
    return (v->cla & (uint8_t)~KC_CLA_CHAIN) == KC_CLA_ISO && v->ins == KC_INS_SELECT &&
           v->p1 == KC_SELECT_P1_BY_AID;
}

/*
 * Does the command carry a secret: a PIN or the admin key (VERIFY, CHANGE
 * REFERENCE DATA, RESET RETRY COUNTER with a new PIN), provisioning data (PINs,
 * keys, templates, holder data: PROVISION PUT), issuance parameters (ISSUE
 * WRAP) or backup shares (BACKUP, RESTORE)? Told by INS alone, whatever the CLA, and with the odd ISO variants,
 * so that no spelling of such a command slips through in plain.
 */
static int carries_secret(const cmd_view *v)
{
    /* A backup share travels in BACKUP's answer and in RESTORE's data. */
    if (v->ins == KC_INS_BACKUP || v->ins == KC_INS_RESTORE)
        return 1;
    if (v->lc == 0)
        return 0; /* an empty VERIFY asks for tries left; RESET RETRY COUNTER keeps the PIN */
    switch (v->ins & 0xFE) {
    case KC_INS_VERIFY:
    case KC_INS_CHANGE_REFERENCE_DATA:
    case KC_INS_RESET_RETRY_COUNTER:
        return 1;
    }
    return v->ins == KC_INS_PROVISION_PUT || v->ins == KC_INS_ISSUE_WRAP;
}

/* One plain exchange on the inner transport (no GET RESPONSE: the key card sends none). */
static keycard_rc plain(chan *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                        const uint8_t *data, size_t lc, size_t ne, uint8_t *resp, size_t *n,
                        uint16_t *sw)
{
    uint8_t cmd[4 + 3 + 256 + 3], r[KCL_APDU_RESP_MAX + 2];
    size_t clen, rlen = sizeof r;
    keycard_rc rc = kcl_apdu_build(cmd, sizeof cmd, &clen, cla, ins, p1, p2, data, lc, ne);
    if (rc == KEYCARD_OK)
        rc = c->inner->ops->transmit(c->inner, cmd, clen, r, &rlen);
    if (rc == KEYCARD_OK && (rlen < 2 || rlen - 2 > *n))
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK) {
        *sw = (uint16_t)(r[rlen - 2] << 8 | r[rlen - 1]);
        *n = rlen - 2;
        memcpy(resp, r, *n);
    }
    kcl_wipe(cmd, sizeof cmd);
    kcl_wipe(r, rlen <= sizeof r ? rlen : sizeof r); /* what the answer filled */
    return rc;
}

/*
 * The session keys (docs/protocol.md section 9): Kx = SHA-256([1]_4 || Z1 ||
 * Z2 || "keycard/channel/v2"), keys = KDF(Kx, "keycard/channel", ctx, 1024).
 */
static keycard_rc derive_keys(const uint8_t z1[32], const uint8_t z2[32],
                              const uint8_t ctx[KC_CHANNEL_CTX_LEN], uint8_t keys[KDF_OUT_LEN])
{
    static const char fixed[] = KC_CHANNEL_KX_LABEL;
    uint8_t m[4 + 32 + 32 + sizeof fixed - 1], kx[32];
    m[0] = m[1] = m[2] = 0;
    m[3] = 1;
    memcpy(m + 4, z1, 32);
    memcpy(m + 36, z2, 32);
    memcpy(m + 68, fixed, sizeof fixed - 1);
    keycard_rc rc = kcl_crypto_sha256(NULL, m, sizeof m, kx);
    kcl_wipe(m, sizeof m);
    if (rc == KEYCARD_OK)
        rc = kcl_crypto_kdf(kx, sizeof kx, KC_CHANNEL_KDF_LABEL, ctx, KC_CHANNEL_CTX_LEN, keys,
                            KDF_OUT_LEN);
    kcl_wipe(kx, sizeof kx);
    return rc;
}

keycard_rc kcl_channel_start(kcl_transport *t)
{
    chan *c = (chan *)t;
    uint8_t cert[256], rec[256], esk[32], z1[32], z2[32];
    uint8_t keys[KDF_OUT_LEN], ctx[KC_CHANNEL_CTX_LEN], mac[16];
    uint8_t *epk_h = ctx, *epk_c = ctx + KC_P256_PUB_LEN, *pk_ka = ctx + 2 * KC_P256_PUB_LEN;
    size_t n = sizeof cert;
    uint16_t sw = 0;
    const uint8_t *v;
    size_t vl;

    /* Lost until this start succeeds: a failed reopen sends nothing more. */
    close_channel(c);
    c->lost = 1;
    c->starting = 0;
    c->plain_secrets = 0;
    if (c->mode == KEYCARD_CHANNEL_INSECURE_PLAIN) {
        c->plain_secrets = 1; /* the caller asked for it by name */
        c->lost = 0;
        return KEYCARD_OK;
    }
    keycard_rc rc = plain(c, KC_CLA_ISO, KC_INS_GET_DATA, KC_TAG_CHANNEL_CERT >> 8,
                          KC_TAG_CHANNEL_CERT & 0xFF, NULL, 0, 256, cert, &n, &sw);
    if (rc != KEYCARD_OK)
        return rc;
    if (sw != KC_SW_OK) {
        /*
         * No certificate. Only a blank card lacks one; a provisioned card
         * without it is an old card or a line that stripped it: no secret
         * goes to it in plain. With an issuer key the card is refused either
         * way, saying "blank" when it says so (a person needs to hear
         * "provision it first"), and nothing is sent to it.
         */
        keycard_status st;
        int blank = 0;
        n = sizeof cert;
        if (plain(c, KC_CLA_ISO, KC_INS_GET_DATA, KC_TAG_STATUS >> 8, KC_TAG_STATUS & 0xFF,
                  NULL, 0, 256, cert, &n, &sw) == KEYCARD_OK &&
            sw == KC_SW_OK && kcl_parse_status(cert, n, &st) == KEYCARD_OK &&
            st.lifecycle == KEYCARD_LIFECYCLE_BLANK)
            blank = 1;
        if (c->have_issuer)
            return blank ? KEYCARD_ERR_BLANK : KEYCARD_ERR_NOT_GENUINE;
        if (c->mode == KEYCARD_CHANNEL_REQUIRE)
            return KEYCARD_ERR_UNSUPPORTED;
        c->plain_secrets = blank;
        c->lost = 0;
        return KEYCARD_OK;
    }
    if (n != CERT_LEN || cert[0] != KC_ID_TAG_SERIAL || cert[1] != KC_SERIAL_LEN ||
        cert[10] != KC_CH_TAG_KA_PUB || cert[11] != KC_P256_PUB_LEN ||
        kcl_tlv_find(cert, n, KC_CH_TAG_SIGNATURE, &v, &vl) != KEYCARD_OK || vl != 64)
        return c->have_issuer ? KEYCARD_ERR_NOT_GENUINE : KEYCARD_ERR_PROTOCOL;
    if (c->have_issuer &&
        kcl_crypto_verify(c->issuer_pub, KC_SIG_LABEL_CHANNEL, cert, CERT_TBS_LEN, v) != KEYCARD_OK)
        return KEYCARD_ERR_NOT_GENUINE;
    if (c->mode == KEYCARD_CHANNEL_OFF) {
        c->lost = 0; /* plain, and no secret: the card has a channel key */
        return KEYCARD_OK;
    }
    memcpy(pk_ka, cert + 12, KC_P256_PUB_LEN);

    rc = kcl_crypto_p256_keypair(esk, epk_h);
    if (rc == KEYCARD_OK) {
        n = sizeof rec;
        rc = plain(c, KC_CLA_PROP, KC_INS_OPEN_CHANNEL, 0, 0, epk_h, KC_P256_PUB_LEN,
                   KC_CHANNEL_OPEN_RESP_LEN, rec, &n, &sw);
    }
    if (rc == KEYCARD_OK && sw != KC_SW_OK)
        rc = kcl_sw_to_rc(sw, NULL);
    /*
     * A card of channel v1 answers the bare 16-byte receipt: it contributes no
     * fresh key, so its sessions could be replayed. Refused, never used plain.
     */
    if (rc == KEYCARD_OK && n != KC_CHANNEL_OPEN_RESP_LEN)
        rc = KEYCARD_ERR_CHANNEL;
    if (rc == KEYCARD_OK) {
        memcpy(epk_c, rec, KC_P256_PUB_LEN);
        rc = kcl_crypto_ecdh(esk, epk_c, z1); /* refuses a point off the curve */
    }
    if (rc == KEYCARD_OK)
        rc = kcl_crypto_ecdh(esk, pk_ka, z2);
    kcl_wipe(esk, sizeof esk);
    if (rc == KEYCARD_OK)
        rc = derive_keys(z1, z2, ctx, keys);
    kcl_wipe(z1, sizeof z1);
    kcl_wipe(z2, sizeof z2);
    if (rc == KEYCARD_OK)
        rc = kcl_crypto_cmac(keys + 64, 32, ctx, sizeof ctx, mac);
    /* The receipt proves the card holds SK.KA: a copied certificate gets no further. */
    if (rc == KEYCARD_OK && !kcl_ct_equal(mac, rec + KC_P256_PUB_LEN, sizeof mac))
        rc = KEYCARD_ERR_NOT_GENUINE;
    if (rc == KEYCARD_OK) {
        memcpy(c->s_enc, keys, 32);
        memcpy(c->s_renc, keys + 32, 32);
        c->ctr = 0;
        c->open = 1;
        c->genuine = c->have_issuer;
        c->lost = 0;
    }
    kcl_wipe(keys, sizeof keys);
    kcl_wipe(mac, sizeof mac);
    return rc;
}

/* Wrap, send, check and unwrap one command. */
static keycard_rc wrapped(chan *c, const cmd_view *v, uint8_t *resp, size_t *resp_len)
{
    uint8_t out[KC_APDU_MAX_DATA], cmd[4 + 3 + KC_APDU_MAX_DATA + 3], r[KCL_APDU_RESP_MAX + 2];
    uint8_t iv[12], aad[8];
    size_t clen, rlen = sizeof r;
    keycard_rc rc;

    if (v->lc > INNER_MAX)
        return KEYCARD_ERR_BUFFER;
    if (c->ctr == 0xFFFFFFFFu) {
        lose_if_open(c);
        return KEYCARD_ERR_CHANNEL;
    }
    uint32_t ctr = c->ctr + 1;
    uint8_t cla = (uint8_t)(v->cla | KC_CLA_SM);
    aad[0] = cla;
    aad[1] = v->ins;
    aad[2] = v->p1;
    aad[3] = v->p2;
    put32(aad + 4, ctr);
    put32(out, ctr);
    make_iv(iv, 0x01, ctr);
    rc = kcl_crypto_gcm_seal(c->s_enc, iv, aad, sizeof aad, v->data, v->lc, out + 4,
                             out + 4 + v->lc);
    /* The outer Le is the inner one plus 18; exactly 18 tells "no inner Le". */
    size_t ne = v->ne + KC_CHANNEL_RESP_OVERHEAD;
    if (ne > 65536)
        ne = 65536;
    if (rc == KEYCARD_OK)
        rc = kcl_apdu_build(cmd, sizeof cmd, &clen, cla, v->ins, v->p1, v->p2, out,
                            v->lc + KC_CHANNEL_CMD_OVERHEAD, ne);
    kcl_wipe(out, sizeof out);
    if (rc != KEYCARD_OK)
        return rc;
    c->ctr = ctr;
    rc = c->inner->ops->transmit(c->inner, cmd, clen, r, &rlen);
    if (rc != KEYCARD_OK) {
        /* Reset, removed, or a line error: whether the card saw it is unknown. */
        lose_if_open(c);
        return rc;
    }
    uint16_t osw = rlen >= 2 ? (uint16_t)(r[rlen - 2] << 8 | r[rlen - 1]) : 0;
    if (rlen < 2 + KC_CHANNEL_RESP_OVERHEAD || osw != KC_SW_OK) {
        lose_if_open(c); /* 6988 or an answer without wrapping: the channel is over */
        return KEYCARD_ERR_CHANNEL;
    }
    size_t n = rlen - 2 - KC_CHANNEL_TAG_LEN; /* inner data + inner SW */
    make_iv(iv, 0x02, ctr);
    rc = kcl_crypto_gcm_open(c->s_renc, iv, aad + 4, 4, r, n, r + n, r);
    if (rc != KEYCARD_OK) {
        lose_if_open(c);
        kcl_wipe(r, rlen);
        return KEYCARD_ERR_CHANNEL;
    }
    if (n > *resp_len) {
        kcl_wipe(r, rlen);
        return KEYCARD_ERR_PROTOCOL;
    }
    memcpy(resp, r, n);
    *resp_len = n;
    kcl_wipe(r, rlen);
    return KEYCARD_OK;
}

static keycard_rc ch_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                              size_t *resp_len)
{
    chan *c = (chan *)t;
    cmd_view v;
    int parsed = parse_cmd(cmd, len, &v) == 0;
    keycard_rc rc;

    /* A lost session sends nothing, but the SELECT of a keycard_reopen. */
    if (c->lost && !(c->starting && parsed && is_select(&v)))
        return KEYCARD_ERR_SESSION_LOST;
    if (c->open && parsed && !is_select(&v))
        return wrapped(c, &v, resp, resp_len);
    /* Nothing malformed goes into the channel, nor out in plain where secrets may not. */
    if (!parsed && (c->open || !c->plain_secrets))
        return KEYCARD_ERR_ARG;
    /* Never a secret in plain to a card with a channel key (docs/security.md). */
    if (!c->open && !c->plain_secrets && carries_secret(&v))
        return KEYCARD_ERR_NO_CHANNEL;
    /* Plain: the channel is closed, or this is a SELECT, which ends it and the session. */
    lose_if_open(c);
    rc = c->inner->ops->transmit(c->inner, cmd, len, resp, resp_len);
    /* The card has a channel key once provisioning commits: no more secrets in plain. */
    if (rc == KEYCARD_OK && parsed && v.ins == KC_INS_PROVISION_COMMIT &&
        (v.cla & (uint8_t)~KC_CLA_CHAIN) == KC_CLA_PROP && *resp_len >= 2 &&
        resp[*resp_len - 2] == 0x90 && resp[*resp_len - 1] == 0x00 &&
        c->mode != KEYCARD_CHANNEL_INSECURE_PLAIN)
        c->plain_secrets = 0;
    return rc;
}

static keycard_rc ch_begin(kcl_transport *t)
{
    chan *c = (chan *)t;
    if (c->lost && !c->starting)
        return KEYCARD_ERR_SESSION_LOST;
    keycard_rc rc = c->inner->ops->begin_transaction(c->inner);
    if (rc == KEYCARD_ERR_CARD_RESET || rc == KEYCARD_ERR_CARD_REMOVED)
        lose_if_open(c); /* the card forgot the channel */
    return rc;
}

static keycard_rc ch_end(kcl_transport *t)
{
    chan *c = (chan *)t;
    keycard_rc rc = c->inner->ops->end_transaction(c->inner);
    if (rc == KEYCARD_ERR_CARD_RESET || rc == KEYCARD_ERR_CARD_REMOVED)
        lose_if_open(c);
    return rc;
}

/*
 * Reconnect after a reset: a plain session goes on (the API selects again);
 * a channel's session is lost, and only keycard_reopen goes on from there.
 * The reconnect itself sends no APDU and tells a pulled card from a lost
 * session, so it is still done.
 */
static keycard_rc ch_reconnect(kcl_transport *t)
{
    chan *c = (chan *)t;
    lose_if_open(c);
    keycard_rc rc = c->inner->ops->reconnect(c->inner);
    if (rc == KEYCARD_OK && c->lost && !c->starting)
        rc = KEYCARD_ERR_SESSION_LOST;
    return rc;
}

/* A local question about the card below; a lost session stays lost. */
static keycard_rc ch_status(kcl_transport *t)
{
    chan *c = (chan *)t;
    keycard_rc rc = c->inner->ops->status ? c->inner->ops->status(c->inner) : KEYCARD_OK;
    if (rc == KEYCARD_ERR_CARD_RESET || rc == KEYCARD_ERR_CARD_REMOVED)
        lose_if_open(c); /* the card forgot the channel */
    if (rc == KEYCARD_OK && c->lost)
        return KEYCARD_ERR_SESSION_LOST;
    return rc;
}

static const char *ch_name(const kcl_transport *t)
{
    const chan *c = (const chan *)t;
    return c->inner->ops->name(c->inner);
}

static void ch_close(kcl_transport *t)
{
    chan *c = (chan *)t;
    c->inner->ops->close(c->inner);
    close_channel(c);
    kcl_wipe(c, sizeof *c);
    free(c);
}

/* Reserving the card is the line's business: passed through. */
static keycard_rc ch_exclusive(kcl_transport *t, int on)
{
    chan *c = (chan *)t;
    return c->inner->ops->exclusive ? c->inner->ops->exclusive(c->inner, on) : KEYCARD_OK;
}

static const kcl_transport_ops channel_ops = {
    .kind = "channel",
    .open = NULL,
    .transmit = ch_transmit,
    .begin_transaction = ch_begin,
    .end_transaction = ch_end,
    .reconnect = ch_reconnect,
    .status = ch_status,
    .name = ch_name,
    .close = ch_close,
    .exclusive = ch_exclusive,
};

keycard_rc kcl_channel_wrap(kcl_transport *inner, keycard_channel_mode mode,
                            const uint8_t *issuer_pub, kcl_transport **out)
{
    if (!inner || !out ||
        (mode != KEYCARD_CHANNEL_AUTO && mode != KEYCARD_CHANNEL_OFF &&
         mode != KEYCARD_CHANNEL_REQUIRE && mode != KEYCARD_CHANNEL_INSECURE_PLAIN) ||
        (mode == KEYCARD_CHANNEL_INSECURE_PLAIN && issuer_pub))
        return KEYCARD_ERR_ARG;
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return KEYCARD_ERR_MEMORY;
    c->base.ops = &channel_ops;
    c->inner = inner;
    c->mode = mode;
    if (issuer_pub) {
        memcpy(c->issuer_pub, issuer_pub, 65);
        c->have_issuer = 1;
    }
    *out = &c->base;
    return KEYCARD_OK;
}

keycard_channel_state kcl_channel_state(const kcl_transport *t)
{
    const chan *c = (const chan *)t;
    if (!c || t->ops != &channel_ops)
        return KEYCARD_CHANNEL_NONE;
    if (c->lost)
        return KEYCARD_CHANNEL_LOST;
    if (!c->open)
        return KEYCARD_CHANNEL_NONE;
    return c->genuine ? KEYCARD_CHANNEL_GENUINE : KEYCARD_CHANNEL_ENCRYPTED;
}

void kcl_channel_restart(kcl_transport *t)
{
    chan *c = (chan *)t;
    if (!c || t->ops != &channel_ops)
        return;
    close_channel(c);
    c->lost = 1;
    c->starting = 1;
    c->plain_secrets = 0;
}

void kcl_channel_lose(kcl_transport *t)
{
    chan *c = (chan *)t;
    if (!c || t->ops != &channel_ops)
        return;
    close_channel(c);
    c->lost = 1;
    c->starting = 0;
}

keycard_rc kcl_channel_set_keys(kcl_transport *t, const uint8_t s_enc[32], const uint8_t s_renc[32],
                                uint32_t ctr)
{
    chan *c = (chan *)t;
    if (!c || t->ops != &channel_ops || !s_enc || !s_renc)
        return KEYCARD_ERR_ARG;
    memcpy(c->s_enc, s_enc, 32);
    memcpy(c->s_renc, s_renc, 32);
    c->ctr = ctr;
    c->open = 1;
    c->genuine = 0;
    c->lost = 0;
    c->starting = 0;
    return KEYCARD_OK;
}

void kcl_channel_tbs(const keycard_channel_key *ck, uint8_t out[KCL_CHANNEL_TBS_LEN])
{
    out[0] = KC_ID_TAG_SERIAL;
    out[1] = KC_SERIAL_LEN;
    memcpy(out + 2, ck->serial, KC_SERIAL_LEN);
    out[10] = KC_CH_TAG_KA_PUB;
    out[11] = KC_P256_PUB_LEN;
    memcpy(out + 12, ck->ka_pub, KC_P256_PUB_LEN);
}

/* The TLV with tag and exactly len bytes of value. */
static int tlv_is(const uint8_t *buf, size_t n, uint8_t tag, size_t len, const uint8_t **v)
{
    size_t vl;
    return kcl_tlv_find(buf, n, tag, v, &vl) == KEYCARD_OK && vl == len;
}

keycard_rc kcl_parse_channel_key(const uint8_t *buf, size_t len, int with_sig,
                                 keycard_channel_key *out)
{
    const uint8_t *serial, *pub, *sig = NULL;
    if (!out || !buf || !tlv_is(buf, len, KC_ID_TAG_SERIAL, KC_SERIAL_LEN, &serial) ||
        !tlv_is(buf, len, KC_CH_TAG_KA_PUB, KC_P256_PUB_LEN, &pub) || pub[0] != 0x04 ||
        (with_sig && !tlv_is(buf, len, KC_CH_TAG_SIGNATURE, KC_P256_SIG_LEN, &sig)))
        return KEYCARD_ERR_PROTOCOL;
    memset(out, 0, sizeof *out);
    memcpy(out->serial, serial, KC_SERIAL_LEN);
    memcpy(out->ka_pub, pub, KC_P256_PUB_LEN);
    if (sig)
        memcpy(out->issuer_sig, sig, KC_P256_SIG_LEN);
    return KEYCARD_OK;
}
