/*
 * fuzz_template.c - libFuzzer target: the key card's template parser and
 * filler (keycard/kc_template.c), which read provisioned templates and the
 * host's step parameters.
 *
 * Input: 2 bytes (big-endian) give the template's length, then the template
 * bytes, then the step parameters (the rest). A parsed template is checked
 * and filled with those parameters; the key callbacks accept key numbers
 * not divisible by 3 (16 bytes when odd, 32 when even).
 *
 * Checks beyond the sanitizers: a parsed template's max_data is at most
 * KC_TPL_DATA_MAX and its pointers lie inside the input; check and fill
 * agree on acceptance and length; the length is at most max_data; a buffer
 * one byte short is refused with KC_ERR_TOO_BIG and wiped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kc_err.h"
#include "kc_template.h"

static int key_check(void *ctx, uint8_t key_no, size_t *len)
{
    (void)ctx;
    if (key_no % 3 == 0)
        return KC_ERR_BAD_DATA;
    *len = key_no % 2 ? 16 : 32;
    return 0;
}

static int key_fill(void *ctx, uint8_t key_no, uint8_t *out, size_t cap, size_t *len)
{
    int rc = key_check(ctx, key_no, len);
    if (rc)
        return rc;
    if (*len > cap)
        return KC_ERR_TOO_BIG;
    memset(out, 0xA5, *len);
    return 0;
}

static int inside(const uint8_t *p, size_t n, const uint8_t *b, size_t len)
{
    return n == 0 || (p >= b && p + n <= b + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t tl = (size_t)data[0] << 8 | data[1];
    if (tl > size - 2)
        tl = size - 2;
    /* Private copies so ASan catches a read past either part. */
    uint8_t *tpl = malloc(tl ? tl : 1);
    size_t pl = size - 2 - tl;
    uint8_t *params = malloc(pl ? pl : 1);
    if (!tpl || !params)
        abort();
    memcpy(tpl, data + 2, tl);
    memcpy(params, data + 2 + tl, pl);

    kc_template t;
    if (kc_template_parse(&t, tpl, tl) == 0) {
        if (t.max_data > KC_TPL_DATA_MAX || !inside(t.keys, t.n_keys, tpl, tl) ||
            !inside(t.label, t.label_len, tpl, tl) || !inside(t.items, t.items_len, tpl, tl))
            abort();
        kc_template_keys keys = {NULL, key_check, key_fill};
        size_t clen = 0, flen = 0;
        int rc = kc_template_check(&t, params, pl, &keys, &clen);
        static uint8_t out[KC_TPL_DATA_MAX + 1];
        int rf = kc_template_fill(&t, params, pl, &keys, out, sizeof out, &flen);
        if ((rc == 0) != (rf == 0))
            abort();
        if (rc == 0) {
            if (clen != flen || flen > t.max_data)
                abort();
            if (flen > 0) {
                uint8_t *shorter = malloc(flen - 1 ? flen - 1 : 1);
                if (!shorter)
                    abort();
                memset(shorter, 0x5A, flen - 1);
                size_t n2 = 0;
                if (kc_template_fill(&t, params, pl, &keys, shorter, flen - 1, &n2) !=
                    KC_ERR_TOO_BIG)
                    abort();
                for (size_t i = 0; i < flen - 1; i++)
                    if (shorter[i] != 0)
                        abort(); /* "on error out is wiped" */
                free(shorter);
            }
        }
    }
    free(tpl);
    free(params);
    return 0;
}
