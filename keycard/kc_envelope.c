/*
 * kc_envelope.c - the issuance crypto core (see kc_envelope.h and
 * docs/protocol.md): derivations, ENVELOPE seal/open, response MACs,
 * completion transcript, previous-random chain.
 *
 * No allocation: the worst-case plaintext (one 1024-byte bucket) lives on the
 * stack of seal/open and is wiped before they return. No mbedTLS here; every
 * primitive comes from kc_crypto.
 */
#include "kc_envelope.h"

#include <string.h>

#include "kc_bytes.h"
#include "kc_err.h"

/* serial || [c]_4: the context of every per-envelope derivation. */
static void serial_ctr(uint8_t out[12], const uint8_t serial[8], uint32_t c)
{
    memcpy(out, serial, 8);
    put_be32(out + 8, c);
}

int kc_env_bucket_valid(size_t bucket)
{
    return kc_env_bucket_ok(bucket);
}

int kc_env_diversify(const uint8_t *master, size_t master_len, const uint8_t serial[8],
                     uint8_t *kcard)
{
    if (!serial)
        return KC_ERR_ARG;
    return kc_crypto_kdf(master, master_len, KC_KDF_LABEL_DIVERSIFY, serial, 8, kcard, master_len);
}

void kc_env_session_ctx(uint8_t out[KC_ENV_SCTX_LEN], const uint8_t serial[8],
                        const uint8_t nt[16], const uint8_t nk[16], const uint8_t seed[16])
{
    kc_env_session_ctx_opts(out, serial, nt, nk, seed, 0);
}

size_t kc_env_sctx_len(const uint8_t sctx[KC_ENV_SCTX_LEN])
{
    return KC_ENV_SCTX_BASE_LEN + (sctx[KC_ENV_SCTX_BASE_LEN] != 0);
}

void kc_env_session_ctx_opts(uint8_t out[KC_ENV_SCTX_LEN], const uint8_t serial[8],
                             const uint8_t nt[16], const uint8_t nk[16], const uint8_t seed[16],
                             uint8_t opts)
{
    out[KC_ENV_SCTX_BASE_LEN] = opts;
    memcpy(out, serial, 8);
    memcpy(out + 8, nt, 16);
    memcpy(out + 24, nk, 16);
    if (seed)
        memcpy(out + 40, seed, 16);
    else
        memset(out + 40, 0, 16);
}

int kc_env_chain_seed(const uint8_t *kcard, size_t kcard_len, const uint8_t sctx[KC_ENV_SCTX_LEN],
                      uint8_t r0[32])
{
    if (!sctx)
        return KC_ERR_ARG;
    return kc_crypto_kdf(kcard, kcard_len, KC_KDF_LABEL_CHAIN_SEED, sctx, kc_env_sctx_len(sctx), r0, 32);
}

int kc_env_static_base(const uint8_t *kcard, size_t kcard_len,
                       const uint8_t sctx[KC_ENV_SCTX_LEN], uint8_t base[32])
{
    if (!sctx)
        return KC_ERR_ARG;
    return kc_crypto_kdf(kcard, kcard_len, KC_KDF_LABEL_STATIC_BASE, sctx, kc_env_sctx_len(sctx), base,
                         32);
}

int kc_env_chain_step(uint8_t r[32], const uint8_t serial[8], uint32_t c)
{
    uint8_t ctx[12];

    if (!r || !serial || c == 0)
        return KC_ERR_ARG;
    serial_ctr(ctx, serial, c);
    /* kc_crypto_kdf copies the key first, so writing R_c over R_{c-1} is safe. */
    return kc_crypto_kdf(r, 32, KC_KDF_LABEL_CHAIN_STEP, ctx, sizeof ctx, r, 32);
}

