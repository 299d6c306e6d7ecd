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

/* Key check value: first 3 bytes of AES-CMAC(key, 16 x 01). Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_CRYPTO. */
keycard_rc kcl_crypto_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3]);

/* 1 when a and b are equal, else 0, in time independent of the contents. */
int kcl_ct_equal(const void *a, const void *b, size_t len);

/* Wipe a buffer in a way the compiler may not remove. */
void kcl_wipe(void *p, size_t len);

#endif /* KCL_CRYPTO_H */
