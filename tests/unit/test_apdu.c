/*
 * test_apdu.c - the key card's APDU layer and dispatcher (kc_apdu.c,
 * kc_applet.c): parsing of cases 1-4 short and extended, malformed lengths,
 * command chaining and the documented order of the checks, all through raw
 * APDU bytes into kc_keycard_card.process.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kc_apdu.h"
#include "kc_err.h"
#include "support/kc_test_card.h"

#define AID "F04B4559434152440001"
#define STATUS_LEN 33

/* ---- kc_apdu_parse directly ---------------------------------------------- */

static const struct parse_case {
    const char *name;
    const char *hex;
    int ok;
    size_t lc, ne;
    int le_present, extended;
} parse_cases[] = {
    {"case 1", "00CA DF03", 1, 0, 256, 0, 0},
    {"case 2S", "00CA DF03 21", 1, 0, 0x21, 1, 0},
    {"case 2S Le 00", "00CA DF03 00", 1, 0, 256, 1, 0},
    {"case 3S", "00A4 040C 02 AABB", 1, 2, 256, 0, 0},
    {"case 4S", "00A4 0400 02 AABB 10", 1, 2, 16, 1, 0},
    {"case 4S Le 00", "00A4 0400 02 AABB 00", 1, 2, 256, 1, 0},
    {"case 2E", "00CA DF03 00 0102", 1, 0, 0x102, 1, 1},
    {"case 2E Le 0000", "00CA DF03 00 0000", 1, 0, 65536, 1, 1},
    {"case 3E", "00A4 040C 00 0002 AABB", 1, 2, 65536, 0, 1},
    {"case 4E", "00A4 0400 00 0002 AABB 0040", 1, 2, 64, 1, 1},
    {"case 4E Le 0000", "00A4 0400 00 0002 AABB 0000", 1, 2, 65536, 1, 1},
    {"too short", "00CA DF", 0, 0, 0, 0, 0},
    {"empty", "", 0, 0, 0, 0, 0},
    {"00 then 1 byte", "00CA DF03 00 01", 0, 0, 0, 0, 0},
    {"short Lc, data short", "00A4 040C 03 AABB", 0, 0, 0, 0, 0},
    {"short Lc, 2 extra", "00A4 040C 01 AA BBCC", 0, 0, 0, 0, 0},
    {"extended Lc 0", "00A4 040C 00 0000 AA", 0, 0, 0, 0, 0},
    {"extended Lc, data short", "00A4 040C 00 0003 AABB", 0, 0, 0, 0, 0},
    {"extended Lc, 1-byte Le", "00A4 040C 00 0002 AABB 00", 0, 0, 0, 0, 0},
    {"extended Lc, 3 extra", "00A4 040C 00 0002 AABB 000000", 0, 0, 0, 0, 0},
};

START_TEST(test_parse_table)
{
    const struct parse_case *c = &parse_cases[_i];
    uint8_t buf[64];
    kc_apdu a;
    size_t n = kc_test_hex(c->hex, buf, sizeof(buf));
    int rc = kc_apdu_parse(&a, buf, n);
    if (!c->ok) {
        ck_assert_msg(rc == KC_ERR_BAD_DATA, "%s: accepted", c->name);
        return;
    }
    ck_assert_msg(rc == 0, "%s: rejected", c->name);
    ck_assert_msg(a.lc == c->lc, "%s: lc %zu", c->name, a.lc);
    ck_assert_msg(a.ne == c->ne, "%s: ne %zu", c->name, a.ne);
    ck_assert_msg(a.le_present == c->le_present, "%s: le_present", c->name);
    ck_assert_msg(a.extended == c->extended, "%s: extended", c->name);
    if (c->lc)
        ck_assert_mem_eq(a.data, "\xAA\xBB", 2);
}
END_TEST

/* ---- through the card ------------------------------------------------------ */

