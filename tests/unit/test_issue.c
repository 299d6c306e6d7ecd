/*
 * test_issue.c - the key card's issuance side (kc_issue.c and its APDUs in
 * kc_applet.c) over RAM flash: numbered keys and templates provisioned and
 * listed, ISSUE BEGIN in each seeding way (the previous-random chain
 * committed before its seed leaves the card, power cuts included), WRAP of
 * single steps and batches checked by opening every envelope with
 * kc_env_open, END with a completion MAC computed here, and the receipts in
 * the audit log; the refusals (PINs, key usage, template key rules, params
 * outside the schema) and that a refused WRAP does not advance the counter.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kc_audit.h"
#include "kc_envelope.h"
#include "kc_err.h"
#include "kc_issue.h"
#include "kc_keycard.h"
#include "kc_keys.h"
#include "support/kc_test_card.h"

static const uint8_t TS[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}; /* target serial */

static uint8_t apdu_buf[8 + 70000];

static uint16_t send(kc_test_card *t, uint8_t ins, uint8_t p1, uint8_t p2, const void *d,
                     size_t n, int le)
{
    size_t len;
    if (le > 1 || n > 255) { /* extended: Lc 00 hi lo, Le 00 00 (65536) */
        uint8_t *a = apdu_buf;
        a[0] = 0x80, a[1] = ins, a[2] = p1, a[3] = p2, a[4] = 0;
        len = 5;
        if (n) {
            a[len++] = (uint8_t)(n >> 8);
            a[len++] = (uint8_t)n;
            memcpy(a + len, d, n);
            len += n;
        }
        if (le) {
            a[len++] = 0;
            a[len++] = 0;
        }
    } else {
        len = kc_test_apdu(apdu_buf, 0x80, ins, p1, p2, d, n);
        if (le)
            apdu_buf[len++] = 0; /* short Le 00: 256 */
    }
    return kc_test_card_send(t, apdu_buf, len);
}

static void ready_card(kc_test_card *t, uint64_t seed)
{
    kc_test_card_new(t, seed);
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(t), 0x9000);
}

static kc_keycard *kc_of(kc_test_card *t)
{
    return t->ctx;
}

/*
 * The session inputs of the last BEGIN that passed, as the target would hold
 * them: its nonce Nt, the key card's nonce Nk and (way 04) seed; the lock
 * of the last WRAP that carried template 4 (lock way d, no data).
 */
static uint8_t g_nt[16], g_nk[16], g_seed[16], g_lock_way;
static int g_way, g_packed;

/*
 * BEGIN data: serial key bucket Nt [counter]. Way 03 takes extra as Nt (the
 * target's seed); the other ways get a fixed Nt before extra.
 */
static uint16_t begin(kc_test_card *t, uint8_t way, uint8_t key, unsigned bucket,
                      const uint8_t *extra, size_t extra_len)
{
    uint8_t d[64], nt[16];
    size_t lc = 11;
    uint16_t sw;
    memcpy(d, TS, 8);
    d[8] = key;
    d[9] = (uint8_t)(bucket >> 8);
    d[10] = (uint8_t)bucket;
    memset(nt, 0xA5, sizeof(nt));
    if ((way & 0x7F) != KC_WAY_TARGET_SEED) {
        memcpy(d + lc, nt, 16);
        lc += 16;
    } else if (extra_len == 16) {
        memcpy(nt, extra, 16);
    }
    if (extra_len)
        memcpy(d + lc, extra, extra_len);
    lc += extra_len;
    sw = send(t, KC_INS_ISSUE_BEGIN, way, 0, d, lc, 1);
    g_packed = (way & KC_ISSUE_BEGIN_PACKED) != 0;
    way &= 0x7F;
    if (sw == 0x9000) {
        ck_assert_uint_eq(t->resp_len, way == KC_WAY_PREVIOUS_RANDOM ? 32 : 16);
        memcpy(g_nt, nt, 16);
        memcpy(g_nk, t->resp, 16);
        if (way == KC_WAY_PREVIOUS_RANDOM)
            memcpy(g_seed, t->resp + 16, 16);
        g_way = way;
        g_lock_way = 0;
    }
    return sw;
}

static void sctx_of_last(uint8_t sctx[KC_ENV_SCTX_LEN])
{
    kc_env_session_ctx_opts(sctx, TS, g_nt, g_nk, g_way == KC_WAY_PREVIOUS_RANDOM ? g_seed : NULL,
                            g_packed ? KC_ENV_OPT_PACKED : 0);
}

/* R_c of static mode for the last session. */
static void static_r(const uint8_t *kcard, size_t klen, uint32_t c, uint8_t r[32])
{
    uint8_t sctx[KC_ENV_SCTX_LEN], base[32];
    sctx_of_last(sctx);
    ck_assert_int_eq(kc_env_static_base(kcard, klen, sctx, base), 0);
    ck_assert_int_eq(kc_env_static_key(base, 32, TS, c, r), 0);
}

/* Append a step (template, params) to a steps buffer. */
static size_t step(uint8_t *buf, size_t off, uint8_t tpl, const char *params_hex)
{
    size_t n = kc_test_hex(params_hex, buf + off + 3, 2000);
    buf[off] = tpl;
    buf[off + 1] = (uint8_t)(n >> 8);
    buf[off + 2] = (uint8_t)n;
    return off + 3 + n;
}

static uint16_t wrap(kc_test_card *t, const uint8_t *steps, size_t n)
{
    uint16_t sw = send(t, KC_INS_ISSUE_WRAP, 0, 0, steps, n, 2);
    /* Template 4 is the lock (d): its way goes into the completion MAC. */
    for (size_t off = 0; sw == 0x9000 && off + 3 <= n; off += 3u + (steps[off + 1] << 8 | steps[off + 2]))
        if (steps[off] == 4)
            g_lock_way = 4;
    return sw;
}

/* The i-th envelope of the last WRAP answer. */
static const uint8_t *envelope(kc_test_card *t, size_t i, size_t *len)
{
    size_t off = 0;
    for (;;) {
        ck_assert_uint_ge(t->resp_len, off + 2);
        size_t l = (size_t)t->resp[off] << 8 | t->resp[off + 1];
        ck_assert_uint_ge(t->resp_len, off + 2 + l);
        if (i-- == 0) {
            *len = l;
            return t->resp + off + 2;
        }
        off += 2 + l;
    }
}

static size_t n_envelopes(kc_test_card *t)
{
    size_t off = 0, n = 0;
    while (off < t->resp_len) {
        off += 2 + ((size_t)t->resp[off] << 8 | t->resp[off + 1]);
        n++;
    }
    ck_assert_uint_eq(off, t->resp_len);
    return n;
}

