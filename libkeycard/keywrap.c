/*
 * keywrap.c - wrapped keys on the host (docs/protocol.md 9a): channel
 * certificates as files, the offline preparer (keycard_key_wrap) and the
 * reading of a blob's header. The card side is keycard/kc_keywrap.c.
 */
#include "keywrap.h"

#include <string.h>

#include "channel.h"
#include "crypto.h"
#include "keycard_proto.h"

#define K_IV_LEN 44

/* Kw = SHA-256([1]_4 || Z || label); K || IV = KDF(Kw, "keycard/keywrap", ePK.W || PK.KA, 352). */
static keycard_rc derive(const uint8_t z[32], const uint8_t epk[65], const uint8_t pk_ka[65],
                         uint8_t k_iv[K_IV_LEN])
{
    static const char fixed[] = KC_KEYWRAP_KX_LABEL;
    uint8_t m[4 + 32 + sizeof fixed - 1], kw[32], ctx[2 * KC_P256_PUB_LEN];
    m[0] = m[1] = m[2] = 0;
    m[3] = 1;
    memcpy(m + 4, z, 32);
    memcpy(m + 36, fixed, sizeof fixed - 1);
    keycard_rc rc = kcl_crypto_sha256(NULL, m, sizeof m, kw);
    kcl_wipe(m, sizeof m);
    memcpy(ctx, epk, KC_P256_PUB_LEN);
    memcpy(ctx + KC_P256_PUB_LEN, pk_ka, KC_P256_PUB_LEN);
    if (rc == KEYCARD_OK)
        rc = kcl_crypto_kdf(kw, sizeof kw, KC_KEYWRAP_KDF_LABEL, ctx, sizeof ctx, k_iv, K_IV_LEN);
    kcl_wipe(kw, sizeof kw);
    return rc;
}

keycard_rc kcl_keywrap_seal(const uint8_t *esk, const uint8_t pk_ka[65], uint8_t *blob,
                            size_t hdr_len, const uint8_t *key, size_t key_len)
{
    if (!pk_ka || !blob || !key || (key_len != 16 && key_len != 32))
        return KEYCARD_ERR_ARG;
    uint8_t sk[32], z[32], k_iv[K_IV_LEN];
    uint8_t *epk = blob + hdr_len, *tag = epk + KC_P256_PUB_LEN, *ct = tag + 16;
    keycard_rc rc = kcl_crypto_p256_pair(esk, sk, epk);
    if (rc == KEYCARD_OK) {
        rc = kcl_crypto_ecdh(sk, pk_ka, z);
        if (rc == KEYCARD_ERR_PROTOCOL)
            rc = KEYCARD_ERR_KEY_FORMAT; /* the recipient's key is no point of the curve */
    }
    kcl_wipe(sk, sizeof sk);
    if (rc == KEYCARD_OK)
        rc = derive(z, epk, pk_ka, k_iv);
    kcl_wipe(z, sizeof z);
    if (rc == KEYCARD_OK)
        rc = kcl_crypto_gcm_seal(k_iv, k_iv + 32, blob, hdr_len, key, key_len, ct, tag);
    kcl_wipe(k_iv, sizeof k_iv);
    if (rc != KEYCARD_OK)
        kcl_wipe(epk, KC_KEYWRAP_BODY_LEN + key_len);
    return rc;
}

