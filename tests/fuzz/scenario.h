/*
 * scenario.h - a fixed script of libkeycard public API calls against a key
 * card and a target card, shared by the libkeycard response fuzzer (the
 * cards' answers come from the fuzzer) and the seed recorder (the answers
 * come from the real firmware and are recorded as seeds). Test code.
 *
 * The key card is opened as "pcsc:kc" and the target as "pcsc:tc"; the
 * program linking this provides kcl_transport_pcsc (see transport.h).
 */
#ifndef FUZZ_SCENARIO_H
#define FUZZ_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"

/* Steps of the script, in the order they run. */
enum {
    SC_PROVISION = 0, /* blank key card: begin, puts, generate, sign, commit */
    SC_MANUFACTURE,   /* virgin target: manufacture with keys 1 and 2 */
    SC_STATUS,        /* status, tries left */
    SC_UNLOCK,        /* verify both PINs, holder info, identity check */
    SC_AUDIT,         /* admin key, audit read */
    SC_DIRS,          /* admin key, key and template directories */
    SC_TARGET_INFO,   /* target info */
    SC_ISSUE_STATIC,  /* a whole issuance, way 1 (key 1) */
    SC_ISSUE_TSEED,   /* way 3 (key 2), packed */
    SC_ISSUE_PREV,    /* way 4 (key 1) */
    SC_PINS,          /* a wrong PIN, change, unblock, change admin */
    SC_RAW,           /* keycard_transmit / keycard_target_transmit */
    SC_ABORT,         /* provisioning begun and aborted */
    SC_KEYS,          /* admin key: versions, destroy, backup, restore, export */
    SC_COUNT
};

/* The demo material (same values as tests/unit/support/kc_test_card.h). */
extern const uint8_t sc_serial[8];
extern const uint8_t sc_key1[16];
extern const uint8_t sc_key2[32];

typedef struct sc_ctx {
    keycard *kc;        /* opened lazily by the steps that need it */
    keycard_target *tg;
    /* Provisioning's issuer signature over tbs (NULL: 64 zero bytes). */
    void (*sign)(const uint8_t *tbs, size_t len, uint8_t sig[64]);
    /* Called before each step; returns 0 to stop the script. */
    int (*more)(void);
} sc_ctx;

/* Run the steps whose bit is set in mask, in order; then close the handles. */
void sc_run(sc_ctx *c, uint32_t mask);

/* One step (opens handles as needed, keeps them). */
void sc_step(sc_ctx *c, int step);

/* Close the handles. */
void sc_close(sc_ctx *c);

#endif /* FUZZ_SCENARIO_H */