/* Open envelope i of the last answer with R and counter c; compare inner header and data. */
static void expect_inner(kc_test_card *t, size_t i, const uint8_t r[32], uint32_t c,
                         const char *hdr_hex, const uint8_t *data, size_t data_len)
{
    uint8_t hdr[4], want_hdr[4], got[1100];
    size_t len, glen = sizeof(got), bucket;
    const uint8_t *e = envelope(t, i, &len);
    kc_test_hex(hdr_hex, want_hdr, 4);
    ck_assert_int_eq(kc_env_open(r, TS, c, e, len, hdr, got, &glen, &bucket), 0);
    ck_assert_mem_eq(hdr, want_hdr, 4);
    ck_assert_uint_eq(glen, data_len);
    if (data_len)
        ck_assert_mem_eq(got, data, data_len);
}

static void expect_inner_hex(kc_test_card *t, size_t i, const uint8_t r[32], uint32_t c,
                             const char *hdr_hex, const char *data_hex)
{
    uint8_t d[1100];
    size_t n = kc_test_hex(data_hex, d, sizeof(d));
    expect_inner(t, i, r, c, hdr_hex, d, n);
}

static void key_hex(const char *hex, uint8_t *out, size_t *len)
{
    *len = kc_test_hex(hex, out, 32);
}

/* Chain start of the last session as the target computes it from its Kcard. */
static void chain_r0(const uint8_t *kcard, size_t klen, uint8_t r[32])
{
    uint8_t sctx[KC_ENV_SCTX_LEN];
    sctx_of_last(sctx);
    ck_assert_int_eq(kc_env_chain_seed(kcard, klen, sctx, r), 0);
}

/* Completion MAC of the last session over envelopes c0.. with the given SWs. */
static void completion_mac(const uint8_t *kcard, size_t klen, uint32_t c0, const uint16_t *sw,
                           size_t n, uint8_t mac[16])
{
    uint8_t kcomp[16], sctx[KC_ENV_SCTX_LEN];
    kc_env_transcript tr;
    sctx_of_last(sctx);
    ck_assert_int_eq(kc_env_completion_key(kcard, klen, sctx, kcomp), 0);
    ck_assert_int_eq(kc_env_transcript_init(&tr), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t s[2] = {(uint8_t)(sw[i] >> 8), (uint8_t)sw[i]};
        ck_assert_int_eq(kc_env_transcript_update(&tr, c0 + (uint32_t)i, s), 0);
    }
    ck_assert_int_eq(kc_env_transcript_final(&tr, kcomp, TS, g_lock_way, NULL, 0, mac), 0);
}

static uint16_t end(kc_test_card *t, const uint16_t *sw, size_t n, const uint8_t mac[16])
{
    uint8_t d[1 + 2 * 64 + 16];
    if (mac == NULL)
        return send(t, KC_INS_ISSUE_END, 0, 0, NULL, 0, 1);
    d[0] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        d[1 + 2 * i] = (uint8_t)(sw[i] >> 8);
        d[2 + 2 * i] = (uint8_t)sw[i];
    }
    memcpy(d + 1 + 2 * n, mac, 16);
    return send(t, KC_INS_ISSUE_END, 0, 0, d, 1 + 2 * n + 16, 1);
}

/* The newest audit entry (through the store: the APDU path is tested in test_keycard). */
static void last_audit(kc_test_card *t, uint8_t *event, uint8_t *data, size_t *len)
{
    uint8_t buf[256];
    size_t n;
    uint32_t next = kc_audit_next(&kc_of(t)->store);
    ck_assert_uint_gt(next, 0);
    ck_assert_int_eq(kc_audit_read(&kc_of(t)->store, next - 1, buf, sizeof(buf), &n), 0);
    ck_assert_uint_ge(n, KC_AUDIT_HDR_LEN);
    *event = buf[8];
    *len = buf[9];
    memcpy(data, buf + KC_AUDIT_HDR_LEN, buf[9]);
}

static void chain_state(kc_test_card *t, uint8_t p[32])
{
    size_t len;
    ck_assert_int_eq(kc_store_read(&kc_of(t)->store, KC_KEY_CHAIN_STATE, p, 32, &len), 0);
    ck_assert_uint_eq(len, 32);
}

/* Count the receipts of serial in the log, by result. */
static void receipts_of(kc_test_card *t, const uint8_t serial[8], unsigned by_result[4])
{
    uint8_t buf[256];
    size_t n;
    memset(by_result, 0, 4 * sizeof by_result[0]);
    for (uint32_t seq = 0; seq < kc_audit_next(&kc_of(t)->store); seq++) {
        if (kc_audit_read(&kc_of(t)->store, seq, buf, sizeof(buf), &n) != 0)
            continue;
        if (buf[8] == KC_AUDIT_EVT_ISSUE_RECEIPT && memcmp(buf + KC_AUDIT_HDR_LEN, serial, 8) == 0)
            by_result[buf[KC_AUDIT_HDR_LEN + 11] & 3]++;
    }
}

/*
 * Several heads on one key card: sessions 0..3 (P2) for different cards
 * interleave, each with its own keys, counters, mark and receipt; a card is
 * in one session at a time; a power cut leaves each session's mark for its
 * own late END or the aborted receipt the next BEGIN of the card writes.
 */
