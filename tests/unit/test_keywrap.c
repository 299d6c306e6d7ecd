/*
 * test_keywrap.c - wrapped keys (docs/protocol.md 9a, docs/apdu.md "Wrapped
 * keys"): the known-answer vectors of tests/vectors/keywrap.json on both
 * sides (keycard/kc_keywrap.c and libkeycard/keywrap.c, two independent
 * implementations), and KEY EXPORT / KEY IMPORT on key cards as the attacker
 * who holds the PC and the admin key would use them: to a card of another
 * issuer, to a home-made certificate, to itself, a blob for another card,
 * altered, replayed over a newer key, under another number, without the
 * admin key; that the issuer key a card holds is written once; and that a
 * destroyed key version leaves no byte on the flash, whatever power cut.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "crypto.h"
#include "kc_audit.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_keycard.h"
#include "kc_keys.h"
#include "kc_keywrap.h"
#include "keywrap.h"
#include "support/kc_test_card.h"
#include "support/kc_vectors.h"

static uint8_t issuer_priv[32], issuer_pub[65], other_priv[32], other_pub[65];

static void issuers_setup(void)
{
    ck_assert_int_eq(kcl_crypto_p256_keypair(issuer_priv, issuer_pub), KEYCARD_OK);
    ck_assert_int_eq(kcl_crypto_p256_keypair(other_priv, other_pub), KEYCARD_OK);
}

static void channel_sign(const uint8_t priv[32], const uint8_t *tbs, size_t len, uint8_t sig[64])
{
    uint8_t hash[32];
    ck_assert_int_eq(kc_crypto_sha256(KC_SIG_LABEL_CHANNEL, tbs, len, hash), 0);
    ck_assert_int_eq(kc_crypto_p256_sign(NULL, priv, hash, sig), 0);
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

/*
 * The demo card, a channel key certified by signer, and (pub != NULL) the
 * issuer key the card will check recipients against.
 */
static void provision(kc_test_card *t, uint64_t seed, const uint8_t signer[32],
                      const uint8_t *pub)
{
    uint8_t tbs[77], sig[64];
    kc_test_card_new(t, seed);
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_verify_admin(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "80E4010000"), 0x9000);
    ck_assert_uint_eq(t->resp_len, 77);
    memcpy(tbs, t->resp, sizeof tbs);
    channel_sign(signer, tbs, sizeof tbs, sig);
    ck_assert_uint_eq(send(t, 0x80, KC_INS_PROVISION_PUT, 0xDF, 0x08, sig, 64, 0), 0x9000);
    if (pub)
        ck_assert_uint_eq(send(t, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC1, pub, 65, 0), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "80E60000"), 0x9000);
}

static void cert_of(kc_test_card *t, uint8_t cert[143])
{
    ck_assert_uint_eq(kc_test_card_sendx(t, "00CADF0700"), 0x9000);
    ck_assert_uint_eq(t->resp_len, 143);
    memcpy(cert, t->resp, 143);
}

static uint32_t audit_next(kc_test_card *t)
{
    return kc_audit_next(&((kc_keycard *)t->ctx)->store);
}

/* KEY EXPORT of key n to cert, admin verified first. Returns SW; blob in t->resp. */
static uint16_t export_key(kc_test_card *t, uint8_t n, const uint8_t cert[143])
{
    ck_assert_uint_eq(kc_test_card_verify_admin(t), 0x9000);
    return send(t, 0x80, KC_INS_KEY_EXPORT, 0, n, cert, 143, 256);
}

static uint16_t import_key(kc_test_card *t, uint8_t p2, const uint8_t *blob, size_t len)
{
    ck_assert_uint_eq(kc_test_card_verify_admin(t), 0x9000);
    return send(t, 0x80, KC_INS_KEY_IMPORT, 0, p2, blob, len, 256);
}

/* The KCV of key n in the card's directory; 0 when absent. */
static int dir_kcv(kc_test_card *t, uint8_t n, uint8_t kcv[3])
{
    kc_keycard *kc = t->ctx;
    kc_issue_key k;
    if (kc_issue_key_load(&kc->store, n, &k) != 0)
        return 0;
    memcpy(kcv, k.kcv, 3);
    return 1;
}

