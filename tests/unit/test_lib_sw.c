/*
 * test_lib_sw.c - libkeycard's encoding layer (libkeycard/apdu.c): the status
 * word table, APDU encoding in short and extended form, GET RESPONSE and
 * wrong-Le recovery over a scripted transport, and parsing of truncated or
 * garbage answers (a malicious card must get KEYCARD_ERR_PROTOCOL, never a
 * crash or an overread: every parser is fed exact-size heap copies so that
 * AddressSanitizer builds catch any overread).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "keycard.h"
#include "keycard_proto.h"
#include "transport.h"

/* ---- SW -> rc ---------------------------------------------------------- */

static const struct {
    uint16_t sw;
    keycard_rc rc;
    int tries; /* expected tries out-param, -1 = untouched */
} sw_vectors[] = {
    {0x9000, KEYCARD_OK, -1},
    {0x63C0, KEYCARD_ERR_WRONG_PIN, 0},
    {0x63C2, KEYCARD_ERR_WRONG_PIN, 2},
    {0x63CF, KEYCARD_ERR_WRONG_PIN, 15},
    {0x6983, KEYCARD_ERR_BLOCKED, -1},
    {0x6982, KEYCARD_ERR_NOT_VERIFIED, -1},
    {0x6985, KEYCARD_ERR_CONDITIONS, -1},
    {0x6A80, KEYCARD_ERR_WRONG_DATA, -1},
    {0x6700, KEYCARD_ERR_WRONG_DATA, -1},
    {0x6A82, KEYCARD_ERR_NOT_FOUND, -1},
    {0x6A88, KEYCARD_ERR_NOT_FOUND, -1},
    {0x6A84, KEYCARD_ERR_CARD_MEMORY, -1},
    {0x6581, KEYCARD_ERR_CARD_MEMORY, -1},
    {0x6D00, KEYCARD_ERR_UNSUPPORTED, -1},
    {0x6E00, KEYCARD_ERR_UNSUPPORTED, -1},
    {0x6A86, KEYCARD_ERR_CARD, -1},
    {0x6883, KEYCARD_ERR_CARD, -1},
    {0x6F00, KEYCARD_ERR_CARD, -1},
    {0x6300, KEYCARD_ERR_CARD, -1},
    {0x0000, KEYCARD_ERR_CARD, -1},
    {0xFFFF, KEYCARD_ERR_CARD, -1},
};

START_TEST(test_sw_table)
{
    int tries = -1;
    keycard_rc rc = kcl_sw_to_rc(sw_vectors[_i].sw, &tries);
    ck_assert_msg(rc == sw_vectors[_i].rc, "SW %04X: rc %d, expected %d", sw_vectors[_i].sw, rc,
                  sw_vectors[_i].rc);
    ck_assert_int_eq(tries, sw_vectors[_i].tries);
    /* NULL tries is allowed */
    ck_assert_int_eq(kcl_sw_to_rc(sw_vectors[_i].sw, NULL), sw_vectors[_i].rc);
}
END_TEST

/* ---- APDU encoding ----------------------------------------------------- */

