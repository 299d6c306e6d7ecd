/*
 * kc_crypto.c - the card firmware's cryptographic primitives over mbedTLS 2.28.
 *
 * The only firmware file that includes mbedTLS: a change of crypto library
 * touches this file alone. Every mbedTLS error becomes KC_ERR_CRYPTO (or
 * KC_ERR_RNG when the hardware random source failed) and every temporary
 * holding secret material is wiped before returning.
 */
#include "kc_crypto.h"

#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/bignum.h>
#include <mbedtls/cipher.h>
#include <mbedtls/cmac.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

/*
 * The mbedTLS API differences between 2.28 (Debian 12, what this is built and
 * tested with) and 3.x, kept here so that a 3.x port changes this block only:
 * 3.x drops the _ret suffix of the SHA-256 calls and keeps PBKDF2 as the _ext
 * form that takes the hash by type.
 */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define kc_sha256_starts mbedtls_sha256_starts
#define kc_sha256_update mbedtls_sha256_update
#define kc_sha256_finish mbedtls_sha256_finish
#define KC_PBKDF2(ctx, md, pw, pwl, salt, sl, it, kl, out) \
    mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, pw, pwl, salt, sl, it, kl, out)
#else
#define kc_sha256_starts mbedtls_sha256_starts_ret
#define kc_sha256_update mbedtls_sha256_update_ret
#define kc_sha256_finish mbedtls_sha256_finish_ret
#define KC_PBKDF2(ctx, md, pw, pwl, salt, sl, it, kl, out) \
    mbedtls_pkcs5_pbkdf2_hmac(ctx, pw, pwl, salt, sl, it, kl, out)
#endif

#include "kc_err.h"

int kc_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = (const volatile uint8_t *)a;
    const volatile uint8_t *y = (const volatile uint8_t *)b;
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    /* 1 when acc == 0, computed without a branch on the secret. */
    return (int)(1u & (((unsigned)acc - 1u) >> 8));
}

void kc_wipe(void *p, size_t len)
{
    if (p && len)
        mbedtls_platform_zeroize(p, len);
}

int kc_crypto_sha256(const char *label, const uint8_t *msg, size_t len, uint8_t out[32])
{
    mbedtls_sha256_context c;
    int rc;

    mbedtls_sha256_init(&c);
    rc = kc_sha256_starts(&c, 0);
    /* The NUL ends the label, so "ab"+"c" and "a"+"bc" never collide. */
    if (rc == 0 && label)
        rc = kc_sha256_update(&c, (const unsigned char *)label, strlen(label) + 1);
    if (rc == 0 && len)
        rc = kc_sha256_update(&c, msg, len);
    if (rc == 0)
        rc = kc_sha256_finish(&c, out);
    mbedtls_sha256_free(&c);
    return rc ? KC_ERR_CRYPTO : 0;
}

int kc_crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                          uint8_t out[32])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!md)
        return KC_ERR_CRYPTO;
    return mbedtls_md_hmac(md, key, key_len, msg, len, out) ? KC_ERR_CRYPTO : 0;
}

int kc_crypto_verifier(const uint8_t *secret, size_t secret_len, const uint8_t salt[16],
                       uint32_t iterations, uint8_t out[32])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t c;
    int rc;

    if (!md || iterations == 0)
        return KC_ERR_CRYPTO;
    mbedtls_md_init(&c);
    rc = mbedtls_md_setup(&c, md, 1);
    if (rc == 0)
        rc = KC_PBKDF2(&c, md, secret, secret_len, salt, 16, iterations, 32, out);
    mbedtls_md_free(&c); /* zeroizes the HMAC state */
    return rc ? KC_ERR_CRYPTO : 0;
}

/* ---- P-256 ------------------------------------------------------------ */

/* The hardware RNG as an mbedTLS f_rng; remembers a failure for the caller. */
typedef struct hw_rng {
    const kc_hw *hw;
    int failed;
} hw_rng;

static int hw_rng_cb(void *p, unsigned char *buf, size_t len)
{
    hw_rng *r = p;
    if (r->hw->rng(r->hw->ctx, buf, len) != 0) {
        r->failed = 1;
        return MBEDTLS_ERR_ECP_RANDOM_FAILED;
    }
    return 0;
}

