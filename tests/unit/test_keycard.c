/*
 * test_keycard.c - the key card as a whole (kc_keycard.c, kc_applet.c,
 * kc_audit.c): provisioning sessions, GET DATA access rules, INTERNAL
 * AUTHENTICATE checked with mbedTLS, the audit log, the ATR, and that refused
 * commands and broken-off sessions leave the persistent state as it was.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kc_keycard.h"
#include "kc_keys.h"
#include "support/kc_test_card.h"

#define V_ISSUER_OK "0020008108" "3133353739313335"
#define V_HOLDER_OK "0020008206" "323436383130"
#define V_ADMIN_OK "0020008310" "000102030405060708090A0B0C0D0E0F"

static void provisioned(kc_test_card *t, uint64_t seed)
{
    kc_test_card_new(t, seed);
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
}

static uint8_t status_byte(kc_test_card *t, uint8_t tag, int off)
{
    ck_assert_uint_eq(kc_test_card_sendx(t, "00CADF03"), 0x9000);
    for (size_t i = 0; i + 1 < t->resp_len; i += 2u + t->resp[i + 1])
        if (t->resp[i] == tag)
            return t->resp[i + 2 + off];
    ck_abort_msg("status tag %02X missing", tag);
    return 0;
}

static uint16_t send(kc_test_card *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                     const void *d, size_t n)
{
    uint8_t buf[8 + 4096];
    return kc_test_card_send(t, buf, kc_test_apdu(buf, cla, ins, p1, p2, d, n));
}

/* ---- provisioning ----------------------------------------------------------- */

START_TEST(test_full_flow)
{
    kc_test_card t;
    uint8_t serial[8], issuer_pub[65];

    kc_test_card_new(&t, 21);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_LIFECYCLE, 0), KC_LIFECYCLE_BLANK);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_LIFECYCLE, 0), KC_LIFECYCLE_PROVISIONED);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_TRIES, 0), 3);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_TRIES, 1), 3);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_TRIES, 2), 3);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_AUDIT, 3), 1); /* the provisioned entry */
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_STAGING, 0), 0);
    memcpy(serial, t.resp + 2, 8);

    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CA5F2000"), 0x9000);
    ck_assert_uint_eq(t.resp_len, strlen(KC_TEST_HOLDER_NAME));
    ck_assert_mem_eq(t.resp, KC_TEST_HOLDER_NAME, t.resp_len);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF01"), 0x9000);
    ck_assert_uint_eq(t.resp_len, strlen(KC_TEST_HOLDER_NUMBER));
    ck_assert_mem_eq(t.resp, KC_TEST_HOLDER_NUMBER, t.resp_len);

    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0200"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 143);
    ck_assert_mem_eq(t.resp, "\xC1\x08", 2);
    ck_assert_mem_eq(t.resp + 2, serial, 8);
    ck_assert_mem_eq(t.resp + 10, "\xC2\x41\x04", 3);
    ck_assert_mem_eq(t.resp + 77, "\xC3\x40", 2);
    kc_test_issuer_pub(issuer_pub);
    ck_assert(kc_test_p256_verify(issuer_pub, KC_SIG_LABEL_IDENTITY, t.resp, 77, t.resp + 79));
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_incomplete_commit_refused)
{
    kc_test_card t;
    uint8_t sig[64], tbs[77];
    kc_test_card_new(&t, 22);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985); /* no session */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x6985); /* already open */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2018109033133353739313335"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_STAGING, 0), 1); /* still open */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2018207033234363831 30"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2018311" "03000102030405060708090A0B0C0D0E0F"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E25F200141"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2DF010142"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985); /* no device key */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E40000"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 77);
    memcpy(tbs, t.resp, 77);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985); /* no signature */
    kc_test_issuer_sign(tbs, 77, sig);
    ck_assert_uint_eq(send(&t, 0x80, 0xE2, 0xDF, 0x04, sig, 64), 0x9000);
    /* a new device key drops the signature put before it */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E40000"), 0x9000);
    ck_assert_mem_ne(t.resp, tbs, 77);
    memcpy(tbs, t.resp, 77);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6985);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_LIFECYCLE, 0), KC_LIFECYCLE_BLANK);
    kc_test_issuer_sign(tbs, 77, sig);
    ck_assert_uint_eq(send(&t, 0x80, 0xE2, 0xDF, 0x04, sig, 64), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x9000);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_LIFECYCLE, 0), KC_LIFECYCLE_PROVISIONED);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_STAGING, 0), 0);
    /* the identity on the card is the one last generated, and the signature verifies */
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0020008203323436"), 0x6A80);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00200082073234363831" "3030"), 0x63C2);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0020008206" "323436383130"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF02"), 0x9000);
    ck_assert_mem_eq(t.resp, tbs, 77);
    kc_test_card_free(&t);
}
END_TEST

