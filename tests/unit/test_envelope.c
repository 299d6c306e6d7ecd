/*
 * test_envelope.c - Check suite for the issuance crypto core
 * (keycard/kc_envelope.c and the symmetric primitives it adds to
 * keycard/kc_crypto.c).
 *
 * Known answers come from the JSON files in tests/vectors/, written by
 * tests/vectors/gen_vectors.py, an independent Python implementation over
 * the `cryptography` package (OpenSSL); CMAC is anchored to RFC 4493.
 * The vectors are read relative to the repository root (the directory the
 * unit tests run from) or from $KC_VECTORS_DIR. Negative tests: every single
 * bit flip of counter, ciphertext, tag and AAD inputs, wrong keys, wrong
 * counters, full buckets, malformed lengths (each truncation is checked in an
 * exactly sized heap copy so valgrind would see an overread).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_crypto.h"
#include "kc_envelope.h"
#include "kc_err.h"
#include "support/kc_test_target.h"
#include "support/kc_vectors.h"
#include "tc_keys.h"

/* The array member key of obj, non-empty. */
static json_t *rows(json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);
    ck_assert_msg(json_is_array(a) && json_array_size(a) > 0, "no rows '%s'", key);
    return a;
}

static uint32_t intf(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_integer(v), "missing integer '%s'", key);
    return (uint32_t)json_integer_value(v);
}

static void expect(const uint8_t *got, size_t len, json_t *obj, const char *key, size_t idx)
{
    uint8_t want[2048];
    size_t n = kc_vectors_hex(obj, key, want, sizeof want);
    ck_assert_msg(n == len, "row %zu '%s': length %zu, want %zu", idx, key, len, n);
    ck_assert_msg(memcmp(got, want, len) == 0, "row %zu '%s' differs", idx, key);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ---- CMAC and KDF -------------------------------------------------------- */

START_TEST(test_cmac_kat)
{
    json_t *j = kc_vectors_load("kdf.json"), *a = rows(j, "cmac"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t key[32], msg[128], mac[16];
        size_t kl = kc_vectors_hex(v, "key", key, sizeof key);
        size_t ml = kc_vectors_hex(v, "msg", msg, sizeof msg);
        ck_assert_int_eq(kc_crypto_aes_cmac(key, kl, msg, ml, mac), 0);
        expect(mac, 16, v, "mac", i);
    }
    json_decref(j);
}
END_TEST

START_TEST(test_cmac_parts_equal_whole)
{
    uint8_t key[32], msg[100], a[16], b[16];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(3 * i);
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i ^ 0x5A);
    kc_iov parts[4] = {{msg, 7}, {NULL, 0}, {msg + 7, 50}, {msg + 57, 43}};
    ck_assert_int_eq(kc_crypto_aes_cmac(key, 32, msg, sizeof msg, a), 0);
    ck_assert_int_eq(kc_crypto_aes_cmac_v(key, 32, parts, 4, b), 0);
    ck_assert_mem_eq(a, b, 16);
    ck_assert_int_eq(kc_crypto_aes_cmac(key, 24, msg, 1, a), KC_ERR_ARG);
}
END_TEST

START_TEST(test_kdf_kat)
{
    json_t *j = kc_vectors_load("kdf.json"), *a = rows(j, "kdf"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t key[32], ctx[64], out[128], alias[128];
        size_t kl = kc_vectors_hex(v, "key", key, sizeof key);
        size_t cl = kc_vectors_hex(v, "context", ctx, sizeof ctx);
        const char *label = json_string_value(json_object_get(v, "label"));
        size_t ol = intf(v, "L") / 8;
        ck_assert_ptr_nonnull(label);
        ck_assert_int_eq(kc_crypto_kdf(key, kl, label, cl ? ctx : NULL, cl, out, ol), 0);
        expect(out, ol, v, "out", i);
        /* Output over the key (as the chain step does). */
        if (ol >= kl) {
            memcpy(alias, key, kl);
            ck_assert_int_eq(kc_crypto_kdf(alias, kl, label, ctx, cl, alias, ol), 0);
            expect(alias, ol, v, "out", i);
        }
    }
    json_decref(j);
}
END_TEST

START_TEST(test_siv_kat)
{
    json_t *j = kc_vectors_load("kdf.json"), *a = rows(j, "siv"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        static uint8_t pt[1100], out[1100], back[1100], want[1200];
        uint8_t key[64], ads[4][64], siv[16];
        kc_iov ad[4];
        json_t *al = json_object_get(v, "ad"), *x;
        size_t kl = kc_vectors_hex(v, "key", key, sizeof key), k;
        size_t n = kc_vectors_hex(v, "plaintext", pt, sizeof pt);
        size_t wl = kc_vectors_hex(v, "out", want, sizeof want);
        ck_assert_uint_le(json_array_size(al), 4);
        json_array_foreach(al, k, x)
        {
            const char *sx = json_string_value(x);
            ad[k].len = strlen(sx) / 2;
            for (size_t q = 0; q < ad[k].len; q++)
                sscanf(sx + 2 * q, "%2hhx", &ads[k][q]);
            ad[k].p = ads[k];
        }
        ck_assert_uint_eq(wl, 16 + n);
        ck_assert_int_eq(kc_crypto_aes_siv_seal(key, kl, ad, k, pt, n, out, siv), 0);
        ck_assert_mem_eq(siv, want, 16);
        ck_assert_mem_eq(out, want + 16, n);
        ck_assert_int_eq(kc_crypto_aes_siv_open(key, kl, ad, k, out, n, siv, back), 0);
        ck_assert_mem_eq(back, pt, n);
        /* One flipped bit of ciphertext or V: refused, nothing released. */
        out[0] ^= 0x01;
        ck_assert_int_eq(kc_crypto_aes_siv_open(key, kl, ad, k, out, n, siv, back), KC_ERR_AUTH);
        ck_assert(all_zero(back, n));
        out[0] ^= 0x01;
        siv[15] ^= 0x80;
        ck_assert_int_eq(kc_crypto_aes_siv_open(key, kl, ad, k, out, n, siv, back), KC_ERR_AUTH);
    }
    ck_assert_uint_ge(i, 2);
    json_decref(j);
}
END_TEST

START_TEST(test_kdf_args)
{
    uint8_t key[32] = {0}, out[4096];
    ck_assert_int_eq(kc_crypto_kdf(key, 24, "x", NULL, 0, out, 16), KC_ERR_ARG);
    ck_assert_int_eq(kc_crypto_kdf(key, 16, "x", NULL, 0, out, 0), KC_ERR_ARG);
    ck_assert_int_eq(kc_crypto_kdf(key, 16, "x", NULL, 0, out, 4081), KC_ERR_ARG);
    ck_assert_int_eq(kc_crypto_kdf(key, 16, NULL, NULL, 0, out, 16), KC_ERR_ARG);
    ck_assert_int_eq(kc_crypto_kdf(key, 16, "x", NULL, 3, out, 16), KC_ERR_ARG);
    ck_assert_int_eq(kc_crypto_kdf(key, 16, "x", NULL, 0, out, 4080), 0);
}
END_TEST

/* ---- diversification, chain, static mode --------------------------------- */

START_TEST(test_diversify_kat)
{
    json_t *j = kc_vectors_load("diversify.json"), *a = rows(j, "vectors"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t master[32], serial[8], kcard[32];
        size_t ml = kc_vectors_hex(v, "master", master, sizeof master);
        ck_assert_uint_eq(kc_vectors_hex(v, "serial", serial, 8), 8);
        ck_assert_int_eq(kc_env_diversify(master, ml, serial, kcard), 0);
        expect(kcard, ml, v, "kcard", i);
        /* In place. */
        ck_assert_int_eq(kc_env_diversify(master, ml, serial, master), 0);
        expect(master, ml, v, "kcard", i);
    }
    json_decref(j);
}
END_TEST

START_TEST(test_chain_kat)
{
    json_t *j = kc_vectors_load("chain.json"), *a = rows(j, "runs"), *v;
    size_t i, nchain = 0;
    json_array_foreach(a, i, v)
    {
        uint8_t master[32], serial[8], kcard[32], nt[16], nk[16], seed[16], r[32], base[32];
        uint8_t sctx[KC_ENV_SCTX_LEN];
        size_t ml = kc_vectors_hex(v, "master", master, sizeof master);
        int has_seed = json_is_string(json_object_get(v, "seed"));
        const char *mode = json_string_value(json_object_get(v, "mode"));
        json_t *steps = rows(v, "steps"), *s;
        size_t k;

        ck_assert_ptr_nonnull(mode);
        kc_vectors_hex(v, "serial", serial, 8);
        ck_assert_int_eq(kc_env_diversify(master, ml, serial, kcard), 0);
        expect(kcard, ml, v, "kcard", i);
        kc_vectors_hex(v, "nt", nt, 16);
        kc_vectors_hex(v, "nk", nk, 16);
        if (has_seed)
            kc_vectors_hex(v, "seed", seed, 16);
        kc_env_session_ctx(sctx, serial, nt, nk, has_seed ? seed : NULL);
        /* The buffer has room for an options byte; an unpacked context is 56 bytes. */
        ck_assert_uint_eq(kc_env_sctx_len(sctx), KC_ENV_SCTX_BASE_LEN);
        expect(sctx, kc_env_sctx_len(sctx), v, "sctx", i);
        if (strcmp(mode, "chain") == 0) {
            nchain++;
            ck_assert_int_eq(kc_env_chain_seed(kcard, ml, sctx, r), 0);
            expect(r, 32, v, "r0", i);
        } else {
            ck_assert_int_eq(kc_env_static_base(kcard, ml, sctx, base), 0);
            expect(base, 32, v, "base", i);
        }
        json_array_foreach(steps, k, s)
        {
            uint8_t kenv[KC_ENV_KENV_LEN], kresp[16];
            uint32_t c = intf(s, "c");
            if (strcmp(mode, "chain") == 0)
                ck_assert_int_eq(kc_env_chain_step(r, serial, c), 0);
            else
                ck_assert_int_eq(kc_env_static_key(base, 32, serial, c, r), 0);
            expect(r, 32, s, "r", i);
            ck_assert_int_eq(kc_env_keys(r, serial, c, kenv, kresp), 0);
            expect(kenv, KC_ENV_KENV_LEN, s, "kenv", i);
            expect(kresp, 16, s, "kresp", i);
        }
    }
    ck_assert_uint_ge(nchain, 3);
    json_decref(j);
}
END_TEST

