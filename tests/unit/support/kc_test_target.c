/*
 * kc_test_target.c - see kc_test_target.h.
 */
#include "kc_test_target.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "kc_store.h"
#include "kc_test_card.h"

const uint8_t kc_tt_key1[32] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A,
                                0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
                                0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F};
const uint8_t kc_tt_key2[16] = {0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
                                0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF};

static void die(const char *what)
{
    fprintf(stderr, "kc_test_target: %s\n", what);
    abort();
}

void kc_tt_new(kc_test_target *t, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->mem = malloc(kc_target_card.flash_size);
    t->tc = calloc(1, kc_target_card.ctx_size);
    if (t->mem == NULL || t->tc == NULL)
        die("out of memory");
    memset(t->mem, 0xFF, kc_target_card.flash_size);
    if (kc_hw_ram_init(&t->ram, t->mem, kc_target_card.flash_size, kc_target_card.page_size,
                       &t->hw) != 0)
        die("kc_hw_ram_init");
    kc_hw_ram_seed(&t->ram, seed);
    if (kc_target_card.init(t->tc, &t->hw) != 0)
        die("init");
    kc_target_card.power(t->tc, KC_POWER_ON);
}

void kc_tt_free(kc_test_target *t)
{
    free(t->mem);
    free(t->tc);
    t->mem = NULL;
    t->tc = NULL;
}

void kc_tt_power(kc_test_target *t, int event)
{
    kc_target_card.power(t->tc, event);
}

void kc_tt_reboot(kc_test_target *t)
{
    uint64_t st = t->ram.rng_state;
    if (kc_hw_ram_init(&t->ram, t->mem, kc_target_card.flash_size, kc_target_card.page_size,
                       &t->hw) != 0)
        die("kc_hw_ram_init");
    kc_hw_ram_seed(&t->ram, st ? st : 1);
    memset(t->tc, 0, kc_target_card.ctx_size);
    if (kc_target_card.init(t->tc, &t->hw) != 0)
        die("init");
    kc_target_card.power(t->tc, KC_POWER_ON);
}

uint16_t kc_tt_send(kc_test_target *t, const uint8_t *apdu, size_t len)
{
    size_t n = kc_target_card.process(t->tc, apdu, len, t->resp, sizeof(t->resp));
    ck_assert_uint_ge(n, 2);
    t->resp_len = n - 2;
    return (uint16_t)(t->resp[n - 2] << 8 | t->resp[n - 1]);
}

uint16_t kc_tt_sendx(kc_test_target *t, const char *hex)
{
    uint8_t buf[8 + 4096];
    return kc_tt_send(t, buf, kc_test_hex(hex, buf, sizeof(buf)));
}

uint16_t kc_tt_cmd(kc_test_target *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                   const void *data, size_t n, int le)
{
    uint8_t buf[8 + 4096];
    size_t len = kc_test_apdu(buf, cla, ins, p1, p2, data, n);
    if (le >= 0) {
        if (len > 4 && buf[4] == 0 && n > 255) { /* extended */
            buf[len++] = (uint8_t)(le >> 8);
            buf[len++] = (uint8_t)le;
        } else if (le > 255) {
            if (n == 0)
                buf[len++] = 0;
            buf[len++] = (uint8_t)(le >> 8);
            buf[len++] = (uint8_t)le;
        } else {
            buf[len++] = (uint8_t)le;
        }
    }
    return kc_tt_send(t, buf, len);
}

uint16_t kc_tt_manufacture(kc_test_target *t, const uint8_t serial[8])
{
    uint8_t d[64];
    size_t n = 0;
    memcpy(d, serial, 8);
    n = 8;
    d[n++] = 2;
    d[n++] = 1;
    d[n++] = TC_IKEY_STATIC;
    d[n++] = 32;
    memcpy(d + n, kc_tt_key1, 32);
    n += 32;
    d[n++] = 2;
    d[n++] = 0;
    d[n++] = 16;
    memcpy(d + n, kc_tt_key2, 16);
    n += 16;
    return kc_tt_cmd(t, 0x80, TC_INS_MANUFACTURE, 0, 0, d, n, -1);
}