static const struct put_case {
    const char *hex;
    uint16_t sw;
} put_cases[] = {
    {"80E2018106003133353739", 0x6A80},   /* tries 0 */
    {"80E2018106103133353739", 0x6A80},   /* tries 16 */
    {"80E20181040F313233", 0x6A80},       /* 3 digits */
    {"80E20181050F3132333A", 0x6A80},     /* not digits */
    {"80E2018302" "0300", 0x6A80},        /* admin key 1 byte */
    {"80E2018311" "0F000102030405060708090A0B0C0D0E0F", 0x9000},
    {"80E2018321" "0F000102030405060708090A0B0C0D0E0F000102030405060708090A0B0C0D0E0F", 0x9000},
    {"80E25F2002C328", 0x6A80},           /* bad UTF-8 */
    {"80E25F2002C3A9", 0x9000},           /* é */
    {"80E25F2003E0808F", 0x6A80},         /* overlong */
    {"80E2DF01024101", 0x6A80},           /* control character */
    {"80E2DF01027E20", 0x9000},
    {"80E2DF0403010203", 0x6A80},         /* signature not 64 bytes */
    {"80E20184043132333A", 0x6A88},       /* no such item */
    {"80E2DF0301AA", 0x6A88},
    {"80E25F20", 0x6700},                 /* no data */
};

START_TEST(test_put_validation)
{
    kc_test_card t;
    uint8_t name[65];
    kc_test_card_new(&t, 23);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E25F200141"), 0x6985); /* no session */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    for (size_t i = 0; i < sizeof(put_cases) / sizeof(put_cases[0]); i++) {
        uint16_t sw = kc_test_card_sendx(&t, put_cases[i].hex);
        ck_assert_msg(sw == put_cases[i].sw, "%s: SW %04X, expected %04X", put_cases[i].hex, sw,
                      put_cases[i].sw);
    }
    memset(name, 'n', sizeof(name));
    ck_assert_uint_eq(send(&t, 0x80, 0xE2, 0x5F, 0x20, name, 64), 0x9000);
    ck_assert_uint_eq(send(&t, 0x80, 0xE2, 0x5F, 0x20, name, 65), 0x6A80);
    ck_assert_uint_eq(send(&t, 0x80, 0xE2, 0xDF, 0x01, name, 32), 0x9000);
    ck_assert_uint_eq(send(&t, 0x80, 0xE2, 0xDF, 0x01, name, 33), 0x6A80);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_STAGING, 0), 1); /* refusals keep the session */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E80000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E80000"), 0x6985);
    kc_test_card_free(&t);
}
END_TEST