int kc_crypto_p256_generate(const kc_hw *hw, uint8_t priv[32], uint8_t pub[65])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    hw_rng r = {hw, 0};
    size_t olen = 0;
    int rc;

    if (!hw || !hw->rng)
        return KC_ERR_RNG;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (rc == 0)
        rc = mbedtls_ecp_gen_keypair(&grp, &d, &q, hw_rng_cb, &r);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&d, priv, 32);
    if (rc == 0)
        rc = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pub,
                                            65);
    if (rc == 0 && olen != 65)
        rc = -1;
    mbedtls_mpi_free(&d); /* zeroizes the private scalar */
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    if (rc) {
        kc_wipe(priv, 32);
        return r.failed ? KC_ERR_RNG : KC_ERR_CRYPTO;
    }
    return 0;
}

int kc_crypto_p256_sign(const kc_hw *hw, const uint8_t priv[32], const uint8_t hash[32],
                        uint8_t sig[64])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, r, s;
    mbedtls_hmac_drbg_context drbg;
    hw_rng hr = {hw, 0};
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    int rc;

    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_hmac_drbg_init(&drbg);

    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (rc == 0)
        rc = mbedtls_mpi_read_binary(&d, priv, 32);
    if (rc == 0)
        rc = mbedtls_ecp_check_privkey(&grp, &d);
    /*
     * The nonce is deterministic (RFC 6979), so a weak RNG cannot leak the
     * key; the RNG only blinds the scalar multiplication. Without a hardware
     * RNG the blinding comes from a DRBG seeded with the key and the hash.
     */
    if (hw && hw->rng) {
        f_rng = hw_rng_cb;
        p_rng = &hr;
    } else {
        uint8_t seed[64];
        memcpy(seed, priv, 32);
        memcpy(seed + 32, hash, 32);
        if (rc == 0)
            rc = mbedtls_hmac_drbg_seed_buf(&drbg, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                            seed, sizeof seed);
        kc_wipe(seed, sizeof seed);
        f_rng = mbedtls_hmac_drbg_random;
        p_rng = &drbg;
    }
    if (rc == 0)
        rc = mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &d, hash, 32, MBEDTLS_MD_SHA256, f_rng,
                                        p_rng);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&r, sig, 32);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&s, sig + 32, 32);

    mbedtls_hmac_drbg_free(&drbg);
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_ecp_group_free(&grp);
    if (rc) {
        kc_wipe(sig, 64);
        return KC_ERR_CRYPTO;
    }
    return 0;
}

int kc_crypto_p256_ecdh(const kc_hw *hw, const uint8_t priv[32], const uint8_t pub[65],
                        uint8_t z[32])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, zm;
    mbedtls_ecp_point q;
    hw_rng hr = {hw, 0};
    int rc;

    if (!priv || !pub || !z)
        return KC_ERR_ARG;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&zm);
    mbedtls_ecp_point_init(&q);
    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (rc == 0)
        rc = mbedtls_mpi_read_binary(&d, priv, 32);
    if (rc == 0)
        rc = mbedtls_ecp_check_privkey(&grp, &d);
    /* A point off the curve or at infinity is refused before any multiplication. */
    int bad_point = 0;
    if (rc == 0 && (pub[0] != 0x04 || mbedtls_ecp_point_read_binary(&grp, &q, pub, 65) != 0 ||
                    mbedtls_ecp_check_pubkey(&grp, &q) != 0))
        bad_point = 1;
    if (rc == 0 && !bad_point)
        rc = mbedtls_ecdh_compute_shared(&grp, &zm, &q, &d, hw && hw->rng ? hw_rng_cb : NULL,
                                         hw && hw->rng ? &hr : NULL);
    if (rc == 0 && !bad_point)
        rc = mbedtls_mpi_write_binary(&zm, z, 32);
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&zm);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    if (bad_point) {
        kc_wipe(z, 32);
        return KC_ERR_BAD_DATA;
    }
    if (rc) {
        kc_wipe(z, 32);
        return hr.failed ? KC_ERR_RNG : KC_ERR_CRYPTO;
    }
    return 0;
}

