/*
 * kc_keywrap.c - wrapped keys (see kc_keywrap.h, docs/protocol.md 9a).
 */
#include "kc_keywrap.h"

#include <string.h>

#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_issue.h"

#define K_IV_LEN 44 /* K (32) || IV (12): KDF output of 352 bits */

static size_t key_len_of(uint8_t type)
{
    return type == KC_KEY_TYPE_AES128 ? 16 : type == KC_KEY_TYPE_AES256 ? 32 : 0;
}

int kc_keywrap_parse(const uint8_t *b, size_t len, kc_keywrap_view *v)
{
    return kc_keywrap_parse_as(b, len, KC_KEYWRAP_FORMAT, v);
}

int kc_keywrap_parse_as(const uint8_t *b, size_t len, uint8_t format, kc_keywrap_view *v)
{
    size_t ll, klen, body = format == KC_KEYWRAP_FORMAT ? KC_KEYWRAP_BODY_LEN : 16;

    if (b == NULL || v == NULL || len < KC_KEYWRAP_HDR_LEN + body + 16)
        return KC_ERR_BAD_DATA;
    memset(v, 0, sizeof(*v));
    ll = b[26];
    klen = key_len_of(b[4]);
    if (b[0] != (KC_KEYWRAP_MAGIC >> 8) || b[1] != (KC_KEYWRAP_MAGIC & 0xFF) || b[2] != format ||
        b[3] < KC_NUMBER_MIN || b[3] > KC_NUMBER_MAX || klen == 0 ||
        (b[5] & ~KC_KEYF_ALL) != 0 || b[5] == 0 || b[6] == 0 || ll > KC_LABEL_MAX ||
        len != KC_KEYWRAP_HDR_LEN + ll + body + klen)
        return KC_ERR_BAD_DATA;
    for (size_t i = 0; i < ll; i++)
        if (b[27 + i] < 0x20 || b[27 + i] > 0x7E)
            return KC_ERR_BAD_DATA;
    v->number = b[3];
    v->type = b[4];
    v->flags = b[5];
    v->version = b[6];
    v->kcv = b + 7;
    v->from = b + 10;
    v->to = b + 18;
    v->label_len = (uint8_t)ll;
    v->label = b + 27;
    v->hdr_len = KC_KEYWRAP_HDR_LEN + ll;
    v->epk = format == KC_KEYWRAP_FORMAT ? b + v->hdr_len : NULL; /* a backup blob has none */
    v->tag = b + v->hdr_len + body - 16;
    v->ct = v->tag + 16;
    v->key_len = klen;
    return 0;
}

size_t kc_keywrap_header(uint8_t *o, uint8_t number, uint8_t type, uint8_t flags,
                         uint8_t version, const uint8_t kcv[KC_KCV_LEN],
                         const uint8_t from[KC_SERIAL_LEN], const uint8_t to[KC_SERIAL_LEN],
                         const uint8_t *label, uint8_t label_len)
{
    o[0] = KC_KEYWRAP_MAGIC >> 8;
    o[1] = KC_KEYWRAP_MAGIC & 0xFF;
    o[2] = KC_KEYWRAP_FORMAT;
    o[3] = number;
    o[4] = type;
    o[5] = flags;
    o[6] = version;
    memcpy(o + 7, kcv, KC_KCV_LEN);
    memcpy(o + 10, from, KC_SERIAL_LEN);
    memcpy(o + 18, to, KC_SERIAL_LEN);
    o[26] = label_len;
    memcpy(o + 27, label, label_len);
    return KC_KEYWRAP_HDR_LEN + (size_t)label_len;
}

/*
 * K || IV from the shared x-coordinate: Kw = SHA-256([1]_4 || Z ||
 * "keycard/keywrap/v1"), then KDF(Kw, "keycard/keywrap", ePK.W || PK.KA, 352).
 */
