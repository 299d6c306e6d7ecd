/*
 * crypto.c - host-side cryptography of libkeycard over mbedTLS 2.28 (see
 * crypto.h). ECDSA works on raw r||s and raw points because that is what the
 * key card protocol carries; no DER signature crosses this module's border.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/cipher.h>
#include <mbedtls/cmac.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

/*
 * The mbedTLS differences between 2.28 (Debian 12, built and tested) and 3.x,
 * kept here so that a 3.x port changes this block only: 3.x makes the key
 * pair's fields private and gives the key parser an RNG.
 */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define KP_GRP(kp) (&(kp)->MBEDTLS_PRIVATE(grp))
#define KP_Q(kp) (&(kp)->MBEDTLS_PRIVATE(Q))
#define KP_D(kp) (&(kp)->MBEDTLS_PRIVATE(d))
#define KP_GROUP_ID(kp) ((kp)->MBEDTLS_PRIVATE(grp).id)
#define PK_PARSE_KEY(pk, key, len, d) \
    mbedtls_pk_parse_key(pk, key, len, NULL, 0, mbedtls_ctr_drbg_random, &(d)->ctr)
#else
#define KP_GRP(kp) (&(kp)->grp)
#define KP_Q(kp) (&(kp)->Q)
#define KP_D(kp) (&(kp)->d)
#define KP_GROUP_ID(kp) ((kp)->grp.id)
#define PK_PARSE_KEY(pk, key, len, d) ((void)(d), mbedtls_pk_parse_key(pk, key, len, NULL, 0))
#endif

#include "crypto.h"

void kcl_wipe(void *p, size_t len)
{
    if (p && len)
        mbedtls_platform_zeroize(p, len);
}

int kcl_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < len; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

/* SHA-256(label || NUL || msg): the domain separation of keycard_proto.h. */
static keycard_rc labelled_hash(const char *label, const uint8_t *msg, size_t len,
                                uint8_t out[32])
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int r = info ? mbedtls_md_setup(&md, info, 0) : -1;
    if (!r)
        r = mbedtls_md_starts(&md);
    if (!r && label)
        r = mbedtls_md_update(&md, (const unsigned char *)label, strlen(label) + 1);
    if (!r && len)
        r = mbedtls_md_update(&md, msg, len);
    if (!r)
        r = mbedtls_md_finish(&md, out);
    mbedtls_md_free(&md);
    return r ? KEYCARD_ERR_CRYPTO : KEYCARD_OK;
}

typedef struct drbg {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context ctr;
} drbg;

static keycard_rc drbg_init(drbg *d)
{
    static const char pers[] = "libkeycard";
    mbedtls_entropy_init(&d->entropy);
    mbedtls_ctr_drbg_init(&d->ctr);
    if (mbedtls_ctr_drbg_seed(&d->ctr, mbedtls_entropy_func, &d->entropy,
                              (const unsigned char *)pers, sizeof pers - 1) != 0)
        return KEYCARD_ERR_CRYPTO;
    return KEYCARD_OK;
}

static void drbg_free(drbg *d)
{
    mbedtls_ctr_drbg_free(&d->ctr);
    mbedtls_entropy_free(&d->entropy);
}

keycard_rc kcl_crypto_random(uint8_t *buf, size_t len)
{
    drbg d;
    keycard_rc rc = drbg_init(&d);
    /* ctr_drbg hands out at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call. */
    for (size_t o = 0; rc == KEYCARD_OK && o < len;) {
        size_t n = len - o > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : len - o;
        if (mbedtls_ctr_drbg_random(&d.ctr, buf + o, n) != 0)
            rc = KEYCARD_ERR_CRYPTO;
        o += n;
    }
    drbg_free(&d);
    return rc;
}

/*
 * mbedTLS parses PEM only from a NUL-terminated buffer whose length counts
 * the NUL; callers hand us file contents that rarely have one. Returns a
 * heap copy (to wipe and free) and its length to pass on.
 */
static uint8_t *pem_terminated(const uint8_t *in, size_t len, size_t *out_len)
{
    uint8_t *c = malloc(len + 1);
    if (!c)
        return NULL;
    memcpy(c, in, len);
    c[len] = 0;
    *out_len = len;
    if (len && in[len - 1] == 0)
        return c; /* already terminated */
    if (strstr((const char *)c, "-----BEGIN") != NULL)
        *out_len = len + 1;
    return c;
}

static int is_p256(mbedtls_pk_context *pk)
{
    return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
           KP_GROUP_ID(mbedtls_pk_ec(*pk)) == MBEDTLS_ECP_DP_SECP256R1;
}

