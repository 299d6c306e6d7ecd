/*
 * test_target_fs.c - the target card's file system and operational commands
 * (examples/targetcard/tc_fs.c, tc_apdu.c): a tree issued through envelopes,
 * then SELECT, READ/UPDATE BINARY, READ/APPEND RECORD, VERIFY (counter spent
 * and committed before the compare), GET CHALLENGE + EXTERNAL AUTHENTICATE,
 * access conditions, quotas, the file list, one commit per change and none
 * for a refused command, security state cleared by power events.
 */
#include <check.h>
#include <string.h>

#include "kc_crypto.h"
#include "support/kc_test_target.h"

static const uint8_t SERIAL[8] = {0x54, 0x43, 0x46, 0x53, 0x00, 0x00, 0x00, 0x07};
static const uint8_t K2[16] = {0x0F, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78,
                               0x87, 0x96, 0xA5, 0xB4, 0xC3, 0xD2, 0xE1, 0xF0};

#define ENV_OK(t, s, ins, p1, p2, d, n)                                                          \
    do {                                                                                         \
        uint16_t isw_;                                                                           \
        ck_assert_uint_eq(kc_tt_env(t, s, ins, p1, p2, d, n, &isw_, NULL), 0x9000);              \
        ck_assert_uint_eq(isw_, 0x9000);                                                         \
    } while (0)

/*
 * The tree: 1000 "SHOP" (quota 600) under the MF, in it key file 1100 with
 * PIN key 1 ("1234", 3 tries) and AES-128 key 2, transparent 1101 (32 bytes,
 * read always, change PIN 1), record 1102 (4 x 8, read AES 2, change PIN 1),
 * transparent 1103 (16 bytes, never/never). When lock, COMPLETE way (d).
 */
static void issued(kc_test_target *t, kc_tt_session *s, uint64_t seed, int lock)
{
    uint8_t k[18];
    kc_tt_new(t, seed);
    ck_assert_uint_eq(kc_tt_manufacture(t, SERIAL), 0x9000);
    ck_assert_uint_eq(kc_tt_begin(t, s, TC_WAY_TARGET_SEED, 1, kc_tt_key1, 32, SERIAL), 0x9000);
    ENV_OK(t, s, TC_INS_CREATE, 1, 0, "\x10\x00\x3F\x00\x02\x58\x00\x00\x04SHOP", 13);
    ENV_OK(t, s, TC_INS_CREATE, 2, 0, "\x11\x00\x10\x00\xFF", 5);
    ENV_OK(t, s, TC_INS_SET_KEY, 1, TC_FKEY_PIN, "\x11\x00\x03" "1234", 7);
    memcpy(k, "\x11\x00", 2);
    memcpy(k + 2, K2, 16);
    ENV_OK(t, s, TC_INS_SET_KEY, 2, TC_FKEY_AES128, k, 18);
    ENV_OK(t, s, TC_INS_CREATE, 3, 0, "\x11\x01\x10\x00\x03\x00\x20\x00\x11", 9);
    ENV_OK(t, s, TC_INS_CREATE, 3, 0, "\x11\x02\x10\x00\x04\x08\x04\x22\x11", 9);
    ENV_OK(t, s, TC_INS_CREATE, 3, 0, "\x11\x03\x10\x00\x03\x00\x10\xFF\xFF", 9);
    ENV_OK(t, s, TC_INS_WRITE_BINARY, 0, 0, "\x11\x01\x00\x00HELLO", 9);
    if (lock)
        ENV_OK(t, s, TC_INS_COMPLETE, 4, 0, NULL, 0);
}

static uint16_t sx(kc_test_target *t, const char *hex)
{
    return kc_tt_sendx(t, hex);
}