START_TEST(test_sessions_interleave)
{
    static const uint8_t TS2[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x99};
    kc_test_card t;
    uint8_t seed[16], k1[32], kcard[16], r[32], steps[64], d[27], mac[16];
    size_t klen, n;
    unsigned res[4];

    ready_card(&t, 320);
    /* Session 1: card TS2 (way 03), begun first. */
    memcpy(d, TS2, 8);
    d[8] = 1, d[9] = 0, d[10] = 128;
    memset(d + 11, 0x3C, 16);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 1, d, 27, 1), 0x9000);
    /* Session 0: card TS (the helpers' card), begun last. */
    memset(seed, 0x5A, 16);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 128, seed, 16), 0x9000);
    /* The same card in a second session: refused, nothing written. */
    uint32_t before = kc_audit_next(&kc_of(&t)->store);
    memcpy(d, TS, 8);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 2, d, 27, 1), 0x6985);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), before);
    /* No session 4; session 3 has nothing to wrap or end. */
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 4, d, 27, 1), 0x6A86);
    n = step(steps, 0, 1, "0101 03414243");
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_WRAP, 0, 3, steps, n, 2), 0x6985);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_END, 0, 3, NULL, 0, 1), 0x6985);

    /* Interleaved: 1, 0, 1. Session 0's envelope opens with TS's chain, counter 1. */
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_WRAP, 0, 1, steps, n, 2), 0x9000);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_WRAP, 0, 0, steps, n, 2), 0x9000);
    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    chain_r0(kcard, 16, r);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    expect_inner_hex(&t, 0, r, 1, "80E00100", "0101 3F00 03414243");
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_WRAP, 0, 1, steps, n, 2), 0x9000);

    /* Session 1 ends aborted; session 0 completes with its own MAC. */
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_END, 0, 1, NULL, 0, 1), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_ABORTED);
    uint16_t sws[1] = {0x9000};
    completion_mac(kcard, 16, 1, sws, 1, mac);
    uint8_t e[1 + 2 + 16] = {1, 0x90, 0x00};
    memcpy(e + 3, mac, 16);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_END, 0, 0, e, sizeof e, 1), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_COMPLETED);
    receipts_of(&t, TS, res);
    ck_assert_uint_eq(res[KC_ISSUE_COMPLETED], 1);
    receipts_of(&t, TS2, res);
    ck_assert_uint_eq(res[KC_ISSUE_ABORTED], 1);

    /* Power cut with sessions 0 and 2 open: both marks stay. */
    d[10] = 128;
    memcpy(d, TS2, 8);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 2, d, 27, 1), 0x9000);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 128, seed, 16), 0x9000);
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    size_t ml;
    uint8_t mark[KC_ISSUE_MARK_LEN];
    ck_assert_int_eq(kc_store_read(&kc_of(&t)->store, KC_KEY_ISSUE_OPEN_N(0), mark, sizeof mark, &ml), 0);
    ck_assert_mem_eq(mark, TS, 8);
    ck_assert_int_eq(kc_store_read(&kc_of(&t)->store, KC_KEY_ISSUE_OPEN_N(2), mark, sizeof mark, &ml), 0);
    ck_assert_mem_eq(mark, TS2, 8);
    /* A refused BEGIN of TS2 (no key 9) writes nothing: session 2's mark stays. */
    d[8] = 9;
    uint32_t seq_before = kc_audit_next(&kc_of(&t)->store);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 3, d, 27, 1), 0x6A88);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), seq_before);
    ck_assert_int_eq(kc_store_read(&kc_of(&t)->store, KC_KEY_ISSUE_OPEN_N(2), mark, sizeof mark, &ml), 0);
    d[8] = 1;
    /* TS2 again, in session 3: its old mark (session 2) gets its aborted receipt first. */
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 3, d, 27, 1), 0x9000);
    ck_assert_int_ne(kc_store_read(&kc_of(&t)->store, KC_KEY_ISSUE_OPEN_N(2), mark, sizeof mark, &ml), 0);
    receipts_of(&t, TS2, res);
    ck_assert_uint_eq(res[KC_ISSUE_ABORTED], 2);
    /* TS's mark (session 0) is untouched by it: a late END for TS still finds it. */
    ck_assert_int_eq(kc_store_read(&kc_of(&t)->store, KC_KEY_ISSUE_OPEN_N(0), mark, sizeof mark, &ml), 0);
    ck_assert_mem_eq(mark, TS, 8);
    /* TS2's live session refuses a late END for TS2, not one for TS. */
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_END, KC_ISSUE_END_P1_LATE, 0, TS2, 8, 1), 0x6985);
    uint8_t late[8 + 1 + 2 + 16 + 2];
    memcpy(late, TS, 8);
    late[8] = 1, late[9] = 0x90, late[10] = 0x00;
    memcpy(late + 11, mac, 16); /* the first session's MAC: not this session's */
    late[27] = 0, late[28] = 0;
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_END, KC_ISSUE_END_P1_LATE, 0, late, sizeof late, 1),
                      0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_MAC_MISMATCH);
    ck_assert_int_ne(kc_store_read(&kc_of(&t)->store, KC_KEY_ISSUE_OPEN_N(0), mark, sizeof mark, &ml), 0);
    kc_test_card_free(&t);
}
END_TEST

/* ---- keys and templates ---------------------------------------------------- */

START_TEST(test_directories)
{
    kc_test_card t;
    uint8_t key[32], kcv[3];
    size_t klen;

    ready_card(&t, 301);
    /* admin key needed */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0500"), 0x6982);
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0500"), 0x9000);
    /* 1 ENV|STATIC "env-128" ... the KCV is the documented one, no key bytes */
    const uint8_t *r = t.resp;
    ck_assert_uint_eq(r[0], 1);
    ck_assert_uint_eq(r[1], KC_KEY_TYPE_AES128);
    ck_assert_uint_eq(r[2], KC_KEYF_ENVELOPE | KC_KEYF_STATIC);
    key_hex(KC_TEST_KEY1_HEX, key, &klen);
    /* AES-128(key, 16 x 01) starts 50 4A 77 (computed with Python's cryptography package). */
    static const uint8_t want_kcv[3] = {0x50, 0x4A, 0x77};
    ck_assert_mem_eq(r + 3, want_kcv, 3);
    ck_assert_int_eq(kc_issue_kcv(key, klen, kcv), 0);
    ck_assert_mem_eq(kcv, want_kcv, 3);
    ck_assert_uint_eq(r[6], 7);
    ck_assert_mem_eq(r + 7, "env-128", 7);
    ck_assert_uint_eq(t.resp_len, (7 + 7) + (7 + 10) + (7 + 7) + (7 + 7));
    ck_assert_uint_eq(r[14], 2);
    ck_assert_uint_eq(r[16], KC_KEYF_ENVELOPE | KC_KEYF_COMMON);
    for (size_t i = 0; i + 16 <= t.resp_len; i++)
        ck_assert_msg(memcmp(t.resp + i, key, 16) != 0, "key bytes in the directory");
    /* paging: from 3 on, and Le too small for the first entry */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF05 01 03 00"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 14 + 14);
    ck_assert_uint_eq(t.resp[0], 3);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF05 01 05 00"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 0);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF05 05"), 0x6700);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF05 0E"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 14);
    /* templates: n label_len label */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0600"), 0x9000);
    ck_assert_uint_eq(t.resp_len, (2 + 6) + (2 + 7) + (2 + 5) + (2 + 4) + (2 + 7));
    ck_assert_mem_eq(t.resp, "\x01\x06" "folder" "\x02\x07" "set-key", 17);
    /* data on other GET DATA tags */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF03 01 00"), 0x6700);
    kc_test_card_free(&t);
}
END_TEST

typedef struct put_row {
    const char *name;
    uint8_t p1, p2;
    const char *data;
    uint16_t sw;
} put_row;

