/*
 * test_target.c - the target card's life cycle and issuance session
 * (examples/targetcard/): manufacture, plaintext issuance refused, envelopes
 * only in a seeded session, bad tags / wrong keys / stale and skipped
 * counters end the session, replays fail (same session, later session,
 * another card), each seeding way, each lock way, power events, and that
 * refused commands leave the store as it was. Envelopes are built in the test
 * with kc_env_seal exactly as the key card builds them.
 */
#include <check.h>
#include <string.h>

#include "support/kc_test_target.h"
#include "tc_keys.h"

static const uint8_t SERIAL_A[8] = {0x54, 0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t SERIAL_B[8] = {0x54, 0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};

/* CREATE FOLDER data: fid parent quota(2) rac wac name. */
static size_t folder(uint8_t *d, uint16_t fid, uint16_t parent, uint16_t quota, const char *name)
{
    size_t nl = strlen(name);
    d[0] = (uint8_t)(fid >> 8), d[1] = (uint8_t)fid;
    d[2] = (uint8_t)(parent >> 8), d[3] = (uint8_t)parent;
    d[4] = (uint8_t)(quota >> 8), d[5] = (uint8_t)quota;
    d[6] = 0x00, d[7] = 0xFF;
    d[8] = (uint8_t)nl;
    memcpy(d + 9, name, nl);
    return 9 + nl;
}

static void manufactured(kc_test_target *t, uint64_t seed, const uint8_t serial[8])
{
    kc_tt_new(t, seed);
    ck_assert_uint_eq(kc_tt_manufacture(t, serial), 0x9000);
}

static uint8_t info(kc_test_target *t, int idx) /* 0 state, 1 locks */
{
    ck_assert_uint_eq(kc_tt_sendx(t, "00CADF1000"), 0x9000);
    ck_assert_uint_eq(t->resp_len, 16);
    return t->resp[idx ? 15 : 12];
}

/* A session with key 1 (or 2 for the chain ways when key2), one folder created. */
static void begin(kc_test_target *t, kc_tt_session *s, uint8_t way, const uint8_t serial[8])
{
    ck_assert_uint_eq(kc_tt_begin(t, s, way, 1, kc_tt_key1, 32, serial), 0x9000);
}

/* ---- manufacture and state --------------------------------------------- */

START_TEST(test_manufacture)
{
    kc_test_target t;
    uint8_t d1[32], d2[32], atr[KC_ATR_MAX];

    kc_tt_new(&t, 1);
    ck_assert_str_eq(kc_target_card.name, "target");
    ck_assert_uint_eq(kc_target_card.flash_size, 64 * 1024);
    ck_assert_uint_eq(kc_target_card.page_size, 2048);
    size_t an = kc_target_card.atr(t.tc, atr, sizeof(atr));
    ck_assert_uint_eq(an, 16);
    ck_assert_mem_eq(atr + 6, "TARGET", 6);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_VIRGIN);
    ck_assert_mem_eq(t.resp, "\xC1\x08\0\0\0\0\0\0\0\0\xC5\x01\x00\xCA\x01\x00", 16);
    /* nothing but MANUFACTURE and GET DATA on a virgin card */
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C023F00"), 0x6985);
    ck_assert_uint_eq(kc_tt_sendx(&t, "80100300"), 0x6985);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00CADF11"), 0x6985);
    /* malformed manufacture data: nothing written */
    kc_tt_store_digest(&t, d1);
    ck_assert_uint_eq(kc_tt_sendx(&t, "80F0000009 0102030405060708 00"), 0x6A80);
    ck_assert_uint_eq(kc_tt_sendx(&t, "80F000000C 0102030405060708 01 01 00 10"), 0x6A80);
    ck_assert_uint_eq(kc_tt_sendx(&t, "80F0000008 0102030405060708"), 0x6700);
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);

    uint32_t c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(kc_tt_manufacture(&t, SERIAL_A), 0x9000);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 1); /* one commit */
    ck_assert_uint_eq(info(&t, 0), TC_STATE_MANUFACTURED);
    ck_assert_mem_eq(t.resp + 2, SERIAL_A, 8);
    ck_assert_uint_eq(kc_tt_manufacture(&t, SERIAL_B), 0x6985); /* only once */
    /* survives a reboot */
    kc_tt_reboot(&t);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_MANUFACTURED);
    ck_assert_mem_eq(t.resp + 2, SERIAL_A, 8);
    /* the master folder exists */
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C023F00"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4040C024D46"), 0x9000);
    kc_tt_free(&t);
}
END_TEST

