/*
 * test_lib_channel.c - libkeycard's secure channel end to end over the "sim"
 * transport (libkeycard/channel.c): keycard_open_ex opens the channel by
 * itself, checks the certificate against the issuer key before anything
 * else, refuses a card of another issuer, and keeps API functions unaware of
 * it. No downgrade (docs/security.md): through a line that misbehaves (a
 * transport in front of the sim card that strips the certificate, fails or
 * alters one wrapped command, resets the card), no secret goes out in plain
 * and a failure inside the channel leaves the session lost, nothing sent,
 * until keycard_reopen. Runs from the top of the tree (key files by relative
 * path).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keycard.h"
#include "keycard_sim.h"
#include "keycard_proto.h"
#include "transport.h"

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

/* ---- a line that misbehaves ------------------------------------------------- */

/*
 * A transport between libkeycard and the sim card, as a hostile reader or a
 * flaky cable would be: it can answer 6A88 to GET DATA DF07 (a stripped
 * certificate), fail the n-th wrapped command on the line (the card never
 * sees it), flip a bit of the n-th wrapped answer, or reset the card before
 * the n-th wrapped command. It counts what reaches the card and notes any
 * command that carries a secret in plain.
 */
typedef struct line {
    kcl_transport base;
    kcl_transport *card;
    int strip_cert;
    unsigned fail_at, flip_at, reset_at; /* wrapped command numbers, 0: never */
    unsigned wrapped;                    /* wrapped commands seen so far */
    unsigned sent;                       /* APDUs that reached the card */
    unsigned plain_secrets;              /* of them: a secret in plain */
} line;

static line *g_line; /* the one the current test opened (freed with its handle) */

static int plain_secret(const uint8_t *c, size_t len)
{
    if (len >= 4 && !(c[0] & KC_CLA_SM) && (c[1] == KC_INS_BACKUP || c[1] == KC_INS_RESTORE))
        return 1; /* a share in the answer or in the data */
    if (len < 6 || (c[0] & KC_CLA_SM))
        return 0; /* no data, or wrapped */
    uint8_t ins = c[1] & 0xFE;
    return ins == KC_INS_VERIFY || ins == KC_INS_CHANGE_REFERENCE_DATA ||
           ins == KC_INS_RESET_RETRY_COUNTER || c[1] == KC_INS_PROVISION_PUT ||
           c[1] == KC_INS_ISSUE_WRAP;
}

static keycard_rc line_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len)
{
    line *l = (line *)t;
    if (len >= 4 && l->strip_cert && cmd[0] == KC_CLA_ISO && cmd[1] == KC_INS_GET_DATA &&
        cmd[2] == (KC_TAG_CHANNEL_CERT >> 8) && cmd[3] == (KC_TAG_CHANNEL_CERT & 0xFF)) {
        resp[0] = 0x6A;
        resp[1] = 0x88;
        *resp_len = 2;
        return KEYCARD_OK;
    }
    int wrapped = len >= 1 && (cmd[0] & KC_CLA_SM);
    if (wrapped)
        l->wrapped++;
    if (wrapped && l->wrapped == l->fail_at)
        return KEYCARD_ERR_TRANSPORT; /* lost on the line: the card never saw it */
    if (wrapped && l->wrapped == l->reset_at) {
        /* The card is reset: a plain SELECT ends its channel and security state. */
        static const uint8_t sel[] = {0x00, 0xA4, 0x04, 0x0C, KC_AID_LEN, KC_AID_BYTES};
        uint8_t r[8];
        size_t rl = sizeof r;
        ck_assert_int_eq(l->card->ops->transmit(l->card, sel, sizeof sel, r, &rl), KEYCARD_OK);
        return KEYCARD_ERR_CARD_RESET;
    }
    l->sent++;
    if (plain_secret(cmd, len))
        l->plain_secrets++;
    keycard_rc rc = l->card->ops->transmit(l->card, cmd, len, resp, resp_len);
    if (rc == KEYCARD_OK && wrapped && l->wrapped == l->flip_at && *resp_len > 2)
        resp[0] ^= 0x01;
    return rc;
}

static keycard_rc line_begin(kcl_transport *t)
{
    line *l = (line *)t;
    return l->card->ops->begin_transaction(l->card);
}

