/*
 * test_lib_channel.c - libkeycard's secure channel end to end over the "sim"
 * transport (libkeycard/channel.c): keycard_open_ex opens the channel by
 * itself, checks the certificate against the issuer key before anything
 * else, refuses a card of another issuer, reopens after a reset, and keeps
 * API functions unaware of it. Runs from the top of the tree (key files by
 * relative path).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keycard.h"
#include "keycard_proto.h"

#define ISSUER_PIN "13579135"
#define HOLDER_PIN "246810"
static const uint8_t admin_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static char tmpdir[64];
static char where[128];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/kc-test-libch-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(where, sizeof where, "sim:%s/card.img", tmpdir);
}

static void teardown(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/card.img", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the top of the tree)", path);
    static uint8_t buf[4][8192];
    static int which;
    uint8_t *b = buf[which++ % 4];
    *len = fread(b, 1, sizeof buf[0], f);
    fclose(f);
    ck_assert_uint_gt(*len, 0);
    return b;
}

static void put_cred(keycard *kc, uint16_t tag, const void *v, size_t n)
{
    uint8_t d[40];
    d[0] = 3;
    memcpy(d + 1, v, n);
    ck_assert_int_eq(keycard_provision_put(kc, tag, d, n + 1), KEYCARD_OK);
}

/* Provision with identity and channel key signed by key_file, policy as given. */
static void provision(const char *key_file, uint8_t policy)
{
    size_t kl;
    const uint8_t *key = read_file(key_file, &kl);
    keycard *kc = NULL;
    keycard_identity id;
    keycard_channel_key ck;
    ck_assert_int_eq(keycard_open(&kc, where), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_NONE); /* blank: none offered */
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    put_cred(kc, KC_TAG_ISSUER_PIN, ISSUER_PIN, strlen(ISSUER_PIN));
    put_cred(kc, KC_TAG_HOLDER_PIN, HOLDER_PIN, strlen(HOLDER_PIN));
    put_cred(kc, KC_TAG_ADMIN_KEY, admin_key, sizeof admin_key);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)"A B", 3),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER, (const uint8_t *)"N1", 2),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_generate(kc, &id), KEYCARD_OK);
    ck_assert_int_eq(keycard_identity_sign(&id, key, kl), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, id.issuer_sig, 64),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_generate_channel(kc, &ck), KEYCARD_OK);
    ck_assert_mem_eq(ck.serial, id.serial, 8);
    ck_assert_uint_eq(ck.ka_pub[0], 0x04);
    ck_assert_int_eq(keycard_channel_key_sign(&ck, key, kl), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_commit(kc), KEYCARD_ERR_CONDITIONS); /* not put yet */
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_CHANNEL_SIG, ck.issuer_sig, 64), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_CHANNEL_POLICY, &policy, 1), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_commit(kc), KEYCARD_OK);
    keycard_close(kc);
}

static keycard_rc open_with(const char *pub_file, keycard_channel_mode mode, keycard **kc)
{
    size_t pl = 0;
    const uint8_t *pub = pub_file ? read_file(pub_file, &pl) : NULL;
    keycard_options o = {mode, pub, pl};
    *kc = NULL;
    return keycard_open_ex(kc, where, &o);
}

START_TEST(test_genuine_and_not)
{
    keycard *kc;
    keycard_holder h;
    provision("examples/profiles/demo-issuer.key.pem", KC_CHANNEL_REQUIRED);

    /* The right issuer: genuine channel; the API works through it unaware. */
    ck_assert_int_eq(open_with("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, &kc),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_GENUINE);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_OK);
    ck_assert_str_eq(h.name, "A B");
    keycard_channel_key ck;
    size_t pl;
    const uint8_t *pub = read_file("examples/profiles/demo-issuer.pub.pem", &pl);
    ck_assert_int_eq(keycard_channel_cert_read(kc, pub, pl, &ck), KEYCARD_OK);
    pub = read_file("tests/data/other-issuer.pub.pem", &pl);
    ck_assert_int_eq(keycard_channel_cert_read(kc, pub, pl, &ck), KEYCARD_ERR_NOT_GENUINE);
    keycard_close(kc);

    /* Another issuer's key: refused at open, before anything else is sent. */
    ck_assert_int_eq(open_with("tests/data/other-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, &kc),
                     KEYCARD_ERR_NOT_GENUINE);
    ck_assert_ptr_null(kc);

    /* No issuer key: encrypted, genuineness not claimed. */
    ck_assert_int_eq(open_with(NULL, KEYCARD_CHANNEL_AUTO, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_ENCRYPTED);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    keycard_close(kc);

    /* Channel off on a "required" card: PINs are refused in plain. */
    ck_assert_int_eq(open_with(NULL, KEYCARD_CHANNEL_OFF, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_NONE);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_NOT_VERIFIED);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK); /* DF03 stays plain */
    keycard_close(kc);
}
END_TEST

START_TEST(test_other_issuer_card)
{
    keycard *kc;
    /* A card provisioned by another issuer: refused under the demo issuer's key. */
    provision("tests/data/other-issuer.key.pem", KC_CHANNEL_OPTIONAL);
    ck_assert_int_eq(open_with("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, &kc),
                     KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(open_with("tests/data/other-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, &kc),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_GENUINE);
    keycard_close(kc);
}
END_TEST

START_TEST(test_blank_and_plain_cards)
{
    keycard *kc;
    /* Blank with an issuer key: "blank", nothing else. */
    ck_assert_int_eq(open_with("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, &kc),
                     KEYCARD_ERR_BLANK);
    /* REQUIRE on a card that offers no channel. */
    ck_assert_int_eq(open_with(NULL, KEYCARD_CHANNEL_REQUIRE, &kc), KEYCARD_ERR_UNSUPPORTED);
    /* Unreadable issuer keys are refused before the card is touched. */
    keycard_options o = {KEYCARD_CHANNEL_AUTO, (const uint8_t *)"nope", 4};
    ck_assert_int_eq(keycard_open_ex(&kc, where, &o), KEYCARD_ERR_KEY_FORMAT);
    ck_assert_str_ne(keycard_strerror(KEYCARD_ERR_CHANNEL), keycard_strerror(KEYCARD_ERR_CARD));
}
END_TEST

/* A raw SELECT through keycard_transmit ends the channel; the library opens a new one. */
START_TEST(test_reselect_reopens)
{
    keycard *kc;
    uint8_t r[300];
    size_t rl = sizeof r;
    static const uint8_t sel[] = {0x00, 0xA4, 0x04, 0x0C, 0x0A, KC_AID_BYTES};
    provision("examples/profiles/demo-issuer.key.pem", KC_CHANNEL_REQUIRED);
    ck_assert_int_eq(open_with("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, &kc),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_transmit(kc, sel, sizeof sel, r, &rl), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_GENUINE);
    /* The PIN went with the old channel; the new one works. */
    int tries = -1;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &tries),
                     KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
    keycard_close(kc);
}
END_TEST

static Suite *lib_channel_suite(void)
{
    Suite *s = suite_create("lib_channel");
    TCase *c = tcase_create("sim");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_set_timeout(c, 60);
    tcase_add_test(c, test_genuine_and_not);
    tcase_add_test(c, test_other_issuer_card);
    tcase_add_test(c, test_blank_and_plain_cards);
    tcase_add_test(c, test_reselect_reopens);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lib_channel_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
