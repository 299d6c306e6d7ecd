/*
 * test_template.c - command templates (kc_template.c): which binary
 * templates are accepted at PUT, and what a step's parameters give (or why
 * they are refused) for every item type, range and key slot rule. Tables:
 * one row per case.
 */
#include <check.h>
#include <string.h>

#include "kc_err.h"
#include "kc_template.h"
#include "support/kc_test_card.h"

/* ---- parsing -------------------------------------------------------------- */

typedef struct parse_row {
    const char *name;
    const char *hex;
    int rc;
    size_t max_data; /* when rc == 0 */
} parse_row;

#define HDR "01 80E00100"
static const parse_row parse_rows[] = {
    {"minimal", HDR "00 00 00", 0, 0},
    {"label", HDR "00 03 616263 00", 0, 0},
    {"label 32", HDR "00 20 4141414141414141414141414141414141414141414141414141414141414141 00", 0, 0},
    {"fixed", HDR "00 00 01 01 03 AABBCC", 0, 3},
    {"int1", HDR "00 00 01 02 01 00000000 000000FF", 0, 1},
    {"int2", HDR "00 00 01 02 02 00000010 00001000", 0, 2},
    {"int4 full", HDR "00 00 01 02 04 00000000 FFFFFFFF", 0, 4},
    {"int min==max", HDR "00 00 01 02 02 00000007 00000007", 0, 2},
    {"bytes prefixed", HDR "00 00 01 03 0001 0010 01", 0, 17},
    {"bytes plain 255", HDR "00 00 01 03 0000 00FF 00", 0, 255},
    {"key", HDR "02 0305 00 01 04 01", 0, 32},
    {"all items", HDR "01 03 02 6B6B 04 01 02 D0D1 02 02 0000000A 000003E8 03 0001 0004 01 04 01",
     0, 2 + 2 + 5 + 32},
    {"3 bytes items of 255+1 fit", HDR "00 00 03 03 0000 00FF 01 03 0000 00FF 01 03 0000 00FF 01", 0,
     768},
    {"empty", "", KC_ERR_BAD_DATA, 0},
    {"too short", HDR "00 00", KC_ERR_BAD_DATA, 0},
    {"version 02", "02 80E00100 00 00 00", KC_ERR_BAD_DATA, 0},
    {"keys truncated", HDR "03 0102", KC_ERR_BAD_DATA, 0},
    {"key number 0", HDR "01 00 00 00", KC_ERR_BAD_DATA, 0},
    {"key number 255", HDR "01 FF 00 00", KC_ERR_BAD_DATA, 0},
    {"label 33", HDR "00 21 414141414141414141414141414141414141414141414141414141414141414141 00",
     KC_ERR_BAD_DATA, 0},
    {"label control char", HDR "00 02 411F 00", KC_ERR_BAD_DATA, 0},
    {"label truncated", HDR "00 05 4141 00", KC_ERR_BAD_DATA, 0},
    {"n_items missing", HDR "00 00", KC_ERR_BAD_DATA, 0},
    {"items missing", HDR "00 00 02 01 01 AA", KC_ERR_BAD_DATA, 0},
    {"unknown item", HDR "00 00 01 05 00", KC_ERR_BAD_DATA, 0},
    {"item type 0", HDR "00 00 01 00 00", KC_ERR_BAD_DATA, 0},
    {"fixed len 0", HDR "00 00 01 01 00", KC_ERR_BAD_DATA, 0},
    {"fixed truncated", HDR "00 00 01 01 04 AABBCC", KC_ERR_BAD_DATA, 0},
    {"int size 3", HDR "00 00 01 02 03 00000000 00000010", KC_ERR_BAD_DATA, 0},
    {"int size 0", HDR "00 00 01 02 00 00000000 00000000", KC_ERR_BAD_DATA, 0},
    {"int min>max", HDR "00 00 01 02 02 00000011 00000010", KC_ERR_BAD_DATA, 0},
    {"int1 max 256", HDR "00 00 01 02 01 00000000 00000100", KC_ERR_BAD_DATA, 0},
    {"int2 max 65536", HDR "00 00 01 02 02 00000000 00010000", KC_ERR_BAD_DATA, 0},
    {"int truncated", HDR "00 00 01 02 02 00000000 0000", KC_ERR_BAD_DATA, 0},
    {"bytes max 256", HDR "00 00 01 03 0000 0100 00", KC_ERR_BAD_DATA, 0},
    {"bytes min>max", HDR "00 00 01 03 0005 0004 00", KC_ERR_BAD_DATA, 0},
    {"bytes prefix 2", HDR "00 00 01 03 0000 0004 02", KC_ERR_BAD_DATA, 0},
    {"key form 02", HDR "00 00 01 04 02", KC_ERR_BAD_DATA, 0},
    {"key form missing", HDR "00 00 01 04", KC_ERR_BAD_DATA, 0},
    {"trailing byte", HDR "00 00 01 01 01 AA BB", KC_ERR_BAD_DATA, 0},
    {"worst case over 1017",
     HDR "00 00 04 03 0000 00FF 01 03 0000 00FF 01 03 0000 00FF 01 03 0000 00FF 01",
     KC_ERR_BAD_DATA, 0},
};