/* Load a raw point into grp/Q, checking it lies on P-256. */
static int load_point(mbedtls_ecp_group *grp, mbedtls_ecp_point *q, const uint8_t pub[65])
{
    if (pub[0] != 0x04)
        return -1;
    if (mbedtls_ecp_group_load(grp, MBEDTLS_ECP_DP_SECP256R1) != 0)
        return -2;
    if (mbedtls_ecp_point_read_binary(grp, q, pub, 65) != 0 || mbedtls_ecp_check_pubkey(grp, q) != 0)
        return -1;
    return 0;
}

keycard_rc kcl_crypto_pub_raw(const uint8_t *in, size_t len, uint8_t out[65])
{
    if (!in || !len || !out)
        return KEYCARD_ERR_KEY_FORMAT;
    keycard_rc rc = KEYCARD_ERR_KEY_FORMAT;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    if (len == 65 && in[0] == 0x04) {
        int r = load_point(&grp, &q, in);
        if (r == 0) {
            memcpy(out, in, 65);
            rc = KEYCARD_OK;
        } else if (r == -2) {
            rc = KEYCARD_ERR_CRYPTO;
        }
    } else {
        size_t plen = 0;
        uint8_t *copy = pem_terminated(in, len, &plen);
        if (!copy) {
            rc = KEYCARD_ERR_MEMORY;
        } else {
            mbedtls_pk_context pk;
            mbedtls_pk_init(&pk);
            size_t olen = 0;
            if (mbedtls_pk_parse_public_key(&pk, copy, plen) == 0 && is_p256(&pk)) {
                mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk);
                if (mbedtls_ecp_point_write_binary(KP_GRP(kp), KP_Q(kp), MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                   &olen, out, 65) == 0 &&
                    olen == 65)
                    rc = KEYCARD_OK;
            }
            mbedtls_pk_free(&pk);
            free(copy);
        }
    }
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

keycard_rc kcl_crypto_pub_from_priv(const uint8_t *priv, size_t priv_len, uint8_t out[65])
{
    if (!priv || !priv_len || !out)
        return KEYCARD_ERR_KEY_FORMAT;
    size_t plen = 0, olen = 0;
    uint8_t *copy = pem_terminated(priv, priv_len, &plen);
    if (!copy)
        return KEYCARD_ERR_MEMORY;
    keycard_rc rc = KEYCARD_ERR_KEY_FORMAT;
    mbedtls_pk_context pk;
    drbg d;
    mbedtls_pk_init(&pk);
    /* The parser computes Q when the file holds only d (mbedTLS 3.x with an RNG). */
    if (drbg_init(&d) == KEYCARD_OK && PK_PARSE_KEY(&pk, copy, plen, &d) == 0 && is_p256(&pk)) {
        mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk);
        if (mbedtls_ecp_check_pubkey(KP_GRP(kp), KP_Q(kp)) == 0 &&
            mbedtls_ecp_point_write_binary(KP_GRP(kp), KP_Q(kp), MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                           out, 65) == 0 &&
            olen == 65)
            rc = KEYCARD_OK;
    }
    mbedtls_pk_free(&pk);
    drbg_free(&d);
    kcl_wipe(copy, priv_len + 1);
    free(copy);
    return rc;
}

keycard_rc kcl_crypto_sha256(const char *label, const uint8_t *msg, size_t len, uint8_t out[32])
{
    return labelled_hash(label, msg, len, out);
}