KEYCARD_API keycard_rc keycard_channel_cert_encode(const keycard_channel_key *ck,
                                                   uint8_t out[KEYCARD_CHANNEL_CERT_LEN])
{
    if (!ck || !out)
        return KEYCARD_ERR_ARG;
    kcl_channel_tbs(ck, out);
    out[KCL_CHANNEL_TBS_LEN] = KC_CH_TAG_SIGNATURE;
    out[KCL_CHANNEL_TBS_LEN + 1] = KC_P256_SIG_LEN;
    memcpy(out + KCL_CHANNEL_TBS_LEN + 2, ck->issuer_sig, KC_P256_SIG_LEN);
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_channel_cert_parse(const uint8_t *buf, size_t len,
                                                  const uint8_t *issuer_pub,
                                                  size_t issuer_pub_len, keycard_channel_key *out)
{
    uint8_t pub[65], tbs[KCL_CHANNEL_TBS_LEN];
    keycard_channel_key ck;
    if (!buf || !out || (issuer_pub && !issuer_pub_len))
        return KEYCARD_ERR_ARG;
    if (issuer_pub && kcl_crypto_pub_raw(issuer_pub, issuer_pub_len, pub) != KEYCARD_OK)
        return KEYCARD_ERR_KEY_FORMAT;
    if (len != KEYCARD_CHANNEL_CERT_LEN || kcl_parse_channel_key(buf, len, 1, &ck) != KEYCARD_OK)
        return KEYCARD_ERR_WRONG_DATA;
    if (issuer_pub) {
        kcl_channel_tbs(&ck, tbs);
        if (kcl_crypto_verify(pub, KC_SIG_LABEL_CHANNEL, tbs, sizeof tbs, ck.issuer_sig) !=
            KEYCARD_OK)
            return KEYCARD_ERR_NOT_GENUINE;
    }
    *out = ck;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_wrapped_parse(const uint8_t *blob, size_t len,
                                             keycard_wrapped_info *out)
{
    if (!blob || !out)
        return KEYCARD_ERR_ARG;
    if (len < KC_BACKUP_MIN) /* the shorter of the two formats */
        return KEYCARD_ERR_WRONG_DATA;
    size_t ll = blob[26];
    size_t klen = blob[4] == KEYCARD_KEY_AES128 ? 16 : blob[4] == KEYCARD_KEY_AES256 ? 32 : 0;
    if (blob[0] != (KC_KEYWRAP_MAGIC >> 8) || blob[1] != (KC_KEYWRAP_MAGIC & 0xFF))
        return KEYCARD_ERR_WRONG_DATA;
    if (blob[2] != KC_KEYWRAP_FORMAT && blob[2] != KC_BACKUP_FORMAT)
        return KEYCARD_ERR_VERSION;
    size_t body = blob[2] == KC_KEYWRAP_FORMAT ? KC_KEYWRAP_BODY_LEN : 16;
    if (blob[3] < KC_NUMBER_MIN || blob[3] > KC_NUMBER_MAX || !klen || !blob[5] ||
        (blob[5] & ~KC_KEYF_ALL) || !blob[6] || ll > KC_LABEL_MAX ||
        len != KC_KEYWRAP_HDR_LEN + ll + body + klen)
        return KEYCARD_ERR_WRONG_DATA;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < ll; i++) {
        if (blob[27 + i] < 0x20 || blob[27 + i] > 0x7E)
            return KEYCARD_ERR_WRONG_DATA;
        out->label[i] = (char)blob[27 + i];
    }
    out->format = blob[2];
    out->number = blob[3];
    out->type = blob[4];
    out->flags = blob[5];
    out->version = blob[6];
    memcpy(out->kcv, blob + 7, 3);
    memcpy(out->from, blob + 10, 8);
    memcpy(out->to, blob + 18, 8);
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_key_wrap(const keycard_channel_key *to, uint8_t number,
                                        uint8_t type, uint8_t flags, const char *label,
                                        uint8_t version, const uint8_t *key, size_t key_len,
                                        uint8_t *blob, size_t cap, size_t *len)
{
    size_t ll = label ? strlen(label) : 0;
    size_t klen = type == KEYCARD_KEY_AES128 ? 16 : type == KEYCARD_KEY_AES256 ? 32 : 0;
    if (!to || !key || !blob || !len || !klen || key_len != klen || number < KC_NUMBER_MIN ||
        number > KC_NUMBER_MAX || !flags || (flags & ~KC_KEYF_ALL) || !version ||
        ll > KC_LABEL_MAX)
        return KEYCARD_ERR_ARG;
    for (size_t i = 0; i < ll; i++)
        if (label[i] < 0x20 || label[i] > 0x7E)
            return KEYCARD_ERR_ARG;
    size_t hdr = KC_KEYWRAP_HDR_LEN + ll, total = hdr + KC_KEYWRAP_BODY_LEN + klen;
    if (cap < total)
        return KEYCARD_ERR_BUFFER;
    blob[0] = KC_KEYWRAP_MAGIC >> 8;
    blob[1] = KC_KEYWRAP_MAGIC & 0xFF;
    blob[2] = KC_KEYWRAP_FORMAT;
    blob[3] = number;
    blob[4] = type;
    blob[5] = flags;
    blob[6] = version;
    keycard_rc rc = kcl_crypto_kcv(key, klen, blob + 7);
    memset(blob + 10, 0, 8); /* from: prepared off-card */
    memcpy(blob + 18, to->serial, 8);
    blob[26] = (uint8_t)ll;
    if (ll)
        memcpy(blob + 27, label, ll);
    if (rc == KEYCARD_OK)
        rc = kcl_keywrap_seal(NULL, to->ka_pub, blob, hdr, key, klen);
    if (rc != KEYCARD_OK) {
        kcl_wipe(blob, total);
        return rc;
    }
    *len = total;
    return KEYCARD_OK;
}