static int cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

void kc_tt_store_digest(const kc_test_target *t, uint8_t out[32])
{
    size_t size = kc_target_card.flash_size;
    uint8_t *copy = malloc(size);
    kc_store *s = malloc(sizeof(*s));
    uint16_t *keys = malloc(sizeof(uint16_t) * KC_STORE_MAX_KEYS);
    kc_hw_ram ram;
    kc_hw hw;
    mbedtls_sha256_context ctx;

    if (copy == NULL || s == NULL || keys == NULL)
        die("out of memory");
    memcpy(copy, t->mem, size);
    if (kc_hw_ram_init(&ram, copy, size, kc_target_card.page_size, &hw) != 0 ||
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

uint32_t kc_tt_commits(const kc_test_target *t)
{
    return t->tc->store.next_seq;
}

uint16_t kc_tt_begin(kc_test_target *t, kc_tt_session *s, uint8_t way, uint8_t key_no,
                     const uint8_t *kcard, size_t kcard_len, const uint8_t serial[8])
{
    static uint8_t fresh; /* a new key card nonce (and seed) each session */
    uint8_t bind[32], sctx[KC_ENV_SCTX_LEN];
    size_t blen = 16;
    uint16_t sw;

    memset(s, 0, sizeof(*s));
    memcpy(s->serial, serial, 8);
    memcpy(s->kcard, kcard, kcard_len);
    s->kcard_len = kcard_len;
    s->packed = (way & TC_BEGIN_PACKED) != 0;
    sw = kc_tt_cmd(t, 0x80, TC_INS_BEGIN, way, key_no, NULL, 0, 0);
    way &= (uint8_t)~TC_BEGIN_PACKED;
    s->way = way;
    s->bucket = 128;
    if (sw != 0x9000)
        return sw;
    ck_assert_uint_eq(t->resp_len, way == TC_WAY_STATIC ? 21 : 17);
    ck_assert_uint_eq(t->resp[0], TC_PROTO_VERSION);
    fresh++;
    for (int i = 0; i < 32; i++)
        bind[i] = (uint8_t)(0x50 + i + fresh);
    memcpy(s->nk, bind, 16);
    if (way == TC_WAY_HOST_SEED)
        blen = 32;
    kc_env_session_ctx_opts(sctx, serial, t->resp + 1, bind, way == TC_WAY_HOST_SEED ? bind + 16 : NULL,
                            s->packed ? KC_ENV_OPT_PACKED : 0);
    if (way == TC_WAY_STATIC) {
        const uint8_t *c = t->resp + 17;
        s->c = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
        s->c -= 1; /* the counter of the "last" envelope */
        s->c0 = s->c + 1;
        ck_assert_int_eq(kc_env_static_base(kcard, kcard_len, sctx, s->base), 0);
    } else {
        s->c0 = 1;
        ck_assert_int_eq(kc_env_chain_seed(kcard, kcard_len, sctx, s->r), 0);
    }
    ck_assert_int_eq(kc_env_completion_key(kcard, kcard_len, sctx, s->kcomp), 0);
    ck_assert_int_eq(kc_env_transcript_init(&s->tr), 0);
    return kc_tt_cmd(t, 0x80, TC_INS_BIND, 0, 0, bind, blen, -1);
}

size_t kc_tt_seal(kc_tt_session *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                  const void *data, size_t n, uint8_t *apdu, size_t cap)
{
    uint8_t hdr[4] = {cla, ins, p1, p2};
    size_t len = cap;
    s->c++;
    if (s->way == TC_WAY_STATIC) {
        ck_assert_int_eq(kc_env_static_key(s->base, 32, s->serial, s->c, s->last_r), 0);
    } else {
        ck_assert_int_eq(kc_env_chain_step(s->r, s->serial, s->c), 0);
        memcpy(s->last_r, s->r, 32);
    }
    ck_assert_int_eq(kc_env_seal(s->last_r, s->serial, s->c, s->bucket, hdr, data, n, apdu, &len), 0);
    return len;
}

uint16_t kc_tt_env(kc_test_target *t, kc_tt_session *s, uint8_t ins, uint8_t p1, uint8_t p2,
                   const void *data, size_t n, uint16_t *inner, size_t *inner_len)
{
    uint8_t apdu[KC_ENV_APDU_MAX], sw[2];
    size_t off, dl;
    size_t len = kc_tt_seal(s, 0x80, ins, p1, p2, data, n, apdu, sizeof(apdu));
    if (ins == TC_INS_COMPLETE && n <= sizeof(s->lock_data)) {
        s->lock_way = p1;
        s->lock_len = n;
        if (n)
            memcpy(s->lock_data, data, n);
    }
    uint16_t osw = kc_tt_send(t, apdu, len);
    if (osw != 0x9000)
        return osw;
    ck_assert_int_eq(kc_env_resp_verify(s->last_r, s->serial, s->c, t->resp, t->resp_len, sw,
                                        &off, &dl), 0);
    ck_assert_uint_eq(off, 6);
    ck_assert_int_eq(kc_env_transcript_update(&s->tr, s->c, sw), 0);
    if (inner)
        *inner = (uint16_t)(sw[0] << 8 | sw[1]);
    if (inner_len)
        *inner_len = dl;
    return osw;
}

uint16_t kc_tt_env_packed(kc_test_target *t, kc_tt_session *s, const kc_tt_item *it,
                          size_t count, uint16_t *sws, size_t *nsw)
{
    uint8_t items[KC_ENV_BUCKET_MAX], apdu[KC_ENV_APDU_MAX], sw[2];
    size_t il = 0, len = sizeof(apdu), off, dl;

    ck_assert(s->packed);
    for (size_t i = 0; i < count; i++) {
        uint8_t hdr[4] = {0x80, it[i].ins, it[i].p1, it[i].p2};
        ck_assert_int_eq(kc_env_item_put(items, sizeof(items), &il, hdr, it[i].data, it[i].n), 0);
        if (it[i].ins == TC_INS_COMPLETE && it[i].n <= sizeof(s->lock_data)) {
            s->lock_way = it[i].p1;
            s->lock_len = it[i].n;
            if (it[i].n)
                memcpy(s->lock_data, it[i].data, it[i].n);
        }
    }
    s->c++;
    if (s->way == TC_WAY_STATIC) {
        ck_assert_int_eq(kc_env_static_key(s->base, 32, s->serial, s->c, s->last_r), 0);
    } else {
        ck_assert_int_eq(kc_env_chain_step(s->r, s->serial, s->c), 0);
        memcpy(s->last_r, s->r, 32);
    }
    ck_assert_int_eq(kc_env_seal_packed(s->last_r, s->serial, s->c, s->bucket, items, il, count,
                                        apdu, &len), 0);
    *nsw = 0;
    uint16_t osw = kc_tt_send(t, apdu, len);
    if (osw != 0x9000)
        return osw;
    ck_assert_int_eq(kc_env_resp_verify(s->last_r, s->serial, s->c, t->resp, t->resp_len, sw,
                                        &off, &dl), 0);
    /* A = [k']_1 || k' x (SW1 SW2 [len]_1 data) */
    const uint8_t *a = t->resp + off;
    size_t o = 1;
    ck_assert_uint_ge(dl, 1);
    ck_assert_uint_le(a[0], count);
    for (size_t i = 0; i < a[0]; i++) {
        ck_assert_uint_le(o + 3, dl);
        sws[i] = (uint16_t)(a[o] << 8 | a[o + 1]);
        ck_assert_int_eq(kc_env_transcript_update(&s->tr, s->c0 + s->tr.n, a + o), 0);
        o += 3 + a[o + 2];
    }
    ck_assert_uint_eq(o, dl);
    ck_assert_uint_eq(sws[a[0] - 1], (uint16_t)(sw[0] << 8 | sw[1]));
    *nsw = a[0];
    return osw;
}

void kc_tt_completion(kc_tt_session *s, uint8_t mac[16])
{
    ck_assert_int_eq(kc_env_transcript_final(&s->tr, s->kcomp, s->serial, s->lock_way,
                                             s->lock_data, s->lock_len, mac), 0);
}
