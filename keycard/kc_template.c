/*
 * kc_template.c - parse, validate and fill command templates (see
 * kc_template.h for the binary form).
 *
 * Parsing walks the item list once and computes the worst-case data length,
 * so a template that could never fit an envelope is refused at PUT, not at
 * issuance. Checking and filling share one walker: the check is the fill
 * with no output, so the two can never disagree about what is valid.
 */
#include "kc_template.h"

#include <string.h>

#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_err.h"

/* Bytes of one item's definition (type byte included), or 0 when truncated/unknown. */
static size_t item_def_len(const uint8_t *p, size_t left)
{
    if (left < 2)
        return 0;
    switch (p[0]) {
    case KC_TPL_ITEM_FIXED:
        return left >= 2u + p[1] ? 2u + p[1] : 0;
    case KC_TPL_ITEM_INT:
        return left >= 10 ? 10 : 0;
    case KC_TPL_ITEM_BYTES:
        return left >= 6 ? 6 : 0;
    case KC_TPL_ITEM_KEY:
        return 2;
    default:
        return 0;
    }
}

int kc_template_parse(kc_template *t, const uint8_t *b, size_t len)
{
    size_t off, max = 0;

    if (t == NULL || (b == NULL && len))
        return KC_ERR_ARG;
    memset(t, 0, sizeof(*t));
    /* version + header + n_keys, then label_len and n_items at the least */
    if (len > KC_TPL_MAX_LEN || len < 8 || b[0] != KC_TPL_VERSION)
        return KC_ERR_BAD_DATA;
    memcpy(t->hdr, b + 1, 4);
    t->n_keys = b[5];
    off = 6;
    if (len - off < (size_t)t->n_keys + 2)
        return KC_ERR_BAD_DATA;
    t->keys = b + off;
    for (size_t i = 0; i < t->n_keys; i++)
        if (t->keys[i] < KC_NUMBER_MIN || t->keys[i] > KC_NUMBER_MAX)
            return KC_ERR_BAD_DATA;
    off += t->n_keys;
    t->label_len = b[off++];
    if (t->label_len > KC_LABEL_MAX || len - off < (size_t)t->label_len + 1)
        return KC_ERR_BAD_DATA;
    t->label = b + off;
    for (size_t i = 0; i < t->label_len; i++)
        if (t->label[i] < 0x20 || t->label[i] > 0x7E)
            return KC_ERR_BAD_DATA;
    off += t->label_len;
    t->n_items = b[off++];
    t->items = b + off;

    for (unsigned i = 0; i < t->n_items; i++) {
        const uint8_t *p = b + off;
        size_t dl = item_def_len(p, len - off);
        if (dl == 0)
            return KC_ERR_BAD_DATA;
        switch (p[0]) {
        case KC_TPL_ITEM_FIXED:
            if (p[1] == 0)
                return KC_ERR_BAD_DATA;
            max += p[1];
            break;
        case KC_TPL_ITEM_INT: {
            uint32_t lo = get_be_n(p + 2, 4), hi = get_be_n(p + 6, 4);
            if (p[1] != 1 && p[1] != 2 && p[1] != 4)
                return KC_ERR_BAD_DATA;
            if (lo > hi || (p[1] < 4 && hi >= (1u << (8 * p[1]))))
                return KC_ERR_BAD_DATA;
            max += p[1];
            break;
        }
        case KC_TPL_ITEM_BYTES: {
            uint32_t lo = get_be_n(p + 1, 2), hi = get_be_n(p + 3, 2);
            if (lo > hi || hi > 255 || p[5] > 1)
                return KC_ERR_BAD_DATA;
            max += p[5] + hi;
            break;
        }
        default: /* KEY */
            if (p[1] != KC_TPL_KEY_FORM_DIVERSIFIED)
                return KC_ERR_BAD_DATA;
            max += 32;
            break;
        }
        off += dl;
    }
    if (off != len || max > KC_TPL_DATA_MAX)
        return KC_ERR_BAD_DATA;
    t->items_len = len - (size_t)(t->items - b);
    t->max_data = max;
    return 0;
}

