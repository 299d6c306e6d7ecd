/*
 * test_lib_issue.c - issuance through libkeycard's public API over the "sim"
 * transport: a key card provisioned with numbered keys and templates, a
 * target card manufactured in a second flash image, then BEGIN / WRAP /
 * envelopes to the target / END for each seeding way, checking the result,
 * the audit receipt and the target's state and files afterwards. Also checks
 * that the host KDF (libkeycard/crypto.c) agrees with the firmware's
 * (keycard/kc_envelope.c) and that KCVs match. Runs from the top of the tree.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc_envelope.h"
#include "keycard.h"
#include "keycard_proto.h"

#define ISSUER_PIN "13579135"
#define HOLDER_PIN "246810"
static const uint8_t admin_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t serial[8] = {0x54, 0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};

/* Keys of the test profile: 1 diversified+static, 2 common (way 1), 3 inject. */
static const uint8_t key1[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
static uint8_t key2[32];
static const uint8_t key3[16] = {0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
                                 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F};

static char tmpdir[64];
static char kc_where[128], tg_where[128];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/kc-test-issue-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(kc_where, sizeof kc_where, "sim:%s/kc.img", tmpdir);
    snprintf(tg_where, sizeof tg_where, "sim:%s/tg.img", tmpdir);
    for (int i = 0; i < 32; i++)
        key2[i] = (uint8_t)(0x50 + i);
}

static void teardown(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/kc.img", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/tg.img", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

/* ---- building the provisioning data ------------------------------------------ */

typedef struct buf {
    uint8_t b[512];
    size_t n;
} buf;

static void b8(buf *b, unsigned v)
{
    ck_assert_uint_lt(b->n, sizeof b->b);
    b->b[b->n++] = (uint8_t)v;
}
static void b16(buf *b, unsigned v)
{
    b8(b, v >> 8);
    b8(b, v & 0xFF);
}
static void b32(buf *b, unsigned long v)
{
    b16(b, (unsigned)(v >> 16));
    b16(b, (unsigned)(v & 0xFFFF));
}
static void bmem(buf *b, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b8(b, ((const uint8_t *)p)[i]);
}

/* Template header: version, CLA INS P1 P2, allowed keys, label, item count. */
static void tpl_head(buf *b, uint8_t ins, uint8_t p1, const uint8_t *keys, size_t nk,
                     const char *label, unsigned items)
{
    b->n = 0;
    b8(b, 0x01);
    b8(b, 0x80);
    b8(b, ins);
    b8(b, p1);
    b8(b, 0x00);
    b8(b, (unsigned)nk);
    bmem(b, keys, nk);
    b8(b, (unsigned)strlen(label));
    bmem(b, label, strlen(label));
    b8(b, items);
}
static void item_int(buf *b, unsigned size, unsigned long max)
{
    b8(b, 0x02);
    b8(b, size);
    b32(b, 0);
    b32(b, max);
}
static void item_bytes(buf *b, unsigned mn, unsigned mx, int prefix)
{
    b8(b, 0x03);
    b16(b, mn);
    b16(b, mx);
    b8(b, (unsigned)prefix);
}
static void item_fixed(buf *b, uint8_t v)
{
    b8(b, 0x01);
    b8(b, 1);
    b8(b, v);
}

enum { T_FOLDER = 1, T_KEYFILE = 2, T_TFILE = 3, T_SETKEY = 8, T_WRITE = 11, T_LOCK_A = 13,
       T_LOCK_D = 16 };

static void put_key(keycard *kc, uint8_t n, uint8_t type, uint8_t flags, const char *label,
                    const uint8_t *v, size_t len)
{
    buf b = {{0}, 0};
    b8(&b, type);
    b8(&b, flags);
    b8(&b, (unsigned)strlen(label));
    bmem(&b, label, strlen(label));
    bmem(&b, v, len);
    keycard_rc rc = keycard_provision_put(kc, KEYCARD_TAG_KEY(n), b.b, b.n);
    ck_assert_msg(rc == KEYCARD_OK, "put key %u: %s", n, keycard_strerror(rc));
}

static void put_tpl(keycard *kc, uint8_t n, const buf *b)
{
    keycard_rc rc = keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(n), b->b, b->n);
    ck_assert_msg(rc == KEYCARD_OK, "put template %u: %s", n, keycard_strerror(rc));
}

static void put_cred(keycard *kc, uint16_t tag, const void *v, size_t n)
{
    uint8_t d[40];
    d[0] = 3;
    memcpy(d + 1, v, n);
    ck_assert_int_eq(keycard_provision_put(kc, tag, d, n + 1), KEYCARD_OK);
}