int kc_crypto_p256_pub_ok(const uint8_t pub[65])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    int ok;

    if (!pub)
        return 0;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    ok = pub[0] == 0x04 && mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
         mbedtls_ecp_point_read_binary(&grp, &q, pub, 65) == 0 &&
         mbedtls_ecp_check_pubkey(&grp, &q) == 0;
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return ok;
}

int kc_crypto_p256_verify(const uint8_t pub[65], const uint8_t hash[32], const uint8_t sig[64])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    int rc;

    if (!pub || !hash || !sig)
        return KC_ERR_ARG;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    int bad = rc != 0 || pub[0] != 0x04 || mbedtls_ecp_point_read_binary(&grp, &q, pub, 65) != 0 ||
              mbedtls_ecp_check_pubkey(&grp, &q) != 0 || mbedtls_mpi_read_binary(&r, sig, 32) != 0 ||
              mbedtls_mpi_read_binary(&s, sig + 32, 32) != 0 ||
              mbedtls_ecdsa_verify(&grp, hash, 32, &q, &r, &s) != 0;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return bad ? KC_ERR_AUTH : 0;
}

/* ---- symmetric primitives for issuance ---------------------------------- */

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(kc_sha256_ctx),
               "kc_sha256_ctx too small for mbedtls_sha256_context");
_Static_assert(_Alignof(mbedtls_sha256_context) <= _Alignof(kc_sha256_ctx),
               "kc_sha256_ctx under-aligned for mbedtls_sha256_context");

int kc_crypto_sha256_init(kc_sha256_ctx *ctx)
{
    mbedtls_sha256_context *c = (mbedtls_sha256_context *)(void *)ctx->opaque;
    mbedtls_sha256_init(c);
    if (kc_sha256_starts(c, 0)) {
        mbedtls_sha256_free(c);
        return KC_ERR_CRYPTO;
    }
    return 0;
}

int kc_crypto_sha256_update(kc_sha256_ctx *ctx, const uint8_t *msg, size_t len)
{
    mbedtls_sha256_context *c = (mbedtls_sha256_context *)(void *)ctx->opaque;
    if (len == 0)
        return 0;
    return kc_sha256_update(c, msg, len) ? KC_ERR_CRYPTO : 0;
}

int kc_crypto_sha256_final(kc_sha256_ctx *ctx, uint8_t out[32])
{
    mbedtls_sha256_context *c = (mbedtls_sha256_context *)(void *)ctx->opaque;
    int rc = kc_sha256_finish(c, out);
    mbedtls_sha256_free(c); /* zeroizes the state */
    return rc ? KC_ERR_CRYPTO : 0;
}

int kc_crypto_aes_cmac_v(const uint8_t *key, size_t key_len, const kc_iov *parts, size_t n,
                         uint8_t out[16])
{
    const mbedtls_cipher_info_t *info;
    mbedtls_cipher_context_t c;
    int rc;

    if (key_len == 16)
        info = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_128_ECB);
    else if (key_len == 32)
        info = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_256_ECB);
    else
        return KC_ERR_ARG;
    if (!info || !key || (n && !parts))
        return info ? KC_ERR_ARG : KC_ERR_CRYPTO;
    mbedtls_cipher_init(&c);
    rc = mbedtls_cipher_setup(&c, info);
    if (rc == 0)
        rc = mbedtls_cipher_cmac_starts(&c, key, key_len * 8);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (parts[i].len)
            rc = mbedtls_cipher_cmac_update(&c, parts[i].p, parts[i].len);
    if (rc == 0)
        rc = mbedtls_cipher_cmac_finish(&c, out);
    mbedtls_cipher_free(&c); /* zeroizes the key schedule and CMAC state */
    if (rc) {
        kc_wipe(out, 16);
        return KC_ERR_CRYPTO;
    }
    return 0;
}

int kc_crypto_aes_block(const uint8_t *key, size_t key_len, const uint8_t in[16],
                        uint8_t out[16])
{
    mbedtls_aes_context aes;
    int rc;

    if (!key || (key_len != 16 && key_len != 32) || !in || !out)
        return KC_ERR_ARG;
    mbedtls_aes_init(&aes);
    rc = mbedtls_aes_setkey_enc(&aes, key, (unsigned)(key_len * 8));
    if (rc == 0)
        rc = mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, in, out);
    mbedtls_aes_free(&aes);
    return rc ? KC_ERR_CRYPTO : 0;
}