/* Every way a session can end early leaves the persistent state as it was. */
START_TEST(test_session_dropped)
{
    kc_test_card t;
    uint8_t before[32], after[32];
    kc_test_card_new(&t, 24);
    kc_test_card_store_digest(&t, before);

    for (int how = 0; how < 5; how++) {
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
        ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
        ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2018109033133353739313335"), 0x9000);
        ck_assert_uint_eq(kc_test_card_sendx(&t, "80E25F200141"), 0x9000);
        ck_assert_uint_eq(kc_test_card_sendx(&t, "80E40000"), 0x9000);
        switch (how) {
        case 0: /* power off */
            kc_keycard_card.power(t.ctx, KC_POWER_OFF);
            kc_keycard_card.power(t.ctx, KC_POWER_ON);
            break;
        case 1: /* reset */
            kc_keycard_card.power(t.ctx, KC_POWER_RESET);
            break;
        case 2: /* SELECT */
            ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
            break;
        case 3: /* PROVISION ABORT */
            ck_assert_uint_eq(kc_test_card_sendx(&t, "80E80000"), 0x9000);
            break;
        case 4: /* the card pulled: RAM lost, reboot from flash */
            ck_assert_int_eq(kc_test_card_reboot(&t), 0);
            break;
        }
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
        ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_LIFECYCLE, 0), KC_LIFECYCLE_BLANK);
        ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_STAGING, 0), 0);
        ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_TRIES, 0), 0xFF);
        ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2018109033133353739313335"), 0x6985);
        kc_test_card_store_digest(&t, after);
        ck_assert_mem_eq(before, after, 32);
    }
    /* and the card still provisions normally */
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_reprovision_needs_admin)
{
    kc_test_card t;
    uint8_t issuer_pub[65], id[143];
    provisioned(&t, 25);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x6982);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x6982); /* PINs are not enough */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF02"), 0x9000);
    memcpy(id, t.resp, sizeof(id));
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E25F2008" "4E6577204E616D65"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x9000); /* the rest is kept */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A000000400000000"), 0x6982); /* state cleared */
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CA5F20"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 8);
    ck_assert_mem_eq(t.resp, "New Name", 8);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF02"), 0x9000);
    ck_assert_mem_eq(t.resp, id, sizeof(id));
    kc_test_issuer_pub(issuer_pub);
    ck_assert(kc_test_p256_verify(issuer_pub, KC_SIG_LABEL_IDENTITY, t.resp, 77, t.resp + 79));
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_AUDIT, 3), 4); /* prov, unlock, unlock, prov... */
    kc_test_card_free(&t);
}
END_TEST

/* ---- GET DATA access ---------------------------------------------------------- */

static const struct access_case {
    int provision;
    int unlock; /* 0 none, 1 issuer only, 2 issuer and holder */
    const char *hex;
    uint16_t sw;
} access_cases[] = {
    {0, 0, "00CADF03", 0x9000}, {0, 0, "00CA5F20", 0x6985}, {0, 0, "00CADF01", 0x6985},
    {0, 0, "00CADF02", 0x6985}, {0, 0, "00CADF04", 0x6A88}, {0, 0, "00CA0181", 0x6A88},
    {1, 0, "00CADF03", 0x9000}, {1, 0, "00CA5F20", 0x6982}, {1, 0, "00CADF01", 0x6982},
    {1, 0, "00CADF02", 0x6982}, {1, 1, "00CA5F20", 0x6982}, {1, 1, "00CADF02", 0x6982},
    {1, 2, "00CA5F20", 0x9000}, {1, 2, "00CADF01", 0x9000}, {1, 2, "00CADF02", 0x9000},
    {1, 2, "00CADF0280", 0x6700}, /* Le shorter than the blob */
    {1, 2, "00CA0183", 0x6A88},   /* secrets are never readable */
    {1, 2, "00CA0030", 0x6A88},
};

START_TEST(test_get_data_access)
{
    const struct access_case *c = &access_cases[_i];
    kc_test_card t;
    kc_test_card_new(&t, 30);
    if (c->provision)
        ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    if (c->unlock >= 1)
        ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    if (c->unlock >= 2)
        ck_assert_uint_eq(kc_test_card_sendx(&t, V_HOLDER_OK), 0x9000);
    uint16_t sw = kc_test_card_sendx(&t, c->hex);
    ck_assert_msg(sw == c->sw, "case %d %s: SW %04X, expected %04X", _i, c->hex, sw, c->sw);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_select_clears_security)
{
    kc_test_card t;
    provisioned(&t, 31);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CA5F20"), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CA5F20"), 0x6982);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00A4040C05A000000003"), 0x6A82);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CA5F20"), 0x6985); /* nothing selected */
    kc_test_card_free(&t);
}
END_TEST

/* ---- INTERNAL AUTHENTICATE ---------------------------------------------------------- */

