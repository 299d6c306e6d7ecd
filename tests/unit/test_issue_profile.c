/*
 * test_issue_profile.c - Check suite for kc-issue's inputs
 * (issuance/profile.c): the issuance profile's checks with their JSON
 * paths, the encoding of each parameter kind into WRAP bytes, and the CSV
 * records with the choice of a card's row.
 *
 * It links kc-issue's profile.o and the tools' common objects (Makefile).
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kct.h"
#include "profile.h"

static kci_profile g_p;

/* Parse JSON text as a profile; returns the error count. */
static int parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    kct_errs e = {"test", 0};

    ck_assert_ptr_nonnull(j);
    kci_profile_parse(j, &e, &g_p);
    json_decref(j);
    return e.count;
}

/* ---- parameter encoding (table) ---- */

static const struct {
    const char *params; /* the JSON array */
    const char *hex;    /* expected WRAP parameter bytes */
} enc_rows[] = {
    {"[{\"u8\": 7}]", "07"},
    {"[{\"u8\": \"0xFF\"}]", "FF"},
    {"[{\"u16\": 300}]", "012C"},
    {"[{\"u16\": \"0x3F00\"}]", "3F00"},
    {"[{\"u32\": 5}]", "00000005"},
    {"[{\"hex\": \"0102 03\"}]", "010203"},
    {"[{\"text\": \"AB\"}]", "024142"},
    {"[{\"text\": \"\"}]", "00"},
    {"[{\"bytes-hex\": \"CAFE\"}]", "02CAFE"},
    {"[{\"key\": 3}]", "03"},
    {"[{\"u16\": \"0x1010\"}, {\"u16\": 0}, {\"text\": \"Hi\"}]", "10100000024869"},
    {"[]", ""},
};

START_TEST(test_encode)
{
    char text[512], err[128], got[256];
    uint8_t out[256];
    long n;

    snprintf(text, sizeof text,
             "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":2,\"params\":%s}]}",
             enc_rows[_i].params);
    ck_assert_int_eq(parse(text), 0);
    n = kci_step_encode(&g_p.steps[0], NULL, -1, out, sizeof out, err, sizeof err);
    ck_assert_int_ge(n, 0);
    kct_hex_format(out, (size_t)n, got);
    for (char *c = got; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    ck_assert_str_eq(got, enc_rows[_i].hex);
}
END_TEST

/* ---- refused profiles (table): each names its JSON path ---- */

static const char *const bad_rows[] = {
    "{\"issuance\":\"keycard/2\",\"key\":1,\"steps\":[{\"template\":1}]}",
    "{\"issuance\":\"keycard/1\",\"steps\":[{\"template\":1}]}",
    "{\"issuance\":\"keycard/1\",\"key\":0,\"steps\":[{\"template\":1}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"way\":\"magic\",\"steps\":[{\"template\":1}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"bucket\":100,\"steps\":[{\"template\":1}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":255}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,\"params\":[{\"u8\":256}]}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,\"params\":[{\"u16\":-1}]}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,\"params\":[{\"key\":0}]}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,\"params\":[{\"hex\":\"XY\"}]}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,\"params\":[{\"u8\":1,\"u16\":2}]}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,\"params\":[{\"float\":1}]}]}",
    "{\"issuance\":\"keycard/1\",\"key\":1,\"extra\":1,\"steps\":[{\"template\":1}]}",
};

START_TEST(test_bad_profile)
{
    ck_assert_int_gt(parse(bad_rows[_i]), 0);
}
END_TEST

START_TEST(test_defaults_and_ways)
{
    ck_assert_int_eq(parse("{\"issuance\":\"keycard/1\",\"key\":9,\"steps\":[{\"template\":1}]}"), 0);
    ck_assert_int_eq(g_p.way, KEYCARD_WAY_TARGET_SEED);
    ck_assert_uint_eq(g_p.bucket, 256);
    ck_assert_int_eq(g_p.lock, 1);
    ck_assert_uint_eq(g_p.key, 9);
    ck_assert_int_eq(parse("{\"issuance\":\"keycard/1\",\"key\":1,\"way\":\"static\",\"bucket\":64,"
                           "\"lock\":false,\"steps\":[{\"template\":1}]}"),
                     0);
    ck_assert_int_eq(g_p.way, KEYCARD_WAY_STATIC);
    ck_assert_uint_eq(g_p.bucket, 64);
    ck_assert_int_eq(g_p.lock, 0);
    ck_assert_int_eq(parse("{\"issuance\":\"keycard/1\",\"key\":1,\"way\":\"previous-random\","
                           "\"steps\":[{\"template\":1}]}"),
                     0);
    ck_assert_str_eq(kci_way_name(g_p.way), "previous-random");
}
END_TEST

