/*
 * test_channel.c - the key card's secure channel (keycard/kc_channel.c,
 * docs/protocol.md "Secure channel"): certificate, OPEN CHANNEL, wrapped
 * commands and answers, the counter and tag rules (replayed, reordered,
 * skipped, altered or plain commands end the channel and the verified PINs),
 * the "required" policy, the provisioning rules, and the known-answer vectors
 * of tests/vectors/channel.json on both sides (firmware and libkeycard).
 *
 * The host side of these tests is built from libkeycard's own crypto module
 * (kcl_crypto_*), an implementation independent of the firmware's.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "channel.h"
#include "crypto.h"
#include "kc_crypto.h"
#include "kc_keycard.h"
#include "kc_keys.h"
#include "support/kc_test_card.h"
#include "support/kc_vectors.h"

/* ---- the test issuer of channel certificates ------------------------------ */

static uint8_t issuer_priv[32], issuer_pub[65];

static void issuer_setup(void)
{
    ck_assert_int_eq(kcl_crypto_p256_keypair(issuer_priv, issuer_pub), KEYCARD_OK);
}

static void channel_sign(const uint8_t *tbs, size_t len, uint8_t sig[64])
{
    uint8_t hash[32];
    ck_assert_int_eq(kc_crypto_sha256(KC_SIG_LABEL_CHANNEL, tbs, len, hash), 0);
    ck_assert_int_eq(kc_crypto_p256_sign(NULL, issuer_priv, hash, sig), 0);
}

static uint16_t send(kc_test_card *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                     const void *d, size_t n, size_t ne)
{
    uint8_t buf[8 + 4200];
    size_t len;
    ck_assert_int_eq(kcl_apdu_build(buf, sizeof buf, &len, cla, ins, p1, p2, d, n, ne),
                     KEYCARD_OK);
    return kc_test_card_send(t, buf, len);
}

/* The demo card, then a second session: channel key, its signature, the policy. */
static void provision_channel(kc_test_card *t, uint64_t seed, uint8_t policy)
{
    uint8_t tbs[77], sig[64];
    kc_test_card_new(t, seed);
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_verify_admin(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "80E4010000"), 0x9000);
    ck_assert_uint_eq(t->resp_len, 77);
    ck_assert_uint_eq(t->resp[0], KC_ID_TAG_SERIAL);
    ck_assert_uint_eq(t->resp[10], KC_CH_TAG_KA_PUB);
    memcpy(tbs, t->resp, sizeof tbs);
    channel_sign(tbs, sizeof tbs, sig);
    ck_assert_uint_eq(send(t, 0x80, KC_INS_PROVISION_PUT, 0xDF, 0x08, sig, 64, 0), 0x9000);
    ck_assert_uint_eq(send(t, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC0, &policy, 1, 0), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "80E60000"), 0x9000);
}

/* ---- the host end, from kcl_crypto ------------------------------------------ */

typedef struct host {
    uint8_t s_enc[32], s_renc[32];
    uint32_t ctr;
} host;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Kx = SHA-256([1]_4 || Z1 || Z2 || "keycard/channel/v2"), keys = KDF(Kx, ...). */
static void host_keys(const uint8_t z1[32], const uint8_t z2[32], const uint8_t ctx[195],
                      uint8_t keys[128])
{
    uint8_t m[4 + 64 + 18], kx[32];
    memcpy(m, "\x00\x00\x00\x01", 4);
    memcpy(m + 4, z1, 32);
    memcpy(m + 36, z2, 32);
    memcpy(m + 68, "keycard/channel/v2", 18);
    ck_assert_int_eq(kcl_crypto_sha256(NULL, m, sizeof m, kx), KEYCARD_OK);
    ck_assert_int_eq(kcl_crypto_kdf(kx, 32, "keycard/channel", ctx, 195, keys, 128), KEYCARD_OK);
}

/* OPEN CHANNEL with this ephemeral key; checks the answer ePK.C || receipt. */
static void open_ch_with(kc_test_card *t, host *h, const uint8_t esk[32], const uint8_t epk[65])
{
    uint8_t pka[65], z1[32], z2[32], keys[128], ctx[195], mac[16];
    ck_assert_uint_eq(kc_test_card_sendx(t, "00CADF0700"), 0x9000);
    ck_assert_uint_eq(t->resp_len, 143);
    memcpy(pka, t->resp + 12, 65);
    ck_assert_uint_eq(send(t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 256), 0x9000);
    ck_assert_uint_eq(t->resp_len, 81);
    memcpy(ctx, epk, 65);
    memcpy(ctx + 65, t->resp, 65); /* ePK.C */
    memcpy(ctx + 130, pka, 65);
    ck_assert_int_eq(kcl_crypto_ecdh(esk, ctx + 65, z1), KEYCARD_OK);
    ck_assert_int_eq(kcl_crypto_ecdh(esk, pka, z2), KEYCARD_OK);
    host_keys(z1, z2, ctx, keys);
    ck_assert_int_eq(kcl_crypto_cmac(keys + 64, 32, ctx, 195, mac), KEYCARD_OK);
    ck_assert_mem_eq(mac, t->resp + 65, 16);
    memcpy(h->s_enc, keys, 32);
    memcpy(h->s_renc, keys + 32, 32);
    h->ctr = 0;
}

/* OPEN CHANNEL with a fresh ephemeral key. */
static void open_ch(kc_test_card *t, host *h)
{
    uint8_t esk[32], epk[65];
    ck_assert_int_eq(kcl_crypto_p256_keypair(esk, epk), KEYCARD_OK);
    open_ch_with(t, h, esk, epk);
}

