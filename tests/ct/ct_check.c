/*
 * ct_check.c - the constant-time check program of tests/ct/run.sh (issue 4
 * item 8). Each scenario marks the secret inputs of one comparison undefined
 * for valgrind memcheck (VALGRIND_MAKE_MEM_UNDEFINED) just before the
 * firmware compares them, and drives the real command path; a conditional
 * jump or address computed from those bytes is a memcheck report. The
 * marking is scoped to the comparison inputs (stored verifiers, received
 * MACs and tags), not to the PIN or keys that feed PBKDF2 / AES, whose
 * mbedTLS internals are table-driven and out of this check's scope. The
 * match bit itself is public; run.sh's wrapper of kc_ct_equal declassifies
 * it and counts the comparisons that saw secret bytes.
 *
 *   ct_check check     all scenarios; prints "compares: N" and "ok"
 *   ct_check negative  a memcmp on secrets, which valgrind must flag
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "kc_crypto.h"
#include "kc_keycard.h"
#include "kc_keys.h"
#include "kc_store.h"
#include "support/kc_test_card.h"
#include "support/kc_test_target.h"
#include "tc_keys.h"

unsigned long ct_secret_compares;
int ct_public_after_compare; /* see scen_kc_end and ct_equal_wrap.inc */
int ct_first_arg_secret;     /* see scen_target and ct_equal_wrap.inc */

/* Record layouts (keycard/kc_cred.c, examples/targetcard/tc_fs.c top comment). */
#define CRED_REC_LEN 55
#define CRED_OFF_VERIFIER 23
#define TC_PIN_REC_LEN 52
#define TC_PIN_OFF_VERIFIER 20

static int failures;

static void expect(const char *what, unsigned got, unsigned want)
{
    if (got != want) {
        printf("FAIL %s: %04X, expected %04X\n", what, got, want);
        failures++;
    }
}

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

/* 1. kc_ct_equal itself on secret buffers, equal and not. */
static void scen_ct_equal(void)
{
    uint8_t a[32], b[32];
    for (int diff = 0; diff < 2; diff++) {
        memset(a, 0x5A, sizeof(a));
        memcpy(b, a, sizeof(b));
        b[31] ^= (uint8_t)diff;
        SECRET(a, sizeof(a));
        SECRET(b, sizeof(b));
        int r = kc_ct_equal(a, b, sizeof(a));
        expect("kc_ct_equal", (unsigned)r, diff ? 0u : 1u);
    }
}

/* Mark the verifier of a key card credential undefined where it lives (flash). */
static void kc_mark_verifier(kc_test_card *t, uint8_t ref)
{
    kc_keycard *kc = t->ctx;
    const uint8_t *d;
    size_t len;
    if (kc_store_get(&kc->store, KC_KEY_CRED(ref), &d, &len) != 0 || len != CRED_REC_LEN) {
        printf("FAIL credential record %02X\n", ref);
        failures++;
        return;
    }
    SECRET(d + CRED_OFF_VERIFIER, 32);
}

/* 2. Key card VERIFY (kc_cred_check): issuer PIN wrong and right, admin key. */
static void scen_kc_verify(void)
{
    kc_test_card t;
    kc_test_card_new(&t, 11);
    expect("provision", kc_test_card_provision_demo(&t), 0x9000);
    expect("select", kc_test_card_select(&t), 0x9000);
    kc_mark_verifier(&t, KC_REF_ISSUER_PIN);
    expect("VERIFY wrong", kc_test_card_sendx(&t, "0020008108 3131313131313131"), 0x63C2);
    kc_mark_verifier(&t, KC_REF_ISSUER_PIN);
    expect("VERIFY right", kc_test_card_sendx(&t, "0020008108 3133353739313335"), 0x9000);
    kc_mark_verifier(&t, KC_REF_ADMIN_KEY);
    expect("VERIFY admin", kc_test_card_verify_admin(&t), 0x9000);
    kc_test_card_free(&t);
}

