/*
 * kc_hw_ram.h - the hardware boundary (kc_hw.h) simulated over a RAM buffer,
 * for unit tests: flash with NOR semantics in caller-owned memory, an
 * optionally deterministic RNG, a settable clock and power-cut injection.
 *
 * Power cuts: set r->cut_after = N and r->cut_mode; the first N program/erase
 * operations succeed, operation N+1 is cut as cut_mode says and it and every
 * later one fail with KC_ERR_FLASH ("power is off") until kc_hw_ram_init is
 * called again on the same memory, which is the card rebooting.
 */
#ifndef KC_HW_RAM_H
#define KC_HW_RAM_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"

/* What the cut operation leaves behind. */
enum {
    KC_HW_RAM_CUT_NOTHING = 0, /* the operation did not start */
    KC_HW_RAM_CUT_HALF = 1,    /* first half of the bytes (or of the page) done */
    KC_HW_RAM_CUT_DONE = 2,    /* done completely, power lost before it reported */
    KC_HW_RAM_CUT_TAIL = 3,    /* second half done, first half not (write order unknown) */
    /*
     * Area erased but not programmed: a cut erase completes (the page is all
     * 0xFF) and a cut program writes nothing, so with cut_after = the index
     * of an erase + 1 and mode NOTHING, or cut_after = that index and this
     * mode, the card reboots on a page erased for data that never came.
     * Named so a campaign states the case explicitly.
     */
    KC_HW_RAM_CUT_ERASED = 4,
    KC_HW_RAM_CUT_MODES = 5
};

typedef struct kc_hw_ram {
    uint8_t *mem;
    size_t size;
    size_t page_size;
    unsigned long ops;     /* program + erase operations attempted since init */
    unsigned long programs; /* successful program operations */
    unsigned long erases;   /* successful erase operations */
    long cut_after;        /* -1: never cut; else ops allowed before the cut */
    int cut_mode;          /* KC_HW_RAM_CUT_* */
    int dead;              /* power cut happened: every operation fails */
    int rng_deterministic; /* 1: xorshift from rng_state instead of getrandom() */
    uint64_t rng_state;
    int rng_fail;          /* 1: rng returns KC_ERR_RNG (tests of failure paths) */
    uint32_t now;          /* what clock returns */
    /*
     * Optional observer, called after every program/erase that succeeded
     * (op = its index since init, is_erase 1 for an erase): lets a test see
     * each intermediate flash image. Cleared by kc_hw_ram_init.
     */
    void (*on_op)(void *arg, unsigned long op, int is_erase);
    void *on_op_arg;
} kc_hw_ram;

/*
 * Wrap mem (size bytes, a multiple of page_size; contents kept as they are)
 * and fill *out. Resets ops, the cut and the dead flag; clock 1700000000,
 * system RNG. Returns 0 or KC_ERR_ARG.
 */
int kc_hw_ram_init(kc_hw_ram *r, uint8_t *mem, size_t size, size_t page_size, kc_hw *out);

/* Make the RNG a repeatable xorshift64* stream from seed. */
void kc_hw_ram_seed(kc_hw_ram *r, uint64_t seed);

#endif /* KC_HW_RAM_H */