/* The outer APDU of one command with counter ctr (ne 0: no inner Le). */
static size_t wrap(const host *h, uint32_t ctr, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                   const void *d, size_t n, size_t ne, uint8_t *out, size_t cap)
{
    uint8_t data[4 + 4096 + 16], iv[12] = {0x01}, aad[8];
    size_t len;
    uint8_t ocla = (uint8_t)(cla | 0x04);
    put32(data, ctr);
    put32(iv + 4, ctr);
    aad[0] = ocla;
    aad[1] = ins;
    aad[2] = p1;
    aad[3] = p2;
    put32(aad + 4, ctr);
    ck_assert_int_eq(kcl_crypto_gcm_seal(h->s_enc, iv, aad, 8, d, n, data + 4, data + 4 + n),
                     KEYCARD_OK);
    ck_assert_int_eq(kcl_apdu_build(out, cap, &len, ocla, ins, p1, p2, data, n + 20,
                                    ne + 18 > 65536 ? 65536 : ne + 18),
                     KEYCARD_OK);
    return len;
}

/* Check and open the answer to counter ctr: returns the inner SW, data in out. */
static uint16_t unwrap(const host *h, uint32_t ctr, const kc_test_card *t, uint8_t *out,
                       size_t *n)
{
    uint8_t iv[12] = {0x02}, aad[4];
    ck_assert_uint_ge(t->resp_len, 18);
    put32(iv + 4, ctr);
    put32(aad, ctr);
    size_t m = t->resp_len - 16;
    ck_assert_int_eq(kcl_crypto_gcm_open(h->s_renc, iv, aad, 4, t->resp, m, t->resp + m, out),
                     KEYCARD_OK);
    *n = m - 2;
    return (uint16_t)(out[m - 2] << 8 | out[m - 1]);
}

/* One command through the channel; returns the inner SW (outer must be 9000). */
static uint16_t xsend(kc_test_card *t, host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                      const void *d, size_t n, size_t ne, uint8_t *out, size_t *on)
{
    uint8_t apdu[8 + 4200], tmp[4200];
    size_t tn;
    h->ctr++;
    size_t len = wrap(h, h->ctr, cla, ins, p1, p2, d, n, ne, apdu, sizeof apdu);
    ck_assert_uint_eq(kc_test_card_send(t, apdu, len), 0x9000);
    return unwrap(h, h->ctr, t, out ? out : tmp, on ? on : &tn);
}

static uint16_t xverify(kc_test_card *t, host *h, uint8_t ref, const char *pin)
{
    return xsend(t, h, 0x00, KC_INS_VERIFY, 0x00, ref, pin, strlen(pin), 0, NULL, NULL);
}

/* ---- certificate and OPEN CHANNEL ------------------------------------------- */

START_TEST(test_cert_public)
{
    kc_test_card t;
    provision_channel(&t, 61, KC_CHANNEL_REQUIRED);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    /* Readable with nothing verified, outside any channel. */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0700"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 143);
    ck_assert_uint_eq(t.resp[77], KC_CH_TAG_SIGNATURE);
    ck_assert_int_eq(kcl_crypto_verify(issuer_pub, KC_SIG_LABEL_CHANNEL, t.resp, 77, t.resp + 79),
                     KEYCARD_OK);
    /* The serial is the card's (status blob). */
    uint8_t serial[8];
    memcpy(serial, t.resp + 2, 8);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0300"), 0x9000);
    ck_assert_mem_eq(t.resp + 2, serial, 8);
    kc_test_card_free(&t);

    /* A card without a channel key has no certificate and cannot open a channel. */
    kc_test_card_new(&t, 62);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0700"), 0x6A88);
    uint8_t epk[65], esk[32];
    ck_assert_int_eq(kcl_crypto_p256_keypair(esk, epk), KEYCARD_OK);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 256), 0x6985);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_open_refuses_bad_points)
{
    kc_test_card t;
    uint8_t pt[65];
    provision_channel(&t, 63, KC_CHANNEL_OPTIONAL);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    memset(pt, 0x31, sizeof pt); /* no point at all */
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, pt, 65, 256), 0x6A80);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0700"), 0x9000);
    memcpy(pt, t.resp + 12, 65);
    pt[64] ^= 1; /* off the curve */
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, pt, 65, 256), 0x6A80);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_session)
{
    kc_test_card t;
    host h;
    uint8_t out[4200];
    size_t n;
    provision_channel(&t, 64, KC_CHANNEL_REQUIRED);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    open_ch(&t, &h);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_HOLDER_PIN, KC_TEST_HOLDER_PIN), 0x9000);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, out, &n),
                      0x9000);
    ck_assert_uint_eq(n, strlen(KC_TEST_HOLDER_NAME));
    ck_assert_mem_eq(out, KC_TEST_HOLDER_NAME, n);
    /* The line shows no name: the outer answer is ciphertext. */
    ck_assert(memmem(t.resp, t.resp_len, "Demo", 4) == NULL);
    /* An inner error travels inside; the outer SW stays 9000. */
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, "99999999"), 0x63C2);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, out, &n),
                      0x6982);
    /* Inner Le: too small a fixed answer is 6700 inside. */
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_INTERNAL_AUTHENTICATE, 0, 0, "12345678", 8, 63,
                            out, &n),
                      0x6700);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_INTERNAL_AUTHENTICATE, 0, 0, "12345678", 8, 256,
                            out, &n),
                      0x9000);
    ck_assert_uint_eq(n, 64);
    /* OPEN CHANNEL inside the channel is refused; the channel goes on. */
    uint8_t epk[65], esk[32];
    ck_assert_int_eq(kcl_crypto_p256_keypair(esk, epk), KEYCARD_OK);
    ck_assert_uint_eq(xsend(&t, &h, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 256, out, &n),
                      0x6985);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_GET_DATA, 0xDF, 0x03, NULL, 0, 256, out, &n),
                      0x9000);
    kc_test_card_free(&t);
}
END_TEST