static uint8_t fixed_rng_bytes[32];

static int fixed_rng(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = fixed_rng_bytes[i % sizeof fixed_rng_bytes];
    return 0;
}

/* Both sides seal each vector's key to the same bytes; the card opens each. */
START_TEST(test_vectors)
{
    json_t *j = kc_vectors_load("keywrap.json"), *cases = json_object_get(j, "cases");
    ck_assert(json_array_size(cases) >= 3);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        uint8_t sk[32], pk[65], esk[32], key[32], hdr[64], want[KC_KEYWRAP_MAX];
        uint8_t host[KC_KEYWRAP_MAX], card[KC_KEYWRAP_MAX], got[32], from[8], to[8];
        const char *label = json_string_value(json_object_get(c, "label"));
        kc_vectors_hex(c, "sk_ka", sk, 32);
        kc_vectors_hex(c, "pk_ka", pk, 65);
        kc_vectors_hex(c, "esk_w", esk, 32);
        size_t kl = kc_vectors_hex(c, "key", key, 32);
        size_t hl = kc_vectors_hex(c, "hdr", hdr, sizeof hdr);
        size_t wl = kc_vectors_hex(c, "blob", want, sizeof want);
        kc_vectors_hex(c, "from", from, 8);
        kc_vectors_hex(c, "to", to, 8);
        ck_assert_uint_eq(wl, hl + 81 + kl);

        /* The card's header builder gives the vector's header. */
        uint8_t kcv[3];
        kc_vectors_hex(c, "kcv", kcv, 3);
        size_t n = kc_keywrap_header(card,
                                     (uint8_t)json_integer_value(json_object_get(c, "number")),
                                     (uint8_t)json_integer_value(json_object_get(c, "type")),
                                     (uint8_t)json_integer_value(json_object_get(c, "flags")),
                                     (uint8_t)json_integer_value(json_object_get(c, "version")),
                                     kcv, from, to, (const uint8_t *)label,
                                     (uint8_t)strlen(label));
        ck_assert_uint_eq(n, hl);
        ck_assert_mem_eq(card, hdr, hl);

        /* Host: the offline preparer with the vector's sender key. */
        memcpy(host, hdr, hl);
        ck_assert_int_eq(kcl_keywrap_seal(esk, pk, host, hl, key, kl), KEYCARD_OK);
        ck_assert_mem_eq(host, want, wl);

        /* Card: eSK.W through its RNG. */
        kc_test_card t;
        kc_test_card_new(&t, 900 + i);
        memcpy(fixed_rng_bytes, esk, 32);
        kc_hw hw = t.hw;
        hw.rng = fixed_rng;
        ck_assert_int_eq(kc_keywrap_seal(&hw, pk, card, hl, key, kl), 0);
        ck_assert_mem_eq(card, want, wl);

        /* The recipient opens it; every field comes back. */
        kc_keywrap_view v;
        ck_assert_int_eq(kc_keywrap_open(&t.hw, sk, pk, want, wl, &v, got), 0);
        ck_assert_mem_eq(got, key, kl);
        ck_assert_uint_eq(v.key_len, kl);
        ck_assert_uint_eq(v.label_len, strlen(label));
        ck_assert_mem_eq(v.to, to, 8);
        ck_assert_mem_eq(v.from, from, 8);

        /* The library's reading of the header agrees. */
        keycard_wrapped_info info;
        ck_assert_int_eq(keycard_wrapped_parse(want, wl, &info), KEYCARD_OK);
        ck_assert_uint_eq(info.number, v.number);
        ck_assert_uint_eq(info.version, v.version);
        ck_assert_mem_eq(info.kcv, kcv, 3);
        ck_assert_str_eq(info.label, label);

        /* Any one changed bit, anywhere: refused, and no key byte comes out. */
        for (size_t pos = 0; pos < wl; pos++) {
            uint8_t bad[KC_KEYWRAP_MAX];
            memcpy(bad, want, wl);
            bad[pos] ^= 0x01;
            memset(got, 0xAA, sizeof got);
            int rc = kc_keywrap_open(&t.hw, sk, pk, bad, wl, &v, got);
            ck_assert_msg(rc == KC_ERR_AUTH || rc == KC_ERR_BAD_DATA,
                          "case %zu: byte %zu changed, open gave %d", i, pos, rc);
            for (size_t b = 0; b < 32; b++)
                ck_assert_msg(got[b] == 0 || got[b] == 0xAA, "key bytes out at %zu", pos);
        }
        /* Truncated or extended: refused by the framing. */
        ck_assert_int_eq(kc_keywrap_open(&t.hw, sk, pk, want, wl - 1, &v, got), KC_ERR_BAD_DATA);
        ck_assert_int_eq(kc_keywrap_parse(want, wl + 1, &v), KC_ERR_BAD_DATA);
        ck_assert_int_eq(keycard_wrapped_parse(want, wl - 1, &info), KEYCARD_ERR_WRONG_DATA);
        kc_test_card_free(&t);
    }
    json_decref(j);
}
END_TEST

