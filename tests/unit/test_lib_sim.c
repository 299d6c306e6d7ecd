/*
 * test_lib_sim.c - libkeycard's public API end to end over the "sim"
 * transport: the key card firmware in this process on a temporary flash
 * image. Covers opening, status of a blank card, provisioning through the
 * API (issuer signature by examples/profiles/demo-issuer.key.pem), PIN
 * verification with tries left, blocking and unblocking, holder data, the
 * identity check (genuine and not), the audit log, abort, and the messages.
 * Runs from the top of the tree (key files by relative path).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "keycard.h"
#include "keycard_sim.h"
#include "keycard_proto.h"

#define ISSUER_PIN "13579135"
#define HOLDER_PIN "246810"
#define HOLDER_NAME "Hanako Yamada"
#define HOLDER_NUMBER "EMP-000427"
static const uint8_t admin_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static char tmpdir[64];
static char where[128]; /* "sim:" + image path */

static void setup(void)
{
    strcpy(tmpdir, "/tmp/kc-test-lib-XXXXXX");
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

/*
 * These cards get no channel key: the API is tested in plain, which for a
 * provisioned card takes the loudly named insecure mode (test_lib_channel.c
 * tests that nothing secret goes in plain otherwise).
 */
static keycard *open_card(void)
{
    keycard *kc = NULL;
    static const keycard_options plain = {KEYCARD_CHANNEL_INSECURE_PLAIN, NULL, 0};
    keycard_rc rc = keycard_open_ex(&kc, where, &plain);
    ck_assert_msg(rc == KEYCARD_OK, "open %s: %s", where, keycard_strerror(rc));
    ck_assert_ptr_nonnull(kc);
    return kc;
}

/* A PUT of tries || value. */
static void put_cred(keycard *kc, uint16_t tag, const void *v, size_t n)
{
    uint8_t d[40];
    d[0] = 3;
    memcpy(d + 1, v, n);
    keycard_rc rc = keycard_provision_put(kc, tag, d, n + 1);
    ck_assert_msg(rc == KEYCARD_OK, "put %04X: %s", tag, keycard_strerror(rc));
}

/* The whole provisioning flow through the API, as kc-admin does it. */
static void provision(keycard *kc, keycard_identity *id_out)
{
    size_t kl;
    const uint8_t *key = read_file("examples/profiles/demo-issuer.key.pem", &kl);
    keycard_identity id;
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    put_cred(kc, KC_TAG_ISSUER_PIN, ISSUER_PIN, strlen(ISSUER_PIN));
    put_cred(kc, KC_TAG_HOLDER_PIN, HOLDER_PIN, strlen(HOLDER_PIN));
    put_cred(kc, KC_TAG_ADMIN_KEY, admin_key, sizeof admin_key);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)HOLDER_NAME,
                                           strlen(HOLDER_NAME)),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER,
                                           (const uint8_t *)HOLDER_NUMBER, strlen(HOLDER_NUMBER)),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_generate(kc, &id), KEYCARD_OK);
    ck_assert_uint_eq(id.device_pub[0], 0x04);
    ck_assert_int_eq(keycard_identity_sign(&id, key, kl), KEYCARD_OK);
    /* Commit before the signature: incomplete, refused, session still open. */
    ck_assert_int_eq(keycard_provision_commit(kc), KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, id.issuer_sig, 64),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_commit(kc), KEYCARD_OK);
    if (id_out)
        *id_out = id;
}

static void unlock(keycard *kc)
{
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_open_blank)
{
    keycard *kc = open_card();
    ck_assert_str_eq(keycard_reader_name(kc), where);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_BLANK);
    ck_assert_uint_eq(st.version_major, KC_PROTO_VERSION_MAJOR);
    ck_assert_uint_eq(st.version_minor, KC_PROTO_VERSION_MINOR);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st.tries_left[i], -1);
    ck_assert_int_eq(st.staging, 0);
    ck_assert_uint_eq(st.audit_capacity, KC_AUDIT_CAPACITY);
    /* A blank card says so, in words a person understands. */
    int t = 99;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t),
                     KEYCARD_ERR_BLANK);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_HOLDER, &t), KEYCARD_ERR_BLANK);
    keycard_holder h;
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_ERR_BLANK);
    keycard_close(kc);
    keycard_close(NULL);
}
END_TEST

/* A link whose card answers every command 6D00 and counts what it is sent. */
static int line_sent, line_closed;
static keycard_rc line_transmit(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len)
{
    (void)ctx, (void)cmd, (void)len;
    line_sent++;
    if (*resp_len < 2)
        return KEYCARD_ERR_PROTOCOL;
    resp[0] = 0x6D, resp[1] = 0x00;
    *resp_len = 2;
    return KEYCARD_OK;
}
static void line_close(void *ctx)
{
    (void)ctx;
    line_closed++;
}
static keycard_rc line_open(const char *arg, keycard_link_kind kind, keycard_link *out,
                            char *detail, size_t cap)
{
    (void)kind;
    if (strcmp(arg, "refuse") == 0) {
        snprintf(detail, cap, "refused %s", arg);
        return KEYCARD_ERR_NO_READER;
    }
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->transmit = line_transmit;
    out->close = line_close;
    return KEYCARD_OK;
}

