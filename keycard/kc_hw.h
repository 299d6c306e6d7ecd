/*
 * kc_hw.h - the hardware boundary of the card firmware.
 *
 * Everything the firmware needs from the chip is here: a NOR-like flash
 * (read by mapping, program only clears bits, erase sets a page to 0xFF),
 * a random source and a clock. On this machine keycard/hw/ implements it over
 * a file (kc_hw_file.c) or over RAM (kc_hw_ram.c, for unit tests); a real chip
 * port implements the same structure. The firmware never touches anything else.
 */
#ifndef KC_HW_H
#define KC_HW_H

#include <stddef.h>
#include <stdint.h>

typedef struct kc_flash {
    void *ctx;
    size_t size;      /* total bytes, a multiple of page_size */
    size_t page_size; /* erase unit */
    /* Read access: the whole flash, memory-mapped, read-only. */
    const uint8_t *(*map)(void *ctx);
    /*
     * Program len bytes at off. Like NOR flash, bits can only go from 1 to 0:
     * the result is old AND data. Returns 0 or KC_ERR_FLASH.
     */
    int (*program)(void *ctx, size_t off, const uint8_t *data, size_t len);
    /* Erase one page (index), setting it to 0xFF. Returns 0 or KC_ERR_FLASH. */
    int (*erase)(void *ctx, size_t page);
} kc_flash;

typedef struct kc_hw {
    kc_flash flash;
    void *ctx; /* for rng and clock */
    /* Fill buf with len random bytes. Returns 0 or KC_ERR_RNG. */
    int (*rng)(void *ctx, uint8_t *buf, size_t len);
    /* Seconds since the Unix epoch, or 0 when the card has no clock. */
    uint32_t (*clock)(void *ctx);
} kc_hw;

#endif /* KC_HW_H */