static const struct {
    const char *what;
    size_t lc, ne;
    const uint8_t *expect_hdr; /* bytes after CLA INS P1 P2 and before/after data */
    size_t pre_len;            /* Lc field bytes */
    uint8_t pre[3];
    size_t post_len;           /* Le field bytes */
    uint8_t post[3];
} enc_vectors[] = {
    {"case 1", 0, 0, NULL, 0, {0}, 0, {0}},
    {"case 2S Le=1", 0, 1, NULL, 0, {0}, 1, {0x01}},
    {"case 2S Le=256", 0, 256, NULL, 0, {0}, 1, {0x00}},
    {"case 3S Lc=1", 1, 0, NULL, 1, {0x01}, 0, {0}},
    {"case 3S Lc=255", 255, 0, NULL, 1, {0xFF}, 0, {0}},
    {"case 4S", 5, 64, NULL, 1, {0x05}, 1, {0x40}},
    {"case 4S Le=256", 255, 256, NULL, 1, {0xFF}, 1, {0x00}},
    {"case 2E Le=257", 0, 257, NULL, 0, {0}, 3, {0x00, 0x01, 0x01}},
    {"case 2E Le=65536", 0, 65536, NULL, 0, {0}, 3, {0x00, 0x00, 0x00}},
    {"case 3E Lc=256", 256, 0, NULL, 3, {0x00, 0x01, 0x00}, 0, {0}},
    {"case 3E Lc=4096", 4096, 0, NULL, 3, {0x00, 0x10, 0x00}, 0, {0}},
    {"case 4E big data", 300, 10, NULL, 3, {0x00, 0x01, 0x2C}, 2, {0x00, 0x0A}},
    {"case 4E big Le", 5, 300, NULL, 3, {0x00, 0x00, 0x05}, 2, {0x01, 0x2C}},
    {"case 4E Le=65536", 1, 65536, NULL, 3, {0x00, 0x00, 0x01}, 2, {0x00, 0x00}},
};

START_TEST(test_apdu_encoding)
{
    static uint8_t data[65535], out[70000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    size_t len = 0, lc = enc_vectors[_i].lc;
    keycard_rc rc = kcl_apdu_build(out, sizeof out, &len, 0x80, 0xE2, 0x01, 0x81, data, lc,
                                   enc_vectors[_i].ne);
    ck_assert_msg(rc == KEYCARD_OK, "%s", enc_vectors[_i].what);
    size_t pre = enc_vectors[_i].pre_len, post = enc_vectors[_i].post_len;
    ck_assert_msg(len == 4 + pre + lc + post, "%s: length %zu", enc_vectors[_i].what, len);
    ck_assert(out[0] == 0x80 && out[1] == 0xE2 && out[2] == 0x01 && out[3] == 0x81);
    ck_assert_mem_eq(out + 4, enc_vectors[_i].pre, pre);
    ck_assert_mem_eq(out + 4 + pre, data, lc);
    ck_assert_mem_eq(out + 4 + pre + lc, enc_vectors[_i].post, post);
    /* One byte less room: refused, not truncated. */
    ck_assert_int_eq(kcl_apdu_build(out, len - 1, &len, 0x80, 0xE2, 0x01, 0x81, data, lc,
                                    enc_vectors[_i].ne),
                     KEYCARD_ERR_BUFFER);
}
END_TEST

START_TEST(test_apdu_encoding_limits)
{
    static uint8_t data[65536], out[70000];
    size_t len;
    ck_assert_int_eq(kcl_apdu_build(out, sizeof out, &len, 0, 0, 0, 0, data, 65536, 0),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(kcl_apdu_build(out, sizeof out, &len, 0, 0, 0, 0, NULL, 0, 65537),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(kcl_apdu_build(out, sizeof out, &len, 0, 0, 0, 0, NULL, 3, 0),
                     KEYCARD_ERR_ARG);
    ck_assert_int_eq(kcl_apdu_build(out, sizeof out, &len, 0, 0, 0, 0, data, 65535, 65536),
                     KEYCARD_OK);
    ck_assert_uint_eq(len, 4 + 3 + 65535 + 2);
}
END_TEST

/* ---- exchange over a scripted transport -------------------------------- */

#define SCRIPT_MAX 80

typedef struct mock {
    kcl_transport base;
    size_t n, pos;
    uint8_t ans[SCRIPT_MAX][300];
    size_t ans_len[SCRIPT_MAX];
    uint8_t sent[SCRIPT_MAX][300];
    size_t sent_len[SCRIPT_MAX];
    int repeat_last; /* answer the last line forever */
} mock;

static keycard_rc mock_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len)
{
    mock *m = (mock *)t;
    size_t i = m->pos < m->n ? m->pos : m->n - 1;
    if (m->pos >= m->n && !m->repeat_last)
        return KEYCARD_ERR_TRANSPORT;
    if (m->pos < SCRIPT_MAX) {
        memcpy(m->sent[m->pos], cmd, len < 300 ? len : 300);
        m->sent_len[m->pos] = len;
    }
    m->pos++;
    if (m->ans_len[i] > *resp_len)
        return KEYCARD_ERR_PROTOCOL;
    memcpy(resp, m->ans[i], m->ans_len[i]);
    *resp_len = m->ans_len[i];
    return KEYCARD_OK;
}

static keycard_rc mock_nothing(kcl_transport *t)
{
    (void)t;
    return KEYCARD_OK;
}

static const kcl_transport_ops mock_ops = {
    .kind = "mock",
    .transmit = mock_transmit,
    .begin_transaction = mock_nothing,
    .end_transaction = mock_nothing,
    .reconnect = mock_nothing,
};

static void mock_add(mock *m, const uint8_t *a, size_t n)
{
    memcpy(m->ans[m->n], a, n);
    m->ans_len[m->n++] = n;
}

START_TEST(test_exchange_plain)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    mock_add(&m, (const uint8_t[]){0x01, 0x02, 0x90, 0x00}, 4);
    uint8_t resp[16];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0xCA, 0xDF, 0x03, NULL, 0, 256, resp, &rl,
                                       &sw),
                     KEYCARD_OK);
    ck_assert_uint_eq(sw, 0x9000);
    ck_assert_uint_eq(rl, 2);
    ck_assert_mem_eq(resp, "\x01\x02", 2);
    ck_assert_uint_eq(m.sent_len[0], 5);
    ck_assert_mem_eq(m.sent[0], "\x00\xCA\xDF\x03\x00", 5);
}
END_TEST

