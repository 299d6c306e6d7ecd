/*
 * scenario.c - the libkeycard API script of scenario.h. Every call's result
 * is ignored on purpose: the script goes on whatever the card answers, so a
 * fuzzer reaches every parser; only crashes and sanitizer reports matter.
 */
#include "scenario.h"

#include <string.h>

#include "keycard_proto.h"

const uint8_t sc_serial[8] = {0x54, 0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
const uint8_t sc_key1[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                             0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
const uint8_t sc_key2[32] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A,
                             0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65,
                             0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F};
static const uint8_t key3[16] = {0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
                                 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F};
static const uint8_t key4[32] = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
                                 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
                                 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F};
static const uint8_t admin_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#define ISSUER_PIN "13579135"
#define HOLDER_PIN "246810"

/* The templates of kc_test_card.h (KC_TEST_TPL1..5_HEX) in binary. */
static const uint8_t tpl1[] = {0x01, 0x80, 0xE0, 0x01, 0x00, 0x00, 0x06, 'f', 'o', 'l', 'd', 'e',
                               'r', 0x03, 0x02, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF,
                               0xFE, 0x01, 0x02, 0x3F, 0x00, 0x03, 0x00, 0x01, 0x00, 0x10, 0x01};
static const uint8_t tpl2[] = {0x01, 0x80, 0xD8, 0x01, 0x02, 0x01, 0x03, 0x07, 's', 'e', 't',
                               '-', 'k', 'e', 'y', 0x02, 0x01, 0x02, 0x01, 0x02, 0x04, 0x01};
static const uint8_t tpl3[] = {0x01, 0x80, 0xD6, 0x00, 0x00, 0x00, 0x05, 'w', 'r', 'i', 't',
                               'e', 0x03, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF,
                               0xFF, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                               0x03, 0x00, 0x01, 0x00, 0xC8, 0x00};
static const uint8_t tpl4[] = {0x01, 0x80, 0x1E, 0x04, 0x00, 0x00, 0x04, 'l', 'o', 'c', 'k', 0x00};
static const uint8_t tpl5[] = {0x01, 0x80, 0xD8, 0x02, 0x03, 0x00, 0x07, 'a', 'n',
                               'y', '-', 'k', 'e', 'y', 0x01, 0x04, 0x01};

/*
 * The scenario is a raw test client of a card without a channel key: it asks
 * for plain APDUs, secrets included, by the loudly named insecure mode.
 */
static int open_kc(sc_ctx *c)
{
    static const keycard_options plain = {KEYCARD_CHANNEL_INSECURE_PLAIN, NULL, 0};
    if (!c->kc && keycard_open_ex(&c->kc, "pcsc:kc", &plain) != KEYCARD_OK)
        c->kc = NULL;
    return c->kc != NULL;
}

static int open_tg(sc_ctx *c)
{
    if (!c->tg && keycard_target_open(&c->tg, "pcsc:tc") != KEYCARD_OK)
        c->tg = NULL;
    return c->tg != NULL;
}

static void put_key(keycard *kc, uint8_t n, uint8_t type, uint8_t flags, const char *label,
                    const uint8_t *v, size_t len)
{
    uint8_t b[3 + KEYCARD_LABEL_MAX + 32];
    size_t ll = strlen(label);
    b[0] = type;
    b[1] = flags;
    b[2] = (uint8_t)ll;
    memcpy(b + 3, label, ll);
    memcpy(b + 3 + ll, v, len);
    (void)keycard_provision_put(kc, KEYCARD_TAG_KEY(n), b, 3 + ll + len);
}

static void put_cred(keycard *kc, uint16_t tag, const void *v, size_t n)
{
    uint8_t d[40];
    d[0] = 3;
    memcpy(d + 1, v, n);
    (void)keycard_provision_put(kc, tag, d, n + 1);
}