static const struct card_case {
    const char *name;
    int select_first;
    const char *hex;
    uint16_t sw;
    int resp_len; /* -1: do not care */
} card_cases[] = {
    /* cases 1-4, short and extended */
    {"case 1 GET DATA status", 1, "00CADF03", 0x9000, STATUS_LEN},
    {"case 2S", 1, "00CADF0300", 0x9000, STATUS_LEN},
    {"case 2S Le exact", 1, "00CADF0321", 0x9000, STATUS_LEN},
    {"case 2S Le too small", 1, "00CADF0320", 0x6700, 0},
    {"case 2E", 1, "00CADF03000000", 0x9000, STATUS_LEN},
    {"case 2E Le exact", 1, "00CADF03000021", 0x9000, STATUS_LEN},
    {"case 3S SELECT", 0, "00A4040C0A" AID, 0x9000, 0},
    {"case 4S SELECT", 0, "00A404000A" AID "00", 0x9000, STATUS_LEN},
    {"case 3E SELECT", 0, "00A4040C00000A" AID, 0x9000, 0},
    {"case 4E SELECT", 0, "00A4040000000A" AID "0000", 0x9000, STATUS_LEN},
    {"case 4S SELECT Le too small", 0, "00A404000A" AID "20", 0x6700, 0},
    {"SELECT P2=0C with Le", 0, "00A4040C0A" AID "00", 0x6700, 0},
    /* malformed */
    {"3 bytes", 1, "00CADF", 0x6700, 0},
    {"2 bytes, bad CLA too", 1, "A0CA", 0x6700, 0},
    {"6 bytes", 1, "00CADF030000", 0x6700, 0},
    {"Lc beyond data", 0, "00A4040C0BF04B4559434152440001", 0x6700, 0},
    {"data beyond Lc+Le", 0, "00A4040C09F04B4559434152440001", 0x6700, 0},
    {"extended Lc 0", 0, "00A4040C000000AA", 0x6700, 0},
    /* CLA, INS, selection, P1/P2, Lc/Le, security: in this order */
    {"CLA A0", 1, "A0CADF03", 0x6E00, 0},
    {"CLA FF", 1, "FFCADF03", 0x6E00, 0},
    {"CLA 04 (secure messaging)", 1, "04CADF03", 0x6E00, 0},
    {"bad CLA before bad INS", 1, "A0FF0000", 0x6E00, 0},
    {"INS unknown", 1, "00FF0000", 0x6D00, 0},
    {"INS under the other CLA", 1, "80CADF03", 0x6D00, 0},
    {"proprietary INS under CLA 00", 1, "00E00000", 0x6D00, 0},
    {"INS before selection", 0, "00FF0000", 0x6D00, 0},
    {"not selected", 0, "00CADF03", 0x6985, 0},
    {"selection before P1P2", 0, "80E00101", 0x6985, 0},
    {"P1P2", 1, "80E00101", 0x6A86, 0},
    {"P1P2 before Lc", 1, "80E0010101AA", 0x6A86, 0},
    {"SELECT P1 00", 0, "00A4000C0A" AID, 0x6A86, 0},
    {"SELECT P2 04", 0, "00A404040A" AID, 0x6A86, 0},
    {"VERIFY P2 84", 1, "00200084", 0x6A86, 0},
    {"VERIFY P1 01", 1, "00200181", 0x6A86, 0},
    {"RRC P2 83 (admin key)", 1, "002C0383", 0x6A86, 0},
    {"Lc on a no-data command", 1, "80E0000001AA", 0x6700, 0},
    {"Le on a no-data command", 1, "80E0000000", 0x6700, 0},
    {"AUDIT READ Lc 3 before security", 1, "80A0000003000000", 0x6700, 0},
    {"AUDIT READ security", 1, "80A000000400000000", 0x6982, 0},
    {"INTERNAL AUTH Lc 7", 1, "008800000711223344556677", 0x6700, 0},
    {"INTERNAL AUTH security", 1, "00880000081122334455667788", 0x6982, 0},
    {"GENERATE Le below 77", 1, "80E4000040", 0x6700, 0},
    {"SELECT other AID", 0, "00A4040C05A000000003", 0x6A82, 0},
    {"GET DATA unknown tag", 1, "00CA0101", 0x6A88, 0},
    {"VERIFY on a blank card", 1, "0020008104" "31323334", 0x6985, 0},
};