START_TEST(test_chain_args)
{
    uint8_t r[32] = {1}, serial[8] = {2}, k[16] = {3};
    ck_assert_int_eq(kc_env_chain_step(r, serial, 0), KC_ERR_ARG);
    ck_assert_int_eq(kc_env_static_key(k, 16, serial, 0, r), KC_ERR_ARG);
    ck_assert_int_eq(kc_env_chain_seed(k, 16, NULL, r), KC_ERR_ARG);
    ck_assert_int_eq(kc_env_static_key(k, 20, serial, 1, r), KC_ERR_ARG);
    ck_assert_int_eq(kc_env_diversify(k, 24, serial, r), KC_ERR_ARG);
}
END_TEST

/* ---- envelopes: known answers ------------------------------------------- */

typedef struct env_vec {
    uint8_t r[32], serial[8], hdr[4], data[1024], apdu[KC_ENV_APDU_MAX];
    size_t data_len, apdu_len, bucket;
    uint32_t c;
} env_vec;

static void env_read(json_t *v, env_vec *e)
{
    kc_vectors_hex(v, "r", e->r, 32);
    kc_vectors_hex(v, "serial", e->serial, 8);
    kc_vectors_hex(v, "hdr", e->hdr, 4);
    e->data_len = kc_vectors_hex(v, "data", e->data, sizeof e->data);
    e->apdu_len = kc_vectors_hex(v, "apdu", e->apdu, sizeof e->apdu);
    e->bucket = intf(v, "bucket");
    e->c = intf(v, "c");
}

START_TEST(test_envelope_kat)
{
    json_t *j = kc_vectors_load("envelope.json"), *a = rows(j, "vectors"), *v;
    size_t i;
    unsigned seen = 0, ext = 0;
    json_array_foreach(a, i, v)
    {
        static env_vec e;
        uint8_t apdu[KC_ENV_APDU_MAX], hdr[4], data[1024], kenv[KC_ENV_KENV_LEN], kresp[16];
        size_t alen = sizeof apdu, dlen = sizeof data, b = 0;

        env_read(v, &e);
        ck_assert_int_eq(kc_env_keys(e.r, e.serial, e.c, kenv, kresp), 0);
        expect(kenv, KC_ENV_KENV_LEN, v, "kenv", i);
        expect(kresp, 16, v, "kresp", i);
        ck_assert_int_eq(
            kc_env_seal(e.r, e.serial, e.c, e.bucket, e.hdr, e.data, e.data_len, apdu, &alen), 0);
        expect(apdu, alen, v, "apdu", i);
        ck_assert_int_eq(kc_env_open(e.r, e.serial, e.c, e.apdu, e.apdu_len, hdr, data, &dlen, &b),
                         0);
        ck_assert_mem_eq(hdr, e.hdr, 4);
        ck_assert_uint_eq(dlen, e.data_len);
        ck_assert_mem_eq(data, e.data, dlen);
        ck_assert_uint_eq(b, e.bucket);
        /* The same through the data-field entry point. */
        {
            size_t off = e.apdu[4] ? 5 : 7, blen = 4 + e.bucket + 16;
            dlen = sizeof data;
            memset(hdr, 0, 4);
            ck_assert_int_eq(kc_env_open_body(e.r, e.serial, e.c, e.apdu + off, blen, hdr, data,
                                              &dlen, &b),
                             0);
            ck_assert_mem_eq(hdr, e.hdr, 4);
            ck_assert_uint_eq(dlen, e.data_len);
            ck_assert_mem_eq(data, e.data, dlen);
            /* A body one byte off its bucket size. */
            dlen = sizeof data;
            ck_assert_int_eq(kc_env_open_body(e.r, e.serial, e.c, e.apdu + off, blen - 1, hdr,
                                              data, &dlen, &b),
                             KC_ERR_ENV_FORMAT);
            ck_assert(all_zero(hdr, 4));
            /* And with the counter's keyset (the target's way): the same inner command. */
            kc_env_keyset ks;
            ck_assert_int_eq(kc_env_keyset_derive(e.r, e.serial, e.c, &ks), 0);
            ck_assert_mem_eq(ks.kenv, kenv, KC_ENV_KENV_LEN);
            ck_assert_mem_eq(ks.kresp, kresp, 16);
            dlen = sizeof data;
            memset(hdr, 0, 4);
            ck_assert_int_eq(kc_env_open_keyed(&ks, e.serial, e.c, e.apdu + off, blen, hdr, data,
                                               &dlen, &b),
                             0);
            ck_assert_mem_eq(hdr, e.hdr, 4);
            ck_assert_uint_eq(dlen, e.data_len);
            ck_assert_mem_eq(data, e.data, dlen);
            dlen = sizeof data;
            ck_assert_int_eq(kc_env_open_keyed(&ks, e.serial, e.c + 1, e.apdu + off, blen, hdr,
                                               data, &dlen, &b),
                             KC_ERR_ENV_COUNTER);
        }
        for (unsigned k = 0; k < 5; k++)
            if (e.bucket == (64u << k))
                seen |= 1u << k;
        if (json_is_true(json_object_get(v, "extended"))) {
            ext++;
            ck_assert_uint_eq(e.apdu[4], 0x00);
        }
    }
    ck_assert_uint_eq(seen, 0x1F); /* every bucket size */
    ck_assert_uint_gt(ext, 0);
    json_decref(j);
}
END_TEST

START_TEST(test_envelope_bad_padding)
{
    json_t *j = kc_vectors_load("envelope.json"), *a = rows(j, "bad_padding"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t r[32], serial[8], apdu[KC_ENV_APDU_MAX], hdr[4], data[1024];
        size_t alen, dlen = sizeof data;
        kc_vectors_hex(v, "r", r, 32);
        kc_vectors_hex(v, "serial", serial, 8);
        alen = kc_vectors_hex(v, "apdu", apdu, sizeof apdu);
        memset(data, 0xAA, sizeof data);
        memset(hdr, 0xAA, 4);
        ck_assert_msg(kc_env_open(r, serial, intf(v, "c"), apdu, alen, hdr, data, &dlen, NULL) ==
                          KC_ERR_BAD_DATA,
                      "bad padding row %zu accepted", i);
        ck_assert(all_zero(data, sizeof data));
        ck_assert(all_zero(hdr, 4));
    }
    json_decref(j);
}
END_TEST

/* ---- envelopes: tampering ----------------------------------------------- */

/* The first vector of the given bucket. */
static void env_pick(size_t bucket, env_vec *e)
{
    json_t *j = kc_vectors_load("envelope.json"), *a = rows(j, "vectors"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        if (intf(v, "bucket") == bucket) {
            env_read(v, e);
            json_decref(j);
            return;
        }
    }
    json_decref(j);
    ck_abort_msg("no vector for bucket %zu", bucket);
}

/* Open apdu (len bytes) with the vector's key material; output must be wiped on error. */
static int try_open(const env_vec *e, const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                    const uint8_t *apdu, size_t len)
{
    static uint8_t data[1024];
    uint8_t hdr[4];
    size_t dlen = sizeof data;
    int rc;
    (void)e;
    memset(data, 0xAA, sizeof data);
    rc = kc_env_open(r, serial, c, apdu, len, hdr, data, &dlen, NULL);
    if (rc)
        ck_assert_msg(all_zero(data, sizeof data) && all_zero(hdr, 4), "output not wiped");
    return rc;
}

static const size_t flip_buckets[] = {64, 256};