static const put_row put_rows[] = {
    {"key ok", 0x20, 9, "01 06 02 6B39 000102030405060708090A0B0C0D0E0F", 0x9000},
    {"key 256 no label", 0x20, 9, "02 04 00" KC_TEST_KEY2_HEX, 0x9000},
    {"key type 3", 0x20, 9, "03 02 00 000102030405060708090A0B0C0D0E0F", 0x6A80},
    {"key short", 0x20, 9, "01 02 00 000102030405060708090A0B0C0D0E", 0x6A80},
    {"key long", 0x20, 9, "01 02 00 000102030405060708090A0B0C0D0E0F10", 0x6A80},
    {"key 256 given 16", 0x20, 9, "02 02 00 000102030405060708090A0B0C0D0E0F", 0x6A80},
    {"key unknown flag", 0x20, 9, "01 12 00 000102030405060708090A0B0C0D0E0F", 0x6A80},
    {"key label 33", 0x20, 9,
     "01 02 21 414141414141414141414141414141414141414141414141414141414141414141"
     "000102030405060708090A0B0C0D0E0F",
     0x6A80},
    {"key label ctrl", 0x20, 9, "01 02 01 0A 000102030405060708090A0B0C0D0E0F", 0x6A80},
    {"key number 0", 0x20, 0, "01 02 00 000102030405060708090A0B0C0D0E0F", 0x6A88},
    {"key number 255", 0x20, 255, "01 02 00 000102030405060708090A0B0C0D0E0F", 0x6A88},
    {"key no data", 0x20, 9, "", 0x6700},
    {"key delete", 0x21, 1, "", 0x9000},
    {"key delete absent", 0x21, 99, "", 0x9000},
    {"key delete with data", 0x21, 1, "00", 0x6700},
    {"template ok", 0x30, 9, KC_TEST_TPL4_HEX, 0x9000},
    {"template bad version", 0x30, 9, "02 801E0400 00 00 00", 0x6A80},
    {"template trailing", 0x30, 9, "01 801E0400 00 00 00 00", 0x6A80},
    {"template bad item", 0x30, 9, "01 801E0400 00 00 01 07 00", 0x6A80},
    /* The lock is the issuer's (finding: a host table {00} locked nothing). */
    {"lock template with a table parameter", 0x30, 9, "01 801E0200 00 00 01 03 0000 0010 00",
     0x6A80},
    {"lock template with a file id parameter", 0x30, 9,
     "01 801E0300 00 00 01 02 02 00000000 0000FFFF", 0x6A80},
    {"lock template fixed table", 0x30, 9, "01 801E0200 00 00 01 01 05 E0D8D6DC1E", 0x9000},
    {"lock template 17 fixed bytes", 0x30, 9,
     "01 801E0200 00 00 01 01 11 0102030405060708090A0B0C0D0E0F1011", 0x6A80},
    {"template delete", 0x31, 1, "", 0x9000},
    {"template delete with data", 0x31, 1, "01", 0x6700},
};

START_TEST(test_put_table)
{
    const put_row *r = &put_rows[_i];
    kc_test_card t;
    uint8_t d[600], before[32], after[32];
    size_t n = kc_test_hex(r->data, d, sizeof(d));

    ready_card(&t, 302);
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    kc_test_card_store_digest(&t, before);
    ck_assert_msg(send(&t, KC_INS_PROVISION_PUT, r->p1, r->p2, d, n, 0) == r->sw, "%s", r->name);
    kc_test_card_store_digest(&t, after);
    ck_assert_mem_eq(before, after, 32); /* nothing visible before COMMIT */
    /* a refused put leaves the session open */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x9000);
    kc_test_card_store_digest(&t, after);
    if (r->sw == 0x9000 && strcmp(r->name, "key delete absent") != 0)
        ck_assert_msg(memcmp(before, after, 32) != 0, "%s: committed nothing", r->name);
    if (r->sw == 0x9000 && r->p1 == 0x21) {
        ck_assert_int_eq(kc_store_get(&kc_of(&t)->store, KC_KEY_NUMBERED_KEY(r->p2),
                                      &(const uint8_t *){NULL}, &(size_t){0}),
                         KC_ERR_NOT_FOUND);
    }
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_put_needs_session)
{
    kc_test_card t;
    ready_card(&t, 303);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2 2009 13 01 02 00 000102030405060708090A0B0C0D0E0F"),
                      0x6985);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_chain_state_created_once)
{
    kc_test_card t;
    uint8_t p1[32], p2[32];
    kc_test_card_new(&t, 304);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    chain_state(&t, p1);
    /* a later provisioning session keeps it */
    ck_assert_uint_eq(kc_test_card_provision_issuance(&t), 0x9000);
    chain_state(&t, p2);
    ck_assert_mem_eq(p1, p2, 32);
    kc_test_card_free(&t);
}
END_TEST

/* ---- sessions --------------------------------------------------------------- */

START_TEST(test_way3_single_and_batch)
{
    kc_test_card t;
    uint8_t seed[16], k1[32], kcard[16], r[32], steps[600], k3[16], d3[16];
    size_t klen, n;

    ready_card(&t, 310);
    memset(seed, 0x5A, 16);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 128, seed, 16), 0x9000);
    ck_assert_uint_eq(t.resp_len, 16); /* the key card's nonce */
    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    chain_r0(kcard, 16, r);

    /* single */
    n = step(steps, 0, 1, "0101 03414243");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_uint_eq(n_envelopes(&t), 1);
    size_t len0;
    envelope(&t, 0, &len0);
    ck_assert_uint_eq(len0, 128 + 26);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    expect_inner_hex(&t, 0, r, 1, "80E00100", "0101 3F00 03414243");

    /* batch: folder, set-key (key 3 diversified for the target), write, lock */
    n = step(steps, 0, 1, "0102 0141");
    n = step(steps, n, 2, "03");
    n = step(steps, n, 3, "0102 0010 04AABBCCDD");
    n = step(steps, n, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_uint_eq(n_envelopes(&t), 4);
    for (size_t i = 0; i < 4; i++) {
        size_t l;
        envelope(&t, i, &l);
        ck_assert_uint_eq(l, len0); /* one length for the whole session */
    }
    ck_assert_int_eq(kc_env_chain_step(r, TS, 2), 0);
    expect_inner_hex(&t, 0, r, 2, "80E00100", "0102 3F00 0141");
    ck_assert_int_eq(kc_env_chain_step(r, TS, 3), 0);
    key_hex(KC_TEST_KEY3_HEX, k3, &klen);
    ck_assert_int_eq(kc_env_diversify(k3, 16, TS, d3), 0);
    uint8_t want[18] = {0x01, 0x02};
    memcpy(want + 2, d3, 16);
    expect_inner(&t, 1, r, 3, "80D80102", want, sizeof(want));
    ck_assert_int_eq(kc_env_chain_step(r, TS, 4), 0);
    expect_inner_hex(&t, 2, r, 4, "80D60000", "0102 0010 AABBCCDD");
    ck_assert_int_eq(kc_env_chain_step(r, TS, 5), 0);
    expect_inner_hex(&t, 3, r, 5, "801E0400", "");
    /* the plaintext never shows in the answer */
    for (size_t i = 0; i + 16 <= t.resp_len; i++)
        ck_assert(memcmp(t.resp + i, d3, 16) != 0);

    /* END with the right MAC: result 00 and a receipt */
    uint16_t sws[5] = {0x9000, 0x9000, 0x9000, 0x6A84, 0x9000};
    uint8_t mac[16], ev, data[KC_AUDIT_DATA_MAX];
    uint32_t before = kc_audit_next(&kc_of(&t)->store);
    completion_mac(kcard, 16, 1, sws, 5, mac);
    ck_assert_uint_eq(end(&t, sws, 5, mac), 0x9000);
    ck_assert_uint_eq(t.resp_len, 1);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_COMPLETED);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), before + 1); /* exactly one entry */
    last_audit(&t, &ev, data, &n);
    ck_assert_uint_eq(ev, KC_AUDIT_EVT_ISSUE_RECEIPT);
    ck_assert_uint_eq(n, KC_RECEIPT_TPL_OFF(0) + 5);
    ck_assert_mem_eq(data, TS, 8);
    ck_assert_mem_eq(data + 8, "\x01\x03\x00\x00\x05", 5);
    /* the completion MAC the key card verified, then the template numbers */
    ck_assert_mem_eq(data + KC_RECEIPT_MAC_OFF, mac, 16);
    ck_assert_mem_eq(data + KC_RECEIPT_TPL_OFF(0), "\x01\x01\x02\x03\x04", 5);
    /* the session is over */
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6985);
    ck_assert_uint_eq(end(&t, NULL, 0, NULL), 0x6985);
    kc_test_card_free(&t);
}
END_TEST