START_TEST(test_card_table)
{
    const struct card_case *c = &card_cases[_i];
    kc_test_card t;
    kc_test_card_new(&t, 100 + (uint64_t)_i);
    if (c->select_first)
        ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    uint16_t sw = kc_test_card_sendx(&t, c->hex);
    ck_assert_msg(sw == c->sw, "%s: SW %04X, expected %04X", c->name, sw, c->sw);
    if (c->resp_len >= 0)
        ck_assert_msg(t.resp_len == (size_t)c->resp_len, "%s: %zu response bytes", c->name,
                      t.resp_len);
    kc_test_card_free(&t);
}
END_TEST

/* The status blob of SELECT and GET DATA is the documented TLV. */
START_TEST(test_status_blob_layout)
{
    kc_test_card t;
    kc_test_card_new(&t, 1);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00A404000A" AID), 0x9000);
    ck_assert_uint_eq(t.resp_len, STATUS_LEN);
    const uint8_t *b = t.resp;
    ck_assert_mem_eq(b, "\xC1\x08", 2);
    ck_assert_mem_eq(b + 10, "\xC5\x01\x01\xC6\x02\x02\x00\xC7\x03\xFF\xFF\xFF", 12);
    ck_assert_mem_eq(b + 22, "\xC8\x06\x00\x00\x00\x00\x00\x80\xC9\x01\x00", 11);
    kc_test_card_free(&t);
}
END_TEST

/* ---- chaining --------------------------------------------------------------- */

static const struct chain_step {
    const char *hex;
    uint16_t sw;
    int resp_len;
} chain_ok[] = {
    /* SELECT's AID in two parts, the last asking for the status blob */
    {"10A4040005F04B455943", 0x9000, 0},
    {"00A40400054152440001", 0x9000, STATUS_LEN},
    {NULL, 0, 0}},
  chain_three[] = {
    {"10A4040C03F04B45", 0x9000, 0},
    {"10A4040C0459434152", 0x9000, 0},
    {"00A4040C03440001", 0x9000, 0},
    {"00CADF03", 0x9000, STATUS_LEN}, /* selected: the chain ran as one SELECT */
    {NULL, 0, 0}},
  chain_extended_parts[] = {
    {"10A4040C000005F04B455943", 0x9000, 0},
    {"00A4040C0000054152440001", 0x9000, 0},
    {"00CADF03", 0x9000, STATUS_LEN},
    {NULL, 0, 0}},
  chain_interrupted[] = {
    {"00A4040C0A" AID, 0x9000, 0},
    {"10A4040C05F04B455943", 0x9000, 0},
    {"00CADF03", 0x6883, 0},            /* another command in between */
    {"00CADF03", 0x9000, STATUS_LEN},   /* the chain is gone, the card works */
    {"00A4040C054152440001", 0x6A82, 0}, /* the last part alone is not the AID */
    {NULL, 0, 0}},
  chain_other_p2[] = {
    {"10A4040C05F04B455943", 0x9000, 0},
    {"00A40400054152440001", 0x6883, 0}, /* P2 differs from the first part's */
    {"00A4040C054152440001", 0x6A82, 0},
    {NULL, 0, 0}},
  chain_other_cla[] = {
    {"00A4040C0A" AID, 0x9000, 0},
    {"90E25F2003414243", 0x9000, 0},
    {"00E25F2003414243", 0x6883, 0}, /* CLA 00 does not continue a CLA 80 chain */
    {NULL, 0, 0}},
  chain_malformed_ends[] = {
    {"10A4040C05F04B455943", 0x9000, 0},
    {"00A404", 0x6700, 0},
    {"00A4040C054152440001", 0x6A82, 0},
    {NULL, 0, 0}},
  chain_part_checks[] = {
    {"B0A4040C05F04B455943", 0x6E00, 0}, /* parts are checked like commands */
    {"10FF0000", 0x6D00, 0},
    {"10A4000C05F04B455943", 0x6A86, 0},
    {"00A4040C0A" AID, 0x9000, 0},      /* nothing was left behind */
    {NULL, 0, 0}};