START_TEST(test_internal_authenticate)
{
    kc_test_card t;
    uint8_t pub[65], ch[65];
    provisioned(&t, 32);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    for (size_t i = 0; i < sizeof(ch); i++)
        ch[i] = (uint8_t)(i * 7 + 1);
    ck_assert_uint_eq(send(&t, 0x00, 0x88, 0x00, 0x00, ch, 8), 0x6982);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    ck_assert_uint_eq(send(&t, 0x00, 0x88, 0x00, 0x00, ch, 8), 0x6982);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_HOLDER_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF02"), 0x9000);
    memcpy(pub, t.resp + 12, 65);

    const size_t lens[] = {8, 33, 64};
    for (size_t k = 0; k < 3; k++) {
        ck_assert_uint_eq(send(&t, 0x00, 0x88, 0x00, 0x00, ch, lens[k]), 0x9000);
        ck_assert_uint_eq(t.resp_len, 64);
        ck_assert(kc_test_p256_verify(pub, KC_SIG_LABEL_INTERNAL_AUTH, ch, lens[k], t.resp));
        /* a signature for another purpose does not verify */
        ck_assert(!kc_test_p256_verify(pub, KC_SIG_LABEL_IDENTITY, ch, lens[k], t.resp));
    }
    ck_assert_uint_eq(send(&t, 0x00, 0x88, 0x00, 0x00, ch, 7), 0x6700);
    ck_assert_uint_eq(send(&t, 0x00, 0x88, 0x00, 0x00, ch, 65), 0x6700);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00880000081122334455667788" "00"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00880000081122334455667788" "40"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00880000081122334455667788" "3F"), 0x6700);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00880100081122334455667788"), 0x6A86);
    kc_test_card_free(&t);
}
END_TEST

/* ---- audit ------------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t audit_read(kc_test_card *t, uint32_t from, const char *le)
{
    char hex[64];
    static const char digits[] = "0123456789ABCDEF";
    char f[9];
    for (int i = 0; i < 8; i++)
        f[i] = digits[(from >> (28 - 4 * i)) & 15];
    f[8] = 0;
    strcpy(hex, "80A0000004");
    strcat(hex, f);
    strcat(hex, le);
    return kc_test_card_sendx(t, hex);
}

START_TEST(test_audit_unlock_entries)
{
    kc_test_card t;
    provisioned(&t, 40);
    t.ram.now = 1800000000u;
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    t.ram.now = 1800000100u;
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(audit_read(&t, 0, ""), 0x9000);
    /* provisioned (10) + 2 unlock entries (10 + 7), each with its prev (32) */
    ck_assert_uint_eq(t.resp_len, 42 + 49 + 49);
    const uint8_t *e = t.resp;
    ck_assert_uint_eq(be32(e), 0);
    ck_assert_uint_eq(e[8], KC_AUDIT_EVT_PROVISIONED);
    ck_assert_uint_eq(e[9], 0);
    static const uint8_t zero[32];
    ck_assert_mem_eq(e + 10, zero, 32); /* the first entry chains to zeros */
    e += 42;
    ck_assert_uint_eq(be32(e), 1);
    ck_assert_uint_eq(be32(e + 4), 1800000000u);
    ck_assert_uint_eq(e[8], KC_AUDIT_EVT_UNLOCK);
    ck_assert_uint_eq(e[9], 7);
    ck_assert_mem_eq(e + 10, "OP-0001", 7);
    ck_assert(memcmp(e + 17, zero, 32) != 0);
    e += 49;
    ck_assert_uint_eq(be32(e), 2);
    ck_assert_uint_eq(be32(e + 4), 1800000100u);
    ck_assert_uint_eq(e[8], KC_AUDIT_EVT_UNLOCK);
    /* from 2: one entry; from 3: the end */
    ck_assert_uint_eq(audit_read(&t, 2, ""), 0x9000);
    ck_assert_uint_eq(t.resp_len, 49);
    ck_assert_uint_eq(audit_read(&t, 3, ""), 0x9000);
    ck_assert_uint_eq(t.resp_len, 0);
    /* Le: whole entries only */
    ck_assert_uint_eq(audit_read(&t, 0, "50"), 0x9000); /* 80 bytes: 42 + the next does not fit */
    ck_assert_uint_eq(t.resp_len, 42);
    ck_assert_uint_eq(audit_read(&t, 1, "10"), 0x6700); /* not even one entry fits */
    /* a failed holder PIN writes no unlock entry */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0020008206" "303030303030"), 0x63C2);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_AUDIT, 3), 3);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_audit_ring_wraps)
{
    kc_test_card t;
    provisioned(&t, 41);
    const int unlocks = KC_AUDIT_CAPACITY + 5;
    for (int i = 0; i < unlocks; i++) {
        /* Full-log policy: acknowledge before the log is nearly full. */
        if (i == 100) {
            ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
            ck_assert_uint_eq(kc_test_card_sendx(&t, "80A4000004" "00000064"), 0x9000);
        }
        ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    }
    uint32_t next = 1 + (uint32_t)unlocks;
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_AUDIT, 3), next & 0xFF);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_AUDIT, 5), KC_AUDIT_CAPACITY);

    /* read everything in pages: exactly the last 128 entries, consecutive */
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    uint32_t from = 0, expect = next - KC_AUDIT_CAPACITY;
    int count = 0;
    for (;;) {
        ck_assert_uint_eq(audit_read(&t, from, "00"), 0x9000);
        if (t.resp_len == 0)
            break;
        for (size_t off = 0; off < t.resp_len; off += 42u + t.resp[off + 9]) {
            ck_assert_uint_eq(be32(t.resp + off), expect);
            ck_assert_uint_eq(t.resp[off + 8], KC_AUDIT_EVT_UNLOCK);
            expect++;
            count++;
        }
        from = expect;
    }
    ck_assert_int_eq(count, KC_AUDIT_CAPACITY);
    ck_assert_uint_eq(expect, next);

    /* seq survives re-provisioning and reboots */
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2DF0103" "4F5032"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(audit_read(&t, next, ""), 0x9000);
    ck_assert_uint_eq(t.resp_len, 42);
    ck_assert_uint_eq(be32(t.resp), next);
    ck_assert_uint_eq(t.resp[8], KC_AUDIT_EVT_PROVISIONED);
    kc_test_card_free(&t);
}
END_TEST

