/*
 * test_crypto.c - Check suite for the firmware crypto module
 * (keycard/kc_crypto.c): known-answer vectors for every primitive, the
 * constant-time compare, and P-256 key generation and signing.
 *
 * Vector sources: SHA-256 FIPS 180-2 examples; HMAC RFC 4231; ECDSA RFC 6979
 * A.2.5 (P-256, SHA-256, deterministic k). The labelled-hash and PBKDF2 vectors
 * (the API fixes a 16-byte salt, which no RFC vector uses) were computed with
 * Python's hashlib (OpenSSL), an independent implementation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>

#include "hw/kc_hw_ram.h"
#include "kc_crypto.h"
#include "kc_err.h"

/* Decode hex into out (cap bytes); returns the byte count. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    ck_assert_uint_le(n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void expect_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    uint8_t want[128];
    size_t n = unhex(want_hex, want, sizeof want);
    ck_assert_uint_eq(n, len);
    ck_assert_mem_eq(got, want, len);
}

/* ---- SHA-256 with and without label ------------------------------------ */

static const struct {
    const char *label; /* NULL: plain SHA-256 */
    const char *msg;
    const char *digest;
} sha_vec[] = {
    {NULL, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {NULL, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {NULL, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    /* label || NUL || msg */
    {"ab", "c", "6c032e631d39a14d85aff7e319546af701e26c97b57ca95fbfe9c6ba855f67bf"},
    {"abc", "", "dc1114cd074914bd872cc1f9a23ec910ea2203bc79779ab2e17da25782a624fc"},
    {"keycard identity v1", "abc",
     "bc49bb292b7681c0cd262fe3ce11a79b7b618b5699053558ce78e7b74ba4e6bc"},
};

START_TEST(test_sha256)
{
    uint8_t out[32];
    const char *m = sha_vec[_i].msg;
    ck_assert_int_eq(kc_crypto_sha256(sha_vec[_i].label, (const uint8_t *)m, strlen(m), out), 0);
    expect_hex(out, 32, sha_vec[_i].digest);
}
END_TEST

START_TEST(test_sha256_label_separates)
{
    uint8_t a[32], b[32], c[32];
    ck_assert_int_eq(kc_crypto_sha256("ab", (const uint8_t *)"c", 1, a), 0);
    ck_assert_int_eq(kc_crypto_sha256("a", (const uint8_t *)"bc", 2, b), 0);
    ck_assert_int_eq(kc_crypto_sha256(NULL, (const uint8_t *)"abc", 3, c), 0);
    ck_assert(memcmp(a, b, 32) != 0);
    ck_assert(memcmp(a, c, 32) != 0);
    /* An empty label still hashes its NUL. */
    ck_assert_int_eq(kc_crypto_sha256("", (const uint8_t *)"abc", 3, a), 0);
    ck_assert(memcmp(a, c, 32) != 0);
}
END_TEST

/* ---- HMAC-SHA-256, RFC 4231 -------------------------------------------- */

static const struct {
    const char *key_hex;
    const char *msg;
    const char *mac;
} hmac_vec[] = {
    /* Test case 1 */
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    /* Test case 2 ("Jefe") */
    {"4a656665", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    /* Test case 6: 131-byte key, hashed first */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
};

START_TEST(test_hmac)
{
    uint8_t key[200], out[32];
    size_t kl = unhex(hmac_vec[_i].key_hex, key, sizeof key);
    const char *m = hmac_vec[_i].msg;
    ck_assert_int_eq(kc_crypto_hmac_sha256(key, kl, (const uint8_t *)m, strlen(m), out), 0);
    expect_hex(out, 32, hmac_vec[_i].mac);
}
END_TEST

/* ---- PBKDF2-HMAC-SHA-256 verifier -------------------------------------- */

static const struct {
    const char *secret;
    const char *salt_hex; /* 16 bytes */
    uint32_t iter;
    const char *out;
} pbkdf2_vec[] = {
    {"123456", "000102030405060708090a0b0c0d0e0f", 1,
     "3e005bd6639cb50a28e9a565a3ec5ff891bb907d33267d7886ee013359c128c1"},
    {"13579135", "000102030405060708090a0b0c0d0e0f", 1000,
     "ba38772f8a9701f569815ac0f985c97c894a5e73029c98915d12f1add4b378fa"},
    {"", "73616c7453414c5473616c7453414c54", 2, /* "saltSALTsaltSALT" */
     "2008a880ba63a227a7ad473572ef54da6716da139fa7a055762cf7d455672d85"},
};

START_TEST(test_verifier)
{
    uint8_t salt[16], out[32];
    ck_assert_uint_eq(unhex(pbkdf2_vec[_i].salt_hex, salt, sizeof salt), 16);
    const char *p = pbkdf2_vec[_i].secret;
    ck_assert_int_eq(
        kc_crypto_verifier((const uint8_t *)p, strlen(p), salt, pbkdf2_vec[_i].iter, out), 0);
    expect_hex(out, 32, pbkdf2_vec[_i].out);
}
END_TEST

START_TEST(test_verifier_zero_iterations)
{
    uint8_t salt[16] = {0}, out[32];
    ck_assert_int_eq(kc_crypto_verifier((const uint8_t *)"1234", 4, salt, 0, out), KC_ERR_CRYPTO);
}
END_TEST

/* ---- constant-time helpers ------------------------------------------- */

static const struct {
    const char *a, *b;
    size_t len;
    int eq;
} ct_vec[] = {
    {"", "", 0, 1},
    {"abcdef", "abcdef", 6, 1},
    {"abcdef", "xbcdef", 6, 0}, /* first byte */
    {"abcdef", "abcdex", 6, 0}, /* last byte */
    {"abcdef", "abcDef", 6, 0}, /* one bit (0x20) in the middle */
    {"\x01", "\x00", 1, 0},
    {"\x80", "\x00", 1, 0},
    {"\xff\xff", "\xff\xff", 2, 1},
    {"abcdef", "abcdex", 5, 1}, /* only len bytes count */
};

START_TEST(test_ct_equal)
{
    ck_assert_int_eq(kc_ct_equal(ct_vec[_i].a, ct_vec[_i].b, ct_vec[_i].len), ct_vec[_i].eq);
}
END_TEST

START_TEST(test_wipe)
{
    uint8_t buf[37];
    static const uint8_t zero[37];
    memset(buf, 0xA5, sizeof buf);
    kc_wipe(buf, sizeof buf);
    ck_assert_mem_eq(buf, zero, sizeof buf);
    kc_wipe(NULL, 10); /* harmless */
}
END_TEST

/* ---- P-256 -------------------------------------------------------------- */

static int verify(const uint8_t pub[65], const uint8_t hash[32], const uint8_t sig[64])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    int rc;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (!rc)
        rc = mbedtls_ecp_point_read_binary(&grp, &q, pub, 65);
    if (!rc)
        rc = mbedtls_ecp_check_pubkey(&grp, &q);
    if (!rc)
        rc = mbedtls_mpi_read_binary(&r, sig, 32);
    if (!rc)
        rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
    if (!rc)
        rc = mbedtls_ecdsa_verify(&grp, hash, 32, &q, &r, &s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

START_TEST(test_p256_roundtrip)
{
    static uint8_t mem[4096];
    kc_hw_ram r;
    kc_hw hw;
    uint8_t priv[32], pub[65], hash[32], sig[64], sig2[64];
    ck_assert_int_eq(kc_hw_ram_init(&r, mem, sizeof mem, 1024, &hw), 0);
    kc_hw_ram_seed(&r, 7);

    ck_assert_int_eq(kc_crypto_p256_generate(&hw, priv, pub), 0);
    ck_assert_uint_eq(pub[0], 0x04);
    ck_assert_int_eq(kc_crypto_sha256("keycard internal-authenticate v1",
                                      (const uint8_t *)"challenge", 9, hash), 0);
    ck_assert_int_eq(kc_crypto_p256_sign(&hw, priv, hash, sig), 0);
    ck_assert_int_eq(verify(pub, hash, sig), 0);
    /* Deterministic nonce: the same signature whatever the RNG says. */
    kc_hw_ram_seed(&r, 99);
    ck_assert_int_eq(kc_crypto_p256_sign(&hw, priv, hash, sig2), 0);
    ck_assert_mem_eq(sig, sig2, 64);
    ck_assert_int_eq(kc_crypto_p256_sign(NULL, priv, hash, sig2), 0);
    ck_assert_mem_eq(sig, sig2, 64);
    /* A changed hash or signature does not verify. */
    hash[0] ^= 1;
    ck_assert_int_ne(verify(pub, hash, sig), 0);
    hash[0] ^= 1;
    sig[63] ^= 1;
    ck_assert_int_ne(verify(pub, hash, sig), 0);

    /* Two keys from a seeded RNG differ from each other. */
    uint8_t priv2[32], pub2[65];
    ck_assert_int_eq(kc_crypto_p256_generate(&hw, priv2, pub2), 0);
    ck_assert(memcmp(priv, priv2, 32) != 0);
    ck_assert(memcmp(pub, pub2, 65) != 0);
}
END_TEST

/* RFC 6979 A.2.5: P-256, SHA-256, message "sample". */
START_TEST(test_p256_rfc6979)
{
    uint8_t priv[32], hash[32], sig[64];
    unhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", priv, 32);
    ck_assert_int_eq(kc_crypto_sha256(NULL, (const uint8_t *)"sample", 6, hash), 0);
    ck_assert_int_eq(kc_crypto_p256_sign(NULL, priv, hash, sig), 0);
    expect_hex(sig, 64,
               "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
               "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
    uint8_t pub[65];
    pub[0] = 0x04;
    unhex("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
          "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
          pub + 1, 64);
    ck_assert_int_eq(verify(pub, hash, sig), 0);
}
END_TEST

START_TEST(test_p256_errors)
{
    static uint8_t mem[4096];
    kc_hw_ram r;
    kc_hw hw;
    uint8_t priv[32], pub[65], hash[32] = {1}, sig[64];
    static const uint8_t zero[32], order[32] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
    ck_assert_int_eq(kc_hw_ram_init(&r, mem, sizeof mem, 1024, &hw), 0);
    r.rng_fail = 1;
    memset(priv, 0xAA, sizeof priv);
    ck_assert_int_eq(kc_crypto_p256_generate(&hw, priv, pub), KC_ERR_RNG);
    ck_assert_mem_eq(priv, zero, 32); /* nothing half-made is left behind */
    ck_assert_int_eq(kc_crypto_p256_generate(NULL, priv, pub), KC_ERR_RNG);
    /* Private keys outside [1, n-1] are refused. */
    ck_assert_int_eq(kc_crypto_p256_sign(NULL, zero, hash, sig), KC_ERR_CRYPTO);
    ck_assert_int_eq(kc_crypto_p256_sign(NULL, order, hash, sig), KC_ERR_CRYPTO);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("kat");
    tcase_add_loop_test(tc, test_sha256, 0, (int)(sizeof sha_vec / sizeof sha_vec[0]));
    tcase_add_test(tc, test_sha256_label_separates);
    tcase_add_loop_test(tc, test_hmac, 0, (int)(sizeof hmac_vec / sizeof hmac_vec[0]));
    tcase_add_loop_test(tc, test_verifier, 0, (int)(sizeof pbkdf2_vec / sizeof pbkdf2_vec[0]));
    tcase_add_test(tc, test_verifier_zero_iterations);
    suite_add_tcase(s, tc);

    tc = tcase_create("ct");
    tcase_add_loop_test(tc, test_ct_equal, 0, (int)(sizeof ct_vec / sizeof ct_vec[0]));
    tcase_add_test(tc, test_wipe);
    suite_add_tcase(s, tc);

    tc = tcase_create("p256");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_p256_roundtrip);
    tcase_add_test(tc, test_p256_rfc6979);
    tcase_add_test(tc, test_p256_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
