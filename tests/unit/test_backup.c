/*
 * test_backup.c - n-of-m backup and restore (keycard/kc_backup.c, docs/apdu.md
 * "Backup and restore"): the known-answer vectors of tests/vectors/backup.json
 * (written by the independent Python generator tests/vectors/gen_vectors.py:
 * shares, recombination, header, sealed blob, opened and refused when altered);
 * the card's shares checked against libgfshare (an
 * independent, maintained implementation of the same GF(2^8) Shamir scheme:
 * any 3 of 5 of the card's shares recombine there to the backup key the card
 * holds, and libgfshare's shares restore on the card); a key set backed up on
 * A and restored on C with the same KCVs; and the attacker's tries: 2 shares,
 * 2 shares that claim a threshold of 2, shares of two backups, one share
 * twice, a blob of another backup or altered, a restore over a key, all
 * without the admin key or inside a provisioning session.
 */
#include <check.h>
#include <jansson.h>
#include <libgfshare.h>
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "kc_audit.h"
#include "kc_backup.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_issue.h"
#include "kc_keycard.h"
#include "support/kc_test_card.h"
#include "support/kc_vectors.h"

static uint16_t send(kc_test_card *t, uint8_t ins, uint8_t p1, uint8_t p2, const void *d,
                     size_t n, size_t ne)
{
    uint8_t buf[8 + 4200];
    size_t len;
    ck_assert_int_eq(kcl_apdu_build(buf, sizeof buf, &len, 0x80, ins, p1, p2, d, n, ne),
                     KEYCARD_OK);
    return kc_test_card_send(t, buf, len);
}

static void card_with_keys(kc_test_card *t, uint64_t seed, int keys)
{
    kc_test_card_new(t, seed);
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
    if (keys)
        ck_assert_uint_eq(kc_test_card_provision_issuance(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_verify_admin(t), 0x9000);
}

typedef struct backup {
    uint8_t id[8];
    uint8_t share[8][KC_BACKUP_SHARE_LEN];
    uint8_t blob[5][KC_BACKUP_MAX];
    size_t blob_len[5];
} backup;

/* 3-of-5 backup of keys 1..4 of t. */
static void make_backup(kc_test_card *t, backup *b)
{
    ck_assert_uint_eq(send(t, KC_INS_BACKUP, 0, 0, "\x03\x05", 2, 256), 0x9000);
    ck_assert_uint_eq(t->resp_len, 8);
    memcpy(b->id, t->resp, 8);
    for (int x = 1; x <= 5; x++) {
        ck_assert_uint_eq(send(t, KC_INS_BACKUP, 1, (uint8_t)x, NULL, 0, 256), 0x9000);
        ck_assert_uint_eq(t->resp_len, KC_BACKUP_SHARE_LEN);
        ck_assert_mem_eq(t->resp, b->id, 8);
        ck_assert_uint_eq(t->resp[8], 3);
        ck_assert_uint_eq(t->resp[9], x);
        memcpy(b->share[x], t->resp, KC_BACKUP_SHARE_LEN);
    }
    for (int n = 1; n <= 4; n++) {
        ck_assert_uint_eq(send(t, KC_INS_BACKUP, 2, (uint8_t)n, NULL, 0, 256), 0x9000);
        memcpy(b->blob[n], t->resp, t->resp_len);
        b->blob_len[n] = t->resp_len;
    }
}

/* libgfshare draws its coefficients, and scrubs its buffers, with this. */
static void gf_rand(unsigned char *buf, unsigned int len)
{
    ck_assert_int_eq(getrandom(buf, len, 0), (ssize_t)len);
}

/* libgfshare's reading of shares xs[0..2]. */
static void gf_combine(const backup *b, const unsigned char xs[3], uint8_t out[32])
{
    unsigned char nrs[3];
    memcpy(nrs, xs, 3);
    gfshare_ctx *g = gfshare_ctx_init_dec(nrs, 3, 32);
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < 3; i++)
        gfshare_ctx_dec_giveshare(g, (unsigned char)i, (unsigned char *)b->share[xs[i]] + 10);
    gfshare_ctx_dec_extract(g, out);
    gfshare_ctx_free(g);
}