/*
 * A packed session: the key card packs the steps of each WRAP into as few
 * envelopes as the bucket takes, one counter per envelope, never across
 * WRAPs; END wants one SW per step, the completion transcript [c0 + i].
 */
START_TEST(test_way3_packed)
{
    kc_test_card t;
    uint8_t seed[16], k1[32], kcard[16], r[32], steps[600], pt[KC_ENV_BUCKET_MAX];
    size_t klen, n, len, ptl, count, off, dl;
    const uint8_t *d;
    uint8_t hdr[4];
    kc_env_keyset ks;

    ready_card(&t, 311);
    memset(seed, 0x5B, 16);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED | KC_ISSUE_BEGIN_PACKED, 1, 64, seed, 16),
                      0x9000);
    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    chain_r0(kcard, 16, r);

    /* one step: one envelope with one item */
    n = step(steps, 0, 1, "0101 03414243");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_uint_eq(n_envelopes(&t), 1);
    const uint8_t *e = envelope(&t, 0, &len);
    ck_assert_uint_eq(len, 64 + 26);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    ck_assert_int_eq(kc_env_keyset_derive(r, TS, 1, &ks), 0);
    ptl = sizeof pt;
    ck_assert_int_eq(kc_env_open_packed_keyed(&ks, TS, 1, e + 5, len - 6, pt, &ptl, &count), 0);
    ck_assert_uint_eq(count, 1);
    off = 1;
    ck_assert_int_eq(kc_env_item_next(pt, ptl, &off, hdr, &d, &dl), 0);
    ck_assert_mem_eq(hdr, "\x80\xE0\x01\x00", 4);
    ck_assert_uint_eq(dl, 8);
    ck_assert_mem_eq(d, "\x01\x01\x3F\x00\x03\x41\x42\x43", 8);
    /* An unpacked reader of the same bytes: refused (the option is in the keys). */
    uint8_t ghdr[4], got[64];
    size_t gl = sizeof got;
    ck_assert_int_ne(kc_env_open(r, TS, 1, e, len, ghdr, got, &gl, NULL), 0);

    /* four steps, 12 + 24 + 14 + 6 bytes of items: all in one 64-byte envelope */
    n = step(steps, 0, 1, "0102 0141");
    n = step(steps, n, 2, "03");
    n = step(steps, n, 3, "0102 0010 04AABBCCDD");
    n = step(steps, n, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    size_t ne = n_envelopes(&t), items = 0;
    ck_assert_uint_eq(ne, 1);
    static const uint8_t ins[4] = {0xE0, 0xD8, 0xD6, 0x1E};
    for (size_t i = 0; i < ne; i++) {
        e = envelope(&t, i, &len);
        ck_assert_uint_eq(len, 64 + 26); /* one length for the whole session */
        ck_assert_int_eq(kc_env_chain_step(r, TS, 2 + (uint32_t)i), 0);
        ck_assert_int_eq(kc_env_keyset_derive(r, TS, 2 + (uint32_t)i, &ks), 0);
        ptl = sizeof pt;
        ck_assert_int_eq(kc_env_open_packed_keyed(&ks, TS, 2 + (uint32_t)i, e + 5, len - 6, pt,
                                                  &ptl, &count), 0);
        off = 1;
        for (size_t k = 0; k < count; k++, items++) {
            ck_assert_int_eq(kc_env_item_next(pt, ptl, &off, hdr, &d, &dl), 0);
            ck_assert_uint_eq(hdr[1], ins[items]);
        }
    }
    ck_assert_uint_eq(items, 4);

    /* END: one SW per step (five), not per envelope */
    uint16_t sws[5] = {0x9000, 0x9000, 0x9000, 0x9000, 0x9000};
    uint8_t mac[16];
    completion_mac(kcard, 16, 1, sws, 5, mac);
    ck_assert_uint_eq(end(&t, sws, 1 + ne, mac), 0x6A80);
    ck_assert_uint_eq(end(&t, sws, 5, mac), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_COMPLETED);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_way1_static_common_wrong_mac)
{
    kc_test_card t;
    uint8_t k1[32], kcard[16], r[32], steps[64], mac[16], ev, data[KC_AUDIT_DATA_MAX];
    uint8_t c0[4] = {0, 0, 0, 7};
    size_t klen, n;

    ready_card(&t, 311);
    /* key 2 (common) has no STATIC flag */
    ck_assert_uint_eq(begin(&t, KC_WAY_STATIC, 2, 64, c0, 4), 0x6985);
    ck_assert_uint_eq(begin(&t, KC_WAY_STATIC, 1, 64, (const uint8_t *)"\0\0\0\0", 4), 0x6A80);
    ck_assert_uint_eq(begin(&t, KC_WAY_STATIC, 1, 64, (const uint8_t *)"\xFF\xFF\xFF\xF0", 4),
                      0x6A80);
    ck_assert_uint_eq(begin(&t, KC_WAY_STATIC, 1, 64, c0, 4), 0x9000);
    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    /* nothing may follow the lock in a session */
    n = step(steps, 0, 4, "");
    n = step(steps, n, 1, "0003 01 41");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6A80);
    n = step(steps, 0, 1, "0003 01 41");
    n = step(steps, n, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    size_t l;
    envelope(&t, 0, &l);
    ck_assert_uint_eq(l, 64 + 26);
    static_r(kcard, 16, 7, r);
    expect_inner_hex(&t, 0, r, 7, "80E00100", "0003 3F00 0141");
    static_r(kcard, 16, 8, r);
    expect_inner_hex(&t, 1, r, 8, "801E0400", "");
    /* after the lock the session takes no more steps */
    n = step(steps, 0, 1, "0004 01 41");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6985);

    /* the right MAC but one SW different: mismatch */
    uint16_t sws[2] = {0x9000, 0x9000};
    completion_mac(kcard, 16, 7, sws, 2, mac);
    sws[1] = 0x6A80;
    ck_assert_uint_eq(end(&t, sws, 2, mac), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_MAC_MISMATCH);
    last_audit(&t, &ev, data, &n);
    ck_assert_uint_eq(ev, KC_AUDIT_EVT_ISSUE_RECEIPT);
    ck_assert_mem_eq(data + 8, "\x01\x01\x00\x01\x02", 5);
    ck_assert_mem_eq(data + KC_RECEIPT_MAC_OFF, mac, 16); /* the MAC presented, refused */
    ck_assert_uint_eq(data[KC_RECEIPT_LOCK_OFF], 4); /* the lock way, bound */
    ck_assert_uint_eq(data[KC_RECEIPT_LOCK_OFF + 1], 0);
    ck_assert_mem_eq(data + KC_RECEIPT_TPL_OFF(0), "\x01\x04", 2);

    /* the common key (way 03): Kcard is the key itself, flagged in the receipt */
    uint8_t seed[16] = {1}, k2[32];
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 2, 64, seed, 16), 0x9000);
    n = step(steps, 0, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    key_hex(KC_TEST_KEY2_HEX, k2, &klen);
    chain_r0(k2, 32, r);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    expect_inner_hex(&t, 0, r, 1, "801E0400", "");
    uint16_t ok = 0x9000;
    completion_mac(k2, 32, 1, &ok, 1, mac);
    ck_assert_uint_eq(end(&t, &ok, 1, mac), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_COMPLETED);
    last_audit(&t, &ev, data, &n);
    ck_assert_mem_eq(data + 8, "\x02\x03\x01\x00\x01", 5);
    ck_assert_mem_eq(data + KC_RECEIPT_MAC_OFF, mac, 16);
    ck_assert_uint_eq(data[KC_RECEIPT_TPL_OFF(0)], 4);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_way4_previous_random)
{
    kc_test_card t;
    uint8_t p[32], p_next[32], seed[16], s1[16], k1[32], kcard[16], r[32], steps[16], mac[16];
    size_t klen, n;

    ready_card(&t, 312);
    chain_state(&t, p);
    ck_assert_int_eq(kc_env_prev_random(p, TS, seed, p_next), 0);
    ck_assert_uint_eq(begin(&t, KC_WAY_PREVIOUS_RANDOM, 1, 256, NULL, 0), 0x9000);
    ck_assert_uint_eq(t.resp_len, 32); /* Nk, then the seed */
    ck_assert_mem_eq(t.resp + 16, seed, 16);
    memcpy(s1, t.resp + 16, 16);
    chain_state(&t, p);
    ck_assert_mem_eq(p, p_next, 32); /* committed */

    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    n = step(steps, 0, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    size_t l;
    envelope(&t, 0, &l);
    ck_assert_uint_eq(l, 256 + 29);
    chain_r0(kcard, 16, r);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    expect_inner_hex(&t, 0, r, 1, "801E0400", "");
    uint16_t ok = 0x9000;
    completion_mac(kcard, 16, 1, &ok, 1, mac);
    ck_assert_uint_eq(end(&t, &ok, 1, mac), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_COMPLETED);

    /* the next BEGIN for the same target gets another seed */
    ck_assert_uint_eq(begin(&t, KC_WAY_PREVIOUS_RANDOM, 1, 256, NULL, 0), 0x9000);
    ck_assert(memcmp(t.resp + 16, s1, 16) != 0);
    /* Le too small: refused before the chain moves */
    chain_state(&t, p);
    uint8_t d[27];
    memcpy(d, TS, 8);
    memcpy(d + 8, "\x01\x01\x00", 3);
    memset(d + 11, 0x77, 16);
    size_t len = kc_test_apdu(apdu_buf, 0x80, KC_INS_ISSUE_BEGIN, 4, 0, d, 27);
    apdu_buf[len++] = 20;
    ck_assert_uint_eq(kc_test_card_send(&t, apdu_buf, len), 0x6700);
    chain_state(&t, p_next);
    ck_assert_mem_eq(p, p_next, 32);
    kc_test_card_free(&t);
}
END_TEST

/*
 * Power cut at every flash operation of BEGIN way 04: whenever a seed left
 * the card, its P' is on flash after the reboot; and a seed is never handed
 * out twice.
 */
START_TEST(test_way4_power_cut)
{
    kc_test_card t;
    uint8_t p0[32], p1[32], seed0[16], p[32];
    size_t size = kc_keycard_card.flash_size;
    uint8_t *snap = malloc(size);
    int delivered_seen = 0, lost_seen = 0;

    ready_card(&t, 313);
    chain_state(&t, p0);
    ck_assert_int_eq(kc_env_prev_random(p0, TS, seed0, p1), 0);
    memcpy(snap, t.mem, size);

    for (long cut = 0; cut < 40; cut++) {
        for (int mode = 0; mode < KC_HW_RAM_CUT_MODES; mode++) {
            memcpy(t.mem, snap, size);
            ck_assert_int_eq(kc_test_card_reboot(&t), 0);
            ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
            t.ram.cut_after = (long)t.ram.ops + cut;
            t.ram.cut_mode = mode;
            uint16_t sw = begin(&t, KC_WAY_PREVIOUS_RANDOM, 1, 64, NULL, 0);
            int died = t.ram.dead;
            ck_assert_int_eq(kc_test_card_reboot(&t), 0);
            chain_state(&t, p);
            if (sw == 0x9000) {
                ck_assert_mem_eq(t.resp + 16, seed0, 16);
                ck_assert_mem_eq(p, p1, 32); /* P' committed before the seed left */
                delivered_seen = 1;
            } else {
                ck_assert_uint_eq(t.resp_len, 0);
                ck_assert(memcmp(p, p0, 32) == 0 || memcmp(p, p1, 32) == 0);
                lost_seen = 1;
            }
            /* after the reboot the chain never hands out seed0 again if it moved */
            ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
            ck_assert_uint_eq(begin(&t, KC_WAY_PREVIOUS_RANDOM, 1, 64, NULL, 0), 0x9000);
            if (memcmp(p, p1, 32) == 0)
                ck_assert(memcmp(t.resp + 16, seed0, 16) != 0);
            if (!died && sw == 0x9000)
                goto done; /* the cut came after BEGIN's work: every point covered */
        }
    }
    ck_abort_msg("BEGIN never completed without a cut");
done:
    ck_assert(delivered_seen && lost_seen);
    free(snap);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_bad_params_counter_kept)
{
    kc_test_card t;
    uint8_t seed[16] = {9}, k1[32], kcard[16], r[32], steps[2000];
    size_t klen, n;

    ready_card(&t, 314);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    chain_r0(kcard, 16, r);

    static const struct {
        const char *name;
        uint8_t tpl;
        const char *params;
    } bad[] = {
        {"fid 0 below min", 1, "0000 0141"},
        {"fid FFFF above max", 1, "FFFF 0141"},
        {"name empty", 1, "0101 00"},
        {"name 17", 1, "0101 11 4141414141414141414141414141414141"},
        {"trailing", 1, "0101 0141 00"},
        {"short", 1, "0101"},
        {"key not allowed by template", 2, "04"},
        {"key absent", 2, "09"},
        {"any-key: key without INJECT", 5, "01"},
        {"any-key: absent key", 5, "0A"},
        {"unknown template", 9, ""},
        {"template 0", 0, ""},
        {"inner larger than bucket 64", 3, "0001 0000 36" "414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* a good step first: the whole batch is refused and nothing produced */
        n = step(steps, 0, 1, "0101 0141");
        n = step(steps, n, bad[i].tpl, bad[i].params);
        ck_assert_msg(wrap(&t, steps, n) == 0x6A80, "%s", bad[i].name);
        ck_assert_uint_eq(t.resp_len, 0);
    }
    /* framing: a step longer than the data */
    ck_assert_uint_eq(wrap(&t, (const uint8_t *)"\x04\x00\x05\x00", 4), 0x6A80);
    /* 57 bytes of inner data fill bucket 64 exactly (4 + 2 + 57 + 1 = 64)... */
    n = step(steps, 0, 3, "0001 0000 35" "4141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    /* ...and is envelope 1: the refused batches advanced nothing */
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    ck_assert_uint_eq(n_envelopes(&t), 1);
    uint8_t hdr[4], got[64];
    size_t glen = sizeof(got), l;
    const uint8_t *e = envelope(&t, 0, &l);
    ck_assert_int_eq(kc_env_open(r, TS, 1, e, l, hdr, got, &glen, NULL), 0);
    ck_assert_uint_eq(glen, 57);
    /* key 4 through the any-key template is fine (INJECT) */
    n = step(steps, 0, 5, "04");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 2), 0);
    uint8_t k4[32], d4[32];
    key_hex(KC_TEST_KEY4_HEX, k4, &klen);
    ck_assert_int_eq(kc_env_diversify(k4, 32, TS, d4), 0);
    expect_inner(&t, 0, r, 2, "80D80203", d4, 32);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_refusals)
{
    kc_test_card t;
    uint8_t seed[32] = {0}, steps[16]; /* up to 20 bytes sent as an over-long extra */
    size_t n;

    kc_test_card_new(&t, 315);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&t), 0x9000);
    /* no PINs */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x6982);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0020008108" "3133353739313335"), 0x9000);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x6982);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0020008206" "323436383130"), 0x9000);
    /* key without ENVELOPE usage, unknown keys, bad data, bad P1 */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 3, 64, seed, 16), 0x6985);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 9, 64, seed, 16), 0x6A88);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 0, 64, seed, 16), 0x6A88);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 100, seed, 16), 0x6A80);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 2048, seed, 16), 0x6A80);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 15), 0x6700); /* Lc 26 */
    ck_assert_uint_eq(begin(&t, KC_WAY_PREVIOUS_RANDOM, 1, 64, seed, 1), 0x6A80);
    ck_assert_uint_eq(begin(&t, 0x02, 1, 64, seed, 16), 0x6A86);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 6), 0x6700); /* Lc 17 */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 20), 0x6A80); /* Lc 31 */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80500300 0A 11223344556677880100"), 0x6700);
    /* no session */
    n = step(steps, 0, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6985);
    ck_assert_uint_eq(end(&t, NULL, 0, NULL), 0x6985);
    /* SELECT closes a session */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6985);
    /* power off closes a session */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    ck_assert_uint_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6985);
    /* a refused BEGIN also ends the session it would have replaced */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 3, 64, seed, 16), 0x6985);
    ck_assert_uint_eq(wrap(&t, steps, n), 0x6985);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_end_abort_and_lengths)
{
    kc_test_card t;
    uint8_t seed[16] = {3}, steps[16], ev, data[KC_AUDIT_DATA_MAX], mac[16] = {0};
    uint16_t sws[2] = {0x9000, 0x9000};
    size_t n;

    ready_card(&t, 316);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    n = step(steps, 0, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    uint32_t before = kc_audit_next(&kc_of(&t)->store);
    /* n not the number produced, or a length that does not match n: 6A80, session kept */
    ck_assert_uint_eq(end(&t, sws, 2, mac), 0x6A80);
    ck_assert_uint_eq(send(&t, KC_INS_ISSUE_END, 0, 0, "\x01\x90\x00", 3, 1), 0x6A80);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), before);
    /* abort */
    ck_assert_uint_eq(end(&t, NULL, 0, NULL), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_ABORTED);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), before + 1);
    last_audit(&t, &ev, data, &n);
    ck_assert_uint_eq(ev, KC_AUDIT_EVT_ISSUE_RECEIPT);
    ck_assert_mem_eq(data + 8, "\x01\x03\x00\x02\x01", 5);
    static const uint8_t zero[16];
    ck_assert_mem_eq(data + KC_RECEIPT_MAC_OFF, zero, 16); /* aborted: no MAC */
    ck_assert_uint_eq(data[KC_RECEIPT_TPL_OFF(0)], 4);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_step_limit_and_room)
{
    kc_test_card t;
    uint8_t seed[16] = {4}, steps[7 * 70], ev, data[KC_AUDIT_DATA_MAX];
    size_t n = 0;

    ready_card(&t, 317);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    for (int i = 0; i < 41; i++)
        n = step(steps, n, 1, "0101 0141");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_uint_eq(n_envelopes(&t), 41);
    /* 24 more would make 65 */
    ck_assert_uint_eq(wrap(&t, steps, 24 * 7), 0x6A84);
    ck_assert_uint_eq(wrap(&t, steps, 23 * 7), 0x9000);
    ck_assert_uint_eq(wrap(&t, steps, 7), 0x6A84);
    /* the receipt keeps the first 41 template numbers (all that fit) and the count */
    ck_assert_uint_eq(end(&t, NULL, 0, NULL), 0x9000);
    last_audit(&t, &ev, data, &n);
    ck_assert_uint_eq(n, KC_AUDIT_DATA_MAX);
    ck_assert_uint_eq(n, KC_RECEIPT_TPL_OFF(0) + 41);
    ck_assert_uint_eq(data[12], 64);
    /* an answer larger than Le: 6700, nothing produced */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, seed, 16), 0x9000);
    size_t len = kc_test_apdu(apdu_buf, 0x80, KC_INS_ISSUE_WRAP, 0, 0, steps, 21);
    apdu_buf[len++] = 100; /* 3 x 92 bytes do not fit */
    ck_assert_uint_eq(kc_test_card_send(&t, apdu_buf, len), 0x6700);
    /* out of room after one envelope, and the third step bad: the bad step is named */
    n = step(steps, 14, 1, "0000 0141");
    len = kc_test_apdu(apdu_buf, 0x80, KC_INS_ISSUE_WRAP, 0, 0, steps, n);
    apdu_buf[len++] = 100;
    ck_assert_uint_eq(kc_test_card_send(&t, apdu_buf, len), 0x6A80);
    n = step(steps, 0, 4, "");
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    uint8_t k1[32], kcard[16], r[32];
    size_t klen;
    key_hex(KC_TEST_KEY1_HEX, k1, &klen);
    ck_assert_int_eq(kc_env_diversify(k1, klen, TS, kcard), 0);
    chain_r0(kcard, 16, r);
    ck_assert_int_eq(kc_env_chain_step(r, TS, 1), 0);
    expect_inner_hex(&t, 0, r, 1, "801E0400", ""); /* still counter 1 */
    kc_test_card_free(&t);
}
END_TEST