/* Schemes: who may register what, and what "SCHEME:ARG" then reaches. */
START_TEST(test_schemes)
{
    keycard *kc = NULL;
    keycard_target *t = NULL;
    ck_assert_int_eq(keycard_register_scheme(NULL, line_open), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_register_scheme("", line_open), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_register_scheme("pcsc", line_open), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_register_scheme("Line", line_open), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_register_scheme("a:b", line_open), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_register_scheme("a-very-long-scheme", line_open), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_register_scheme("line", line_open), KEYCARD_OK);
    /* The opener's failure and its detail come back as they are. */
    ck_assert_int_eq(keycard_open(&kc, "line:refuse"), KEYCARD_ERR_NO_READER);
    ck_assert_str_eq(keycard_open_detail(), "refused refuse");
    /* A card that is no key card: SELECT refused, the link closed, no handle. */
    line_sent = line_closed = 0;
    ck_assert_int_eq(keycard_open(&kc, "line:x"), KEYCARD_ERR_NO_CARD);
    ck_assert_ptr_null(kc);
    ck_assert_int_eq(line_sent, 1);
    ck_assert_int_eq(line_closed, 1);
    ck_assert_int_ne(keycard_target_open(&t, "line:x"), KEYCARD_OK);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(line_closed, 2);
    /* Removed: "line:" is a reader name again, and there is no such reader. */
    ck_assert_int_eq(keycard_register_scheme("line", NULL), KEYCARD_OK);
    line_sent = 0;
    ck_assert_int_ne(keycard_open(&kc, "line:x"), KEYCARD_OK);
    ck_assert_int_eq(line_sent, 0);
    /* Room for eight. */
    char name[8];
    int i;
    for (i = 0; i < 16; i++) {
        snprintf(name, sizeof name, "s%d", i);
        if (keycard_register_scheme(name, line_open) != KEYCARD_OK)
            break;
    }
    ck_assert_int_eq(i, 7); /* "sim" holds the eighth */
    ck_assert_int_eq(keycard_register_scheme("s99", line_open), KEYCARD_ERR_MEMORY);
    for (int j = 0; j < i; j++) {
        snprintf(name, sizeof name, "s%d", j);
        ck_assert_int_eq(keycard_register_scheme(name, NULL), KEYCARD_OK);
    }
    /* Without the simulator, sim: is refused and says what is missing. */
    ck_assert_int_eq(keycard_register_scheme("sim", NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_open(&kc, where), KEYCARD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(keycard_open_detail(), "libkeycard-sim"));
    ck_assert_int_eq(keycard_target_open(&t, "sim:x.img"), KEYCARD_ERR_UNSUPPORTED);
    ck_assert_int_eq(keycard_sim_enable(), KEYCARD_OK);
    ck_assert_int_eq(keycard_sim_enable(), KEYCARD_OK);
    ck_assert_int_eq(keycard_open(&kc, where), KEYCARD_OK);
    keycard_close(kc);
}
END_TEST

/* Every trace line, joined, for searching. */
static char trace_buf[65536];
static size_t trace_len;
static unsigned trace_lines;
static void trace_collect(void *ctx, const char *line)
{
    (void)ctx;
    size_t n = strlen(line);
    if (trace_len + n + 2 < sizeof trace_buf) {
        memcpy(trace_buf + trace_len, line, n);
        trace_len += n;
        trace_buf[trace_len++] = '\n';
        trace_buf[trace_len] = '\0';
    }
    trace_lines++;
}

/* hex of s as the trace would print it ("31 33 35 ..."). */
static void hex_spaced(const void *p, size_t n, char *out)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        sprintf(out + 3 * i, i ? " %02X" : "%02X ", b[i]);
}

/*
 * The attacker reads the operator's trace: every command and answer is in
 * it, never a PIN, the admin key or holder data, in hex or in text.
 */
START_TEST(test_trace_redacts)
{
    trace_len = 0;
    trace_lines = 0;
    keycard_set_trace(trace_collect, NULL);
    keycard *kc = open_card();
    provision(kc, NULL);
    unlock(kc);
    keycard_holder h;
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_OK);
    int t;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "00000000", &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(keycard_last_sw(kc), 0x63C2);
    keycard_close(kc);
    keycard_set_trace(NULL, NULL);
    ck_assert_uint_ge(trace_lines, 20);
    /* Commands and answers are there, with the time each took. */
    ck_assert_ptr_nonnull(strstr(trace_buf, "> 00 A4 04 00 [10] F0 4B 45 59"));
    ck_assert_ptr_nonnull(strstr(trace_buf, "> 00 20 00 81 [8 bytes, not shown]"));
    ck_assert_ptr_nonnull(strstr(trace_buf, "< 63C2"));
    ck_assert_ptr_nonnull(strstr(trace_buf, " ms)"));
    /* Nothing secret, in any spelling. */
    static const struct {
        const void *v;
        size_t n;
    } secrets[] = {{ISSUER_PIN, 8}, {HOLDER_PIN, 6}, {"00000000", 8}, {admin_key, 16},
                   {HOLDER_NAME, sizeof HOLDER_NAME - 1}, {HOLDER_NUMBER, sizeof HOLDER_NUMBER - 1}};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        char hx[3 * 64 + 1], text[65];
        hex_spaced(secrets[i].v, secrets[i].n < 8 ? secrets[i].n : 8, hx);
        ck_assert_msg(strstr(trace_buf, hx) == NULL, "secret %zu in the trace (hex)", i);
        memcpy(text, secrets[i].v, secrets[i].n);
        text[secrets[i].n] = '\0';
        if (i != 3)
            ck_assert_msg(strstr(trace_buf, text) == NULL, "secret %zu in the trace (text)", i);
    }
    /* Tracing off: no more lines. */
    unsigned before = trace_lines;
    kc = open_card();
    keycard_close(kc);
    ck_assert_uint_eq(trace_lines, before);
}
END_TEST