START_TEST(test_shares_match_libgfshare)
{
    kc_test_card a;
    backup b;
    uint8_t s1[32], s2[32];
    card_with_keys(&a, 61, 1);
    make_backup(&a, &b);
    const kc_keycard *kc = a.ctx;
    static const unsigned char sets[][3] = {{1, 2, 3}, {1, 3, 5}, {2, 4, 5}, {5, 4, 1}};
    for (size_t i = 0; i < 4; i++) {
        gf_combine(&b, sets[i], s1);
        ck_assert_mem_eq(s1, kc->backup.bk, 32); /* the card's BK, rebuilt by libgfshare */
    }
    /* The card's own combination agrees, and any 2 shares give something else. */
    uint8_t x[3] = {2, 3, 5}, y[3][32];
    for (int i = 0; i < 3; i++)
        memcpy(y[i], b.share[x[i]] + 10, 32);
    ck_assert_int_eq(kc_backup_combine(x, (const uint8_t(*)[32])y, 3, s2), 0);
    ck_assert_mem_eq(s2, kc->backup.bk, 32);
    ck_assert_int_eq(kc_backup_combine(x, (const uint8_t(*)[32])y, 2, s2), 0);
    ck_assert_mem_ne(s2, kc->backup.bk, 32);
    x[1] = 2;
    ck_assert_int_eq(kc_backup_combine(x, (const uint8_t(*)[32])y, 3, s2), KC_ERR_BAD_DATA);
    /* Multiplication: a field (every non-zero element has an inverse) */
    for (unsigned v = 1; v < 256; v++) {
        unsigned inv = 0;
        for (unsigned w = 1; w < 256; w++)
            if (kc_gf_mul((uint8_t)v, (uint8_t)w) == 1)
                inv = w;
        ck_assert_uint_ne(inv, 0);
    }
    /* No share is the key, and no blob holds a key value. */
    for (int n = 1; n <= 4; n++) {
        kc_issue_key k;
        ck_assert_int_eq(kc_issue_key_load(&kc->store, (unsigned)n, &k), 0);
        for (int s = 1; s <= 5; s++)
            ck_assert_ptr_null(memmem(b.share[s], KC_BACKUP_SHARE_LEN, k.key, k.key_len));
        ck_assert_ptr_null(memmem(b.blob[n], b.blob_len[n], k.key, k.key_len));
    }
    /* A key replaced mid-backup and sealed again would reuse K and IV: once per number. */
    uint8_t gen[3] = {KC_KEY_TYPE_AES128, KC_KEYF_INJECT, 0};
    ck_assert_uint_eq(send(&a, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 3, gen, 3, 3),
                      0x9000);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 2, 3, NULL, 0, 256), 0x6985);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 3, 0, NULL, 0, 0), 0x9000);
    for (size_t i = 0; i < 32; i++)
        ck_assert_uint_eq(kc->backup.bk[i], 0); /* forgotten */
    kc_test_card_free(&a);
}
END_TEST

