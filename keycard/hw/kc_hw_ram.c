/*
 * kc_hw_ram.c - kc_hw over a RAM buffer with power-cut injection, for unit
 * tests (see kc_hw_ram.h). Host-side simulation, not firmware.
 */
#include "kc_hw_ram.h"

#include <string.h>
#include <sys/random.h>

#include "kc_err.h"

static const uint8_t *ram_map(void *ctx)
{
    return ((kc_hw_ram *)ctx)->mem;
}

/* Count the operation; returns 1 when it must be cut now, -1 when power is off. */
static int ram_cut_check(kc_hw_ram *r)
{
    unsigned long n = r->ops++;
    if (r->dead)
        return -1;
    if (r->cut_after >= 0 && n == (unsigned long)r->cut_after) {
        r->dead = 1;
        return 1;
    }
    return 0;
}

static void and_into(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] &= src[i];
}

static int ram_program(void *ctx, size_t off, const uint8_t *data, size_t len)
{
    kc_hw_ram *r = ctx;
    if (off > r->size || len > r->size - off)
        return KC_ERR_FLASH;
    int cut = ram_cut_check(r);
    if (cut < 0)
        return KC_ERR_FLASH;
    if (cut) {
        size_t h = len / 2;
        switch (r->cut_mode) {
        case KC_HW_RAM_CUT_HALF: and_into(r->mem + off, data, h); break;
        case KC_HW_RAM_CUT_DONE: and_into(r->mem + off, data, len); break;
        case KC_HW_RAM_CUT_TAIL: and_into(r->mem + off + h, data + h, len - h); break;
        default: break;
        }
        return KC_ERR_FLASH;
    }
    and_into(r->mem + off, data, len);
    r->programs++;
    if (r->on_op)
        r->on_op(r->on_op_arg, r->ops - 1, 0);
    return 0;
}

static int ram_erase(void *ctx, size_t page)
{
    kc_hw_ram *r = ctx;
    if (page >= r->size / r->page_size)
        return KC_ERR_FLASH;
    uint8_t *p = r->mem + page * r->page_size;
    size_t h = r->page_size / 2;
    int cut = ram_cut_check(r);
    if (cut < 0)
        return KC_ERR_FLASH;
    if (cut) {
        switch (r->cut_mode) {
        case KC_HW_RAM_CUT_HALF: memset(p, 0xFF, h); break;
        case KC_HW_RAM_CUT_DONE: memset(p, 0xFF, r->page_size); break;
        case KC_HW_RAM_CUT_TAIL: memset(p + h, 0xFF, r->page_size - h); break;
        case KC_HW_RAM_CUT_ERASED: memset(p, 0xFF, r->page_size); break;
        default: break;
        }
        return KC_ERR_FLASH;
    }
    memset(p, 0xFF, r->page_size);
    r->erases++;
    if (r->on_op)
        r->on_op(r->on_op_arg, r->ops - 1, 1);
    return 0;
}

/* xorshift64*: repeatable, not secure; tests only. */
static uint64_t xs_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int ram_rng(void *ctx, uint8_t *buf, size_t len)
{
    kc_hw_ram *r = ctx;
    if (r->rng_fail)
        return KC_ERR_RNG;
    if (r->rng_deterministic) {
        for (size_t i = 0; i < len; i += 8) {
            uint64_t v = xs_next(&r->rng_state);
            for (size_t j = 0; j < 8 && i + j < len; j++)
                buf[i + j] = (uint8_t)(v >> (8 * j));
        }
        return 0;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n <= 0)
            return KC_ERR_RNG;
        got += (size_t)n;
    }
    return 0;
}

static uint32_t ram_clock(void *ctx)
{
    return ((kc_hw_ram *)ctx)->now;
}

void kc_hw_ram_seed(kc_hw_ram *r, uint64_t seed)
{
    r->rng_deterministic = 1;
    r->rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL; /* xorshift must not start at 0 */
}

int kc_hw_ram_init(kc_hw_ram *r, uint8_t *mem, size_t size, size_t page_size, kc_hw *out)
{
    if (!r || !mem || !out || !page_size || size == 0 || size % page_size)
        return KC_ERR_ARG;
    memset(r, 0, sizeof *r);
    r->mem = mem;
    r->size = size;
    r->page_size = page_size;
    r->cut_after = -1;
    r->now = 1700000000u;
    memset(out, 0, sizeof *out);
    out->flash.ctx = r;
    out->flash.size = size;
    out->flash.page_size = page_size;
    out->flash.map = ram_map;
    out->flash.program = ram_program;
    out->flash.erase = ram_erase;
    out->ctx = r;
    out->rng = ram_rng;
    out->clock = ram_clock;
    return 0;
}