START_TEST(test_open_options_object)
{
    keycard_open_options *o = NULL;
    keycard *kc = NULL;
    size_t kl;
    const uint8_t *pub = read_file("examples/profiles/demo-issuer.pub.pem", &kl);
    ck_assert_int_eq(keycard_open_options_new(NULL), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_open_options_new(&o), KEYCARD_OK);
    ck_assert_int_eq(keycard_open_options_channel(o, (keycard_channel_mode)9), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_open_options_issuer_pub(o, (const uint8_t *)"junk", 4),
                     KEYCARD_ERR_KEY_FORMAT);
    /* A blank card and an issuer key: refused as blank, as keycard_open_ex does. */
    ck_assert_int_eq(keycard_open_options_issuer_pub(o, pub, kl), KEYCARD_OK);
    ck_assert_int_eq(keycard_open_with(&kc, where, o), KEYCARD_ERR_BLANK);
    ck_assert_ptr_null(kc);
    /* Provisioned without a channel key: the answers of keycard_open_ex, setting by setting. */
    kc = open_card();
    provision(kc, NULL);
    keycard_close(kc);
    keycard_options ex = {KEYCARD_CHANNEL_AUTO, pub, kl};
    ck_assert_int_eq(keycard_open_ex(&kc, where, &ex), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(keycard_open_with(&kc, where, o), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(keycard_open_options_issuer_pub(o, NULL, 0), KEYCARD_OK);
    ck_assert_int_eq(keycard_open_options_channel(o, KEYCARD_CHANNEL_REQUIRE), KEYCARD_OK);
    ck_assert_int_eq(keycard_open_with(&kc, where, o), KEYCARD_ERR_UNSUPPORTED);
    ck_assert_int_eq(keycard_open_options_channel(o, KEYCARD_CHANNEL_INSECURE_PLAIN), KEYCARD_OK);
    ck_assert_int_eq(keycard_open_with(&kc, where, o), KEYCARD_OK);
    ck_assert_int_eq(keycard_channel_status(kc), KEYCARD_CHANNEL_NONE);
    ck_assert_uint_eq(keycard_last_sw(kc), 0x9000);
    keycard_close(kc);
    keycard_open_options_free(o);
    keycard_open_options_free(NULL);
    ck_assert_uint_eq(keycard_last_sw(NULL), 0);
}
END_TEST

START_TEST(test_param_builders)
{
    uint8_t p[8];
    size_t n = 0;
    ck_assert_int_eq(keycard_param_int(p, sizeof p, &n, 0x0101, 2), KEYCARD_OK);
    ck_assert_int_eq(keycard_param_bytes(p, sizeof p, &n, "AB", 2), KEYCARD_OK);
    ck_assert_int_eq(keycard_param_key(p, sizeof p, &n, 4), KEYCARD_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_mem_eq(p, "\x01\x01\x02" "AB\x04", 6);
    /* Out of the item's form, or no room: nothing appended. */
    ck_assert_int_eq(keycard_param_int(p, sizeof p, &n, 256, 1), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_param_int(p, sizeof p, &n, 1, 0), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_param_int(p, sizeof p, &n, 1, 5), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_param_key(p, sizeof p, &n, 0), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_param_key(p, sizeof p, &n, 255), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_param_bytes(p, sizeof p, &n, "ABC", 3), KEYCARD_ERR_BUFFER);
    ck_assert_int_eq(keycard_param_int(p, sizeof p, &n, 0xFFFFFFFFu, 4), KEYCARD_ERR_BUFFER);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(keycard_param_int(p, sizeof p, &n, 7, 2), KEYCARD_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(keycard_param_key(p, sizeof p, &n, 1), KEYCARD_ERR_BUFFER);
    uint8_t big[300], src[256];
    memset(src, 0x5A, sizeof src);
    n = 0;
    ck_assert_int_eq(keycard_param_bytes(big, sizeof big, &n, src, 256), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_param_bytes(big, sizeof big, &n, src, 255), KEYCARD_OK);
    ck_assert_uint_eq(n, 256);
    ck_assert_int_eq(keycard_param_int(NULL, 4, &n, 1, 1), KEYCARD_ERR_ARG);
}
END_TEST

/* The directory entry of key number (the test fails when it is not listed). */
static keycard_key_info listed_key(keycard *kc, uint8_t number)
{
    keycard_key_info keys[32];
    size_t n = 32, k;
    ck_assert_int_eq(keycard_keys_list(kc, keys, &n), KEYCARD_OK);
    for (k = 0; k < n && keys[k].number != number; k++)
        ;
    ck_assert_uint_lt(k, n);
    return keys[k];
}

/* Keys made on the card: only the KCV comes out; key and log entry in one commit. */
START_TEST(test_key_generate)
{
    keycard *kc = open_card();
    uint8_t kcv[3], kcv2[3];
    int t;
    provision(kc, NULL);
    /* Without the admin key, and inside a provisioning session: refused. */
    ck_assert_int_eq(keycard_key_generate(kc, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_ENVELOPE,
                                          "made here", kcv), KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &t), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_key_generate(kc, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_ENVELOPE,
                                          "made here", kcv), KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_provision_abort(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &t), KEYCARD_OK);
    ck_assert_int_eq(keycard_key_generate(kc, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_ENVELOPE,
                                          "made here", kcv), KEYCARD_OK);
    ck_assert_int_eq(keycard_key_generate(kc, 0, KEYCARD_KEY_AES256, 0, NULL, kcv2),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_key_generate(kc, 9, 7, 0, NULL, kcv2), KEYCARD_ERR_ARG);
    /* Listed with the same KCV. */
    keycard_key_info ki = listed_key(kc, 9);
    ck_assert_mem_eq(ki.kcv, kcv, 3);
    ck_assert_uint_eq(ki.type, KEYCARD_KEY_AES256);
    ck_assert_uint_eq(ki.flags, KEYCARD_KEYF_ENVELOPE);
    ck_assert_str_eq(ki.label, "made here");
    /* Again: another key, another KCV: version 2; version 1 is retired. */
    ck_assert_int_eq(keycard_key_generate(kc, 9, KEYCARD_KEY_AES256, KEYCARD_KEYF_ENVELOPE,
                                          "made here", kcv2), KEYCARD_OK);
    ck_assert_int_ne(memcmp(kcv, kcv2, 3), 0);
    ck_assert_mem_eq(listed_key(kc, 9).kcv, kcv2, 3);
    /* The audit log: one key-generated entry each, with number, type and KCV. */
    keycard_audit_entry e[32];
    size_t ne = 32, found = 0;
    ck_assert_int_eq(keycard_audit_read(kc, 0, e, &ne), KEYCARD_OK);
    for (size_t i = 0; i < ne; i++)
        if (e[i].event == KEYCARD_AUDIT_KEY_GENERATED) {
            ck_assert_uint_eq(e[i].len, 7);
            ck_assert_uint_eq(e[i].data[0], 9);
            ck_assert_uint_eq(e[i].data[6], found + 1); /* version 1, then 2 */
            ck_assert_uint_eq(e[i].data[1], KEYCARD_KEY_AES256);
            ck_assert_mem_eq(e[i].data + 3, found ? kcv2 : kcv, 3);
            found++;
        }
    ck_assert_uint_eq(found, 2);
    ck_assert_str_eq(keycard_audit_event_name(KEYCARD_AUDIT_KEY_GENERATED), "key-generated");
    keycard_close(kc);
}
END_TEST

/*
 * Dual control: custodians' components, each checked by its KCV, combined by
 * XOR on the card; the log names every custodian. An attacker with the PC
 * (and the admin key) who mistypes or sends one component gets no key.
 */
START_TEST(test_key_components)
{
    keycard *kc = open_card();
    uint8_t c[3][16], kc3[3][3], x[16], want[3], got[3];
    static const char *const who[3] = {"Alice Sato", "Bob Ito", "Carol Ueda"};
    int t;
    provision(kc, NULL);
    for (int i = 0; i < 3; i++) {
        memset(c[i], 0x11 * (i + 1), 16);
        c[i][0] = (uint8_t)i;
        ck_assert_int_eq(keycard_key_check_value(c[i], 16, kc3[i]), KEYCARD_OK);
    }
    for (int j = 0; j < 16; j++)
        x[j] = c[0][j] ^ c[1][j] ^ c[2][j];
    ck_assert_int_eq(keycard_key_check_value(x, 16, want), KEYCARD_OK);
    /* Without the admin key: refused. */
    ck_assert_int_eq(keycard_key_component(kc, 12, KEYCARD_KEY_AES128, KEYCARD_KEYF_ENVELOPE,
                                           "dual", who[0], c[0], 16, kc3[0]),
                     KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &t), KEYCARD_OK);
    /* A component whose KCV is not the custodian's: refused, not counted. */
    ck_assert_int_eq(keycard_key_component(kc, 12, KEYCARD_KEY_AES128, KEYCARD_KEYF_ENVELOPE,
                                           "dual", who[0], c[0], 16, kc3[1]),
                     KEYCARD_ERR_WRONG_DATA);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(keycard_key_component(kc, 12, KEYCARD_KEY_AES128, KEYCARD_KEYF_ENVELOPE,
                                               "dual", who[i], c[i], 16, kc3[i]),
                         KEYCARD_OK);
    /* Another key's component while one is begun: refused. */
    ck_assert_int_eq(keycard_key_component(kc, 13, KEYCARD_KEY_AES128, KEYCARD_KEYF_ENVELOPE,
                                           "dual", who[0], c[0], 16, kc3[0]),
                     KEYCARD_ERR_WRONG_DATA);
    /* Combine must name them all. */
    ck_assert_int_eq(keycard_key_combine(kc, 12, 2, got), KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_key_combine(kc, 12, 3, got), KEYCARD_OK);
    ck_assert_mem_eq(got, want, 3);
    /* Gone once combined. */
    ck_assert_int_eq(keycard_key_combine(kc, 12, 3, got), KEYCARD_ERR_CONDITIONS);
    ck_assert_mem_eq(listed_key(kc, 12).kcv, want, 3);
    /* One component alone never makes a key, and a reset forgets it. */
    ck_assert_int_eq(keycard_key_component(kc, 14, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "",
                                           who[0], c[0], 16, kc3[0]),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_key_combine(kc, 14, 1, got), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_reopen(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &t), KEYCARD_OK);
    ck_assert_int_eq(keycard_key_component(kc, 14, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "",
                                           who[1], c[1], 16, kc3[1]),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_key_combine(kc, 14, 2, got), KEYCARD_ERR_CONDITIONS);
    /* The log: each component with its custodian and KCV, then the key. */
    keycard_audit_entry e[40];
    size_t ne = 40, comps = 0, combined = 0;
    ck_assert_int_eq(keycard_audit_read(kc, 0, e, &ne), KEYCARD_OK);
    for (size_t i = 0; i < ne; i++) {
        if (e[i].event == KEYCARD_AUDIT_KEY_COMPONENT && e[i].data[0] == 12) {
            ck_assert_uint_eq(e[i].data[1], comps + 1);
            ck_assert_mem_eq(e[i].data + 2, kc3[comps], 3);
            ck_assert_uint_eq(e[i].len, 5 + strlen(who[comps]));
            ck_assert_mem_eq(e[i].data + 5, who[comps], strlen(who[comps]));
            comps++;
        }
        if (e[i].event == KEYCARD_AUDIT_KEY_COMBINED) {
            ck_assert_uint_eq(e[i].data[0], 12);
            ck_assert_mem_eq(e[i].data + 3, want, 3);
            ck_assert_uint_eq(e[i].data[6], 3);
            combined++;
        }
    }
    ck_assert_uint_eq(comps, 3);
    ck_assert_uint_eq(combined, 1);
    keycard_close(kc);
}
END_TEST

START_TEST(test_open_errors)
{
    keycard *kc = (keycard *)1;
    ck_assert_int_eq(keycard_open(NULL, where), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_open(&kc, "sim:"), KEYCARD_ERR_ARG);
    ck_assert_ptr_null(kc);
    ck_assert_int_eq(keycard_open(&kc, "sim:/nonexistent-dir-kc/x.img"), KEYCARD_ERR_IO);
    ck_assert_ptr_null(kc);
    /* The file and the cause, not only "input/output error". */
    ck_assert_ptr_nonnull(strstr(keycard_open_detail(), "/nonexistent-dir-kc/x.img"));
    ck_assert_ptr_nonnull(strstr(keycard_open_detail(), "No such file"));
    char p[128], w[140];
    snprintf(p, sizeof p, "%s/short.img", tmpdir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("abc", f);
    fclose(f);
    snprintf(w, sizeof w, "sim:%s", p);
    ck_assert_int_eq(keycard_open(&kc, w), KEYCARD_ERR_IO);
    ck_assert_ptr_nonnull(strstr(keycard_open_detail(), "3 bytes"));
    unlink(p);
    /* A good open leaves nothing to say. */
    ck_assert_int_eq(keycard_open(&kc, where), KEYCARD_OK);
    ck_assert_str_eq(keycard_open_detail(), "");
    keycard_close(kc);
}
END_TEST

START_TEST(test_provision_and_persist)
{
    keycard *kc = open_card();
    keycard_identity id;
    provision(kc, &id);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_PROVISIONED);
    ck_assert_int_eq(st.tries_left[0], 3);
    ck_assert_int_eq(st.tries_left[1], 3);
    ck_assert_int_eq(st.tries_left[2], 3);
    ck_assert_int_eq(st.staging, 0);
    ck_assert_mem_eq(st.serial, id.serial, 8);
    keycard_close(kc);
    /* The flash image keeps it. */
    kc = open_card();
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_PROVISIONED);
    /* A provisioned card needs the admin key to begin again. */
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_abort(kc), KEYCARD_OK);
    keycard_close(kc);
}
END_TEST