static keycard *provisioned_card(void)
{
    keycard *kc = NULL;
    /* No channel key on this card: plain APDUs by the loudly named insecure mode. */
    static const keycard_options plain = {KEYCARD_CHANNEL_INSECURE_PLAIN, NULL, 0};
    ck_assert_int_eq(keycard_open_ex(&kc, kc_where, &plain), KEYCARD_OK);
    FILE *f = fopen("examples/profiles/demo-issuer.key.pem", "rb");
    ck_assert_msg(f != NULL, "run from the top of the tree");
    static uint8_t pem[8192];
    size_t pl = fread(pem, 1, sizeof pem - 1, f);
    fclose(f);
    pem[pl++] = 0;
    ck_assert_int_eq(keycard_provision_begin(kc), KEYCARD_OK);
    put_cred(kc, KC_TAG_ISSUER_PIN, ISSUER_PIN, strlen(ISSUER_PIN));
    put_cred(kc, KC_TAG_HOLDER_PIN, HOLDER_PIN, strlen(HOLDER_PIN));
    put_cred(kc, KC_TAG_ADMIN_KEY, admin_key, sizeof admin_key);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)"Op", 2),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER, (const uint8_t *)"OP-1", 4),
                     KEYCARD_OK);
    put_key(kc, 1, KEYCARD_KEY_AES128, KEYCARD_KEYF_ENVELOPE | KEYCARD_KEYF_STATIC, "master",
            key1, 16);
    put_key(kc, 2, KEYCARD_KEY_AES256, KEYCARD_KEYF_ENVELOPE | KEYCARD_KEYF_COMMON, "common",
            key2, 32);
    put_key(kc, 3, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "inject", key3, 16);

    buf b;
    const uint8_t allow3[1] = {3};
    tpl_head(&b, 0xE0, 0x01, NULL, 0, "create folder", 6);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 1, 0xFF);
    item_int(&b, 1, 0xFF);
    item_bytes(&b, 1, 16, 1);
    put_tpl(kc, T_FOLDER, &b);
    tpl_head(&b, 0xE0, 0x02, NULL, 0, "create key file", 3);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 1, 0xFF);
    put_tpl(kc, T_KEYFILE, &b);
    tpl_head(&b, 0xE0, 0x03, NULL, 0, "create transparent file", 6);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 2, 0xFFFF);
    item_fixed(&b, 0x03);
    item_int(&b, 2, 1024);
    item_int(&b, 1, 0xFF);
    item_int(&b, 1, 0xFF);
    put_tpl(kc, T_TFILE, &b);
    tpl_head(&b, 0xD8, 0x04, allow3, 1, "set AES-128 key 4", 2);
    b.b[4] = 0x02; /* P2: AES-128 */
    item_int(&b, 2, 0xFFFF);
    b8(&b, 0x04);
    b8(&b, 0x01);
    put_tpl(kc, T_SETKEY, &b);
    tpl_head(&b, 0xD6, 0x00, NULL, 0, "write binary", 3);
    item_int(&b, 2, 0xFFFF);
    item_int(&b, 2, 1023);
    item_bytes(&b, 1, 100, 0);
    put_tpl(kc, T_WRITE, &b);
    tpl_head(&b, 0x1E, 0x01, NULL, 0, "lock (a)", 0);
    put_tpl(kc, T_LOCK_A, &b);
    tpl_head(&b, 0x1E, 0x04, NULL, 0, "lock (d)", 0);
    put_tpl(kc, T_LOCK_D, &b);

    keycard_identity id;
    ck_assert_int_eq(keycard_provision_generate(kc, &id), KEYCARD_OK);
    ck_assert_int_eq(keycard_identity_sign(&id, pem, pl), KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, id.issuer_sig, 64),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_provision_commit(kc), KEYCARD_OK);
    return kc;
}

static void unlock(keycard *kc)
{
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
}

/* A target manufactured with the card keys of keys 1 and 2, as kc-admin makes it. */
static keycard_target *manufactured_target(void)
{
    keycard_target *t = NULL;
    keycard_rc rc = keycard_target_open(&t, tg_where);
    ck_assert_msg(rc == KEYCARD_OK, "open target: %s", keycard_strerror(rc));
    keycard_target_info info;
    ck_assert_int_eq(keycard_target_info_read(t, &info), KEYCARD_OK);
    ck_assert_int_eq(info.state, KEYCARD_TARGET_VIRGIN);
    keycard_target_key k[2];
    memset(k, 0, sizeof k);
    k[0].number = 1;
    k[0].flags = KEYCARD_TARGET_KEYF_STATIC;
    k[0].len = 16;
    ck_assert_int_eq(keycard_diversify(key1, 16, serial, k[0].key), KEYCARD_OK);
    k[1].number = 2;
    k[1].len = 32;
    memcpy(k[1].key, key2, 32); /* common: the key itself */
    ck_assert_int_eq(keycard_target_manufacture(t, serial, k, 2), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_info_read(t, &info), KEYCARD_OK);
    ck_assert_int_eq(info.state, KEYCARD_TARGET_MANUFACTURED);
    ck_assert_mem_eq(info.serial, serial, 8);
    /* Manufacture is once only. */
    ck_assert_int_eq(keycard_target_manufacture(t, serial, k, 2), KEYCARD_ERR_CONDITIONS);
    return t;
}

/* ---- tests ------------------------------------------------------------------------- */

