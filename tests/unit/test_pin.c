/*
 * test_pin.c - PIN and admin-key semantics of the key card (kc_cred.c and
 * the VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER handlers): 63Cx
 * counting down, blocking, empty VERIFY, holder-after-issuer, formats, the
 * try counter committed before the comparison (proved with power cuts),
 * blocks surviving power cycles, unblocking with the admin key.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "support/kc_test_card.h"

/* APDUs used below. */
#define SEL "00A4040C0AF04B4559434152440001"
#define V_ISSUER_OK "0020008108" "3133353739313335"  /* 13579135 */
#define V_ISSUER_BAD "0020008108" "3131313131313131" /* 11111111 */
#define V_HOLDER_OK "0020008206" "323436383130"      /* 246810 */
#define V_HOLDER_BAD "0020008206" "303030303030"     /* 000000 */
#define V_ADMIN_OK "0020008310" "000102030405060708090A0B0C0D0E0F"
#define V_ADMIN_BAD "0020008310" "FF0102030405060708090A0B0C0D0E0F"
#define E_ISSUER "00200081"
#define E_HOLDER "00200082"
#define E_ADMIN "00200083"
#define NAME "00CA5F20"

struct step {
    const char *hex;
    uint16_t sw;
};

static void provisioned(kc_test_card *t, uint64_t seed)
{
    kc_test_card_new(t, seed);
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(t), 0x9000);
}

static void run_steps(kc_test_card *t, const struct step *s, int scenario)
{
    for (int i = 0; s[i].hex; i++) {
        uint16_t sw = kc_test_card_sendx(t, s[i].hex);
        ck_assert_msg(sw == s[i].sw, "scenario %d step %d (%s): SW %04X, expected %04X",
                      scenario, i, s[i].hex, sw, s[i].sw);
    }
}

/* ---- the semantics as tables --------------------------------------------------- */

static const struct step sc_countdown[] = {
    {E_ISSUER, 0x63C3},    {V_ISSUER_BAD, 0x63C2}, {E_ISSUER, 0x63C2},
    {V_ISSUER_BAD, 0x63C1}, {V_ISSUER_OK, 0x9000}, {E_ISSUER, 0x9000}, /* verified (ISO, PIV) */
    {NULL, 0}};
static const struct step sc_block[] = {
    {V_ISSUER_BAD, 0x63C2}, {V_ISSUER_BAD, 0x63C1}, {V_ISSUER_BAD, 0x63C0},
    {V_ISSUER_OK, 0x6983},  {E_ISSUER, 0x6983},     {V_ISSUER_BAD, 0x6983},
    {"00CADF03", 0x9000},   {NULL, 0}};
static const struct step sc_empty_spends_nothing[] = {
    {E_ISSUER, 0x63C3}, {E_ISSUER, 0x63C3}, {E_HOLDER, 0x63C3}, {E_ADMIN, 0x63C3},
    {E_ADMIN, 0x63C3},  {V_ISSUER_OK, 0x9000}, {E_ISSUER, 0x9000}, /* verified: 9000 */
    {V_ISSUER_BAD, 0x63C2}, {E_ISSUER, 0x63C2}, /* a wrong value unverifies */
    {NULL, 0}};
static const struct step sc_holder_needs_issuer[] = {
    {V_HOLDER_OK, 0x6982},  {V_HOLDER_BAD, 0x6982}, {E_HOLDER, 0x63C3}, /* nothing spent */
    {V_ISSUER_OK, 0x9000},  {V_HOLDER_BAD, 0x63C2}, {V_HOLDER_OK, 0x9000},
    {E_HOLDER, 0x9000},     {NULL, 0}};
static const struct step sc_formats[] = {
    {"0020008103313233", 0x6A80},                          /* 3 digits */
    {"00200081113132333435363738393031323334353637", 0x6A80}, /* 17 digits */
    {"00200081043132333A", 0x6A80},                        /* not a digit */
    {"0020008104" "41424344", 0x6A80},
    {"002000830F000102030405060708090A0B0C0D0E", 0x6A80}, /* admin key 15 bytes */
    {"0020008311000102030405060708090A0B0C0D0E0F10", 0x6A80},
    {"0020008121" "000102030405060708090A0B0C0D0E0F000102030405060708090A0B0C0D0E0F00", 0x6700},
    {E_ISSUER, 0x63C3}, {E_ADMIN, 0x63C3}, /* nothing spent */
    {"0020008110" "000102030405060708090A0B0C0D0E0F", 0x6A80}, /* bytes are not digits */
    {V_ISSUER_OK, 0x9000}, {"0020008203313233", 0x6A80}, {E_HOLDER, 0x63C3},
    {NULL, 0}};