/*
 * A damaged image (one flipped bit in a committed record) is refused with
 * its own error, and the file is left byte for byte as it was: the v1 store
 * rolled such a card back silently, or made it blank with a new serial.
 */
START_TEST(test_damaged_image_refused)
{
    keycard *kc = open_card();
    keycard_identity id;
    provision(kc, &id);
    keycard_close(kc);
    char path[128];
    snprintf(path, sizeof path, "%s/card.img", tmpdir);
    static uint8_t img[256 * 1024], back[256 * 1024];
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(img, 1, sizeof img, f);
    ck_assert_uint_gt(n, 200);
    img[100] ^= 0x04; /* inside the first records */
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    ck_assert_uint_eq(fwrite(img, 1, n, f), n);
    fclose(f);
    kc = (keycard *)1;
    ck_assert_int_eq(keycard_open(&kc, where), KEYCARD_ERR_DAMAGED);
    ck_assert_ptr_null(kc);
    ck_assert_ptr_nonnull(strstr(keycard_strerror(KEYCARD_ERR_DAMAGED), "damaged"));
    f = fopen(path, "rb");
    ck_assert_uint_eq(fread(back, 1, sizeof back, f), n);
    fclose(f);
    ck_assert_mem_eq(back, img, n);
}
END_TEST

