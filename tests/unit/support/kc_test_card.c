/*
 * kc_test_card.c - unit-test helper: a key card on RAM flash driven by raw
 * APDUs, demo provisioning, digests and a test issuer key (see kc_test_card.h).
 * Test code, so it may allocate and use mbedTLS directly.
 */
#include "kc_test_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>

#include "kc_store.h"

/* A fixed issuer private key for tests (any scalar below the P-256 order). */
static const uint8_t issuer_priv[32] = {
    0x3a, 0x51, 0x0c, 0x7e, 0x92, 0x44, 0x1d, 0xf0, 0x66, 0x2b, 0x8c, 0x13, 0xa7, 0x5e, 0x09, 0xd4,
    0x71, 0x38, 0xc2, 0x9f, 0x05, 0xe6, 0x4a, 0xbb, 0x17, 0x83, 0x2d, 0x60, 0xf9, 0x1c, 0x4e, 0x25,
};

static void die(const char *what)
{
    fprintf(stderr, "kc_test_card: %s\n", what);
    abort();
}

void kc_test_card_new(kc_test_card *t, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->mem = malloc(kc_keycard_card.flash_size);
    t->ctx = calloc(1, kc_keycard_card.ctx_size);
    if (t->mem == NULL || t->ctx == NULL)
        die("out of memory");
    memset(t->mem, 0xFF, kc_keycard_card.flash_size);
    if (kc_hw_ram_init(&t->ram, t->mem, kc_keycard_card.flash_size, kc_keycard_card.page_size,
                       &t->hw) != 0)
        die("kc_hw_ram_init");
    kc_hw_ram_seed(&t->ram, seed);
    if (kc_keycard_card.init(t->ctx, &t->hw) != 0)
        die("init");
    kc_keycard_card.power(t->ctx, KC_POWER_ON);
}

void kc_test_card_free(kc_test_card *t)
{
    free(t->mem);
    free(t->ctx);
    t->mem = NULL;
    t->ctx = NULL;
}

int kc_test_card_reboot(kc_test_card *t)
{
    uint64_t st = t->ram.rng_state;
    int det = t->ram.rng_deterministic;
    uint32_t now = t->ram.now;
    if (kc_hw_ram_init(&t->ram, t->mem, kc_keycard_card.flash_size, kc_keycard_card.page_size,
                       &t->hw) != 0)
        die("kc_hw_ram_init");
    t->ram.rng_deterministic = det;
    t->ram.rng_state = st;
    t->ram.now = now;
    memset(t->ctx, 0xA5, kc_keycard_card.ctx_size); /* RAM does not survive */
    int rc = kc_keycard_card.init(t->ctx, &t->hw);
    if (rc == 0)
        kc_keycard_card.power(t->ctx, KC_POWER_ON);
    return rc;
}

uint16_t kc_test_card_send(kc_test_card *t, const uint8_t *apdu, size_t len)
{
    size_t n = kc_keycard_card.process(t->ctx, apdu, len, t->resp, sizeof(t->resp));
    if (n < 2 || n > sizeof(t->resp))
        die("bad response length");
    t->resp_len = n - 2;
    return (uint16_t)(t->resp[n - 2] << 8 | t->resp[n - 1]);
}