START_TEST(test_envelope_bitflips)
{
    static env_vec e;
    static uint8_t m[KC_ENV_APDU_MAX];
    size_t off;

    env_pick(flip_buckets[_i], &e);
    off = e.apdu_len - e.bucket - 16 - 4 - (e.bucket + 20 <= 255 ? 1 : 2); /* counter offset */
    ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, e.apdu, e.apdu_len), 0);
    /* Counter, ciphertext and tag: every bit. */
    for (size_t p = off; p < off + 4 + e.bucket + 16; p++)
        for (int b = 0; b < 8; b++) {
            int rc;
            memcpy(m, e.apdu, e.apdu_len);
            m[p] ^= (uint8_t)(1u << b);
            rc = try_open(&e, e.r, e.serial, e.c, m, e.apdu_len);
            ck_assert_msg(rc == (p < off + 4 ? KC_ERR_ENV_COUNTER : KC_ERR_AUTH),
                          "flip byte %zu bit %d: rc %d", p, b, rc);
        }
    /* AAD: the outer header bytes (refused as malformed) ... */
    for (size_t p = 0; p < 4; p++)
        for (int b = 0; b < 8; b++) {
            memcpy(m, e.apdu, e.apdu_len);
            m[p] ^= (uint8_t)(1u << b);
            ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, e.apdu_len), KC_ERR_ENV_FORMAT);
        }
    /* ... the serial (another card's envelope) ... */
    for (size_t p = 0; p < 8; p++)
        for (int b = 0; b < 8; b++) {
            uint8_t s[8];
            memcpy(s, e.serial, 8);
            s[p] ^= (uint8_t)(1u << b);
            ck_assert_int_eq(try_open(&e, e.r, s, e.c, e.apdu, e.apdu_len), KC_ERR_AUTH);
        }
    /* ... and the counter when the receiver expects the forged value too. */
    for (int b = 0; b < 32; b++) {
        uint32_t c2 = e.c ^ (1u << b);
        if (c2 == 0)
            continue;
        memcpy(m, e.apdu, e.apdu_len);
        m[off] = (uint8_t)(c2 >> 24);
        m[off + 1] = (uint8_t)(c2 >> 16);
        m[off + 2] = (uint8_t)(c2 >> 8);
        m[off + 3] = (uint8_t)c2;
        ck_assert_int_eq(try_open(&e, e.r, e.serial, c2, m, e.apdu_len), KC_ERR_AUTH);
    }
}
END_TEST

START_TEST(test_envelope_wrong_key_counter)
{
    static env_vec e;
    uint8_t r[32];

    env_pick(128, &e);
    for (size_t p = 0; p < 32; p++) {
        memcpy(r, e.r, 32);
        r[p] ^= (uint8_t)(1u << (p % 8));
        ck_assert_int_eq(try_open(&e, r, e.serial, e.c, e.apdu, e.apdu_len), KC_ERR_AUTH);
    }
    /* Replay (expected is past it) and skip (expected is behind it). */
    ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c + 1, e.apdu, e.apdu_len),
                     KC_ERR_ENV_COUNTER);
    if (e.c > 1)
        ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c - 1, e.apdu, e.apdu_len),
                         KC_ERR_ENV_COUNTER);
    ck_assert_int_eq(try_open(&e, e.r, e.serial, 0, e.apdu, e.apdu_len), KC_ERR_ARG);
    /* The next chain value does not open it either. */
    memcpy(r, e.r, 32);
    ck_assert_int_eq(kc_env_chain_step(r, e.serial, e.c + 1), 0);
    ck_assert_int_eq(try_open(&e, r, e.serial, e.c, e.apdu, e.apdu_len), KC_ERR_AUTH);
}
END_TEST

START_TEST(test_envelope_malformed_lengths)
{
    static const size_t buckets[] = {64, 128, 256, 1024};
    static env_vec e;
    static uint8_t m[KC_ENV_APDU_MAX + 8];
    uint8_t hdr[4], small[8];
    size_t dlen;

    for (size_t k = 0; k < sizeof buckets / sizeof buckets[0]; k++) {
        env_pick(buckets[k], &e);
        /* Every truncation, in a heap block of exactly that size. */
        for (size_t n = 0; n < e.apdu_len; n++) {
            uint8_t *t = malloc(n ? n : 1);
            ck_assert_ptr_nonnull(t);
            memcpy(t, e.apdu, n);
            ck_assert_msg(try_open(&e, e.r, e.serial, e.c, t, n) == KC_ERR_ENV_FORMAT,
                          "bucket %zu truncated to %zu accepted", e.bucket, n);
            free(t);
        }
        /* One byte too many. */
        memcpy(m, e.apdu, e.apdu_len);
        m[e.apdu_len] = 0;
        ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, e.apdu_len + 1), KC_ERR_ENV_FORMAT);
        /* Le not zero. */
        memcpy(m, e.apdu, e.apdu_len);
        m[e.apdu_len - 1] = 0x01;
        ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, e.apdu_len), KC_ERR_ENV_FORMAT);
        /* Data capacity too small for the inner data. */
        if (e.data_len > sizeof small) {
            dlen = sizeof small;
            ck_assert_int_eq(
                kc_env_open(e.r, e.serial, e.c, e.apdu, e.apdu_len, hdr, small, &dlen, NULL),
                KC_ERR_TOO_BIG);
            ck_assert(all_zero(small, sizeof small));
        }
    }

    /* A 64-byte bucket in non-canonical extended form. */
    env_pick(64, &e);
    {
        size_t n = e.apdu_len - 6; /* command data */
        m[0] = 0x84, m[1] = 0xC2, m[2] = 0, m[3] = 0, m[4] = 0, m[5] = 0, m[6] = (uint8_t)n;
        memcpy(m + 7, e.apdu + 5, n);
        m[7 + n] = 0, m[8 + n] = 0;
        ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, n + 9), KC_ERR_ENV_FORMAT);
    }
    /* Lc consistent with the APDU but not 4 + bucket + 16. */
    {
        static const size_t bad_n[] = {0, 19, 20, 21, 83, 85, 100, 255};
        for (size_t k = 0; k < sizeof bad_n / sizeof bad_n[0]; k++) {
            size_t n = bad_n[k];
            memset(m, 0, sizeof m);
            m[0] = 0x84, m[1] = 0xC2, m[4] = (uint8_t)n;
            ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, 5 + n + 1), KC_ERR_ENV_FORMAT);
        }
        /* Bodies too short to hold a counter and a tag, in exact heap blocks. */
        for (size_t n = 0; n < 24; n++) {
            uint8_t *t = malloc(n ? n : 1), hdr2[4];
            static uint8_t d2[64];
            size_t dl = sizeof d2;
            ck_assert_ptr_nonnull(t);
            memset(t, 0, n);
            ck_assert_int_eq(kc_env_open_body(e.r, e.serial, e.c, t, n, hdr2, d2, &dl, NULL),
                             KC_ERR_ENV_FORMAT);
            free(t);
        }
        /* Extended Lc that would overrun, or is 0. */
        memset(m, 0, sizeof m);
        m[0] = 0x84, m[1] = 0xC2, m[5] = 0xFF, m[6] = 0xFF;
        ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, 300), KC_ERR_ENV_FORMAT);
        m[5] = 0, m[6] = 0;
        ck_assert_int_eq(try_open(&e, e.r, e.serial, e.c, m, 9), KC_ERR_ENV_FORMAT);
    }
}
END_TEST

START_TEST(test_seal_bucket_limits)
{
    static const size_t buckets[] = {64, 128, 256, 512, 1024};
    static const size_t bad[] = {0, 1, 63, 65, 100, 192, 2048};
    static uint8_t data[1024], apdu[KC_ENV_APDU_MAX], out[1024];
    uint8_t r[32], serial[8] = {9, 8, 7, 6, 5, 4, 3, 2}, hdr[4] = {0x80, 0x10, 0x20, 0x30};
    uint8_t h2[4];
    size_t alen, dlen, b;

    for (size_t i = 0; i < 32; i++)
        r[i] = (uint8_t)(0xC0 + i);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    for (size_t k = 0; k < 5; k++) {
        size_t bk = buckets[k], want = bk + 20 <= 255 ? bk + 26 : bk + 29;
        alen = sizeof apdu;
        ck_assert_int_eq(kc_env_seal(r, serial, 5, bk, hdr, data, bk - 6, apdu, &alen),
                         KC_ERR_TOO_BIG);
        /* Fits exactly, round trips. */
        alen = sizeof apdu;
        ck_assert_int_eq(kc_env_seal(r, serial, 5, bk, hdr, data, bk - 7, apdu, &alen), 0);
        ck_assert_uint_eq(alen, want);
        dlen = sizeof out;
        ck_assert_int_eq(kc_env_open(r, serial, 5, apdu, alen, h2, out, &dlen, &b), 0);
        ck_assert_uint_eq(dlen, bk - 7);
        ck_assert_mem_eq(out, data, dlen);
        ck_assert_mem_eq(h2, hdr, 4);
        ck_assert_uint_eq(b, bk);
        /* Output buffer one byte short. */
        alen = want - 1;
        ck_assert_int_eq(kc_env_seal(r, serial, 5, bk, hdr, data, 1, apdu, &alen),
                         KC_ERR_TOO_BIG);
    }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        alen = sizeof apdu;
        ck_assert_int_eq(kc_env_seal(r, serial, 5, bad[k], hdr, data, 0, apdu, &alen),
                         KC_ERR_ARG);
        ck_assert_int_eq(kc_env_bucket_valid(bad[k]), 0);
    }
    alen = sizeof apdu;
    ck_assert_int_eq(kc_env_seal(r, serial, 0, 64, hdr, data, 0, apdu, &alen), KC_ERR_ARG);
}
END_TEST

/* ---- packed envelopes: limits and malformed plaintexts --------------------- */

/*
 * An ENVELOPE around any bucket-sized plaintext pt, built from the public
 * primitives as docs/protocol.md lays it out (AD 84 C2 00 00 || serial ||
 * [c]_4, data [c]_4 || C || V): the sealers never make an authentic count 0
 * or a plaintext without its padding mark. Checked against
 * kc_env_seal_packed before use. Returns the APDU length.
 */