static keycard_rc line_end(kcl_transport *t)
{
    line *l = (line *)t;
    return l->card->ops->end_transaction(l->card);
}

static keycard_rc line_reconnect(kcl_transport *t)
{
    line *l = (line *)t;
    return l->card->ops->reconnect(l->card);
}

static const char *line_name(const kcl_transport *t)
{
    const line *l = (const line *)t;
    return l->card->ops->name(l->card);
}

static void line_close(kcl_transport *t)
{
    line *l = (line *)t;
    l->card->ops->close(l->card);
    if (g_line == l)
        g_line = NULL;
    free(l);
}

static const kcl_transport_ops line_ops = {
    .kind = "line",
    .transmit = line_transmit,
    .begin_transaction = line_begin,
    .end_transaction = line_end,
    .reconnect = line_reconnect,
    .name = line_name,
    .close = line_close,
};

/* Open the card through a new line (g_line) with these options. */
static keycard_rc open_line(const char *pub_file, keycard_channel_mode mode, int strip_cert,
                            keycard **kc)
{
    size_t pl = 0;
    const uint8_t *pub = pub_file ? read_file(pub_file, &pl) : NULL;
    keycard_options o = {mode, pub, pl};
    line *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    l->base.ops = &line_ops;
    l->strip_cert = strip_cert;
    keycard_link sim;
    char detail[128];
    ck_assert_int_eq(keycard_sim_link(where + 4, KEYCARD_LINK_KEYCARD, &sim, detail, sizeof detail),
                     KEYCARD_OK);
    ck_assert_int_eq(kcl_link_wrap(&sim, where, &l->card), KEYCARD_OK);
    g_line = l;
    *kc = NULL;
    return kcl_keycard_open_on(&l->base, &o, kc);
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

    /* The issuer's public half from its private key (what kc-admin provision uses). */
    uint8_t raw[65];
    size_t kl;
    const uint8_t *priv = read_file("examples/profiles/demo-issuer.key.pem", &kl);
    ck_assert_int_eq(keycard_public_key(priv, kl, raw), KEYCARD_OK);
    ck_assert_int_eq(keycard_public_key((const uint8_t *)"nope", 4, raw), KEYCARD_ERR_KEY_FORMAT);
    keycard_options ro = {KEYCARD_CHANNEL_AUTO, raw, sizeof raw};
    ck_assert_int_eq(keycard_open_ex(&kc, where, &ro), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_GENUINE);
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

    /* Channel off on a card with a channel key: the library keeps the PIN. */
    ck_assert_int_eq(open_with(NULL, KEYCARD_CHANNEL_OFF, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_NONE);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_NO_CHANNEL);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK); /* DF03 stays plain */
    keycard_close(kc);

    /* Only by name does a PIN go in plain; a "required" card refuses it then. */
    ck_assert_int_eq(open_with(NULL, KEYCARD_CHANNEL_INSECURE_PLAIN, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_NOT_VERIFIED);
    keycard_close(kc);
    ck_assert_int_eq(open_with("examples/profiles/demo-issuer.pub.pem",
                               KEYCARD_CHANNEL_INSECURE_PLAIN, &kc),
                     KEYCARD_ERR_ARG);
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
    ck_assert_str_ne(keycard_strerror(KEYCARD_ERR_SESSION_LOST), "unknown error");
    ck_assert_str_ne(keycard_strerror(KEYCARD_ERR_NO_CHANNEL), "unknown error");
}
END_TEST

/*
 * The first provisioning of a blank card is the one plain exception: secrets
 * go (no issuer key given), until the commit gives the card its channel key.
 */