/* A's keys restored on a card without keys from 3 of the 5 shares: same KCVs, logged. */
START_TEST(test_restore)
{
    kc_test_card a, c;
    backup b;
    card_with_keys(&a, 62, 1);
    make_backup(&a, &b);
    card_with_keys(&c, 63, 0);
    kc_keycard *kcc = c.ctx;
    uint32_t c0 = kc_audit_next(&kcc->store);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[4], KC_BACKUP_SHARE_LEN, 0), 0x9000);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[2], KC_BACKUP_SHARE_LEN, 0), 0x9000);
    /* Two shares: nothing to try. */
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 1, b.blob[1], b.blob_len[1], 256), 0x6985);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[2], KC_BACKUP_SHARE_LEN, 0), 0x6A80);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[5], KC_BACKUP_SHARE_LEN, 0), 0x9000);
    for (int n = 1; n <= 4; n++) {
        kc_issue_key ka, kc2;
        ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, (uint8_t)n, b.blob[n], b.blob_len[n], 256),
                          0x9000);
        ck_assert_int_eq(kc_issue_key_load(&((kc_keycard *)a.ctx)->store, (unsigned)n, &ka), 0);
        ck_assert_int_eq(kc_issue_key_load(&kcc->store, (unsigned)n, &kc2), 0);
        ck_assert_mem_eq(ka.kcv, kc2.kcv, 3);
        ck_assert_mem_eq(c.resp, ka.kcv, 3);
        ck_assert_uint_eq(ka.flags, kc2.flags);
    }
    ck_assert_uint_eq(kc_audit_next(&kcc->store), c0 + 4);
    /* Again: the numbers are taken. */
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 1, b.blob[1], b.blob_len[1], 256), 0x6985);
    kc_test_card_free(&a);
    kc_test_card_free(&c);
}
END_TEST

/* What the holder of fewer shares, or of shares from two backups, can do: nothing. */
START_TEST(test_restore_refused)
{
    kc_test_card a, c;
    backup b, b2;
    uint8_t forged[KC_BACKUP_SHARE_LEN];
    card_with_keys(&a, 64, 1);
    make_backup(&a, &b);
    make_backup(&a, &b2); /* a second backup: another BK, another id */
    ck_assert_mem_ne(b.id, b2.id, 8);
    card_with_keys(&c, 65, 0);
    kc_keycard *kcc = c.ctx;
    uint32_t c0 = kc_audit_next(&kcc->store);
    /* Two shares that claim a threshold of 2: the blob does not open. */
    for (int s = 1; s <= 2; s++) {
        memcpy(forged, b.share[s], sizeof forged);
        forged[8] = 2;
        ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, forged, sizeof forged, 0), 0x9000);
    }
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 1, b.blob[1], b.blob_len[1], 256), 0x6A80);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 3, 0, NULL, 0, 0), 0x9000);
    /* Shares of two backups do not mix. */
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[1], KC_BACKUP_SHARE_LEN, 0), 0x9000);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b2.share[2], KC_BACKUP_SHARE_LEN, 0), 0x6A80);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[2], KC_BACKUP_SHARE_LEN, 0), 0x9000);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[3], KC_BACKUP_SHARE_LEN, 0), 0x9000);
    /* A blob of the other backup, a blob under another number, an altered blob. */
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 1, b2.blob[1], b2.blob_len[1], 256), 0x6A80);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 2, b.blob[1], b.blob_len[1], 256), 0x6A80);
    for (size_t pos = 0; pos < b.blob_len[1]; pos += 5) {
        uint8_t bad[KC_BACKUP_MAX];
        memcpy(bad, b.blob[1], b.blob_len[1]);
        bad[pos] ^= 0x04;
        uint16_t sw = send(&c, KC_INS_RESTORE, 2, pos == 3 ? (uint8_t)(1 ^ 0x04) : 1, bad,
                           b.blob_len[1], 256);
        ck_assert_msg(sw == 0x6A80 || sw == 0x6700, "byte %zu: %04X", pos, sw);
    }
    ck_assert_uint_eq(kc_audit_next(&kcc->store), c0); /* nothing stored, nothing logged */
    /* A SELECT forgets the shares: 6985 after it. */
    ck_assert_uint_eq(kc_test_card_select(&c), 0x9000);
    ck_assert_uint_eq(kc_test_card_verify_admin(&c), 0x9000);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 1, b.blob[1], b.blob_len[1], 256), 0x6985);
    /* Without the admin key, and inside a provisioning session. */
    ck_assert_uint_eq(kc_test_card_select(&c), 0x9000);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, b.share[1], KC_BACKUP_SHARE_LEN, 0), 0x6982);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 0, 0, "\x03\x05", 2, 256), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(&a), 0x9000);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 1, 1, NULL, 0, 256), 0x6982);
    ck_assert_uint_eq(kc_test_card_verify_admin(&a), 0x9000);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 1, 1, NULL, 0, 256), 0x6985); /* BK forgotten */
    ck_assert_uint_eq(kc_test_card_sendx(&a, "80E00000"), 0x9000);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 0, 0, "\x03\x05", 2, 256), 0x6985);
    ck_assert_uint_eq(kc_test_card_sendx(&a, "80E80000"), 0x9000);
    /* Thresholds out of range. */
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 0, 0, "\x01\x05", 2, 256), 0x6A80);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 0, 0, "\x04\x03", 2, 256), 0x6A80);
    ck_assert_uint_eq(send(&a, KC_INS_BACKUP, 0, 0, "\x03\x09", 2, 256), 0x6A80);
    kc_test_card_free(&a);
    kc_test_card_free(&c);
}
END_TEST