static const struct step sc_mismatch_unverifies[] = {
    {V_ISSUER_OK, 0x9000}, {V_HOLDER_OK, 0x9000}, {NAME, 0x9000},
    {V_ISSUER_BAD, 0x63C2}, {NAME, 0x6982},       {V_HOLDER_OK, 0x6982},
    {V_ISSUER_OK, 0x9000}, {NAME, 0x9000},        {V_HOLDER_BAD, 0x63C2},
    {NAME, 0x6982},        {NULL, 0}};
static const struct step sc_admin_blocks_for_good[] = {
    {V_ADMIN_BAD, 0x63C2}, {V_ADMIN_BAD, 0x63C1}, {V_ADMIN_BAD, 0x63C0}, {V_ADMIN_OK, 0x6983},
    {"002C0383", 0x6A86},  /* RESET RETRY COUNTER cannot name the admin key */
    {"002C0381", 0x6982},  /* and nothing else is possible without it */
    {"80E00000", 0x6982},  /* not even re-provisioning */
    {"80A000000400000000", 0x6982},
    {NULL, 0}};
static const struct step sc_reset_retry[] = {
    {V_ISSUER_OK, 0x9000}, {V_HOLDER_BAD, 0x63C2}, {V_HOLDER_BAD, 0x63C1},
    {V_HOLDER_BAD, 0x63C0}, {V_HOLDER_OK, 0x6983},
    {"002C0382", 0x6982},                    /* needs the admin key */
    {V_ADMIN_OK, 0x9000},
    {"002C0182", 0x6A86},                    /* P1 01 */
    {"002C0382" "0431323334", 0x6700},       /* P1 03 takes no data */
    {"002C0282", 0x6700},                    /* P1 02 needs a PIN */
    {"002C0282" "043132333A", 0x6A80},       /* not digits */
    {"002C0382", 0x9000},                    /* counter reset, PIN kept */
    {E_HOLDER, 0x63C3},     {V_HOLDER_OK, 0x9000},
    {"002C0282" "0439383736", 0x9000},       /* new PIN 9876 */
    {V_HOLDER_OK, 0x63C2},  {"0020008204" "39383736", 0x9000},
    {"002C0381", 0x9000},   {E_ISSUER, 0x9000}, /* still verified in this session */
    {NULL, 0}};
static const struct step sc_change[] = {
    /* old (8) || new "1111" */
    {"002400810C" "3133353739313335" "31313131", 0x9000},
    {V_ISSUER_OK, 0x63C2}, {"0020008104" "31313131", 0x9000}, {E_ISSUER, 0x9000},
    /* wrong old value spends a try, changes nothing */
    {"002400810A" "39393939" "323232323232", 0x63C2},
    {"0020008104" "31313131", 0x9000},
    /* new value of the wrong form: 6A80, nothing spent */
    {"0024008107" "31313131" "313233", 0x6A80},
    {"0024008108" "31313131" "3132333A", 0x6A80},
    {"0024008104" "31313131", 0x6A80}, /* no new value at all */
    {E_ISSUER, 0x9000}, /* verified above; nothing spent since */
    /* holder PIN before the issuer PIN of this session */
    {SEL, 0x9000}, {"002400820A" "323436383130" "31323334", 0x6982}, {E_HOLDER, 0x63C3},
    /* admin key to a 32-byte key, then back */
    {"0024008330" "000102030405060708090A0B0C0D0E0F"
     "101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F", 0x9000},
    {V_ADMIN_OK, 0x63C2},
    {"0020008320" "101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F", 0x9000},
    {"00240083" "30" "101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F"
     "000102030405060708090A0B0C0D0E0F", 0x9000},
    {V_ADMIN_OK, 0x9000},
    {NULL, 0}};
static const struct step sc_staging_refuses[] = {
    {V_ADMIN_OK, 0x9000},  {"80E00000", 0x9000},   {E_ISSUER, 0x6985},
    {V_ISSUER_OK, 0x6985}, {"002400810C" "3133353739313335" "31313131", 0x6985},
    {"002C0381", 0x6985},  {"80E80000", 0x9000},   {V_ISSUER_OK, 0x9000},
    {NULL, 0}};

static const struct step *const scenarios[] = {
    sc_countdown,         sc_block,        sc_empty_spends_nothing,   sc_holder_needs_issuer,
    sc_formats,           sc_mismatch_unverifies, sc_admin_blocks_for_good, sc_reset_retry,
    sc_change,            sc_staging_refuses,
};

START_TEST(test_semantics_table)
{
    kc_test_card t;
    provisioned(&t, 1000 + (uint64_t)_i);
    run_steps(&t, scenarios[_i], _i);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_blank_card_refuses_verify)
{
    kc_test_card t;
    kc_test_card_new(&t, 5);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, E_ISSUER), 0x6985);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x6985);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "002C0381"), 0x6982);
    kc_test_card_free(&t);
}
END_TEST

/* ---- durability ------------------------------------------------------------------ */