size_t kc_test_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int half = -1;
    for (; *hex; hex++) {
        int v;
        char c = *hex;
        if (c == ' ' || c == '\n' || c == ':')
            continue;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            die("bad hex");
        if (half < 0) {
            half = v;
        } else {
            if (n >= cap)
                die("hex too long");
            out[n++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    if (half >= 0)
        die("odd hex");
    return n;
}

uint16_t kc_test_card_sendx(kc_test_card *t, const char *hex)
{
    static uint8_t buf[8 + 70000];
    size_t n = kc_test_hex(hex, buf, sizeof(buf));
    return kc_test_card_send(t, buf, n);
}

size_t kc_test_apdu(uint8_t *out, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                    const void *data, size_t len)
{
    size_t n = 0;
    out[n++] = cla;
    out[n++] = ins;
    out[n++] = p1;
    out[n++] = p2;
    if (len == 0)
        return n;
    if (len <= 255) {
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = 0;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    }
    memcpy(out + n, data, len);
    return n + len;
}

static uint16_t send_cmd(kc_test_card *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                         const void *data, size_t len)
{
    uint8_t buf[8 + 4096];
    if (len > 4096)
        die("command too long");
    return kc_test_card_send(t, buf, kc_test_apdu(buf, cla, ins, p1, p2, data, len));
}

uint16_t kc_test_card_select(kc_test_card *t)
{
    return kc_test_card_sendx(t, "00A4040C0AF04B4559434152440001");
}

uint16_t kc_test_card_verify_admin(kc_test_card *t)
{
    return kc_test_card_sendx(t, "0020008310" KC_TEST_ADMIN_KEY_HEX);
}

#define TRY(x)                                                                                   \
    do {                                                                                         \
        uint16_t sw_ = (x);                                                                      \
        if (sw_ != 0x9000)                                                                       \
            return sw_;                                                                          \
    } while (0)

static uint16_t put_cred(kc_test_card *t, uint8_t ref, const uint8_t *v, size_t len)
{
    uint8_t d[1 + 32];
    d[0] = KC_TEST_TRIES;
    memcpy(d + 1, v, len);
    return send_cmd(t, 0x80, KC_INS_PROVISION_PUT, 0x01, ref, d, 1 + len);
}

uint16_t kc_test_card_provision_demo(kc_test_card *t)
{
    uint8_t admin[16], tbs[77], sig[64];
    kc_test_hex(KC_TEST_ADMIN_KEY_HEX, admin, sizeof(admin));

    TRY(kc_test_card_select(t));
    TRY(kc_test_card_sendx(t, "80E00000"));
    TRY(put_cred(t, KC_REF_ISSUER_PIN, (const uint8_t *)KC_TEST_ISSUER_PIN,
                 strlen(KC_TEST_ISSUER_PIN)));
    TRY(put_cred(t, KC_REF_HOLDER_PIN, (const uint8_t *)KC_TEST_HOLDER_PIN,
                 strlen(KC_TEST_HOLDER_PIN)));
    TRY(put_cred(t, KC_REF_ADMIN_KEY, admin, sizeof(admin)));
    TRY(send_cmd(t, 0x80, KC_INS_PROVISION_PUT, 0x5F, 0x20, KC_TEST_HOLDER_NAME,
                 strlen(KC_TEST_HOLDER_NAME)));
    TRY(send_cmd(t, 0x80, KC_INS_PROVISION_PUT, 0xDF, 0x01, KC_TEST_HOLDER_NUMBER,
                 strlen(KC_TEST_HOLDER_NUMBER)));
    TRY(kc_test_card_sendx(t, "80E4000000"));
    if (t->resp_len != sizeof(tbs))
        return 0x6F00;
    memcpy(tbs, t->resp, sizeof(tbs));
    kc_test_issuer_sign(tbs, sizeof(tbs), sig);
    TRY(send_cmd(t, 0x80, KC_INS_PROVISION_PUT, 0xDF, 0x04, sig, sizeof(sig)));
    return kc_test_card_sendx(t, "80E60000");
}

static uint16_t put_key(kc_test_card *t, uint8_t n, uint8_t type, uint8_t flags,
                        const char *label, const char *hex)
{
    uint8_t d[3 + 32 + 32];
    size_t ll = strlen(label);
    d[0] = type;
    d[1] = flags;
    d[2] = (uint8_t)ll;
    memcpy(d + 3, label, ll);
    size_t kl = kc_test_hex(hex, d + 3 + ll, 32);
    return send_cmd(t, 0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_KEY, n, d, 3 + ll + kl);
}

static uint16_t put_template(kc_test_card *t, uint8_t n, const char *hex)
{
    uint8_t d[KC_TPL_MAX_LEN];
    size_t len = kc_test_hex(hex, d, sizeof(d));
    return send_cmd(t, 0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_TEMPLATE, n, d, len);
}

uint16_t kc_test_card_provision_issuance(kc_test_card *t)
{
    TRY(kc_test_card_select(t));
    TRY(kc_test_card_verify_admin(t));
    TRY(kc_test_card_sendx(t, "80E00000"));
    TRY(put_key(t, 1, KC_KEY_TYPE_AES128, KC_KEYF_ENVELOPE | KC_KEYF_STATIC, "env-128",
                KC_TEST_KEY1_HEX));
    TRY(put_key(t, 2, KC_KEY_TYPE_AES256, KC_KEYF_ENVELOPE | KC_KEYF_COMMON, "env-common",
                KC_TEST_KEY2_HEX));
    TRY(put_key(t, 3, KC_KEY_TYPE_AES128, KC_KEYF_INJECT, "app-key", KC_TEST_KEY3_HEX));
    TRY(put_key(t, 4, KC_KEY_TYPE_AES256, KC_KEYF_INJECT, "pay-key", KC_TEST_KEY4_HEX));
    TRY(put_template(t, 1, KC_TEST_TPL1_HEX));
    TRY(put_template(t, 2, KC_TEST_TPL2_HEX));
    TRY(put_template(t, 3, KC_TEST_TPL3_HEX));
    TRY(put_template(t, 4, KC_TEST_TPL4_HEX));
    TRY(put_template(t, 5, KC_TEST_TPL5_HEX));
    return kc_test_card_sendx(t, "80E60000");
}

uint16_t kc_test_card_unlock(kc_test_card *t)
{
    TRY(kc_test_card_select(t));
    TRY(kc_test_card_sendx(t, "0020008108" "3133353739313335"));
    return kc_test_card_sendx(t, "0020008206" "323436383130");
}

static void sha256(const uint8_t *d, size_t n, uint8_t out[32])
{
    if (mbedtls_sha256_ret(d, n, out, 0) != 0)
        die("sha256");
}

void kc_test_card_flash_digest(const kc_test_card *t, uint8_t out[32])
{
    sha256(t->mem, kc_keycard_card.flash_size, out);
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

void kc_test_card_store_digest(const kc_test_card *t, uint8_t out[32])
{
    size_t size = kc_keycard_card.flash_size;
    uint8_t *copy = malloc(size);
    kc_store *s = malloc(sizeof(*s));
    uint16_t *keys = malloc(sizeof(uint16_t) * KC_STORE_MAX_KEYS);
    kc_hw_ram ram;
    kc_hw hw;
    mbedtls_sha256_context ctx;

    if (copy == NULL || s == NULL || keys == NULL)
        die("out of memory");
    memcpy(copy, t->mem, size);
    if (kc_hw_ram_init(&ram, copy, size, kc_keycard_card.page_size, &hw) != 0 ||
        kc_store_mount(s, &hw.flash) != 0)
        die("mount copy");
    size_t n = s->n_keys;
    memcpy(keys, s->idx_key, n * sizeof(uint16_t));
    qsort(keys, n, sizeof(uint16_t), cmp_u16);
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts_ret(&ctx, 0);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d;
        size_t len;
        uint8_t hdr[4] = {(uint8_t)(keys[i] >> 8), (uint8_t)keys[i], 0, 0};
        if (kc_store_get(s, keys[i], &d, &len) != 0)
            die("listed key not found");
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        mbedtls_sha256_update_ret(&ctx, hdr, sizeof(hdr));
        mbedtls_sha256_update_ret(&ctx, d, len);
    }
    mbedtls_sha256_finish_ret(&ctx, out);
    mbedtls_sha256_free(&ctx);
    free(keys);
    free(s);
    free(copy);
}

/* Blinding randomness for deterministic ECDSA (not security relevant here). */
static int test_rng(void *p, unsigned char *buf, size_t len)
{
    uint32_t *st = p;
    for (size_t i = 0; i < len; i++) {
        *st = *st * 1103515245u + 12345u;
        buf[i] = (uint8_t)(*st >> 16);
    }
    return 0;
}

static void label_hash(const char *label, const uint8_t *msg, size_t len, uint8_t out[32])
{
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts_ret(&ctx, 0);
    mbedtls_sha256_update_ret(&ctx, (const uint8_t *)label, strlen(label) + 1);
    mbedtls_sha256_update_ret(&ctx, msg, len);
    mbedtls_sha256_finish_ret(&ctx, out);
    mbedtls_sha256_free(&ctx);
}

void kc_test_issuer_pub(uint8_t pub[65])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    uint32_t st = 1;
    size_t olen;

    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_mpi_read_binary(&d, issuer_priv, sizeof(issuer_priv)) != 0 ||
        mbedtls_ecp_mul(&grp, &q, &d, &grp.G, test_rng, &st) != 0 ||
        mbedtls_ecp_point_write_binary(&grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pub, 65) != 0 ||
        olen != 65)
        die("issuer pub");
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
}