START_TEST(test_exchange_get_response)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    mock_add(&m, (const uint8_t[]){0xAA, 0xBB, 0x61, 0x03}, 4);
    mock_add(&m, (const uint8_t[]){0xCC, 0xDD, 0xEE, 0x61, 0x00}, 5);
    mock_add(&m, (const uint8_t[]){0xFF, 0x63, 0xC2}, 3);
    uint8_t resp[16];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0x88, 0, 0, (const uint8_t *)"abcd", 4, 64,
                                       resp, &rl, &sw),
                     KEYCARD_OK);
    ck_assert_uint_eq(sw, 0x63C2);
    ck_assert_uint_eq(rl, 6);
    ck_assert_mem_eq(resp, "\xAA\xBB\xCC\xDD\xEE\xFF", 6);
    ck_assert_uint_eq(m.pos, 3);
    ck_assert_uint_eq(m.sent_len[1], 5);
    ck_assert_mem_eq(m.sent[1], "\x00\xC0\x00\x00\x03", 5);
    ck_assert_mem_eq(m.sent[2], "\x00\xC0\x00\x00\x00", 5); /* 6100: 256 more */
}
END_TEST

START_TEST(test_exchange_wrong_le)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    mock_add(&m, (const uint8_t[]){0x6C, 0x04}, 2);
    mock_add(&m, (const uint8_t[]){1, 2, 3, 4, 0x90, 0x00}, 6);
    uint8_t resp[16];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0xCA, 0x5F, 0x20, NULL, 0, 256, resp, &rl,
                                       &sw),
                     KEYCARD_OK);
    ck_assert_uint_eq(sw, 0x9000);
    ck_assert_uint_eq(rl, 4);
    ck_assert_mem_eq(m.sent[1], "\x00\xCA\x5F\x20\x04", 5);
}
END_TEST

START_TEST(test_exchange_wrong_le_twice)
{
    /* A second 6Cxx is not followed again: it is the final status word. */
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    m.repeat_last = 1;
    mock_add(&m, (const uint8_t[]){0x6C, 0x04}, 2);
    uint8_t resp[16];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0xCA, 0x5F, 0x20, NULL, 0, 256, resp, &rl,
                                       &sw),
                     KEYCARD_OK);
    ck_assert_uint_eq(sw, 0x6C04);
    ck_assert_uint_eq(m.pos, 2);
    ck_assert_int_eq(kcl_sw_to_rc(sw, NULL), KEYCARD_ERR_CARD);
}
END_TEST