/* ---- failures end the channel and the security state ------------------------ */

enum attack {
    A_REPLAY,    /* the last command again */
    A_SKIP,      /* counter + 2 */
    A_OLD,       /* counter 1 after 2 */
    A_ZERO,      /* counter 0 */
    A_CT,        /* one ciphertext bit */
    A_TAG,       /* one tag bit */
    A_HDR,       /* P2 changed (authenticated header) */
    A_CLA,       /* CLA 84 instead of 04 (authenticated header) */
    A_PLAIN,     /* a plain command while the channel is open */
    A_SHORT,     /* wrapped data shorter than counter and tag */
    A_NO_LE,     /* outer Le missing */
    A_OTHERKEY,  /* sealed under another session's key */
};

static const struct {
    enum attack a;
    const char *what;
    uint8_t reason; /* KC_AUDIT_CHF_* */
} attacks[] = {
    {A_REPLAY, "replayed command", KC_AUDIT_CHF_COUNTER},
    {A_SKIP, "skipped counter", KC_AUDIT_CHF_COUNTER},
    {A_OLD, "older counter", KC_AUDIT_CHF_COUNTER},
    {A_ZERO, "counter 0", KC_AUDIT_CHF_COUNTER},
    {A_CT, "altered ciphertext", KC_AUDIT_CHF_MAC},
    {A_TAG, "altered tag", KC_AUDIT_CHF_MAC},
    {A_HDR, "altered P2", KC_AUDIT_CHF_MAC},
    {A_CLA, "altered CLA", KC_AUDIT_CHF_MAC},
    {A_PLAIN, "plain command in the channel", KC_AUDIT_CHF_PLAIN},
    {A_SHORT, "wrapped data too short", KC_AUDIT_CHF_FORMAT},
    {A_NO_LE, "no outer Le", KC_AUDIT_CHF_FORMAT},
    {A_OTHERKEY, "another session's key", KC_AUDIT_CHF_MAC},
};

