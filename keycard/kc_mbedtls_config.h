/*
 * kc_mbedtls_config.h - the mbedTLS 2.28 configuration of the card firmware
 * for a chip build (`make chip`, MBEDTLS_CONFIG_FILE): only the modules
 * keycard/kc_crypto.c uses, and nothing of an operating system - no
 * threading, no file system, no network, no platform entropy (the card's
 * TRNG reaches the firmware through kc_hw.rng, never through mbedTLS).
 *
 * The host build (the simulator in kc-vcard, the tests) compiles against
 * the configuration of the system's libmbedcrypto instead, which it links.
 * kc_crypto.c is the only firmware file that includes mbedTLS headers.
 */
#ifndef KC_MBEDTLS_CONFIG_H
#define KC_MBEDTLS_CONFIG_H

/* Symmetric: AES (ECB blocks, CTR for SIV), CMAC, GCM (secure channel). */
#define MBEDTLS_AES_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CIPHER_MODE_CTR
#define MBEDTLS_CMAC_C
#define MBEDTLS_GCM_C

/* Hashes, HMAC, the deterministic ECDSA nonce, PBKDF2. */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_PKCS5_C

/* P-256: device key signatures, the channel's ECDH. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C

/* No operating system under the card. */
#define MBEDTLS_NO_PLATFORM_ENTROPY

#include "mbedtls/check_config.h"

#endif /* KC_MBEDTLS_CONFIG_H */
