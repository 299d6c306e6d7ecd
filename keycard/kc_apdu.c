/*
 * kc_apdu.c - APDU parsing, command chaining and response building for the
 * key card (see kc_apdu.h and docs/apdu.md, "Transport rules").
 *
 * Encodings accepted (ISO 7816-3 12.1.3), with b = bytes after the header:
 *   case 1:   b = 0
 *   case 2S:  b = 1                      Le (00 = 256)
 *   case 3S:  b = 1 + Lc, Lc != 0
 *   case 4S:  b = 2 + Lc, Lc != 0        ... Le (00 = 256)
 *   case 2E:  b = 3, first byte 00       Le(2) (0000 = 65536)
 *   case 3E:  b = 3 + Lc, 00 Lc(2) != 0
 *   case 4E:  b = 5 + Lc, 00 Lc(2) != 0  ... Le(2) (0000 = 65536)
 * Anything else is malformed.
 */
#include "kc_apdu.h"

#include <string.h>

#include "kc_crypto.h"
#include "kc_err.h"

int kc_apdu_parse(kc_apdu *a, const uint8_t *cmd, size_t len)
{
    if (a == NULL || cmd == NULL || len < 4)
        return KC_ERR_BAD_DATA;
    memset(a, 0, sizeof(*a));
    a->cla = cmd[0];
    a->ins = cmd[1];
    a->p1 = cmd[2];
    a->p2 = cmd[3];
    const uint8_t *b = cmd + 4;
    size_t n = len - 4;

    if (n == 0) { /* case 1 */
        a->ne = 256;
        return 0;
    }
    if (n == 1) { /* case 2S */
        a->le_present = 1;
        a->ne = b[0] ? b[0] : 256;
        return 0;
    }
    if (b[0] != 0) { /* short Lc */
        size_t lc = b[0];
        if (n == 1 + lc) { /* case 3S */
            a->ne = 256;
        } else if (n == 2 + lc) { /* case 4S */
            a->le_present = 1;
            a->ne = b[1 + lc] ? b[1 + lc] : 256;
        } else {
            return KC_ERR_BAD_DATA;
        }
        a->lc = lc;
        a->data = b + 1;
        return 0;
    }
    /* b[0] == 0 and n >= 2: extended length. */
    a->extended = 1;
    if (n == 3) { /* case 2E */
        size_t le = ((size_t)b[1] << 8) | b[2];
        a->le_present = 1;
        a->ne = le ? le : 65536;
        return 0;
    }
    if (n < 3)
        return KC_ERR_BAD_DATA;
    size_t lc = ((size_t)b[1] << 8) | b[2];
    if (lc == 0)
        return KC_ERR_BAD_DATA;
    if (n == 3 + lc) { /* case 3E */
        a->ne = 65536;
    } else if (n == 5 + lc) { /* case 4E */
        size_t le = ((size_t)b[3 + lc] << 8) | b[4 + lc];
        a->le_present = 1;
        a->ne = le ? le : 65536;
    } else {
        return KC_ERR_BAD_DATA;
    }
    a->lc = lc;
    a->data = b + 3;
    return 0;
}

void kc_apdu_chain_reset(kc_apdu_chain *c)
{
    /* The chain may hold PIN digits (a chained VERIFY): wipe what was used. */
    kc_wipe(c->buf, c->len);
    c->len = 0;
    c->active = 0;
}

int kc_apdu_chain_continues(const kc_apdu_chain *c, const kc_apdu *a)
{
    return c->active && c->cla == (a->cla & (uint8_t)~KC_CLA_CHAIN) && c->ins == a->ins &&
           c->p1 == a->p1 && c->p2 == a->p2;
}

int kc_apdu_chain_add(kc_apdu_chain *c, const kc_apdu *a)
{
    if (!c->active) {
        c->active = 1;
        c->len = 0;
        c->cla = a->cla & (uint8_t)~KC_CLA_CHAIN;
        c->ins = a->ins;
        c->p1 = a->p1;
        c->p2 = a->p2;
    }
    if (a->lc > KC_APDU_MAX_DATA - c->len) {
        kc_apdu_chain_reset(c);
        return KC_ERR_TOO_BIG;
    }
    if (a->lc)
        memcpy(c->buf + c->len, a->data, a->lc);
    c->len += a->lc;
    return 0;
}

int kc_apdu_chain_finish(kc_apdu_chain *c, kc_apdu *a)
{
    int rc = kc_apdu_chain_add(c, a);
    if (rc)
        return rc;
    c->active = 0; /* complete: the next command starts afresh */
    a->data = c->buf;
    a->lc = c->len;
    return 0;
}

size_t kc_apdu_respond(uint8_t *resp, size_t len, uint16_t sw)
{
    resp[len] = (uint8_t)(sw >> 8);
    resp[len + 1] = (uint8_t)sw;
    return len + 2;
}