START_TEST(test_blank_exception_ends_at_commit)
{
    keycard *kc;
    size_t kl;
    const uint8_t *key = read_file("examples/profiles/demo-issuer.key.pem", &kl);
    keycard_identity id;
    keycard_channel_key ck;
    uint8_t policy = KC_CHANNEL_OPTIONAL;
    ck_assert_int_eq(open_line(NULL, KEYCARD_CHANNEL_AUTO, 0, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    put_cred(kc, KC_TAG_ISSUER_PIN, ISSUER_PIN, strlen(ISSUER_PIN));
    put_cred(kc, KC_TAG_HOLDER_PIN, HOLDER_PIN, strlen(HOLDER_PIN));
    put_cred(kc, KC_TAG_ADMIN_KEY, admin_key, sizeof admin_key);
    ck_assert_uint_eq(g_line->plain_secrets, 3);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)"A B", 3),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER, (const uint8_t *)"N1", 2),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_generate(kc, &id), KEYCARD_OK);
    ck_assert_int_eq(keycard_identity_sign(&id, key, kl), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, id.issuer_sig, 64),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_generate_channel(kc, &ck), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_key_sign(&ck, key, kl), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_CHANNEL_SIG, ck.issuer_sig, 64), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_CHANNEL_POLICY, &policy, 1), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_commit(kc), KEYCARD_OK);
    /* Provisioned now ("optional": the card itself would take a plain PIN). */
    unsigned before = g_line->plain_secrets;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_uint_eq(g_line->plain_secrets, before);
    /* A new session opens the channel. */
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_ENCRYPTED);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_uint_eq(g_line->plain_secrets, before);
    keycard_close(kc);
}
END_TEST

/*
 * A line that answers 6A88 to GET DATA DF07 (issue 10, finding 2): with the
 * issuer key the card is refused before anything but SELECT, DF07 and DF03;
 * without it the session is plain and every secret-carrying call is refused
 * before a byte goes out, under either card policy and as a raw APDU too.
 */
START_TEST(test_stripped_certificate)
{
    keycard *kc;
    int tries = -1;
    provision("examples/profiles/demo-issuer.key.pem", _i ? KC_CHANNEL_REQUIRED
                                                          : KC_CHANNEL_OPTIONAL);
    ck_assert_int_eq(open_line("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, 1,
                               &kc),
                     KEYCARD_ERR_NOT_GENUINE);
    ck_assert_ptr_null(kc);

    ck_assert_int_eq(open_line(NULL, KEYCARD_CHANNEL_AUTO, 1, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_NONE);
    unsigned sent = g_line->sent;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &tries),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &tries),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_change_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, "11223344", &tries),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_change_admin(kc, admin_key, 16, admin_key, 16, &tries),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_unblock_pin(kc, KEYCARD_PIN_HOLDER, "11223344"),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_provision_put(kc, KEYCARD_TAG_KEY(1), admin_key, 16),
                     KEYCARD_ERR_NO_CHANNEL);
    /* Backup shares: in BACKUP's answer (no data sent) and in RESTORE's data. */
    uint8_t id[KEYCARD_BACKUP_ID_LEN], share[KEYCARD_BACKUP_SHARE_LEN] = {0};
    ck_assert_int_eq(keycard_backup_begin(kc, 2, 3, id), KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_backup_share(kc, 1, share), KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_restore_share(kc, share, sizeof share), KEYCARD_ERR_NO_CHANNEL);
    static const uint8_t raw_verify[] = {0x00, 0x20, 0x00, 0x81, 0x08, '1', '3', '5', '7',
                                         '9', '1', '3', '5'};
    static const uint8_t raw_cla[] = {0x0C, 0x21, 0x00, 0x81, 0x02, '1', '3'};
    static const uint8_t bad[] = {0x00, 0x20, 0x00, 0x81, 0x08, '1'};
    uint8_t r[300];
    size_t rl = sizeof r;
    ck_assert_int_eq(keycard_transmit(kc, raw_verify, sizeof raw_verify, r, &rl),
                     KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_transmit(kc, raw_cla, sizeof raw_cla, r, &rl), KEYCARD_ERR_NO_CHANNEL);
    ck_assert_int_eq(keycard_transmit(kc, bad, sizeof bad, r, &rl), KEYCARD_ERR_ARG);
    ck_assert_uint_eq(g_line->sent, sent);
    /* What carries no secret still works: tries left (empty VERIFY), status. */
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &tries), _i ? KEYCARD_ERR_NOT_VERIFIED
                                                                            : KEYCARD_OK);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_uint_eq(g_line->plain_secrets, 0);
    keycard_close(kc);
}
END_TEST

