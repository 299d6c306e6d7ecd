/*
 * test_malformed.c - malformed APDUs against every command of both cards
 * (issue 4 item 6): wrong Lc, missing / extra / too small Le, truncated and
 * over-long data, extended length, broken chaining and wrong P1/P2, each with
 * the status word docs/apdu.md and docs/target-card.md give, and the proof
 * that a refused command changed nothing: the committed store contents, the
 * raw flash image, and the volatile state that matters (verified
 * credentials, an open provisioning or issuance session, no dangling chain).
 *
 * Every row runs in several card states, restored from a snapshot before
 * each row: key card provisioned with every credential verified (KR), blank
 * and selected (KB), blank with a provisioning session open (KS), provisioned
 * with the PINs verified and an issuance session open (KI); target card manufactured (TM), virgin
 * (TV) and in the middle of an issuance session (TS). The list of INS codes
 * in this file is checked against the dispatchers (INS 00..FF under every
 * CLA), so a command added to a firmware table without rows here fails.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "support/kc_test_card.h"
#include "support/kc_test_target.h"

/* ---- APDU building ---------------------------------------------------- */

enum enc {
    E_SHORT,     /* short length (case 1..4S) */
    E_EXT,       /* extended length (case 2E..4E), Le two bytes */
    E_LC_PLUS1,  /* short Lc one more than the data that follows */
    E_LC_MINUS2, /* short Lc two less than the data that follows */
    E_EXT_LC0,   /* extended Lc 0000 followed by data */
    E_HDR3,      /* only CLA INS P1 */
};

#define NO_LE (-1)
#define FILL 0x31 /* '1': digits, so PIN rows fail on what they test */

typedef struct step {
    uint8_t h[4];
    uint8_t enc;
    uint16_t n;       /* data length */
    const char *data; /* hex data (n ignored), or NULL: n bytes of FILL */
    int le;           /* NO_LE, or the Le value (256 / 65536 as 0) */
    uint16_t sw[4];   /* per state: KR KB KS KI, or TM TV TS - */
} step;

#define MAX_STEPS 3
typedef struct row {
    const char *what;
    int kill;         /* 1: the row ends the issuance session (KI / TS) */
    step s[MAX_STEPS];
} row;

static size_t build(const step *st, uint8_t *out)
{
    uint8_t d[8192];
    size_t n = st->data ? kc_test_hex(st->data, d, sizeof(d)) : st->n;
    size_t len = 4;

    if (!st->data)
        memset(d, FILL, n);
    memcpy(out, st->h, 4);
    switch (st->enc) {
    case E_HDR3:
        return 3;
    case E_LC_PLUS1:
    case E_LC_MINUS2:
        ck_assert_uint_ge(n, 2);
        out[len++] = (uint8_t)(st->enc == E_LC_PLUS1 ? n + 1 : n - 2);
        memcpy(out + len, d, n);
        return len + n;
    case E_EXT_LC0:
        out[len++] = 0, out[len++] = 0, out[len++] = 0;
        memcpy(out + len, d, n);
        return len + n;
    case E_EXT:
        out[len++] = 0;
        if (n) {
            out[len++] = (uint8_t)(n >> 8), out[len++] = (uint8_t)n;
            memcpy(out + len, d, n);
            len += n;
        }
        if (st->le >= 0)
            out[len++] = (uint8_t)(st->le >> 8), out[len++] = (uint8_t)st->le;
        else
            ck_assert_uint_gt(n, 0); /* "00" alone would be a short Le */
        return len;
    default:
        ck_assert_uint_le(n, 255);
        if (n) {
            out[len++] = (uint8_t)n;
            memcpy(out + len, d, n);
            len += n;
        }
        if (st->le >= 0)
            out[len++] = (uint8_t)st->le;
        return len;
    }
}

/* ---- the key card ------------------------------------------------------ */

enum { KR, KB, KS, KI, K_STATES };
static const char *const kstate_name[] = {"KR", "KB", "KS", "KI"};

#define AID "F04B4559434152440001"
#define SX(sw) sw, sw, sw, sw
#define S4(r, b, s, i) r, b, s, i
#define ST(c, i, p1, p2, enc, n, data, le, ...) {{c, i, p1, p2}, enc, n, data, le, {__VA_ARGS__}}
/* A one-step row. */
#define K1(what, kill, c, i, p1, p2, enc, n, data, le, ...) \
    {what, kill, {ST(c, i, p1, p2, enc, n, data, le, __VA_ARGS__)}}

/* way 01 BEGIN data: serial key 1 bucket 128 Nt first counter 1; way 04: the first 27 bytes. */
#define NT "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
#define BEGIN01 "5443000000000001 01 0080" NT "00000001"
#define BEGIN04 "5443000000000001 01 0080" NT