/* The host KDF and the firmware's agree, and both match the published vectors. */
START_TEST(test_diversify_agrees)
{
    static const struct {
        const char *master, *serial, *kcard;
    } v[] = {
        {"000102030405060708090a0b0c0d0e0f", "0102030405060708",
         "6238bf678187d9c621b55e367ef87242"},
        {"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
         "0102030405060708", "a72b0eef91764c0081e21ea2e11deed5785df8cf2c9c933b67f38237df9e3567"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t m[32], s[8], want[32], host[32], fw[32];
        size_t ml = strlen(v[i].master) / 2;
        for (size_t j = 0; j < ml; j++)
            sscanf(v[i].master + 2 * j, "%2hhx", &m[j]);
        for (size_t j = 0; j < 8; j++)
            sscanf(v[i].serial + 2 * j, "%2hhx", &s[j]);
        for (size_t j = 0; j < ml; j++)
            sscanf(v[i].kcard + 2 * j, "%2hhx", &want[j]);
        ck_assert_int_eq(keycard_diversify(m, ml, s, host), KEYCARD_OK);
        ck_assert_int_eq(kc_env_diversify(m, ml, s, fw), 0);
        ck_assert_mem_eq(host, fw, ml);
        ck_assert_mem_eq(host, want, ml);
    }
    uint8_t out[16];
    ck_assert_int_eq(keycard_diversify(key1, 24, serial, out), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_diversify(key1, 16, NULL, out), KEYCARD_ERR_ARG);
}
END_TEST

/* The host's KCV is GlobalPlatform's; expected bytes from Python's cryptography package. */
START_TEST(test_kcv_known_answer)
{
    const uint8_t key[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                             0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
    const uint8_t want[3] = {0x50, 0x4A, 0x77};
    uint8_t kcv[3];
    ck_assert_int_eq(keycard_key_kcv(key, sizeof key, kcv), KEYCARD_OK);
    ck_assert_mem_eq(kcv, want, 3);
    ck_assert_int_eq(keycard_key_kcv(key, 15, kcv), KEYCARD_ERR_ARG);
}
END_TEST

START_TEST(test_directories)
{
    keycard *kc = provisioned_card();
    keycard_key_info keys[8];
    size_t n = 8;
    /* Directories need the admin key. */
    ck_assert_int_eq(keycard_keys_list(kc, keys, &n), KEYCARD_ERR_NOT_VERIFIED);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, 16, NULL), KEYCARD_OK);
    n = 8;
    ck_assert_int_eq(keycard_keys_list(kc, keys, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 3);
    const uint8_t *vals[3] = {key1, key2, key3};
    const size_t lens[3] = {16, 32, 16};
    for (size_t i = 0; i < 3; i++) {
        uint8_t kcv[3];
        ck_assert_uint_eq(keys[i].number, i + 1);
        ck_assert_int_eq(keycard_key_kcv(vals[i], lens[i], kcv), KEYCARD_OK);
        ck_assert_mem_eq(keys[i].kcv, kcv, 3);
    }
    ck_assert_uint_eq(keys[1].flags, KEYCARD_KEYF_ENVELOPE | KEYCARD_KEYF_COMMON);
    ck_assert_uint_eq(keys[1].type, KEYCARD_KEY_AES256);
    ck_assert_str_eq(keys[0].label, "master");
    n = 2;
    ck_assert_int_eq(keycard_keys_list(kc, keys, &n), KEYCARD_ERR_BUFFER);
    keycard_template_info t[16];
    n = 16;
    ck_assert_int_eq(keycard_templates_list(kc, t, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 7);
    ck_assert_uint_eq(t[0].number, T_FOLDER);
    ck_assert_str_eq(t[0].label, "create folder");
    ck_assert_uint_eq(t[6].number, T_LOCK_D);
    keycard_close(kc);
}
END_TEST

/* Parameters of the standard steps (see the templates above). */
static const uint8_t p_folder[] = {0x10, 0x00, 0x3F, 0x00, 0x02, 0x00, 0x00, 0x00,
                                   0x04, 'S',  'H',  'O',  'P'};
static const uint8_t p_keyfile[] = {0x10, 0x02, 0x10, 0x00, 0x00};
static const uint8_t p_tfile[] = {0x10, 0x01, 0x10, 0x00, 0x00, 0x20, 0x00, 0x00};
static const uint8_t p_setkey[] = {0x10, 0x02, 0x03};
static const uint8_t p_write[] = {0x10, 0x01, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};

/* One whole issuance; returns END's result (END_MAC_FLIP spoils the MAC; END_CUT: no END, -1). */
/* How issue() ends the session: END with the target's MAC, with a flipped MAC, or not at all. */
enum { END_OK, END_MAC_FLIP, END_CUT };

static int issue(keycard *kc, keycard_target *t, keycard_issue_way way, uint8_t key_no,
                 uint8_t lock_tpl, int how)
{
    keycard_issue_nonces nonces;
    keycard_rc rc;
    ck_assert_int_eq(keycard_target_issue_begin(t, way, key_no, &nonces), KEYCARD_OK);
    if (way == KEYCARD_WAY_STATIC)
        ck_assert_uint_ge(nonces.first_ctr, 1);
    rc = keycard_issue_open(kc, way, serial, key_no, 128, &nonces);
    ck_assert_msg(rc == KEYCARD_OK, "issue open: %s", keycard_strerror(rc));
    ck_assert_int_eq(keycard_target_issue_bind(t, &nonces), KEYCARD_OK);
    keycard_issue_nonces_wipe(&nonces);

    /* A step outside its template's schema: refused, nothing produced. */
    static uint8_t out[8192];
    size_t ol = sizeof out;
    const uint8_t bad[] = {0x10, 0x01, 0x00, 0x00};
    keycard_step badstep = {T_WRITE, bad, sizeof bad};
    ck_assert_int_eq(keycard_issue_wrap(kc, &badstep, 1, out, &ol), KEYCARD_ERR_WRONG_DATA);

    keycard_step steps[] = {
        {T_FOLDER, p_folder, sizeof p_folder}, {T_KEYFILE, p_keyfile, sizeof p_keyfile},
        {T_TFILE, p_tfile, sizeof p_tfile},    {T_SETKEY, p_setkey, sizeof p_setkey},
        {T_WRITE, p_write, sizeof p_write},    {lock_tpl, NULL, 0},
    };
    size_t ns = sizeof steps / sizeof steps[0];
    ol = sizeof out;
    rc = keycard_issue_wrap(kc, steps, ns, out, &ol);
    ck_assert_msg(rc == KEYCARD_OK, "wrap: %s", keycard_strerror(rc));

    size_t off = 0, k = 0, first_len = 0, envs = 0;
    const uint8_t *apdu;
    size_t al;
    uint16_t sws[8];
    uint8_t mac[16];
    while ((way & KEYCARD_ISSUE_PACKED) && keycard_issue_next(out, ol, &off, &apdu, &al) == KEYCARD_OK) {
        /* Packed: several steps per envelope, one length, the answers one per step. */
        if (envs++ == 0)
            first_len = al;
        ck_assert_uint_eq(al, first_len);
        ck_assert_ptr_null(memmem(apdu, al, "SHOP", 4));
        ck_assert_ptr_null(memmem(apdu, al, "hello", 5));
        size_t n = sizeof sws / sizeof sws[0] - k, dl = sizeof mac;
        rc = keycard_target_envelope_packed(t, apdu, al, sws + k, &n, mac, &dl);
        ck_assert_msg(rc == KEYCARD_OK, "packed envelope %zu: %s", envs, keycard_strerror(rc));
        for (size_t j = 0; j < n; j++)
            ck_assert_msg(sws[k + j] == 0x9000, "step %zu: inner SW %04X", k + j, sws[k + j]);
        k += n;
        ck_assert_uint_eq(dl, k == ns ? 16 : 0);
    }
    if (way & KEYCARD_ISSUE_PACKED)
        ck_assert_uint_lt(envs, ns); /* fewer envelopes than steps */
    while (!(way & KEYCARD_ISSUE_PACKED) && keycard_issue_next(out, ol, &off, &apdu, &al) == KEYCARD_OK) {
        /* Every envelope of a session has one length, and hides its command. */
        if (k == 0)
            first_len = al;
        ck_assert_uint_eq(al, first_len);
        ck_assert_uint_eq(apdu[0], 0x84);
        ck_assert_uint_eq(apdu[1], 0xC2);
        ck_assert_ptr_null(memmem(apdu, al, "SHOP", 4));
        ck_assert_ptr_null(memmem(apdu, al, "hello", 5));
        uint8_t data[256];
        size_t dl = sizeof data;
        uint8_t rmac[16];
        rc = keycard_target_envelope(t, apdu, al, &sws[k], data, &dl, rmac);
        ck_assert_msg(rc == KEYCARD_OK, "envelope %zu: %s", k, keycard_strerror(rc));
        ck_assert_msg(sws[k] == 0x9000, "envelope %zu: inner SW %04X", k, sws[k]);
        if (k == ns - 1) {
            ck_assert_uint_eq(dl, 16);
            memcpy(mac, data, 16);
        }
        k++;
    }
    ck_assert_uint_eq(k, ns);
    /* Replay of the first envelope in the same session: refused. */
    off = 0;
    ck_assert_int_eq(keycard_issue_next(out, ol, &off, &apdu, &al), KEYCARD_OK);
    uint16_t sw;
    size_t zl = 0;
    rc = keycard_target_envelope(t, apdu, al, &sw, NULL, &zl, NULL);
    ck_assert(rc == KEYCARD_ERR_CONDITIONS || rc == KEYCARD_ERR_ENVELOPE);

    if (how == END_CUT)
        return -1; /* the station dies here: the target is locked, no END */
    if (how == END_MAC_FLIP)
        mac[0] ^= 0x01;
    int result = -1;
    rc = keycard_issue_end(kc, sws, k, mac, &result);
    ck_assert_msg(rc == KEYCARD_OK, "end: %s", keycard_strerror(rc));
    return result;
}

/* The last audit entry. */
static keycard_audit_entry last_entry(keycard *kc)
{
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    ck_assert_int_eq(keycard_verify_admin(kc, admin_key, 16, NULL), KEYCARD_OK);
    keycard_audit_entry e[1];
    size_t n = 1;
    ck_assert_int_eq(keycard_audit_read(kc, st.audit_next - 1, e, &n), KEYCARD_OK);
    ck_assert_uint_eq(n, 1);
    return e[0];
}

static const struct {
    keycard_issue_way way;
    uint8_t key_no;
    uint8_t lock_tpl;
    unsigned lock_bit;
    int common;
} ways[] = {
    {KEYCARD_WAY_TARGET_SEED, 1, T_LOCK_D, KEYCARD_LOCK_EXPLICIT, 0},
    {KEYCARD_WAY_PREVIOUS_RANDOM, 1, T_LOCK_A, KEYCARD_LOCK_KEY, 0},
    {KEYCARD_WAY_PREVIOUS_RANDOM, 2, T_LOCK_D, KEYCARD_LOCK_EXPLICIT, 1},
    {KEYCARD_WAY_STATIC, 1, T_LOCK_D, KEYCARD_LOCK_EXPLICIT, 0},
    /* packed sessions: several steps per envelope */
    {KEYCARD_WAY_TARGET_SEED | KEYCARD_ISSUE_PACKED, 1, T_LOCK_D, KEYCARD_LOCK_EXPLICIT, 0},
    {KEYCARD_WAY_PREVIOUS_RANDOM | KEYCARD_ISSUE_PACKED, 1, T_LOCK_A, KEYCARD_LOCK_KEY, 0},
    {KEYCARD_WAY_STATIC | KEYCARD_ISSUE_PACKED, 1, T_LOCK_D, KEYCARD_LOCK_EXPLICIT, 0},
};

START_TEST(test_issue_ways)
{
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    unlock(kc);
    int result = issue(kc, t, ways[_i].way, ways[_i].key_no, ways[_i].lock_tpl, END_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_COMPLETED);

    keycard_target_info info;
    ck_assert_int_eq(keycard_target_info_read(t, &info), KEYCARD_OK);
    ck_assert_int_eq(info.state, KEYCARD_TARGET_ISSUED);
    ck_assert_uint_eq(info.locks & ways[_i].lock_bit, ways[_i].lock_bit);
    /* Locked: a new session is refused. */
    keycard_issue_nonces nn;
    ck_assert_int_eq(keycard_target_issue_begin(t, KEYCARD_WAY_TARGET_SEED, ways[_i].key_no, &nn),
                     KEYCARD_ERR_CONDITIONS);

    /* What was written is there, read with operational commands. */
    uint8_t r[64];
    size_t rl = sizeof r;
    const uint8_t sel[] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x10, 0x01};
    ck_assert_int_eq(keycard_target_transmit(t, sel, sizeof sel, r, &rl), KEYCARD_OK);
    ck_assert_uint_eq(rl, 2);
    ck_assert_uint_eq(r[0], 0x90);
    const uint8_t rb[] = {0x00, 0xB0, 0x00, 0x00, 0x05};
    rl = sizeof r;
    ck_assert_int_eq(keycard_target_transmit(t, rb, sizeof rb, r, &rl), KEYCARD_OK);
    ck_assert_uint_eq(rl, 7);
    ck_assert_mem_eq(r, "hello\x90\x00", 7);

    /* The receipt: serial, key, way, common flag, result, steps, templates. */
    keycard_audit_entry e = last_entry(kc);
    ck_assert_uint_eq(e.event, KEYCARD_AUDIT_ISSUE_RECEIPT);
    ck_assert_str_eq(keycard_audit_event_name(e.event), "issue-receipt");
    ck_assert_uint_ge(e.len, KEYCARD_AUDIT_RECEIPT_MAC_OFF + 16 + 6);
    ck_assert_mem_eq(e.data, serial, 8);
    ck_assert_uint_eq(e.data[8], ways[_i].key_no);
    ck_assert_uint_eq(e.data[9], ways[_i].way & ~KEYCARD_ISSUE_PACKED);
    ck_assert_uint_eq(e.data[10] & 1, (unsigned)ways[_i].common);
    ck_assert_uint_eq(e.data[11], KEYCARD_ISSUE_COMPLETED);
    ck_assert_uint_eq(e.data[12], 6);
    /* the lock bound into the completion MAC, then the templates */
    ck_assert_uint_eq(e.data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF], ways[_i].lock_tpl == T_LOCK_A ? 1 : 4);
    ck_assert_uint_eq(e.data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF + 1], 0);
    ck_assert_uint_eq(e.data[31], T_FOLDER);
    ck_assert_uint_eq(e.data[36], ways[_i].lock_tpl);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