/* ---- plaintext issuance commands are refused ---------------------------- */

static const char *const plain_issuance[] = {
    "80E001000E 1000 3F00 0100 00FF 05 4150503031",
    "80E0020005 1100 3F00 00",
    "80D8010107 1100 03 31323334",
    "80D6000005 1000 0000 AA",
    "80DC000003 1000 AA",
    "801E0400",
    "801E0100",
};

START_TEST(test_plaintext_issuance_refused)
{
    kc_test_target t;
    uint8_t d1[32], d2[32];

    manufactured(&t, 2, SERIAL_A);
    kc_tt_store_digest(&t, d1);
    ck_assert_uint_eq(kc_tt_sendx(&t, plain_issuance[_i]), 0x6985);
    /* also with a session open: plaintext stays refused */
    kc_tt_session s;
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_sendx(&t, plain_issuance[_i]), 0x6985);
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_MANUFACTURED);
    kc_tt_free(&t);
}
END_TEST

/* ---- envelopes need a seeded session ----------------------------------- */

START_TEST(test_envelope_needs_session)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t apdu[KC_ENV_APDU_MAX], d[32], d1[32], d2[32];
    size_t n = folder(d, 0x1000, 0x3F00, 256, "APP");

    manufactured(&t, 3, SERIAL_A);
    /* a host that "knows" the seed and the key still cannot start without BEGIN */
    memset(&s, 0, sizeof(s));
    memcpy(s.serial, SERIAL_A, 8);
    memcpy(s.kcard, kc_tt_key1, 32);
    s.kcard_len = 32;
    s.way = TC_WAY_STATIC;
    s.bucket = 128;
    kc_tt_store_digest(&t, d1);
    size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x6985);
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    kc_tt_free(&t);
}
END_TEST

/* ---- each seeding way --------------------------------------------------- */

static const uint8_t ways[] = {TC_WAY_STATIC, TC_WAY_TARGET_SEED, TC_WAY_HOST_SEED};

START_TEST(test_seeding_ways)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32];
    uint16_t isw;
    size_t il;

    manufactured(&t, 4, SERIAL_A);
    begin(&t, &s, ways[_i], SERIAL_A);
    if (ways[_i] == TC_WAY_STATIC)
        ck_assert_uint_eq(s.c, 0); /* first counter 1 */
    uint32_t c0 = kc_tt_commits(&t);
    size_t n = folder(d, 0x1000, 0x3F00, 256, "APP1");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, &il), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(il, 0);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 1); /* inner work + state + counter: one commit */
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUING);
    /* a second envelope in the same session, then the folder is there */
    n = folder(d, 0x2000, 0x3F00, 256, "APP2");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    /* an inner error is inside the MACed response; the outer SW is 9000 */
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A89);
    ck_assert_uint_eq(kc_tt_env(&t, &s, 0x44, 0, 0, NULL, 0, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6D00);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021000"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4040C0441505032"), 0x9000);
    kc_tt_free(&t);
}
END_TEST

/* Static counters persist: a new session continues after the last accepted one. */
START_TEST(test_static_counter_persists)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32], apdu[KC_ENV_APDU_MAX];
    uint16_t isw;

    manufactured(&t, 5, SERIAL_A);
    begin(&t, &s, TC_WAY_STATIC, SERIAL_A);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x9000);
    /* capture envelope 2 after it was accepted */
    n = folder(d, 0x1001, 0x3F00, 64, "B");
    size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x9000);
    kc_tt_reboot(&t);
    ck_assert_uint_eq(kc_tt_begin(&t, &s, TC_WAY_STATIC, 1, kc_tt_key1, 32, SERIAL_A), 0x9000);
    ck_assert_uint_eq(s.c, 2); /* next is 3 */
    /* the old envelope 2 is stale in the new session */
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x6985);
    /* static mode needs a key that allows it */
    ck_assert_uint_eq(kc_tt_cmd(&t, 0x80, TC_INS_BEGIN, TC_WAY_STATIC, 2, NULL, 0, 0), 0x6985);
    kc_tt_free(&t);
}
END_TEST