START_TEST(test_attacks)
{
    kc_test_card t;
    host h, other;
    uint8_t apdu[600], last[600], out[4200];
    size_t len, last_len, n;
    const char *pin = KC_TEST_HOLDER_PIN;

    provision_channel(&t, 65, KC_CHANNEL_REQUIRED);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    open_ch(&t, &h);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_HOLDER_PIN, pin), 0x9000);
    /* The last command sent, for the replay row. */
    last_len = wrap(&h, h.ctr + 1, 0x00, KC_INS_GET_DATA, 0xDF, 0x01, NULL, 0, 256, last,
                    sizeof last);
    ck_assert_uint_eq(kc_test_card_send(&t, last, last_len), 0x9000);
    h.ctr++;
    memset(&other, 0x5A, sizeof other);

    uint32_t c = h.ctr + 1;
    switch (attacks[_i].a) {
    case A_REPLAY:
        memcpy(apdu, last, last_len);
        len = last_len;
        break;
    case A_SKIP:
        len = wrap(&h, c + 1, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
        break;
    case A_OLD:
        len = wrap(&h, 1, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
        break;
    case A_ZERO:
        len = wrap(&h, 0, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
        break;
    case A_CT:
        len = wrap(&h, c, 0x00, KC_INS_VERIFY, 0x00, 0x82, pin, strlen(pin), 0, apdu, sizeof apdu);
        apdu[5 + 4] ^= 0x01;
        break;
    case A_TAG:
        len = wrap(&h, c, 0x00, KC_INS_VERIFY, 0x00, 0x82, pin, strlen(pin), 0, apdu, sizeof apdu);
        apdu[len - 2] ^= 0x80;
        break;
    case A_HDR:
        len = wrap(&h, c, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
        apdu[3] = 0x21;
        break;
    case A_CLA:
        len = wrap(&h, c, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
        apdu[0] = 0x84;
        break;
    case A_PLAIN:
        ck_assert_int_eq(kcl_apdu_build(apdu, sizeof apdu, &len, 0x00, KC_INS_GET_DATA, 0x5F,
                                        0x20, NULL, 0, 256),
                         KEYCARD_OK);
        break;
    case A_SHORT:
        len = kc_test_hex("04CA5F20 13 00000003 00112233445566778899AABBCCDDEE 12", apdu,
                          sizeof apdu);
        break;
    case A_NO_LE:
        len = wrap(&h, c, 0x00, KC_INS_VERIFY, 0x00, 0x82, pin, strlen(pin), 0, apdu, sizeof apdu);
        len--; /* drop the Le byte */
        break;
    default: /* A_OTHERKEY */
        len = wrap(&other, c, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
        break;
    }
    ck_assert_msg(kc_test_card_send(&t, apdu, len) == 0x6988, "%s not refused", attacks[_i].what);
    ck_assert_uint_eq(t.resp_len, 0);
    /* The channel is over: the honest next command is refused too (no channel: 6E00). */
    len = wrap(&h, c, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, apdu, sizeof apdu);
    ck_assert_uint_ne(kc_test_card_send(&t, apdu, len), 0x9000);
    /* So are the verified PINs: a new channel starts with nothing. */
    open_ch(&t, &h);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, out, &n),
                      0x6982);
    /* The failure is in the audit log: a summary (event 07) of one, with its reason; the
     * admin's VERIFY wrote it. */
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_VERIFY, 0x00, KC_REF_ADMIN_KEY,
                            "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F", 16,
                            0, NULL, NULL),
                      0x9000);
    ck_assert_uint_eq(xsend(&t, &h, 0x80, KC_INS_AUDIT_READ, 0, 0, "\x00\x00\x00\x00", 4, 4096,
                            out, &n),
                      0x9000);
    int found = 0;
    for (size_t i = 0; i + KC_AUDIT_HDR_LEN <= n; i += KC_AUDIT_HDR_LEN + out[i + 9] + KC_AUDIT_PREV_LEN)
        if (out[i + 8] == KC_AUDIT_EVT_CHANNEL_FAILURE && out[i + 9] == KC_AUDIT_CHF_SUMMARY_LEN &&
            memcmp(out + i + 10, "\x00\x00\x00\x01", 4) == 0 &&
            out[i + 10 + 28] == attacks[_i].reason)
            found = 1;
    ck_assert_msg(found, "%s: no channel failure entry with reason %u", attacks[_i].what,
                  attacks[_i].reason);
    kc_test_card_free(&t);
}
END_TEST

/* Every APDU of a captured session, replayed into a new session or the same one, is refused. */
START_TEST(test_replay_captured_session)
{
    kc_test_card t;
    host h;
    uint8_t cap[6][600];
    size_t cap_len[6], k = 0;
    uint8_t out[4200];
    size_t n;

    provision_channel(&t, 66, KC_CHANNEL_REQUIRED);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    open_ch(&t, &h);
    struct {
        uint8_t cla, ins, p1, p2;
        const char *d;
        size_t ne;
    } s[] = {
        {0x00, KC_INS_VERIFY, 0x00, 0x81, KC_TEST_ISSUER_PIN, 0},
        {0x00, KC_INS_VERIFY, 0x00, 0x82, KC_TEST_HOLDER_PIN, 0},
        {0x00, KC_INS_GET_DATA, 0x5F, 0x20, "", 256},
        {0x00, KC_INS_GET_DATA, 0xDF, 0x01, "", 256},
        {0x00, KC_INS_INTERNAL_AUTHENTICATE, 0, 0, "ABCDEFGH", 256},
    };
    for (k = 0; k < sizeof s / sizeof s[0]; k++) {
        h.ctr++;
        cap_len[k] = wrap(&h, h.ctr, s[k].cla, s[k].ins, s[k].p1, s[k].p2, s[k].d, strlen(s[k].d),
                          s[k].ne, cap[k], sizeof cap[k]);
        ck_assert_uint_eq(kc_test_card_send(&t, cap[k], cap_len[k]), 0x9000);
        ck_assert_uint_eq(unwrap(&h, h.ctr, &t, out, &n), 0x9000);
    }
    /* The same session: every captured APDU is refused. */
    for (size_t i = 0; i < k; i++) {
        ck_assert_msg(kc_test_card_send(&t, cap[i], cap_len[i]) != 0x9000,
                      "APDU %zu replayed into its own session", i);
        open_ch(&t, &h); /* the refusal ended it: continue in a fresh one */
    }
    /* A new session (new ephemeral key): refused, and it gains nothing. */
    for (size_t i = 0; i < k; i++) {
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
        open_ch(&t, &h);
        ck_assert_msg(kc_test_card_send(&t, cap[i], cap_len[i]) == 0x6988,
                      "APDU %zu replayed into a new session", i);
        open_ch(&t, &h);
        ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_GET_DATA, 0x5F, 0x20, NULL, 0, 256, out, &n),
                          0x6982);
    }
    /* And with no channel at all. */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    for (size_t i = 0; i < k; i++)
        ck_assert_uint_ne(kc_test_card_send(&t, cap[i], cap_len[i]), 0x9000);
    kc_test_card_free(&t);
}
END_TEST

/* Tries left of the holder PIN, from the status blob (plain GET DATA DF03). */
static int holder_tries(kc_test_card *t)
{
    keycard_status st;
    ck_assert_uint_eq(kc_test_card_sendx(t, "00CADF0300"), 0x9000);
    ck_assert_int_eq(kcl_parse_status(t->resp, t->resp_len, &st), KEYCARD_OK);
    return st.tries_left[1];
}

/*
 * Issue 10, finding 3: a whole recorded "kc-admin unblock holder" session
 * (OPEN CHANNEL with the host's ephemeral key, wrapped VERIFY of the admin
 * key, wrapped RESET RETRY COUNTER 03 82), replayed byte for byte into a
 * later card session without the admin key, must change nothing. With a
 * channel keyed by the host's key and SK.KA alone (channel v1) the replayed
 * OPEN gave the same session keys and the replay reset the tries.
 */