keycard_rc kcl_crypto_verify(const uint8_t pub[65], const char *label, const uint8_t *msg,
                             size_t len, const uint8_t sig[64])
{
    uint8_t h[32];
    keycard_rc rc = labelled_hash(label, msg, len, h);
    if (rc != KEYCARD_OK)
        return rc;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int lp = load_point(&grp, &q, pub);
    if (lp == -1)
        rc = KEYCARD_ERR_KEY_FORMAT;
    else if (lp != 0 || mbedtls_mpi_read_binary(&r, sig, 32) != 0 ||
             mbedtls_mpi_read_binary(&s, sig + 32, 32) != 0)
        rc = KEYCARD_ERR_CRYPTO;
    else if (mbedtls_ecdsa_verify(&grp, h, sizeof h, &q, &r, &s) != 0)
        rc = KEYCARD_ERR_NOT_GENUINE;
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

keycard_rc kcl_crypto_sign(const uint8_t *priv, size_t priv_len, const char *label,
                           const uint8_t *msg, size_t len, uint8_t sig[64])
{
    if (!priv || !priv_len)
        return KEYCARD_ERR_KEY_FORMAT;
    uint8_t h[32];
    keycard_rc rc = labelled_hash(label, msg, len, h);
    if (rc != KEYCARD_OK)
        return rc;
    size_t plen = 0;
    uint8_t *copy = pem_terminated(priv, priv_len, &plen);
    if (!copy)
        return KEYCARD_ERR_MEMORY;
    mbedtls_pk_context pk;
    mbedtls_mpi r, s;
    drbg d;
    mbedtls_pk_init(&pk);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    rc = drbg_init(&d);
    if (rc == KEYCARD_OK) {
        if (PK_PARSE_KEY(&pk, copy, plen, &d) != 0 || !is_p256(&pk)) {
            rc = KEYCARD_ERR_KEY_FORMAT;
        } else {
            mbedtls_ecp_keypair *kp = mbedtls_pk_ec(pk);
            if (mbedtls_ecdsa_sign(KP_GRP(kp), &r, &s, KP_D(kp), h, sizeof h,
                                   mbedtls_ctr_drbg_random, &d.ctr) != 0 ||
                mbedtls_mpi_write_binary(&r, sig, 32) != 0 ||
                mbedtls_mpi_write_binary(&s, sig + 32, 32) != 0)
                rc = KEYCARD_ERR_CRYPTO;
        }
    }
    drbg_free(&d);
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_pk_free(&pk);
    kcl_wipe(copy, priv_len + 1);
    free(copy);
    kcl_wipe(h, sizeof h);
    return rc;
}

/*
 * NIST SP 800-108 counter mode with AES-CMAC as PRF (as docs/protocol.md and
 * the key card firmware): T_i = CMAC(key, [i]_1 || label || 00 || ctx || [L]_2).
 * A second, independent implementation of the firmware's KDF: the host never
 * links firmware crypto, and a unit test checks the two agree.
 */
keycard_rc kcl_crypto_kdf(const uint8_t *key, size_t key_len, const char *label,
                          const uint8_t *ctx, size_t ctx_len, uint8_t *out, size_t out_len)
{
    if (!key || (key_len != 16 && key_len != 32) || !label || (ctx_len && !ctx) || !out ||
        out_len == 0 || out_len > 255 * 16)
        return KEYCARD_ERR_ARG;
    const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(
        key_len == 16 ? MBEDTLS_CIPHER_AES_128_ECB : MBEDTLS_CIPHER_AES_256_ECB);
    uint8_t k[32], acc[255 * 16];
    memcpy(k, key, key_len); /* out may alias key */
    size_t lbits = 8 * out_len, blocks = (out_len + 15) / 16;
    const uint8_t zero = 0, lenb[2] = {(uint8_t)(lbits >> 8), (uint8_t)lbits};
    int r = ci ? 0 : -1;
    for (size_t i = 1; !r && i <= blocks; i++) {
        mbedtls_cipher_context_t c;
        mbedtls_cipher_init(&c);
        uint8_t ib = (uint8_t)i;
        r = mbedtls_cipher_setup(&c, ci);
        if (!r)
            r = mbedtls_cipher_cmac_starts(&c, k, 8 * key_len);
        if (!r)
            r = mbedtls_cipher_cmac_update(&c, &ib, 1);
        if (!r)
            r = mbedtls_cipher_cmac_update(&c, (const unsigned char *)label, strlen(label));
        if (!r)
            r = mbedtls_cipher_cmac_update(&c, &zero, 1);
        if (!r && ctx_len)
            r = mbedtls_cipher_cmac_update(&c, ctx, ctx_len);
        if (!r)
            r = mbedtls_cipher_cmac_update(&c, lenb, 2);
        if (!r)
            r = mbedtls_cipher_cmac_finish(&c, acc + 16 * (i - 1));
        mbedtls_cipher_free(&c);
    }
    if (!r)
        memcpy(out, acc, out_len);
    kcl_wipe(k, sizeof k);
    kcl_wipe(acc, sizeof acc);
    if (r) {
        kcl_wipe(out, out_len);
        return KEYCARD_ERR_CRYPTO;
    }
    return KEYCARD_OK;
}

keycard_rc kcl_crypto_kcv(const uint8_t *key, size_t key_len, uint8_t kcv[3])
{
    /* GlobalPlatform's AES key check value: one block of 01 bytes encrypted. */
    if (!key || (key_len != 16 && key_len != 32) || !kcv)
        return KEYCARD_ERR_ARG;
    mbedtls_aes_context aes;
    uint8_t in[16], out[16];
    memset(in, 0x01, sizeof in);
    mbedtls_aes_init(&aes);
    int r = mbedtls_aes_setkey_enc(&aes, key, (unsigned)(8 * key_len));
    if (!r)
        r = mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, in, out);
    mbedtls_aes_free(&aes);
    if (!r)
        memcpy(kcv, out, 3);
    kcl_wipe(out, sizeof out);
    return r ? KEYCARD_ERR_CRYPTO : KEYCARD_OK;
}

/* ---- secure channel (channel.c) ------------------------------------------ */