/* ---- BEGIN refusals ------------------------------------------------------ */

static const struct {
    const char *apdu;
    uint16_t sw;
} begin_cases[] = {
    {"8010030900", 0x6A88},  /* unknown key */
    {"8010030000", 0x6A88},  /* key 0 */
    {"8010020100", 0x6A86},  /* way 2 is not a target way */
    {"8010050100", 0x6A86},
    {"8010040110" "00112233445566778899AABBCCDDEEFF" "00", 0x6700}, /* v2: no data in BEGIN */
    {"8010030101AA00", 0x6700}, /* way 3 takes no data */
    {"8012000010" "00112233445566778899AABBCCDDEEFF", 0x6985}, /* BIND without BEGIN */
    {"8010010200", 0x6985},  /* key 2 has no STATIC */
};

START_TEST(test_begin_refusals)
{
    kc_test_target t;
    uint8_t d1[32], d2[32];
    manufactured(&t, 6, SERIAL_A);
    kc_tt_store_digest(&t, d1);
    ck_assert_uint_eq(kc_tt_sendx(&t, begin_cases[_i].apdu), begin_cases[_i].sw);
    ck_assert_uint_eq(kc_tt_sendx(&t, "84C200000400000001 00"), 0x6985); /* no session */
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    kc_tt_free(&t);
}
END_TEST

/* ---- bad tags, wrong keys, counters -------------------------------------- */

/* Where to flip one bit of a sealed envelope (offsets from the data field start). */
static const size_t flip_at[] = {0, 3, 4, 20, 4 + 127, 4 + 128, 4 + 128 + 15};

START_TEST(test_flipped_bit)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32], apdu[KC_ENV_APDU_MAX], d1[32], d2[32];
    uint16_t isw;

    manufactured(&t, 7, SERIAL_A);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
    ck_assert_uint_eq(len, 5 + 4 + 128 + 16 + 1);
    kc_tt_store_digest(&t, d1);
    apdu[5 + flip_at[_i]] ^= 0x01;
    uint16_t sw = kc_tt_send(&t, apdu, len);
    /* the counter bytes: counter check (6985); elsewhere the tag (6988) */
    ck_assert_uint_eq(sw, flip_at[_i] < 4 ? 0x6985 : 0x6988);
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    /* the session is over: the intact envelope is refused too */
    apdu[5 + flip_at[_i]] ^= 0x01;
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x6985);
    /* a new session works */
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_wrong_key)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32], apdu[KC_ENV_APDU_MAX], wrong[32];
    uint16_t isw;

    manufactured(&t, 8, SERIAL_A);
    memcpy(wrong, kc_tt_key1, 32);
    wrong[31] ^= 0x80;
    /* the card begins with key 1; the "key card" seals with another key */
    ck_assert_uint_eq(kc_tt_begin(&t, &s, ways[_i], 1, wrong, 32, SERIAL_A), 0x9000);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x6988);
    /* session ended: even a right envelope for the next counter is refused */
    begin(&t, &s, ways[_i], SERIAL_A);
    kc_tt_power(&t, KC_POWER_OFF); /* (and power events end sessions) */
    kc_tt_power(&t, KC_POWER_ON);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x6985);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_MANUFACTURED);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_counters)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32], apdu[KC_ENV_APDU_MAX], apdu2[KC_ENV_APDU_MAX];
    uint16_t isw;

    manufactured(&t, 9, SERIAL_A);
    begin(&t, &s, ways[_i], SERIAL_A);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x9000);
    /* replay in the same session: stale counter */
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x6985);
    /* and the session is over */
    n = folder(d, 0x1001, 0x3F00, 64, "B");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x6985);

    /* skipped counter */
    begin(&t, &s, ways[_i], SERIAL_A);
    (void)kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu2, sizeof(apdu2)); /* never sent */
    len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu2, sizeof(apdu2));
    ck_assert_uint_eq(kc_tt_send(&t, apdu2, len), 0x6985);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x6A82); /* not created */
    kc_tt_free(&t);
}
END_TEST