int kc_env_static_key(const uint8_t *kcard, size_t kcard_len, const uint8_t serial[8],
                      uint32_t c, uint8_t r[32])
{
    uint8_t ctx[12];

    if (!serial || c == 0)
        return KC_ERR_ARG;
    serial_ctr(ctx, serial, c);
    return kc_crypto_kdf(kcard, kcard_len, KC_KDF_LABEL_STATIC, ctx, sizeof ctx, r, 32);
}

int kc_env_keys(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                uint8_t kenv[KC_ENV_KENV_LEN], uint8_t kresp[16])
{
    uint8_t ctx[12];
    int rc = 0;

    if (!r || !serial)
        return KC_ERR_ARG;
    serial_ctr(ctx, serial, c);
    if (kenv)
        rc = kc_crypto_kdf(r, 32, KC_KDF_LABEL_ENVELOPE, ctx, sizeof ctx, kenv, KC_ENV_KENV_LEN);
    if (rc == 0 && kresp)
        rc = kc_crypto_kdf(r, 32, KC_KDF_LABEL_RESPONSE, ctx, sizeof ctx, kresp, 16);
    if (rc && kenv)
        kc_wipe(kenv, KC_ENV_KENV_LEN);
    return rc;
}

/* The associated data of envelope c: AD = 84 C2 00 00 || serial || [c]_4. */
static void env_ad(uint8_t aad[16], const uint8_t serial[8], uint32_t c)
{
    aad[0] = KC_ENV_CLA;
    aad[1] = KC_ENV_INS;
    aad[2] = 0x00;
    aad[3] = 0x00;
    memcpy(aad + 4, serial, 8);
    put_be32(aad + 12, c);
}

/*
 * The ENVELOPE APDU of counter c around pt (bucket bytes, padded already);
 * see kc_env_seal. pt is the caller's to wipe.
 */
static int seal_pt(const uint8_t r[32], const uint8_t serial[8], uint32_t c, size_t bucket,
                   const uint8_t *pt, uint8_t *apdu, size_t *apdu_len)
{
    uint8_t kenv[KC_ENV_KENV_LEN], aad[16];
    kc_iov ad = {aad, sizeof aad};
    size_t n = KC_ENV_CTR_LEN + bucket + KC_ENV_TAG_LEN; /* outer command data */
    size_t total = n <= 255 ? 5 + n + 1 : 7 + n + 2, off;
    int rc;

    if (*apdu_len < total)
        return KC_ERR_TOO_BIG;
    apdu[0] = KC_ENV_CLA;
    apdu[1] = KC_ENV_INS;
    apdu[2] = 0x00;
    apdu[3] = 0x00;
    if (n <= 255) {
        apdu[4] = (uint8_t)n;
        off = 5;
    } else {
        apdu[4] = 0x00;
        apdu[5] = (uint8_t)(n >> 8);
        apdu[6] = (uint8_t)n;
        off = 7;
    }
    put_be32(apdu + off, c);
    env_ad(aad, serial, c);
    rc = kc_env_keys(r, serial, c, kenv, NULL);
    if (rc == 0)
        rc = kc_crypto_aes_siv_seal(kenv, sizeof kenv, &ad, 1, pt, bucket, apdu + off + 4,
                                    apdu + off + 4 + bucket);
    /* Le: 00 short, 00 00 extended (maximum response length). */
    memset(apdu + off + n, 0, total - off - n);
    kc_wipe(kenv, sizeof kenv);
    if (rc) {
        kc_wipe(apdu, total);
        return rc;
    }
    *apdu_len = total;
    return 0;
}

/* ISO 7816-4 padding of pt[0..used) to bucket bytes: 80 00..00. */
static void pad_to(uint8_t *pt, size_t used, size_t bucket)
{
    pt[used] = 0x80;
    memset(pt + used + 1, 0, bucket - used - 1);
}