static int derive(const uint8_t z[32], const uint8_t epk[KC_P256_PUB_LEN],
                  const uint8_t pk_ka[KC_P256_PUB_LEN], uint8_t k_iv[K_IV_LEN])
{
    static const uint8_t one[4] = {0, 0, 0, 1};
    static const char fixed[] = KC_KEYWRAP_KX_LABEL;
    uint8_t kw[32], ctx[2 * KC_P256_PUB_LEN];
    kc_sha256_ctx h;
    int rc = kc_crypto_sha256_init(&h);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, one, sizeof one);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, z, 32);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, (const uint8_t *)fixed, sizeof fixed - 1);
    if (rc == 0)
        rc = kc_crypto_sha256_final(&h, kw);
    kc_wipe(&h, sizeof h);
    memcpy(ctx, epk, KC_P256_PUB_LEN);
    memcpy(ctx + KC_P256_PUB_LEN, pk_ka, KC_P256_PUB_LEN);
    if (rc == 0)
        rc = kc_crypto_kdf(kw, sizeof kw, KC_KEYWRAP_KDF_LABEL, ctx, sizeof ctx, k_iv, K_IV_LEN);
    kc_wipe(kw, sizeof kw);
    return rc;
}

int kc_keywrap_seal(const kc_hw *hw, const uint8_t pk_ka[KC_P256_PUB_LEN], uint8_t *blob,
                    size_t hdr_len, const uint8_t *key, size_t key_len)
{
    uint8_t esk[KC_P256_PRIV_LEN], z[32], k_iv[K_IV_LEN];
    uint8_t *epk, *tag, *ct;
    int rc;

    if (hw == NULL || pk_ka == NULL || blob == NULL || key == NULL ||
        (key_len != 16 && key_len != 32))
        return KC_ERR_ARG;
    epk = blob + hdr_len;
    tag = epk + KC_P256_PUB_LEN;
    ct = tag + 16;
    rc = kc_crypto_p256_generate(hw, esk, epk);
    if (rc == 0)
        rc = kc_crypto_p256_ecdh(hw, esk, pk_ka, z);
    kc_wipe(esk, sizeof esk);
    if (rc == 0)
        rc = derive(z, epk, pk_ka, k_iv);
    kc_wipe(z, sizeof z);
    if (rc == 0)
        rc = kc_crypto_aes256_gcm_seal(k_iv, k_iv + 32, blob, hdr_len, key, key_len, ct, tag);
    kc_wipe(k_iv, sizeof k_iv);
    if (rc)
        kc_wipe(epk, KC_KEYWRAP_BODY_LEN + key_len);
    return rc;
}

int kc_keywrap_open(const kc_hw *hw, const uint8_t sk_ka[KC_P256_PRIV_LEN],
                    const uint8_t pk_ka[KC_P256_PUB_LEN], const uint8_t *blob, size_t len,
                    kc_keywrap_view *v, uint8_t key[32])
{
    uint8_t z[32], k_iv[K_IV_LEN], kcv[KC_KCV_LEN];
    int rc;

    if (hw == NULL || sk_ka == NULL || pk_ka == NULL || v == NULL || key == NULL)
        return KC_ERR_ARG;
    if ((rc = kc_keywrap_parse(blob, len, v)) != 0)
        return rc;
    rc = kc_crypto_p256_ecdh(hw, sk_ka, v->epk, z);
    if (rc == 0)
        rc = derive(z, v->epk, pk_ka, k_iv);
    kc_wipe(z, sizeof z);
    if (rc == 0)
        rc = kc_crypto_aes256_gcm_open(k_iv, k_iv + 32, blob, v->hdr_len, v->ct, v->key_len,
                                       v->tag, key);
    kc_wipe(k_iv, sizeof k_iv);
    /* An authentic blob whose key does not match its own check value: refused all the same. */
    if (rc == 0 && ((rc = kc_issue_kcv(key, v->key_len, kcv)) != 0 ||
                    !kc_ct_equal(kcv, v->kcv, KC_KCV_LEN)))
        rc = rc ? rc : KC_ERR_AUTH;
    if (rc)
        kc_wipe(key, 32);
    return rc;
}