static void provision(sc_ctx *c)
{
    if (!open_kc(c))
        return;
    keycard *kc = c->kc;
    (void)keycard_provision_begin(kc);
    put_cred(kc, KC_TAG_ISSUER_PIN, ISSUER_PIN, strlen(ISSUER_PIN));
    put_cred(kc, KC_TAG_HOLDER_PIN, HOLDER_PIN, strlen(HOLDER_PIN));
    put_cred(kc, KC_TAG_ADMIN_KEY, admin_key, sizeof admin_key);
    (void)keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)"Demo Operator", 13);
    (void)keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER, (const uint8_t *)"OP-0001", 7);
    put_key(kc, 1, KEYCARD_KEY_AES128, KEYCARD_KEYF_ENVELOPE | KEYCARD_KEYF_STATIC, "master",
            sc_key1, 16);
    put_key(kc, 2, KEYCARD_KEY_AES256, KEYCARD_KEYF_ENVELOPE | KEYCARD_KEYF_COMMON, "common",
            sc_key2, 32);
    put_key(kc, 3, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "inject", key3, 16);
    put_key(kc, 4, KEYCARD_KEY_AES256, KEYCARD_KEYF_INJECT, "inject256", key4, 32);
    (void)keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(1), tpl1, sizeof tpl1);
    (void)keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(2), tpl2, sizeof tpl2);
    (void)keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(3), tpl3, sizeof tpl3);
    (void)keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(4), tpl4, sizeof tpl4);
    (void)keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(5), tpl5, sizeof tpl5);
    keycard_identity id;
    memset(&id, 0, sizeof id);
    if (keycard_provision_generate(kc, &id) == KEYCARD_OK) {
        uint8_t tbs[2 + 8 + 2 + 65];
        tbs[0] = 0xC1;
        tbs[1] = 8;
        memcpy(tbs + 2, id.serial, 8);
        tbs[10] = 0xC2;
        tbs[11] = 65;
        memcpy(tbs + 12, id.device_pub, 65);
        uint8_t sig[64];
        memset(sig, 0, sizeof sig);
        if (c->sign)
            c->sign(tbs, sizeof tbs, sig);
        (void)keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, sig, 64);
    }
    (void)keycard_provision_commit(kc);
}

static void manufacture(sc_ctx *c)
{
    if (!open_tg(c))
        return;
    keycard_target_info info;
    (void)keycard_target_info_read(c->tg, &info);
    keycard_target_key k[2];
    memset(k, 0, sizeof k);
    k[0].number = 1;
    k[0].flags = KEYCARD_TARGET_KEYF_STATIC;
    k[0].len = 16;
    (void)keycard_diversify(sc_key1, 16, sc_serial, k[0].key);
    k[1].number = 2;
    k[1].len = 32;
    memcpy(k[1].key, sc_key2, 32);
    (void)keycard_target_manufacture(c->tg, sc_serial, k, 2);
}

static void unlock(keycard *kc)
{
    int tries = -1;
    (void)keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &tries);
    (void)keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &tries);
}