/* 3. Key card ISSUE END: the completion MAC the host returns against the card's. */
static void scen_kc_end(void)
{
    kc_test_card t;
    uint8_t apdu[64];
    kc_test_card_new(&t, 12);
    expect("provision", kc_test_card_provision_demo(&t), 0x9000);
    expect("issuance material", kc_test_card_provision_issuance(&t), 0x9000);
    expect("unlock", kc_test_card_unlock(&t), 0x9000);
    /* way 01: serial key bucket Nt first-counter, Le (the key card's nonce comes back) */
    expect("BEGIN", kc_test_card_sendx(&t, "805001001F 5443000000000001 01 0080 "
                                           "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF 00000001 00"),
           0x9000);
    expect("WRAP", kc_test_card_sendx(&t, "8052000003040000"), 0x9000);
    /* END: n=1, SW 9000, MAC (not the right one: the compare is the same either way). */
    size_t n = kc_test_hex("80540000 13 01 9000 000102030405060708090A0B0C0D0E0F 00", apdu,
                           sizeof(apdu));
    SECRET(apdu + 8, 16);
    /*
     * The presented MAC stands in for the card's own (the compare treats both
     * alike); after the verdict it is public: the receipt stores it.
     */
    ct_public_after_compare = 1;
    uint16_t sw = kc_test_card_send(&t, apdu, n);
    ct_public_after_compare = 0;
    expect("END", sw, 0x9000);
    expect("END result", t.resp_len == 1 ? t.resp[0] : 0xFF, 0x01);
    kc_test_card_free(&t);
}

static const uint8_t SERIAL[8] = {0x54, 0x43, 0, 0, 0, 0, 0, 0x77};

/* 4-6. Target card: envelope tags, PIN verifier, EXTERNAL AUTHENTICATE MAC. */
static void scen_target(void)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[64], env[KC_ENV_APDU_MAX];
    uint16_t inner;
    size_t n;

    kc_tt_new(&t, 13);
    expect("MANUFACTURE", kc_tt_manufacture(&t, SERIAL), 0x9000);
    expect("BEGIN", kc_tt_begin(&t, &s, TC_WAY_TARGET_SEED, 2, kc_tt_key2, 16, SERIAL), 0x9000);

    /*
     * Envelope tag (kc_env_open -> kc_crypto_aes_siv_open): the received V is
     * public (it is also the CTR counter block); the secret is the card's own
     * S2V over the plaintext, marked at the compare (ct_equal_wrap.inc).
     */
    static const uint8_t keyfile[] = {0x20, 0x01, 0x3F, 0x00, 0x00};
    n = kc_tt_seal(&s, 0x80, TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, keyfile, sizeof(keyfile), env,
                   sizeof(env));
    ct_first_arg_secret = 1;
    expect("ENVELOPE (computed tag secret)", kc_tt_send(&t, env, n), 0x9000);
    ct_first_arg_secret = 0;
    /* the host half's transcript, as kc_tt_env would keep it */
    {
        uint8_t sw[2];
        size_t off, dl;
        expect("response MAC", (unsigned)kc_env_resp_verify(s.last_r, s.serial, s.c, t.resp,
                                                             t.resp_len, sw, &off, &dl), 0);
        kc_env_transcript_update(&s.tr, s.c, sw);
    }
    /* PIN key 1 (digits 1234) and AES-128 key 2 in the key file. */
    memcpy(d, "\x20\x01\x03" "1234", 7);
    expect("SET KEY PIN", kc_tt_env(&t, &s, TC_INS_SET_KEY, 1, TC_FKEY_PIN, d, 7, &inner, NULL),
           0x9000);
    expect("SET KEY PIN inner", inner, 0x9000);
    static const uint8_t aes[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    d[0] = 0x20, d[1] = 0x01;
    memcpy(d + 2, aes, 16);
    expect("SET KEY AES", kc_tt_env(&t, &s, TC_INS_SET_KEY, 2, TC_FKEY_AES128, d, 18, &inner,
                                    NULL), 0x9000);
    expect("SET KEY AES inner", inner, 0x9000);
    /* A tampered tag, the computed one secret again: refused with 6988, the session ends. */
    n = kc_tt_seal(&s, 0x80, TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, keyfile, sizeof(keyfile), env,
                   sizeof(env));
    env[n - 2] ^= 0x01;
    ct_first_arg_secret = 1;
    expect("ENVELOPE (bad tag, computed tag secret)", kc_tt_send(&t, env, n), 0x6988);
    ct_first_arg_secret = 0;

    /* PIN: the stored verifier marked secret where it lives. */
    for (int right = 0; right < 2; right++) {
        const uint8_t *rec;
        size_t len;
        if (kc_store_get(&t.tc->store, TC_KEY_FKEY(1), &rec, &len) != 0 || len != TC_PIN_REC_LEN) {
            printf("FAIL target PIN record\n");
            failures++;
            break;
        }
        SECRET(rec + TC_PIN_OFF_VERIFIER, 32);
        expect("target VERIFY", kc_tt_sendx(&t, right ? "0020000104 31323334" : "0020000104 39393939"),
               right ? 0x9000 : 0x63C2);
    }

    /* EXTERNAL AUTHENTICATE: the host's CMAC marked secret against the card's. */
    for (int right = 0; right < 2; right++) {
        uint8_t apdu[5 + 16];
        expect("GET CHALLENGE", kc_tt_sendx(&t, "0084000010"), 0x9000);
        memcpy(apdu, "\x00\x82\x00\x02\x10", 5);
        kc_crypto_aes_cmac(aes, 16, t.resp, 16, apdu + 5);
        apdu[5] ^= (uint8_t)!right;
        SECRET(apdu + 5, 16);
        expect("EXTERNAL AUTHENTICATE", kc_tt_send(&t, apdu, sizeof(apdu)), right ? 0x9000 : 0x6300);
    }
    kc_tt_free(&t);
}