/* Shares made by libgfshare from a known secret restore a blob sealed under it on the card. */
START_TEST(test_libgfshare_shares_restore)
{
    kc_test_card c;
    uint8_t bk[32], key[16], blob[KC_BACKUP_MAX], serial[8] = {0}, kcv[3];
    uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    card_with_keys(&c, 66, 0);
    for (int i = 0; i < 32; i++)
        bk[i] = (uint8_t)(i * 7 + 1);
    memset(key, 0x6B, sizeof key);
    ck_assert_int_eq(kc_issue_kcv(key, 16, kcv), 0);
    size_t hl = kc_keywrap_header(blob, 30, KC_KEY_TYPE_AES128, KC_KEYF_INJECT, 1, kcv, serial, id,
                                  (const uint8_t *)"gf", 2);
    blob[2] = KC_BACKUP_FORMAT;
    ck_assert_int_eq(kc_backup_seal(bk, blob, hl, key, 16), 0);
    unsigned char nrs[4] = {9, 17, 200, 33};
    gfshare_ctx *g = gfshare_ctx_init_enc(nrs, 4, 3, 32);
    ck_assert_ptr_nonnull(g);
    gfshare_ctx_enc_setsecret(g, bk);
    for (int i = 0; i < 3; i++) {
        uint8_t sh[KC_BACKUP_SHARE_LEN];
        memcpy(sh, id, 8);
        sh[8] = 3;
        sh[9] = nrs[i + 1];
        gfshare_ctx_enc_getshare(g, (unsigned char)(i + 1), sh + 10);
        ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 1, 0, sh, sizeof sh, 0), 0x9000);
    }
    gfshare_ctx_free(g);
    ck_assert_uint_eq(send(&c, KC_INS_RESTORE, 2, 30, blob, hl + 16 + 16, 256), 0x9000);
    ck_assert_mem_eq(c.resp, kcv, 3);
    kc_test_card_free(&c);
}
END_TEST

static uint8_t intf(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_integer(v), "missing integer field '%s'", key);
    return (uint8_t)json_integer_value(v);
}