int kc_env_seal(const uint8_t r[32], const uint8_t serial[8], uint32_t c, size_t bucket,
                const uint8_t hdr[4], const uint8_t *data, size_t data_len, uint8_t *apdu,
                size_t *apdu_len)
{
    uint8_t pt[KC_ENV_BUCKET_MAX]; /* worst case: the largest bucket */
    int rc;

    if (!r || !serial || !hdr || (data_len && !data) || !apdu || !apdu_len || c == 0 ||
        !kc_env_bucket_valid(bucket))
        return KC_ERR_ARG;
    if (data_len > bucket - KC_ENV_INNER_OVERHEAD)
        return KC_ERR_TOO_BIG;
    /* Plaintext: inner header, [Lc]_2, data, ISO 7816-4 padding to the bucket. */
    memcpy(pt, hdr, 4);
    pt[4] = (uint8_t)(data_len >> 8);
    pt[5] = (uint8_t)data_len;
    if (data_len)
        memcpy(pt + 6, data, data_len);
    pad_to(pt, 6 + data_len, bucket);
    rc = seal_pt(r, serial, c, bucket, pt, apdu, apdu_len);
    kc_wipe(pt, bucket);
    return rc;
}

int kc_env_item_put(uint8_t *items, size_t cap, size_t *len, const uint8_t hdr[4],
                    const uint8_t *data, size_t data_len)
{
    if (!items || !len || !hdr || (data_len && !data) || *len > cap)
        return KC_ERR_ARG;
    if (cap - *len < KC_ENV_ITEM_HDR || cap - *len - KC_ENV_ITEM_HDR < data_len)
        return KC_ERR_TOO_BIG;
    memcpy(items + *len, hdr, 4);
    items[*len + 4] = (uint8_t)(data_len >> 8);
    items[*len + 5] = (uint8_t)data_len;
    if (data_len)
        memcpy(items + *len + KC_ENV_ITEM_HDR, data, data_len);
    *len += KC_ENV_ITEM_HDR + data_len;
    return 0;
}

int kc_env_seal_packed_pt(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                          size_t bucket, uint8_t *pt, size_t used, uint8_t *apdu,
                          size_t *apdu_len)
{
    if (!r || !serial || !pt || !apdu || !apdu_len || c == 0 || !kc_env_bucket_valid(bucket) ||
        used < 1 || pt[0] == 0)
        return KC_ERR_ARG;
    if (used + 1 > bucket)
        return KC_ERR_TOO_BIG;
    pad_to(pt, used, bucket);
    return seal_pt(r, serial, c, bucket, pt, apdu, apdu_len);
}

int kc_env_seal_packed(const uint8_t r[32], const uint8_t serial[8], uint32_t c, size_t bucket,
                       const uint8_t *items, size_t items_len, size_t count, uint8_t *apdu,
                       size_t *apdu_len)
{
    uint8_t pt[KC_ENV_BUCKET_MAX];
    int rc;

    if (!r || !serial || !items || !apdu || !apdu_len || c == 0 || count == 0 || count > 255 ||
        !kc_env_bucket_valid(bucket))
        return KC_ERR_ARG;
    if (items_len + 2 > bucket)
        return KC_ERR_TOO_BIG;
    /* [k]_1 || items || 80 00..00 */
    pt[0] = (uint8_t)count;
    memcpy(pt + 1, items, items_len);
    rc = kc_env_seal_packed_pt(r, serial, c, bucket, pt, 1 + items_len, apdu, apdu_len);
    kc_wipe(pt, bucket);
    return rc;
}

/*
 * Locate the command data of an ENVELOPE: checks header and canonical Lc/Le
 * encoding. Reads only apdu[0..len).
 */