START_TEST(test_mac_mismatch_and_abort)
{
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    unlock(kc);
    ck_assert_int_eq(issue(kc, t, KEYCARD_WAY_TARGET_SEED, 1, T_LOCK_D, END_MAC_FLIP),
                     KEYCARD_ISSUE_MAC_MISMATCH);
    keycard_audit_entry e = last_entry(kc);
    ck_assert_uint_eq(e.data[11], KEYCARD_ISSUE_MAC_MISMATCH);

    /* Abort: a session begun and ended without a MAC. */
    unlock(kc);
    keycard_issue_nonces nn = {{0}, 0, {0}, {0}};
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_PREVIOUS_RANDOM, serial, 1, 64, &nn),
                     KEYCARD_OK);
    int result = -1;
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_ABORTED);
    /* No session any more. */
    uint8_t out[512];
    size_t ol = sizeof out;
    keycard_step s = {T_LOCK_D, NULL, 0};
    ck_assert_int_eq(keycard_issue_wrap(kc, &s, 1, out, &ol), KEYCARD_ERR_CONDITIONS);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

/* The key card as after a reset or power cut: the RAM session is gone, the flash stays. */
static keycard *key_card_restarted(keycard *kc)
{
    static const keycard_options plain = {KEYCARD_CHANNEL_INSECURE_PLAIN, NULL, 0};
    keycard_close(kc);
    kc = NULL;
    ck_assert_int_eq(keycard_open_ex(&kc, kc_where, &plain), KEYCARD_OK);
    unlock(kc);
    return kc;
}

