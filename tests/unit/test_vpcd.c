/*
 * test_vpcd.c - Check suite for kc-vcard's vpcd framing (tools/kc-vcard/vpcd.c)
 * and its message-to-card bridge (serve.c), driven with a stand-in card.
 *
 * It links kc-vcard's two socket-free objects, serve.o and vpcd.o (Makefile).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "vpcd.h"

/* ---- a stand-in card: records power events, echoes APDUs reversed ---- */

typedef struct stub_ctx {
    int events[8];
    size_t n_events;
    size_t resp_len_override; /* nonzero: return this length (simulates a buggy card) */
} stub_ctx;

static const uint8_t stub_atr_bytes[] = {0x3B, 0x80, 0x80, 0x01, 0x01};

static int stub_init(void *ctx, const kc_hw *hw)
{
    (void)ctx;
    (void)hw;
    return 0;
}

static void stub_power(void *ctx, int event)
{
    stub_ctx *c = ctx;

    if (c->n_events < sizeof(c->events) / sizeof(c->events[0]))
        c->events[c->n_events++] = event;
}

static size_t stub_atr(void *ctx, uint8_t *atr, size_t cap)
{
    (void)ctx;
    ck_assert_uint_ge(cap, KC_ATR_MAX);
    memcpy(atr, stub_atr_bytes, sizeof(stub_atr_bytes));
    return sizeof(stub_atr_bytes);
}

static size_t stub_process(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap)
{
    stub_ctx *c = ctx;
    size_t i;

    ck_assert_uint_ge(cap, KC_APDU_MAX_RESP + 2);
    if (c->resp_len_override)
        return c->resp_len_override;
    for (i = 0; i < len; i++)
        resp[i] = cmd[len - 1 - i];
    resp[len] = 0x90;
    resp[len + 1] = 0x00;
    return len + 2;
}

static const kc_card_ops stub_card = {
    .name = "stub",
    .ctx_size = sizeof(stub_ctx),
    .flash_size = 4096,
    .page_size = 1024,
    .init = stub_init,
    .power = stub_power,
    .atr = stub_atr,
    .process = stub_process,
};

/* ---- parsing ---- */

/* Control messages: one table row per control code. */
static const struct {
    uint8_t code;
} ctrl_rows[] = {{KC_VPCD_CTRL_OFF}, {KC_VPCD_CTRL_ON}, {KC_VPCD_CTRL_RESET}, {KC_VPCD_CTRL_ATR}, {0x7F}};

START_TEST(test_parse_control)
{
    const uint8_t buf[] = {0x00, 0x01, ctrl_rows[_i].code};
    kc_vpcd_msg m;

    ck_assert_int_eq(kc_vpcd_parse(buf, sizeof(buf), KC_VPCD_MSG_MAX, &m), 3);
    ck_assert_int_eq(m.kind, KC_VPCD_MSG_CTRL);
    ck_assert_uint_eq(m.ctrl, ctrl_rows[_i].code);
    ck_assert_uint_eq(m.len, 1);
}
END_TEST

START_TEST(test_parse_apdu)
{
    const uint8_t buf[] = {0x00, 0x05, 0x00, 0xA4, 0x04, 0x00, 0x00, 0xEE /* next message */};
    kc_vpcd_msg m;

    ck_assert_int_eq(kc_vpcd_parse(buf, sizeof(buf), KC_VPCD_MSG_MAX, &m), 7);
    ck_assert_int_eq(m.kind, KC_VPCD_MSG_APDU);
    ck_assert_uint_eq(m.len, 5);
    ck_assert_ptr_eq(m.data, buf + 2);
    ck_assert_mem_eq(m.data, buf + 2, 5);
}
END_TEST

/* Every proper prefix of a message is "need more", never a message or an error. */
START_TEST(test_parse_short_reads)
{
    static const uint8_t frames[][9] = {
        {0x00, 0x01, 0x04},
        {0x00, 0x07, 0x00, 0x20, 0x00, 0x82, 0x02, 0x31, 0x32},
    };
    static const size_t lens[] = {3, 9};
    size_t f, cut;
    kc_vpcd_msg m;

    for (f = 0; f < 2; f++) {
        for (cut = 0; cut < lens[f]; cut++)
            ck_assert_int_eq(kc_vpcd_parse(frames[f], cut, KC_VPCD_MSG_MAX, &m), KC_VPCD_NEED_MORE);
        ck_assert_int_eq(kc_vpcd_parse(frames[f], lens[f], KC_VPCD_MSG_MAX, &m), (long)lens[f]);
    }
    ck_assert_int_eq(kc_vpcd_parse(NULL, 0, KC_VPCD_MSG_MAX, &m), KC_VPCD_NEED_MORE);
}
END_TEST