static const struct chain_step *const chains[] = {
    chain_ok, chain_three, chain_extended_parts, chain_interrupted, chain_other_p2,
    chain_other_cla, chain_malformed_ends, chain_part_checks,
};

START_TEST(test_chain_table)
{
    kc_test_card t;
    kc_test_card_new(&t, 7);
    for (const struct chain_step *s = chains[_i]; s->hex; s++) {
        uint16_t sw = kc_test_card_sendx(&t, s->hex);
        ck_assert_msg(sw == s->sw, "chain %d step %s: SW %04X, expected %04X", _i, s->hex, sw,
                      s->sw);
        ck_assert_msg(t.resp_len == (size_t)s->resp_len, "chain %d step %s: %zu bytes", _i,
                      s->hex, t.resp_len);
    }
    kc_test_card_free(&t);
}
END_TEST

/* Chain parts change nothing on flash; 4096 bytes in total pass, 4097 do not. */
START_TEST(test_chain_limits)
{
    kc_test_card t;
    static uint8_t part[8 + 2049], big[8 + 4097];
    static uint8_t data[4097];
    uint8_t before[32], after[32];

    kc_test_card_new(&t, 9);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    kc_test_card_flash_digest(&t, before);
    memset(data, 'A', sizeof(data));

    /* 2 x 2048 = 4096: reaches PROVISION PUT, which wants a session (6985). */
    size_t n = kc_test_apdu(part, 0x90, 0xE2, 0x5F, 0x20, data, 2048);
    ck_assert_uint_eq(kc_test_card_send(&t, part, n), 0x9000);
    part[0] = 0x80;
    ck_assert_uint_eq(kc_test_card_send(&t, part, n), 0x6985);

    /* 2048 + 2049: the overflowing part answers 6700 and ends the chain. */
    part[0] = 0x90;
    ck_assert_uint_eq(kc_test_card_send(&t, part, n), 0x9000);
    n = kc_test_apdu(part, 0x80, 0xE2, 0x5F, 0x20, data, 2049);
    ck_assert_uint_eq(kc_test_card_send(&t, part, n), 0x6700);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF03"), 0x9000);

    /* Without chaining: extended Lc 4097 is 6700 too. */
    memset(big, 0, sizeof(big));
    n = kc_test_apdu(big, 0x80, 0xE2, 0x5F, 0x20, data, 4097);
    ck_assert_uint_eq(kc_test_card_send(&t, big, n), 0x6700);

    /* Many short parts: the one crossing 4096 answers 6700. */
    n = kc_test_apdu(part, 0x90, 0xE2, 0x5F, 0x20, data, 255);
    int i;
    uint16_t sw = 0x9000;
    for (i = 0; i < 20 && sw == 0x9000; i++)
        sw = kc_test_card_send(&t, part, n);
    ck_assert_uint_eq(sw, 0x6700);
    ck_assert_int_eq(i, 17); /* 16 x 255 = 4080 fit, the 17th would make 4335 */

    kc_test_card_flash_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_response_cap)
{
    /* A reader buffer smaller than the answer never gets more than it holds. */
    kc_test_card t;
    uint8_t cmd[] = {0x00, 0xCA, 0xDF, 0x03};
    uint8_t resp[10];
    kc_test_card_new(&t, 3);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    size_t n = kc_keycard_card.process(t.ctx, cmd, sizeof(cmd), resp, sizeof(resp));
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(resp[0], 0x67);
    ck_assert_uint_eq(resp[1], 0x00);
    kc_test_card_free(&t);
}
END_TEST

static Suite *apdu_suite(void)
{
    Suite *s = suite_create("apdu");
    TCase *tc = tcase_create("apdu");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_parse_table, 0, sizeof(parse_cases) / sizeof(parse_cases[0]));
    tcase_add_loop_test(tc, test_card_table, 0, sizeof(card_cases) / sizeof(card_cases[0]));
    tcase_add_test(tc, test_status_blob_layout);
    tcase_add_loop_test(tc, test_chain_table, 0, sizeof(chains) / sizeof(chains[0]));
    tcase_add_test(tc, test_chain_limits);
    tcase_add_test(tc, test_response_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(apdu_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
