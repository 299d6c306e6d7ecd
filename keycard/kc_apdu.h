/*
 * kc_apdu.h - the APDU layer of the key card: parse a command APDU (ISO 7816-3
 * short and extended length, cases 1 to 4), compute Ne, reassemble command
 * chains (CLA bit 0x10) and build response APDUs.
 *
 * Below the applet dispatcher (kc_applet.c), above nothing: it only knows
 * bytes. The chain buffer lives in the caller-owned kc_apdu_chain, so the
 * firmware keeps no static state.
 */
#ifndef KC_APDU_H
#define KC_APDU_H

#include <stddef.h>
#include <stdint.h>

#include "keycard_proto.h"

/* A parsed command APDU. data points into the command or the chain buffer. */
typedef struct kc_apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;       /* Nc: data length (whole chain once reassembled) */
    size_t ne;       /* Ne: most response bytes the reader accepts */
    int le_present;  /* 1 when the command carried an Le field */
    int extended;    /* 1 for extended length encoding */
} kc_apdu;

/* Reassembly state of a command chain; KC_APDU_MAX_DATA bytes is the worst case. */
typedef struct kc_apdu_chain {
    int active; /* 1 while parts have been received and the last is pending */
    uint8_t cla, ins, p1, p2; /* of the first part, CLA without the chain bit */
    size_t len;
    uint8_t buf[KC_APDU_MAX_DATA];
} kc_apdu_chain;

/*
 * Parse len bytes of cmd into a. Ne is Le (0 meaning 256, or 65536 extended)
 * when present, else 256 for short and 65536 for extended APDUs (the key card
 * then returns all the data it has). Returns 0, or KC_ERR_BAD_DATA for a
 * malformed APDU (the caller answers 6700).
 */
int kc_apdu_parse(kc_apdu *a, const uint8_t *cmd, size_t len);

/* Forget any partial chain (power events, errors). */
void kc_apdu_chain_reset(kc_apdu_chain *c);

/*
 * 1 when the chain is active and a (CLA without chain bit, INS, P1, P2)
 * continues it, else 0.
 */
int kc_apdu_chain_continues(const kc_apdu_chain *c, const kc_apdu *a);

/*
 * Append a's data to the chain (starting one when none is active).
 * Returns 0 or KC_ERR_TOO_BIG (more than KC_APDU_MAX_DATA in total; the
 * chain is discarded).
 */
int kc_apdu_chain_add(kc_apdu_chain *c, const kc_apdu *a);

/*
 * Complete the last part a of an active chain: append its data and point
 * a->data/a->lc at the whole chain. Returns 0 or KC_ERR_TOO_BIG (chain
 * discarded). The chain stays readable until the next kc_apdu_chain_reset.
 */
int kc_apdu_chain_finish(kc_apdu_chain *c, kc_apdu *a);

/* Append SW1 SW2 after len data bytes in resp; returns len + 2. */
size_t kc_apdu_respond(uint8_t *resp, size_t len, uint16_t sw);

#endif /* KC_APDU_H */