static int parse_outer(const uint8_t *apdu, size_t len, size_t *off, size_t *data_n)
{
    size_t n;

    if (len < 5 || apdu[0] != KC_ENV_CLA || apdu[1] != KC_ENV_INS || apdu[2] != 0x00 ||
        apdu[3] != 0x00)
        return KC_ERR_ENV_FORMAT;
    if (apdu[4] != 0x00) { /* short: Lc 1..255, Le 00 */
        n = apdu[4];
        if (len != 5 + n + 1 || apdu[len - 1] != 0x00)
            return KC_ERR_ENV_FORMAT;
        *off = 5;
    } else { /* extended: 00 Lc_hi Lc_lo, Le 00 00; only for more than 255 bytes */
        if (len < 7)
            return KC_ERR_ENV_FORMAT;
        n = get_be16(apdu + 5);
        if (n <= 255 || len != 7 + n + 2 || apdu[len - 2] != 0x00 || apdu[len - 1] != 0x00)
            return KC_ERR_ENV_FORMAT;
        *off = 7;
    }
    *data_n = n; /* open_common checks that n is 4 + bucket + 16 */
    return 0;
}

/* Decrypt body = [c]_4 || C || T of an envelope with a bucket of b bytes into pt. */
static int decrypt_body(const uint8_t kenv[KC_ENV_KENV_LEN], const uint8_t serial[8],
                        uint32_t expected_c, const uint8_t *body, size_t b, uint8_t *pt)
{
    uint8_t aad[16];
    kc_iov ad = {aad, sizeof aad};

    /* The counter is also in the key and the AD; checking it first names the fault. */
    if (get_be32(body) != expected_c)
        return KC_ERR_ENV_COUNTER;
    env_ad(aad, serial, expected_c);
    return kc_crypto_aes_siv_open(kenv, KC_ENV_KENV_LEN, &ad, 1, body + 4, b, body + 4 + b, pt);
}

/* 0 when pt[from..b) is 80 00..00, else KC_ERR_BAD_DATA (no early exit on the zeros). */
static int padding_ok(const uint8_t *pt, size_t from, size_t b)
{
    uint8_t acc = 0;
    if (from >= b || pt[from] != 0x80)
        return KC_ERR_BAD_DATA;
    for (size_t i = from + 1; i < b; i++)
        acc |= pt[i];
    return acc ? KC_ERR_BAD_DATA : 0;
}

/* Decrypt and check a one-command envelope; see kc_env_open. */
static int open_body(const uint8_t kenv[KC_ENV_KENV_LEN], const uint8_t serial[8],
                     uint32_t expected_c, const uint8_t *body, size_t b, uint8_t hdr[4],
                     uint8_t *data, size_t *data_len)
{
    uint8_t pt[KC_ENV_BUCKET_MAX]; /* worst case: the largest bucket */
    size_t inner;
    int rc = decrypt_body(kenv, serial, expected_c, body, b, pt);

    if (rc)
        return rc; /* siv_open wiped pt */
    /* Authentic: now the inner length and padding must be exact. */
    inner = get_be16(pt + 4);
    if (inner > b - KC_ENV_INNER_OVERHEAD)
        rc = KC_ERR_BAD_DATA;
    else if ((rc = padding_ok(pt, 6 + inner, b)) == 0 && inner > *data_len)
        rc = KC_ERR_TOO_BIG;
    if (rc == 0) {
        memcpy(hdr, pt, 4);
        if (inner)
            memcpy(data, pt + 6, inner);
        *data_len = inner;
    }
    kc_wipe(pt, b);
    return rc;
}

/*
 * Common argument checks and error wiping of the open entry points; the
 * envelope key is kenv, or derived here from r when kenv is NULL.
 */
static int open_common(const uint8_t r[32], const uint8_t *kenv, const uint8_t serial[8],
                       uint32_t expected_c, const uint8_t *body, size_t body_len, int outer_rc,
                       uint8_t hdr[4], uint8_t *data, size_t *data_len, size_t *bucket)
{
    size_t b = body_len - KC_ENV_CTR_LEN - KC_ENV_TAG_LEN;
    uint8_t own[KC_ENV_KENV_LEN];
    int rc = outer_rc;

    if (rc == 0 && expected_c == 0)
        rc = KC_ERR_ARG;
    if (rc == 0 && (body_len < KC_ENV_CTR_LEN + KC_ENV_TAG_LEN || !kc_env_bucket_valid(b)))
        rc = KC_ERR_ENV_FORMAT;
    if (rc == 0 && kenv == NULL) {
        rc = kc_env_keys(r, serial, expected_c, own, NULL);
        kenv = own;
    }
    if (rc == 0)
        rc = open_body(kenv, serial, expected_c, body, b, hdr, data, data_len);
    kc_wipe(own, sizeof own);
    if (rc) {
        kc_wipe(hdr, 4);
        if (data)
            kc_wipe(data, *data_len);
        return rc;
    }
    if (bucket)
        *bucket = b;
    return 0;
}