static uint32_t audit_next(keycard *kc)
{
    keycard_status st;
    ck_assert_int_eq(keycard_status_read(kc, &st), KEYCARD_OK);
    return st.audit_next;
}

/*
 * The station dies between the lock and END: the next run reads the target's
 * completion and the key card, which kept the session's open mark, checks it
 * and writes the receipt late, once; the attacker's variants change nothing.
 */
START_TEST(test_late_end)
{
    static const uint8_t other[8] = {0x54, 0x47, 0, 0, 0, 0, 0, 0x02};
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    keycard_completion c;
    int result = -1;
    unlock(kc);
    ck_assert_int_eq(issue(kc, t, ways[_i].way, ways[_i].key_no, ways[_i].lock_tpl, END_CUT), -1);
    kc = key_card_restarted(kc);
    uint32_t next = audit_next(kc);

    ck_assert_int_eq(keycard_target_completion(t, &c), KEYCARD_OK);
    ck_assert_uint_eq(c.steps, 6);
    ck_assert_uint_eq(c.lock_way, ways[_i].lock_tpl == T_LOCK_A ? 1 : 4);
    ck_assert_uint_eq(c.lock_len, 0);
    /* Asking only, or for another serial: nothing on record, nothing written. */
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, NULL, NULL, &result),
                     KEYCARD_ERR_NOT_FOUND);
    ck_assert_int_eq(keycard_issue_end_late(kc, other, &c, NULL, &result),
                     KEYCARD_ERR_NOT_FOUND);
    ck_assert_uint_eq(audit_next(kc), next);
    /* The target's completion: verified, the receipt written late. */
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &c, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_COMPLETED);
    keycard_audit_entry e = last_entry(kc);
    ck_assert_uint_eq(e.seq, next);
    ck_assert_uint_eq(e.event, KEYCARD_AUDIT_ISSUE_RECEIPT);
    ck_assert_mem_eq(e.data, serial, 8);
    ck_assert_uint_eq(e.data[9], ways[_i].way & ~KEYCARD_ISSUE_PACKED);
    ck_assert_uint_eq(e.data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_LATE, KEYCARD_AUDIT_RECEIPT_FLAG_LATE);
    ck_assert_uint_eq(e.data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_UNCLEAN, 0);
    ck_assert_uint_eq(e.data[11], KEYCARD_ISSUE_COMPLETED);
    ck_assert_uint_eq(e.data[12], 6);
    ck_assert_mem_eq(e.data + KEYCARD_AUDIT_RECEIPT_MAC_OFF, c.mac, 16);
    ck_assert_uint_eq(e.data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF], c.lock_way);
    /* Once: again, it is on record and nothing more is written. */
    unlock(kc);
    next = audit_next(kc);
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &c, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_ON_RECORD);
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, NULL, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_ON_RECORD);
    ck_assert_uint_eq(audit_next(kc), next);
    /* A later session for the same serial (the locked target refuses it) ends aborted: */
    keycard_issue_nonces nn = {{0}, 0, {0}, {0}};
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 64, &nn),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_ABORTED);
    /* the completed receipt before it still vouches for the card. */
    unlock(kc);
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &c, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_ON_RECORD);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