int kc_test_issuer_sign(const uint8_t *tbs, size_t len, uint8_t sig[64])
{
    return kc_test_issuer_sign_as(KC_SIG_LABEL_IDENTITY, tbs, len, sig);
}

int kc_test_issuer_sign_as(const char *label, const uint8_t *tbs, size_t len, uint8_t sig[64])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d, r, s;
    uint8_t hash[32];
    uint32_t st = 7;

    label_hash(label, tbs, len, hash);
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_mpi_read_binary(&d, issuer_priv, sizeof(issuer_priv)) != 0 ||
        mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &d, hash, sizeof(hash), MBEDTLS_MD_SHA256,
                                   test_rng, &st) != 0 ||
        mbedtls_mpi_write_binary(&r, sig, 32) != 0 || mbedtls_mpi_write_binary(&s, sig + 32, 32) != 0)
        die("issuer sign");
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return 0;
}

int kc_test_p256_verify(const uint8_t pub[65], const char *label, const uint8_t *msg, size_t len,
                        const uint8_t sig[64])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r, s;
    uint8_t hash[32];
    int ok;

    label_hash(label, msg, len, hash);
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
         mbedtls_ecp_point_read_binary(&grp, &q, pub, 65) == 0 &&
         mbedtls_mpi_read_binary(&r, sig, 32) == 0 && mbedtls_mpi_read_binary(&s, sig + 32, 32) == 0 &&
         mbedtls_ecdsa_verify(&grp, hash, sizeof(hash), &q, &r, &s) == 0;
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return ok;
}