/* One wrapped command lost on the line (SCARD_F_COMM_ERROR): the session is over. */
START_TEST(test_transport_error_loses_session)
{
    keycard *kc;
    keycard_status st;
    uint8_t r[300];
    size_t rl = sizeof r;
    static const uint8_t get_status[] = {0x00, 0xCA, 0xDF, 0x03, 0x00};
    provision("examples/profiles/demo-issuer.key.pem", KC_CHANNEL_OPTIONAL);
    ck_assert_int_eq(open_line("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, 0,
                               &kc),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    g_line->fail_at = g_line->wrapped + 1;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                     KEYCARD_ERR_TRANSPORT);
    unsigned sent = g_line->sent;
    /* Every later call: session lost, nothing on the line, never a plain VERIFY. */
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_LOST);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_transmit(kc, get_status, sizeof get_status, r, &rl),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_present(kc), KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_hold(kc), KEYCARD_ERR_SESSION_LOST);
    ck_assert_uint_eq(g_line->sent, sent);
    ck_assert_uint_eq(g_line->plain_secrets, 0);
    /* The caller opens a new session: the PINs are needed again. */
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_GENUINE);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                     KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
    ck_assert_uint_eq(g_line->plain_secrets, 0);
    keycard_close(kc);
}
END_TEST

/* An altered answer (bad tag) or a card reset inside a held session: the same. */
START_TEST(test_bad_tag_and_reset_lose_session)
{
    keycard *kc;
    keycard_holder h;
    provision("examples/profiles/demo-issuer.key.pem", KC_CHANNEL_OPTIONAL);
    ck_assert_int_eq(open_line("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, 0,
                               &kc),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_hold(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    g_line->flip_at = g_line->wrapped + 1;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                     KEYCARD_ERR_CHANNEL);
    unsigned sent = g_line->sent;
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_uint_eq(g_line->sent, sent);
    /* Reopened inside the hold, which goes on. */
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    g_line->reset_at = g_line->wrapped + 1;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                     KEYCARD_ERR_CARD_RESET);
    sent = g_line->sent;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_ERR_SESSION_LOST);
    ck_assert_uint_eq(g_line->sent, sent); /* no reconnect, no SELECT by itself */
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_OK);
    ck_assert_int_eq(keycard_release(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_release(kc), KEYCARD_ERR_ARG);
    ck_assert_uint_eq(g_line->plain_secrets, 0);
    keycard_close(kc);
}
END_TEST

/* A reopen that meets a stripped certificate fails and leaves the session lost. */
START_TEST(test_failed_reopen_stays_lost)
{
    keycard *kc;
    provision("examples/profiles/demo-issuer.key.pem", KC_CHANNEL_OPTIONAL);
    ck_assert_int_eq(open_line(NULL, KEYCARD_CHANNEL_AUTO, 0, &kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_ENCRYPTED);
    g_line->fail_at = g_line->wrapped + 1;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_TRANSPORT);
    g_line->strip_cert = 1;
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK); /* no issuer key: plain, no secrets */
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_NONE);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_NO_CHANNEL);
    keycard_close(kc);

    ck_assert_int_eq(open_line("examples/profiles/demo-issuer.pub.pem", KEYCARD_CHANNEL_AUTO, 0,
                               &kc),
                     KEYCARD_OK);
    g_line->fail_at = g_line->wrapped + 1;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_TRANSPORT);
    g_line->strip_cert = 1;
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_LOST);
    unsigned sent = g_line->sent;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_uint_eq(g_line->sent, sent);
    g_line->strip_cert = 0;
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_uint_eq(g_line->plain_secrets, 0);
    keycard_close(kc);
}
END_TEST

/* A raw SELECT through keycard_transmit ends the session; keycard_reopen opens a new one. */
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
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_LOST);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                     KEYCARD_ERR_SESSION_LOST);
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
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
    tcase_add_test(c, test_blank_exception_ends_at_commit);
    tcase_add_loop_test(c, test_stripped_certificate, 0, 2);
    tcase_add_test(c, test_transport_error_loses_session);
    tcase_add_test(c, test_bad_tag_and_reset_lose_session);
    tcase_add_test(c, test_failed_reopen_stays_lost);
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