START_TEST(test_parse_table)
{
    const parse_row *r = &parse_rows[_i];
    uint8_t b[600];
    size_t n = kc_test_hex(r->hex, b, sizeof(b));
    kc_template t;
    int rc = kc_template_parse(&t, b, n);
    ck_assert_msg(rc == r->rc, "%s: rc %d, expected %d", r->name, rc, r->rc);
    if (rc == 0) {
        ck_assert_msg(t.max_data == r->max_data, "%s: max %zu", r->name, t.max_data);
        ck_assert_mem_eq(t.hdr, "\x80\xE0\x01\x00", 4);
    }
}
END_TEST

START_TEST(test_parse_fields)
{
    uint8_t b[64];
    size_t n = kc_test_hex("01 80D80102 02 0305 03 6B6579 01 04 01", b, sizeof(b));
    kc_template t;
    ck_assert_int_eq(kc_template_parse(&t, b, n), 0);
    ck_assert_mem_eq(t.hdr, "\x80\xD8\x01\x02", 4);
    ck_assert_uint_eq(t.n_keys, 2);
    ck_assert_uint_eq(t.keys[0], 3);
    ck_assert_uint_eq(t.keys[1], 5);
    ck_assert_uint_eq(t.label_len, 3);
    ck_assert_mem_eq(t.label, "key", 3);
    ck_assert_uint_eq(t.n_items, 1);
    ck_assert_uint_eq(t.items_len, 2);
}
END_TEST

START_TEST(test_parse_size_limit)
{
    /* 512 bytes accepted, 513 refused: FIXED items of 255 and a filler. */
    uint8_t b[600];
    size_t n = 0;
    memset(b, 0x11, sizeof(b));
    b[n++] = 1;
    memcpy(b + n, "\x80\xD6\x00\x00", 4);
    n += 4;
    b[n++] = 0; /* keys */
    b[n++] = 0; /* label */
    b[n++] = 2; /* items */
    b[n++] = KC_TPL_ITEM_FIXED;
    b[n++] = 255;
    n += 255;
    b[n++] = KC_TPL_ITEM_FIXED;
    size_t rest = KC_TPL_MAX_LEN - n - 1;
    b[n++] = (uint8_t)rest;
    n += rest;
    ck_assert_uint_eq(n, KC_TPL_MAX_LEN);
    kc_template t;
    ck_assert_int_eq(kc_template_parse(&t, b, n), 0);
    b[n - rest - 1] = (uint8_t)(rest + 1);
    ck_assert_int_eq(kc_template_parse(&t, b, n + 1), KC_ERR_BAD_DATA);
}
END_TEST

/* ---- filling -------------------------------------------------------------- */

/* Mock key store: key 3 (16 bytes) and 5 (32) injectable, 7 not, others absent. */
static int checks; /* check callbacks made (not fill's own lookup) */
static int mock_check(void *ctx, uint8_t n, size_t *len)
{
    if (ctx)
        checks++;
    if (n == 3 || n == 9) {
        *len = 16;
        return 0;
    }
    if (n == 5) {
        *len = 32;
        return 0;
    }
    return KC_ERR_BAD_DATA;
}