static const row krows[] = {
    /* SELECT */
    K1("SELECT P1 not 04", 0, 0x00, 0xA4, 0x00, 0x0C, E_SHORT, 0, AID, NO_LE, SX(0x6A86)),
    K1("SELECT P2 not 00/0C", 0, 0x00, 0xA4, 0x04, 0x01, E_SHORT, 0, AID, NO_LE, SX(0x6A86)),
    K1("SELECT without AID", 0, 0x00, 0xA4, 0x04, 0x0C, E_SHORT, 0, NULL, NO_LE, SX(0x6700)),
    K1("SELECT AID of 17 bytes", 0, 0x00, 0xA4, 0x04, 0x0C, E_SHORT, 17, NULL, NO_LE, SX(0x6700)),
    K1("SELECT P2 0C with Le", 0, 0x00, 0xA4, 0x04, 0x0C, E_SHORT, 0, AID, 0, SX(0x6700)),
    K1("SELECT P2 0C with extended Le", 0, 0x00, 0xA4, 0x04, 0x0C, E_EXT, 0, AID, 0, SX(0x6700)),
    K1("SELECT P2 00 Le below the blob", 0, 0x00, 0xA4, 0x04, 0x00, E_SHORT, 0, AID, 0x20, SX(0x6700)),
    /* VERIFY */
    K1("VERIFY P1 01", 0, 0x00, 0x20, 0x01, 0x81, E_SHORT, 8, NULL, NO_LE, SX(0x6A86)),
    K1("VERIFY P2 84", 0, 0x00, 0x20, 0x00, 0x84, E_SHORT, 8, NULL, NO_LE, SX(0x6A86)),
    K1("VERIFY P2 00", 0, 0x00, 0x20, 0x00, 0x00, E_SHORT, 8, NULL, NO_LE, SX(0x6A86)),
    K1("VERIFY with Le", 0, 0x00, 0x20, 0x00, 0x81, E_SHORT, 8, NULL, 0, SX(0x6700)),
    K1("VERIFY extended with Le", 0, 0x00, 0x20, 0x00, 0x81, E_EXT, 8, NULL, 0, SX(0x6700)),
    K1("VERIFY case 2 (Le only)", 0, 0x00, 0x20, 0x00, 0x81, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("VERIFY 33 bytes", 0, 0x00, 0x20, 0x00, 0x81, E_SHORT, 33, NULL, NO_LE, SX(0x6700)),
    K1("VERIFY 33 bytes extended", 0, 0x00, 0x20, 0x00, 0x81, E_EXT, 33, NULL, NO_LE, SX(0x6700)),
    K1("VERIFY PIN of 3 digits", 0, 0x00, 0x20, 0x00, 0x81, E_SHORT, 3, NULL, NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    K1("VERIFY PIN of 17 digits", 0, 0x00, 0x20, 0x00, 0x81, E_SHORT, 17, NULL, NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    K1("VERIFY PIN not digits", 0, 0x00, 0x20, 0x00, 0x81, E_SHORT, 0, "3132333A", NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    K1("VERIFY admin key of 15 bytes", 0, 0x00, 0x20, 0x00, 0x83, E_SHORT, 15, NULL, NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    /* CHANGE REFERENCE DATA */
    K1("CHANGE P1 01", 0, 0x00, 0x24, 0x01, 0x81, E_SHORT, 16, NULL, NO_LE, SX(0x6A86)),
    K1("CHANGE P2 84", 0, 0x00, 0x24, 0x00, 0x84, E_SHORT, 16, NULL, NO_LE, SX(0x6A86)),
    K1("CHANGE without data", 0, 0x00, 0x24, 0x00, 0x81, E_SHORT, 0, NULL, NO_LE, SX(0x6700)),
    K1("CHANGE 65 bytes", 0, 0x00, 0x24, 0x00, 0x81, E_SHORT, 65, NULL, NO_LE, SX(0x6700)),
    K1("CHANGE with Le", 0, 0x00, 0x24, 0x00, 0x81, E_SHORT, 16, NULL, 0, SX(0x6700)),
    K1("CHANGE old value only", 0, 0x00, 0x24, 0x00, 0x81, E_SHORT, 8, NULL, NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    K1("CHANGE new PIN of 2 digits", 0, 0x00, 0x24, 0x00, 0x81, E_SHORT, 10, NULL, NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    K1("CHANGE new PIN of 17 digits", 0, 0x00, 0x24, 0x00, 0x81, E_SHORT, 25, NULL, NO_LE,
       S4(0x6A80, 0x6985, 0x6985, 0x6A80)),
    /* RESET RETRY COUNTER */
    K1("RRC P1 01", 0, 0x00, 0x2C, 0x01, 0x81, E_SHORT, 6, NULL, NO_LE, SX(0x6A86)),
    K1("RRC P2 83", 0, 0x00, 0x2C, 0x02, 0x83, E_SHORT, 6, NULL, NO_LE, SX(0x6A86)),
    K1("RRC P2 00", 0, 0x00, 0x2C, 0x03, 0x00, E_SHORT, 0, NULL, NO_LE, SX(0x6A86)),
    K1("RRC with Le", 0, 0x00, 0x2C, 0x03, 0x81, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("RRC 17 bytes", 0, 0x00, 0x2C, 0x02, 0x81, E_SHORT, 17, NULL, NO_LE, SX(0x6700)),
    K1("RRC P1 02 without data", 0, 0x00, 0x2C, 0x02, 0x81, E_SHORT, 0, NULL, NO_LE,
       S4(0x6700, 0x6982, 0x6982, 0x6982)),
    K1("RRC P1 03 with data", 0, 0x00, 0x2C, 0x03, 0x81, E_SHORT, 6, NULL, NO_LE,
       S4(0x6700, 0x6982, 0x6982, 0x6982)),
    K1("RRC P1 02 PIN of 3 digits", 0, 0x00, 0x2C, 0x02, 0x81, E_SHORT, 3, NULL, NO_LE,
       S4(0x6A80, 0x6982, 0x6982, 0x6982)),
    /* GET DATA */
    K1("GET DATA P1P2 0000", 0, 0x00, 0xCA, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6A88)),
    K1("GET DATA DF04 (not readable)", 0, 0x00, 0xCA, 0xDF, 0x04, E_SHORT, 0, NULL, 0, SX(0x6A88)),
    K1("GET DATA DF03 with data", 0, 0x00, 0xCA, 0xDF, 0x03, E_SHORT, 1, NULL, 0, SX(0x6700)),
    K1("GET DATA 5F20 with data", 0, 0x00, 0xCA, 0x5F, 0x20, E_SHORT, 1, NULL, 0, SX(0x6700)),
    K1("GET DATA DF05 with 2 bytes", 0, 0x00, 0xCA, 0xDF, 0x05, E_SHORT, 2, NULL, 0, SX(0x6700)),
    K1("GET DATA DF03 Le 20", 0, 0x00, 0xCA, 0xDF, 0x03, E_SHORT, 0, NULL, 0x20, SX(0x6700)),
    K1("GET DATA DF05 Le 01", 0, 0x00, 0xCA, 0xDF, 0x05, E_SHORT, 0, NULL, 1,
       S4(0x6700, 0x6985, 0x6985, 0x6982)),
    K1("GET DATA DF06 Le 01", 0, 0x00, 0xCA, 0xDF, 0x06, E_SHORT, 0, NULL, 1,
       S4(0x6700, 0x6985, 0x6985, 0x6982)),
    /* INTERNAL AUTHENTICATE */
    K1("IA P1 01", 0, 0x00, 0x88, 0x01, 0x00, E_SHORT, 8, NULL, 0, SX(0x6A86)),
    K1("IA P2 01", 0, 0x00, 0x88, 0x00, 0x01, E_SHORT, 8, NULL, 0, SX(0x6A86)),
    K1("IA challenge of 7", 0, 0x00, 0x88, 0x00, 0x00, E_SHORT, 7, NULL, 0, SX(0x6700)),
    K1("IA challenge of 65", 0, 0x00, 0x88, 0x00, 0x00, E_SHORT, 65, NULL, 0, SX(0x6700)),
    K1("IA without challenge", 0, 0x00, 0x88, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("IA Le 63", 0, 0x00, 0x88, 0x00, 0x00, E_SHORT, 8, NULL, 63, SX(0x6700)),
    K1("IA extended Le 63", 0, 0x00, 0x88, 0x00, 0x00, E_EXT, 8, NULL, 63, SX(0x6700)),
    /* AUDIT READ */
    K1("AUDIT READ P1 01", 0, 0x80, 0xA0, 0x01, 0x00, E_SHORT, 4, NULL, 0, SX(0x6A86)),
    K1("AUDIT READ 3 bytes", 0, 0x80, 0xA0, 0x00, 0x00, E_SHORT, 3, NULL, 0, SX(0x6700)),
    K1("AUDIT READ 5 bytes", 0, 0x80, 0xA0, 0x00, 0x00, E_SHORT, 5, NULL, 0, SX(0x6700)),
    K1("AUDIT READ no data", 0, 0x80, 0xA0, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("AUDIT READ Le 01", 0, 0x80, 0xA0, 0x00, 0x00, E_SHORT, 0, "00000000", 1,
       S4(0x6700, 0x6982, 0x6982, 0x6982)),
    K1("AUDIT READ under CLA 00", 0, 0x00, 0xA0, 0x00, 0x00, E_SHORT, 0, "00000000", 0, SX(0x6D00)),
    /* AUDIT SIGN / AUDIT ACKNOWLEDGE */
    K1("AUDIT SIGN P1 01", 0, 0x80, 0xA2, 0x01, 0x00, E_SHORT, 8, NULL, 0, SX(0x6A86)),
    K1("AUDIT SIGN nonce of 7", 0, 0x80, 0xA2, 0x00, 0x00, E_SHORT, 7, NULL, 0, SX(0x6700)),
    K1("AUDIT SIGN nonce of 33", 0, 0x80, 0xA2, 0x00, 0x00, E_SHORT, 33, NULL, 0, SX(0x6700)),
    K1("AUDIT SIGN Le 103", 0, 0x80, 0xA2, 0x00, 0x00, E_SHORT, 8, NULL, 103, SX(0x6700)),
    K1("AUDIT ACK P2 01", 0, 0x80, 0xA4, 0x00, 0x01, E_SHORT, 4, NULL, NO_LE, SX(0x6A86)),
    K1("AUDIT ACK 3 bytes", 0, 0x80, 0xA4, 0x00, 0x00, E_SHORT, 3, NULL, NO_LE, SX(0x6700)),
    K1("AUDIT ACK 5 bytes", 0, 0x80, 0xA4, 0x00, 0x00, E_SHORT, 5, NULL, NO_LE, SX(0x6700)),
    K1("AUDIT ACK with Le", 0, 0x80, 0xA4, 0x00, 0x00, E_SHORT, 4, NULL, 0, SX(0x6700)),
    /* PROVISION BEGIN / GENERATE / COMMIT / ABORT */
    K1("PROV BEGIN P1 01", 0, 0x80, 0xE0, 0x01, 0x00, E_SHORT, 0, NULL, NO_LE, SX(0x6A86)),
    K1("PROV BEGIN P2 01", 0, 0x80, 0xE0, 0x00, 0x01, E_SHORT, 0, NULL, NO_LE, SX(0x6A86)),
    K1("PROV BEGIN with data", 0, 0x80, 0xE0, 0x00, 0x00, E_SHORT, 1, NULL, NO_LE, SX(0x6700)),
    K1("PROV BEGIN with Le", 0, 0x80, 0xE0, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("PROV BEGIN under CLA 00", 0, 0x00, 0xE0, 0x00, 0x00, E_SHORT, 0, NULL, NO_LE, SX(0x6D00)),
    K1("PROV GENERATE P1 02", 0, 0x80, 0xE4, 0x02, 0x00, E_SHORT, 0, NULL, 0, SX(0x6A86)),
    K1("PROV GENERATE P1 01 P2 01", 0, 0x80, 0xE4, 0x01, 0x01, E_SHORT, 0, NULL, 0, SX(0x6A86)),
    K1("PROV GENERATE P1 01 Le 76", 0, 0x80, 0xE4, 0x01, 0x00, E_SHORT, 0, NULL, 76, SX(0x6700)),
    /* PROVISION GENERATE P1 20: a key made on the card; lengths judged before the state */
    K1("KEY GENERATE P2 00", 0, 0x80, 0xE4, 0x20, 0x00, E_SHORT, 0, "020200", 0, SX(0x6A86)),
    K1("KEY GENERATE P2 FF", 0, 0x80, 0xE4, 0x20, 0xFF, E_SHORT, 0, "020200", 0, SX(0x6A86)),
    K1("KEY GENERATE no data", 0, 0x80, 0xE4, 0x20, 0x09, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("KEY GENERATE 2 bytes", 0, 0x80, 0xE4, 0x20, 0x09, E_SHORT, 0, "0202", 0, SX(0x6700)),
    K1("KEY GENERATE label past the data", 0, 0x80, 0xE4, 0x20, 0x09, E_SHORT, 0, "0202054142",
       0, SX(0x6700)),
    K1("KEY GENERATE label short of the data", 0, 0x80, 0xE4, 0x20, 0x09, E_SHORT, 0,
       "020201414242", 0, SX(0x6700)),
    K1("KEY GENERATE Le 2", 0, 0x80, 0xE4, 0x20, 0x09, E_SHORT, 0, "020200", 2, SX(0x6700)),
    K1("KEY GENERATE 36 bytes", 0, 0x80, 0xE4, 0x20, 0x09, E_SHORT, 36, NULL, 0, SX(0x6700)),
    /* Key components (PUT P1 22) and their combination (GENERATE P1 21): lengths first */
    K1("KEY COMPONENT 3 bytes", 0, 0x80, 0xE2, 0x22, 0x0B, E_SHORT, 0, "010200", NO_LE, SX(0x6700)),
    K1("KEY COMPONENT no custodian", 0, 0x80, 0xE2, 0x22, 0x0B, E_SHORT, 0,
       "01020000" "00000000000000000000000000000000" "000000", NO_LE, SX(0x6700)),
    K1("KEY COMPONENT custodian 33", 0, 0x80, 0xE2, 0x22, 0x0B, E_SHORT, 0, "01020021", NO_LE,
       SX(0x6700)),
    K1("KEY COMPONENT one byte short", 0, 0x80, 0xE2, 0x22, 0x0B, E_SHORT, 0,
       "0102000141" "000000000000000000000000000000" "000000", NO_LE, SX(0x6700)),
    K1("KEY COMBINE P2 00", 0, 0x80, 0xE4, 0x21, 0x00, E_SHORT, 0, "02", 0, SX(0x6A86)),
    K1("KEY COMBINE no data", 0, 0x80, 0xE4, 0x21, 0x0B, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("KEY COMBINE 2 bytes", 0, 0x80, 0xE4, 0x21, 0x0B, E_SHORT, 0, "0202", 0, SX(0x6700)),
    K1("KEY COMBINE Le 2", 0, 0x80, 0xE4, 0x21, 0x0B, E_SHORT, 0, "02", 2, SX(0x6700)),
    /* KEY EXPORT (EA) and KEY IMPORT (EC): P1 P2, lengths, then the admin key */
    K1("KEY EXPORT P1 01", 0, 0x80, 0xEA, 0x01, 0x01, E_SHORT, 143, NULL, 0, SX(0x6A86)),
    K1("KEY EXPORT P2 00", 0, 0x80, 0xEA, 0x00, 0x00, E_SHORT, 143, NULL, 0, SX(0x6A86)),
    K1("KEY EXPORT P2 FF", 0, 0x80, 0xEA, 0x00, 0xFF, E_SHORT, 143, NULL, 0, SX(0x6A86)),
    K1("KEY EXPORT no data", 0, 0x80, 0xEA, 0x00, 0x01, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("KEY EXPORT 142 bytes", 0, 0x80, 0xEA, 0x00, 0x01, E_SHORT, 142, NULL, 0, SX(0x6700)),
    K1("KEY EXPORT 144 bytes", 0, 0x80, 0xEA, 0x00, 0x01, E_SHORT, 144, NULL, 0, SX(0x6700)),
    K1("KEY EXPORT under CLA 00", 0, 0x00, 0xEA, 0x00, 0x01, E_SHORT, 143, NULL, 0, SX(0x6D00)),
    /* 143 zero bytes: no certificate (KR, admin verified), else no admin key */
    K1("KEY EXPORT zeros", 0, 0x80, 0xEA, 0x00, 0x01, E_SHORT, 143, NULL, 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6982)),
    K1("KEY IMPORT P2 00", 0, 0x80, 0xEC, 0x00, 0x00, E_SHORT, 124, NULL, 0, SX(0x6A86)),
    K1("KEY IMPORT P1 80", 0, 0x80, 0xEC, 0x80, 0x01, E_SHORT, 124, NULL, 0, SX(0x6A86)),
    K1("KEY IMPORT 123 bytes", 0, 0x80, 0xEC, 0x00, 0x01, E_SHORT, 123, NULL, 0, SX(0x6700)),
    K1("KEY IMPORT 173 bytes", 0, 0x80, 0xEC, 0x00, 0x01, E_SHORT, 173, NULL, 0, SX(0x6700)),
    K1("KEY IMPORT Le 2", 0, 0x80, 0xEC, 0x00, 0x01, E_SHORT, 124, NULL, 2, SX(0x6700)),
    K1("KEY IMPORT zeros", 0, 0x80, 0xEC, 0x00, 0x01, E_SHORT, 124, NULL, 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6982)),
    /* KEY DESTROY (EE): P1 P2, exactly version + KCV, then the admin key */
    K1("KEY DESTROY P2 00", 0, 0x80, 0xEE, 0x00, 0x00, E_SHORT, 4, NULL, NO_LE, SX(0x6A86)),
    K1("KEY DESTROY P1 01", 0, 0x80, 0xEE, 0x01, 0x01, E_SHORT, 4, NULL, NO_LE, SX(0x6A86)),
    K1("KEY DESTROY 3 bytes", 0, 0x80, 0xEE, 0x00, 0x01, E_SHORT, 3, NULL, NO_LE, SX(0x6700)),
    K1("KEY DESTROY 5 bytes", 0, 0x80, 0xEE, 0x00, 0x01, E_SHORT, 5, NULL, NO_LE, SX(0x6700)),
    K1("KEY DESTROY Le", 0, 0x80, 0xEE, 0x00, 0x01, E_SHORT, 4, NULL, 0, SX(0x6700)),
    K1("KEY DESTROY no retired version", 0, 0x80, 0xEE, 0x00, 0x01, E_SHORT, 4, NULL, NO_LE,
       S4(0x6A88, 0x6982, 0x6982, 0x6982)),
    /* BACKUP (F0) and RESTORE (F2): lengths and steps, then the admin key */
    K1("BACKUP BEGIN 1 byte", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, "03", 0, S4(0x6700, 0x6982, 0x6982, 0x6982)),
    K1("BACKUP BEGIN P2 01", 0, 0x80, 0xF0, 0x00, 0x01, E_SHORT, 0, "0305", 0, S4(0x6A86, 0x6982, 0x6982, 0x6982)),
    K1("BACKUP BEGIN 3 bytes", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, "030500", 0, SX(0x6700)),
    K1("BACKUP BEGIN threshold 1", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, "0105", 0, S4(0x6A80, 0x6982, 0x6982, 0x6982)),
    K1("BACKUP SHARE none begun", 0, 0x80, 0xF0, 0x01, 0x01, E_SHORT, 0, NULL, 0, S4(0x6985, 0x6982, 0x6982, 0x6982)),
    K1("BACKUP P1 04", 0, 0x80, 0xF0, 0x04, 0x00, E_SHORT, 0, NULL, 0, S4(0x6A86, 0x6982, 0x6982, 0x6982)),
    K1("RESTORE SHARE 41 bytes", 0, 0x80, 0xF2, 0x01, 0x00, E_SHORT, 41, NULL, NO_LE, S4(0x6700, 0x6982, 0x6982, 0x6982)),
    K1("RESTORE SHARE threshold 0", 0, 0x80, 0xF2, 0x01, 0x00, E_SHORT, 42, NULL, NO_LE, S4(0x6A80, 0x6982, 0x6982, 0x6982)),
    K1("RESTORE KEY no shares", 0, 0x80, 0xF2, 0x02, 0x01, E_SHORT, 59, NULL, 0, S4(0x6985, 0x6982, 0x6982, 0x6982)),
    K1("RESTORE KEY P2 00", 0, 0x80, 0xF2, 0x02, 0x00, E_SHORT, 59, NULL, 0, S4(0x6A86, 0x6982, 0x6982, 0x6982)),
    K1("RESTORE too long", 0, 0x80, 0xF2, 0x02, 0x01, E_SHORT, 108, NULL, 0, SX(0x6700)),
    /* OPEN CHANNEL (these cards have no channel key: 6985 and nothing changes) */
    K1("OPEN CHANNEL P1 01", 0, 0x80, 0x40, 0x01, 0x00, E_SHORT, 65, NULL, 0, SX(0x6A86)),
    K1("OPEN CHANNEL 64 bytes", 0, 0x80, 0x40, 0x00, 0x00, E_SHORT, 64, NULL, 0, SX(0x6700)),
    K1("OPEN CHANNEL 66 bytes", 0, 0x80, 0x40, 0x00, 0x00, E_SHORT, 66, NULL, 0, SX(0x6700)),
    K1("OPEN CHANNEL Le 15", 0, 0x80, 0x40, 0x00, 0x00, E_SHORT, 65, NULL, 15, SX(0x6700)),
    K1("OPEN CHANNEL under CLA 00", 0, 0x00, 0x40, 0x00, 0x00, E_SHORT, 65, NULL, 0, SX(0x6D00)),
    K1("OPEN CHANNEL without a channel key", 0, 0x80, 0x40, 0x00, 0x00, E_EXT, 65, NULL, 0,
       SX(0x6985)),
    K1("PROV GENERATE with data", 0, 0x80, 0xE4, 0x00, 0x00, E_SHORT, 1, NULL, 0, SX(0x6700)),
    K1("PROV GENERATE Le 76", 0, 0x80, 0xE4, 0x00, 0x00, E_SHORT, 0, NULL, 76, SX(0x6700)),
    K1("PROV GENERATE ext Le 76", 0, 0x80, 0xE4, 0x00, 0x00, E_EXT, 0, NULL, 76, SX(0x6700)),
    K1("PROV COMMIT P2 01", 0, 0x80, 0xE6, 0x00, 0x01, E_SHORT, 0, NULL, NO_LE, SX(0x6A86)),
    K1("PROV COMMIT with data", 0, 0x80, 0xE6, 0x00, 0x00, E_SHORT, 1, NULL, NO_LE, SX(0x6700)),
    K1("PROV COMMIT with Le", 0, 0x80, 0xE6, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("PROV ABORT P1 01", 0, 0x80, 0xE8, 0x01, 0x00, E_SHORT, 0, NULL, NO_LE, SX(0x6A86)),
    K1("PROV ABORT with data", 0, 0x80, 0xE8, 0x00, 0x00, E_SHORT, 1, NULL, NO_LE, SX(0x6700)),
    K1("PROV ABORT with Le", 0, 0x80, 0xE8, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6700)),
    /* PROVISION PUT: the item checks need an open session (KS) */
    K1("PUT with Le", 0, 0x80, 0xE2, 0x01, 0x81, E_SHORT, 9, NULL, 0, SX(0x6700)),
    K1("PUT 4097 bytes extended", 0, 0x80, 0xE2, 0x5F, 0x20, E_EXT, 4097, NULL, NO_LE, SX(0x6700)),
    K1("PUT holder name of 65", 0, 0x80, 0xE2, 0x5F, 0x20, E_SHORT, 65, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT P1P2 0000", 0, 0x80, 0xE2, 0x00, 0x00, E_SHORT, 1, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A88, 0x6985)),
    K1("PUT ref 0184", 0, 0x80, 0xE2, 0x01, 0x84, E_SHORT, 9, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A88, 0x6985)),
    K1("PUT key 00", 0, 0x80, 0xE2, 0x20, 0x00, E_SHORT, 1, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A88, 0x6985)),
    K1("PUT template FF", 0, 0x80, 0xE2, 0x30, 0xFF, E_SHORT, 1, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A88, 0x6985)),
    K1("PUT key delete with data", 0, 0x80, 0xE2, 0x21, 0x05, E_SHORT, 1, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6700, 0x6985)),
    K1("PUT key without data", 0, 0x80, 0xE2, 0x20, 0x05, E_SHORT, 0, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6700, 0x6985)),
    K1("PUT issuer PIN without data", 0, 0x80, 0xE2, 0x01, 0x81, E_SHORT, 0, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6700, 0x6985)),
    K1("PUT issuer PIN tries 0", 0, 0x80, 0xE2, 0x01, 0x81, E_SHORT, 0, "00 3131313131313131",
       NO_LE, S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT issuer PIN of 3 digits", 0, 0x80, 0xE2, 0x01, 0x81, E_SHORT, 0, "03 313131", NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT signature of 63", 0, 0x80, 0xE2, 0xDF, 0x04, E_SHORT, 63, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT signature of 65", 0, 0x80, 0xE2, 0xDF, 0x04, E_SHORT, 65, NULL, NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT holder number with 7F", 0, 0x80, 0xE2, 0xDF, 0x01, E_SHORT, 0, "41427F", NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT key truncated", 0, 0x80, 0xE2, 0x20, 0x05, E_SHORT, 0, "01 02 00 4041", NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    K1("PUT template truncated", 0, 0x80, 0xE2, 0x30, 0x05, E_SHORT, 0, "01 80", NO_LE,
       S4(0x6985, 0x6985, 0x6A80, 0x6985)),
    /* ISSUE BEGIN */
    K1("BEGIN P1 02", 0, 0x80, 0x50, 0x02, 0x00, E_SHORT, 0, BEGIN01, NO_LE, SX(0x6A86)),
    K1("BEGIN P2 04 (no such session)", 0, 0x80, 0x50, 0x01, 0x04, E_SHORT, 0, BEGIN01, NO_LE, SX(0x6A86)),
    /* P1 bit 80 asks for a packed session; the way under it is checked the same. */
    K1("BEGIN P1 82 (packed, no such way)", 0, 0x80, 0x50, 0x82, 0x00, E_SHORT, 0, BEGIN01, NO_LE, SX(0x6A86)),
    K1("BEGIN P1 C1 (another bit beside packed)", 0, 0x80, 0x50, 0xC1, 0x00, E_SHORT, 0, BEGIN01, NO_LE, SX(0x6A86)),
    K1("BEGIN P1 80 (packed, no way)", 0, 0x80, 0x50, 0x80, 0x00, E_SHORT, 0, BEGIN01, NO_LE, SX(0x6A86)),
    K1("BEGIN packed way 03 with way 01 data", 1, 0x80, 0x50, 0x83, 0x00, E_SHORT, 0, BEGIN01, NO_LE,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("BEGIN 26 bytes", 0, 0x80, 0x50, 0x01, 0x00, E_SHORT, 26, NULL, NO_LE, SX(0x6700)),
    K1("BEGIN 32 bytes", 0, 0x80, 0x50, 0x01, 0x00, E_SHORT, 32, NULL, NO_LE, SX(0x6700)),
    K1("BEGIN way 01 with way 04 data", 1, 0x80, 0x50, 0x01, 0x00, E_SHORT, 0, BEGIN04, NO_LE,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("BEGIN way 03 with way 01 data", 1, 0x80, 0x50, 0x03, 0x00, E_SHORT, 0, BEGIN01, NO_LE,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("BEGIN bucket 80", 1, 0x80, 0x50, 0x01, 0x00, E_SHORT, 0, "5443000000000001 01 0050" NT "00000001",
       NO_LE, S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("BEGIN way 04 Le 15", 1, 0x80, 0x50, 0x04, 0x00, E_SHORT, 0, BEGIN04, 15,
       S4(0x6700, 0x6982, 0x6982, 0x6700)),
    K1("BEGIN way 04 Le 31 (nonce and seed need 32)", 1, 0x80, 0x50, 0x04, 0x00, E_SHORT, 0,
       BEGIN04, 31, S4(0x6700, 0x6982, 0x6982, 0x6700)),
    /* ISSUE WRAP */
    K1("WRAP P1 02", 0, 0x80, 0x52, 0x02, 0x00, E_SHORT, 0, "040000", NO_LE, SX(0x6A86)),
    /* WRAP P1 01: check key(1) way(1) bucket(2) steps, no session, nothing written */
    K1("WRAP check without a step", 0, 0x80, 0x52, 0x01, 0x00, E_SHORT, 0, "01030100", 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("WRAP check way 02", 0, 0x80, 0x52, 0x01, 0x00, E_SHORT, 0, "01020100 040000", 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("WRAP check bucket 100", 0, 0x80, 0x52, 0x01, 0x00, E_SHORT, 0, "01030064 040000", 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("WRAP check answer over Le", 0, 0x80, 0x52, 0x01, 0x00, E_SHORT, 0, "01030100 090000", 2,
       S4(0x6700, 0x6982, 0x6982, 0x6700)),
    K1("WRAP P2 04 (no such session)", 0, 0x80, 0x52, 0x00, 0x04, E_SHORT, 0, "040000", NO_LE, SX(0x6A86)),
    K1("WRAP check P2 01 (no session)", 0, 0x80, 0x52, 0x01, 0x01, E_SHORT, 0, "01030100 040000", 0,
       SX(0x6A86)),
    K1("WRAP 2 bytes", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, "0400", NO_LE, SX(0x6700)),
    K1("WRAP without data", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, NULL, 0, SX(0x6700)),
    K1("WRAP 4097 bytes", 0, 0x80, 0x52, 0x00, 0x00, E_EXT, 4097, NULL, 0, SX(0x6700)),
    K1("WRAP answer over Le", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, "040000", 1,
       S4(0x6985, 0x6982, 0x6982, 0x6700)),
    K1("WRAP step params missing", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, "050000", NO_LE,
       S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    K1("WRAP step params left over", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, "04000100", NO_LE,
       S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    K1("WRAP step truncated", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, "04000500", NO_LE,
       S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    K1("WRAP unknown template", 0, 0x80, 0x52, 0x00, 0x00, E_SHORT, 0, "090000", NO_LE,
       S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    /* ISSUE END */
    K1("END P1 02", 0, 0x80, 0x54, 0x02, 0x00, E_SHORT, 0, NULL, 0, SX(0x6A86)),
    K1("END P2 04 (no such session)", 0, 0x80, 0x54, 0x00, 0x04, E_SHORT, 0, NULL, 0, SX(0x6A86)),
    K1("late END P2 01 (the serial finds the session)", 0, 0x80, 0x54, 0x01, 0x01, E_SHORT, 0,
       "5443000000000001", 0, SX(0x6A86)),
    K1("END 172 bytes", 0, 0x80, 0x54, 0x00, 0x00, E_SHORT, 172, NULL, 0, SX(0x6700)),
    K1("late END without serial", 0, 0x80, 0x54, 0x01, 0x00, E_SHORT, 0, NULL, 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("late END serial of 7 bytes", 0, 0x80, 0x54, 0x01, 0x00, E_SHORT, 0, "01020304050607", 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("late END, no session, no receipt", 0, 0x80, 0x54, 0x01, 0x00, E_SHORT, 0,
       "0102030405060708", 0, S4(0x6A88, 0x6982, 0x6982, 0x6A88)),
    /* Another card's live session does not stop a late END; this card's does. */
    K1("late END of the live session's card", 0, 0x80, 0x54, 0x01, 0x00, E_SHORT, 0,
       "5443000000000001", 0, S4(0x6A88, 0x6982, 0x6982, 0x6985)),
    K1("late END n 65", 0, 0x80, 0x54, 0x01, 0x00, E_SHORT, 0, "0102030405060708 41", 0,
       S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("late END lock data 17 bytes", 0, 0x80, 0x54, 0x01, 0x00, E_SHORT, 0,
       "0102030405060708 01 9000 00000000000000000000000000000000 02 11"
       "0000000000000000000000000000000000", 0, S4(0x6A80, 0x6982, 0x6982, 0x6A80)),
    K1("END n without SWs and MAC", 0, 0x80, 0x54, 0x00, 0x00, E_SHORT, 0, "05", 0,
       S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    K1("END n 1 with no envelope", 0, 0x80, 0x54, 0x00, 0x00, E_SHORT, 0,
       "01 9000 00000000000000000000000000000000", 0, S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    K1("END MAC truncated", 0, 0x80, 0x54, 0x00, 0x00, E_SHORT, 0,
       "00 000000000000000000000000000000", 0, S4(0x6985, 0x6982, 0x6982, 0x6A80)),
    /* broken chaining */
    {"chain: part, then other P2", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
      ST(0x00, 0x20, 0x00, 0x82, E_SHORT, 4, NULL, NO_LE, SX(0x6883))}},
    {"chain: part, then other P1 (a part too)", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
      ST(0x10, 0x20, 0x01, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x6883))}},
    {"chain: part, then SELECT", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
      ST(0x00, 0xA4, 0x04, 0x0C, E_SHORT, 0, AID, NO_LE, SX(0x6883))}},
    {"chain: part, then unknown CLA", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
      ST(0x84, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x6883))}},
    {"chain: part, then malformed", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
      ST(0x00, 0x20, 0x00, 0x81, E_LC_PLUS1, 4, NULL, NO_LE, SX(0x6700)),
      ST(0x00, 0x20, 0x00, 0x81, E_SHORT, 0, "313131", NO_LE, S4(0x6A80, 0x6985, 0x6985, 0x6A80))}},
    {"chain: last part with Le", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
      ST(0x00, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, 0, SX(0x6700))}},
    {"chain: 33 bytes in all to VERIFY", 0,
     {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 20, NULL, NO_LE, SX(0x9000)),
      ST(0x00, 0x20, 0x00, 0x81, E_SHORT, 13, NULL, NO_LE, SX(0x6700))}},
    {"chain: over 4096 bytes", 0,
     {ST(0x90, 0xE2, 0x5F, 0x20, E_EXT, 4000, NULL, NO_LE, SX(0x9000)),
      ST(0x90, 0xE2, 0x5F, 0x20, E_EXT, 97, NULL, NO_LE, SX(0x6700)),
      ST(0x80, 0xE2, 0x5F, 0x20, E_SHORT, 65, NULL, NO_LE, S4(0x6985, 0x6985, 0x6A80, 0x6985))}},
    {"chain: part with wrong P1P2", 0,
     {ST(0x10, 0x20, 0x01, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x6A86)),
      ST(0x00, 0x20, 0x00, 0x81, E_SHORT, 0, "313131", NO_LE, S4(0x6A80, 0x6985, 0x6985, 0x6A80))}},
    {"chain: part of an INS of the other CLA", 0,
     {ST(0x90, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x6D00)),
      ST(0x00, 0x20, 0x00, 0x81, E_SHORT, 0, "313131", NO_LE, S4(0x6A80, 0x6985, 0x6985, 0x6A80))}},
};

/* Every (CLA, INS) of the key card dispatcher. */
static const uint8_t kc_ins[][2] = {
    {0x00, 0xA4}, {0x00, 0x20}, {0x00, 0x24}, {0x00, 0x2C}, {0x00, 0xCA},
    {0x00, 0x88}, {0x80, 0xA0}, {0x80, 0xA2}, {0x80, 0xA4}, {0x80, 0xE0}, {0x80, 0xE2}, {0x80, 0xE4},
    {0x80, 0xE6}, {0x80, 0xE8}, {0x80, 0x50}, {0x80, 0x52}, {0x80, 0x54}, {0x80, 0x40}, {0x80, 0xEA}, {0x80, 0xEC}, {0x80, 0xF0},
    {0x80, 0xF2}, {0x80, 0xEE},
};
#define N_KC_INS (sizeof(kc_ins) / sizeof(kc_ins[0]))

typedef struct ksnap {
    kc_test_card t;
    uint8_t *mem, *ctx;
    kc_hw_ram ram;
} ksnap;

static ksnap ks[K_STATES];

static void ksnap_take(ksnap *s)
{
    s->mem = malloc(kc_keycard_card.flash_size);
    s->ctx = malloc(kc_keycard_card.ctx_size);
    ck_assert_ptr_nonnull(s->mem);
    ck_assert_ptr_nonnull(s->ctx);
    memcpy(s->mem, s->t.mem, kc_keycard_card.flash_size);
    memcpy(s->ctx, s->t.ctx, kc_keycard_card.ctx_size);
    s->ram = s->t.ram;
}

static void ksnap_restore(ksnap *s)
{
    memcpy(s->t.mem, s->mem, kc_keycard_card.flash_size);
    memcpy(s->t.ctx, s->ctx, kc_keycard_card.ctx_size);
    s->t.ram = s->ram;
}

static void kstates_setup(void)
{
    for (int i = 0; i < K_STATES; i++)
        kc_test_card_new(&ks[i].t, 100 + (uint64_t)i);
    kc_test_card *r = &ks[KR].t, *b = &ks[KB].t, *s = &ks[KS].t, *in = &ks[KI].t;
    ck_assert_uint_eq(kc_test_card_provision_demo(r), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(r), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(r), 0x9000);
    ck_assert_uint_eq(kc_test_card_verify_admin(r), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(b), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(s), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(s, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_demo(in), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(in), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(in), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(in, "80500100 1F" BEGIN01), 0x9000);
    for (int i = 0; i < K_STATES; i++)
        ksnap_take(&ks[i]);
}

static void kstates_teardown(void)
{
    for (int i = 0; i < K_STATES; i++) {
        kc_test_card_free(&ks[i].t);
        free(ks[i].mem);
        free(ks[i].ctx);
    }
}

/* The volatile state of state st is intact (and no chain is pending). */
static void kc_check_volatile(kc_test_card *t, int st, int killed, const char *what)
{
    uint16_t sw = kc_test_card_sendx(t, "00CADF0300");
    ck_assert_msg(sw == 0x9000 && t->resp_len == 33, "%s [%s]: status after: %04X", what,
                  kstate_name[st], sw);
    ck_assert_msg(t->resp[32] == (st == KS), "%s [%s]: staging flag %u", what, kstate_name[st],
                  t->resp[32]);
    if (st == KR || st == KI) {
        sw = kc_test_card_sendx(t, "00CA5F2000");
        ck_assert_msg(sw == 0x9000, "%s [%s]: PINs no longer verified (%04X)", what,
                      kstate_name[st], sw);
    }
    if (st == KR) {
        sw = kc_test_card_sendx(t, "00CADF0500");
        ck_assert_msg(sw == 0x9000, "%s [%s]: admin key no longer verified (%04X)", what,
                      kstate_name[st], sw);
    }
    if (st == KI) {
        /* The session's first envelope still comes (counter not moved) unless BEGIN ended it. */
        sw = kc_test_card_sendx(t, "8052000003040000");
        ck_assert_msg(sw == (killed ? 0x6985 : 0x9000), "%s [KI]: session after: %04X", what, sw);
        if (sw == 0x9000)
            ck_assert_msg(t->resp_len > 8 && memcmp(t->resp + 7, "\x00\x00\x00\x01", 4) == 0,
                          "%s [KI]: first envelope counter moved", what);
    }
}

static void kc_run_row(const row *r, int st)
{
    ksnap *s = &ks[st];
    uint8_t apdu[8 + 8192], st0[32], st1[32], fl0[32], fl1[32];

    ksnap_restore(s);
    kc_test_card_store_digest(&s->t, st0);
    kc_test_card_flash_digest(&s->t, fl0);
    for (int k = 0; k < MAX_STEPS && r->s[k].h[1] | r->s[k].h[0]; k++) {
        size_t len = build(&r->s[k], apdu);
        uint16_t sw = kc_test_card_send(&s->t, apdu, len);
        ck_assert_msg(sw == r->s[k].sw[st], "%s [%s] step %d: SW %04X, documented %04X", r->what,
                      kstate_name[st], k + 1, sw, r->s[k].sw[st]);
        ck_assert_msg(sw != 0x9000 || s->t.resp_len == 0, "%s: chain part answered data", r->what);
    }
    kc_test_card_store_digest(&s->t, st1);
    kc_test_card_flash_digest(&s->t, fl1);
    ck_assert_msg(memcmp(st0, st1, 32) == 0, "%s [%s]: store contents changed", r->what,
                  kstate_name[st]);
    ck_assert_msg(memcmp(fl0, fl1, 32) == 0, "%s [%s]: flash image changed", r->what,
                  kstate_name[st]);
    kc_check_volatile(&s->t, st, r->kill, r->what);
}

START_TEST(test_kc_rows)
{
    for (size_t i = 0; i < sizeof(krows) / sizeof(krows[0]); i++)
        for (int st = 0; st < K_STATES; st++)
            kc_run_row(&krows[i], st);
}
END_TEST

/* Rows made for every INS: broken Lc encodings, a cut header, a chain broken by it. */
START_TEST(test_kc_every_ins)
{
    for (size_t i = 0; i < N_KC_INS; i++) {
        uint8_t c = kc_ins[i][0], ins = kc_ins[i][1];
        const row gen[] = {
            K1("Lc one more than the data", 0, c, ins, 0, 0, E_LC_PLUS1, 4, NULL, NO_LE, SX(0x6700)),
            K1("Lc two less than the data", 0, c, ins, 0, 0, E_LC_MINUS2, 4, NULL, NO_LE, SX(0x6700)),
            K1("extended Lc 0000 with data", 0, c, ins, 0, 0, E_EXT_LC0, 4, NULL, NO_LE, SX(0x6700)),
            K1("header of 3 bytes", 0, c, ins, 0, 0, E_HDR3, 0, NULL, NO_LE, SX(0x6700)),
            {"chain part, then this INS", 0,
             {ST(0x10, 0x20, 0x00, 0x81, E_SHORT, 4, NULL, NO_LE, SX(0x9000)),
              ST(c, ins, 0x00, 0x00, E_SHORT, 0, NULL, NO_LE, SX(0x6883))}},
            {"chained part of this INS, then VERIFY", 0,
             {ST(c | 0x10, ins, 0x00, 0x00, E_SHORT, 0, NULL, NO_LE, SX(0)),
              ST(0x00, 0x20, 0x00, 0x81, E_SHORT, 0, "313131", NO_LE, SX(0))}},
        };
        for (size_t g = 0; g < sizeof(gen) / sizeof(gen[0]); g++) {
            row r = gen[g];
            for (int st = 0; st < K_STATES; st++) {
                if (g == 5) {
                    /* The part passes when P1P2 00 00 is this INS's valid P1P2 (else 6A86);
                       either way the VERIFY after it is no continuation: 6883 or its own SW. */
                    ksnap_restore(&ks[st]);
                    uint8_t apdu[16];
                    uint16_t sw = kc_test_card_send(&ks[st].t, apdu, build(&r.s[0], apdu));
                    for (int k = 0; k < 4; k++) {
                        r.s[0].sw[k] = sw == 0x9000 ? 0x9000 : 0x6A86;
                        r.s[1].sw[k] = sw == 0x9000 ? 0x6883
                                       : (k == KR || k == KI) ? 0x6A80 : 0x6985;
                    }
                }
                kc_run_row(&r, st);
            }
        }
    }
}
END_TEST

static int kc_listed(uint8_t cla, uint8_t ins)
{
    for (size_t i = 0; i < N_KC_INS; i++)
        if (kc_ins[i][0] == cla && kc_ins[i][1] == ins)
            return 1;
    return 0;
}

/* The INS list above is the dispatcher's, and every INS has specific rows. */
START_TEST(test_kc_ins_coverage)
{
    kc_test_card t;
    kc_test_card_new(&t, 7); /* not selected: a known INS answers 6985 and changes nothing */
    const uint8_t clas[] = {0x00, 0x80, 0x10, 0x90};
    for (size_t c = 0; c < sizeof(clas); c++)
        for (unsigned ins = 0; ins < 256; ins++) {
            uint8_t apdu[4] = {clas[c], (uint8_t)ins, 0, 0};
            uint16_t sw = kc_test_card_send(&t, apdu, 4);
            int known = sw != 0x6D00;
            ck_assert_msg(known == kc_listed(clas[c] & 0x80, (uint8_t)ins),
                          "CLA %02X INS %02X: dispatcher %04X, test list %d", clas[c], ins, sw,
                          kc_listed(clas[c] & 0x80, (uint8_t)ins));
        }
    kc_test_card_free(&t);
    for (size_t i = 0; i < N_KC_INS; i++) {
        unsigned n = 0;
        for (size_t r = 0; r < sizeof(krows) / sizeof(krows[0]); r++)
            n += krows[r].s[0].h[0] == kc_ins[i][0] && krows[r].s[0].h[1] == kc_ins[i][1];
        ck_assert_msg(n >= 3, "CLA %02X INS %02X: only %u specific rows", kc_ins[i][0],
                      kc_ins[i][1], n);
    }
}
END_TEST

/* ---- the target card --------------------------------------------------- */

enum { TM, TV, TS, T_STATES };
static const char *const tstate_name[] = {"TM", "TV", "TS"};
#define S3(m, v, s) m, v, s, 0
#define T1 K1

static const uint8_t T_SERIAL[8] = {0x54, 0x43, 0, 0, 0, 0, 0, 0x42};

/* MANUFACTURE data: serial, one key 01 flags 00 len 16. */
#define MFG_HEAD "5443000000000042"
#define MFG_KEY "01 00 10 A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"

static const row trows[] = {
    /* SELECT */
    T1("SELECT P1 01", 0, 0x00, 0xA4, 0x01, 0x0C, E_SHORT, 0, "3F00", NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("SELECT P2 00", 0, 0x00, 0xA4, 0x00, 0x00, E_SHORT, 0, "3F00", NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("SELECT with Le", 0, 0x00, 0xA4, 0x00, 0x0C, E_SHORT, 0, "3F00", 0, S3(0x6700, 0x6985, 0x6700)),
    T1("SELECT without data", 0, 0x00, 0xA4, 0x00, 0x0C, E_SHORT, 0, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("SELECT name of 17", 0, 0x00, 0xA4, 0x04, 0x0C, E_SHORT, 17, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("SELECT FID of 3 bytes", 0, 0x00, 0xA4, 0x00, 0x0C, E_SHORT, 0, "3F0000", NO_LE, S3(0x6700, 0x6985, 0x6700)),
    /* READ BINARY */
    T1("READ BINARY P1 with SFI bit", 0, 0x00, 0xB0, 0x80, 0x00, E_SHORT, 0, NULL, 0, S3(0x6A86, 0x6985, 0x6A86)),
    T1("READ BINARY with data", 0, 0x00, 0xB0, 0x00, 0x00, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("READ BINARY extended with data", 0, 0x00, 0xB0, 0x00, 0x00, E_EXT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    /* UPDATE BINARY */
    T1("UPDATE BINARY with Le", 0, 0x00, 0xD6, 0x00, 0x00, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("UPDATE BINARY 1025 bytes", 0, 0x00, 0xD6, 0x00, 0x00, E_EXT, 1025, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("UPDATE BINARY without data", 0, 0x00, 0xD6, 0x00, 0x00, E_SHORT, 0, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("UPDATE BINARY P1 with SFI bit", 0, 0x00, 0xD6, 0x80, 0x00, E_SHORT, 1, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    /* READ RECORD */
    T1("READ RECORD P1 00", 0, 0x00, 0xB2, 0x00, 0x04, E_SHORT, 0, NULL, 0, S3(0x6A86, 0x6985, 0x6A86)),
    T1("READ RECORD P2 05", 0, 0x00, 0xB2, 0x01, 0x05, E_SHORT, 0, NULL, 0, S3(0x6A86, 0x6985, 0x6A86)),
    T1("READ RECORD with data", 0, 0x00, 0xB2, 0x01, 0x04, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    /* APPEND RECORD */
    T1("APPEND RECORD P1 01", 0, 0x00, 0xE2, 0x01, 0x00, E_SHORT, 1, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("APPEND RECORD P2 01", 0, 0x00, 0xE2, 0x00, 0x01, E_SHORT, 1, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("APPEND RECORD 256 bytes", 0, 0x00, 0xE2, 0x00, 0x00, E_EXT, 256, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("APPEND RECORD with Le", 0, 0x00, 0xE2, 0x00, 0x00, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("APPEND RECORD without data", 0, 0x00, 0xE2, 0x00, 0x00, E_SHORT, 0, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    /* VERIFY */
    T1("VERIFY P1 01", 0, 0x00, 0x20, 0x01, 0x01, E_SHORT, 4, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("VERIFY P2 00", 0, 0x00, 0x20, 0x00, 0x00, E_SHORT, 4, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("VERIFY P2 10", 0, 0x00, 0x20, 0x00, 0x10, E_SHORT, 4, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("VERIFY 17 bytes", 0, 0x00, 0x20, 0x00, 0x01, E_SHORT, 17, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("VERIFY with Le", 0, 0x00, 0x20, 0x00, 0x01, E_SHORT, 4, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("VERIFY key not a PIN", 0, 0x00, 0x20, 0x00, 0x01, E_SHORT, 4, NULL, NO_LE, S3(0x6A88, 0x6985, 0x6A88)),
    /* GET CHALLENGE */
    T1("GET CHALLENGE without Le", 0, 0x00, 0x84, 0x00, 0x00, E_SHORT, 0, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("GET CHALLENGE Le 08", 0, 0x00, 0x84, 0x00, 0x00, E_SHORT, 0, NULL, 8, S3(0x6700, 0x6985, 0x6700)),
    T1("GET CHALLENGE Le 11", 0, 0x00, 0x84, 0x00, 0x00, E_SHORT, 0, NULL, 0x11, S3(0x6700, 0x6985, 0x6700)),
    T1("GET CHALLENGE with data", 0, 0x00, 0x84, 0x00, 0x00, E_SHORT, 1, NULL, 0x10, S3(0x6700, 0x6985, 0x6700)),
    T1("GET CHALLENGE P1 01", 0, 0x00, 0x84, 0x01, 0x00, E_SHORT, 0, NULL, 0x10, S3(0x6A86, 0x6985, 0x6A86)),
    /* EXTERNAL AUTHENTICATE */
    T1("EXT AUTH 15 bytes", 0, 0x00, 0x82, 0x00, 0x01, E_SHORT, 15, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("EXT AUTH 17 bytes", 0, 0x00, 0x82, 0x00, 0x01, E_SHORT, 17, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("EXT AUTH with Le", 0, 0x00, 0x82, 0x00, 0x01, E_SHORT, 16, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("EXT AUTH P1 01", 0, 0x00, 0x82, 0x01, 0x01, E_SHORT, 16, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("EXT AUTH P2 00", 0, 0x00, 0x82, 0x00, 0x00, E_SHORT, 16, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("EXT AUTH P2 10", 0, 0x00, 0x82, 0x00, 0x10, E_SHORT, 16, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    /* GET DATA */
    T1("GET DATA P1P2 0000", 0, 0x00, 0xCA, 0x00, 0x00, E_SHORT, 0, NULL, 0, S3(0x6A88, 0x6A88, 0x6A88)),
    T1("GET DATA with data", 0, 0x00, 0xCA, 0xDF, 0x10, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6700, 0x6700)),
    T1("GET DATA DF10 Le 0F", 0, 0x00, 0xCA, 0xDF, 0x10, E_SHORT, 0, NULL, 0x0F, S3(0x6700, 0x6700, 0x6700)),
    T1("GET DATA DF11 Le 01", 0, 0x00, 0xCA, 0xDF, 0x11, E_SHORT, 0, NULL, 1, S3(0x6700, 0x6985, 0x6700)),
    /* MANUFACTURE */
    T1("MANUFACTURE 8 bytes", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD, NO_LE, S3(0x6700, 0x6700, 0x6700)),
    T1("MANUFACTURE with Le", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "01" MFG_KEY, 0, S3(0x6700, 0x6700, 0x6700)),
    T1("MANUFACTURE P1 01", 0, 0x80, 0xF0, 0x01, 0x00, E_SHORT, 0, MFG_HEAD "01" MFG_KEY, NO_LE, S3(0x6A86, 0x6A86, 0x6A86)),
    T1("MANUFACTURE count 0", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "00", NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE count 17", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "11" MFG_KEY, NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE key truncated", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "01 01 00 10 A0A1A2", NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE count 2, one key", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "02" MFG_KEY, NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE trailing byte", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "01" MFG_KEY "00", NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE key length 24", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "01 01 00 18 A0A1A2A3A4A5A6A7A8A9AAABACADAEAFA0A1A2A3A4A5A6A7", NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE key number 00", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "01 00 00 10 A0A1A2A3A4A5A6A7A8A9AAABACADAEAF", NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE flags 02", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "01 01 02 10 A0A1A2A3A4A5A6A7A8A9AAABACADAEAF", NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    T1("MANUFACTURE duplicate key", 0, 0x80, 0xF0, 0x00, 0x00, E_SHORT, 0, MFG_HEAD "02" MFG_KEY MFG_KEY, NO_LE, S3(0x6985, 0x6A80, 0x6985)),
    /* BEGIN ISSUANCE: the handler ends a running session, the dispatcher does not */
    T1("BEGIN P1 02", 1, 0x80, 0x10, 0x02, 0x02, E_SHORT, 0, NULL, 0, S3(0x6A86, 0x6985, 0x6A86)),
    T1("BEGIN P1 82 (packed, no such way)", 1, 0x80, 0x10, 0x82, 0x02, E_SHORT, 0, NULL, 0, S3(0x6A86, 0x6985, 0x6A86)),
    T1("BEGIN P1 C3 (another bit beside packed)", 1, 0x80, 0x10, 0xC3, 0x02, E_SHORT, 0, NULL, 0, S3(0x6A86, 0x6985, 0x6A86)),
    T1("BEGIN packed way 03 with data", 0, 0x80, 0x10, 0x83, 0x02, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN packed way 01 Le 20 (needs 21)", 1, 0x80, 0x10, 0x81, 0x01, E_SHORT, 0, NULL, 20, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN 17 bytes", 0, 0x80, 0x10, 0x04, 0x02, E_SHORT, 17, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN way 04 with a v1 seed", 0, 0x80, 0x10, 0x04, 0x02, E_SHORT, 16, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN way 03 with data", 0, 0x80, 0x10, 0x03, 0x02, E_SHORT, 1, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN way 03 Le 0F", 1, 0x80, 0x10, 0x03, 0x02, E_SHORT, 0, NULL, 0x0F, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN way 01 Le 03", 1, 0x80, 0x10, 0x01, 0x01, E_SHORT, 0, NULL, 3, S3(0x6700, 0x6985, 0x6700)),
    T1("BEGIN way 01 Le 20 (needs 21)", 1, 0x80, 0x10, 0x01, 0x01, E_SHORT, 0, NULL, 20, S3(0x6700, 0x6985, 0x6700)),
    /* BIND: the key card's nonce after BEGIN; anything else ends the session */
    T1("BIND P1 01", 1, 0x80, 0x12, 0x01, 0x00, E_SHORT, 16, NULL, NO_LE, S3(0x6A86, 0x6985, 0x6A86)),
    T1("BIND 15 bytes", 0, 0x80, 0x12, 0x00, 0x00, E_SHORT, 15, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("BIND 33 bytes", 0, 0x80, 0x12, 0x00, 0x00, E_SHORT, 33, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("BIND with Le", 0, 0x80, 0x12, 0x00, 0x00, E_SHORT, 16, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("BIND without BEGIN", 1, 0x80, 0x12, 0x00, 0x00, E_SHORT, 16, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    /* ENVELOPE outside a session, and malformed ones inside (more in test_tc_envelope) */
    T1("ENVELOPE no bucket", 1, 0x84, 0xC2, 0x00, 0x00, E_SHORT, 3, NULL, 0, S3(0x6985, 0x6985, 0x6700)),
    T1("ENVELOPE 4097 bytes", 0, 0x84, 0xC2, 0x00, 0x00, E_EXT, 4097, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("ENVELOPE without data", 0, 0x84, 0xC2, 0x00, 0x00, E_SHORT, 0, NULL, 0, S3(0x6700, 0x6985, 0x6700)),
    T1("ENVELOPE under CLA 80", 0, 0x80, 0xC2, 0x00, 0x00, E_SHORT, 3, NULL, 0, S3(0x6D00, 0x6D00, 0x6D00)),
    /* inner issuance commands sent in plaintext */
    T1("CREATE in plaintext", 0, 0x80, 0xE0, 0x01, 0x00, E_SHORT, 9, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("CREATE 4097 bytes", 0, 0x80, 0xE0, 0x01, 0x00, E_EXT, 4097, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("CREATE P1 00 in plaintext", 0, 0x80, 0xE0, 0x00, 0x00, E_SHORT, 9, NULL, 0, S3(0x6985, 0x6985, 0x6985)),
    T1("CREATE under CLA 84", 0, 0x84, 0xE0, 0x01, 0x00, E_SHORT, 9, NULL, NO_LE, S3(0x6D00, 0x6D00, 0x6D00)),
    T1("SET KEY in plaintext", 0, 0x80, 0xD8, 0x01, 0x02, E_SHORT, 18, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("SET KEY 4097 bytes", 0, 0x80, 0xD8, 0x01, 0x02, E_EXT, 4097, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("SET KEY with Le", 0, 0x80, 0xD8, 0x01, 0x02, E_SHORT, 18, NULL, 0, S3(0x6985, 0x6985, 0x6985)),
    T1("WRITE BINARY in plaintext", 0, 0x80, 0xD6, 0x00, 0x00, E_SHORT, 5, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("WRITE BINARY 4097 bytes", 0, 0x80, 0xD6, 0x00, 0x00, E_EXT, 4097, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("WRITE BINARY P1 80", 0, 0x80, 0xD6, 0x80, 0x00, E_SHORT, 5, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("WRITE RECORD in plaintext", 0, 0x80, 0xDC, 0x00, 0x00, E_SHORT, 3, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("WRITE RECORD 4097 bytes", 0, 0x80, 0xDC, 0x00, 0x00, E_EXT, 4097, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("WRITE RECORD P2 01", 0, 0x80, 0xDC, 0x00, 0x01, E_SHORT, 3, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("COMPLETE in plaintext", 0, 0x80, 0x1E, 0x04, 0x00, E_SHORT, 0, NULL, NO_LE, S3(0x6985, 0x6985, 0x6985)),
    T1("COMPLETE 4097 bytes", 0, 0x80, 0x1E, 0x02, 0x00, E_EXT, 4097, NULL, NO_LE, S3(0x6700, 0x6985, 0x6700)),
    T1("COMPLETE P1 05", 0, 0x80, 0x1E, 0x05, 0x00, E_SHORT, 0, NULL, 0, S3(0x6985, 0x6985, 0x6985)),
};

static const uint8_t tc_ins[][2] = {
    {0x00, 0xA4}, {0x00, 0xB0}, {0x00, 0xD6}, {0x00, 0xB2}, {0x00, 0xE2}, {0x00, 0x20},
    {0x00, 0x84}, {0x00, 0x82}, {0x00, 0xCA}, {0x80, 0xF0}, {0x80, 0x10}, {0x80, 0x12}, {0x84, 0xC2},
    {0x80, 0xE0}, {0x80, 0xD8}, {0x80, 0xD6}, {0x80, 0xDC}, {0x80, 0x1E},
};
#define N_TC_INS (sizeof(tc_ins) / sizeof(tc_ins[0]))

typedef struct tsnap {
    kc_test_target t;
    uint8_t *mem, *ctx;
    kc_hw_ram ram;
    kc_tt_session host, host0;
} tsnap;

static tsnap ts[T_STATES];

/* CREATE FOLDER data for fid. */
static size_t folder(uint8_t *d, uint16_t fid)
{
    const uint8_t f[] = {(uint8_t)(fid >> 8), (uint8_t)fid, 0x3F, 0x00, 0x00, 0x40, 0x00, 0xFF,
                         0x02, 'F', (uint8_t)('0' + (fid & 7))};
    memcpy(d, f, sizeof(f));
    return sizeof(f);
}

static void tstates_setup(void)
{
    uint8_t d[16];
    uint16_t inner;
    for (int i = 0; i < T_STATES; i++)
        kc_tt_new(&ts[i].t, 200 + (uint64_t)i);
    ck_assert_uint_eq(kc_tt_manufacture(&ts[TM].t, T_SERIAL), 0x9000);
    ck_assert_uint_eq(kc_tt_manufacture(&ts[TS].t, T_SERIAL), 0x9000);
    ck_assert_uint_eq(kc_tt_begin(&ts[TS].t, &ts[TS].host, TC_WAY_TARGET_SEED, 2, kc_tt_key2, 16,
                                  T_SERIAL), 0x9000);
    /* One envelope accepted: the card is ISSUING, the session mid-way. */
    ck_assert_uint_eq(kc_tt_env(&ts[TS].t, &ts[TS].host, TC_INS_CREATE, 1, 0, d, folder(d, 0x1001),
                                &inner, NULL), 0x9000);
    ck_assert_uint_eq(inner, 0x9000);
    for (int i = 0; i < T_STATES; i++) {
        tsnap *s = &ts[i];
        s->mem = malloc(kc_target_card.flash_size);
        s->ctx = malloc(kc_target_card.ctx_size);
        ck_assert_ptr_nonnull(s->mem);
        ck_assert_ptr_nonnull(s->ctx);
        memcpy(s->mem, s->t.mem, kc_target_card.flash_size);
        memcpy(s->ctx, s->t.tc, kc_target_card.ctx_size);
        s->ram = s->t.ram;
        s->host0 = s->host;
    }
}

static void tstates_teardown(void)
{
    for (int i = 0; i < T_STATES; i++) {
        kc_tt_free(&ts[i].t);
        free(ts[i].mem);
        free(ts[i].ctx);
    }
}

static void tsnap_restore(tsnap *s)
{
    memcpy(s->t.mem, s->mem, kc_target_card.flash_size);
    memcpy(s->t.tc, s->ctx, kc_target_card.ctx_size);
    s->t.ram = s->ram;
    s->host = s->host0;
}

static void tc_check_volatile(tsnap *s, int st, int killed, const char *what)
{
    uint16_t sw = kc_tt_sendx(&s->t, "00CADF1000");
    ck_assert_msg(sw == 0x9000 && s->t.resp_len == 16, "%s [%s]: card info after: %04X", what,
                  tstate_name[st], sw);
    ck_assert_uint_eq(s->t.resp[12], st == TV ? TC_STATE_VIRGIN
                                     : st == TM ? TC_STATE_MANUFACTURED
                                                : TC_STATE_ISSUING);
    if (st == TS) {
        /* The next envelope is accepted exactly when the session was kept. */
        uint8_t d[16];
        uint16_t inner;
        sw = kc_tt_env(&s->t, &s->host, TC_INS_CREATE, 1, 0, d, folder(d, 0x1002), &inner, NULL);
        ck_assert_msg(sw == (killed ? 0x6985 : 0x9000), "%s [TS]: session after: %04X", what, sw);
        if (sw == 0x9000)
            ck_assert_uint_eq(inner, 0x9000);
    }
}

static void tc_run_steps(tsnap *s, int st, const row *r, const uint8_t *apdu0, size_t len0,
                         uint16_t sw0)
{
    uint8_t apdu[8 + 8192], st0[32], st1[32], fl0[32], fl1[32];

    kc_tt_store_digest(&s->t, st0);
    mbedtls_sha256_ret(s->t.mem, kc_target_card.flash_size, fl0, 0);
    if (apdu0) {
        uint16_t sw = kc_tt_send(&s->t, apdu0, len0);
        ck_assert_msg(sw == sw0, "%s [%s]: SW %04X, documented %04X", r->what, tstate_name[st],
                      sw, sw0);
    } else {
        for (int k = 0; k < MAX_STEPS && (r->s[k].h[1] | r->s[k].h[0]); k++) {
            uint16_t sw = kc_tt_send(&s->t, apdu, build(&r->s[k], apdu));
            ck_assert_msg(sw == r->s[k].sw[st], "%s [%s] step %d: SW %04X, documented %04X",
                          r->what, tstate_name[st], k + 1, sw, r->s[k].sw[st]);
        }
    }
    kc_tt_store_digest(&s->t, st1);
    mbedtls_sha256_ret(s->t.mem, kc_target_card.flash_size, fl1, 0);
    ck_assert_msg(memcmp(st0, st1, 32) == 0, "%s [%s]: store contents changed", r->what,
                  tstate_name[st]);
    ck_assert_msg(memcmp(fl0, fl1, 32) == 0, "%s [%s]: flash image changed", r->what,
                  tstate_name[st]);
    tc_check_volatile(s, st, r->kill, r->what);
}

static void tc_run_row(const row *r, int st)
{
    tsnap_restore(&ts[st]);
    tc_run_steps(&ts[st], st, r, NULL, 0, 0);
}

START_TEST(test_tc_rows)
{
    for (size_t i = 0; i < sizeof(trows) / sizeof(trows[0]); i++)
        for (int st = 0; st < T_STATES; st++)
            tc_run_row(&trows[i], st);
}
END_TEST

START_TEST(test_tc_every_ins)
{
    for (size_t i = 0; i < N_TC_INS; i++) {
        uint8_t c = tc_ins[i][0], ins = tc_ins[i][1];
        const row gen[] = {
            T1("Lc one more than the data", 0, c, ins, 0, 0, E_LC_PLUS1, 4, NULL, NO_LE, SX(0x6700)),
            T1("Lc two less than the data", 0, c, ins, 0, 0, E_LC_MINUS2, 4, NULL, NO_LE, SX(0x6700)),
            T1("extended Lc 0000 with data", 0, c, ins, 0, 0, E_EXT_LC0, 4, NULL, NO_LE, SX(0x6700)),
            T1("header of 3 bytes", 0, c, ins, 0, 0, E_HDR3, 0, NULL, NO_LE, SX(0x6700)),
            T1("chaining bit", 0, c | 0x10, ins, 0, 0, E_SHORT, 4, NULL, NO_LE, SX(0x6884)),
            T1("chaining bit, extended", 0, c | 0x10, ins, 0, 0, E_EXT, 300, NULL, 0, SX(0x6884)),
        };
        for (size_t g = 0; g < sizeof(gen) / sizeof(gen[0]); g++)
            for (int st = 0; st < T_STATES; st++)
                tc_run_row(&gen[g], st);
    }
}
END_TEST

/* Malformed ENVELOPEs built from a real one, mid-session. */
START_TEST(test_tc_envelope)
{
    static const struct {
        const char *what;
        int mut;
        uint16_t sw;
        int kill;
    } muts[] = {
        {"P1 01", 1, 0x6700, 1},
        {"P2 01", 2, 0x6700, 1},
        {"Le missing", 3, 0x6700, 1},
        {"Le 01", 4, 0x6700, 1},
        {"short envelope in extended encoding", 5, 0x6700, 1},
        {"ciphertext one byte short", 6, 0x6700, 1},
        {"one byte too many", 7, 0x6700, 1},
        {"tag altered", 8, 0x6988, 1},
        {"counter skipped", 9, 0x6985, 1},
        {"chaining bit", 10, 0x6884, 0},
        {"Lc one more than the data", 11, 0x6700, 0},
        {"CLA 04", 12, 0x6E00, 0},
    };
    tsnap *s = &ts[TS];
    for (size_t m = 0; m < sizeof(muts) / sizeof(muts[0]); m++) {
        uint8_t env[KC_ENV_APDU_MAX + 8], e[KC_ENV_APDU_MAX + 8], d[16];
        row r;
        memset(&r, 0, sizeof(r));
        r.what = muts[m].what;
        r.kill = muts[m].kill;
        size_t n, len;
        tsnap_restore(s);
        kc_tt_session h = s->host;
        if (muts[m].mut == 9)
            h.c++; /* seal with the counter after the expected one */
        n = kc_tt_seal(&h, 0x80, TC_INS_CREATE, 1, 0, d, folder(d, 0x1003), env, sizeof(env));
        ck_assert_uint_eq(env[4], n - 6); /* bucket 128: short, Le 00 */
        memcpy(e, env, n);
        len = n;
        switch (muts[m].mut) {
        case 1: e[2] = 1; break;
        case 2: e[3] = 1; break;
        case 3: len--; break;
        case 4: e[len - 1] = 1; break;
        case 5:
            e[4] = 0, e[5] = 0, e[6] = env[4];
            memcpy(e + 7, env + 5, env[4]);
            len = 7 + env[4];
            e[len++] = 0, e[len++] = 0;
            break;
        case 6: e[4]--, e[len - 2] = 0, len--; break;
        case 7: e[4]++, e[len - 1] = 0x55, e[len++] = 0; break;
        case 8: e[len - 2] ^= 1; break;
        case 10: e[0] |= 0x10; break;
        case 11: e[4]++; len--; break;
        case 12: e[0] = 0x04; break;
        default: break;
        }
        tc_run_steps(s, TS, &r, e, len, muts[m].sw);
    }
}
END_TEST

static int tc_listed(uint8_t cla, uint8_t ins)
{
    for (size_t i = 0; i < N_TC_INS; i++)
        if (tc_ins[i][0] == cla && tc_ins[i][1] == ins)
            return 1;
    return 0;
}

START_TEST(test_tc_ins_coverage)
{
    kc_test_target t;
    kc_tt_new(&t, 9); /* virgin: a known INS answers 6985 (GET DATA 6A88, MANUFACTURE 6700) */
    const uint8_t clas[] = {0x00, 0x80, 0x84};
    for (size_t c = 0; c < sizeof(clas); c++)
        for (unsigned ins = 0; ins < 256; ins++) {
            uint8_t apdu[4] = {clas[c], (uint8_t)ins, 0, 0};
            uint16_t sw = kc_tt_send(&t, apdu, 4);
            ck_assert_msg((sw != 0x6D00) == tc_listed(clas[c], (uint8_t)ins),
                          "CLA %02X INS %02X: dispatcher %04X, test list %d", clas[c], ins, sw,
                          tc_listed(clas[c], (uint8_t)ins));
        }
    kc_tt_free(&t);
    for (size_t i = 0; i < N_TC_INS; i++) {
        unsigned n = 0;
        for (size_t r = 0; r < sizeof(trows) / sizeof(trows[0]); r++)
            n += trows[r].s[0].h[0] == tc_ins[i][0] && trows[r].s[0].h[1] == tc_ins[i][1];
        ck_assert_msg(n >= 3, "CLA %02X INS %02X: only %u specific rows", tc_ins[i][0],
                      tc_ins[i][1], n);
    }
}
END_TEST

static Suite *malformed_suite(void)
{
    Suite *s = suite_create("malformed");
    TCase *k = tcase_create("keycard");
    tcase_add_unchecked_fixture(k, kstates_setup, kstates_teardown);
    tcase_set_timeout(k, 120);
    tcase_add_test(k, test_kc_ins_coverage);
    tcase_add_test(k, test_kc_rows);
    tcase_add_test(k, test_kc_every_ins);
    suite_add_tcase(s, k);
    TCase *t = tcase_create("target");
    tcase_add_unchecked_fixture(t, tstates_setup, tstates_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_tc_ins_coverage);
    tcase_add_test(t, test_tc_rows);
    tcase_add_test(t, test_tc_every_ins);
    tcase_add_test(t, test_tc_envelope);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(malformed_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