START_TEST(test_block_survives_power_cycle)
{
    kc_test_card t;
    provisioned(&t, 11);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    for (int i = 0; i < 3; i++)
        kc_test_card_sendx(&t, V_HOLDER_BAD);
    /* power off and on through the card interface */
    kc_keycard_card.power(t.ctx, KC_POWER_OFF);
    kc_keycard_card.power(t.ctx, KC_POWER_ON);
    ck_assert_uint_eq(kc_test_card_sendx(&t, E_HOLDER), 0x6985); /* not selected after power-up */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, E_HOLDER), 0x6983);
    /* and a real reboot: state rebuilt from the flash alone */
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, E_HOLDER), 0x6983);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_HOLDER_OK), 0x6983);
    kc_test_card_free(&t);
}
END_TEST

/*
 * The counter is committed before the comparison. A wrong VERIFY with tries
 * left does exactly one commit (the decrement): N flash operations. Cutting
 * the power right after those N operations, while the card works on a
 * correct PIN, must leave the try spent after reboot: the comparison (and
 * the restoring commit) comes only after the decrement is on flash.
 */
START_TEST(test_counter_committed_before_compare)
{
    kc_test_card t;
    provisioned(&t, 12);
    unsigned long ops0 = t.ram.ops;
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_BAD), 0x63C2);
    unsigned long n = t.ram.ops - ops0;
    ck_assert_uint_gt(n, 0);

    /* the correct PIN, power lost right at the comparison point */
    t.ram.cut_after = (long)(t.ram.ops + n);
    t.ram.cut_mode = KC_HW_RAM_CUT_NOTHING;
    uint16_t sw = kc_test_card_sendx(&t, V_ISSUER_OK);
    ck_assert_msg(sw != 0x9000, "the restoring commit cannot have happened (SW %04X)", sw);
    ck_assert_int_eq(t.ram.dead, 1);
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, E_ISSUER), 0x63C1); /* the try is spent */
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
    kc_test_card_free(&t);
}
END_TEST

/*
 * No cut during the decrement commit may reveal the comparison: the card
 * answers with an error (never 63Cx or 9000) and after reboot the counter is
 * the old one or one less, never more.
 */
START_TEST(test_cut_during_decrement)
{
    kc_test_card t;
    provisioned(&t, 13);
    unsigned long ops0 = t.ram.ops;
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_BAD), 0x63C2);
    unsigned long n = t.ram.ops - ops0;
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000); /* back to 3 */

    for (unsigned long k = 0; k < n; k++) {
        for (int mode = 0; mode < KC_HW_RAM_CUT_MODES; mode++) {
            ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
            t.ram.cut_after = (long)(t.ram.ops + k);
            t.ram.cut_mode = mode;
            uint16_t sw = kc_test_card_sendx(&t, V_ISSUER_BAD);
            ck_assert_msg(sw != 0x9000 && (sw & 0xFFF0) != 0x63C0,
                          "cut at op %lu mode %d revealed the comparison: %04X", k, mode, sw);
            ck_assert_int_eq(kc_test_card_reboot(&t), 0);
            ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
            sw = kc_test_card_sendx(&t, E_ISSUER);
            ck_assert_msg(sw == 0x63C3 || sw == 0x63C2, "cut at op %lu mode %d: %04X", k, mode, sw);
            ck_assert_uint_eq(kc_test_card_sendx(&t, V_ISSUER_OK), 0x9000);
        }
    }
    kc_test_card_free(&t);
}
END_TEST

/* A credential blocked by a wrong try appends a pin-blocked audit entry. */
START_TEST(test_block_is_audited)
{
    kc_test_card t;
    provisioned(&t, 14);
    for (int i = 0; i < 3; i++)
        kc_test_card_sendx(&t, V_ISSUER_BAD);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A000000400000001"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 11 + KC_AUDIT_PREV_LEN); /* the entry and its prev */
    ck_assert_mem_eq(t.resp, "\x00\x00\x00\x01", 4);
    ck_assert_mem_eq(t.resp + 8, "\x03\x01\x81", 3);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "002C0381"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A000000400000002"), 0x9000);
    ck_assert_mem_eq(t.resp + 8, "\x04\x01\x81", 3); /* unblocked */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0024008110" "3133353739313335" "3531373133313335"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A000000400000003"), 0x9000);
    ck_assert_mem_eq(t.resp + 8, "\x05\x01\x81", 3); /* changed */
    kc_test_card_free(&t);
}
END_TEST

static Suite *pin_suite(void)
{
    Suite *s = suite_create("pin");
    TCase *tc = tcase_create("pin");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_semantics_table, 0, sizeof(scenarios) / sizeof(scenarios[0]));
    tcase_add_test(tc, test_blank_card_refuses_verify);
    tcase_add_test(tc, test_block_survives_power_cycle);
    tcase_add_test(tc, test_counter_committed_before_compare);
    tcase_add_test(tc, test_cut_during_decrement);
    tcase_add_test(tc, test_block_is_audited);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