/* ---- key card to key card ---------------------------------------------------- */

/* A exports its demo keys to B (same issuer); B holds the same KCVs; both log it. */
START_TEST(test_clone)
{
    kc_test_card a, b;
    uint8_t cert_b[143], blob[KC_KEYWRAP_MAX], kcv_a[3], kcv_b[3];
    provision(&a, 11, issuer_priv, issuer_pub);
    provision(&b, 12, issuer_priv, issuer_pub);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&a), 0x9000);
    cert_of(&b, cert_b);
    for (uint8_t n = 1; n <= 4; n++) {
        uint32_t a0 = audit_next(&a), b0 = audit_next(&b);
        ck_assert_uint_eq(export_key(&a, n, cert_b), 0x9000);
        size_t bl = a.resp_len;
        memcpy(blob, a.resp, bl);
        ck_assert_uint_eq(audit_next(&a), a0 + 1); /* key-exported, before the answer */
        ck_assert_uint_eq(import_key(&b, n, blob, bl), 0x9000);
        ck_assert_uint_eq(b.resp_len, 3);
        ck_assert(dir_kcv(&a, n, kcv_a));
        ck_assert(dir_kcv(&b, n, kcv_b));
        ck_assert_mem_eq(kcv_a, kcv_b, 3);
        ck_assert_mem_eq(b.resp, kcv_b, 3);
        ck_assert_uint_eq(audit_next(&b), b0 + 1); /* key-imported, in the key's commit */
        /* The blob names A as its source and B as its recipient. */
        keycard_wrapped_info info;
        ck_assert_int_eq(keycard_wrapped_parse(blob, bl, &info), KEYCARD_OK);
        ck_assert_mem_eq(info.to, cert_b + 2, 8);
        ck_assert_mem_eq(info.kcv, kcv_a, 3);
        /* The key's value is nowhere in the blob. */
        kc_issue_key k;
        ck_assert_int_eq(kc_issue_key_load(&((kc_keycard *)a.ctx)->store, n, &k), 0);
        ck_assert_ptr_null(memmem(blob, bl, k.key, k.key_len));
    }
    kc_test_card_free(&a);
    kc_test_card_free(&b);
}
END_TEST