START_TEST(test_exchange_endless_61)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    m.repeat_last = 1;
    mock_add(&m, (const uint8_t[]){0x61, 0x00}, 2);
    uint8_t resp[4096];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0xCA, 0xDF, 0x03, NULL, 0, 256, resp, &rl,
                                       &sw),
                     KEYCARD_ERR_PROTOCOL);
    ck_assert_uint_lt(m.pos, SCRIPT_MAX);
}
END_TEST

START_TEST(test_exchange_too_long)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    m.repeat_last = 1;
    uint8_t big[258];
    memset(big, 0x55, sizeof big);
    big[256] = 0x61;
    big[257] = 0x00;
    mock_add(&m, big, sizeof big);
    uint8_t resp[600];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    /* 256 bytes per round into a 600-byte buffer: the third round overflows. */
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0xCA, 0xDF, 0x03, NULL, 0, 256, resp, &rl,
                                       &sw),
                     KEYCARD_ERR_PROTOCOL);
    ck_assert_uint_eq(m.pos, 3);
    ck_assert_uint_eq(rl, sizeof resp); /* untouched on error */
}
END_TEST

START_TEST(test_exchange_short_answer)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops;
    mock_add(&m, (const uint8_t[]){0x90}, 1);
    uint8_t resp[16];
    size_t rl = sizeof resp;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0xCA, 0xDF, 0x03, NULL, 0, 256, resp, &rl,
                                       &sw),
                     KEYCARD_ERR_PROTOCOL);
}
END_TEST

START_TEST(test_exchange_transport_error)
{
    static mock m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mock_ops; /* empty script: the mock fails */
    size_t rl = 0;
    uint16_t sw = 0;
    ck_assert_int_eq(kcl_apdu_exchange(&m.base, 0x00, 0x20, 0, 0x81, NULL, 0, 0, NULL, &rl, &sw),
                     KEYCARD_ERR_TRANSPORT);
}
END_TEST

/* ---- parsers ------------------------------------------------------------ */

static const uint8_t good_status[] = {
    0xC1, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,       /* serial */
    0xC5, 0x01, 0x07,                         /* provisioned */
    0xC6, 0x02, 0x01, 0x00,                   /* version 1.0 */
    0xC7, 0x03, 0x03, 0x02, 0xFF,             /* tries */
    0xC8, 0x06, 0x00, 0x00, 0x01, 0x02, 0x00, 0x80, /* next 258, capacity 128 */
    0xC9, 0x01, 0x00,                         /* no staging */
};

static uint8_t *heap_copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(c);
    memcpy(c, p, n);
    return c;
}