static int mock_fill(void *ctx, uint8_t n, uint8_t *out, size_t cap, size_t *len)
{
    int rc = mock_check(NULL, n, len);
    if (rc)
        return rc;
    if (*len > cap)
        return KC_ERR_TOO_BIG;
    (*(int *)ctx)++;
    memset(out, n * 0x11, *len);
    return 0;
}

typedef struct fill_row {
    const char *name;
    const char *tpl;
    const char *params;
    int rc;
    const char *out; /* when rc == 0 */
} fill_row;

/* D0D1 | INT2 10..1000 | BYTES 1..4 prefixed | BYTES 0..3 plain | KEY (3, 5, 7 allowed) */
#define T_ALL HDR "03 030507 00 05 01 02 D0D1 02 02 0000000A 000003E8 03 0001 0004 01 03 0000 0003 00 04 01"
#define T_INT1 HDR "00 00 01 02 01 00000005 000000F0"
#define T_INT4 HDR "00 00 01 02 04 00010000 FFFFFFFE"
#define T_ANYKEY HDR "00 00 01 04 01"
#define K3 "33333333333333333333333333333333"
static const fill_row fill_rows[] = {
    {"all good", T_ALL, "0064 02AABB 03010203 03", 0, "D0D1 0064 02AABB 010203" K3},
    {"int at min", T_ALL, "000A 01AA 00 03", 0, "D0D1 000A 01AA" K3},
    {"int at max", T_ALL, "03E8 04AABBCCDD 00 03", 0, "D0D1 03E8 04AABBCCDD" K3},
    {"int below min", T_ALL, "0009 01AA 00 03", KC_ERR_BAD_DATA, NULL},
    {"int above max", T_ALL, "03E9 01AA 00 03", KC_ERR_BAD_DATA, NULL},
    {"int truncated", T_ALL, "00", KC_ERR_BAD_DATA, NULL},
    {"bytes too short", T_ALL, "0064 00 00 03", KC_ERR_BAD_DATA, NULL},
    {"bytes too long", T_ALL, "0064 05AABBCCDDEE 00 03", KC_ERR_BAD_DATA, NULL},
    {"bytes past params", T_ALL, "0064 04AABB", KC_ERR_BAD_DATA, NULL},
    {"plain bytes too long", T_ALL, "0064 01AA 0401020304 03", KC_ERR_BAD_DATA, NULL},
    {"key allowed, 32 bytes", T_ALL, "0064 01AA 00 05", 0,
     "D0D1 0064 01AA 5555555555555555555555555555555555555555555555555555555555555555"},
    {"key allowed but not injectable", T_ALL, "0064 01AA 00 07", KC_ERR_BAD_DATA, NULL},
    {"key not allowed", T_ALL, "0064 01AA 00 09", KC_ERR_BAD_DATA, NULL},
    {"key number 0", T_ALL, "0064 01AA 00 00", KC_ERR_BAD_DATA, NULL},
    {"key missing", T_ALL, "0064 01AA 00", KC_ERR_BAD_DATA, NULL},
    {"trailing byte", T_ALL, "0064 01AA 00 03 00", KC_ERR_BAD_DATA, NULL},
    {"any key: 9", T_ANYKEY, "09", 0, "99999999999999999999999999999999"},
    {"any key: absent 8", T_ANYKEY, "08", KC_ERR_BAD_DATA, NULL},
    {"any key: 255", T_ANYKEY, "FF", KC_ERR_BAD_DATA, NULL},
    {"int1 ok", T_INT1, "F0", 0, "F0"},
    {"int1 low", T_INT1, "04", KC_ERR_BAD_DATA, NULL},
    {"int1 high", T_INT1, "F1", KC_ERR_BAD_DATA, NULL},
    {"int4 ok", T_INT4, "00010000", 0, "00010000"},
    {"int4 high", T_INT4, "FFFFFFFF", KC_ERR_BAD_DATA, NULL},
    {"int4 low", T_INT4, "0000FFFF", KC_ERR_BAD_DATA, NULL},
    {"no items, no params", HDR "00 00 00", "", 0, ""},
    {"no items, a param", HDR "00 00 00", "00", KC_ERR_BAD_DATA, NULL},
};