/* A forged or altered completion gets a MAC-mismatch receipt, never "completed". */
START_TEST(test_late_end_forged)
{
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    keycard_completion c;
    int result = -1;
    unlock(kc);
    ck_assert_int_eq(issue(kc, t, KEYCARD_WAY_STATIC, 1, T_LOCK_D, END_CUT), -1);
    kc = key_card_restarted(kc);
    ck_assert_int_eq(keycard_target_completion(t, &c), KEYCARD_OK);
    keycard_completion f = c;
    static const uint16_t other_sws[6] = {0x9000, 0x9000, 0x9000, 0x6A82, 0x9000, 0x9000};
    const uint16_t *sws = NULL;
    switch (_i) {
    case 0: f.mac[15] ^= 0x80; break;
    case 1: f.steps = 5; break;               /* fewer steps than the target ran */
    case 2: f.lock_way = 1; break;            /* another lock than the one applied */
    case 3: f.lock_len = 1; f.lock_data[0] = 0; break;
    default: sws = other_sws; break;          /* inner SWs the target did not answer */
    }
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &f, sws, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_MAC_MISMATCH);
    keycard_audit_entry e = last_entry(kc);
    ck_assert_uint_eq(e.data[11], KEYCARD_ISSUE_MAC_MISMATCH);
    ck_assert_uint_eq(e.data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_LATE, KEYCARD_AUDIT_RECEIPT_FLAG_LATE);
    /* The session is ended: the true completion cannot turn it into "completed" now. */
    unlock(kc);
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &c, NULL, &result),
                     KEYCARD_ERR_NOT_FOUND);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

/*
 * Sessions of one handle (one per target head): each keeps its own bucket;
 * a card in one session only; no session past KEYCARD_ISSUE_SESSIONS.
 */
START_TEST(test_session_select)
{
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    keycard_issue_nonces nn;
    size_t size;
    int result = -1;
    unlock(kc);
    ck_assert_int_eq(keycard_issue_session_select(kc, KEYCARD_ISSUE_SESSIONS), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_issue_session_select(NULL, 0), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_issue_session_select(kc, 2), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_issue_begin(t, KEYCARD_WAY_TARGET_SEED, 1, &nn), KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 256, &nn),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_wrap_size(kc, 1, &size), KEYCARD_OK);
    ck_assert_uint_eq(size, 2 + 256 + 29);
    /* Session 0 has nothing open; the same card cannot be opened there too. */
    ck_assert_int_eq(keycard_issue_session_select(kc, 0), KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_wrap_size(kc, 1, &size), KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 128, &nn),
                     KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_ERR_CONDITIONS);
    /* Session 2 ends: an aborted receipt for the card, from session 2's mark. */
    ck_assert_int_eq(keycard_issue_session_select(kc, 2), KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    ck_assert_int_eq(result, KEYCARD_ISSUE_ABORTED);
    keycard_audit_entry e = last_entry(kc);
    ck_assert_mem_eq(e.data, serial, 8);
    keycard_issue_nonces_wipe(&nn);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

/* The next BEGIN closes the cut session (aborted, unclean): no late END after it. */
START_TEST(test_late_end_after_begin)
{
    static const uint8_t other[8] = {0x54, 0x47, 0, 0, 0, 0, 0, 0x02};
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    keycard_completion c;
    keycard_issue_nonces nn = {{0}, 0, {0}, {0}};
    int result = -1;
    unlock(kc);
    ck_assert_int_eq(issue(kc, t, KEYCARD_WAY_TARGET_SEED, 1, T_LOCK_D, END_CUT), -1);
    kc = key_card_restarted(kc);
    ck_assert_int_eq(keycard_target_completion(t, &c), KEYCARD_OK);
    /*
     * Another card's session begins in the same session number: the cut
     * session's mark goes with its aborted receipt. Another card's live
     * session does not stop a late END (heads interleave), but there is no
     * mark left for it to use.
     */
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_PREVIOUS_RANDOM, other, 1, 64, &nn),
                     KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &c, NULL, &result),
                     KEYCARD_ERR_NOT_FOUND);
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    keycard_audit_entry e = last_entry(kc);
    ck_assert_mem_eq(e.data, other, 8);
    unlock(kc);
    ck_assert_int_eq(keycard_issue_end_late(kc, serial, &c, NULL, &result),
                     KEYCARD_ERR_NOT_FOUND);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