static int drbg_cb(void *p, unsigned char *buf, size_t len)
{
    return mbedtls_ctr_drbg_random(p, buf, len);
}

keycard_rc kcl_crypto_p256_keypair(uint8_t priv[32], uint8_t pub[65])
{
    return kcl_crypto_p256_pair(NULL, priv, pub);
}

keycard_rc kcl_crypto_p256_pair(const uint8_t *given, uint8_t priv[32], uint8_t pub[65])
{
    if (!priv || !pub)
        return KEYCARD_ERR_ARG;
    drbg d;
    mbedtls_ecp_group grp;
    mbedtls_mpi k;
    mbedtls_ecp_point q;
    size_t olen = 0;
    keycard_rc rc = drbg_init(&d);
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&k);
    mbedtls_ecp_point_init(&q);
    int r = rc == KEYCARD_OK ? 0 : -1;
    if (!r)
        r = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (!r && given) /* a known scalar (vectors): checked, then Q = k * G */
        r = mbedtls_mpi_read_binary(&k, given, 32) || mbedtls_ecp_check_privkey(&grp, &k) ||
            mbedtls_ecp_mul(&grp, &q, &k, &grp.G, drbg_cb, &d.ctr);
    else if (!r)
        r = mbedtls_ecp_gen_keypair(&grp, &k, &q, drbg_cb, &d.ctr);
    if (!r)
        r = mbedtls_mpi_write_binary(&k, priv, 32);
    if (!r)
        r = mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pub, 65);
    if (!r && olen != 65)
        r = -1;
    mbedtls_mpi_free(&k); /* zeroizes the scalar */
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    drbg_free(&d);
    if (r) {
        kcl_wipe(priv, 32);
        return KEYCARD_ERR_CRYPTO;
    }
    return KEYCARD_OK;
}

keycard_rc kcl_crypto_ecdh(const uint8_t priv[32], const uint8_t pub[65], uint8_t z[32])
{
    if (!priv || !pub || !z)
        return KEYCARD_ERR_ARG;
    drbg d;
    mbedtls_ecp_group grp;
    mbedtls_mpi k, zm;
    mbedtls_ecp_point q;
    keycard_rc rc = drbg_init(&d);
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&k);
    mbedtls_mpi_init(&zm);
    mbedtls_ecp_point_init(&q);
    int r = rc == KEYCARD_OK ? 0 : -2;
    if (!r)
        r = load_point(&grp, &q, pub);
    if (r == -1)
        rc = KEYCARD_ERR_PROTOCOL; /* the card's key is no point of P-256 */
    if (!r)
        r = mbedtls_mpi_read_binary(&k, priv, 32);
    if (!r)
        r = mbedtls_ecdh_compute_shared(&grp, &zm, &q, &k, drbg_cb, &d.ctr);
    if (!r)
        r = mbedtls_mpi_write_binary(&zm, z, 32);
    mbedtls_mpi_free(&k);
    mbedtls_mpi_free(&zm);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    drbg_free(&d);
    if (r) {
        kcl_wipe(z, 32);
        return rc == KEYCARD_ERR_PROTOCOL ? rc : KEYCARD_ERR_CRYPTO;
    }
    return KEYCARD_OK;
}

keycard_rc kcl_crypto_cmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                           uint8_t out[16])
{
    if (!key || (key_len != 16 && key_len != 32) || (len && !msg) || !out)
        return KEYCARD_ERR_ARG;
    const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(
        key_len == 16 ? MBEDTLS_CIPHER_AES_128_ECB : MBEDTLS_CIPHER_AES_256_ECB);
    if (!ci || mbedtls_cipher_cmac(ci, key, 8 * key_len, msg, len, out) != 0)
        return KEYCARD_ERR_CRYPTO;
    return KEYCARD_OK;
}

keycard_rc kcl_crypto_gcm_seal(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                               uint8_t tag[16])
{
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    int r = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256);
    if (!r)
        r = mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, len, iv, 12, aad, aad_len, in, out,
                                      16, tag);
    mbedtls_gcm_free(&g);
    return r ? KEYCARD_ERR_CRYPTO : KEYCARD_OK;
}

keycard_rc kcl_crypto_gcm_open(const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
                               size_t aad_len, const uint8_t *in, size_t len,
                               const uint8_t tag[16], uint8_t *out)
{
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    int r = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256);
    if (!r)
        r = mbedtls_gcm_auth_decrypt(&g, len, iv, 12, aad, aad_len, tag, 16, in, out);
    mbedtls_gcm_free(&g);
    if (r) {
        if (len)
            kcl_wipe(out, len);
        return KEYCARD_ERR_PROTOCOL;
    }
    return KEYCARD_OK;
}