/* Replay into a later session and onto another card with the same keys. */
START_TEST(test_replay_later_session_and_other_card)
{
    kc_test_target t, u;
    kc_tt_session s, s2;
    uint8_t d[32], apdu[KC_ENV_APDU_MAX];

    manufactured(&t, 10, SERIAL_A);
    manufactured(&u, 11, SERIAL_B);
    begin(&t, &s, ways[_i], SERIAL_A);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
    ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x9000);

    /* later session of the same card */
    begin(&t, &s2, ways[_i], SERIAL_A);
    uint16_t sw = kc_tt_send(&t, apdu, len);
    ck_assert(sw == 0x6985 || sw == 0x6988);
    ck_assert_uint_eq(sw, ways[_i] == TC_WAY_STATIC ? 0x6985 : 0x6988);

    /* another card, same key, in a fresh session (counter 1 expected there too) */
    begin(&u, &s2, ways[_i], SERIAL_B);
    ck_assert_uint_eq(kc_tt_send(&u, apdu, len), 0x6988);
    ck_assert_uint_eq(kc_tt_sendx(&u, "00A4000C021000"), 0x6A82);
    ck_assert_uint_eq(info(&u, 0), TC_STATE_MANUFACTURED);
    kc_tt_free(&t);
    kc_tt_free(&u);
}
END_TEST

/* ---- lock ways ----------------------------------------------------------- */

START_TEST(test_lock_ways)
{
    static const uint8_t lock_bit[] = {TC_LOCK_A, TC_LOCK_B, TC_LOCK_C, TC_LOCK_D};
    uint8_t way = (uint8_t)(_i / 3 + 1), seeding = ways[_i % 3];
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32], mac[16], apdu[KC_ENV_APDU_MAX];
    uint16_t isw;
    size_t il;

    manufactured(&t, 20 + (uint64_t)_i, SERIAL_A);
    begin(&t, &s, seeding, SERIAL_A);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x9000);
    /* COMPLETE ISSUANCE with the lock way */
    uint8_t cd[2] = {0x0F, 0xFF};
    size_t cn = way == TC_LOCK_WAY_FILE ? 2 : 0;
    uint32_t c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, way, 0, cd, cn, &isw, &il), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 1);
    ck_assert_uint_eq(il, 16);
    uint8_t got[16];
    memcpy(got, t.resp + 6, 16);
    kc_tt_completion(&s, mac);
    ck_assert_mem_eq(got, mac, 16);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUED);
    ck_assert_uint_eq(info(&t, 1), lock_bit[way - 1]);

    /* the session is over: the next correctly encrypted command is refused */
    n = folder(d, 0x1001, 0x3F00, 64, "B");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x6985);

    /* after a power cycle too */
    kc_tt_reboot(&t);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUED);
    if (way == TC_LOCK_WAY_TABLE) {
        /* way b: sessions still open, but a tabled INS is refused, correctly encrypted */
        begin(&t, &s, seeding, SERIAL_A);
        ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x6985);
        begin(&t, &s, seeding, SERIAL_A);
        ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_RECORD, 0, 0, "\x10\x00\x01", 3, &isw, NULL), 0x6985);
        begin(&t, &s, seeding, SERIAL_A);
        ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 4, 0, NULL, 0, &isw, NULL), 0x6985);
    } else {
        /* ways a, c, d: no session can begin with the issuance key */
        ck_assert_uint_eq(kc_tt_begin(&t, &s, seeding, 1, kc_tt_key1, 32, SERIAL_A), 0x6985);
        size_t len = kc_tt_seal(&s, 0x80, TC_INS_CREATE, 1, 0, d, n, apdu, sizeof(apdu));
        ck_assert_uint_eq(kc_tt_send(&t, apdu, len), 0x6985);
    }
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x6A82); /* nothing was created */
    if (way == TC_LOCK_WAY_FILE) /* the completion file exists and is readable */
        ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C020FFF"), 0x9000);
    kc_tt_free(&t);
}
END_TEST