START_TEST(test_verify_tries)
{
    keycard *kc = open_card();
    provision(kc, NULL);
    int t = -5;
    /* Holder before issuer: refused, nothing spent. */
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &t),
                     KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_HOLDER, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "00000000", &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(t, 2);
    t = -5;
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 2);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t), KEYCARD_OK);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, "1111", &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(t, 2);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &t), KEYCARD_OK);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_ADMIN_KEY, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 3);
    uint8_t bad[32] = {0};
    ck_assert_int_eq(keycard_verify_admin(kc, bad, sizeof bad, &t), KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(t, 2);
    keycard_close(kc);
}
END_TEST

/* Malformed credentials: refused on the host, nothing reaches the card. */
static const char *const bad_pins[] = {"", "123", "12345678901234567", "12a4", "1234 ", NULL};

START_TEST(test_argument_checks)
{
    keycard *kc = open_card();
    provision(kc, NULL);
    int t;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, bad_pins[_i], &t),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_change_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, bad_pins[_i], &t),
                     bad_pins[_i] ? KEYCARD_ERR_WRONG_DATA : KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_ADMIN_KEY, ISSUER_PIN, &t), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, 15, &t), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_verify_admin(kc, NULL, 16, &t), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_unblock_pin(kc, KEYCARD_ADMIN_KEY, NULL), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_verify_pin(NULL, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t),
                     KEYCARD_ERR_ARG);
    /* Not one try was spent. */
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_ADMIN_KEY, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 3);
    keycard_close(kc);
}
END_TEST