START_TEST(test_select)
{
    static const struct {
        const char *apdu;
        uint16_t sw;
    } cases[] = {
        {"00A4000C023F00", 0x9000}, {"00A4000C021000", 0x9000}, {"00A4000C021101", 0x9000},
        {"00A4000C021100", 0x9000}, {"00A4000C029999", 0x6A82}, {"00A4040C0453484F50", 0x9000},
        {"00A4040C044E4F5045", 0x6A82}, {"00A4040C024D46", 0x9000}, {"00A40100023F00", 0x6A86},
        {"00A4000C033F0000", 0x6700}, {"00A4000C023F0000", 0x6700},
    };
    kc_test_target t;
    kc_tt_session s;
    issued(&t, &s, 100, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(sx(&t, cases[i].apdu) == cases[i].sw, "case %zu", i);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_binary_access)
{
    kc_test_target t;
    kc_tt_session s;
    issued(&t, &s, 101, 1);

    ck_assert_uint_eq(sx(&t, "00B0000005"), 0x6986); /* no current EF */
    ck_assert_uint_eq(sx(&t, "00A4000C021101"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00B0000005"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 5);
    ck_assert_mem_eq(t.resp, "HELLO", 5);
    ck_assert_uint_eq(sx(&t, "00B0000000"), 0x9000); /* Le 00: up to 256, file is 32 */
    ck_assert_uint_eq(t.resp_len, 32);
    ck_assert_uint_eq(sx(&t, "00B0001E00"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 2);
    ck_assert_uint_eq(sx(&t, "00B0002000"), 0x6B00);
    ck_assert_uint_eq(sx(&t, "00B0800000"), 0x6A86);
    /* change needs PIN 1 */
    ck_assert_uint_eq(sx(&t, "00D6000002AABB"), 0x6982);
    ck_assert_uint_eq(sx(&t, "002000010431323334"), 0x9000);
    uint32_t c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(sx(&t, "00D6000102AABB"), 0x9000);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 1);
    ck_assert_uint_eq(sx(&t, "00D6002102AABB"), 0x6B00);
    ck_assert_uint_eq(sx(&t, "00D6001F02AABB"), 0x6700);
    ck_assert_uint_eq(sx(&t, "00B0000004"), 0x9000);
    ck_assert_mem_eq(t.resp, "H\xAA\xBBL", 4);
    /* never means never, PIN or not */
    ck_assert_uint_eq(sx(&t, "00A4000C021103"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00B0000001"), 0x6982);
    ck_assert_uint_eq(sx(&t, "00D6000001AA"), 0x6982);
    /* a key file is not readable, a record file not binary */
    ck_assert_uint_eq(sx(&t, "00A4000C021100"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00B0000001"), 0x6981);
    ck_assert_uint_eq(sx(&t, "00A4000C021102"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00D6000001AA"), 0x6981);
    /* power events clear the security state */
    static const int events[] = {KC_POWER_RESET, KC_POWER_OFF};
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(sx(&t, "002000010431323334"), 0x9000);
        kc_tt_power(&t, events[i]);
        if (events[i] == KC_POWER_OFF)
            kc_tt_power(&t, KC_POWER_ON);
        ck_assert_uint_eq(sx(&t, "00A4000C021101"), 0x9000);
        ck_assert_uint_eq(sx(&t, "00D6000002AABB"), 0x6982);
    }
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_verify_counter)
{
    kc_test_target t;
    kc_tt_session s;
    issued(&t, &s, 102, 1);

    ck_assert_uint_eq(sx(&t, "0020000100"), 0x6700); /* VERIFY takes no Le */
    ck_assert_uint_eq(sx(&t, "00200001"), 0x63C3); /* empty: tries, none spent */
    uint32_t c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(sx(&t, "002000010439393939"), 0x63C2);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 1); /* the spent try was committed */
    kc_tt_reboot(&t);
    ck_assert_uint_eq(sx(&t, "00200001"), 0x63C2);
    c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(sx(&t, "002000010431323334"), 0x9000);
    ck_assert_uint_eq(kc_tt_commits(&t), c0 + 2); /* spend, then restore */
    ck_assert_uint_eq(sx(&t, "00200001"), 0x63C3);
    /* block it */
    ck_assert_uint_eq(sx(&t, "002000010439393939"), 0x63C2);
    ck_assert_uint_eq(sx(&t, "002000010439393939"), 0x63C1);
    ck_assert_uint_eq(sx(&t, "002000010439393939"), 0x63C0);
    ck_assert_uint_eq(sx(&t, "00200001"), 0x6983);
    c0 = kc_tt_commits(&t);
    ck_assert_uint_eq(sx(&t, "002000010431323334"), 0x6983);
    ck_assert_uint_eq(kc_tt_commits(&t), c0); /* nothing spent when blocked */
    ck_assert_uint_eq(sx(&t, "00A4000C021101"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00D6000002AABB"), 0x6982);
    /* references that are not PIN keys */
    ck_assert_uint_eq(sx(&t, "002000020431323334"), 0x6A88); /* AES key */
    ck_assert_uint_eq(sx(&t, "002000050431323334"), 0x6A88); /* absent */
    ck_assert_uint_eq(sx(&t, "002000100431323334"), 0x6A86);
    ck_assert_uint_eq(sx(&t, "002001010431323334"), 0x6A86);
    kc_tt_free(&t);
}
END_TEST

/* The try is on flash before the compare: with the flash dead, even the right PIN fails. */
START_TEST(test_verify_spend_before_compare)
{
    kc_test_target t;
    kc_tt_session s;
    issued(&t, &s, 103, 1);
    t.ram.cut_after = (long)t.ram.ops; /* the next flash operation is cut */
    t.ram.cut_mode = KC_HW_RAM_CUT_NOTHING;
    ck_assert_uint_eq(sx(&t, "002000010431323334"), 0x6581);
    ck_assert_uint_eq(sx(&t, "00A4000C021101"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00D6000002AABB"), 0x6982); /* not verified */
    kc_tt_reboot(&t);
    ck_assert_uint_eq(sx(&t, "00200001"), 0x63C3);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_external_authenticate)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t mac[16], cmd[5 + 16] = {0x00, 0x82, 0x00, 0x02, 0x10};
    issued(&t, &s, 104, 1);

    ck_assert_uint_eq(sx(&t, "00A4000C021102"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00B2010408"), 0x6982);
    ck_assert_uint_eq(sx(&t, "008400000800"), 0x6700);
    ck_assert_uint_eq(sx(&t, "0084000008"), 0x6700);
    ck_assert_uint_eq(sx(&t, "00820002100102030405060708090A0B0C0D0E0F10"), 0x6985); /* no challenge */
    ck_assert_uint_eq(sx(&t, "0084000010"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 16);
    ck_assert_int_eq(kc_crypto_aes_cmac(K2, 16, t.resp, 16, mac), 0);
    memcpy(cmd + 5, mac, 16);
    ck_assert_uint_eq(kc_tt_send(&t, cmd, sizeof(cmd)), 0x9000);
    ck_assert_uint_eq(kc_tt_send(&t, cmd, sizeof(cmd)), 0x6985); /* one use per challenge */
    ck_assert_uint_eq(sx(&t, "00B2010408"), 0x6A83);             /* allowed now; no record yet */
    /* a wrong answer drops the authentication */
    ck_assert_uint_eq(sx(&t, "0084000010"), 0x9000);
    cmd[5] ^= 1;
    ck_assert_uint_eq(kc_tt_send(&t, cmd, sizeof(cmd)), 0x6300);
    ck_assert_uint_eq(sx(&t, "00B2010408"), 0x6982);
    /* a PIN key cannot authenticate */
    ck_assert_uint_eq(sx(&t, "0084000010"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00820001100102030405060708090A0B0C0D0E0F10"), 0x6A88);
    /* power clears it */
    ck_assert_uint_eq(sx(&t, "0084000010"), 0x9000);
    ck_assert_int_eq(kc_crypto_aes_cmac(K2, 16, t.resp, 16, mac), 0);
    memcpy(cmd + 5, mac, 16);
    ck_assert_uint_eq(kc_tt_send(&t, cmd, sizeof(cmd)), 0x9000);
    kc_tt_power(&t, KC_POWER_RESET);
    ck_assert_uint_eq(sx(&t, "00A4000C021102"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00B2010408"), 0x6982);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_records)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t mac[16], cmd[5 + 16] = {0x00, 0x82, 0x00, 0x02, 0x10};
    issued(&t, &s, 105, 1);

    ck_assert_uint_eq(sx(&t, "00A4000C021102"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00E20000080101010101010101"), 0x6982);
    ck_assert_uint_eq(sx(&t, "002000010431323334"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00E20000080101010101010101"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00E20000080202020202020202"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00E200000703030303030303"), 0x6700); /* records are 8 bytes */
    ck_assert_uint_eq(sx(&t, "00E20100080303030303030303"), 0x6A86);
    ck_assert_uint_eq(sx(&t, "00E20000080303030303030303"), 0x9000);
    ck_assert_uint_eq(sx(&t, "00E20000080404040404040404"), 0x9000);
    uint8_t d1[32], d2[32];
    kc_tt_store_digest(&t, d1);
    ck_assert_uint_eq(sx(&t, "00E20000080505050505050505"), 0x6A84); /* full */
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    ck_assert_uint_eq(sx(&t, "0084000010"), 0x9000);
    ck_assert_int_eq(kc_crypto_aes_cmac(K2, 16, t.resp, 16, mac), 0);
    memcpy(cmd + 5, mac, 16);
    ck_assert_uint_eq(kc_tt_send(&t, cmd, sizeof(cmd)), 0x9000);
    for (unsigned r = 1; r <= 4; r++) {
        uint8_t apdu[5] = {0x00, 0xB2, (uint8_t)r, 0x04, 0x08}, want[8];
        memset(want, (int)r, 8);
        ck_assert_uint_eq(kc_tt_send(&t, apdu, 5), 0x9000);
        ck_assert_uint_eq(t.resp_len, 8);
        ck_assert_mem_eq(t.resp, want, 8);
    }
    ck_assert_uint_eq(sx(&t, "00B2050408"), 0x6A83);
    ck_assert_uint_eq(sx(&t, "00B2000408"), 0x6A86);
    ck_assert_uint_eq(sx(&t, "00B2010C08"), 0x6A86);
    ck_assert_uint_eq(sx(&t, "00B2010404"), 0x6700); /* Le below the record length */
    kc_tt_free(&t);
}
END_TEST

/* Inner CREATE refusals in a session (before the lock): the inner status word, nothing created. */
static const struct {
    uint8_t p1;
    const char *data;
    size_t n;
    uint16_t isw;
} create_cases[] = {
    {3, "\x12\x01\x10\x00\x03\x03\x00\x00\x00", 9, 0x6A84},       /* 768 > 600 - 32 - 32 - 16 */
    {1, "\x20\x00\x3F\x00\x30\x00\x00\x00\x01X", 10, 0x6A84},      /* quota over the MF's */
    {3, "\x11\x01\x10\x00\x03\x00\x10\x00\x00", 9, 0x6A89},       /* FID taken */
    {1, "\x20\x00\x3F\x00\x00\x10\x00\x00\x04SHOP", 13, 0x6A89},   /* name taken */
    {3, "\x12\x01\x11\x01\x03\x00\x10\x00\x00", 9, 0x6981},       /* parent is a file */
    {3, "\x12\x01\x77\x77\x03\x00\x10\x00\x00", 9, 0x6A82},       /* no parent */
    {3, "\x12\x01\x10\x00\x03\x00\x10\x30\x00", 9, 0x6A80},       /* bad access condition */
    {3, "\x12\x01\x10\x00\x05\x00\x10\x00\x00", 9, 0x6A80},       /* bad kind */
    {3, "\x12\x01\x10\x00\x03\x00\x00\x00\x00", 9, 0x6A80},       /* size 0 */
    {3, "\x12\x01\x10\x00\x03\x04\x01\x00\x00", 9, 0x6A80},       /* size over 1024 */
    {3, "\x12\x01\x10\x00\x03\x00\x10\x00", 8, 0x6700},           /* short */
    {1, "\x20\x00\x3F\x00\x00\x10\x00\x00\x05SHOP", 13, 0x6700},   /* name length */
    {1, "\x20\x00\x3F\x00\x00\x10\x00\x00\x00", 9, 0x6700},        /* no name */
    {2, "\x3F\x00\x10\x00\x00", 5, 0x6A80},                        /* 3F00 is the MF */
    {4, "\x12\x01\x10\x00\x00", 5, 0x6A86},
};

START_TEST(test_create_refusals)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d1[32], d2[32];
    uint16_t isw;

    issued(&t, &s, 106, 0);
    kc_tt_store_digest(&t, d1);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, create_cases[_i].p1, 0, create_cases[_i].data,
                                create_cases[_i].n, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, create_cases[_i].isw);
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_quota_exact)
{
    kc_test_target t;
    kc_tt_session s;
    uint16_t isw;

    issued(&t, &s, 107, 0);
    /* 600 - 32 - 32 - 16 = 520 left: exactly that fits, one more byte does not */
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 3, 0, "\x12\x01\x10\x00\x03\x02\x09\x00\x00", 9, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A84);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 3, 0, "\x12\x01\x10\x00\x03\x02\x08\x00\x00", 9, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 3, 0, "\x12\x02\x10\x00\x03\x00\x01\x00\x00", 9, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A84);
    /* a key file costs no quota */
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_CREATE, 2, 0, "\x12\x03\x10\x00\x00", 5, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    /* SET KEY: key id taken by another key file, bad PIN form */
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_SET_KEY, 1, 1, "\x12\x03\x03" "5678", 7, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A89);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_SET_KEY, 3, 1, "\x12\x03\x03" "56a8", 7, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A80);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_SET_KEY, 3, 2, "\x12\x03\x03" "5678", 7, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6700);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_SET_KEY, 3, 1, "\x12\x01\x03" "5678", 7, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6981);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_SET_KEY, 16, 1, "\x12\x03\x03" "5678", 7, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6A86);
    /* WRITE BINARY / RECORD bounds */
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_BINARY, 0, 0, "\x11\x01\x00\x20\xAA", 5, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6700);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_BINARY, 0, 0, "\x11\x01\x00\x21\xAA", 5, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6B00);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_RECORD, 0, 0, "\x11\x02" "ABCDEFGH", 10, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x9000);
    ck_assert_uint_eq(kc_tt_env(&t, &s, TC_INS_WRITE_RECORD, 0, 0, "\x11\x01" "ABCDEFGH", 10, &isw, NULL), 0x9000);
    ck_assert_uint_eq(isw, 0x6981);
    kc_tt_free(&t);
}
END_TEST

START_TEST(test_file_list)
{
    static const uint8_t want[] = {
        0x3F, 0x00, 0x00, 0x00, 0x01, 0x30, 0x00, 0x00, 0xFF, 0x02, 'M', 'F',
        0x10, 0x00, 0x3F, 0x00, 0x01, 0x02, 0x58, 0x00, 0x00, 0x04, 'S', 'H', 'O', 'P',
        0x11, 0x00, 0x10, 0x00, 0x02, 0x00, 0x00, 0xFF, 0xFF, 0x00,
        0x11, 0x01, 0x10, 0x00, 0x03, 0x00, 0x20, 0x00, 0x11, 0x00,
        0x11, 0x02, 0x10, 0x00, 0x04, 0x00, 0x20, 0x22, 0x11, 0x00,
        0x11, 0x03, 0x10, 0x00, 0x03, 0x00, 0x10, 0xFF, 0xFF, 0x00,
    };
    kc_test_target t;
    kc_tt_session s;
    issued(&t, &s, 108, 1);
    ck_assert_uint_eq(sx(&t, "00CADF1100"), 0x9000);
    ck_assert_uint_eq(t.resp_len, sizeof(want));
    ck_assert_mem_eq(t.resp, want, sizeof(want));
    ck_assert_uint_eq(sx(&t, "00CADF1110"), 0x6700); /* does not fit Le */
    /* the completion kept with the lock: steps way len data mac(16) */
    ck_assert_uint_eq(sx(&t, "00CADF1200"), 0x9000);
    ck_assert_uint_eq(t.resp_len, 3u + t.resp[2] + 16u);
    ck_assert_uint_ge(t.resp[0], 1);
    ck_assert_uint_eq(sx(&t, "00CADF1300"), 0x6A88);
    kc_tt_free(&t);
}
END_TEST

/* Refused operational commands change nothing on flash. */
static const char *const refused[] = {
    "00D6000002AABB",          /* no PIN */
    "00E20000080101010101010101",
    "00B0000001",              /* no current EF (6986) */
    "00CA0000",                /* unknown GET DATA tag */
    "80F00000090102030405060708 01",
    "00A4000C029999",
    "0020000F0431323334",
    "00820002100102030405060708090A0B0C0D0E0F10",
    "A0A4000C023F00",          /* CLA */
    "10A4000C023F00",          /* chaining */
    "00FF0000",                /* INS */
    "84C200000400000001",      /* no session */
};

START_TEST(test_refused_change_nothing)
{
    kc_test_target t;
    kc_tt_session s;
    uint8_t d1[32], d2[32];
    issued(&t, &s, 109, 1);
    kc_tt_store_digest(&t, d1);
    uint32_t c0 = kc_tt_commits(&t);
    uint16_t sw = sx(&t, refused[_i]);
    ck_assert_uint_ne(sw, 0x9000);
    ck_assert_uint_eq(kc_tt_commits(&t), c0);
    kc_tt_store_digest(&t, d2);
    ck_assert_mem_eq(d1, d2, 32);
    kc_tt_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("target_fs");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_select);
    tcase_add_test(tc, test_binary_access);
    tcase_add_test(tc, test_verify_counter);
    tcase_add_test(tc, test_verify_spend_before_compare);
    tcase_add_test(tc, test_external_authenticate);
    tcase_add_test(tc, test_records);
    tcase_add_loop_test(tc, test_create_refusals, 0, sizeof(create_cases) / sizeof(create_cases[0]));
    tcase_add_test(tc, test_quota_exact);
    tcase_add_test(tc, test_file_list);
    tcase_add_loop_test(tc, test_refused_change_nothing, 0, sizeof(refused) / sizeof(refused[0]));
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