int kc_crypto_aes_cmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                       uint8_t out[16])
{
    kc_iov part = {msg, len};
    return kc_crypto_aes_cmac_v(key, key_len, &part, 1, out);
}

/* 255 blocks: the one-byte counter of SP 800-108 with r = 8. */
#define KDF_MAX_OUT (255u * 16u)

int kc_crypto_kdf(const uint8_t *key, size_t key_len, const char *label, const uint8_t *ctx,
                  size_t ctx_len, uint8_t *out, size_t out_len)
{
    /* Worst case of a key: AES-256; copied because out may alias key. */
    uint8_t k[32], block[16];
    uint8_t counter[1], zero[1] = {0}, lbits[2];
    size_t done = 0;
    int rc = 0;

    if (!key || (key_len != 16 && key_len != 32) || !label || (ctx_len && !ctx) || !out ||
        out_len == 0 || out_len > KDF_MAX_OUT)
        return KC_ERR_ARG;
    memcpy(k, key, key_len);
    lbits[0] = (uint8_t)((out_len * 8) >> 8);
    lbits[1] = (uint8_t)(out_len * 8);
    for (unsigned i = 1; rc == 0 && done < out_len; i++) {
        kc_iov parts[5] = {
            {counter, 1},
            {(const uint8_t *)label, strlen(label)},
            {zero, 1},
            {ctx, ctx_len},
            {lbits, 2},
        };
        size_t take = out_len - done < 16 ? out_len - done : 16;
        counter[0] = (uint8_t)i;
        rc = kc_crypto_aes_cmac_v(k, key_len, parts, 5, block);
        if (rc == 0)
            memcpy(out + done, block, take);
        done += take;
    }
    kc_wipe(k, sizeof k);
    kc_wipe(block, sizeof block);
    if (rc) {
        kc_wipe(out, out_len);
        return rc;
    }
    return 0;
}

int kc_crypto_aes256_gcm_seal(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                              size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                              uint8_t tag[16])
{
    mbedtls_gcm_context g;
    int rc;

    mbedtls_gcm_init(&g);
    rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256);
    if (rc == 0)
        rc = mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, len, iv, 12, aad, aad_len, in,
                                       out, 16, tag);
    mbedtls_gcm_free(&g); /* zeroizes the key schedule */
    if (rc) {
        kc_wipe(out, len);
        kc_wipe(tag, 16);
        return KC_ERR_CRYPTO;
    }
    return 0;
}

int kc_crypto_aes256_gcm_open(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                              size_t aad_len, const uint8_t *in, size_t len,
                              const uint8_t tag[16], uint8_t *out)
{
    mbedtls_gcm_context g;
    uint8_t want[16];
    int rc;

    mbedtls_gcm_init(&g);
    rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256);
    /* Decrypt mode hashes the ciphertext, so want is the tag the sender made. */
    if (rc == 0)
        rc = mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_DECRYPT, len, iv, 12, aad, aad_len, in,
                                       out, 16, want);
    mbedtls_gcm_free(&g);
    if (rc == 0 && !kc_ct_equal(want, tag, 16))
        rc = KC_ERR_AUTH;
    else if (rc)
        rc = KC_ERR_CRYPTO;
    kc_wipe(want, sizeof want);
    if (rc)
        kc_wipe(out, len);
    return rc;
}

/* ---- AES-SIV (RFC 5297) ---------------------------------------------------- */

/* Doubling in GF(2^128) (RFC 5297 section 2.3), without a secret-dependent branch. */
static void siv_dbl(uint8_t b[16])
{
    uint8_t carry = (uint8_t)(b[0] >> 7);
    for (int i = 0; i < 15; i++)
        b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
    b[15] = (uint8_t)((b[15] << 1) ^ (0x87 & (uint8_t)-carry));
}