START_TEST(test_too_many_steps)
{
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"template\":1}", i ? "," : "");
    snprintf(text + n, sizeof text - n, "]}");
    ck_assert_int_gt(parse(text), 0);
}
END_TEST

START_TEST(test_encode_overflow)
{
    char err[128];
    uint8_t out[3];

    ck_assert_int_eq(parse("{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,"
                           "\"params\":[{\"u16\":1},{\"u16\":2}]}]}"),
                     0);
    ck_assert_int_eq(kci_step_encode(&g_p.steps[0], NULL, -1, out, sizeof out, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer"));
}
END_TEST

/* ---- CSV records ---- */

START_TEST(test_csv_rows_and_encoding)
{
    static const char text[] = "name,city\r\nAlice,\"Kyoto, JP\"\n\n\"Bob \"\"B\"\"\",Osaka\n";
    kci_csv c;
    char err[128];
    uint8_t out[64];
    long n;

    ck_assert_int_eq(kci_csv_parse(text, strlen(text), &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n_cols, 2);
    ck_assert_uint_eq(c.n_rows, 2);
    ck_assert_str_eq(c.rows[0][1], "Kyoto, JP");
    ck_assert_str_eq(c.rows[1][0], "Bob \"B\"");
    ck_assert_int_eq(kci_csv_col(&c, "city"), 1);
    ck_assert_int_eq(kci_csv_col(&c, "zip"), -1);
    /* No serial column: rows in order, then none. */
    ck_assert_int_eq(kci_csv_pick(&c, "0102030405060708", 1), 1);
    ck_assert_int_eq(kci_csv_pick(&c, "0102030405060708", 2), -1);
    ck_assert_int_eq(parse("{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":[{\"template\":1,"
                           "\"params\":[{\"u8\":1},{\"csv\":\"city\"}]}]}"),
                     0);
    ck_assert_int_eq(g_p.uses_csv, 1);
    ck_assert_int_eq(kci_csv_check(&g_p, &c), 0);
    ck_assert_int_eq(kci_csv_unused(&g_p, &c), -1); /* "name": used by no step */
    n = kci_step_encode(&g_p.steps[0], &c, 1, out, sizeof out, err, sizeof err);
    ck_assert_int_eq(n, 1 + 1 + 5);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], 5);
    ck_assert_mem_eq(out + 2, "Osaka", 5);
    /* No record for the card: refused, with the column named. */
    ck_assert_int_eq(kci_step_encode(&g_p.steps[0], &c, -1, out, sizeof out, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "city"));
    kci_csv_free(&c);
}
END_TEST

START_TEST(test_csv_serial_column)
{
    static const char text[] = "serial,name\n5441524745540002,B\n5441524745540001,A\n";
    kci_csv c;
    char err[128];

    ck_assert_int_eq(kci_csv_parse(text, strlen(text), &c, err, sizeof err), 0);
    ck_assert_int_eq(kci_csv_pick(&c, "5441524745540001", 0), 1);
    ck_assert_int_eq(kci_csv_pick(&c, "5441524745540002", 5), 0);
    ck_assert_int_eq(kci_csv_pick(&c, "5441524745540009", 0), -1);
    kci_csv_free(&c);
}
END_TEST

/* Bad records, refused whole before any card, and where the message points. */
static const struct {
    const char *text;
    size_t len; /* 0: strlen */
    const char *says;
} bad_csv_rows[] = {
    {"a,b\n1,2,3\n", 0, "line 2: 3 fields"},
    {"a,b\n\"open,2\n", 0, "line 2: unterminated"},
    {"a,b\n\"x\"y,2\n", 0, "line 2: text after a closing quote"},
    {"", 0, "no header"},
    {"serial,name\n", 0, "no records"},
    {"serial,name\n\n\n", 0, "no records"},
    {"a,b\n1,x\0y\n", 10, "line 2, column 4: a NUL"},
    {"a,b\n1,\xC3\x28\n", 0, "line 2, column 3: not UTF-8"},
    {"a,b\n1,\xE0\x80\xAF\n", 0, "not UTF-8"},     /* overlong */
    {"a,b\n1,\xED\xA0\x80\n", 0, "not UTF-8"},     /* a surrogate */
    {"a,b\n1,\xFF\n", 0, "not UTF-8"},
    {"a,a\n1,2\n", 0, "line 1, column 2: column \"a\" named twice"},
    {"a,,c\n1,2,3\n", 0, "line 1, column 2: a column without a name"},
    {"serial,n\n0102030405060708,x\n0102030405060708,y\n", 0,
     "line 3, column 1 (\"serial\"): serial 0102030405060708 again (first on line 2)"},
    {"serial,n\n010203040506070,x\n", 0, "line 2, column 1 (\"serial\"): \"010203040506070\" is not"},
    {"n,serial\nx,01020304050607zz\n", 0, "line 2, column 2 (\"serial\")"},
};

START_TEST(test_csv_bad)
{
    kci_csv c;
    char err[160] = "";
    size_t len = bad_csv_rows[_i].len ? bad_csv_rows[_i].len : strlen(bad_csv_rows[_i].text);

    ck_assert_int_eq(kci_csv_parse(bad_csv_rows[_i].text, len, &c, err, sizeof err), -1);
    ck_assert_msg(strstr(err, bad_csv_rows[_i].says) != NULL, "row %d: got \"%s\"", _i, err);
    ck_assert_ptr_null(c.rows);
}
END_TEST

/* A byte order mark is no part of the first column's name (v1 matched rows in order). */
START_TEST(test_csv_bom)
{
    static const char text[] = "\xEF\xBB\xBFserial,name\n5441524745540002,B\n5441524745540001,A\n";
    kci_csv c;
    char err[128];

    ck_assert_int_eq(kci_csv_parse(text, strlen(text), &c, err, sizeof err), 0);
    ck_assert_int_eq(kci_csv_col(&c, "serial"), 0);
    ck_assert_int_eq(kci_csv_pick(&c, "5441524745540001", 0), 1);
    ck_assert_uint_eq(c.line[1], 3);
    kci_csv_free(&c);
}
END_TEST

START_TEST(test_standard_profile_loads)
{
    kct_set_prog("test");
    ck_assert_int_eq(kci_profile_load("examples/profiles/standard.json", &g_p), 0);
    ck_assert_uint_ge(g_p.n_steps, 12);
    ck_assert_int_eq(g_p.lock, 1);
}
END_TEST

static Suite *issue_profile_suite(void)
{
    Suite *s = suite_create("issue_profile");
    TCase *te = tcase_create("encode");
    TCase *tp = tcase_create("profile");
    TCase *tc = tcase_create("csv");

    tcase_add_loop_test(te, test_encode, 0, (int)(sizeof(enc_rows) / sizeof(enc_rows[0])));
    tcase_add_test(te, test_encode_overflow);
    tcase_add_loop_test(tp, test_bad_profile, 0, (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
    tcase_add_test(tp, test_defaults_and_ways);
    tcase_add_test(tp, test_too_many_steps);
    tcase_add_test(tp, test_standard_profile_loads);
    tcase_add_test(tc, test_csv_rows_and_encoding);
    tcase_add_test(tc, test_csv_serial_column);
    tcase_add_test(tc, test_csv_bom);
    tcase_add_loop_test(tc, test_csv_bad, 0, (int)(sizeof(bad_csv_rows) / sizeof(bad_csv_rows[0])));
    suite_add_tcase(s, te);
    suite_add_tcase(s, tp);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(issue_profile_suite());
    int failed;

    kct_set_prog("test_issue_profile");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
