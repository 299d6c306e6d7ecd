/*
 * kc_model.h - unit-test helper for power-cut campaigns (test_powercut.c):
 * any card of kc_card.h on RAM flash seen as a device whose whole state
 * (flash image, RAM context, simulated hardware) can be snapshotted and put
 * back, rebooted after a cut, and reduced to an observable state: a digest
 * of the committed store contents. A trace records every distinct committed
 * state a command passes through, which is the reference for commands that
 * are documented as more than one commit (VERIFY spends the try first).
 */
#ifndef KC_MODEL_H
#define KC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "hw/kc_hw_ram.h"
#include "kc_card.h"
#include "kc_hw.h"

/* A card under test: pointers into a kc_test_card or kc_test_target. */
typedef struct kc_model_dev {
    const kc_card_ops *ops;
    uint8_t *mem;
    kc_hw_ram *ram;
    kc_hw *hw;
    void *ctx;
} kc_model_dev;

/* Everything that survives or not across a command: flash, RAM context, hw. */
typedef struct kc_model_snap {
    uint8_t *mem;
    uint8_t *ctx;
    kc_hw_ram ram;
} kc_model_snap;

#define KC_MODEL_TRACE_MAX 64

/* Distinct committed states seen after each flash operation of a run. */
typedef struct kc_model_trace {
    const kc_model_dev *dev;
    size_t n;
    uint8_t d[KC_MODEL_TRACE_MAX][32];
    unsigned long erases; /* erase operations seen */
    unsigned long erase_ops[KC_MODEL_TRACE_MAX]; /* their op indices (first ones) */
} kc_model_trace;

/* Allocate snap for dev and copy dev's state into it (aborts on no memory). */
void kc_model_snap_take(const kc_model_dev *dev, kc_model_snap *snap);
/* Copy dev's state into an already taken snap. */
void kc_model_snap_update(const kc_model_dev *dev, kc_model_snap *snap);
/* Put dev back exactly as it was when snap was taken. */
void kc_model_snap_restore(const kc_model_dev *dev, const kc_model_snap *snap);
void kc_model_snap_free(kc_model_snap *snap);

/*
 * Reboot on the same flash: re-init kc_hw_ram (clears the cut, keeps RNG
 * stream and clock), RAM context garbage, card init, power on. Returns init's rc.
 */
int kc_model_reboot(const kc_model_dev *dev);

/*
 * SHA-256 over the committed store contents of mem (a private copy is
 * mounted): keys in order with their values. Returns 0, or -1 when the image
 * does not mount.
 */
int kc_model_digest(const kc_card_ops *ops, const uint8_t *mem, uint8_t out[32]);

/* Free bytes left in the store's active area of mem (a copy is mounted); 0 when it does not mount. */
size_t kc_model_store_free(const kc_card_ops *ops, const uint8_t *mem);

/* Start recording into tr the committed state after every flash op of dev. */
void kc_model_trace_start(kc_model_trace *tr, const kc_model_dev *dev);
void kc_model_trace_stop(kc_model_trace *tr);
/* 1 when d is one of the recorded states. */
int kc_model_trace_has(const kc_model_trace *tr, const uint8_t d[32]);

/* Short hex of a digest for messages (static buffer; 8 bytes shown). */
const char *kc_model_hex8(const uint8_t d[32]);

#endif /* KC_MODEL_H */