int kc_env_open(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                const uint8_t *apdu, size_t apdu_len, uint8_t hdr[4], uint8_t *data,
                size_t *data_len, size_t *bucket)
{
    size_t off = 0, n = 0;
    int rc;

    if (!r || !serial || !apdu || !hdr || !data_len || (*data_len && !data))
        return KC_ERR_ARG;
    rc = parse_outer(apdu, apdu_len, &off, &n);
    return open_common(r, NULL, serial, expected_c, apdu + off, n, rc, hdr, data, data_len,
                       bucket);
}

int kc_env_open_body(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                     const uint8_t *body, size_t body_len, uint8_t hdr[4], uint8_t *data,
                     size_t *data_len, size_t *bucket)
{
    if (!r || !serial || !body || !hdr || !data_len || (*data_len && !data))
        return KC_ERR_ARG;
    return open_common(r, NULL, serial, expected_c, body, body_len, 0, hdr, data, data_len,
                       bucket);
}

int kc_env_keyset_derive(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                         kc_env_keyset *k)
{
    if (!k)
        return KC_ERR_ARG;
    return kc_env_keys(r, serial, c, k->kenv, k->kresp);
}

int kc_env_open_keyed(const kc_env_keyset *k, const uint8_t serial[8], uint32_t expected_c,
                      const uint8_t *body, size_t body_len, uint8_t hdr[4], uint8_t *data,
                      size_t *data_len, size_t *bucket)
{
    if (!k || !serial || !body || !hdr || !data_len || (*data_len && !data))
        return KC_ERR_ARG;
    return open_common(NULL, k->kenv, serial, expected_c, body, body_len, 0, hdr, data,
                       data_len, bucket);
}

int kc_env_item_next(const uint8_t *pt, size_t len, size_t *off, uint8_t hdr[4],
                     const uint8_t **data, size_t *data_len)
{
    size_t n;

    if (!pt || !off || !hdr || !data || !data_len || *off > len)
        return KC_ERR_ARG;
    if (len - *off < KC_ENV_ITEM_HDR)
        return KC_ERR_BAD_DATA;
    n = get_be16(pt + *off + 4);
    if (len - *off - KC_ENV_ITEM_HDR < n)
        return KC_ERR_BAD_DATA;
    memcpy(hdr, pt + *off, 4);
    *data = pt + *off + KC_ENV_ITEM_HDR;
    *data_len = n;
    *off += KC_ENV_ITEM_HDR + n;
    return 0;
}

int kc_env_open_packed_keyed(const kc_env_keyset *k, const uint8_t serial[8],
                             uint32_t expected_c, const uint8_t *body, size_t body_len,
                             uint8_t *pt, size_t *pt_len, size_t *count)
{
    size_t b = body_len - KC_ENV_CTR_LEN - KC_ENV_TAG_LEN, off = 1, dl, i;
    const uint8_t *d;
    uint8_t hdr[4];
    int rc = 0;

    if (!k || !serial || !body || !pt || !pt_len || !count || expected_c == 0)
        return KC_ERR_ARG;
    if (body_len < KC_ENV_CTR_LEN + KC_ENV_TAG_LEN || !kc_env_bucket_valid(b))
        return KC_ERR_ENV_FORMAT;
    if (*pt_len < b)
        return KC_ERR_TOO_BIG;
    rc = decrypt_body(k->kenv, serial, expected_c, body, b, pt);
    if (rc)
        return rc;
    /* Authentic: k >= 1 items that end exactly at the padding mark. */
    for (i = 0; rc == 0 && i < pt[0]; i++)
        rc = kc_env_item_next(pt, b, &off, hdr, &d, &dl);
    if (rc == 0 && pt[0] == 0)
        rc = KC_ERR_BAD_DATA;
    if (rc == 0)
        rc = padding_ok(pt, off, b);
    kc_wipe(hdr, sizeof hdr);
    if (rc) {
        kc_wipe(pt, b);
        return KC_ERR_BAD_DATA;
    }
    kc_wipe(pt + off, b - off); /* the padding: nothing of it is needed */
    *pt_len = off;
    *count = pt[0];
    return 0;
}