/* The Python generator's shares, header and blob, byte for byte; its blob opens here. */
START_TEST(test_vectors)
{
    json_t *j = kc_vectors_load("backup.json"), *cases = json_object_get(j, "cases");
    ck_assert(json_array_size(cases) >= 2);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i), *shares = json_object_get(c, "shares");
        uint8_t bk[32], seed[32], id[8], from[8], key[32], kcv[3], hdr[64];
        uint8_t want[KC_BACKUP_MAX], blob[KC_BACKUP_MAX], got[32], x[8], y[8][32];
        const char *label = json_string_value(json_object_get(c, "label"));
        uint8_t m = intf(c, "m"), n = intf(c, "n");
        ck_assert_ptr_nonnull(label);
        ck_assert(m >= 2 && m <= n && n <= KC_BACKUP_SHARES_MAX);
        kc_vectors_hex(c, "bk", bk, 32);
        kc_vectors_hex(c, "seed", seed, 32);
        kc_vectors_hex(c, "id", id, 8);
        kc_vectors_hex(c, "from", from, 8);
        kc_vectors_hex(c, "kcv", kcv, 3);
        size_t kl = kc_vectors_hex(c, "key", key, 32);
        size_t hl = kc_vectors_hex(c, "hdr", hdr, sizeof hdr);
        size_t wl = kc_vectors_hex(c, "blob", want, sizeof want);
        ck_assert_uint_eq(wl, hl + 16 + kl);

        /* Shares 1..n: the card's y for each x, and the vector's id, m and x. */
        ck_assert_uint_eq(json_array_size(shares), n);
        for (uint8_t s = 1; s <= n; s++) {
            uint8_t sh[KC_BACKUP_SHARE_LEN + 1], mine[32];
            ck_assert_uint_eq(kc_vectors_hexs(json_string_value(json_array_get(shares, s - 1u)), sh,
                                   sizeof sh),
                              KC_BACKUP_SHARE_LEN);
            ck_assert_mem_eq(sh, id, 8);
            ck_assert_uint_eq(sh[8], m);
            ck_assert_uint_eq(sh[9], s);
            ck_assert_int_eq(kc_backup_share(bk, seed, m, s, mine), 0);
            ck_assert_msg(memcmp(mine, sh + 10, 32) == 0, "case %zu: share %u differs", i, s);
            x[s - 1] = s;
            memcpy(y[s - 1], sh + 10, 32);
        }
        /* The first m of the vector's shares give BK. */
        ck_assert_int_eq(kc_backup_combine(x, (const uint8_t(*)[32])y, m, got), 0);
        ck_assert_mem_eq(got, bk, 32);

        /* The card's header builder, format 02, gives the vector's header. */
        size_t l = kc_keywrap_header(blob, intf(c, "number"), intf(c, "type"), intf(c, "flags"),
                                     intf(c, "version"), kcv, from, id, (const uint8_t *)label,
                                     (uint8_t)strlen(label));
        blob[2] = KC_BACKUP_FORMAT;
        ck_assert_uint_eq(l, hl);
        ck_assert_mem_eq(blob, hdr, hl);

        /* Sealed under BK: exactly the vector's blob. */
        ck_assert_int_eq(kc_backup_seal(bk, blob, hl, key, kl), 0);
        ck_assert_mem_eq(blob, want, wl);

        /* Opened: the key and the header's fields. */
        kc_keywrap_view v;
        memset(got, 0, sizeof got);
        ck_assert_int_eq(kc_backup_open(bk, want, wl, got, &v), 0);
        ck_assert_mem_eq(got, key, kl);
        ck_assert_uint_eq(v.key_len, kl);
        ck_assert_uint_eq(v.number, intf(c, "number"));
        ck_assert_uint_eq(v.version, intf(c, "version"));
        ck_assert_uint_eq(v.label_len, strlen(label));
        ck_assert_mem_eq(v.to, id, 8);
        ck_assert_mem_eq(v.from, from, 8);

        /* Any one changed byte: refused. */
        for (size_t pos = 0; pos < wl; pos++) {
            uint8_t bad[KC_BACKUP_MAX];
            memcpy(bad, want, wl);
            bad[pos] ^= 0x01;
            int rc = kc_backup_open(bk, bad, wl, got, &v);
            ck_assert_msg(rc != 0, "case %zu: byte %zu changed, still opens", i, pos);
        }
        printf("backup vectors: case %zu (%u of %u, key %u): %u shares, blob of %zu bytes\n", i,
               m, n, intf(c, "number"), n, wl);
    }
    json_decref(j);
}
END_TEST

static Suite *backup_suite(void)
{
    Suite *s = suite_create("backup");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vectors);
    tcase_add_test(tc, test_shares_match_libgfshare);
    tcase_add_test(tc, test_restore);
    tcase_add_test(tc, test_restore_refused);
    tcase_add_test(tc, test_libgfshare_shares_restore);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    gfshare_fill_rand = gf_rand;
    SRunner *sr = srunner_create(backup_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