/* The attacker's exports: every one refused, and none leaves an audit entry or a blob. */
START_TEST(test_export_refused)
{
    kc_test_card a, b, x, noiss;
    uint8_t cert_b[143], cert_x[143], cert_a[143], bad[143];
    provision(&a, 21, issuer_priv, issuer_pub);
    provision(&b, 22, issuer_priv, issuer_pub);
    provision(&x, 23, other_priv, other_pub); /* a genuine key card of another issuer */
    provision(&noiss, 24, issuer_priv, NULL); /* holds no issuer key */
    ck_assert_uint_eq(kc_test_card_provision_issuance(&a), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&noiss), 0x9000);
    cert_of(&b, cert_b);
    cert_of(&x, cert_x);
    cert_of(&a, cert_a);
    uint32_t a0 = audit_next(&a);

    ck_assert_uint_eq(export_key(&a, 1, cert_x), 0x6A80); /* another issuer */
    ck_assert_uint_eq(export_key(&a, 1, cert_a), 0x6A80); /* itself */
    memcpy(bad, cert_b, 143);
    bad[100] ^= 0x01; /* B's certificate, signature altered */
    ck_assert_uint_eq(export_key(&a, 1, bad), 0x6A80);
    memcpy(bad, cert_b, 143);
    uint8_t my_priv[32];
    ck_assert_int_eq(kcl_crypto_p256_keypair(my_priv, bad + 12), KEYCARD_OK);
    ck_assert_uint_eq(export_key(&a, 1, bad), 0x6A80); /* B's signature over the PC's own key */
    channel_sign(my_priv, bad, 77, bad + 79);
    ck_assert_uint_eq(export_key(&a, 1, bad), 0x6A80); /* signed by the PC's own key */
    memcpy(bad, cert_b, 143);
    bad[0] = 0xC2; /* framing */
    ck_assert_uint_eq(export_key(&a, 1, bad), 0x6A80);
    ck_assert_uint_eq(export_key(&a, 99, cert_b), 0x6A88); /* no such key */
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_KEY_EXPORT, 0, 0, cert_b, 143, 256), 0x6A86);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_KEY_EXPORT, 0, 1, cert_b, 142, 256), 0x6700);
    /* Without the admin key (a SELECT clears it). */
    ck_assert_uint_eq(kc_test_card_select(&a), 0x9000);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_KEY_EXPORT, 0, 1, cert_b, 143, 256), 0x6982);
    /* With the issuer and holder PINs only (what the issuing PC holds). */
    ck_assert_uint_eq(kc_test_card_unlock(&a), 0x9000);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_KEY_EXPORT, 0, 1, cert_b, 143, 256), 0x6982);
    /* Inside a provisioning session. */
    ck_assert_uint_eq(kc_test_card_verify_admin(&a), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&a, "80E00000"), 0x9000);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_KEY_EXPORT, 0, 1, cert_b, 143, 256), 0x6985);
    ck_assert_uint_eq(kc_test_card_sendx(&a, "80E80000"), 0x9000);
    ck_assert_uint_eq(audit_next(&a), a0 + 1); /* the unlock only: nothing exported, no entry */
    /* A card that holds no issuer key exports to nobody. */
    ck_assert_uint_eq(export_key(&noiss, 1, cert_b), 0x6985);
    /* And the genuine one works. */
    ck_assert_uint_eq(export_key(&a, 1, cert_b), 0x9000);
    /* A card with a certified channel key hands out and takes shares only inside it. */
    ck_assert_uint_eq(kc_test_card_verify_admin(&a), 0x9000);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_BACKUP, 0, 0, "\x02\x03", 2, 256), 0x6982);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_RESTORE, 3, 0, NULL, 0, 0), 0x6982);
    kc_test_card_free(&a);
    kc_test_card_free(&b);
    kc_test_card_free(&x);
    kc_test_card_free(&noiss);
}
END_TEST