/* M = AES-CMAC(kresp, [c]_4 || sw || data). */
static int resp_mac(const uint8_t kresp[16], uint32_t c, const uint8_t sw[2],
                    const uint8_t *data, size_t data_len, uint8_t mac[16])
{
    uint8_t ctr[4];
    put_be32(ctr, c);
    kc_iov parts[3] = {{ctr, 4}, {sw, 2}, {data, data_len}};
    return kc_crypto_aes_cmac_v(kresp, 16, parts, 3, mac);
}

int kc_env_resp_mac(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                    const uint8_t sw[2], const uint8_t *data, size_t data_len, uint8_t mac[16])
{
    uint8_t kresp[16];
    int rc;

    if (!r || !serial || !sw || (data_len && !data) || !mac)
        return KC_ERR_ARG;
    rc = kc_env_keys(r, serial, c, NULL, kresp);
    if (rc == 0)
        rc = resp_mac(kresp, c, sw, data, data_len, mac);
    kc_wipe(kresp, sizeof kresp);
    return rc;
}

/* [c]_4 || SW1 SW2 || data || M under kresp; see kc_env_resp_build. */
static int resp_build(const uint8_t kresp[16], uint32_t c, const uint8_t sw[2],
                      const uint8_t *data, size_t data_len, uint8_t *out, size_t *out_len)
{
    int rc;

    if (*out_len < KC_ENV_RESP_OVERHEAD || *out_len - KC_ENV_RESP_OVERHEAD < data_len)
        return KC_ERR_TOO_BIG;
    put_be32(out, c);
    out[4] = sw[0];
    out[5] = sw[1];
    if (data_len)
        memcpy(out + 6, data, data_len);
    rc = resp_mac(kresp, c, sw, data, data_len, out + 6 + data_len);
    if (rc)
        return rc;
    *out_len = data_len + KC_ENV_RESP_OVERHEAD;
    return 0;
}

int kc_env_resp_build(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                      const uint8_t sw[2], const uint8_t *data, size_t data_len, uint8_t *out,
                      size_t *out_len)
{
    uint8_t kresp[16];
    int rc;

    if (!r || !serial || !sw || (data_len && !data) || !out || !out_len)
        return KC_ERR_ARG;
    rc = kc_env_keys(r, serial, c, NULL, kresp);
    if (rc == 0)
        rc = resp_build(kresp, c, sw, data, data_len, out, out_len);
    kc_wipe(kresp, sizeof kresp);
    return rc;
}

int kc_env_resp_build_keyed(const kc_env_keyset *k, uint32_t c, const uint8_t sw[2],
                            const uint8_t *data, size_t data_len, uint8_t *out, size_t *out_len)
{
    if (!k || !sw || (data_len && !data) || !out || !out_len)
        return KC_ERR_ARG;
    return resp_build(k->kresp, c, sw, data, data_len, out, out_len);
}