START_TEST(test_status_good)
{
    keycard_status st;
    uint8_t *c = heap_copy(good_status, sizeof good_status);
    ck_assert_int_eq(kcl_parse_status(c, sizeof good_status, &st), KEYCARD_OK);
    free(c);
    ck_assert_int_eq(st.lifecycle, KEYCARD_LIFECYCLE_PROVISIONED);
    ck_assert_mem_eq(st.serial, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ck_assert_uint_eq(st.version_major, 1);
    ck_assert_uint_eq(st.version_minor, 0);
    ck_assert_int_eq(st.tries_left[0], 3);
    ck_assert_int_eq(st.tries_left[1], 2);
    ck_assert_int_eq(st.tries_left[2], -1);
    ck_assert_uint_eq(st.audit_next, 258);
    ck_assert_uint_eq(st.audit_capacity, 128);
    ck_assert_int_eq(st.staging, 0);
}
END_TEST

START_TEST(test_status_truncated)
{
    /* Every proper prefix misses a field or cuts one: always a protocol error. */
    keycard_status st;
    for (size_t n = 0; n < sizeof good_status; n++) {
        uint8_t *c = heap_copy(good_status, n);
        ck_assert_msg(kcl_parse_status(c, n, &st) == KEYCARD_ERR_PROTOCOL, "prefix %zu", n);
        free(c);
    }
}
END_TEST

/* Mutations of the good blob: {offset, new byte}. */
static const struct {
    size_t off;
    uint8_t val;
} status_mutations[] = {
    {1, 0x07},  /* serial too short */
    {1, 0x09},  /* serial runs into the next tag */
    {1, 0xFF},  /* bad length form */
    {1, 0x83},  /* unsupported length form */
    {1, 0x82},  /* 82 with a huge length */
    {12, 0x03}, /* unknown life cycle */
    {11, 0x02}, /* life cycle two bytes */
    {19, 0x10}, /* tries > 15 */
    {32, 0x02}, /* staging not 0/1 */
    {31, 0x00}, /* staging empty */
    {0, 0xC5},  /* first tag now a 8-byte life cycle */
};

START_TEST(test_status_mutated)
{
    keycard_status st;
    uint8_t m[sizeof good_status];
    memcpy(m, good_status, sizeof m);
    m[status_mutations[_i].off] = status_mutations[_i].val;
    uint8_t *c = heap_copy(m, sizeof m);
    ck_assert_int_eq(kcl_parse_status(c, sizeof m, &st), KEYCARD_ERR_PROTOCOL);
    free(c);
}
END_TEST

START_TEST(test_tlv_long_lengths)
{
    const uint8_t a[] = {0xC2, 0x81, 0x02, 0xAA, 0xBB, 0xC3, 0x82, 0x00, 0x01, 0xCC};
    const uint8_t *v;
    size_t vl;
    uint8_t *c = heap_copy(a, sizeof a);
    ck_assert_int_eq(kcl_tlv_find(c, sizeof a, 0xC3, &v, &vl), KEYCARD_OK);
    ck_assert_uint_eq(vl, 1);
    ck_assert_uint_eq(v[0], 0xCC);
    ck_assert_int_eq(kcl_tlv_find(c, sizeof a, 0xC2, &v, &vl), KEYCARD_OK);
    ck_assert_uint_eq(vl, 2);
    ck_assert_int_eq(kcl_tlv_find(c, sizeof a, 0xC4, &v, &vl), KEYCARD_ERR_NOT_FOUND);
    /* Cut inside the 82 length, inside a value, right after a tag. */
    ck_assert_int_eq(kcl_tlv_find(c, 8, 0xC4, &v, &vl), KEYCARD_ERR_PROTOCOL);
    ck_assert_int_eq(kcl_tlv_find(c, 4, 0xC4, &v, &vl), KEYCARD_ERR_PROTOCOL);
    ck_assert_int_eq(kcl_tlv_find(c, 6, 0xC4, &v, &vl), KEYCARD_ERR_PROTOCOL);
    ck_assert_int_eq(kcl_tlv_find(c, 0, 0xC4, &v, &vl), KEYCARD_ERR_NOT_FOUND);
    free(c);
}
END_TEST

static void make_identity(uint8_t out[143])
{
    out[0] = 0xC1;
    out[1] = 8;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(0x10 + i);
    out[10] = 0xC2;
    out[11] = 65;
    out[12] = 0x04;
    for (int i = 1; i < 65; i++)
        out[12 + i] = (uint8_t)i;
    out[77] = 0xC3;
    out[78] = 64;
    for (int i = 0; i < 64; i++)
        out[79 + i] = (uint8_t)(0xA0 ^ i);
}

START_TEST(test_identity_good_and_tbs)
{
    uint8_t blob[143], tbs[KCL_IDENTITY_TBS_LEN];
    keycard_identity id;
    make_identity(blob);
    ck_assert_int_eq(kcl_parse_identity(blob, sizeof blob, 1, &id), KEYCARD_OK);
    kcl_identity_tbs(&id, tbs);
    /* The signed bytes are exactly the first 77 bytes of the blob. */
    ck_assert_uint_eq(sizeof tbs, 77);
    ck_assert_mem_eq(tbs, blob, 77);
    ck_assert_mem_eq(id.issuer_sig, blob + 79, 64);
    /* Without signature (PROVISION GENERATE's answer). */
    ck_assert_int_eq(kcl_parse_identity(blob, 77, 0, &id), KEYCARD_OK);
    ck_assert_uint_eq(id.issuer_sig[0], 0);
}
END_TEST

START_TEST(test_identity_truncated)
{
    uint8_t blob[143];
    keycard_identity id;
    make_identity(blob);
    for (size_t n = 0; n < sizeof blob; n++) {
        uint8_t *c = heap_copy(blob, n);
        ck_assert_msg(kcl_parse_identity(c, n, 1, &id) == KEYCARD_ERR_PROTOCOL, "prefix %zu", n);
        if (n < 77)
            ck_assert_int_eq(kcl_parse_identity(c, n, 0, &id), KEYCARD_ERR_PROTOCOL);
        free(c);
    }
    /* Compressed point marker, wrong lengths. */
    blob[12] = 0x02;
    ck_assert_int_eq(kcl_parse_identity(blob, sizeof blob, 1, &id), KEYCARD_ERR_PROTOCOL);
    make_identity(blob);
    blob[78] = 63;
    ck_assert_int_eq(kcl_parse_identity(blob, sizeof blob, 1, &id), KEYCARD_ERR_PROTOCOL);
}
END_TEST

START_TEST(test_garbage)
{
    /* Random answers of every length: only OK or PROTOCOL, never a crash. */
    srand(1234);
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand() % 300);
        uint8_t *c = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            c[i] = (uint8_t)rand();
        /* Make tag bytes likely, so parsers go deep. */
        if (n > 2 && round % 2)
            for (size_t i = 0; i + 1 < n; i += 2 + (c[i + 1] & 0x0F))
                c[i] = (uint8_t)(0xC1 + rand() % 9);
        keycard_status st;
        keycard_identity id;
        keycard_audit_entry ent[8];
        size_t k;
        keycard_rc rc = kcl_parse_status(c, n, &st);
        ck_assert(rc == KEYCARD_OK || rc == KEYCARD_ERR_PROTOCOL);
        rc = kcl_parse_identity(c, n, 1, &id);
        ck_assert(rc == KEYCARD_OK || rc == KEYCARD_ERR_PROTOCOL);
        rc = kcl_parse_audit(c, n, ent, 8, &k, 0, 0);
        ck_assert(rc == KEYCARD_OK || rc == KEYCARD_ERR_PROTOCOL);
        if (rc == KEYCARD_OK)
            ck_assert_uint_le(k, 8);
        free(c);
    }
}
END_TEST