/* The attacker's imports: every one refused, nothing stored, nothing logged. */
START_TEST(test_import_refused)
{
    kc_test_card a, b, c;
    uint8_t cert_b[143], blob[KC_KEYWRAP_MAX], bad[KC_KEYWRAP_MAX], kcv[3];
    provision(&a, 31, issuer_priv, issuer_pub);
    provision(&b, 32, issuer_priv, issuer_pub);
    provision(&c, 33, issuer_priv, issuer_pub);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&a), 0x9000);
    cert_of(&b, cert_b);
    ck_assert_uint_eq(export_key(&a, 2, cert_b), 0x9000);
    size_t bl = a.resp_len;
    memcpy(blob, a.resp, bl);
    uint32_t b0 = audit_next(&b), c0 = audit_next(&c);

    ck_assert_uint_eq(import_key(&c, 2, blob, bl), 0x6A80); /* addressed to B */
    ck_assert_uint_eq(import_key(&b, 3, blob, bl), 0x6A80); /* under another number */
    for (size_t pos = 0; pos < bl; pos += 7) {              /* altered anywhere */
        memcpy(bad, blob, bl);
        bad[pos] ^= 0x80;
        uint16_t sw = import_key(&b, pos == 3 ? (uint8_t)(2 ^ 0x80) : 2, bad, bl);
        ck_assert_msg(sw == 0x6A80 || sw == 0x6A86, "byte %zu: %04X", pos, sw);
    }
    ck_assert_uint_eq(import_key(&b, 2, blob, bl - 1), 0x6A80); /* cut short */
    ck_assert(!dir_kcv(&b, 2, kcv));
    ck_assert(!dir_kcv(&c, 2, kcv));
    ck_assert_uint_eq(audit_next(&b), b0);
    ck_assert_uint_eq(audit_next(&c), c0);
    /* Without the admin key. */
    ck_assert_uint_eq(kc_test_card_select(&b), 0x9000);
    ck_assert_uint_eq(send(&b, 0x80, KC_INS_KEY_IMPORT, 0, 2, blob, bl, 256), 0x6982);

    /* The genuine one, once; replayed after the key was replaced: refused. */
    ck_assert_uint_eq(import_key(&b, 2, blob, bl), 0x9000);
    uint8_t first[3];
    ck_assert(dir_kcv(&b, 2, first));
    uint8_t gen[3] = {KC_KEY_TYPE_AES256, KC_KEYF_ENVELOPE | KC_KEYF_COMMON, 0};
    ck_assert_uint_eq(kc_test_card_verify_admin(&b), 0x9000);
    ck_assert_uint_eq(send(&b, 0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 2, gen, 3, 3),
                      0x9000);
    ck_assert(dir_kcv(&b, 2, kcv));
    ck_assert_mem_ne(kcv, first, 3);
    ck_assert_uint_eq(import_key(&b, 2, blob, bl), 0x6985);
    uint8_t now[3];
    ck_assert(dir_kcv(&b, 2, now));
    ck_assert_mem_eq(now, kcv, 3); /* the newer key stays */
    kc_test_card_free(&a);
    kc_test_card_free(&b);
    kc_test_card_free(&c);
}
END_TEST

/* The offline preparer (libkeycard) to a card: the card takes it; KCV as computed on the PC. */
START_TEST(test_offline_wrap)
{
    kc_test_card b;
    uint8_t cert[143], blob[KEYCARD_WRAPPED_MAX], key[32], kcv[3];
    size_t bl;
    keycard_channel_key ck;
    provision(&b, 41, issuer_priv, issuer_pub);
    cert_of(&b, cert);
    ck_assert_int_eq(keycard_channel_cert_parse(cert, 143, issuer_pub, 65, &ck), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_cert_parse(cert, 143, other_pub, 65, &ck),
                     KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(keycard_channel_cert_parse(cert, 142, NULL, 0, &ck), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(keycard_channel_cert_parse(cert, 143, NULL, 0, &ck), KEYCARD_OK);
    uint8_t again[143];
    ck_assert_int_eq(keycard_channel_cert_encode(&ck, again), KEYCARD_OK);
    ck_assert_mem_eq(again, cert, 143);
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xC0 + i);
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      1, key, 32, blob, sizeof blob, &bl),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      1, key, 16, blob, sizeof blob, &bl),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      1, key, 32, blob, 100, &bl),
                     KEYCARD_ERR_BUFFER);
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      1, key, 32, blob, sizeof blob, &bl),
                     KEYCARD_OK);
    ck_assert_ptr_null(memmem(blob, bl, key, 32));
    /* Versions: 2 and 3 of the same number, wrapped now, for later. */
    uint8_t v2[KEYCARD_WRAPPED_MAX], v3[KEYCARD_WRAPPED_MAX], key2[32];
    size_t v2l, v3l;
    memset(key2, 0x77, sizeof key2);
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      2, key2, 32, v2, sizeof v2, &v2l),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      3, key2, 32, v3, sizeof v3, &v3l),
                     KEYCARD_OK);
    ck_assert_uint_eq(import_key(&b, 9, blob, bl), 0x9000); /* version 1 */
    ck_assert_int_eq(kcl_crypto_kcv(key, 32, kcv), KEYCARD_OK);
    ck_assert_mem_eq(b.resp, kcv, 3);
    ck_assert_uint_eq(import_key(&b, 9, blob, bl), 0x6985); /* replayed: not the next version */
    ck_assert_uint_eq(import_key(&b, 9, v3, v3l), 0x6985);  /* skips a version */
    ck_assert_uint_eq(import_key(&b, 9, v2, v2l), 0x9000);  /* version 2; 1 retired */
    ck_assert_uint_eq(import_key(&b, 9, v3, v3l), 0x6985);  /* two held: destroy 1 first */
    uint8_t dv[4] = {1};
    memcpy(dv + 1, kcv, 3);
    ck_assert_uint_eq(kc_test_card_verify_admin(&b), 0x9000);
    ck_assert_uint_eq(send(&b, 0x80, KC_INS_KEY_DESTROY, 0, 9, dv, 4, 0), 0x9000);
    ck_assert_uint_eq(import_key(&b, 9, blob, bl), 0x6985); /* destroyed stays destroyed */
    ck_assert_uint_eq(import_key(&b, 9, v3, v3l), 0x9000);  /* version 3; 2 retired */
    /* Deleted by a provisioning session: the number stays above what it held. */
    ck_assert_uint_eq(kc_test_card_verify_admin(&b), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&b, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&b, "80E22109"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&b, "80E60000"), 0x9000);
    ck_assert_uint_eq(import_key(&b, 9, v3, v3l), 0x6985); /* version 3 again */
    uint8_t v4[KEYCARD_WRAPPED_MAX];
    size_t v4l;
    ck_assert_int_eq(keycard_key_wrap(&ck, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "pin-key",
                                      4, key2, 32, v4, sizeof v4, &v4l),
                     KEYCARD_OK);
    ck_assert_uint_eq(import_key(&b, 9, v4, v4l), 0x9000);
    kc_test_card_free(&b);
}
END_TEST