/* ---- refused commands change nothing -------------------------------------------------- */

static const char *const refused[] = {
    "00CA5F20",                                 /* no PIN */
    "0020008206323436383130",                   /* holder before issuer */
    "0020008103313233",                         /* bad format */
    "00200081",                                 /* empty VERIFY (answers 63C3 or 9000) */
    "002C0381",                                 /* no admin key */
    "80E00000",                                 /* re-provision without admin key */
    "80E25F200141",                             /* no session */
    "80E40000",
    "80E60000",
    "80E80000",
    "002400810A" "3133353739313335" "3132",    /* new value too short */
    "00880000081122334455667788",               /* no PIN */
    "80A000000400000000",                       /* no admin key */
    "00FF0000", "A0CADF03", "00CADF", "00CA0101",
    "10A4040C05F04B455943",                     /* a chain part ... */
    "00CADF03",                                 /* ... broken off: 6883 */
    "80A20000081122334455667788",               /* AUDIT SIGN: no admin key */
    "80A400000400000001",                       /* AUDIT ACKNOWLEDGE: no admin key */
};

START_TEST(test_refused_change_nothing)
{
    kc_test_card t;
    uint8_t before[32], after[32];
    provisioned(&t, 50);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    kc_test_card_flash_digest(&t, before);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        uint16_t sw = kc_test_card_sendx(&t, refused[i]);
        ck_assert_msg(sw != 0x9000 || i == 17, "%s was accepted", refused[i]);
        kc_test_card_flash_digest(&t, after);
        ck_assert_msg(memcmp(before, after, 32) == 0, "%s changed the flash", refused[i]);
    }
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_TRIES, 0), 3);
    kc_test_card_free(&t);
}
END_TEST

/* ---- card face ------------------------------------------------------------------------- */