/*
 * A host that repeats its inputs (the same target nonce in way 03, the same
 * first counter in way 01, BEGIN after BEGIN) never gets two envelopes under
 * one key: the key card's own nonce changes every session.
 */
START_TEST(test_host_repeats_inputs)
{
    kc_test_card t;
    static uint8_t bodies[2][25][200];
    uint8_t nks[25][16], nt[16], steps[16], c0[4] = {0, 0, 0, 5};
    size_t n = step(steps, 0, 1, "0101 0141");

    ready_card(&t, 318);
    memset(nt, 0x42, sizeof nt);
    for (int way = 0; way < 2; way++) {
        for (int i = 0; i < 25; i++) {
            size_t l;
            if (way == 0)
                ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 128, nt, 16), 0x9000);
            else
                ck_assert_uint_eq(begin(&t, KC_WAY_STATIC, 1, 128, c0, 4), 0x9000);
            memcpy(nks[i], g_nk, 16);
            ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
            const uint8_t *e = envelope(&t, 0, &l);
            ck_assert_uint_eq(l, 128 + 26);
            memcpy(bodies[way][i], e, l);
            for (int j = 0; j < i; j++) {
                ck_assert(memcmp(nks[i], nks[j], 16) != 0);
                /* Same inner command, same counter: the ciphertexts still differ. */
                ck_assert(memcmp(bodies[way][i] + 9, bodies[way][j] + 9, 128 + 16) != 0);
            }
        }
    }
    kc_test_card_free(&t);
}
END_TEST