START_TEST(test_parse_oversize)
{
    /* Declared length one past the limit: refused from the header alone. */
    const uint8_t hdr[] = {(uint8_t)((KC_VPCD_MSG_MAX + 1) >> 8), (uint8_t)(KC_VPCD_MSG_MAX + 1)};
    const uint8_t big[] = {0xFF, 0xFF, 0x00};
    kc_vpcd_msg m;

    ck_assert_int_eq(kc_vpcd_parse(hdr, sizeof(hdr), KC_VPCD_MSG_MAX, &m), KC_VPCD_ERR_TOO_BIG);
    ck_assert_uint_eq(m.len, KC_VPCD_MSG_MAX + 1);
    ck_assert_int_eq(kc_vpcd_parse(big, sizeof(big), KC_VPCD_MSG_MAX, &m), KC_VPCD_ERR_TOO_BIG);
    ck_assert_uint_eq(m.len, 0xFFFF);
    /* The caller's limit is the one applied. */
    ck_assert_int_eq(kc_vpcd_parse(big, sizeof(big), 4, &m), KC_VPCD_ERR_TOO_BIG);
}
END_TEST

START_TEST(test_parse_max_accepted)
{
    static uint8_t buf[KC_VPCD_HDR_LEN + KC_VPCD_MSG_MAX];
    kc_vpcd_msg m;

    memset(buf, 0xA5, sizeof(buf));
    buf[0] = (uint8_t)(KC_VPCD_MSG_MAX >> 8);
    buf[1] = (uint8_t)KC_VPCD_MSG_MAX;
    ck_assert_int_eq(kc_vpcd_parse(buf, sizeof(buf) - 1, KC_VPCD_MSG_MAX, &m), KC_VPCD_NEED_MORE);
    ck_assert_int_eq(kc_vpcd_parse(buf, sizeof(buf), KC_VPCD_MSG_MAX, &m), (long)sizeof(buf));
    ck_assert_int_eq(m.kind, KC_VPCD_MSG_APDU);
    ck_assert_uint_eq(m.len, KC_VPCD_MSG_MAX);
}
END_TEST

START_TEST(test_parse_empty_and_args)
{
    const uint8_t empty[] = {0x00, 0x00, 0x00, 0x01, 0x01};
    kc_vpcd_msg m;

    ck_assert_int_eq(kc_vpcd_parse(empty, sizeof(empty), KC_VPCD_MSG_MAX, &m), KC_VPCD_ERR_EMPTY);
    ck_assert_int_eq(kc_vpcd_parse(empty, sizeof(empty), KC_VPCD_MSG_MAX, NULL), KC_VPCD_ERR_ARG);
    ck_assert_int_eq(kc_vpcd_parse(NULL, 3, KC_VPCD_MSG_MAX, &m), KC_VPCD_ERR_ARG);
}
END_TEST

/* ---- framing ---- */

START_TEST(test_frame_roundtrip)
{
    const uint8_t payload[] = {0x3B, 0x80, 0x80, 0x01, 0x01};
    uint8_t out[16];
    kc_vpcd_msg m;

    ck_assert_uint_eq(kc_vpcd_frame(payload, sizeof(payload), out, sizeof(out)), 7);
    ck_assert_uint_eq(out[0], 0x00);
    ck_assert_uint_eq(out[1], 0x05);
    ck_assert_int_eq(kc_vpcd_parse(out, 7, KC_VPCD_MSG_MAX, &m), 7);
    ck_assert_mem_eq(m.data, payload, sizeof(payload));
}
END_TEST

START_TEST(test_frame_refusals)
{
    static uint8_t big[0x10001 + 2];
    const uint8_t one = 0x01;
    uint8_t out[4];

    ck_assert_uint_eq(kc_vpcd_frame(&one, 0, out, sizeof(out)), 0);
    ck_assert_uint_eq(kc_vpcd_frame(&one, 1, out, 2), 0);          /* cap too small */
    ck_assert_uint_eq(kc_vpcd_frame(big, 0x10000, big, sizeof(big)), 0); /* over 65535 */
    ck_assert_uint_eq(kc_vpcd_frame(big, 0xFFFF, big, sizeof(big)), 0x10001);
    ck_assert_uint_eq(big[0], 0xFF);
    ck_assert_uint_eq(big[1], 0xFF);
    ck_assert_uint_eq(kc_vpcd_frame(NULL, 1, out, sizeof(out)), 0);
}
END_TEST

/* ---- serving a stand-in card ---- */

static uint8_t out_buf[KC_VCARD_OUT_MAX];