static int key_allowed(const kc_template *t, uint8_t key_no)
{
    if (key_no < KC_NUMBER_MIN || key_no > KC_NUMBER_MAX)
        return 0;
    if (t->n_keys == 0)
        return 1;
    for (size_t i = 0; i < t->n_keys; i++)
        if (t->keys[i] == key_no)
            return 1;
    return 0;
}

/*
 * The one walker: out == NULL checks only. Item definitions were validated
 * by kc_template_parse, so only the parameters are judged here.
 */
static int walk(const kc_template *t, const uint8_t *pr, size_t plen,
                const kc_template_keys *keys, uint8_t *out, size_t cap, size_t *data_len)
{
    const uint8_t *p = t->items;
    size_t po = 0, n = 0;
    int rc;

    for (unsigned i = 0; i < t->n_items; i++) {
        size_t add = 0;
        size_t dl = item_def_len(p, t->items_len - (size_t)(p - t->items));
        if (dl == 0)
            return KC_ERR_BAD_DATA; /* a template not from kc_template_parse */
        switch (p[0]) {
        case KC_TPL_ITEM_FIXED:
            add = p[1];
            if (out && add > cap - n)
                return KC_ERR_TOO_BIG;
            if (out)
                memcpy(out + n, p + 2, add);
            break;
        case KC_TPL_ITEM_INT: {
            size_t sz = p[1];
            if (plen - po < sz)
                return KC_ERR_BAD_DATA;
            uint32_t v = get_be_n(pr + po, sz);
            if (v < get_be_n(p + 2, 4) || v > get_be_n(p + 6, 4))
                return KC_ERR_BAD_DATA;
            add = sz;
            if (out && add > cap - n)
                return KC_ERR_TOO_BIG;
            if (out)
                memcpy(out + n, pr + po, sz);
            po += sz;
            break;
        }
        case KC_TPL_ITEM_BYTES: {
            if (plen - po < 1)
                return KC_ERR_BAD_DATA;
            size_t l = pr[po];
            if (l < get_be_n(p + 1, 2) || l > get_be_n(p + 3, 2) || plen - po - 1 < l)
                return KC_ERR_BAD_DATA;
            add = p[5] + l;
            if (out && add > cap - n)
                return KC_ERR_TOO_BIG;
            if (out) {
                if (p[5])
                    out[n] = (uint8_t)l;
                memcpy(out + n + p[5], pr + po + 1, l);
            }
            po += 1 + l;
            break;
        }
        case KC_TPL_ITEM_KEY: {
            /* One lookup per slot: check when checking, fill (checks too) when filling. */
            size_t klen = 0;
            if (plen - po < 1 || !key_allowed(t, pr[po]) || keys == NULL)
                return KC_ERR_BAD_DATA;
            if (out && keys->fill == NULL)
                return KC_ERR_ARG;
            if (!out && keys->check == NULL)
                return KC_ERR_BAD_DATA;
            rc = out ? keys->fill(keys->ctx, pr[po], out + n, cap - n, &klen)
                     : keys->check(keys->ctx, pr[po], &klen);
            if (rc != 0)
                return rc;
            if ((klen != 16 && klen != 32) || (out && klen > cap - n))
                return KC_ERR_BAD_DATA; /* a callback out of contract; fill's caller wipes */
            add = klen;
            po += 1;
            break;
        }
        default:
            return KC_ERR_BAD_DATA;
        }
        n += add;
        p += dl;
    }
    if (po != plen)
        return KC_ERR_BAD_DATA;
    *data_len = n;
    return 0;
}

int kc_template_check(const kc_template *t, const uint8_t *params, size_t plen,
                      const kc_template_keys *keys, size_t *data_len)
{
    if (t == NULL || data_len == NULL || (params == NULL && plen))
        return KC_ERR_ARG;
    return walk(t, params, plen, keys, NULL, 0, data_len);
}

int kc_template_fill(const kc_template *t, const uint8_t *params, size_t plen,
                     const kc_template_keys *keys, uint8_t *out, size_t cap, size_t *data_len)
{
    size_t n = 0;
    int rc;

    if (t == NULL || data_len == NULL || out == NULL || (params == NULL && plen))
        return KC_ERR_ARG;
    rc = walk(t, params, plen, keys, out, cap, &n);
    if (rc) {
        kc_wipe(out, cap); /* a key slot may have been written already */
        return rc;
    }
    *data_len = n;
    return 0;
}