static void issue(sc_ctx *c, keycard_issue_way way, uint8_t key_no)
{
    if (!open_kc(c) || !open_tg(c))
        return;
    keycard *kc = c->kc;
    keycard_target *t = c->tg;
    unlock(kc);
    keycard_issue_nonces n;
    keycard_rc rc;
    memset(&n, 0, sizeof n);
    n.first_ctr = 1;
    (void)keycard_target_issue_begin(t, way, key_no, &n);
    rc = keycard_issue_open(kc, way, sc_serial, key_no, 128, &n);
    if (rc != KEYCARD_OK)
        return;
    (void)keycard_target_issue_bind(t, &n);
    static const uint8_t p_folder[] = {0x10, 0x01, 0x04, 'S', 'H', 'O', 'P'};
    static const uint8_t p_setkey[] = {0x03};
    static const uint8_t p_write[] = {0x10, 0x01, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t p_anykey[] = {0x04};
    keycard_step steps[] = {
        {1, p_folder, sizeof p_folder}, {2, p_setkey, sizeof p_setkey},
        {3, p_write, sizeof p_write},   {5, p_anykey, sizeof p_anykey},
        {4, NULL, 0},
    };
    size_t ns = sizeof steps / sizeof steps[0];
    static uint8_t out[8192];
    size_t ol = sizeof out;
    rc = keycard_issue_wrap(kc, steps, ns, out, &ol);
    if (rc != KEYCARD_OK) {
        int result;
        (void)keycard_issue_end(kc, NULL, 0, NULL, &result);
        return;
    }
    size_t off = 0, k = 0;
    const uint8_t *apdu;
    size_t al;
    uint16_t sws[KEYCARD_ISSUE_MAX_STEPS];
    uint8_t mac[16];
    memset(mac, 0, sizeof mac);
    while (k < KEYCARD_ISSUE_MAX_STEPS &&
           keycard_issue_next(out, ol, &off, &apdu, &al) == KEYCARD_OK) {
        uint8_t data[256];
        size_t dl = sizeof data;
        uint8_t rmac[16];
        sws[k] = 0;
        if (way & KEYCARD_ISSUE_PACKED) {
            /* Several steps per envelope: one status word each back. */
            size_t nk = KEYCARD_ISSUE_MAX_STEPS - k;
            if (keycard_target_envelope_packed(t, apdu, al, &sws[k], &nk, data, &dl) != KEYCARD_OK)
                nk = 1;
            else if (dl == 16 && k + nk == ns)
                memcpy(mac, data, 16);
            k += nk;
            continue;
        }
        if (keycard_target_envelope(t, apdu, al, &sws[k], data, &dl, rmac) == KEYCARD_OK &&
            dl == 16 && k == ns - 1)
            memcpy(mac, data, 16);
        k++;
    }
    int result = -1;
    (void)keycard_issue_end(kc, sws, k, mac, &result);
}

static void pins(keycard *kc)
{
    int tries = -1;
    (void)keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "00000000", &tries);
    (void)keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &tries);
    (void)keycard_change_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, "135790", &tries);
    (void)keycard_change_pin(kc, KEYCARD_PIN_HOLDER, "135790", HOLDER_PIN, &tries);
    (void)keycard_verify_admin(kc, admin_key, sizeof admin_key, &tries);
    (void)keycard_unblock_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN);
    (void)keycard_change_admin(kc, admin_key, sizeof admin_key, admin_key, sizeof admin_key,
                               &tries);
    (void)keycard_tries_left(kc, KEYCARD_PIN_HOLDER, &tries);
}

/* Versions, destruction, a 2-of-3 backup restored onto the same card, an export. */
static void key_lifecycle(keycard *kc)
{
    uint8_t kcv[3], id[KEYCARD_BACKUP_ID_LEN], sh[3][KEYCARD_BACKUP_SHARE_LEN];
    uint8_t blob[KEYCARD_WRAPPED_MAX];
    size_t bl = 0, n = 8;
    int tries;
    keycard_key_version v[8];
    keycard_channel_key to;
    (void)keycard_verify_admin(kc, admin_key, sizeof admin_key, &tries);
    (void)keycard_key_generate(kc, 9, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "fz", kcv);
    (void)keycard_key_generate(kc, 9, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "fz", kcv);
    if (keycard_key_versions(kc, v, &n) == KEYCARD_OK)
        for (size_t i = 0; i < n; i++)
            if (v[i].number == 9 && v[i].retired_version)
                (void)keycard_key_destroy(kc, 9, v[i].retired_version, v[i].retired_kcv);
    (void)keycard_backup_begin(kc, 2, 3, id);
    for (unsigned x = 1; x <= 3; x++)
        (void)keycard_backup_share(kc, x, sh[x - 1]);
    (void)keycard_backup_key(kc, 1, blob, sizeof blob, &bl);
    (void)keycard_backup_end(kc);
    (void)keycard_restore_share(kc, sh[0], sizeof sh[0]);
    (void)keycard_restore_share(kc, sh[2], sizeof sh[2]);
    if (bl)
        (void)keycard_restore_key(kc, blob, bl, kcv);
    (void)keycard_backup_end(kc);
    memset(&to, 0, sizeof to);
    memcpy(to.serial, sc_serial, sizeof to.serial);
    (void)keycard_key_export(kc, 1, &to, blob, sizeof blob, &bl);
}

