/*
 * crypto.h - host-side cryptography of libkeycard: the only module that
 * includes mbedTLS, so a change of crypto library touches crypto.c alone.
 * Keys cross this interface as bytes (raw P-256 points, PEM/DER texts).
 */
#ifndef KCL_CRYPTO_H
#define KCL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"

/*
 * Turn an issuer public key - PEM or DER SubjectPublicKeyInfo, or a raw
 * 65-byte uncompressed point - into a validated raw P-256 point.
 * Errors: KEYCARD_ERR_KEY_FORMAT (unparsable, not EC, not P-256, off curve).
 */
keycard_rc kcl_crypto_pub_raw(const uint8_t *in, size_t len, uint8_t out[65]);

/*
 * The public point of a P-256 private key (PEM or DER, SEC1 or PKCS#8) as a
 * raw 65-byte point. Errors: KEYCARD_ERR_KEY_FORMAT, KEYCARD_ERR_MEMORY.
 */
keycard_rc kcl_crypto_pub_from_priv(const uint8_t *priv, size_t priv_len, uint8_t out[65]);

/*
 * Verify an ECDSA P-256 signature r||s over SHA-256(label || NUL || msg).
 * Errors: KEYCARD_ERR_NOT_GENUINE (bad signature), KEYCARD_ERR_KEY_FORMAT
 * (pub not a valid point), KEYCARD_ERR_CRYPTO.
 */
keycard_rc kcl_crypto_verify(const uint8_t pub[65], const char *label, const uint8_t *msg,
                             size_t len, const uint8_t sig[64]);

/*
 * Sign SHA-256(label || NUL || msg) with a P-256 private key given as PEM or
 * DER (SEC1 or PKCS#8), giving r||s. Errors: KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_CRYPTO, KEYCARD_ERR_MEMORY.
 */
keycard_rc kcl_crypto_sign(const uint8_t *priv, size_t priv_len, const char *label,
                           const uint8_t *msg, size_t len, uint8_t sig[64]);

/* SHA-256(label || NUL || msg); label may be NULL (then no label, no NUL). Errors: KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_sha256(const char *label, const uint8_t *msg, size_t len, uint8_t out[32]);

/* Fill buf with len bytes from a DRBG seeded by the system. Errors: KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_random(uint8_t *buf, size_t len);

/*
 * NIST SP 800-108 KDF, counter mode, AES-CMAC PRF (docs/protocol.md):
 * T_i = AES-CMAC(key, [i]_1 || label || 00 || ctx || [L]_2), L = 8*out_len.
 * key_len 16 or 32; out may alias key. Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_CRYPTO (out wiped).
 */
keycard_rc kcl_crypto_kdf(const uint8_t *key, size_t key_len, const char *label,
                          const uint8_t *ctx, size_t ctx_len, uint8_t *out, size_t out_len);

/* Key check value: first 3 bytes of AES(key, 16 x 01), one ECB block (GlobalPlatform).
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3]);

/* 1 when a and b are equal, else 0, in time independent of the contents. */
int kcl_ct_equal(const void *a, const void *b, size_t len);

/* Wipe a buffer in a way the compiler may not remove. */
void kcl_wipe(void *p, size_t len);

/* ---- secure channel (channel.c, docs/protocol.md "Secure channel") ---- */

/* A fresh P-256 key pair (the host's ephemeral key). Errors: KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_p256_keypair(uint8_t priv[32], uint8_t pub[65]);
/* The same from a given scalar (given != NULL: copied to priv) or a fresh one. */
keycard_rc kcl_crypto_p256_pair(const uint8_t *given, uint8_t priv[32], uint8_t pub[65]);

/*
 * P-256 Diffie-Hellman: z = x-coordinate of priv * pub. Errors:
 * KEYCARD_ERR_PROTOCOL (pub is no point of the curve), KEYCARD_ERR_CRYPTO.
 */
keycard_rc kcl_crypto_ecdh(const uint8_t priv[32], const uint8_t pub[65], uint8_t z[32]);

/* AES-CMAC (16- or 32-byte key). Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_cmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                           uint8_t out[16]);

/* AES-256-GCM with a 12-byte IV and 16-byte tag. Errors: KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_gcm_seal(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                               uint8_t tag[16]);

/* The inverse; out is wiped on a bad tag. Errors: KEYCARD_ERR_PROTOCOL (tag). */
keycard_rc kcl_crypto_gcm_open(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                               size_t aad_len, const uint8_t *in, size_t len,
                               const uint8_t tag[16], uint8_t *out);

#endif /* KCL_CRYPTO_H */