START_TEST(test_blocked_and_unblock)
{
    keycard *kc = open_card();
    provision(kc, NULL);
    int t = -5;
    static const int expect[] = {2, 1, 0};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "99999999", &t),
                         KEYCARD_ERR_WRONG_PIN);
        ck_assert_int_eq(t, expect[i]);
    }
    t = -5;
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t),
                     KEYCARD_ERR_BLOCKED);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 0);
    /* Unblocking needs the admin key. */
    ck_assert_int_eq(keycard_unblock_pin(kc, KEYCARD_PIN_ISSUER, NULL), KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &t), KEYCARD_OK);
    ck_assert_int_eq(keycard_unblock_pin(kc, KEYCARD_PIN_ISSUER, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &t), KEYCARD_OK);
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t), KEYCARD_OK);
    /* Unblock with a new PIN: the old one is gone. */
    ck_assert_int_eq(keycard_unblock_pin(kc, KEYCARD_PIN_HOLDER, "1357"), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(t, 2);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, "1357", &t), KEYCARD_OK);
    keycard_close(kc);
}
END_TEST

START_TEST(test_change)
{
    keycard *kc = open_card();
    provision(kc, NULL);
    int t = -5;
    ck_assert_int_eq(keycard_change_pin(kc, KEYCARD_PIN_ISSUER, "11112222", "24682468", &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(t, 2);
    ck_assert_int_eq(keycard_change_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, "24682468", &t),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "24682468", &t), KEYCARD_OK);
    uint8_t new_key[32];
    memset(new_key, 0xA5, sizeof new_key);
    ck_assert_int_eq(keycard_change_admin(kc, admin_key, sizeof admin_key, new_key, 20, &t),
                     KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(keycard_change_admin(kc, admin_key, sizeof admin_key, new_key,
                                          sizeof new_key, &t),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, &t),
                     KEYCARD_ERR_WRONG_PIN);
    ck_assert_int_eq(keycard_verify_admin(kc, new_key, sizeof new_key, &t), KEYCARD_OK);
    keycard_close(kc);
}
END_TEST

START_TEST(test_holder_info)
{
    keycard *kc = open_card();
    provision(kc, NULL);
    keycard_holder h;
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_holder_info(kc, &h), KEYCARD_OK);
    ck_assert_str_eq(h.name, HOLDER_NAME);
    ck_assert_str_eq(h.number, HOLDER_NUMBER);
    keycard_close(kc);
}
END_TEST