static size_t seal_any(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                       const uint8_t *pt, size_t bucket, uint8_t *apdu)
{
    uint8_t kenv[KC_ENV_KENV_LEN], aad[16] = {KC_ENV_CLA, KC_ENV_INS, 0x00, 0x00};
    kc_iov ad = {aad, sizeof aad};
    size_t n = KC_ENV_CTR_LEN + bucket + KC_ENV_TAG_LEN, off = n <= 255 ? 5 : 7;
    uint8_t ctr[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};

    memcpy(aad + 4, serial, 8);
    memcpy(aad + 12, ctr, 4);
    memcpy(apdu, aad, 4);
    if (off == 5) {
        apdu[4] = (uint8_t)n;
    } else {
        apdu[4] = 0x00;
        apdu[5] = (uint8_t)(n >> 8);
        apdu[6] = (uint8_t)n;
    }
    memcpy(apdu + off, ctr, 4);
    ck_assert_int_eq(kc_env_keys(r, serial, c, kenv, NULL), 0);
    ck_assert_int_eq(kc_crypto_aes_siv_seal(kenv, sizeof kenv, &ad, 1, pt, bucket,
                                            apdu + off + 4, apdu + off + 4 + bucket),
                     0);
    kc_wipe(kenv, sizeof kenv);
    memset(apdu + off + n, 0, off == 5 ? 1 : 2); /* Le */
    return off + n + (off == 5 ? 1 : 2);
}

/*
 * The target's way in: the keyset of expected_c opens the APDU's data field
 * into pt (*pt_len capacity), filled with AA first so a wipe shows.
 */
static int open_packed(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                       const uint8_t *apdu, size_t len, uint8_t *pt, size_t *pt_len,
                       size_t *count)
{
    size_t off = apdu[4] ? 5 : 7;
    kc_env_keyset ks;
    int rc;

    memset(pt, 0xAA, *pt_len);
    ck_assert_int_eq(kc_env_keyset_derive(r, serial, expected_c, &ks), 0);
    rc = kc_env_open_packed_keyed(&ks, serial, expected_c, apdu + off,
                                  len - off - (off == 5 ? 1 : 2), pt, pt_len, count);
    kc_wipe(&ks, sizeof ks);
    return rc;
}

/* pt[0..n) holds nothing decrypted: untouched (AA) or wiped. */
static int no_plaintext(const uint8_t *pt, size_t n)
{
    int aa = 1;
    for (size_t i = 0; i < n; i++)
        aa &= pt[i] == 0xAA;
    return aa || all_zero(pt, n);
}

/*
 * kc_env_item_put up to exactly bucket - 2 bytes of items (the count and the
 * padding mark take the other two) seals, opens and walks back; one byte more
 * is refused with nothing written.
 */
START_TEST(test_packed_roundtrip)
{
    static const size_t buckets[] = {64, 128, 256, 512, 1024};
    static uint8_t items[KC_ENV_BUCKET_MAX], data[KC_ENV_BUCKET_MAX], pt[KC_ENV_BUCKET_MAX];
    static uint8_t apdu[KC_ENV_APDU_MAX];
    uint8_t r[32], serial[8] = {0x4B, 0x43, 0, 0, 0, 0, 0, 0x51}, hdr[4] = {0x80, 0xD6, 0, 0};
    uint8_t gh[4];
    const uint8_t *gd;
    size_t il, al, pl, cnt, off, gl, n;

    for (size_t i = 0; i < 32; i++)
        r[i] = (uint8_t)(0x60 + 3 * i);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    for (size_t k = 0; k < sizeof buckets / sizeof buckets[0]; k++) {
        size_t bk = buckets[k], cap = bk - 2, want = bk + 20 <= 255 ? bk + 26 : bk + 29;

        /* One item alone: 8 + data bytes fill the bucket exactly. */
        il = 0;
        ck_assert_int_eq(kc_env_item_put(items, cap, &il, hdr, data, cap - KC_ENV_ITEM_HDR), 0);
        ck_assert_uint_eq(il, cap);
        ck_assert_uint_eq(cap - KC_ENV_ITEM_HDR, bk - KC_ENV_PACKED_OVERHEAD);
        al = sizeof apdu;
        ck_assert_int_eq(kc_env_seal_packed(r, serial, 9, bk, items, il, 1, apdu, &al), 0);
        ck_assert_uint_eq(al, want);
        pl = sizeof pt;
        ck_assert_int_eq(open_packed(r, serial, 9, apdu, al, pt, &pl, &cnt), 0);
        ck_assert_uint_eq(cnt, 1);
        ck_assert_uint_eq(pl, bk - 1);
        off = 1;
        ck_assert_int_eq(kc_env_item_next(pt, pl, &off, gh, &gd, &gl), 0);
        ck_assert_mem_eq(gh, hdr, 4);
        ck_assert_uint_eq(gl, bk - KC_ENV_PACKED_OVERHEAD);
        ck_assert_mem_eq(gd, data, gl);
        ck_assert_uint_eq(off, pl);
        /* Nothing left to walk. */
        ck_assert_int_eq(kc_env_item_next(pt, pl, &off, gh, &gd, &gl), KC_ERR_BAD_DATA);

        /* One byte more: refused, nothing written, the length as it was. */
        il = 0;
        memset(items, 0xEE, sizeof items);
        ck_assert_int_eq(kc_env_item_put(items, cap, &il, hdr, data, cap - KC_ENV_ITEM_HDR + 1),
                         KC_ERR_TOO_BIG);
        ck_assert_uint_eq(il, 0);
        for (size_t q = 0; q < sizeof items; q++)
            ck_assert_uint_eq(items[q], 0xEE);
        al = sizeof apdu;
        ck_assert_int_eq(kc_env_seal_packed(r, serial, 9, bk, items, cap + 1, 1, apdu, &al),
                         KC_ERR_TOO_BIG);

        /* Several items, the last taking the rest: again exactly bucket - 2. */
        il = 0;
        n = 0;
        while (cap - il >= 2 * KC_ENV_ITEM_HDR + 10) {
            hdr[3] = (uint8_t)n;
            ck_assert_int_eq(kc_env_item_put(items, cap, &il, hdr, data + n, 10), 0);
            n++;
        }
        hdr[3] = (uint8_t)n;
        ck_assert_int_eq(
            kc_env_item_put(items, cap, &il, hdr, data + n, cap - il - KC_ENV_ITEM_HDR), 0);
        n++;
        ck_assert_uint_eq(il, cap);
        /* Not even an empty item is left room. */
        ck_assert_int_eq(kc_env_item_put(items, cap, &il, hdr, NULL, 0), KC_ERR_TOO_BIG);
        ck_assert_uint_eq(il, cap);
        al = sizeof apdu;
        ck_assert_int_eq(kc_env_seal_packed(r, serial, 9, bk, items, il, n, apdu, &al), 0);
        pl = sizeof pt;
        ck_assert_int_eq(open_packed(r, serial, 9, apdu, al, pt, &pl, &cnt), 0);
        ck_assert_uint_eq(cnt, n);
        off = 1;
        for (size_t q = 0; q < n; q++) {
            ck_assert_int_eq(kc_env_item_next(pt, pl, &off, gh, &gd, &gl), 0);
            ck_assert_uint_eq(gh[3], q);
            ck_assert_uint_eq(gl, q + 1 < n ? 10 : cap - (n - 1) * (KC_ENV_ITEM_HDR + 10) -
                                                     KC_ENV_ITEM_HDR);
            ck_assert_mem_eq(gd, data + q, gl);
        }
        ck_assert_uint_eq(off, pl);
        hdr[3] = 0;
        /* A count the envelope cannot carry. */
        al = sizeof apdu;
        ck_assert_int_eq(kc_env_seal_packed(r, serial, 9, bk, items, il, 0, apdu, &al),
                         KC_ERR_ARG);
        ck_assert_int_eq(kc_env_seal_packed(r, serial, 9, bk, items, il, 256, apdu, &al),
                         KC_ERR_ARG);
    }
}
END_TEST

/*
 * kc_env_open_packed_keyed refuses authentic but malformed plaintexts with
 * KC_ERR_BAD_DATA and pt wiped; altered bytes are KC_ERR_AUTH, the wrong
 * counter KC_ERR_ENV_COUNTER. Short and extended APDUs (buckets 64, 256).
 */