START_TEST(test_serve_controls)
{
    stub_ctx c = {0};
    const uint8_t off[] = {0, 1, KC_VPCD_CTRL_OFF}, on[] = {0, 1, KC_VPCD_CTRL_ON},
                  rst[] = {0, 1, KC_VPCD_CTRL_RESET}, atr[] = {0, 1, KC_VPCD_CTRL_ATR},
                  odd[] = {0, 1, 3};
    kc_vpcd_msg m;

    ck_assert_int_gt(kc_vpcd_parse(on, 3, KC_VPCD_MSG_MAX, &m), 0);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)), 0);
    ck_assert_int_gt(kc_vpcd_parse(rst, 3, KC_VPCD_MSG_MAX, &m), 0);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)), 0);
    ck_assert_int_gt(kc_vpcd_parse(off, 3, KC_VPCD_MSG_MAX, &m), 0);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)), 0);
    /* Not a control: a 1-byte command, which vpcd waits on. Answered 6700, no power event. */
    ck_assert_int_gt(kc_vpcd_parse(odd, 3, KC_VPCD_MSG_MAX, &m), 0);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)), 4);
    ck_assert_mem_eq(out_buf, "\x00\x02\x67\x00", 4);
    ck_assert_uint_eq(c.n_events, 3);
    ck_assert_int_eq(c.events[0], KC_POWER_ON);
    ck_assert_int_eq(c.events[1], KC_POWER_RESET);
    ck_assert_int_eq(c.events[2], KC_POWER_OFF);

    /* Get ATR: answered as an ordinary framed message. */
    ck_assert_int_gt(kc_vpcd_parse(atr, 3, KC_VPCD_MSG_MAX, &m), 0);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)),
                      2 + sizeof(stub_atr_bytes));
    ck_assert_uint_eq(out_buf[0], 0);
    ck_assert_uint_eq(out_buf[1], sizeof(stub_atr_bytes));
    ck_assert_mem_eq(out_buf + 2, stub_atr_bytes, sizeof(stub_atr_bytes));
    ck_assert_uint_eq(c.n_events, 3); /* get ATR is no power event */
}
END_TEST

START_TEST(test_serve_apdu)
{
    stub_ctx c = {0};
    const uint8_t in[] = {0x00, 0x04, 0x00, 0xCA, 0xDF, 0x03};
    const uint8_t want[] = {0x00, 0x06, 0x03, 0xDF, 0xCA, 0x00, 0x90, 0x00};
    kc_vpcd_msg m;

    ck_assert_int_eq(kc_vpcd_parse(in, sizeof(in), KC_VPCD_MSG_MAX, &m), 6);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)), sizeof(want));
    ck_assert_mem_eq(out_buf, want, sizeof(want));
    /* Too small an answer buffer: refused, nothing to send. */
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, 16), 0);
}
END_TEST

START_TEST(test_serve_buggy_card)
{
    stub_ctx c = {0};
    const uint8_t in[] = {0x00, 0x04, 0x00, 0xCA, 0xDF, 0x03};
    const uint8_t want[] = {0x00, 0x02, 0x6F, 0x00};
    kc_vpcd_msg m;

    c.resp_len_override = 1; /* no room for a status word: the runner says 6F00 */
    ck_assert_int_gt(kc_vpcd_parse(in, sizeof(in), KC_VPCD_MSG_MAX, &m), 0);
    ck_assert_uint_eq(kc_vcard_serve(&stub_card, &c, &m, out_buf, sizeof(out_buf)), sizeof(want));
    ck_assert_mem_eq(out_buf, want, sizeof(want));
}
END_TEST

START_TEST(test_answer_sw)
{
    uint8_t out[4];
    const uint8_t want[] = {0x00, 0x02, 0x67, 0x00};

    ck_assert_uint_eq(kc_vcard_answer_sw(KC_SW_WRONG_LENGTH, out, sizeof(out)), 4);
    ck_assert_mem_eq(out, want, sizeof(want));
    ck_assert_uint_eq(kc_vcard_answer_sw(KC_SW_OK, out, 3), 0);
}
END_TEST

static Suite *vpcd_suite(void)
{
    Suite *s = suite_create("vpcd");
    TCase *tp = tcase_create("parse");
    TCase *tf = tcase_create("frame");
    TCase *ts = tcase_create("serve");

    tcase_add_loop_test(tp, test_parse_control, 0, (int)(sizeof(ctrl_rows) / sizeof(ctrl_rows[0])));
    tcase_add_test(tp, test_parse_apdu);
    tcase_add_test(tp, test_parse_short_reads);
    tcase_add_test(tp, test_parse_oversize);
    tcase_add_test(tp, test_parse_max_accepted);
    tcase_add_test(tp, test_parse_empty_and_args);
    tcase_add_test(tf, test_frame_roundtrip);
    tcase_add_test(tf, test_frame_refusals);
    tcase_add_test(ts, test_serve_controls);
    tcase_add_test(ts, test_serve_apdu);
    tcase_add_test(ts, test_serve_buggy_card);
    tcase_add_test(ts, test_answer_sw);
    suite_add_tcase(s, tp);
    suite_add_tcase(s, tf);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(vpcd_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