START_TEST(test_replay_recorded_open_and_session)
{
    kc_test_card t;
    host h;
    uint8_t esk[32], epk[65], open[80], rec[2][120], first_answer[81];
    size_t open_len, rec_len[2];
    static const uint8_t admin[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

    provision_channel(&t, 71, KC_CHANNEL_REQUIRED);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    /* One holder try spent, so that an unblock shows. */
    open_ch(&t, &h);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_HOLDER_PIN, "000000"), 0x63C2);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_int_eq(holder_tries(&t), 2);

    /* The recorded session: what the line shows of an honest unblock. */
    ck_assert_int_eq(kcl_crypto_p256_keypair(esk, epk), KEYCARD_OK);
    ck_assert_int_eq(kcl_apdu_build(open, sizeof open, &open_len, 0x80, KC_INS_OPEN_CHANNEL, 0, 0,
                                    epk, 65, 256),
                     KEYCARD_OK);
    open_ch_with(&t, &h, esk, epk);
    memcpy(first_answer, t.resp, sizeof first_answer);
    rec_len[0] = wrap(&h, 1, 0x00, KC_INS_VERIFY, 0x00, KC_REF_ADMIN_KEY, admin, 16, 0, rec[0],
                      sizeof rec[0]);
    rec_len[1] = wrap(&h, 2, 0x00, KC_INS_RESET_RETRY_COUNTER, 0x03, KC_REF_HOLDER_PIN, NULL, 0,
                      0, rec[1], sizeof rec[1]);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(kc_test_card_send(&t, rec[i], rec_len[i]), 0x9000);
        ck_assert_uint_eq(unwrap(&h, (uint32_t)i + 1, &t, (uint8_t[64]){0}, &(size_t){0}), 0x9000);
    }
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_int_eq(holder_tries(&t), 3);

    /* Later: tries spent again, then the recording replayed, after a power cycle too. */
    for (int pass = 0; pass < 2; pass++) {
        open_ch(&t, &h);
        ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
        ck_assert_uint_eq(xverify(&t, &h, KC_REF_HOLDER_PIN, "000000"),
                          pass == 0 ? 0x63C2 : 0x63C1);
        if (pass == 1)
            ck_assert_int_eq(kc_test_card_reboot(&t), 0);
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
        int before = holder_tries(&t);
        ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0700"), 0x9000);
        /* The replayed OPEN is answered, but with a new card key: other session keys. */
        ck_assert_uint_eq(kc_test_card_send(&t, open, open_len), 0x9000);
        ck_assert_uint_eq(t.resp_len, 81);
        ck_assert_msg(memcmp(t.resp, first_answer, 65) != 0, "the card reused its ephemeral key");
        ck_assert_msg(memcmp(t.resp + 65, first_answer + 65, 16) != 0, "same receipt twice");
        /* The recorded VERIFY does not verify under them: 6988, channel over. */
        ck_assert_uint_eq(kc_test_card_send(&t, rec[0], rec_len[0]), 0x6988);
        ck_assert_uint_ne(kc_test_card_send(&t, rec[1], rec_len[1]), 0x9000);
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
        ck_assert_int_eq(holder_tries(&t), before);
        ck_assert_int_eq(before, pass == 0 ? 2 : 1);
    }
    kc_test_card_free(&t);
}
END_TEST

/* A channel v1 host asks OPEN CHANNEL for 16 bytes: 6700, and nothing changes. */
START_TEST(test_v1_host_refused)
{
    kc_test_card t;
    host h;
    uint8_t esk[32], epk[65], before[32], after[32];
    provision_channel(&t, 72, KC_CHANNEL_REQUIRED);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    open_ch(&t, &h);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    kc_test_card_flash_digest(&t, before);
    ck_assert_int_eq(kcl_crypto_p256_keypair(esk, epk), KEYCARD_OK);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 16), 0x6988);
    /* (inside an open channel a plain command ends it: start from a selected card) */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    kc_test_card_flash_digest(&t, before);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 16), 0x6700);
    ck_assert_uint_eq(t.resp_len, 0);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 80), 0x6700);
    kc_test_card_flash_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, epk, 65, 81), 0x9000);
    ck_assert_uint_eq(t.resp_len, 81);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_select_and_power_end_channel)
{
    kc_test_card t;
    host h;
    uint8_t apdu[600];
    size_t len;
    provision_channel(&t, 67, KC_CHANNEL_OPTIONAL);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    open_ch(&t, &h);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    /* A plain SELECT is allowed in the channel and ends it. */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    len = wrap(&h, h.ctr + 1, 0x00, KC_INS_GET_DATA, 0xDF, 0x03, NULL, 0, 256, apdu, sizeof apdu);
    ck_assert_uint_eq(kc_test_card_send(&t, apdu, len), 0x6E00);
    /* A reboot too. */
    open_ch(&t, &h);
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    len = wrap(&h, h.ctr + 1, 0x00, KC_INS_GET_DATA, 0xDF, 0x03, NULL, 0, 256, apdu, sizeof apdu);
    ck_assert_uint_eq(kc_test_card_send(&t, apdu, len), 0x6E00);
    kc_test_card_free(&t);
}
END_TEST

/* ---- policy ------------------------------------------------------------------ */

static const struct {
    const char *apdu;
    uint16_t required, optional; /* plain SW on a card with that policy (nothing verified) */
} plain_rows[] = {
    {"00A4040C0AF04B455943415244 0001", 0x9000, 0x9000},
    {"00CADF0300", 0x9000, 0x9000},
    {"00CADF0700", 0x9000, 0x9000},
    {"0020008108 3133353739313335", 0x6982, 0x9000},
    {"00200081", 0x6982, 0x63C3},
    {"00CA5F2000", 0x6982, 0x6982},
    {"00CADF0200", 0x6982, 0x6982},
    {"00CADF0500", 0x6982, 0x6982},
    {"0088000008 1122334455667788 00", 0x6982, 0x6982},
    {"80A0000004 00000000 00", 0x6982, 0x6982},
    {"80E00000", 0x6982, 0x6982},
    {"002C0381", 0x6982, 0x6982},
    {"80520000 03 010203 00", 0x6982, 0x6982},
    /* Every command that carries a secret (the host never sends them in plain either). */
    {"0020008310 0F0E0D0C0B0A09080706050403020100", 0x6982, 0x63C2},
    {"0024008110 3131313131313131 3232323232323232", 0x6982, 0x63C2},
    {"002C028106 313131313131", 0x6982, 0x6982},
    {"80E2010106 313131313131", 0x6982, 0x6985},
};