static size_t count_events(kc_test_card *t, uint32_t from, uint8_t event, uint8_t *last,
                           size_t *last_len)
{
    static uint8_t buf[KC_AUDIT_CAPACITY * KC_AUDIT_ENTRY_MAX];
    size_t n, off = 0, k = 0;
    ck_assert_int_eq(kc_audit_read(&kc_of(t)->store, from, buf, sizeof(buf), &n), 0);
    while (off < n) {
        size_t dl = buf[off + 9];
        if (buf[off + 8] == event) {
            k++;
            if (last) {
                memcpy(last, buf + off + KC_AUDIT_HDR_LEN, dl);
                *last_len = dl;
            }
        }
        off += KC_AUDIT_HDR_LEN + dl + KC_AUDIT_PREV_LEN;
    }
    return k;
}

/*
 * Every BEGIN is in the log when it answers, and a session that ends any way
 * but END (a new BEGIN, SELECT, a power cut) leaves an aborted receipt.
 */
START_TEST(test_every_begin_audited)
{
    kc_test_card t;
    uint8_t nt[16] = {7}, steps[16], data[KC_AUDIT_DATA_MAX];
    size_t n = step(steps, 0, 1, "0101 0141"), dl;
    uint32_t from;

    ready_card(&t, 319);
    from = kc_audit_next(&kc_of(&t)->store);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, nt, 16), 0x9000);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_BEGIN, data, &dl), 1);
    ck_assert_uint_eq(dl, KC_ISSUE_BEGIN_EVT_LEN);
    ck_assert_mem_eq(data, TS, 8);
    ck_assert_mem_eq(data + 8, "\x01\x03\x00\x00\x40", 5); /* key way flags bucket */
    ck_assert_mem_eq(data + 13, g_nk, 16);
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);

    /* A new BEGIN: the old session's receipt (aborted, unclean, 1 step) first. */
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, nt, 16), 0x9000);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_BEGIN, NULL, NULL), 2);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_RECEIPT, data, &dl), 1);
    ck_assert_uint_eq(data[10], KC_RECEIPT_FLAG_UNCLEAN);
    ck_assert_uint_eq(data[11], KC_ISSUE_ABORTED);
    ck_assert_uint_eq(data[12], 1);

    /* SELECT (another program): the receipt comes with the next BEGIN, steps unknown. */
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, nt, 16), 0x9000);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_RECEIPT, data, &dl), 2);
    ck_assert_uint_eq(data[12], KC_RECEIPT_STEPS_UNKNOWN);

    /* Power cut: the mark survives; the next BEGIN writes the receipt, steps unknown. */
    ck_assert_uint_eq(wrap(&t, steps, n), 0x9000);
    ck_assert_uint_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_RECEIPT, NULL, NULL), 2);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, nt, 16), 0x9000);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_RECEIPT, data, &dl), 3);
    ck_assert_uint_eq(data[10], KC_RECEIPT_FLAG_UNCLEAN);
    ck_assert_uint_eq(data[11], KC_ISSUE_ABORTED);
    ck_assert_uint_eq(data[12], KC_RECEIPT_STEPS_UNKNOWN);

    /* A clean END: one receipt, and the next BEGIN adds no aborted one. */
    ck_assert_uint_eq(end(&t, NULL, 0, NULL), 0x9000);
    ck_assert_uint_eq(begin(&t, KC_WAY_TARGET_SEED, 1, 64, nt, 16), 0x9000);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_RECEIPT, NULL, NULL), 4);
    ck_assert_uint_eq(count_events(&t, from, KC_AUDIT_EVT_ISSUE_BEGIN, NULL, NULL), 5);
    kc_test_card_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("issue");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_directories);
    tcase_add_loop_test(tc, test_put_table, 0, sizeof(put_rows) / sizeof(put_rows[0]));
    tcase_add_test(tc, test_put_needs_session);
    tcase_add_test(tc, test_chain_state_created_once);
    tcase_add_test(tc, test_way3_single_and_batch);
    tcase_add_test(tc, test_way3_packed);
    tcase_add_test(tc, test_way1_static_common_wrong_mac);
    tcase_add_test(tc, test_way4_previous_random);
    tcase_add_test(tc, test_way4_power_cut);
    tcase_add_test(tc, test_bad_params_counter_kept);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_end_abort_and_lengths);
    tcase_add_test(tc, test_step_limit_and_room);
    tcase_add_test(tc, test_host_repeats_inputs);
    tcase_add_test(tc, test_every_begin_audited);
    tcase_add_test(tc, test_sessions_interleave);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