START_TEST(test_identity_check)
{
    keycard *kc = open_card();
    keycard_identity prov, id;
    provision(kc, &prov);
    size_t pl, ol;
    const uint8_t *pub = read_file("examples/profiles/demo-issuer.pub.pem", &pl);
    const uint8_t *other = read_file("tests/data/other-issuer.pub.pem", &ol);
    ck_assert_int_eq(keycard_identity_check(kc, pub, pl, &id), KEYCARD_ERR_NOT_VERIFIED);
    unlock(kc);
    memset(&id, 0, sizeof id);
    ck_assert_int_eq(keycard_identity_check(kc, pub, pl, &id), KEYCARD_OK);
    ck_assert_mem_eq(id.serial, prov.serial, 8);
    ck_assert_mem_eq(id.device_pub, prov.device_pub, 65);
    ck_assert_mem_eq(id.issuer_sig, prov.issuer_sig, 64);
    ck_assert_int_eq(keycard_identity_check(kc, pub, pl, NULL), KEYCARD_OK);
    /* The same key as a raw point. */
    uint8_t raw[65];
    ck_assert_int_eq(kcl_crypto_pub_raw(pub, pl, raw), KEYCARD_OK);
    ck_assert_int_eq(keycard_identity_check(kc, raw, sizeof raw, NULL), KEYCARD_OK);
    /* Another issuer's key: not genuine. */
    ck_assert_int_eq(keycard_identity_check(kc, other, ol, NULL), KEYCARD_ERR_NOT_GENUINE);
    raw[64] ^= 1; /* off the curve */
    ck_assert_int_eq(keycard_identity_check(kc, raw, sizeof raw, NULL), KEYCARD_ERR_KEY_FORMAT);
    ck_assert_int_eq(keycard_identity_check(kc, (const uint8_t *)"garbage", 7, NULL),
                     KEYCARD_ERR_KEY_FORMAT);
    keycard_close(kc);
}
END_TEST

START_TEST(test_identity_sign_errors)
{
    keycard_identity id;
    memset(&id, 0, sizeof id);
    size_t pl;
    const uint8_t *pub = read_file("examples/profiles/demo-issuer.pub.pem", &pl);
    ck_assert_int_eq(keycard_identity_sign(&id, pub, pl), KEYCARD_ERR_KEY_FORMAT);
    ck_assert_int_eq(keycard_identity_sign(&id, (const uint8_t *)"x", 1), KEYCARD_ERR_KEY_FORMAT);
    ck_assert_int_eq(keycard_identity_sign(NULL, pub, pl), KEYCARD_ERR_ARG);
    /* A signature verifies with the matching public key only. */
    size_t kl;
    const uint8_t *key = read_file("tests/data/other-issuer.key.pem", &kl);
    id.device_pub[0] = 0x04;
    ck_assert_int_eq(keycard_identity_sign(&id, key, kl), KEYCARD_OK);
}
END_TEST

START_TEST(test_audit)
{
    keycard *kc = open_card();
    provision(kc, NULL);
    keycard_audit_entry e[16];
    size_t n = 16;
    ck_assert_int_eq(keycard_audit_read(kc, 0, e, &n), KEYCARD_ERR_NOT_VERIFIED);
    unlock(kc);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, sizeof admin_key, NULL), KEYCARD_OK);
    n = 16;
    ck_assert_int_eq(keycard_audit_read(kc, 0, e, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(e[0].event, KEYCARD_AUDIT_PROVISIONED);
    ck_assert_str_eq(keycard_audit_event_name(e[0].event), "provisioned");
    ck_assert_uint_eq(e[1].event, KEYCARD_AUDIT_UNLOCK);
    ck_assert_uint_eq(e[1].len, strlen(HOLDER_NUMBER));
    ck_assert_mem_eq(e[1].data, HOLDER_NUMBER, strlen(HOLDER_NUMBER));
    ck_assert_uint_gt(e[1].seq, e[0].seq);
    /* Paging: one at a time from the next sequence number. */
    n = 1;
    ck_assert_int_eq(keycard_audit_read(kc, e[1].seq, e + 2, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(e[2].seq, e[1].seq);
    n = 4;
    ck_assert_int_eq(keycard_audit_read(kc, e[1].seq + 1, e, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 0);
    /* Many entries across several answers. */
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
                         KEYCARD_OK);
    keycard_audit_entry many[40];
    n = 40;
    ck_assert_int_eq(keycard_audit_read(kc, 0, many, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 22);
    for (size_t i = 1; i < n; i++)
        ck_assert_uint_gt(many[i].seq, many[i - 1].seq);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_uint_eq(st.audit_next, many[n - 1].seq + 1);
    keycard_close(kc);
}
END_TEST

START_TEST(test_abort_leaves_blank)
{
    keycard *kc = open_card();
    keycard_identity id;
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_ERR_CONDITIONS);
    put_cred(kc, KC_TAG_ISSUER_PIN, ISSUER_PIN, strlen(ISSUER_PIN));
    ck_assert_int_eq(keycard_provision_generate(kc, &id), KEYCARD_OK);
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.staging, 1);
    ck_assert_int_eq(keycard_provision_abort(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_abort(kc), KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_BLANK);
    ck_assert_int_eq(st.staging, 0);
    ck_assert_int_eq(st.tries_left[0], -1);
    /* A session dropped by closing the handle: blank as well. */
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    put_cred(kc, KC_TAG_HOLDER_PIN, HOLDER_PIN, strlen(HOLDER_PIN));
    keycard_close(kc);
    kc = open_card();
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_BLANK);
    ck_assert_int_eq(st.staging, 0);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)"x", 1),
                     KEYCARD_ERR_CONDITIONS);
    keycard_close(kc);
}
END_TEST