START_TEST(test_audit_parse)
{
    /* Wire entries: seq(4) time(4) event(1) len(1) data(len) prev(32). */
    uint8_t two[2 * (10 + 32) + 3 + 1];
    static const uint8_t e1[] = {0, 0, 0, 5, 0x65, 0, 0, 0, 0x01, 3, '4', '2', '7'};
    static const uint8_t e2[] = {0, 0, 0, 6, 0x65, 0, 0, 1, 0x03, 1, 0x82};
    memcpy(two, e1, sizeof e1);
    memset(two + sizeof e1, 0x11, 32); /* prev of seq 5 */
    memcpy(two + sizeof e1 + 32, e2, sizeof e2);
    memset(two + sizeof e1 + 32 + sizeof e2, 0x22, 32);
    const size_t first = sizeof e1 + 32;
    keycard_audit_entry e[4];
    size_t k = 0;
    uint8_t *c = heap_copy(two, sizeof two);
    ck_assert_int_eq(kcl_parse_audit(c, sizeof two, e, 4, &k, 0, 0), KEYCARD_OK);
    ck_assert_uint_eq(k, 2);
    ck_assert_uint_eq(e[0].seq, 5);
    ck_assert_uint_eq(e[0].time, 0x65000000);
    ck_assert_uint_eq(e[0].event, KEYCARD_AUDIT_UNLOCK);
    ck_assert_uint_eq(e[0].len, 3);
    ck_assert_mem_eq(e[0].data, "427", 3);
    ck_assert_uint_eq(e[0].prev[0], 0x11);
    ck_assert_uint_eq(e[0].prev[31], 0x11);
    ck_assert_uint_eq(e[1].seq, 6);
    ck_assert_uint_eq(e[1].data[0], 0x82);
    ck_assert_uint_eq(e[1].prev[31], 0x22);
    /* Room for one: one parsed, no error. */
    ck_assert_int_eq(kcl_parse_audit(c, sizeof two, e, 1, &k, 0, 0), KEYCARD_OK);
    ck_assert_uint_eq(k, 1);
    /* Not after the previous answer's last seq: hostile. */
    ck_assert_int_eq(kcl_parse_audit(c, sizeof two, e, 4, &k, 1, 5), KEYCARD_ERR_PROTOCOL);
    /* Every cut inside an entry (its prev included). */
    for (size_t n = 1; n < sizeof two; n++) {
        if (n == first)
            continue; /* a whole first entry */
        uint8_t *d = heap_copy(two, n);
        ck_assert_msg(kcl_parse_audit(d, n, e, 4, &k, 0, 0) == KEYCARD_ERR_PROTOCOL, "cut %zu",
                      n);
        free(d);
    }
    free(c);
    /* Entry data longer than the protocol maximum. */
    uint8_t big[10 + 73 + 32] = {0, 0, 0, 1, 0, 0, 0, 0, 1, 73};
    ck_assert_int_eq(kcl_parse_audit(big, sizeof big, e, 4, &k, 0, 0), KEYCARD_ERR_PROTOCOL);
    /* Repeated seq inside one answer. */
    uint8_t rep[2 * 42] = {0, 0, 0, 7, 0, 0, 0, 0, 1, 0};
    memcpy(rep + 42, rep, 10);
    ck_assert_int_eq(kcl_parse_audit(rep, sizeof rep, e, 4, &k, 0, 0), KEYCARD_ERR_PROTOCOL);
}
END_TEST

