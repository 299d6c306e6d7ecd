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

/* ECDSA P-256 signature (r||s) of a 32-byte hash. Returns 0 or KC_ERR_CRYPTO. */
int kc_crypto_p256_sign(const kc_hw *hw, const uint8_t priv[32], const uint8_t hash[32],
                        uint8_t sig[64]);

#endif /* KC_CRYPTO_H */
