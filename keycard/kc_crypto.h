/*
 * kc_crypto.h - every cryptographic primitive the card firmware uses.
 *
 * The only firmware module that includes mbedTLS (kc_crypto.c), so a change of
 * crypto library touches one file. Also the constant-time helpers.
 */
#ifndef KC_CRYPTO_H
#define KC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"

/* Constant-time equality of two buffers: 1 when equal, else 0. No early exit. */
int kc_ct_equal(const void *a, const void *b, size_t len);

/* Wipe a secret in a way the compiler cannot remove. */
void kc_wipe(void *p, size_t len);

/* SHA-256 of label (with its NUL when label != NULL) followed by msg. */
int kc_crypto_sha256(const char *label, const uint8_t *msg, size_t len, uint8_t out[32]);

/* HMAC-SHA-256. Returns 0 or KC_ERR_CRYPTO. */
int kc_crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                          uint8_t out[32]);

/*
 * PBKDF2-HMAC-SHA-256 giving a 32-byte verifier of a secret (PIN or admin key)
 * under a salt. Returns 0 or KC_ERR_CRYPTO.
 */
int kc_crypto_verifier(const uint8_t *secret, size_t secret_len, const uint8_t salt[16],
                       uint32_t iterations, uint8_t out[32]);

/* Generate a P-256 key pair with the hardware RNG. Returns 0, KC_ERR_CRYPTO, KC_ERR_RNG. */
int kc_crypto_p256_generate(const kc_hw *hw, uint8_t priv[32], uint8_t pub[65]);

/*
 * P-256 Diffie-Hellman: z receives the x-coordinate of priv * pub (the secure
 * channel's shared secret). pub must be an uncompressed point on the curve.
 * Returns 0, KC_ERR_BAD_DATA (pub not a valid point), KC_ERR_ARG,
 * KC_ERR_CRYPTO, KC_ERR_RNG (blinding).
 */
int kc_crypto_p256_ecdh(const kc_hw *hw, const uint8_t priv[32], const uint8_t pub[65],
                        uint8_t z[32]);

/* ECDSA P-256 signature (r||s) of a 32-byte hash. Returns 0 or KC_ERR_CRYPTO. */
int kc_crypto_p256_sign(const kc_hw *hw, const uint8_t priv[32], const uint8_t hash[32],
                        uint8_t sig[64]);

/* 1 when pub is an uncompressed point of P-256 (not infinity), else 0. */
int kc_crypto_p256_pub_ok(const uint8_t pub[65]);

/*
 * Check an ECDSA P-256 signature (r||s) of a 32-byte hash under pub (an
 * uncompressed point). Public data only. Returns 0, KC_ERR_AUTH (bad point,
 * bad signature), KC_ERR_ARG.
 */
int kc_crypto_p256_verify(const uint8_t pub[65], const uint8_t hash[32], const uint8_t sig[64]);

/* ---- symmetric primitives for issuance (docs/protocol.md) --------------- */

/* One piece of a message given in parts (so callers need no concatenation buffer). */
typedef struct kc_iov {
    const uint8_t *p;
    size_t len;
} kc_iov;

/*
 * Streaming SHA-256. The storage is opaque so this header needs no mbedTLS
 * include; kc_crypto.c checks at compile time that the real context fits.
 */
typedef struct kc_sha256_ctx {
    uint64_t opaque[20];
} kc_sha256_ctx;

/* Start a hash. Returns 0 or KC_ERR_CRYPTO. */
int kc_crypto_sha256_init(kc_sha256_ctx *ctx);
/* Add len bytes (len may be 0). Returns 0 or KC_ERR_CRYPTO. */
int kc_crypto_sha256_update(kc_sha256_ctx *ctx, const uint8_t *msg, size_t len);
/* Finish into out and wipe the context. Returns 0 or KC_ERR_CRYPTO. */
int kc_crypto_sha256_final(kc_sha256_ctx *ctx, uint8_t out[32]);