/* Lock way (b) with its own table: INS not in it still work after issuance. */
START_TEST(test_lock_table_custom)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[16], mac[16];
    uint16_t isw;

    manufactured(&t, 40, SERIAL_A);
    begin(&t, &s, TC_WAY_HOST_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 3, 0,
                                "\x10\x01\x3F\x00\x03\x00\x10\x00\xFF", 9, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 2, 0, "\xE0\xD8\x1E", 3, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    kc_tt_completion(&s, mac);
    ck_assert_mem_eq(t.resp + 6, mac, 16);
    /* secondary issuance: WRITE BINARY is not in the table */
    begin(&t, &s, TC_WAY_HOST_SEED, SERIAL_A);
    memcpy(d, "\x10\x01\x00\x02\xCA\xFE", 6);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_BINARY, 0, 0, d, 6, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, 6, &isw, NULL), 0x6985);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00B0000004"), 0x9000);
    ck_assert_mem_eq(t.resp, "\x00\x00\xCA\xFE", 4);
    kc_tt_free(&t);
}
END_TEST

/*
 * The attack of a host that chose the table of lock (b): {00} locked nothing
 * in protocol v1. After any lock the card refuses the primary issuance set
 * (CREATE, SET KEY, COMPLETE) whatever the table says; only what the issuer
 * left out of the set (secondary writes) still runs.
 */
START_TEST(test_lock_table_cannot_be_emptied)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32], mac[16];
    uint16_t isw;

    manufactured(&t, 42, SERIAL_A);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 3, 0,
                                "\x10\x01\x3F\x00\x03\x00\x10\x00\xFF", 9, &isw, NULL), 0x9000);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 2, 0, "\x00", 1, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    kc_tt_completion(&s, mac);
    ck_assert_mem_eq(t.resp + 6, mac, 16);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUED);
    /* a later session: a key file, a key, a new lock are all refused */
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    size_t n = folder(d, 0x1002, 0x3F00, 64, "X");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x6985);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 2, 0, "\x10\x03\x3F\x00\x00", 5, &isw,
                                NULL), 0x6985);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    memset(d, 0x41, sizeof d);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_SET_KEY, 5, 2, d, 18, &isw, NULL), 0x6985);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 2, 0, "\x00", 1, &isw, NULL), 0x6985);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021002"), 0x6A82);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021003"), 0x6A82);
    /* the table left WRITE BINARY open: secondary issuance still works */
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_BINARY, 0, 0, "\x10\x01\x00\x00\xAB", 5,
                                &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    kc_tt_free(&t);
}
END_TEST

/* Malformed COMPLETE is an inner error and changes nothing. */
START_TEST(test_complete_malformed)
{
    kc_test_target t;
    kc_tt_session s;
    uint16_t isw;

    manufactured(&t, 41, SERIAL_A);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 5, 0, NULL, 0, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A86);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 1, 0, "\x00", 1, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6700);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_COMPLETE, 3, 0, "\x3F\x00", 2, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A80); /* 3F00 is never a file id */
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUING);
    ck_assert_uint_eq(info(&t, 1), 0);
    kc_tt_free(&t);
}
END_TEST

/* Power events and a new BEGIN end the session. */
START_TEST(test_power_ends_session)
{
    static const int events[] = {KC_POWER_RESET, KC_POWER_OFF};
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32];
    uint16_t isw;

    manufactured(&t, 42, SERIAL_A);
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    kc_tt_power(&t, events[_i]);
    if (events[_i] == KC_POWER_OFF)
        kc_tt_power(&t, KC_POWER_ON);
    size_t n = folder(d, 0x1000, 0x3F00, 64, "A");
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 1, 0, d, n, &isw, NULL), 0x6985);
    kc_tt_free(&t);
}
END_TEST