/* The profile checked before the first card: each refusal named, nothing written. */
START_TEST(test_issue_check)
{
    keycard *kc = provisioned_card();
    size_t bad = 99;
    int reason = -1;
    unlock(kc);
    uint32_t next = audit_next(kc);
    keycard_step good[] = {
        {T_FOLDER, p_folder, sizeof p_folder}, {T_KEYFILE, p_keyfile, sizeof p_keyfile},
        {T_TFILE, p_tfile, sizeof p_tfile},    {T_SETKEY, p_setkey, sizeof p_setkey},
        {T_WRITE, p_write, sizeof p_write},    {T_LOCK_D, NULL, 0},
    };
    size_t n = sizeof good / sizeof good[0];
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 1, 256, good, n, &bad,
                                         &reason), KEYCARD_OK);
    ck_assert_int_eq(reason, 0);
    /* the key: missing, or not for sessions (3 is INJECT only), or not STATIC for way 01 */
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 9, 256, good, n, &bad,
                                         &reason), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_NO_KEY);
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 3, 256, good, n, &bad,
                                         &reason), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_KEY_USE);
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_STATIC, 2, 256, good, n, &bad, &reason),
                     KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_KEY_USE);
    /* a step: an unknown template (step 3), parameters outside, the lock not last */
    keycard_step s[6];
    memcpy(s, good, sizeof s);
    s[2].template_no = 99;
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 1, 256, s, n, &bad,
                                         &reason), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_NO_TEMPLATE);
    ck_assert_uint_eq(bad, 2);
    memcpy(s, good, sizeof s);
    s[4].params_len = 2;
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 1, 256, s, n, &bad,
                                         &reason), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_PARAMS);
    ck_assert_uint_eq(bad, 4);
    memcpy(s, good, sizeof s);
    s[4] = good[5];
    s[5] = good[4];
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 1, 256, s, n, &bad,
                                         &reason), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_LOCK_NOT_LAST);
    ck_assert_uint_eq(bad, 4);
    /* Nothing was logged or written, and no session was opened by any of it. */
    ck_assert_uint_eq(audit_next(kc), next);
    uint8_t out[512];
    size_t ol = sizeof out;
    ck_assert_int_eq(keycard_issue_wrap(kc, good, 1, out, &ol), KEYCARD_ERR_CONDITIONS);
    /* A full audit log refuses every BEGIN: the check says so before the first card. */
    keycard_issue_nonces nn = {{0}, 0, {0}, {0}};
    int result, k;
    for (k = 0; k < 200 && keycard_issue_open(kc, KEYCARD_WAY_PREVIOUS_RANDOM, serial, 1, 64,
                                                &nn) == KEYCARD_OK; k++)
        ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    ck_assert_int_lt(k, 200);
    ck_assert_int_eq(keycard_issue_check(kc, KEYCARD_WAY_TARGET_SEED, 1, 256, good, n, &bad,
                                         &reason), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(reason, KEYCARD_CHECK_LOG_FULL);
    keycard_close(kc);
}
END_TEST

START_TEST(test_begin_errors)
{
    keycard *kc = provisioned_card();
    keycard_issue_nonces nn = {{0}, 1, {0}, {0}};
    uint8_t seed[16] = {0};
    /* PINs first. */
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 128, &nn),
                     KEYCARD_ERR_NOT_VERIFIED);
    unlock(kc);
    /* Unknown key, inject-only key, static without the STATIC flag, bad bucket. */
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 9, 128, &nn),
                     KEYCARD_ERR_NOT_FOUND);
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 3, 128, &nn),
                     KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_STATIC, serial, 2, 128, &nn),
                     KEYCARD_ERR_CONDITIONS);
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 100, &nn),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 128, NULL),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_issue_open(kc, (keycard_issue_way)2, serial, 1, 128, &nn),
                     KEYCARD_ERR_ARG);
    /* The protocol v1 calls say so. */
    ck_assert_int_eq(keycard_issue_begin(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 128, seed, 0,
                                         NULL),
                     KEYCARD_ERR_VERSION);
    ck_assert_ptr_nonnull(strstr(keycard_strerror(KEYCARD_ERR_VERSION), "v2"));
    /* Too small an output buffer: nothing is sent. */
    ck_assert_int_eq(keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, serial, 1, 128, &nn),
                     KEYCARD_OK);
    uint8_t out[100];
    size_t ol = sizeof out;
    keycard_step s = {T_LOCK_D, NULL, 0};
    ck_assert_int_eq(keycard_issue_wrap(kc, &s, 1, out, &ol), KEYCARD_ERR_BUFFER);
    keycard_close(kc);
}
END_TEST

/*
 * The attacker on the PC asks one card for a packed session and the other
 * for an unpacked one (to make the key card's envelopes mean something else
 * on the target): the option is in both session contexts, so the keys
 * differ and the first envelope is refused; the target's session is over.
 * Then the packed envelopes replayed into a new session: refused too.
 */