/* The issuer key a card holds is written once: a later session cannot swap it. */
START_TEST(test_issuer_pub_once)
{
    kc_test_card a;
    provision(&a, 51, issuer_priv, issuer_pub);
    ck_assert_uint_eq(kc_test_card_verify_admin(&a), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&a, "80E00000"), 0x9000);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC1, other_pub, 65, 0), 0x6985);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC1, issuer_pub, 65, 0), 0x9000);
    uint8_t junk[65];
    memcpy(junk, issuer_pub, 65);
    junk[64] ^= 1; /* not a point of the curve */
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC1, junk, 65, 0), 0x6A80);
    ck_assert_uint_eq(send(&a, 0x80, KC_INS_PROVISION_PUT, 0x00, 0xC1, junk, 64, 0), 0x6A80);
    ck_assert_uint_eq(kc_test_card_sendx(&a, "80E60000"), 0x9000);
    uint8_t held[65];
    ck_assert_int_eq(
        kc_store_read_exact(&((kc_keycard *)a.ctx)->store, KC_KEY_ISSUER_PUB, held, 65), 0);
    ck_assert_mem_eq(held, issuer_pub, 65);
    kc_test_card_free(&a);
}
END_TEST

/* The retired version's key bytes anywhere on the flash image? */
static int on_flash(const kc_test_card *t, const uint8_t *key, size_t len)
{
    return memmem(t->mem, kc_keycard_card.flash_size, key, len) != NULL;
}

/*
 * Versions: key 1 made again is version 2, the demo's key 1 is retired (kept,
 * listed, never used); KEY DESTROY names it by version and KCV, logs it, and
 * afterwards no byte of it is on the flash: also when the power is cut at any
 * flash operation of the destruction (the next boot finishes the erase).
 */