START_TEST(test_packed_malformed)
{
    static const size_t buckets[] = {64, 256};
    static const uint8_t h1[4] = {0x80, 0xD6, 0x00, 0x00}, h2[4] = {0x80, 0xE0, 0x03, 0x00};
    static const uint8_t h0[4] = {0x00, 0xD6, 0x00, 0x00};
    static const uint8_t d1[6] = {0x21, 0x01, 0x00, 0x00, 0x5A, 0xA5};
    static const uint8_t d2[9] = {0x21, 0x01, 0x10, 0x01, 0x03, 0x00, 0x40, 0x00, 0x00};
    static uint8_t items[KC_ENV_BUCKET_MAX], raw[KC_ENV_BUCKET_MAX], pt[KC_ENV_BUCKET_MAX];
    static uint8_t ref[KC_ENV_APDU_MAX], apdu[KC_ENV_APDU_MAX];
    uint8_t r[32], serial[8] = {0x4B, 0x43, 0, 0, 0, 0, 0, 0x77};
    const uint32_t c = 3;
    size_t il, al, rl, pl, cnt, off;
    int rc;

    for (size_t i = 0; i < 32; i++)
        r[i] = (uint8_t)(0xA0 ^ (5 * i));
    for (size_t k = 0; k < sizeof buckets / sizeof buckets[0]; k++) {
        /* The good items with a count they do not match. */
        static const struct {
            size_t count;
            const char *why;
        } counts[] = {{3, "count one more than the items"},
                      {255, "count 255"},
                      {1, "count 1: an item where the mark belongs"}};
        size_t b = buckets[k], base;

        /* A good envelope of two items; the local sealer must give the same bytes. */
        il = 0;
        ck_assert_int_eq(kc_env_item_put(items, sizeof items, &il, h1, d1, sizeof d1), 0);
        ck_assert_int_eq(kc_env_item_put(items, sizeof items, &il, h2, d2, sizeof d2), 0);
        base = il;
        rl = sizeof ref;
        ck_assert_int_eq(kc_env_seal_packed(r, serial, c, b, items, il, 2, ref, &rl), 0);
        raw[0] = 2;
        memcpy(raw + 1, items, il);
        raw[1 + il] = 0x80;
        memset(raw + 2 + il, 0, b - 2 - il);
        ck_assert_uint_eq(seal_any(r, serial, c, raw, b, apdu), rl);
        ck_assert_mem_eq(apdu, ref, rl);
        pl = sizeof pt;
        ck_assert_int_eq(open_packed(r, serial, c, ref, rl, pt, &pl, &cnt), 0);
        ck_assert_uint_eq(cnt, 2);
        ck_assert_uint_eq(pl, 1 + il);
        /* Capacity below the bucket. */
        pl = b - 1;
        ck_assert_int_eq(open_packed(r, serial, c, ref, rl, pt, &pl, &cnt), KC_ERR_TOO_BIG);

        /* Through kc_env_seal_packed: items and count as given, the padding its own. */
        for (size_t q = 0; q < sizeof counts / sizeof counts[0]; q++) {
            al = sizeof apdu;
            ck_assert_int_eq(
                kc_env_seal_packed(r, serial, c, b, items, base, counts[q].count, apdu, &al), 0);
            pl = sizeof pt;
            rc = open_packed(r, serial, c, apdu, al, pt, &pl, &cnt);
            ck_assert_msg(rc == KC_ERR_BAD_DATA, "bucket %zu, %s: rc %d", b, counts[q].why, rc);
            ck_assert_msg(all_zero(pt, b), "bucket %zu, %s: pt not wiped", b, counts[q].why);
        }
        {
            /* Items whose bytes are wrong, still sealed by kc_env_seal_packed. */
            static const char *const why[] = {
                "Lc runs past the bucket",  "Lc FFFF",
                "Lc ends at the bucket's end (no mark)",
                "items then a non-80 byte", "items then 80 01",
                "second item CLA 00 after count 1",
            };
            for (size_t q = 0; q < sizeof why / sizeof why[0]; q++) {
                size_t len = base, count = 2;
                memcpy(raw, items, base);
                switch (q) {
                case 0: /* one item claiming the bucket's rest and one byte more */
                    memcpy(raw, h1, 4);
                    raw[4] = (uint8_t)((b - 6) >> 8), raw[5] = (uint8_t)(b - 6);
                    len = 6 + 2, count = 1;
                    break;
                case 1:
                    raw[4] = 0xFF, raw[5] = 0xFF;
                    break;
                case 2: /* its data takes the 80 and the zeros: nothing left for a mark */
                    memcpy(raw, h1, 4);
                    raw[4] = (uint8_t)((b - 7) >> 8), raw[5] = (uint8_t)(b - 7);
                    len = 6 + 2, count = 1;
                    break;
                case 3:
                    raw[base] = 0x55;
                    len = base + 1;
                    break;
                case 4:
                    raw[base] = 0x80, raw[base + 1] = 0x01;
                    len = base + 2;
                    break;
                case 5:
                    memcpy(raw + 6 + sizeof d1, h0, 4);
                    count = 1;
                    break;
                }
                al = sizeof apdu;
                ck_assert_int_eq(kc_env_seal_packed(r, serial, c, b, raw, len, count, apdu, &al),
                                 0);
                pl = sizeof pt;
                rc = open_packed(r, serial, c, apdu, al, pt, &pl, &cnt);
                ck_assert_msg(rc == KC_ERR_BAD_DATA, "bucket %zu, %s: rc %d", b, why[q], rc);
                ck_assert_msg(all_zero(pt, b), "bucket %zu, %s: pt not wiped", b, why[q]);
            }
        }
        {
            /* What kc_env_seal_packed never makes: sealed around the plaintext itself. */
            static const char *const why[] = {"count 0", "no padding mark at all",
                                              "non-zero last padding byte",
                                              "00 where the mark belongs"};
            for (size_t q = 0; q < sizeof why / sizeof why[0]; q++) {
                raw[0] = 2;
                memcpy(raw + 1, items, base);
                raw[1 + base] = 0x80;
                memset(raw + 2 + base, 0, b - 2 - base);
                switch (q) {
                case 0:
                    raw[0] = 0;
                    break;
                case 1: /* one item exactly filling the bucket */
                    raw[0] = 1;
                    memcpy(raw + 1, h1, 4);
                    raw[5] = (uint8_t)((b - 7) >> 8), raw[6] = (uint8_t)(b - 7);
                    memset(raw + 7, 0x31, b - 7);
                    break;
                case 2:
                    raw[b - 1] = 0x01;
                    break;
                case 3:
                    raw[1 + base] = 0x00;
                    break;
                }
                al = seal_any(r, serial, c, raw, b, apdu);
                pl = sizeof pt;
                rc = open_packed(r, serial, c, apdu, al, pt, &pl, &cnt);
                ck_assert_msg(rc == KC_ERR_BAD_DATA, "bucket %zu, %s: rc %d", b, why[q], rc);
                ck_assert_msg(all_zero(pt, b), "bucket %zu, %s: pt not wiped", b, why[q]);
            }
        }

        /* Altered ciphertext or tag: not authentic, nothing released. */
        off = ref[4] ? 5 : 7;
        for (size_t p = off + 4; p < off + 4 + b + 16; p += 7) {
            memcpy(apdu, ref, rl);
            apdu[p] ^= (uint8_t)(1u << (p % 8));
            pl = sizeof pt;
            ck_assert_int_eq(open_packed(r, serial, c, apdu, rl, pt, &pl, &cnt), KC_ERR_AUTH);
            ck_assert(all_zero(pt, b));
        }
        /* Replayed at the next counter, or expected behind it. */
        pl = sizeof pt;
        ck_assert_int_eq(open_packed(r, serial, c + 1, ref, rl, pt, &pl, &cnt),
                         KC_ERR_ENV_COUNTER);
        ck_assert(no_plaintext(pt, b));
        pl = sizeof pt;
        ck_assert_int_eq(open_packed(r, serial, c - 1, ref, rl, pt, &pl, &cnt),
                         KC_ERR_ENV_COUNTER);
        ck_assert(no_plaintext(pt, b));
    }
}
END_TEST

/* Both sides run the same chain from one seed: a session of envelopes and responses. */
START_TEST(test_session_roundtrip)
{
    uint8_t kcard[32], serial[8] = {0x4B, 0x43, 0, 0, 0, 0, 0, 0x42}, seed[16], rk[32], rt[32];
    uint8_t apdu[KC_ENV_APDU_MAX], hdr[4], data[1024], resp[64], sw[2], mk[16], mt[16], kcomp[16];
    uint8_t nt[16], nk[16], sctx[KC_ENV_SCTX_LEN];
    kc_env_transcript tk, tt;
    size_t alen, dlen, rlen, off, n;

    memset(kcard, 0x11, sizeof kcard);
    memset(seed, 0x22, sizeof seed);
    memset(nt, 0x33, sizeof nt);
    memset(nk, 0x44, sizeof nk);
    kc_env_session_ctx(sctx, serial, nt, nk, seed);
    ck_assert_int_eq(kc_env_chain_seed(kcard, 32, sctx, rk), 0);
    memcpy(rt, rk, 32);
    ck_assert_int_eq(kc_env_transcript_init(&tk), 0);
    ck_assert_int_eq(kc_env_transcript_init(&tt), 0);
    for (uint32_t c = 1; c <= 6; c++) {
        uint8_t in[4] = {0x00, (uint8_t)(0xD0 + c), 0, 0}, payload[40];
        uint8_t isw[2] = {0x90, (uint8_t)(c == 4 ? 0x01 : 0x00)};
        memset(payload, (int)c, sizeof payload);
        ck_assert_int_eq(kc_env_chain_step(rk, serial, c), 0);
        ck_assert_int_eq(kc_env_chain_step(rt, serial, c), 0);
        alen = sizeof apdu;
        ck_assert_int_eq(kc_env_seal(rk, serial, c, 128, in, payload, c * 5, apdu, &alen), 0);
        dlen = sizeof data;
        ck_assert_int_eq(kc_env_open(rt, serial, c, apdu, alen, hdr, data, &dlen, NULL), 0);
        ck_assert_mem_eq(hdr, in, 4);
        ck_assert_uint_eq(dlen, c * 5);
        rlen = sizeof resp;
        ck_assert_int_eq(kc_env_resp_build(rt, serial, c, isw, payload, 3, resp, &rlen), 0);
        ck_assert_int_eq(kc_env_resp_verify(rk, serial, c, resp, rlen, sw, &off, &n), 0);
        ck_assert_mem_eq(sw, isw, 2);
        ck_assert_uint_eq(n, 3);
        ck_assert_mem_eq(resp + off, payload, 3);
        ck_assert_int_eq(kc_env_transcript_update(&tk, c, sw), 0);
        ck_assert_int_eq(kc_env_transcript_update(&tt, c, isw), 0);
        /* Replaying this envelope at the next counter is refused. */
        dlen = sizeof data;
        ck_assert_int_eq(kc_env_open(rt, serial, c + 1, apdu, alen, hdr, data, &dlen, NULL),
                         KC_ERR_ENV_COUNTER);
    }
    ck_assert_int_eq(kc_env_completion_key(kcard, 32, sctx, kcomp), 0);
    ck_assert_int_eq(kc_env_transcript_final(&tk, kcomp, serial, 4, NULL, 0, mk), 0);
    ck_assert_int_eq(kc_env_transcript_final(&tt, kcomp, serial, 4, NULL, 0, mt), 0);
    ck_assert_mem_eq(mk, mt, 16);
}
END_TEST