START_TEST(test_transmit_raw)
{
    keycard *kc = open_card();
    const uint8_t get_status[] = {0x00, 0xCA, 0xDF, 0x03, 0x00};
    uint8_t resp[300];
    size_t rl = sizeof resp;
    ck_assert_int_eq(keycard_transmit(kc, get_status, sizeof get_status, resp, &rl), KEYCARD_OK);
    ck_assert_uint_ge(rl, 2);
    ck_assert_uint_eq(resp[rl - 2], 0x90);
    ck_assert_uint_eq(resp[rl - 1], 0x00);
    ck_assert_uint_eq(resp[0], KC_ST_TAG_SERIAL);
    size_t small = 4;
    ck_assert_int_eq(keycard_transmit(kc, get_status, sizeof get_status, resp, &small),
                     KEYCARD_ERR_BUFFER);
    const uint8_t bad_ins[] = {0x00, 0x02, 0x00, 0x00};
    rl = sizeof resp;
    ck_assert_int_eq(keycard_transmit(kc, bad_ins, sizeof bad_ins, resp, &rl), KEYCARD_OK);
    ck_assert_uint_eq(rl, 2);
    ck_assert_uint_eq(resp[0] << 8 | resp[1], KC_SW_INS_NOT_SUPPORTED);
    keycard_close(kc);
}
END_TEST

/*
 * keycard_hold / keycard_release nest; operations work inside a hold; a
 * release without a hold is refused; the sim card never leaves, so
 * keycard_present says OK.
 */
START_TEST(test_hold_present)
{
    keycard *kc = open_card();
    keycard_status st;
    ck_assert_int_eq(keycard_release(kc), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_hold(NULL), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_release(NULL), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_present(NULL), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_present(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_hold(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_hold(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_BLANK);
    ck_assert_int_eq(keycard_present(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_release(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(keycard_release(kc), KEYCARD_OK);
    ck_assert_int_eq(keycard_release(kc), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    keycard_close(kc);

    /* The same rules for a target card handle. */
    keycard_target *t = NULL;
    char tw[160];
    snprintf(tw, sizeof tw, "sim:%s/target.img", tmpdir);
    ck_assert_int_eq(keycard_target_open(&t, tw), KEYCARD_OK);
    keycard_target_info info;
    ck_assert_int_eq(keycard_target_release(t), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_target_hold(t), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_present(t), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_info_read(t, &info), KEYCARD_OK);
    ck_assert_int_eq(info.state, KEYCARD_TARGET_VIRGIN);
    ck_assert_int_eq(keycard_target_release(t), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_release(t), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_target_hold(NULL), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_target_present(NULL), KEYCARD_ERR_ARG);
    keycard_target_close(t);
    snprintf(tw, sizeof tw, "%s/target.img", tmpdir);
    unlink(tw);
}
END_TEST

START_TEST(test_strerror)
{
    /* Every code has its own message. */
    for (int a = 0; a >= KEYCARD_ERR_IO; a--) {
        const char *m = keycard_strerror((keycard_rc)a);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_gt(strlen(m), 3);
        ck_assert_str_ne(m, "unknown error");
        for (int b = 0; b > a; b--)
            ck_assert_msg(strcmp(m, keycard_strerror((keycard_rc)b)) != 0, "rc %d and %d", a, b);
    }
    ck_assert_str_eq(keycard_strerror((keycard_rc)-999), "unknown error");
    ck_assert_str_eq(keycard_strerror((keycard_rc)5), "unknown error");
    static const char *const names[] = {"unlock", "provisioned", "pin-blocked", "unblocked",
                                        "pin-changed"};
    for (int e = 1; e <= 5; e++)
        ck_assert_str_eq(keycard_audit_event_name((uint8_t)e), names[e - 1]);
    ck_assert_str_eq(keycard_audit_event_name(0), "unknown");
    ck_assert_str_eq(keycard_audit_event_name(0xFF), "unknown");
}
END_TEST

static Suite *lib_sim_suite(void)
{
    Suite *s = suite_create("lib_sim");
    TCase *tc = tcase_create("sim");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_open_blank);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_schemes);
    tcase_add_test(tc, test_trace_redacts);
    tcase_add_test(tc, test_open_options_object);
    tcase_add_test(tc, test_param_builders);
    tcase_add_test(tc, test_key_generate);
    tcase_add_test(tc, test_key_components);
    tcase_add_test(tc, test_provision_and_persist);
    tcase_add_test(tc, test_damaged_image_refused);
    tcase_add_test(tc, test_verify_tries);
    tcase_add_loop_test(tc, test_argument_checks, 0, sizeof bad_pins / sizeof bad_pins[0]);
    tcase_add_test(tc, test_blocked_and_unblock);
    tcase_add_test(tc, test_change);
    tcase_add_test(tc, test_holder_info);
    tcase_add_test(tc, test_identity_check);
    tcase_add_test(tc, test_identity_sign_errors);
    tcase_add_test(tc, test_audit);
    tcase_add_test(tc, test_abort_leaves_blank);
    tcase_add_test(tc, test_transmit_raw);
    tcase_add_test(tc, test_hold_present);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lib_sim_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