/* Padding buckets: every envelope of a session has the same length on the wire. */
START_TEST(test_bucket_sizes)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[300];
    uint16_t isw;

    manufactured(&t, 43, SERIAL_A);
    begin(&t, &s, TC_WAY_HOST_SEED, SERIAL_A);
    s.bucket = 512;
    memset(d, 0x5A, sizeof(d));
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 3, 0,
                                "\x10\x01\x3F\x00\x03\x01\x2C\x00\x00", 9, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    uint8_t wb[304] = {0x10, 0x01, 0x00, 0x00};
    memcpy(wb + 4, d, 300);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_BINARY, 0, 0, wb, sizeof(wb), &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00B00000000000"), 0x9000); /* extended Le: all */
    ck_assert_uint_eq(t.resp_len, 300);
    ck_assert_mem_eq(t.resp, d, 300);
    kc_tt_free(&t);
}
END_TEST

/* ---- packed sessions --------------------------------------------------- */

/*
 * A packed session in every seeding way: several inner commands per
 * envelope, each its own commit, the lock last; the answers one per inner
 * command and the completion MAC the key card expects over all of them.
 */
START_TEST(test_packed_session)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d1[32], d2[32], mac[16];
    uint16_t sws[8];
    size_t n1, n2, k;

    manufactured(&t, 60 + _i, SERIAL_A);
    ck_assert_uint_eq(kc_tt_begin(&t, &s, ways[_i] | TC_BEGIN_PACKED, 1, kc_tt_key1, 32, SERIAL_A),
                      0x9000);
    n1 = folder(d1, 0x1000, 0x3F00, 256, "APP1");
    n2 = folder(d2, 0x2000, 0x3F00, 256, "APP2");
    kc_tt_item first[] = {
        {TC_INS_CREATE, 1, 0, d1, n1},
        {TC_INS_CREATE, 1, 0, d2, n2},
        {TC_INS_CREATE, TC_CREATE_DATA_FILE, 0, "\x10\x01\x10\x00\x03\x00\x10\x00\x00", 9},
    };
    uint32_t c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(kc_tt_env_packed(&t, &s, first, 3, sws, &k), 0x9000);
    ck_assert_uint_eq(k, 3);
    for (size_t i = 0; i < k; i++)
        ck_assert_uint_eq(sws[i], 0x9000);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 3); /* one commit per inner command */
    kc_tt_item last[] = {
        {TC_INS_WRITE_BINARY, 0, 0, "\x10\x01\x00\x00hello", 9},
        {TC_INS_COMPLETE, TC_LOCK_WAY_FLAG, 0, NULL, 0},
    };
    ck_assert_uint_eq(kc_tt_env_packed(&t, &s, last, 2, sws, &k), 0x9000);
    ck_assert_uint_eq(k, 2);
    /* The completion MAC (the last answer's data) is the one over all five. */
    kc_tt_completion(&s, mac);
    ck_assert_uint_eq(t.resp[t.resp_len - 16 - 16 - 1], 16);
    ck_assert_mem_eq(t.resp + t.resp_len - 16 - 16, mac, 16);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUED);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021000"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00B0000005"), 0x9000);
    ck_assert_mem_eq(t.resp, "hello", 5);
    kc_tt_free(&t);
}
END_TEST

/*
 * The attacker's packed envelopes, each sealed with the session's real keys
 * (a key card that packs wrongly): a refused inner command stops the rest
 * of its envelope and ends the session; a lock that is not last, or a
 * one-command plaintext in a packed session (its CLA 80 read as a count),
 * runs nothing at all.
 */