/* ---- responses, completion, previous random ----------------------------- */

START_TEST(test_response_kat)
{
    json_t *j = kc_vectors_load("response.json"), *a = rows(j, "vectors"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t r[32], serial[8], sw[2], data[300], mac[16], out[400], want[400], sw2[2];
        size_t dl, ol = sizeof out, wl, off, n;
        uint32_t c = intf(v, "c");
        kc_vectors_hex(v, "r", r, 32);
        kc_vectors_hex(v, "serial", serial, 8);
        kc_vectors_hex(v, "sw", sw, 2);
        dl = kc_vectors_hex(v, "data", data, sizeof data);
        wl = kc_vectors_hex(v, "resp", want, sizeof want);
        ck_assert_int_eq(kc_env_resp_mac(r, serial, c, sw, data, dl, mac), 0);
        expect(mac, 16, v, "mac", i);
        ck_assert_int_eq(kc_env_resp_build(r, serial, c, sw, data, dl, out, &ol), 0);
        expect(out, ol, v, "resp", i);
        /* The keyset of the counter, derived once, answers the same bytes. */
        kc_env_keyset ks;
        size_t kl = sizeof out;
        ck_assert_int_eq(kc_env_keyset_derive(r, serial, c, &ks), 0);
        ck_assert_int_eq(kc_env_resp_build_keyed(&ks, c, sw, data, dl, out, &kl), 0);
        expect(out, kl, v, "resp", i);
        ck_assert_int_eq(kc_env_resp_verify(r, serial, c, want, wl, sw2, &off, &n), 0);
        ck_assert_mem_eq(sw2, sw, 2);
        ck_assert_uint_eq(n, dl);
        ck_assert_mem_eq(want + off, data, dl);
        /* Every single bit flip is refused. */
        for (size_t p = 0; p < wl; p++)
            for (int b = 0; b < 8; b++) {
                int rc;
                memcpy(out, want, wl);
                out[p] ^= (uint8_t)(1u << b);
                rc = kc_env_resp_verify(r, serial, c, out, wl, sw2, &off, &n);
                ck_assert_int_eq(rc, p < 4 ? KC_ERR_ENV_COUNTER : KC_ERR_AUTH);
            }
        /* Truncated responses, the wrong counter, the wrong key. */
        ck_assert_int_eq(kc_env_resp_verify(r, serial, c, want, wl - 1, sw2, &off, &n),
                         wl - 1 < KC_ENV_RESP_OVERHEAD ? KC_ERR_ENV_FORMAT : KC_ERR_AUTH);
        ck_assert_int_eq(kc_env_resp_verify(r, serial, c, want, 21, sw2, &off, &n),
                         KC_ERR_ENV_FORMAT);
        ck_assert_int_eq(kc_env_resp_verify(r, serial, c + 1, want, wl, sw2, &off, &n),
                         KC_ERR_ENV_COUNTER);
        r[0] ^= 1;
        ck_assert_int_eq(kc_env_resp_verify(r, serial, c, want, wl, sw2, &off, &n), KC_ERR_AUTH);
        /* Output too small. */
        ol = dl + 21;
        ck_assert_int_eq(kc_env_resp_build(r, serial, c, sw, data, dl, out, &ol), KC_ERR_TOO_BIG);
    }
    json_decref(j);
}
END_TEST

START_TEST(test_completion_kat)
{
    json_t *j = kc_vectors_load("completion.json"), *a = rows(j, "vectors"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t kcard[32], serial[8], sctx[KC_ENV_SCTX_LEN], kcomp[16], mac[16], sw[2];
        uint8_t lock[KC_ENV_LOCK_DATA_MAX];
        size_t kl = kc_vectors_hex(v, "kcard", kcard, sizeof kcard), k;
        size_t ll = kc_vectors_hex(v, "lock_data", lock, sizeof lock);
        uint8_t way = (uint8_t)intf(v, "lock_way");
        json_t *steps = rows(v, "steps"), *s;
        kc_env_transcript t;

        kc_vectors_hex(v, "serial", serial, 8);
        /* No options byte in the vector: the 57th stays 0, a 56-byte context. */
        memset(sctx, 0, sizeof sctx);
        ck_assert_uint_eq(kc_vectors_hex(v, "sctx", sctx, sizeof sctx), kc_env_sctx_len(sctx));
        ck_assert_int_eq(kc_env_completion_key(kcard, kl, sctx, kcomp), 0);
        expect(kcomp, 16, v, "kcomp", i);
        ck_assert_int_eq(kc_env_transcript_init(&t), 0);
        json_array_foreach(steps, k, s)
        {
            kc_vectors_hex(s, "sw", sw, 2);
            ck_assert_int_eq(kc_env_transcript_update(&t, intf(s, "c"), sw), 0);
        }
        ck_assert_uint_eq(t.n, json_array_size(steps));
        {
            /* Another lock way over the same transcript gives another MAC. */
            kc_env_transcript t2 = t;
            uint8_t mac3[16];
            ck_assert_int_eq(kc_env_transcript_final(&t2, kcomp, serial, (uint8_t)(way ^ 1),
                                                     lock, ll, mac3), 0);
            ck_assert_int_eq(kc_env_transcript_final(&t, kcomp, serial, way, lock, ll, mac), 0);
            ck_assert(memcmp(mac, mac3, 16) != 0);
        }
        expect(mac, 16, v, "mac", i);
        ck_assert(all_zero((const uint8_t *)&t, sizeof t));
        /* Leaving out the last envelope changes the MAC. */
        ck_assert_int_eq(kc_env_transcript_init(&t), 0);
        for (k = 0; k + 1 < json_array_size(steps); k++) {
            s = json_array_get(steps, k);
            kc_vectors_hex(s, "sw", sw, 2);
            ck_assert_int_eq(kc_env_transcript_update(&t, intf(s, "c"), sw), 0);
        }
        {
            uint8_t mac2[16];
            ck_assert_int_eq(kc_env_transcript_final(&t, kcomp, serial, way, lock, ll, mac2), 0);
            ck_assert(memcmp(mac, mac2, 16) != 0);
        }
    }
    json_decref(j);
}
END_TEST

/*
 * One packed envelope of session.json (spec: docs/protocol.md "Packed
 * envelopes"): its items put and sealed as the key card seals them, opened and
 * walked as the target opens them, the answer A = [k']_1 || (SW [len]_1 data)
 * per item rebuilt (9000 each, the completion MAC for COMPLETE ISSUANCE) and
 * every inner command recorded as [c0 + step]_4 || SW. next_len is the data
 * length of the next envelope's first item (SIZE_MAX for the last envelope):
 * the vectors must follow the key card's greedy packing rule.
 */