START_TEST(test_policy)
{
    kc_test_card t;
    host h;
    int req = _i == 0;
    provision_channel(&t, 68, req ? KC_CHANNEL_REQUIRED : KC_CHANNEL_OPTIONAL);
    for (size_t i = 0; i < sizeof plain_rows / sizeof plain_rows[0]; i++) {
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
        uint16_t sw = kc_test_card_sendx(&t, plain_rows[i].apdu);
        uint16_t want = req ? plain_rows[i].required : plain_rows[i].optional;
        ck_assert_msg(sw == want, "%s policy, plain %s: SW %04X, want %04X",
                      req ? "required" : "optional", plain_rows[i].apdu, sw, want);
    }
    /* Inside the channel everything works under either policy. */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    open_ch(&t, &h);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_ISSUER_PIN, KC_TEST_ISSUER_PIN), 0x9000);
    ck_assert_uint_eq(xverify(&t, &h, KC_REF_HOLDER_PIN, KC_TEST_HOLDER_PIN), 0x9000);
    ck_assert_uint_eq(xsend(&t, &h, 0x00, KC_INS_GET_DATA, 0xDF, 0x02, NULL, 0, 256, NULL, NULL),
                      0x9000);
    kc_test_card_free(&t);
}
END_TEST

/* ---- provisioning rules ------------------------------------------------------ */

START_TEST(test_provisioning_rules)
{
    kc_test_card t;
    uint8_t req = KC_CHANNEL_REQUIRED, bad = 2, sig[64] = {0};
    /* A generated channel key must be signed before COMMIT. */
    kc_test_card_new(&t, 69);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E4010000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985);
    /* Policy values and signature sizes are checked. */
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC0, &bad, 1, 0), 0x6A80);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC0, "\x01\x01", 2, 0), 0x6A80);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_PUT, 0xDF, 0x08, sig, 63, 0), 0x6A80);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E80000"), 0x9000);
    /* "required" on a card without a signed channel key would lock it out: refused. */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC0, &req, 1, 0), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E80000"), 0x9000);
    /* GENERATE P1=01 needs a session. */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E4010000"), 0x6985);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_vectors_keys)
{
    json_t *j = kc_vectors_load("channel.json");
    uint8_t ska[32], pka[65], esk[32], epk[65], eskc[32], epkc[65], z1[32], z2[32], kx[32];
    uint8_t keys[128], receipt[16], got[128], ctx[195], m[86];
    kc_vectors_hex(j, "sk_ka", ska, 32);
    kc_vectors_hex(j, "pk_ka", pka, 65);
    kc_vectors_hex(j, "esk_h", esk, 32);
    kc_vectors_hex(j, "epk_h", epk, 65);
    kc_vectors_hex(j, "esk_c", eskc, 32);
    kc_vectors_hex(j, "epk_c", epkc, 65);
    kc_vectors_hex(j, "z1", z1, 32);
    kc_vectors_hex(j, "z2", z2, 32);
    kc_vectors_hex(j, "kx", kx, 32);
    ck_assert_uint_eq(kc_vectors_hex(j, "ctx", ctx, sizeof ctx), 195);
    kc_vectors_hex(j, "keys", keys, 128);
    kc_vectors_hex(j, "receipt", receipt, 16);
    /* The context is ePK.H || ePK.C || PK.KA. */
    ck_assert_mem_eq(ctx, epk, 65);
    ck_assert_mem_eq(ctx + 65, epkc, 65);
    ck_assert_mem_eq(ctx + 130, pka, 65);
    /* Z1 and Z2 on both sides, each with both crypto modules. */
    ck_assert_int_eq(kc_crypto_p256_ecdh(NULL, eskc, epk, got), 0);
    ck_assert_mem_eq(got, z1, 32);
    ck_assert_int_eq(kc_crypto_p256_ecdh(NULL, ska, epk, got), 0);
    ck_assert_mem_eq(got, z2, 32);
    ck_assert_int_eq(kcl_crypto_ecdh(esk, epkc, got), KEYCARD_OK);
    ck_assert_mem_eq(got, z1, 32);
    ck_assert_int_eq(kcl_crypto_ecdh(esk, pka, got), KEYCARD_OK);
    ck_assert_mem_eq(got, z2, 32);
    /* Kx, the one-step KDF. */
    memcpy(m, "\x00\x00\x00\x01", 4);
    memcpy(m + 4, z1, 32);
    memcpy(m + 36, z2, 32);
    memcpy(m + 68, KC_CHANNEL_KX_LABEL, 18);
    ck_assert_int_eq(kc_crypto_sha256(NULL, m, sizeof m, got), 0);
    ck_assert_mem_eq(got, kx, 32);
    ck_assert_int_eq(kcl_crypto_sha256(NULL, m, sizeof m, got), KEYCARD_OK);
    ck_assert_mem_eq(got, kx, 32);
    /* Session keys and receipt. */
    ck_assert_int_eq(kc_crypto_kdf(kx, 32, KC_CHANNEL_KDF_LABEL, ctx, 195, got, 128), 0);
    ck_assert_mem_eq(got, keys, 128);
    ck_assert_int_eq(kcl_crypto_kdf(kx, 32, KC_CHANNEL_KDF_LABEL, ctx, 195, got, 128), KEYCARD_OK);
    ck_assert_mem_eq(got, keys, 128);
    ck_assert_int_eq(kc_crypto_aes_cmac(keys + 64, 32, ctx, 195, got), 0);
    ck_assert_mem_eq(got, receipt, 16);
    ck_assert_int_eq(kcl_crypto_cmac(keys + 64, 32, ctx, 195, got), KEYCARD_OK);
    ck_assert_mem_eq(got, receipt, 16);
    json_decref(j);
}
END_TEST

