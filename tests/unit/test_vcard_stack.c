/*
 * test_vcard_stack.c - Check suite for kc-vcard's stacker (tools/kc-vcard/stack.c):
 * which files are card images, the order they are served in, the move of an
 * ejected card to issued/, setting a bad image aside, and the reader commands.
 *
 * It links kc-vcard's socket-free stack.o (Makefile).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keycard_proto.h"
#include "stack.h"

/* ---- helpers: a fresh temporary stack directory per test ---- */

static char g_dir[256];

static void mk_dir(void)
{
    snprintf(g_dir, sizeof(g_dir), "%s/kc-stack-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void put_file(const char *name, const char *content)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", g_dir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

static int exists(const char *rel)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/%s", g_dir, rel);
    return stat(p, &st) == 0;
}

static void read_file(const char *rel, char *buf, size_t cap)
{
    char p[512];
    FILE *f;
    size_t n;

    snprintf(p, sizeof(p), "%s/%s", g_dir, rel);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void rm_tree(void)
{
    char cmd[600];

    /* The test's own temporary directory only. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- image names (table) ---- */

static const struct {
    const char *name;
    int is_image;
} name_rows[] = {
    {"001.card", 1}, {"a.card", 1},     {"x.y.card", 1},  {".card", 0},
    {".hidden.card", 0}, {"card", 0},   {"001.card.bad", 0}, {"001.cards", 0},
    {"001.CARD", 0}, {"", 0},
};

START_TEST(test_is_image)
{
    ck_assert_int_eq(kc_stack_is_image(name_rows[_i].name), name_rows[_i].is_image);
}
END_TEST

START_TEST(test_is_image_null)
{
    ck_assert_int_eq(kc_stack_is_image(NULL), 0);
}
END_TEST

/* ---- reader commands (table) ---- */

static const struct {
    uint8_t apdu[8];
    size_t len;
    int want;
} reader_rows[] = {
    {{0xFF, 0xEE, 0x00, 0x00}, 4, KC_READER_EJECT},
    {{0xFF, 0xEE, 0x00, 0x00, 0x00}, 5, KC_READER_EJECT},
    {{0xFF, 0xEC, 0x00, 0x00}, 4, KC_READER_COUNT},
    {{0xFF, 0xEC, 0x00, 0x00, 0x02}, 5, KC_READER_COUNT},
    {{0xFF, 0xEC, 0x00, 0x01}, 4, KC_SW_WRONG_P1P2},
    {{0xFF, 0xEC, 0x00, 0x00, 0x01, 0x00}, 6, KC_SW_WRONG_LENGTH},
    {{0xFF, 0xEE, 0x01, 0x00}, 4, KC_READER_EJECT_SPOILED},
    {{0xFF, 0xEE, 0x02, 0x00}, 4, KC_SW_WRONG_P1P2},
    {{0xFF, 0xEE, 0x00, 0x01}, 4, KC_SW_WRONG_P1P2},
    {{0xFF, 0xEE, 0x00, 0x00, 0x01, 0x00}, 6, KC_SW_WRONG_LENGTH},
    {{0xFF, 0xCA, 0x00, 0x00, 0x00}, 5, KC_SW_INS_NOT_SUPPORTED},
    {{0x00, 0xEE, 0x00, 0x00}, 4, KC_READER_NOT_MINE},
    {{0x84, 0xC2, 0x00, 0x00}, 4, KC_READER_NOT_MINE},
    {{0x80, 0xEE, 0x00, 0x00}, 4, KC_READER_NOT_MINE},
    {{0xFF, 0xEE, 0x00}, 3, KC_READER_NOT_MINE}, /* too short to be a command: the card says 6700 */
};

START_TEST(test_reader_command)
{
    ck_assert_int_eq(kc_reader_command(reader_rows[_i].apdu, reader_rows[_i].len),
                     reader_rows[_i].want);
}
END_TEST

/* ---- the stack directory ---- */

START_TEST(test_next_in_name_order)
{
    char name[64];

    mk_dir();
    put_file("003.card", "c");
    put_file("001.card", "a");
    put_file("002.card", "b");
    put_file("000.txt", "not a card");
    put_file(".000.card", "hidden");
    ck_assert_int_eq(mkdir(strcat(strcpy(name, g_dir), "/0.card"), 0755), 0); /* a dir, not a card */
    ck_assert_int_eq(kc_stack_count(g_dir), 3);
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), 1);
    ck_assert_str_eq(name, "001.card");
    rm_tree();
}
END_TEST

START_TEST(test_empty_and_missing)
{
    char name[64] = "untouched";

    mk_dir();
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), 0);
    ck_assert_str_eq(name, "untouched");
    ck_assert_int_eq(kc_stack_count(g_dir), 0);
    put_file("issued", "x"); /* only non-images */
    ck_assert_int_eq(kc_stack_count(g_dir), 0);
    rm_tree();
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), -1);
    ck_assert_int_eq(kc_stack_count(g_dir), -1);
}
END_TEST