/* 7. kc_crypto_aes256_gcm_open directly: the tag secret, right and wrong. */
static void scen_gcm(void)
{
    uint8_t key[32] = {7}, iv[12] = {1}, aad[4] = {2}, pt[48] = {3}, ct[48], tag[16], out[48];
    expect("gcm seal", (unsigned)kc_crypto_aes256_gcm_seal(key, iv, aad, 4, pt, 48, ct, tag), 0);
    for (int bad = 0; bad < 2; bad++) {
        uint8_t t2[16];
        memcpy(t2, tag, 16);
        t2[15] ^= (uint8_t)bad;
        SECRET(t2, 16);
        int rc = kc_crypto_aes256_gcm_open(key, iv, aad, 4, ct, 48, t2, out);
        expect("gcm open", (unsigned)(rc == 0), bad ? 0u : 1u);
    }
}

START_TEST(scenarios)
{
    scen_ct_equal();
    scen_gcm();
    scen_kc_verify();
    scen_kc_end();
    scen_target();
}
END_TEST

/* Negative control: a comparison that stops at the first difference. */
static int leaky_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "negative") == 0) {
        uint8_t a[16], b[16];
        memset(a, 1, sizeof(a));
        memset(b, 1, sizeof(b));
        b[3] = 2;
        SECRET(a, sizeof(a));
        SECRET(b, sizeof(b));
        int r = leaky_equal(a, b, sizeof(a));
        PUBLIC(&r, sizeof(r)); /* only the compare itself may be reported */
        printf("negative: %d\n", r);
        return 0;
    }
    if (argc != 2 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: ct_check check|negative\n");
        return 2;
    }
    /* The test helpers assert with libcheck: run the scenarios as one test, in this process. */
    Suite *su = suite_create("ct");
    TCase *tc = tcase_create("scenarios");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, scenarios);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_SILENT);
    failures += srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("compares: %lu\n", ct_secret_compares);
    if (failures) {
        printf("%d scenario failures\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