START_TEST(test_destroy_zeroizes)
{
    kc_test_card t;
    uint8_t old[16], kcv1[3], dv[4];
    provision(&t, 71, issuer_priv, issuer_pub);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&t), 0x9000);
    kc_test_hex(KC_TEST_KEY1_HEX, old, sizeof old);
    ck_assert(dir_kcv(&t, 1, kcv1));
    ck_assert(on_flash(&t, old, 16));
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);
    uint8_t gen[3] = {KC_KEY_TYPE_AES128, KC_KEYF_ENVELOPE | KC_KEYF_STATIC, 0};
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 1, gen, 3, 3),
                      0x9000);
    /* The versions directory: key 1 at version 2, version 1 retired with its KCV. */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0900"), 0x9000);
    ck_assert_uint_eq(t.resp[0], 1);
    ck_assert_uint_eq(t.resp[1], 2);
    ck_assert_uint_eq(t.resp[2], 1);
    ck_assert_mem_eq(t.resp + 3, kcv1, 3);
    ck_assert(on_flash(&t, old, 16));
    /* Refused: another version, another KCV, a key with no retired version, a third version. */
    dv[0] = 2;
    memcpy(dv + 1, kcv1, 3);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_KEY_DESTROY, 0, 1, dv, 4, 0), 0x6A80);
    dv[0] = 1;
    dv[3] ^= 1;
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_KEY_DESTROY, 0, 1, dv, 4, 0), 0x6A80);
    dv[3] ^= 1;
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_KEY_DESTROY, 0, 3, dv, 4, 0), 0x6A88);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 1, gen, 3, 3),
                      0x6985);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_KEY_DESTROY, 0, 1, dv, 4, 0), 0x6982);
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);

    /* Snapshot, then the destruction cut at every flash operation. */
    size_t fs = kc_keycard_card.flash_size, cs = kc_keycard_card.ctx_size;
    uint8_t *mem0 = malloc(fs), *ctx0 = malloc(cs);
    ck_assert(mem0 && ctx0);
    memcpy(mem0, t.mem, fs);
    memcpy(ctx0, t.ctx, cs);
    kc_hw_ram ram0 = t.ram;
    unsigned long ops0 = t.ram.ops, done = 0, cuts = 0;
    for (long cut = 0;; cut++) {
        memcpy(t.mem, mem0, fs);
        memcpy(t.ctx, ctx0, cs);
        t.ram = ram0;
        t.ram.cut_after = (long)ops0 + cut;
        t.ram.cut_mode = (int)(cut % KC_HW_RAM_CUT_MODES);
        uint16_t sw = send(&t, 0x80, KC_INS_KEY_DESTROY, 0, 1, dv, 4, 0);
        if (!t.ram.dead) {
            ck_assert_uint_eq(sw, 0x9000); /* ran to the end: no cut left to try */
            break;
        }
        cuts++;
        ck_assert_int_eq(kc_test_card_reboot(&t), 0);
        kc_keycard *kc = t.ctx;
        const uint8_t *d;
        size_t len;
        int gone = kc_store_get(&kc->store, KC_KEY_RETIRED_KEY(1), &d, &len) != 0;
        if (gone) {
            done++;
            ck_assert_msg(!on_flash(&t, old, 16), "cut %ld: destroyed, but its bytes remain",
                          cut);
        }
        ck_assert(dir_kcv(&t, 1, kcv1)); /* the current version is never touched */
    }
    t.ram.cut_after = -1;
    printf("key destroy: cut at each of %lu flash operations; %lu after the commit, each left "
           "no byte of the key on flash\n",
           cuts, done);
    ck_assert_uint_gt(cuts, 10);
    ck_assert_uint_gt(done, 0);
    ck_assert(!on_flash(&t, old, 16));
    /* Logged, and the retired version is gone from the directory. */
    kc_keycard *kc = t.ctx;
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0900"), 0x9000);
    ck_assert_uint_eq(t.resp[2], 0);
    ck_assert_uint_eq(t.resp[6], 1); /* highest destroyed */
    uint8_t rd[4] = {(uint8_t)((kc_audit_next(&kc->store) - 1) >> 24),
                     (uint8_t)((kc_audit_next(&kc->store) - 1) >> 16),
                     (uint8_t)((kc_audit_next(&kc->store) - 1) >> 8),
                     (uint8_t)(kc_audit_next(&kc->store) - 1)};
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_AUDIT_READ, 0, 0, rd, 4, 256), 0x9000);
    ck_assert_uint_eq(t.resp[8], KC_AUDIT_EVT_KEY_DESTROYED);
    /* A third version may now be made. */
    ck_assert_uint_eq(send(&t, 0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 1, gen, 3, 3),
                      0x9000);
    free(mem0);
    free(ctx0);
    kc_test_card_free(&t);
}
END_TEST

static Suite *keywrap_suite(void)
{
    Suite *s = suite_create("keywrap");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, issuers_setup, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vectors);
    tcase_add_test(tc, test_clone);
    tcase_add_test(tc, test_export_refused);
    tcase_add_test(tc, test_import_refused);
    tcase_add_test(tc, test_offline_wrap);
    tcase_add_test(tc, test_issuer_pub_once);
    tcase_add_test(tc, test_destroy_zeroizes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keywrap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