/*
 * The card's ephemeral key comes from the hardware RNG: a test RNG that
 * returns eSK.C over and over makes the card's key generation give exactly
 * the vector's pair (P-256 takes the first 32 random bytes as the scalar when
 * it is below the order); the same bytes as blinding values change no result.
 */
static uint8_t fixed_rng_bytes[32];

static int fixed_rng(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = fixed_rng_bytes[i % sizeof fixed_rng_bytes];
    return 0;
}

/* The firmware answers the vector's OPEN CHANNEL and then its commands byte for byte. */
START_TEST(test_vectors_card)
{
    json_t *j = kc_vectors_load("channel.json");
    kc_test_card t;
    uint8_t cmd[600], want[600], ska[32], pka[65];
    provision_channel(&t, 70, KC_CHANNEL_REQUIRED);
    kc_keycard *kc = t.ctx;
    /* The vector's SK.KA in place of the generated one (committed like any store item). */
    kc_vectors_hex(j, "sk_ka", ska, 32);
    kc_vectors_hex(j, "pk_ka", pka, 65);
    ck_assert_int_eq(kc_store_begin(&kc->store), 0);
    ck_assert_int_eq(kc_store_put(&kc->store, KC_KEY_KA_PRIV, ska, 32), 0);
    ck_assert_int_eq(kc_store_put(&kc->store, KC_KEY_KA_PUB, pka, 65), 0);
    ck_assert_int_eq(kc_store_commit(&kc->store), 0);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    kc_vectors_hex(j, "esk_c", fixed_rng_bytes, 32);
    int (*rng)(void *, uint8_t *, size_t) = kc->hw.rng;
    kc->hw.rng = fixed_rng;
    size_t cl = kc_vectors_hex(j, "open_command", cmd, sizeof cmd);
    size_t wl = kc_vectors_hex(j, "open_response", want, sizeof want);
    ck_assert_uint_eq(kc_test_card_send(&t, cmd, cl), 0x9000);
    kc->hw.rng = rng;
    ck_assert_uint_eq(t.resp_len + 2, wl);
    ck_assert_mem_eq(t.resp, want, wl - 2);
    json_t *rows = json_object_get(j, "session");
    ck_assert(json_array_size(rows) >= 3);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        cl = kc_vectors_hex(r, "command", cmd, sizeof cmd);
        wl = kc_vectors_hex(r, "response", want, sizeof want);
        ck_assert_uint_eq(kc_test_card_send(&t, cmd, cl), 0x9000);
        ck_assert_uint_eq(t.resp_len + 2, wl);
        ck_assert_mem_eq(t.resp, want, wl - 2);
    }
    kc_test_card_free(&t);
    json_decref(j);
}
END_TEST

/* libkeycard's channel transport over a scripted card: the vector's bytes both ways. */
typedef struct script {
    kcl_transport base;
    json_t *rows;
    size_t next;
    int bad;
} script;

static keycard_rc sc_transmit(kcl_transport *tp, const uint8_t *cmd, size_t len, uint8_t *resp,
                              size_t *resp_len)
{
    script *s = (script *)tp;
    uint8_t want[600];
    json_t *r = json_array_get(s->rows, s->next++);
    ck_assert_ptr_nonnull(r);
    size_t wl = kc_vectors_hex(r, "command", want, sizeof want);
    if (wl != len || memcmp(want, cmd, len) != 0)
        s->bad = 1;
    size_t rl = kc_vectors_hex(r, "response", resp, *resp_len);
    *resp_len = rl;
    return KEYCARD_OK;
}

static keycard_rc sc_nop(kcl_transport *t)
{
    (void)t;
    return KEYCARD_OK;
}

static const char *sc_name(const kcl_transport *t)
{
    (void)t;
    return "script";
}

static void sc_close(kcl_transport *t)
{
    (void)t;
}

static const kcl_transport_ops script_ops = {
    "script", NULL, sc_transmit, sc_nop, sc_nop, sc_nop, sc_name, sc_close, sc_nop, NULL, NULL, NULL,
};