START_TEST(test_atr)
{
    kc_test_card t;
    uint8_t atr[KC_ATR_MAX];
    kc_test_card_new(&t, 60);
    size_t n = kc_keycard_card.atr(t.ctx, atr, sizeof(atr));
    ck_assert_uint_ge(n, 4);
    ck_assert_uint_le(n, KC_ATR_MAX);
    ck_assert_uint_eq(atr[0], 0x3B);
    size_t k = atr[1] & 0x0F; /* historical bytes */
    /* walk the interface bytes; T=1 must be offered */
    size_t i = 1;
    uint8_t y = atr[1] >> 4;
    int t1 = 0;
    for (;;) {
        uint8_t td = 0;
        int has_td = y & 8;
        i += (size_t)((y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1));
        if (!has_td)
            break;
        td = atr[++i];
        if ((td & 0x0F) == 1)
            t1 = 1;
        y = td >> 4;
    }
    ck_assert(t1);
    ck_assert_uint_eq(i + 1 + k + 1, n); /* hist then TCK */
    ck_assert_mem_eq(atr + i + 1, "\x80\x57KEYCARD", 9);
    uint8_t x = 0;
    for (size_t j = 1; j < n; j++)
        x ^= atr[j];
    ck_assert_uint_eq(x, 0); /* TCK */
    ck_assert_uint_eq(kc_keycard_card.flash_size, 128 * 1024);
    ck_assert_uint_eq(kc_keycard_card.page_size, 2048);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_serial_stable)
{
    kc_test_card t;
    uint8_t s1[8];
    kc_test_card_new(&t, 61);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    status_byte(&t, KC_ST_TAG_SERIAL, 0);
    memcpy(s1, t.resp + 2, 8);
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    status_byte(&t, KC_ST_TAG_SERIAL, 0);
    ck_assert_mem_eq(s1, t.resp + 2, 8);
    kc_test_card_free(&t);
}
END_TEST

/* A store too full for a session: the PUT answers 6A84 and the session is gone. */
START_TEST(test_store_full)
{
    kc_test_card t;
    static uint8_t blob[KC_STORE_VALUE_MAX];
    kc_test_card_new(&t, 62);
    kc_keycard *kc = t.ctx;
    /* fill with template records (the range reserved for them) until nothing fits */
    memset(blob, 0x5A, sizeof(blob));
    int n;
    for (n = 1; n < 200; n++) {
        ck_assert_int_eq(kc_store_begin(&kc->store), 0);
        int rc = kc_store_put(&kc->store, KC_KEY_TEMPLATE(n), blob, sizeof(blob));
        if (rc == 0)
            rc = kc_store_commit(&kc->store);
        if (rc) {
            kc_store_abort(&kc->store);
            break;
        }
    }
    ck_assert_int_lt(n, 200);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    uint16_t sw = 0x9000;
    for (int i = 0; i < 40 && sw == 0x9000; i++)
        sw = send(&t, 0x80, 0xE2, 0xDF, 0x04, blob, 64);
    ck_assert_uint_eq(sw, 0x6A84);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_STAGING, 0), 0);
    ck_assert_uint_eq(status_byte(&t, KC_ST_TAG_LIFECYCLE, 0), KC_LIFECYCLE_BLANK);
    kc_test_card_free(&t);
}
END_TEST

static Suite *keycard_suite(void)
{
    Suite *s = suite_create("keycard");
    TCase *tc = tcase_create("keycard");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_full_flow);
    tcase_add_test(tc, test_incomplete_commit_refused);
    tcase_add_test(tc, test_put_validation);
    tcase_add_test(tc, test_session_dropped);
    tcase_add_test(tc, test_reprovision_needs_admin);
    tcase_add_loop_test(tc, test_get_data_access, 0, sizeof(access_cases) / sizeof(access_cases[0]));
    tcase_add_test(tc, test_select_clears_security);
    tcase_add_test(tc, test_internal_authenticate);
    tcase_add_test(tc, test_audit_unlock_entries);
    tcase_add_test(tc, test_audit_ring_wraps);
    tcase_add_test(tc, test_refused_change_nothing);
    tcase_add_test(tc, test_atr);
    tcase_add_test(tc, test_serial_stable);
    tcase_add_test(tc, test_store_full);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keycard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