int kc_env_resp_verify(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                       const uint8_t *resp, size_t resp_len, uint8_t sw[2], size_t *data_off,
                       size_t *data_len)
{
    uint8_t mac[16];
    size_t n;
    int rc;

    if (!r || !serial || !resp || !sw || !data_off || !data_len)
        return KC_ERR_ARG;
    if (resp_len < KC_ENV_RESP_OVERHEAD)
        return KC_ERR_ENV_FORMAT;
    if (get_be32(resp) != expected_c)
        return KC_ERR_ENV_COUNTER;
    n = resp_len - KC_ENV_RESP_OVERHEAD;
    rc = kc_env_resp_mac(r, serial, expected_c, resp + 4, resp + 6, n, mac);
    if (rc == 0 && !kc_ct_equal(mac, resp + 6 + n, 16))
        rc = KC_ERR_AUTH;
    kc_wipe(mac, sizeof mac);
    if (rc)
        return rc;
    sw[0] = resp[4];
    sw[1] = resp[5];
    *data_off = 6;
    *data_len = n;
    return 0;
}

int kc_env_completion_key(const uint8_t *kcard, size_t kcard_len,
                          const uint8_t sctx[KC_ENV_SCTX_LEN], uint8_t kcomp[16])
{
    if (!sctx)
        return KC_ERR_ARG;
    return kc_crypto_kdf(kcard, kcard_len, KC_KDF_LABEL_COMPLETION, sctx, kc_env_sctx_len(sctx), kcomp,
                         16);
}

int kc_env_transcript_init(kc_env_transcript *t)
{
    if (!t)
        return KC_ERR_ARG;
    t->n = 0;
    return kc_crypto_sha256_init(&t->h);
}

int kc_env_transcript_update(kc_env_transcript *t, uint32_t c, const uint8_t sw[2])
{
    uint8_t e[6];

    if (!t || !sw)
        return KC_ERR_ARG;
    if (t->n == UINT32_MAX)
        return KC_ERR_TOO_BIG;
    put_be32(e, c);
    e[4] = sw[0];
    e[5] = sw[1];
    if (kc_crypto_sha256_update(&t->h, e, sizeof e))
        return KC_ERR_CRYPTO;
    t->n++;
    return 0;
}

int kc_env_transcript_final(kc_env_transcript *t, const uint8_t kcomp[16],
                            const uint8_t serial[8], uint8_t lock_way, const uint8_t *lock_data,
                            size_t lock_len, uint8_t mac[16])
{
    uint8_t h[32], n[4], lk[2];
    int rc;

    if (!t || !kcomp || !serial || !mac || lock_len > KC_ENV_LOCK_DATA_MAX ||
        (lock_len && !lock_data)) {
        if (t)
            kc_wipe(t, sizeof *t);
        return KC_ERR_ARG;
    }
    rc = kc_crypto_sha256_final(&t->h, h);
    put_be32(n, t->n);
    lk[0] = lock_way;
    lk[1] = (uint8_t)lock_len;
    if (rc == 0) {
        kc_iov parts[5] = {{serial, 8}, {n, 4}, {h, 32}, {lk, 2}, {lock_data, lock_len}};
        rc = kc_crypto_aes_cmac_v(kcomp, 16, parts, 5, mac);
    }
    kc_wipe(t, sizeof *t);
    kc_wipe(h, sizeof h);
    return rc;
}

int kc_env_prev_random(const uint8_t p[32], const uint8_t serial[8], uint8_t seed[16],
                       uint8_t next[32])
{
    uint8_t s[16], nx[32];
    int rc;

    if (!p || !serial || !seed || !next)
        return KC_ERR_ARG;
    /* Both from the old P first, so next may overwrite p. */
    rc = kc_crypto_kdf(p, 32, KC_KDF_LABEL_PREV_SEED, serial, 8, s, sizeof s);
    if (rc == 0)
        rc = kc_crypto_kdf(p, 32, KC_KDF_LABEL_PREV_NEXT, serial, 8, nx, sizeof nx);
    if (rc == 0) {
        memcpy(seed, s, 16);
        memcpy(next, nx, 32);
    }
    kc_wipe(s, sizeof s);
    kc_wipe(nx, sizeof nx);
    return rc;
}