START_TEST(test_packed_refusals)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d[32];
    uint16_t sws[8];
    size_t n, k;

    manufactured(&t, 70, SERIAL_A);
    begin(&t, &s, TC_WAY_TARGET_SEED | TC_BEGIN_PACKED, SERIAL_A);
    n = folder(d, 0x1000, 0x3F00, 256, "APP1");
    kc_tt_item dup[] = {{TC_INS_CREATE, 1, 0, d, n}, {TC_INS_CREATE, 1, 0, d, n},
                        {TC_INS_CREATE, TC_CREATE_DATA_FILE, 0,
                         "\x10\x01\x10\x00\x03\x00\x10\x00\x00", 9}};
    ck_assert_uint_eq(kc_tt_env_packed(&t, &s, dup, 3, sws, &k), 0x9000);
    ck_assert_uint_eq(k, 2); /* the third did not run */
    ck_assert_uint_eq(sws[0], 0x9000);
    ck_assert_uint_eq(sws[1], 0x6A89);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021000"), 0x9000);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x6A82);
    /* The session is over. */
    ck_assert_uint_eq(kc_tt_env_packed(&t, &s, dup + 2, 1, sws, &k), 0x6985);

    /* The lock before another command: refused whole, nothing runs. */
    begin(&t, &s, TC_WAY_TARGET_SEED | TC_BEGIN_PACKED, SERIAL_A);
    uint32_t c0 = kc_tt_commits(&t);
    kc_tt_item early[] = {{TC_INS_COMPLETE, TC_LOCK_WAY_FLAG, 0, NULL, 0}, dup[2]};
    ck_assert_uint_eq(kc_tt_env_packed(&t, &s, early, 2, sws, &k), 0x6988);
    ck_assert_uint_eq(kc_tt_commits(&t), c0);
    ck_assert_uint_eq(info(&t, 0), TC_STATE_ISSUING);
    ck_assert_uint_eq(info(&t, 1), 0);

    /* An unpacked plaintext sealed with a packed session's keys: no command runs. */
    begin(&t, &s, TC_WAY_TARGET_SEED | TC_BEGIN_PACKED, SERIAL_A);
    uint8_t apdu[KC_ENV_APDU_MAX];
    size_t al = kc_tt_seal(&s, 0x80, TC_INS_CREATE, TC_CREATE_DATA_FILE, 0,
                           "\x10\x01\x10\x00\x03\x00\x10\x00\x00", 9, apdu, sizeof apdu);
    ck_assert_uint_eq(kc_tt_send(&t, apdu, al), 0x6988);
    ck_assert_uint_eq(kc_tt_commits(&t), c0);
    ck_assert_uint_eq(kc_tt_sendx(&t, "00A4000C021001"), 0x6A82);

    /* A packed plaintext in an unpacked session: malformed for it, nothing runs. */
    begin(&t, &s, TC_WAY_TARGET_SEED, SERIAL_A);
    s.packed = 1;
    kc_tt_item one[] = {dup[2]};
    ck_assert_uint_eq(kc_tt_env_packed(&t, &s, one, 1, sws, &k), 0x6988);
    ck_assert_uint_eq(kc_tt_commits(&t), c0);
    kc_tt_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("target");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_manufacture);
    tcase_add_loop_test(tc, test_plaintext_issuance_refused, 0,
                        sizeof(plain_issuance) / sizeof(plain_issuance[0]));
    tcase_add_test(tc, test_envelope_needs_session);
    tcase_add_loop_test(tc, test_seeding_ways, 0, 3);
    tcase_add_test(tc, test_static_counter_persists);
    tcase_add_loop_test(tc, test_begin_refusals, 0, sizeof(begin_cases) / sizeof(begin_cases[0]));
    tcase_add_loop_test(tc, test_flipped_bit, 0, sizeof(flip_at) / sizeof(flip_at[0]));
    tcase_add_loop_test(tc, test_wrong_key, 0, 3);
    tcase_add_loop_test(tc, test_counters, 0, 3);
    tcase_add_loop_test(tc, test_replay_later_session_and_other_card, 0, 3);
    tcase_add_loop_test(tc, test_lock_ways, 0, 12);
    tcase_add_test(tc, test_lock_table_custom);
    tcase_add_test(tc, test_lock_table_cannot_be_emptied);
    tcase_add_test(tc, test_complete_malformed);
    tcase_add_loop_test(tc, test_power_ends_session, 0, 2);
    tcase_add_test(tc, test_bucket_sizes);
    tcase_add_loop_test(tc, test_packed_session, 0, 3);
    tcase_add_test(tc, test_packed_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