/*
 * One AES block encryption (ECB of a single block) under an AES-128 or AES-256
 * key: only for key check values, never for data. Returns 0, KC_ERR_ARG,
 * KC_ERR_CRYPTO.
 */
int kc_crypto_aes_block(const uint8_t *key, size_t key_len, const uint8_t in[16],
                        uint8_t out[16]);

/*
 * AES-CMAC (NIST SP 800-38B, RFC 4493) of msg under an AES-128 or AES-256 key.
 * Returns 0, KC_ERR_ARG (key_len not 16 or 32), KC_ERR_CRYPTO.
 */
int kc_crypto_aes_cmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                       uint8_t out[16]);

/* AES-CMAC of the concatenation of n parts. Errors as kc_crypto_aes_cmac. */
int kc_crypto_aes_cmac_v(const uint8_t *key, size_t key_len, const kc_iov *parts, size_t n,
                         uint8_t out[16]);

/*
 * NIST SP 800-108 KDF in counter mode with AES-CMAC as PRF (r = 8, the counter
 * first, as GlobalPlatform SCP03): for i = 1..ceil(L/128),
 *   T_i = AES-CMAC(key, [i]_1 || label || 0x00 || ctx || [L]_2),  L = 8*out_len,
 * and out = the first out_len bytes of T_1 || T_2 || ... . label is ASCII and
 * its NUL is not hashed; ctx may be NULL when ctx_len is 0. out may alias key.
 * Returns 0, KC_ERR_ARG (key_len not 16 or 32, out_len 0 or > 4080, NULL label),
 * KC_ERR_CRYPTO. On error out is wiped.
 */
int kc_crypto_kdf(const uint8_t *key, size_t key_len, const char *label, const uint8_t *ctx,
                  size_t ctx_len, uint8_t *out, size_t out_len);

/*
 * AES-256-GCM encryption with a 12-byte IV and a 16-byte tag. out may equal in.
 * Returns 0 or KC_ERR_CRYPTO (then out and tag are wiped).
 */
int kc_crypto_aes256_gcm_seal(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                              size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                              uint8_t tag[16]);

/*
 * AES-256-GCM decryption; the tag is compared in constant time and on any
 * failure out (len bytes) is wiped, so no unauthenticated plaintext escapes.
 * out may equal in. Returns 0, KC_ERR_AUTH (tag mismatch), KC_ERR_CRYPTO.
 */
int kc_crypto_aes256_gcm_open(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                              size_t aad_len, const uint8_t *in, size_t len,
                              const uint8_t tag[16], uint8_t *out);

/*
 * Deterministic authenticated encryption AES-SIV (RFC 5297) with one or more
 * associated-data strings: key is K1 || K2 (32 bytes: AES-128-SIV, 64 bytes:
 * AES-256-SIV), V = S2V(K1, ad..., in) is the 16-byte synthetic IV and tag,
 * out = AES-CTR(K2, V with bits 31 and 63 cleared, in). A repeated (key,
 * input) reveals only that the two inputs are equal. out may equal in.
 * Returns 0, KC_ERR_ARG (key_len, NULL pointers), KC_ERR_CRYPTO (out and v
 * wiped).
 */
int kc_crypto_aes_siv_seal(const uint8_t *key, size_t key_len, const kc_iov *ad, size_t n_ad,
                           const uint8_t *in, size_t len, uint8_t *out, uint8_t v[16]);

/*
 * AES-SIV decryption: out = CTR(K2, v, in), then S2V over ad and out is
 * compared with v in constant time; on any failure out (len bytes) is wiped.
 * out may equal in. Returns 0, KC_ERR_AUTH, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_crypto_aes_siv_open(const uint8_t *key, size_t key_len, const kc_iov *ad, size_t n_ad,
                           const uint8_t *in, size_t len, const uint8_t v[16], uint8_t *out);

#endif /* KC_CRYPTO_H */