void sc_step(sc_ctx *c, int step)
{
    int tries;
    switch (step) {
    case SC_PROVISION:
        provision(c);
        break;
    case SC_MANUFACTURE:
        manufacture(c);
        break;
    case SC_STATUS:
        if (open_kc(c)) {
            keycard_status st;
            (void)keycard_status_read(c->kc, &st);
            (void)keycard_tries_left(c->kc, KEYCARD_PIN_ISSUER, &tries);
            (void)keycard_tries_left(c->kc, KEYCARD_PIN_HOLDER, &tries);
            (void)keycard_tries_left(c->kc, KEYCARD_ADMIN_KEY, &tries);
        }
        break;
    case SC_UNLOCK:
        if (open_kc(c)) {
            unlock(c->kc);
            keycard_holder h;
            (void)keycard_holder_info(c->kc, &h);
            uint8_t pub[65];
            memset(pub, 0x04, sizeof pub);
            keycard_identity id;
            (void)keycard_identity_check(c->kc, pub, sizeof pub, &id);
        }
        break;
    case SC_AUDIT:
        if (open_kc(c)) {
            (void)keycard_verify_admin(c->kc, admin_key, sizeof admin_key, &tries);
            keycard_audit_entry e[16];
            size_t n = 16;
            (void)keycard_audit_read(c->kc, 0, e, &n);
        }
        break;
    case SC_DIRS:
        if (open_kc(c)) {
            (void)keycard_verify_admin(c->kc, admin_key, sizeof admin_key, &tries);
            keycard_key_info keys[8];
            size_t n = 8;
            (void)keycard_keys_list(c->kc, keys, &n);
            keycard_template_info tpls[8];
            n = 8;
            (void)keycard_templates_list(c->kc, tpls, &n);
        }
        break;
    case SC_TARGET_INFO:
        if (open_tg(c)) {
            keycard_target_info info;
            (void)keycard_target_info_read(c->tg, &info);
        }
        break;
    case SC_ISSUE_STATIC:
        issue(c, KEYCARD_WAY_STATIC, 1);
        break;
    case SC_ISSUE_TSEED:
        issue(c, KEYCARD_WAY_TARGET_SEED | KEYCARD_ISSUE_PACKED, 2); /* packed */
        break;
    case SC_ISSUE_PREV:
        issue(c, KEYCARD_WAY_PREVIOUS_RANDOM, 1);
        break;
    case SC_PINS:
        if (open_kc(c))
            pins(c->kc);
        break;
    case SC_RAW:
        if (open_kc(c)) {
            static const uint8_t st[] = {0x00, 0xCA, 0xDF, 0x03, 0x00};
            uint8_t r[300];
            size_t rl = sizeof r;
            (void)keycard_transmit(c->kc, st, sizeof st, r, &rl);
        }
        if (open_tg(c)) {
            static const uint8_t fl[] = {0x80, 0xCA, 0xDF, 0x11, 0x00};
            uint8_t r[300];
            size_t rl = sizeof r;
            (void)keycard_target_transmit(c->tg, fl, sizeof fl, r, &rl);
        }
        break;
    case SC_ABORT:
        if (open_kc(c)) {
            (void)keycard_provision_begin(c->kc);
            (void)keycard_provision_abort(c->kc);
        }
        break;
    case SC_KEYS:
        if (open_kc(c))
            key_lifecycle(c->kc);
        break;
    default:
        break;
    }
}

void sc_close(sc_ctx *c)
{
    keycard_close(c->kc);
    keycard_target_close(c->tg);
    c->kc = NULL;
    c->tg = NULL;
}

void sc_run(sc_ctx *c, uint32_t mask)
{
    for (int s = 0; s < SC_COUNT; s++) {
        if (!(mask & (1u << s)))
            continue;
        if (c->more && !c->more())
            break;
        sc_step(c, s);
    }
    sc_close(c);
}