START_TEST(test_next_name_too_long)
{
    char name[4];

    mk_dir();
    put_file("001.card", "a");
    errno = 0;
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    rm_tree();
}
END_TEST

/* Serving the whole stack: each eject moves the served card; the next is the next name. */
START_TEST(test_walk_whole_stack)
{
    static const char *const order[] = {"a.card", "b.card", "c.card"};
    char name[64], got[16];
    size_t i;

    mk_dir();
    put_file("c.card", "C");
    put_file("a.card", "A");
    put_file("b.card", "B");
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), 1);
        ck_assert_str_eq(name, order[i]);
        ck_assert_int_eq(kc_stack_retire(g_dir, name, KC_STACK_ISSUED), 0);
        ck_assert_int_eq(kc_stack_count(g_dir), (int)(2 - i));
    }
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), 0);
    read_file("issued/a.card", got, sizeof(got));
    ck_assert_str_eq(got, "A");
    read_file("issued/c.card", got, sizeof(got));
    ck_assert_str_eq(got, "C");
    /* An image that appears later is served then (the kc-vcard loop polls). */
    put_file("d.card", "D");
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), 1);
    ck_assert_str_eq(name, "d.card");
    rm_tree();
}
END_TEST

START_TEST(test_retire_keeps_earlier_issued)
{
    char got[16];

    mk_dir();
    put_file("a.card", "first");
    ck_assert_int_eq(kc_stack_retire(g_dir, "a.card", KC_STACK_ISSUED), 0);
    put_file("a.card", "second");
    ck_assert_int_eq(kc_stack_retire(g_dir, "a.card", KC_STACK_ISSUED), 0);
    read_file("issued/a.card", got, sizeof(got));
    ck_assert_str_eq(got, "first");
    read_file("issued/a.card.1", got, sizeof(got));
    ck_assert_str_eq(got, "second");
    ck_assert_int_eq(exists("a.card"), 0);
    rm_tree();
}
END_TEST

/* A spoiled card goes to its own tray, apart from the issued ones. */
START_TEST(test_retire_spoiled_tray)
{
    char got[16];

    mk_dir();
    put_file("b.card", "spoilt");
    ck_assert_int_eq(kc_stack_retire(g_dir, "b.card", KC_STACK_SPOILED), 0);
    read_file("spoiled/b.card", got, sizeof(got));
    ck_assert_str_eq(got, "spoilt");
    ck_assert_int_eq(exists("issued/b.card"), 0);
    ck_assert_int_eq(kc_stack_retire(g_dir, "c.card", "../up"), -1);
    ck_assert_int_eq(errno, EINVAL);
    rm_tree();
}
END_TEST

START_TEST(test_retire_refusals)
{
    mk_dir();
    ck_assert_int_eq(kc_stack_retire(g_dir, "missing.card", KC_STACK_ISSUED), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(kc_stack_retire(g_dir, "../x.card", KC_STACK_ISSUED), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(kc_stack_retire(NULL, "x.card", KC_STACK_ISSUED), -1);
    rm_tree();
}
END_TEST

START_TEST(test_reject_sets_aside)
{
    char name[64];

    mk_dir();
    put_file("a.card", "bad");
    put_file("b.card", "good");
    ck_assert_int_eq(kc_stack_reject(g_dir, "a.card"), 0);
    ck_assert_int_eq(exists("a.card.bad"), 1);
    ck_assert_int_eq(kc_stack_next(g_dir, name, sizeof(name)), 1);
    ck_assert_str_eq(name, "b.card");
    ck_assert_int_eq(kc_stack_reject(g_dir, "x/y.card"), -1);
    rm_tree();
}
END_TEST

static Suite *stack_suite(void)
{
    Suite *s = suite_create("vcard_stack");
    TCase *tn = tcase_create("names");
    TCase *tr = tcase_create("reader");
    TCase *td = tcase_create("dir");

    tcase_add_loop_test(tn, test_is_image, 0, (int)(sizeof(name_rows) / sizeof(name_rows[0])));
    tcase_add_test(tn, test_is_image_null);
    tcase_add_loop_test(tr, test_reader_command, 0,
                        (int)(sizeof(reader_rows) / sizeof(reader_rows[0])));
    tcase_add_test(td, test_next_in_name_order);
    tcase_add_test(td, test_empty_and_missing);
    tcase_add_test(td, test_next_name_too_long);
    tcase_add_test(td, test_walk_whole_stack);
    tcase_add_test(td, test_retire_keeps_earlier_issued);
    tcase_add_test(td, test_retire_refusals);
    tcase_add_test(td, test_retire_spoiled_tray);
    tcase_add_test(td, test_reject_sets_aside);
    suite_add_tcase(s, tn);
    suite_add_tcase(s, tr);
    suite_add_tcase(s, td);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stack_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