static void session_packed_env(json_t *v, json_t *e, size_t row, const uint8_t rc_[32],
                               const uint8_t serial[8], size_t bucket, uint32_t c0,
                               size_t next_len, size_t *step, kc_env_transcript *tr,
                               const uint8_t kcomp[16], uint8_t lway, const uint8_t *lock,
                               size_t ll, int *completed)
{
    static uint8_t items[KC_ENV_BUCKET_MAX], pt[KC_ENV_BUCKET_MAX], idata[KC_ENV_BUCKET_MAX];
    static const uint8_t ok[2] = {0x90, 0x00};
    uint8_t apdu[KC_ENV_APDU_MAX], ihdr[4], ghdr[4], mac[16], sw[2];
    uint8_t ans[1 + 255 * KC_ENV_ANSWER_ITEM + 16], resp[sizeof ans + KC_ENV_RESP_OVERHEAD + 2];
    json_t *its = rows(e, "items"), *it;
    size_t il = 0, nit = json_array_size(its), q, al = sizeof apdu, pl = sizeof pt, cnt = 0;
    size_t off = 1, an = 1, gdl, rl = sizeof resp - 2, doff, dn, body;
    uint32_t c = intf(e, "c");
    const uint8_t *gd;
    kc_env_keyset ks;

    /* The items within bucket - 2: room for [k]_1 and the padding mark. */
    json_array_foreach(its, q, it)
    {
        size_t idl = kc_vectors_hex(it, "inner_data", idata, sizeof idata);
        ck_assert_uint_eq(kc_vectors_hex(it, "inner_hdr", ihdr, 4), 4);
        ck_assert_msg(kc_env_item_put(items, bucket - 2, &il, ihdr, idata, idl) == 0,
                      "session %zu envelope c %u: item %zu does not fit", row, c, q);
    }
    ck_assert_uint_ge(nit, 1);
    /* Greedy: the next envelope's first item would not have fitted in this one. */
    if (next_len != SIZE_MAX)
        ck_assert_msg(1 + il + KC_ENV_ITEM_HDR + next_len + 1 > bucket,
                      "session %zu envelope c %u: the next item fits, packing not greedy", row, c);
    ck_assert_int_eq(kc_env_seal_packed(rc_, serial, c, bucket, items, il, nit, apdu, &al), 0);
    expect(apdu, al, e, "apdu", row);

    /* The target's side: the keyset of c opens the APDU's data field. */
    body = apdu[4] ? 5 : 7;
    ck_assert_uint_eq(al, body + KC_ENV_CTR_LEN + bucket + KC_ENV_TAG_LEN + (apdu[4] ? 1 : 2));
    ck_assert_int_eq(kc_env_keyset_derive(rc_, serial, c, &ks), 0);
    ck_assert_int_eq(kc_env_open_packed_keyed(&ks, serial, c, apdu + body,
                                              KC_ENV_CTR_LEN + bucket + KC_ENV_TAG_LEN, pt, &pl,
                                              &cnt),
                     0);
    ck_assert_uint_eq(cnt, nit);
    ck_assert_uint_eq(pl, 1 + il);
    ans[0] = (uint8_t)nit;
    json_array_foreach(its, q, it)
    {
        size_t idl = kc_vectors_hex(it, "inner_data", idata, sizeof idata);
        kc_vectors_hex(it, "inner_hdr", ihdr, 4);
        ck_assert_int_eq(kc_env_item_next(pt, pl, &off, ghdr, &gd, &gdl), 0);
        ck_assert_mem_eq(ghdr, ihdr, 4);
        ck_assert_uint_eq(gdl, idl);
        if (idl)
            ck_assert_mem_eq(gd, idata, idl);
        /* The transcript counts inner commands, not envelopes. */
        ck_assert_int_eq(kc_env_transcript_update(tr, c0 + (uint32_t)*step, ok), 0);
        (*step)++;
        memcpy(ans + an, ok, 2);
        ans[an + 2] = 0;
        if (ihdr[1] == 0x1E) {
            kc_env_transcript t2 = *tr;
            /* COMPLETE ISSUANCE: the last item of the session's last envelope. */
            ck_assert_msg(q + 1 == nit && next_len == SIZE_MAX,
                          "session %zu: COMPLETE ISSUANCE is not the last item", row);
            ck_assert_int_eq(kc_env_transcript_final(&t2, kcomp, serial, lway, lock, ll, mac), 0);
            expect(mac, 16, v, "completion_mac", row);
            ans[an + 2] = 16;
            memcpy(ans + an + KC_ENV_ANSWER_ITEM, mac, 16);
            an += 16;
            *completed = 1;
        }
        an += KC_ENV_ANSWER_ITEM;
    }
    ck_assert_uint_eq(off, pl); /* the items end at the padding mark */
    /* [c]_4 || SW_last || A || M, then the outer 9000. */
    ck_assert_int_eq(kc_env_resp_build(rc_, serial, c, ok, ans, an, resp, &rl), 0);
    ck_assert_int_eq(kc_env_resp_verify(rc_, serial, c, resp, rl, sw, &doff, &dn), 0);
    ck_assert_mem_eq(sw, ok, 2);
    ck_assert_uint_eq(dn, an);
    resp[rl++] = 0x90;
    resp[rl++] = 0x00;
    expect(resp, rl, e, "response", row);
    kc_wipe(&ks, sizeof ks);
}

/* Data length of the first item of a packed envelope. */
static size_t first_item_len(json_t *e)
{
    static uint8_t d[KC_ENV_BUCKET_MAX];
    return kc_vectors_hex(json_array_get(rows(e, "items"), 0), "inner_data", d, sizeof d);
}

/*
 * Whole sessions on the wire (session.json): every APDU and answer of the
 * target, unpacked (one inner command per envelope) and packed.
 */
START_TEST(test_session_kat)
{
    json_t *j = kc_vectors_load("session.json"), *a = rows(j, "sessions"), *v;
    size_t i, npacked = 0, multi = 0;
    json_array_foreach(a, i, v)
    {
        uint8_t master[32], serial[8], kcard[32], nt[16], nk[16], seed[16], sctx[KC_ENV_SCTX_LEN];
        uint8_t r[32], base[32], kcomp[16], lock[16], mac[16], tb[8];
        size_t ml = kc_vectors_hex(v, "master", master, sizeof master), k, step = 0;
        size_t ll = kc_vectors_hex(v, "lock_data", lock, sizeof lock);
        size_t bucket = intf(v, "bucket");
        uint8_t way = (uint8_t)intf(v, "way"), lway = (uint8_t)intf(v, "lock_way");
        int has_seed = json_is_string(json_object_get(v, "seed"));
        int packed = json_is_true(json_object_get(v, "packed")), completed = 0;
        json_t *envs = rows(v, "envelopes"), *e;
        uint32_t c0 = intf(json_array_get(envs, 0), "c");
        kc_env_transcript tr;

        kc_vectors_hex(v, "serial", serial, 8);
        kc_vectors_hex(v, "nt", nt, 16);
        kc_vectors_hex(v, "nk", nk, 16);
        if (has_seed)
            kc_vectors_hex(v, "seed", seed, 16);
        ck_assert_int_eq(kc_env_diversify(master, ml, serial, kcard), 0);
        expect(kcard, ml, v, "kcard", i);
        /* Packed: P1 bit 80 on both BEGINs and the option at the end of sctx. */
        ck_assert_uint_eq(kc_vectors_hex(v, "target_begin", tb, sizeof tb), 5);
        ck_assert_uint_eq(tb[2], way | (packed ? TC_BEGIN_PACKED : 0));
        if (packed) {
            npacked++;
            ck_assert_uint_eq(intf(v, "keycard_begin_p1"), way | KC_ISSUE_BEGIN_PACKED);
        }
        kc_env_session_ctx_opts(sctx, serial, nt, nk, has_seed ? seed : NULL,
                                packed ? KC_ENV_OPT_PACKED : 0);
        ck_assert_uint_eq(kc_env_sctx_len(sctx), KC_ENV_SCTX_BASE_LEN + (packed ? 1 : 0));
        expect(sctx, kc_env_sctx_len(sctx), v, "sctx", i);
        if (way == 0x01)
            ck_assert_int_eq(kc_env_static_base(kcard, ml, sctx, base), 0);
        else
            ck_assert_int_eq(kc_env_chain_seed(kcard, ml, sctx, r), 0);
        ck_assert_int_eq(kc_env_completion_key(kcard, ml, sctx, kcomp), 0);
        expect(kcomp, 16, v, "kcomp", i);
        ck_assert_int_eq(kc_env_transcript_init(&tr), 0);
        json_array_foreach(envs, k, e)
        {
            uint8_t hdr[4], data[64], apdu[KC_ENV_APDU_MAX], rc_[32], resp[128], ghdr[4], got[64];
            size_t al = sizeof apdu, rl = 0;
            size_t gl = sizeof got, dl;
            uint32_t c = intf(e, "c");
            static const uint8_t ok[2] = {0x90, 0x00};
            /* One counter per envelope, whatever it carries. */
            ck_assert_uint_eq(c, c0 + k);
            if (way == 0x01) {
                ck_assert_int_eq(kc_env_static_key(base, 32, serial, c, rc_), 0);
            } else {
                ck_assert_int_eq(kc_env_chain_step(r, serial, c), 0);
                memcpy(rc_, r, 32);
            }
            expect(rc_, 32, e, "r", i);
            if (packed) {
                json_t *next = json_array_get(envs, k + 1);
                if (json_array_size(rows(e, "items")) > 1)
                    multi++;
                session_packed_env(v, e, i, rc_, serial, bucket, c0,
                                   next ? first_item_len(next) : SIZE_MAX, &step, &tr, kcomp,
                                   lway, lock, ll, &completed);
                continue;
            }
            dl = kc_vectors_hex(e, "inner_data", data, sizeof data);
            kc_vectors_hex(e, "inner_hdr", hdr, 4);
            ck_assert_int_eq(kc_env_seal(rc_, serial, c, bucket, hdr, data, dl, apdu, &al), 0);
            expect(apdu, al, e, "apdu", i);
            ck_assert_int_eq(kc_env_open(rc_, serial, c, apdu, al, ghdr, got, &gl, NULL), 0);
            ck_assert_mem_eq(ghdr, hdr, 4);
            ck_assert_int_eq(kc_env_transcript_update(&tr, c, ok), 0);
            step++;
            if (hdr[1] == 0x1E) {
                kc_env_transcript t2 = tr;
                ck_assert_int_eq(kc_env_transcript_final(&t2, kcomp, serial, lway, lock, ll, mac),
                                 0);
                expect(mac, 16, v, "completion_mac", i);
                completed = 1;
            }
            rl = sizeof resp - 2;
            ck_assert_int_eq(kc_env_resp_build(rc_, serial, c, ok, hdr[1] == 0x1E ? mac : NULL,
                                               hdr[1] == 0x1E ? 16 : 0, resp, &rl), 0);
            resp[rl++] = 0x90;
            resp[rl++] = 0x00;
            expect(resp, rl, e, "response", i);
        }
        /* n of the completion MAC: every inner command (packed: more than envelopes). */
        ck_assert_uint_eq(tr.n, step);
        ck_assert_msg(completed, "session %zu: no COMPLETE ISSUANCE", i);
        kc_wipe(&tr, sizeof tr);
    }
    ck_assert_uint_ge(i - npacked, 3);
    ck_assert_uint_ge(npacked, 3);
    ck_assert_uint_gt(multi, 0); /* some envelopes carry several inner commands */
    json_decref(j);
}
END_TEST