START_TEST(test_vectors_host)
{
    json_t *j = kc_vectors_load("channel.json");
    script s = {{&script_ops}, json_object_get(j, "session"), 0, 0};
    kcl_transport *w = NULL;
    uint8_t s_enc[32], s_renc[32], inner[600], want[600], resp[4200];
    ck_assert_int_eq(kcl_channel_wrap(&s.base, KEYCARD_CHANNEL_AUTO, NULL, &w), KEYCARD_OK);
    kc_vectors_hex(j, "s_enc", s_enc, 32);
    kc_vectors_hex(j, "s_renc", s_renc, 32);
    ck_assert_int_eq(kcl_channel_set_keys(w, s_enc, s_renc, 0), KEYCARD_OK);
    ck_assert_int_eq(kcl_channel_state(w), KEYCARD_CHANNEL_ENCRYPTED);
    for (size_t i = 0; i < json_array_size(s.rows); i++) {
        json_t *r = json_array_get(s.rows, i);
        size_t il = kc_vectors_hex(r, "inner", inner, sizeof inner);
        size_t wl = kc_vectors_hex(r, "inner_response", want, sizeof want);
        size_t rl = sizeof resp;
        ck_assert_int_eq(w->ops->transmit(w, inner, il, resp, &rl), KEYCARD_OK);
        ck_assert_int_eq(s.bad, 0);
        ck_assert_uint_eq(rl, wl);
        ck_assert_mem_eq(resp, want, wl);
    }
    /* An altered answer: the channel ends, with KEYCARD_ERR_CHANNEL, and the session is lost. */
    s.next = 0;
    ck_assert_int_eq(kcl_channel_set_keys(w, s_enc, s_renc, 0), KEYCARD_OK);
    s_renc[0] ^= 1;
    ck_assert_int_eq(kcl_channel_set_keys(w, s_enc, s_renc, 0), KEYCARD_OK);
    size_t il = kc_vectors_hex(json_array_get(s.rows, 0), "inner", inner, sizeof inner);
    size_t rl = sizeof resp;
    ck_assert_int_eq(w->ops->transmit(w, inner, il, resp, &rl), KEYCARD_ERR_CHANNEL);
    ck_assert_int_eq(kcl_channel_state(w), KEYCARD_CHANNEL_LOST);
    w->ops->close(w);
    json_decref(j);
}
END_TEST

/* A key card of channel v1: its certificate, and a bare 16-byte receipt for OPEN CHANNEL. */
typedef struct v1card {
    kcl_transport base;
    json_t *j;
    int opens, others;
} v1card;

static keycard_rc v1_transmit(kcl_transport *tp, const uint8_t *cmd, size_t len, uint8_t *resp,
                              size_t *resp_len)
{
    v1card *c = (v1card *)tp;
    ck_assert_uint_ge(len, 4);
    ck_assert_uint_ge(*resp_len, 143 + 2);
    if (cmd[1] == KC_INS_GET_DATA && cmd[2] == 0xDF && cmd[3] == 0x07) {
        resp[0] = KC_ID_TAG_SERIAL;
        resp[1] = 8;
        memset(resp + 2, 0x11, 8);
        resp[10] = KC_CH_TAG_KA_PUB;
        resp[11] = 65;
        kc_vectors_hex(c->j, "pk_ka", resp + 12, 65);
        resp[77] = KC_CH_TAG_SIGNATURE;
        resp[78] = 64;
        memset(resp + 79, 0x22, 64);
        resp[143] = 0x90;
        resp[144] = 0x00;
        *resp_len = 145;
    } else if (cmd[1] == KC_INS_OPEN_CHANNEL) {
        c->opens++;
        kc_vectors_hex(c->j, "receipt", resp, 16);
        resp[16] = 0x90;
        resp[17] = 0x00;
        *resp_len = 18;
    } else {
        c->others++;
        resp[0] = 0x90;
        resp[1] = 0x00;
        *resp_len = 2;
    }
    return KEYCARD_OK;
}

static const kcl_transport_ops v1card_ops = {
    "v1card", NULL, v1_transmit, sc_nop, sc_nop, sc_nop, sc_name, sc_close, sc_nop, NULL, NULL, NULL,
};

/* libkeycard refuses a card of channel v1 (no card ephemeral key): an error, never plain. */
START_TEST(test_host_refuses_v1_card)
{
    v1card c = {{&v1card_ops}, kc_vectors_load("channel.json"), 0, 0};
    for (int mode = 0; mode < 2; mode++) {
        kcl_transport *w = NULL;
        ck_assert_int_eq(kcl_channel_wrap(&c.base, mode ? KEYCARD_CHANNEL_REQUIRE
                                                        : KEYCARD_CHANNEL_AUTO,
                                          NULL, &w),
                         KEYCARD_OK);
        ck_assert_int_eq(kcl_channel_start(w), KEYCARD_ERR_CHANNEL);
        ck_assert_int_eq(kcl_channel_state(w), KEYCARD_CHANNEL_LOST); /* nothing more is sent */
        ck_assert_int_eq(c.opens, mode + 1);
        ck_assert_int_eq(c.others, 0);
        w->ops->close(w); /* c's own close does nothing */
    }
    ck_assert_ptr_nonnull(strstr(keycard_strerror(KEYCARD_ERR_CHANNEL), "version"));
    json_decref(c.j);
}
END_TEST

static Suite *channel_suite(void)
{
    Suite *s = suite_create("channel");
    TCase *c = tcase_create("card");
    tcase_add_unchecked_fixture(c, issuer_setup, NULL);
    tcase_set_timeout(c, 60);
    tcase_add_test(c, test_cert_public);
    tcase_add_test(c, test_open_refuses_bad_points);
    tcase_add_test(c, test_session);
    tcase_add_loop_test(c, test_attacks, 0, sizeof attacks / sizeof attacks[0]);
    tcase_add_test(c, test_replay_captured_session);
    tcase_add_test(c, test_replay_recorded_open_and_session);
    tcase_add_test(c, test_v1_host_refused);
    tcase_add_test(c, test_select_and_power_end_channel);
    tcase_add_loop_test(c, test_policy, 0, 2);
    tcase_add_test(c, test_provisioning_rules);
    suite_add_tcase(s, c);
    TCase *v = tcase_create("vectors");
    tcase_add_unchecked_fixture(v, issuer_setup, NULL);
    tcase_set_timeout(v, 60);
    tcase_add_test(v, test_vectors_keys);
    tcase_add_test(v, test_vectors_card);
    tcase_add_test(v, test_vectors_host);
    tcase_add_test(v, test_host_refuses_v1_card);
    suite_add_tcase(s, v);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(channel_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