/* S2V(K1, ad_1, ..., ad_n, msg) into v. */
static int siv_s2v(const uint8_t *k1, size_t klen, const kc_iov *ad, size_t n_ad,
                   const uint8_t *msg, size_t len, uint8_t v[16])
{
    static const uint8_t zero[16];
    uint8_t d[16], m[16], last[16];
    int rc = kc_crypto_aes_cmac(k1, klen, zero, sizeof zero, d);

    for (size_t i = 0; rc == 0 && i < n_ad; i++) {
        rc = kc_crypto_aes_cmac(k1, klen, ad[i].p, ad[i].len, m);
        siv_dbl(d);
        for (int j = 0; j < 16; j++)
            d[j] ^= m[j];
    }
    if (rc == 0 && len >= 16) {
        /* T = msg xorend D: only the last block changes. */
        for (int j = 0; j < 16; j++)
            last[j] = msg[len - 16 + j] ^ d[j];
        kc_iov parts[2] = {{msg, len - 16}, {last, 16}};
        rc = kc_crypto_aes_cmac_v(k1, klen, parts, 2, v);
    } else if (rc == 0) {
        /* T = dbl(D) xor pad(msg), pad = msg || 80 00.. */
        siv_dbl(d);
        memset(last, 0, sizeof last);
        if (len)
            memcpy(last, msg, len);
        last[len] = 0x80;
        for (int j = 0; j < 16; j++)
            last[j] ^= d[j];
        rc = kc_crypto_aes_cmac(k1, klen, last, 16, v);
    }
    kc_wipe(d, sizeof d);
    kc_wipe(m, sizeof m);
    kc_wipe(last, sizeof last);
    if (rc)
        kc_wipe(v, 16);
    return rc;
}

/* AES-CTR under K2 from the synthetic IV with bits 31 and 63 cleared. */
static int siv_ctr(const uint8_t *k2, size_t klen, const uint8_t v[16], const uint8_t *in,
                   size_t len, uint8_t *out)
{
    mbedtls_aes_context aes;
    uint8_t ctr[16], stream[16];
    size_t off = 0;
    int rc;

    memcpy(ctr, v, 16);
    ctr[8] &= 0x7F;
    ctr[12] &= 0x7F;
    mbedtls_aes_init(&aes);
    rc = mbedtls_aes_setkey_enc(&aes, k2, (unsigned)(klen * 8));
    if (rc == 0)
        rc = mbedtls_aes_crypt_ctr(&aes, len, &off, ctr, stream, in, out);
    mbedtls_aes_free(&aes);
    kc_wipe(stream, sizeof stream);
    kc_wipe(ctr, sizeof ctr);
    return rc ? KC_ERR_CRYPTO : 0;
}

int kc_crypto_aes_siv_seal(const uint8_t *key, size_t key_len, const kc_iov *ad, size_t n_ad,
                           const uint8_t *in, size_t len, uint8_t *out, uint8_t v[16])
{
    size_t h = key_len / 2;
    int rc;

    if (!key || (key_len != 32 && key_len != 64) || (n_ad && !ad) || (len && (!in || !out)) ||
        !v)
        return KC_ERR_ARG;
    rc = siv_s2v(key, h, ad, n_ad, in, len, v);
    if (rc == 0)
        rc = siv_ctr(key + h, h, v, in, len, out);
    if (rc) {
        if (len)
            kc_wipe(out, len);
        kc_wipe(v, 16);
    }
    return rc;
}

int kc_crypto_aes_siv_open(const uint8_t *key, size_t key_len, const kc_iov *ad, size_t n_ad,
                           const uint8_t *in, size_t len, const uint8_t v[16], uint8_t *out)
{
    uint8_t want[16];
    size_t h = key_len / 2;
    int rc;

    if (!key || (key_len != 32 && key_len != 64) || (n_ad && !ad) || (len && (!in || !out)) ||
        !v)
        return KC_ERR_ARG;
    rc = siv_ctr(key + h, h, v, in, len, out);
    if (rc == 0)
        rc = siv_s2v(key, h, ad, n_ad, out, len, want);
    if (rc == 0 && !kc_ct_equal(want, v, 16))
        rc = KC_ERR_AUTH;
    kc_wipe(want, sizeof want);
    if (rc && len)
        kc_wipe(out, len);
    return rc;
}