START_TEST(test_fill_table)
{
    const fill_row *r = &fill_rows[_i];
    uint8_t tb[600], pb[300], want[1100], out[1100];
    size_t tn = kc_test_hex(r->tpl, tb, sizeof(tb));
    size_t pn = kc_test_hex(r->params, pb, sizeof(pb));
    int fills = 0;
    kc_template_keys keys = {&fills, mock_check, mock_fill};
    kc_template t;
    size_t clen = 12345, flen = 12345;

    /* the mock fills 0x55 for key 5 and 0x33 for key 3 */
    ck_assert_int_eq(kc_template_parse(&t, tb, tn), 0);
    int rc = kc_template_check(&t, pb, pn, &keys, &clen);
    ck_assert_msg(rc == r->rc, "%s: check rc %d", r->name, rc);
    ck_assert_int_eq(fills, 0); /* checking never asks for a key value */
    checks = 0;
    rc = kc_template_fill(&t, pb, pn, &keys, out, sizeof(out), &flen);
    ck_assert_msg(rc == r->rc, "%s: fill rc %d", r->name, rc);
    ck_assert_int_eq(checks, 0); /* filling resolves each key slot once, by fill alone */
    if (r->rc == 0) {
        size_t wn = kc_test_hex(r->out, want, sizeof(want));
        ck_assert_uint_eq(clen, wn);
        ck_assert_uint_eq(flen, wn);
        ck_assert_mem_eq(out, want, wn);
    } else {
        ck_assert_uint_eq(clen, 12345); /* untouched */
        ck_assert_uint_eq(flen, 12345);
    }
}
END_TEST

START_TEST(test_fill_capacity)
{
    uint8_t tb[100], pb[8], out[40];
    size_t tn = kc_test_hex(T_ALL, tb, sizeof(tb));
    size_t pn = kc_test_hex("0064 01AA 00 03", pb, sizeof(pb));
    int fills = 0;
    kc_template_keys keys = {&fills, mock_check, mock_fill};
    kc_template t;
    size_t len;

    ck_assert_int_eq(kc_template_parse(&t, tb, tn), 0);
    /* 2 + 2 + 2 + 16 = 22 bytes: 21 is too small, and nothing of the key stays in out */
    memset(out, 0xEE, sizeof(out));
    ck_assert_int_eq(kc_template_fill(&t, pb, pn, &keys, out, 21, &len), KC_ERR_TOO_BIG);
    for (size_t i = 0; i < 21; i++)
        ck_assert_uint_eq(out[i], 0);
    memset(out, 0xEE, sizeof(out));
    ck_assert_int_eq(kc_template_fill(&t, pb, pn, &keys, out, 22, &len), 0);
    ck_assert_uint_eq(len, 22);
    ck_assert_uint_eq(out[21], 0x33);
    ck_assert_uint_eq(out[22], 0xEE);
}
END_TEST

START_TEST(test_key_slot_without_callbacks)
{
    uint8_t tb[32], out[64];
    size_t tn = kc_test_hex(T_ANYKEY, tb, sizeof(tb)), len;
    uint8_t p = 3;
    kc_template t;
    ck_assert_int_eq(kc_template_parse(&t, tb, tn), 0);
    ck_assert_int_eq(kc_template_check(&t, &p, 1, NULL, &len), KC_ERR_BAD_DATA);
    ck_assert_int_eq(kc_template_fill(&t, &p, 1, NULL, out, sizeof(out), &len), KC_ERR_BAD_DATA);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_parse_table, 0, sizeof(parse_rows) / sizeof(parse_rows[0]));
    tcase_add_test(tc, test_parse_fields);
    tcase_add_test(tc, test_parse_size_limit);
    tcase_add_loop_test(tc, test_fill_table, 0, sizeof(fill_rows) / sizeof(fill_rows[0]));
    tcase_add_test(tc, test_fill_capacity);
    tcase_add_test(tc, test_key_slot_without_callbacks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
