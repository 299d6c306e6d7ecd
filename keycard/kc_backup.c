/*
 * kc_backup.c - n-of-m backup (see kc_backup.h).
 */
#include "kc_backup.h"

#include <string.h>

#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_issue.h"

#define K_IV_LEN 44

uint8_t kc_gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    for (int i = 0; i < 8; i++) {
        r ^= (uint8_t)(-(b & 1u) & a);
        b >>= 1;
        a = (uint8_t)((a << 1) ^ (-(a >> 7) & 0x1Du)); /* reduce by x^8+x^4+x^3+x^2+1 */
    }
    return r;
}

/* a^-1 = a^254 (a != 0), by square and multiply: no branch on a. */
static uint8_t gf_inv(uint8_t a)
{
    uint8_t r = 1, p = a;
    for (int e = 254, i = 0; i < 8; i++, e >>= 1) {
        uint8_t m = kc_gf_mul(r, p);
        uint8_t take = (uint8_t)-(e & 1);
        r = (uint8_t)((m & take) | (r & ~take));
        p = kc_gf_mul(p, p);
    }
    return r;
}

int kc_backup_share(const uint8_t bk[32], const uint8_t seed[32], uint8_t m, uint8_t x,
                    uint8_t y[32])
{
    uint8_t coef[KC_BACKUP_SHARES_MAX - 1][32];
    int rc = 0;

    if (!bk || !seed || !y || m < 2 || m > KC_BACKUP_SHARES_MAX || x == 0)
        return KC_ERR_ARG;
    for (uint8_t k = 1; k < m && rc == 0; k++)
        rc = kc_crypto_kdf(seed, 32, KC_BACKUP_POLY_LABEL, &k, 1, coef[k - 1], 32);
    if (rc == 0) {
        /* Horner: ((a_{m-1} x + a_{m-2}) x + ... + a_1) x + bk */
        for (size_t j = 0; j < 32; j++) {
            uint8_t v = coef[m - 2][j];
            for (int k = m - 3; k >= 0; k--)
                v = (uint8_t)(kc_gf_mul(v, x) ^ coef[k][j]);
            y[j] = (uint8_t)(kc_gf_mul(v, x) ^ bk[j]);
        }
    }
    kc_wipe(coef, sizeof coef);
    return rc;
}

int kc_backup_combine(const uint8_t *x, const uint8_t (*y)[32], size_t n, uint8_t secret[32])
{
    if (!x || !y || !secret || n < 2 || n > KC_BACKUP_SHARES_MAX)
        return KC_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == 0)
            return KC_ERR_BAD_DATA;
        for (size_t j = i + 1; j < n; j++)
            if (x[i] == x[j])
                return KC_ERR_BAD_DATA;
    }
    memset(secret, 0, 32);
    for (size_t i = 0; i < n; i++) {
        /* L_i(0) = prod_{j != i} x_j / (x_j + x_i) */
        uint8_t num = 1, den = 1;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            num = kc_gf_mul(num, x[j]);
            den = kc_gf_mul(den, (uint8_t)(x[j] ^ x[i]));
        }
        uint8_t l = kc_gf_mul(num, gf_inv(den));
        for (size_t b = 0; b < 32; b++)
            secret[b] ^= kc_gf_mul(y[i][b], l);
    }
    return 0;
}

/* K || IV of one key of a backup: KDF(bk, "keycard/backup", id || number, 352). */
static int derive(const uint8_t bk[32], const uint8_t *blob, uint8_t k_iv[K_IV_LEN])
{
    uint8_t ctx[KC_BACKUP_ID_LEN + 1];
    memcpy(ctx, blob + 18, KC_BACKUP_ID_LEN); /* the header's "to": the backup id */
    ctx[KC_BACKUP_ID_LEN] = blob[3];          /* number */
    return kc_crypto_kdf(bk, 32, KC_BACKUP_KDF_LABEL, ctx, sizeof ctx, k_iv, K_IV_LEN);
}

int kc_backup_seal(const uint8_t bk[32], uint8_t *blob, size_t hdr_len, const uint8_t *key,
                   size_t key_len)
{
    uint8_t k_iv[K_IV_LEN];
    if (!bk || !blob || !key || (key_len != 16 && key_len != 32) || hdr_len < KC_KEYWRAP_HDR_LEN)
        return KC_ERR_ARG;
    int rc = derive(bk, blob, k_iv);
    if (rc == 0)
        rc = kc_crypto_aes256_gcm_seal(k_iv, k_iv + 32, blob, hdr_len, key, key_len,
                                       blob + hdr_len + 16, blob + hdr_len);
    kc_wipe(k_iv, sizeof k_iv);
    return rc;
}

int kc_backup_open(const uint8_t bk[32], const uint8_t *blob, size_t len, uint8_t key[32],
                   kc_keywrap_view *v)
{
    uint8_t k_iv[K_IV_LEN], kcv[KC_KCV_LEN];
    if (!bk || !blob || !key || !v)
        return KC_ERR_ARG;
    int rc = kc_keywrap_parse_as(blob, len, KC_BACKUP_FORMAT, v);
    if (rc)
        return rc;
    rc = derive(bk, blob, k_iv);
    if (rc == 0)
        rc = kc_crypto_aes256_gcm_open(k_iv, k_iv + 32, blob, v->hdr_len, v->ct, v->key_len,
                                       v->tag, key);
    kc_wipe(k_iv, sizeof k_iv);
    if (rc == 0 &&
        ((rc = kc_issue_kcv(key, v->key_len, kcv)) != 0 || !kc_ct_equal(kcv, v->kcv, KC_KCV_LEN)))
        rc = rc ? rc : KC_ERR_AUTH;
    if (rc)
        kc_wipe(key, 32);
    return rc;
}