/* The target card's RNG for one session: the vector's Nt. */
static uint8_t fixed_nt[16];
static int fixed_rng(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    for (size_t k = 0; k < len; k++)
        out[k] = fixed_nt[k % sizeof fixed_nt];
    return 0;
}

/*
 * The reference target card firmware fed session.json APDU by APDU (its RNG
 * made to draw the vector's Nt): every answer byte for byte as the
 * independent implementation says, and the card ISSUED at the end. Packed
 * sessions are replayed the same way: their BEGIN carries P1 bit 80 as given.
 */
START_TEST(test_session_on_target_firmware)
{
    json_t *j = kc_vectors_load("session.json"), *a = rows(j, "sessions"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        kc_test_target t;
        uint8_t serial[8], kcard[32], mfg[8 + 1 + 3 + 32], apdu[KC_ENV_APDU_MAX], want[600];
        size_t kl = kc_vectors_hex(v, "kcard", kcard, sizeof kcard), n, wl, k;
        uint8_t way = (uint8_t)intf(v, "way");
        const char *kind = json_is_true(json_object_get(v, "packed")) ? "packed" : "unpacked";
        json_t *envs = rows(v, "envelopes"), *e;
        uint16_t sw;

        kc_tt_new(&t, 900 + i);
        kc_vectors_hex(v, "serial", serial, 8);
        memcpy(mfg, serial, 8);
        mfg[8] = 1;
        mfg[9] = 1;                        /* key 1 */
        mfg[10] = way == 0x01 ? 0x01 : 0;  /* STATIC for the static way */
        mfg[11] = (uint8_t)kl;
        memcpy(mfg + 12, kcard, kl);
        ck_assert_uint_eq(kc_tt_cmd(&t, 0x80, 0xF0, 0, 0, mfg, 12 + kl, -1), 0x9000);
        if (way == 0x01) {
            /* The static counter the vector starts from: 6 accepted before. */
            uint8_t c[4] = {0, 0, 0, 6};
            ck_assert_int_eq(kc_store_put1(&t.tc->store, TC_KEY_STATIC_CTR, c, 4), 0);
        }
        kc_vectors_hex(v, "nt", fixed_nt, 16);
        t.tc->hw.rng = fixed_rng;
        n = kc_vectors_hex(v, "target_begin", apdu, sizeof apdu);
        wl = kc_vectors_hex(v, "target_begin_answer", want, sizeof want);
        sw = kc_tt_send(&t, apdu, n);
        ck_assert_msg(sw == 0x9000, "session %zu (%s): BEGIN ISSUANCE answered %04X", i, kind,
                      sw);
        ck_assert_uint_eq(t.resp_len + 2, wl);
        ck_assert_mem_eq(t.resp, want, wl - 2);
        n = kc_vectors_hex(v, "target_bind", apdu, sizeof apdu);
        sw = kc_tt_send(&t, apdu, n);
        ck_assert_msg(sw == 0x9000, "session %zu (%s): BIND answered %04X", i, kind, sw);
        json_array_foreach(envs, k, e)
        {
            n = kc_vectors_hex(e, "apdu", apdu, sizeof apdu);
            wl = kc_vectors_hex(e, "response", want, sizeof want);
            sw = kc_tt_send(&t, apdu, n);
            ck_assert_msg(sw == 0x9000, "session %zu (%s) envelope %zu: outer SW %04X", i, kind,
                          k, sw);
            ck_assert_msg(t.resp_len + 2 == wl && memcmp(t.resp, want, wl - 2) == 0,
                          "session %zu (%s) envelope %zu: the target's answer differs", i, kind,
                          k);
        }
        ck_assert_uint_eq(kc_tt_sendx(&t, "00CADF1000"), 0x9000);
        ck_assert_uint_eq(t.resp[12], 0x03); /* C5 01 03: ISSUED */
        /* The completion kept with the lock: n counts inner commands, packed or not. */
        {
            uint8_t lock[16], mac[16];
            size_t ll = kc_vectors_hex(v, "lock_data", lock, sizeof lock), steps = 0;
            json_array_foreach(envs, k, e)
                steps += json_is_array(json_object_get(e, "items"))
                             ? json_array_size(json_object_get(e, "items"))
                             : 1;
            kc_vectors_hex(v, "completion_mac", mac, sizeof mac);
            ck_assert_uint_eq(kc_tt_sendx(&t, "00CADF1200"), 0x9000);
            ck_assert_uint_eq(t.resp_len, 3 + ll + 16);
            ck_assert_uint_eq(t.resp[0], steps);
            ck_assert_uint_eq(t.resp[1], intf(v, "lock_way"));
            ck_assert_uint_eq(t.resp[2], ll);
            ck_assert_mem_eq(t.resp + 3, lock, ll);
            ck_assert_mem_eq(t.resp + 3 + ll, mac, 16);
        }
        kc_tt_free(&t);
    }
    json_decref(j);
}
END_TEST

START_TEST(test_prev_random_kat)
{
    json_t *j = kc_vectors_load("prev_random.json"), *a = rows(j, "runs"), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        uint8_t p[32], serial[8], seed[16];
        json_t *steps = rows(v, "steps"), *s;
        size_t k;
        kc_vectors_hex(v, "p0", p, 32);
        json_array_foreach(steps, k, s)
        {
            kc_vectors_hex(s, "serial", serial, 8);
            /* next over p: the key card advances its state in place. */
            ck_assert_int_eq(kc_env_prev_random(p, serial, seed, p), 0);
            expect(seed, 16, s, "seed", i);
            expect(p, 32, s, "next", i);
        }
        ck_assert_uint_ge(k, 2);
    }
    json_decref(j);
}
END_TEST

/* ---- GCM primitive ------------------------------------------------------ */

START_TEST(test_gcm_open_wipes)
{
    uint8_t key[32], iv[12] = {0}, aad[3] = {1, 2, 3}, pt[50], ct[50], tag[16], out[50];
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    memset(pt, 0x77, sizeof pt);
    ck_assert_int_eq(kc_crypto_aes256_gcm_seal(key, iv, aad, 3, pt, 50, ct, tag), 0);
    ck_assert_int_eq(kc_crypto_aes256_gcm_open(key, iv, aad, 3, ct, 50, tag, out), 0);
    ck_assert_mem_eq(out, pt, 50);
    tag[15] ^= 0x80;
    memset(out, 0xAA, sizeof out);
    ck_assert_int_eq(kc_crypto_aes256_gcm_open(key, iv, aad, 3, ct, 50, tag, out), KC_ERR_AUTH);
    ck_assert(all_zero(out, sizeof out));
    /* In place. */
    tag[15] ^= 0x80;
    ck_assert_int_eq(kc_crypto_aes256_gcm_open(key, iv, aad, 3, ct, 50, tag, ct), 0);
    ck_assert_mem_eq(ct, pt, 50);
}
END_TEST

static Suite *envelope_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *kat = tcase_create("known-answer");
    TCase *neg = tcase_create("negative");
    TCase *flow = tcase_create("flow");

    tcase_add_test(kat, test_cmac_kat);
    tcase_add_test(kat, test_cmac_parts_equal_whole);
    tcase_add_test(kat, test_kdf_kat);
    tcase_add_test(kat, test_siv_kat);
    tcase_add_test(kat, test_session_kat);
    tcase_add_test(kat, test_session_on_target_firmware);
    tcase_add_test(kat, test_diversify_kat);
    tcase_add_test(kat, test_chain_kat);
    tcase_add_test(kat, test_envelope_kat);
    tcase_add_test(kat, test_response_kat);
    tcase_add_test(kat, test_completion_kat);
    tcase_add_test(kat, test_prev_random_kat);
    suite_add_tcase(s, kat);

    tcase_set_timeout(neg, 60);
    tcase_add_test(neg, test_kdf_args);
    tcase_add_test(neg, test_chain_args);
    tcase_add_test(neg, test_envelope_bad_padding);
    tcase_add_loop_test(neg, test_envelope_bitflips, 0,
                        (int)(sizeof flip_buckets / sizeof flip_buckets[0]));
    tcase_add_test(neg, test_envelope_wrong_key_counter);
    tcase_add_test(neg, test_envelope_malformed_lengths);
    tcase_add_test(neg, test_seal_bucket_limits);
    tcase_add_test(neg, test_packed_malformed);
    tcase_add_test(neg, test_gcm_open_wipes);
    suite_add_tcase(s, neg);

    tcase_add_test(flow, test_session_roundtrip);
    tcase_add_test(flow, test_packed_roundtrip);
    suite_add_tcase(s, flow);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(envelope_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