START_TEST(test_packed_mismatch)
{
    keycard *kc = provisioned_card();
    keycard_target *t = manufactured_target();
    static uint8_t out[8192];
    keycard_step steps[] = {{T_FOLDER, p_folder, sizeof p_folder},
                            {T_KEYFILE, p_keyfile, sizeof p_keyfile}};
    for (int target_packed = 0; target_packed <= 1; target_packed++) {
        keycard_issue_way tw = KEYCARD_WAY_TARGET_SEED | (target_packed ? KEYCARD_ISSUE_PACKED : 0);
        keycard_issue_way kw = KEYCARD_WAY_TARGET_SEED | (target_packed ? 0 : KEYCARD_ISSUE_PACKED);
        keycard_issue_nonces nonces;
        unlock(kc);
        ck_assert_int_eq(keycard_target_issue_begin(t, tw, 1, &nonces), KEYCARD_OK);
        ck_assert_int_eq(keycard_issue_open(kc, kw, serial, 1, 128, &nonces), KEYCARD_OK);
        ck_assert_int_eq(keycard_target_issue_bind(t, &nonces), KEYCARD_OK);
        size_t ol = sizeof out, off = 0, al, n = 4;
        const uint8_t *apdu;
        uint16_t sws[4];
        ck_assert_int_eq(keycard_issue_wrap(kc, steps, 2, out, &ol), KEYCARD_OK);
        ck_assert_int_eq(keycard_issue_next(out, ol, &off, &apdu, &al), KEYCARD_OK);
        keycard_rc rc = target_packed
                            ? keycard_target_envelope_packed(t, apdu, al, sws, &n, NULL, NULL)
                            : keycard_target_envelope(t, apdu, al, sws, NULL, NULL, NULL);
        ck_assert_int_eq(rc, KEYCARD_ERR_ENVELOPE);
        /* The session is over on the target: the next envelope has nothing to open it. */
        if (keycard_issue_next(out, ol, &off, &apdu, &al) == KEYCARD_OK)
            ck_assert_int_eq(keycard_target_envelope(t, apdu, al, sws, NULL, NULL, NULL),
                             KEYCARD_ERR_CONDITIONS);
        int result = -1;
        ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
        ck_assert_int_eq(result, KEYCARD_ISSUE_ABORTED);
    }
    /* Nothing was written: the card is still MANUFACTURED. */
    keycard_target_info info;
    ck_assert_int_eq(keycard_target_info_read(t, &info), KEYCARD_OK);
    ck_assert_int_eq(info.state, KEYCARD_TARGET_MANUFACTURED);

    /* A packed session's envelope replayed into the next packed session: refused. */
    keycard_issue_nonces nonces;
    unlock(kc);
    keycard_issue_way pw = KEYCARD_WAY_TARGET_SEED | KEYCARD_ISSUE_PACKED;
    ck_assert_int_eq(keycard_target_issue_begin(t, pw, 1, &nonces), KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_open(kc, pw, serial, 1, 128, &nonces), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_issue_bind(t, &nonces), KEYCARD_OK);
    size_t ol = sizeof out, off = 0, al, n = 4;
    const uint8_t *apdu;
    uint16_t sws[4];
    ck_assert_int_eq(keycard_issue_wrap(kc, steps, 2, out, &ol), KEYCARD_OK);
    ck_assert_uint_eq(ol, 2 + kc_env_apdu_len(128)); /* both steps in one envelope */
    ck_assert_int_eq(keycard_issue_next(out, ol, &off, &apdu, &al), KEYCARD_OK);
    uint8_t copy[KC_ENV_APDU_MAX];
    memcpy(copy, apdu, al);
    ck_assert_int_eq(keycard_target_envelope_packed(t, apdu, al, sws, &n, NULL, NULL), KEYCARD_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(sws[0], 0x9000);
    ck_assert_uint_eq(sws[1], 0x9000);
    /* The key card's END wants one status word per step: the envelope's count is refused. */
    int result = -1;
    uint8_t mac[16] = {0};
    ck_assert_int_eq(keycard_issue_end(kc, sws, 1, mac, &result), KEYCARD_ERR_WRONG_DATA);
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    unlock(kc);
    ck_assert_int_eq(keycard_target_issue_begin(t, pw, 1, &nonces), KEYCARD_OK);
    ck_assert_int_eq(keycard_issue_open(kc, pw, serial, 1, 128, &nonces), KEYCARD_OK);
    ck_assert_int_eq(keycard_target_issue_bind(t, &nonces), KEYCARD_OK);
    n = 4;
    ck_assert_int_eq(keycard_target_envelope_packed(t, copy, al, sws, &n, NULL, NULL),
                     KEYCARD_ERR_ENVELOPE);
    ck_assert_int_eq(keycard_issue_end(kc, NULL, 0, NULL, &result), KEYCARD_OK);
    keycard_target_close(t);
    keycard_close(kc);
}
END_TEST

START_TEST(test_issue_next)
{
    const uint8_t good[] = {0x00, 0x05, 0x84, 0xC2, 0x00, 0x00, 0x00};
    size_t off = 0, al;
    const uint8_t *a;
    ck_assert_int_eq(keycard_issue_next(good, sizeof good, &off, &a, &al), KEYCARD_OK);
    ck_assert_uint_eq(al, 5);
    ck_assert_ptr_eq(a, good + 2);
    ck_assert_int_eq(keycard_issue_next(good, sizeof good, &off, &a, &al),
                     KEYCARD_ERR_NOT_FOUND);
    off = 0;
    ck_assert_int_eq(keycard_issue_next(good, sizeof good - 1, &off, &a, &al),
                     KEYCARD_ERR_PROTOCOL);
    off = 0;
    ck_assert_int_eq(keycard_issue_next(good, 1, &off, &a, &al), KEYCARD_ERR_PROTOCOL);
}
END_TEST

START_TEST(test_target_open_errors)
{
    keycard_target *t = NULL;
    ck_assert_int_eq(keycard_target_open(&t, "sim:"), KEYCARD_ERR_ARG);
    ck_assert_int_eq(keycard_target_open(NULL, tg_where), KEYCARD_ERR_ARG);
    /* A key card image is no target card. */
    keycard *kc = provisioned_card();
    keycard_close(kc);
    ck_assert_int_ne(keycard_target_open(&t, kc_where), KEYCARD_OK);
    ck_assert_ptr_null(t);
    keycard_target_close(NULL);
    ck_assert_str_ne(keycard_strerror(KEYCARD_ERR_ENVELOPE), "unknown error");
}
END_TEST

static Suite *lib_issue_suite(void)
{
    Suite *s = suite_create("lib_issue");
    TCase *tc = tcase_create("issue");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_diversify_agrees);
    tcase_add_test(tc, test_kcv_known_answer);
    tcase_add_test(tc, test_directories);
    tcase_add_loop_test(tc, test_issue_ways, 0, sizeof ways / sizeof ways[0]);
    tcase_add_test(tc, test_packed_mismatch);
    tcase_add_test(tc, test_mac_mismatch_and_abort);
    tcase_add_loop_test(tc, test_late_end, 0, sizeof ways / sizeof ways[0]);
    tcase_add_loop_test(tc, test_late_end_forged, 0, 5);
    tcase_add_test(tc, test_late_end_after_begin);
    tcase_add_test(tc, test_session_select);
    tcase_add_test(tc, test_issue_check);
    tcase_add_test(tc, test_begin_errors);
    tcase_add_test(tc, test_issue_next);
    tcase_add_test(tc, test_target_open_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lib_issue_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