static Suite *lib_sw_suite(void)
{
    Suite *s = suite_create("lib_sw");
    TCase *tc = tcase_create("sw");
    tcase_add_loop_test(tc, test_sw_table, 0, sizeof sw_vectors / sizeof sw_vectors[0]);
    suite_add_tcase(s, tc);
    tc = tcase_create("encoding");
    tcase_add_loop_test(tc, test_apdu_encoding, 0, sizeof enc_vectors / sizeof enc_vectors[0]);
    tcase_add_test(tc, test_apdu_encoding_limits);
    suite_add_tcase(s, tc);
    tc = tcase_create("exchange");
    tcase_add_test(tc, test_exchange_plain);
    tcase_add_test(tc, test_exchange_get_response);
    tcase_add_test(tc, test_exchange_wrong_le);
    tcase_add_test(tc, test_exchange_wrong_le_twice);
    tcase_add_test(tc, test_exchange_endless_61);
    tcase_add_test(tc, test_exchange_too_long);
    tcase_add_test(tc, test_exchange_short_answer);
    tcase_add_test(tc, test_exchange_transport_error);
    suite_add_tcase(s, tc);
    tc = tcase_create("parse");
    tcase_add_test(tc, test_status_good);
    tcase_add_test(tc, test_status_truncated);
    tcase_add_loop_test(tc, test_status_mutated, 0,
                        sizeof status_mutations / sizeof status_mutations[0]);
    tcase_add_test(tc, test_tlv_long_lengths);
    tcase_add_test(tc, test_identity_good_and_tbs);
    tcase_add_test(tc, test_identity_truncated);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_audit_parse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lib_sw_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
