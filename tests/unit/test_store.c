/*
 * test_store.c - Check suite for the persistent store (keycard/kc_store.c)
 * over the RAM flash simulation (keycard/hw/kc_hw_ram.c), plus the file-backed
 * simulation (keycard/hw/kc_hw_file.c).
 *
 * The power-cut test replays a scripted sequence of transactions, cutting the
 * power at every single program/erase operation in every cut mode, and checks
 * that a remount always shows exactly one committed snapshot: the one before
 * the interrupted transaction, or (only when the cut hit its commit) the one
 * after.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/kc_hw_file.h"
#include "hw/kc_hw_ram.h"
#include "kc_err.h"
#include "kc_store.h"

/* The key card's geometry: 128 KiB flash, 2 KiB pages. */
#define FLASH_SIZE (128u * 1024u)
#define PAGE_SIZE 2048u
#define AREA_SIZE (FLASH_SIZE / 2)
#define HDR_SIZE 16u

static uint8_t mem[FLASH_SIZE];
static kc_hw_ram ram;
static kc_hw hw;
static kc_store st;

static size_t rec_size(size_t len)
{
    return 8 + ((len + 3) & ~(size_t)3) + 4;
}

static void fresh(void)
{
    memset(mem, 0xFF, sizeof mem);
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), 0);
}

/* Reboot: a new hw over the same memory, a new mount. */
static void remount(void)
{
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    memset(&st, 0xA5, sizeof st); /* nothing may survive in RAM */
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), 0);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static void expect_value(uint16_t key, const void *val, size_t len)
{
    const uint8_t *d = NULL;
    size_t n = 0;
    ck_assert_int_eq(kc_store_get(&st, key, &d, &n), 0);
    ck_assert_uint_eq(n, len);
    if (len)
        ck_assert_mem_eq(d, val, len);
}

static void expect_absent(uint16_t key)
{
    const uint8_t *d;
    size_t n;
    ck_assert_int_eq(kc_store_get(&st, key, &d, &n), KC_ERR_NOT_FOUND);
}

/* ---- basics ----------------------------------------------------------- */

START_TEST(test_blank_format)
{
    static const uint8_t magic[4] = {'K', 'C', 'S', '1'};
    fresh();
    ck_assert_int_eq(kc_store_empty(&st), 1);
    ck_assert_int_eq(st.active, 0);
    ck_assert_uint_eq(st.generation, 1);
    ck_assert_uint_eq(kc_store_free(&st), AREA_SIZE - HDR_SIZE);
    ck_assert_mem_eq(mem, magic, 4);
    ck_assert_uint_eq(mem[8], 1); /* generation, little-endian */
    /* Formatting a blank flash programs the header only: nothing to erase. */
    ck_assert_uint_eq(ram.erases, 0);
    ck_assert_uint_eq(ram.programs, 1);
    /* A second mount changes nothing. */
    remount();
    ck_assert_uint_eq(ram.ops, 0);
    ck_assert_int_eq(kc_store_empty(&st), 1);
}
END_TEST

/* Data without a valid area header is damage: refused, and the flash left as it is. */
START_TEST(test_garbage_flash_refused)
{
    static uint8_t copy[FLASH_SIZE];
    memset(mem, 0x5A, sizeof mem);
    memcpy(copy, mem, sizeof mem);
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), KC_ERR_CORRUPT);
    ck_assert_uint_eq(st.damage_at, 0);
    ck_assert_mem_eq(mem, copy, sizeof mem);
}
END_TEST

/* A first format torn in its header: still a blank card, formatted again. */
START_TEST(test_torn_first_format_formats)
{
    memset(mem, 0xFF, sizeof mem);
    memcpy(mem, "\x4B\x43\x53", 3);
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), 0);
    ck_assert_int_eq(kc_store_empty(&st), 1);
    ck_assert_int_eq(kc_store_put1(&st, 1, "x", 1), 0);
    remount();
    expect_value(1, "x", 1);
}
END_TEST

static const struct geom {
    size_t size, page;
    int rc;
} geoms[] = {
    {FLASH_SIZE, PAGE_SIZE, 0},
    {3 * 2048, 2048, KC_ERR_ARG},          /* odd number of pages: no two areas */
    {2 * 1024, 1024, KC_ERR_ARG},          /* area smaller than one largest record */
    {2 * 512 * 1024, 2048, KC_ERR_ARG},    /* area too big for idx_off (offset / 4 in u16) */
    {2 * 256 * 1024, 2048, 0},             /* largest area idx_off covers */
    {8 * 1024, 1024, 0},
};

START_TEST(test_geometry)
{
    static uint8_t big[2 * 512 * 1024];
    const struct geom *g = &geoms[_i];
    kc_flash f;
    memset(big, 0xFF, g->size);
    ck_assert_int_eq(kc_hw_ram_init(&ram, big, g->size, g->page, &hw), 0);
    f = hw.flash;
    f.size = g->size;
    ck_assert_int_eq(kc_store_mount(&st, &f), g->rc);
    ck_assert_int_eq(kc_store_mount(&st, NULL), KC_ERR_ARG);
}
END_TEST

START_TEST(test_put_get_read)
{
    uint8_t buf[16];
    size_t n = 99;
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 7, "hello", 5), 0);
    ck_assert_int_eq(kc_store_put1(&st, 8, NULL, 0), 0);
    ck_assert_int_eq(kc_store_empty(&st), 0);
    expect_value(7, "hello", 5);
    expect_value(8, NULL, 0);
    expect_absent(9);
    ck_assert_int_eq(kc_store_read(&st, 7, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(buf, "hello", 5);
    n = 99;
    memset(buf, 0xEE, sizeof buf);
    ck_assert_int_eq(kc_store_read(&st, 7, buf, 4, &n), KC_ERR_TOO_BIG);
    ck_assert_uint_eq(buf[0], 0xEE); /* nothing copied */
    ck_assert_int_eq(kc_store_read(&st, 9, buf, sizeof buf, &n), KC_ERR_NOT_FOUND);
    /* Largest value. */
    static uint8_t v[KC_STORE_VALUE_MAX];
    fill(v, sizeof v, 3);
    ck_assert_int_eq(kc_store_put1(&st, 0xFFEF, v, sizeof v), 0);
    remount();
    expect_value(7, "hello", 5);
    expect_value(8, NULL, 0);
    expect_value(0xFFEF, v, sizeof v);
    ck_assert_uint_eq(st.n_keys, 3);
}
END_TEST

START_TEST(test_errors)
{
    static uint8_t v[KC_STORE_VALUE_MAX + 1];
    fresh();
    ck_assert_int_eq(kc_store_put(&st, 1, "a", 1), KC_ERR_STATE);
    ck_assert_int_eq(kc_store_delete(&st, 1), KC_ERR_STATE);
    ck_assert_int_eq(kc_store_commit(&st), KC_ERR_STATE);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_begin(&st), KC_ERR_STATE);
    ck_assert_int_eq(kc_store_put(&st, 0xFFF0, "a", 1), KC_ERR_ARG);
    ck_assert_int_eq(kc_store_put(&st, 0xFFFF, "a", 1), KC_ERR_ARG);
    ck_assert_int_eq(kc_store_delete(&st, 0xFFF1), KC_ERR_ARG);
    ck_assert_int_eq(kc_store_put(&st, 1, NULL, 1), KC_ERR_ARG);
    ck_assert_int_eq(kc_store_put(&st, 1, v, sizeof v), KC_ERR_TOO_BIG);
    ck_assert_int_eq(kc_store_put1(&st, 2, "b", 1), KC_ERR_STATE); /* txn open */
    /* None of the refused calls wrote anything. */
    ck_assert_uint_eq(kc_store_free(&st), AREA_SIZE - HDR_SIZE);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    ck_assert_int_eq(kc_store_empty(&st), 1);
}
END_TEST

START_TEST(test_uncommitted_invisible)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "old", 3), 0);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_put(&st, 1, "new", 3), 0);
    ck_assert_int_eq(kc_store_put(&st, 2, "two", 3), 0);
    ck_assert_int_eq(kc_store_delete(&st, 1), 0);
    ck_assert_int_eq(kc_store_put(&st, 1, "newer", 5), 0);
    /* Reads see the committed state only. */
    expect_value(1, "old", 3);
    expect_absent(2);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    expect_value(1, "newer", 5);
    expect_value(2, "two", 3);
    remount();
    expect_value(1, "newer", 5);
    expect_value(2, "two", 3);
}
END_TEST

START_TEST(test_abort)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "keep", 4), 0);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_put(&st, 1, "lost", 4), 0);
    ck_assert_int_eq(kc_store_put(&st, 3, "lost", 4), 0);
    kc_store_abort(&st);
    expect_value(1, "keep", 4);
    expect_absent(3);
    /* A later transaction must not adopt the aborted records. */
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_put(&st, 4, "four", 4), 0);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    expect_value(1, "keep", 4);
    expect_absent(3);
    expect_value(4, "four", 4);
    remount();
    expect_value(1, "keep", 4);
    expect_absent(3);
    expect_value(4, "four", 4);
}
END_TEST

START_TEST(test_delete)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "a", 1), 0);
    ck_assert_int_eq(kc_store_put1(&st, 2, "b", 1), 0);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_delete(&st, 1), 0);
    ck_assert_int_eq(kc_store_delete(&st, 77), 0); /* absent key: harmless */
    expect_value(1, "a", 1);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    expect_absent(1);
    expect_value(2, "b", 1);
    remount();
    expect_absent(1);
    expect_value(2, "b", 1);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_delete(&st, 2), 0);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    ck_assert_int_eq(kc_store_empty(&st), 1);
    remount();
    ck_assert_int_eq(kc_store_empty(&st), 1);
}
END_TEST

START_TEST(test_empty_commit_writes_nothing)
{
    fresh();
    unsigned long ops = ram.ops;
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    ck_assert_uint_eq(ram.ops, ops);
    ck_assert_int_eq(kc_store_begin(&st), 0); /* the txn is closed */
    kc_store_abort(&st);
}
END_TEST

START_TEST(test_remount_open_txn)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "one", 3), 0);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_put(&st, 1, "uno", 3), 0);
    ck_assert_int_eq(kc_store_put(&st, 2, "dos", 3), 0);
    /* Power goes away without a commit. */
    remount();
    expect_value(1, "one", 3);
    expect_absent(2);
    ck_assert_int_eq(st.dirty_tail, 0);
    ck_assert_int_eq(kc_store_put1(&st, 3, "tres", 4), 0);
    remount();
    expect_value(1, "one", 3);
    expect_absent(2);
    expect_value(3, "tres", 4);
    ck_assert_uint_eq(st.n_keys, 2);
}
END_TEST

/* A put that fails on flash ends the transaction: it can never commit half. */
START_TEST(test_flash_error_ends_txn)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "old", 3), 0);
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_put(&st, 1, "new", 3), 0);
    ram.cut_after = (long)ram.ops; /* the next operation fails */
    ck_assert_int_eq(kc_store_put(&st, 2, "two", 3), KC_ERR_FLASH);
    ck_assert_int_eq(kc_store_commit(&st), KC_ERR_STATE);
    kc_store_abort(&st); /* harmless on a closed transaction */
    expect_value(1, "old", 3);
    remount();
    expect_value(1, "old", 3);
    expect_absent(2);
}
END_TEST

/* ---- compaction and space --------------------------------------------- */

START_TEST(test_compaction)
{
    static uint8_t v[600];
    uint32_t gen0;
    fresh();
    gen0 = st.generation;
    /* About 20 areas' worth of writes over 24 keys. */
    for (unsigned i = 0; i < 2400; i++) {
        size_t len = 100 + (i * 37) % 500;
        fill(v, len, i);
        ck_assert_int_eq(kc_store_put1(&st, (uint16_t)(i % 24), v, len), 0);
    }
    ck_assert_uint_ge(st.generation, gen0 + 15);
    for (unsigned i = 2400 - 24; i < 2400; i++) {
        size_t len = 100 + (i * 37) % 500;
        fill(v, len, i);
        expect_value((uint16_t)(i % 24), v, len);
    }
    uint32_t gen = st.generation;
    int active = st.active;
    remount();
    ck_assert_uint_eq(st.generation, gen);
    ck_assert_int_eq(st.active, active);
    ck_assert_uint_eq(st.n_keys, 24);
    for (unsigned i = 2400 - 24; i < 2400; i++) {
        size_t len = 100 + (i * 37) % 500;
        fill(v, len, i);
        expect_value((uint16_t)(i % 24), v, len);
    }
}
END_TEST

/* A compaction in the middle of a transaction carries its records along. */
START_TEST(test_compaction_in_txn)
{
    static uint8_t v[KC_STORE_VALUE_MAX];
    for (int do_commit = 0; do_commit < 2; do_commit++) {
        fresh();
        fill(v, sizeof v, 1);
        ck_assert_int_eq(kc_store_put1(&st, 100, "base", 4), 0);
        /* Fill with garbage (one key overwritten) to just under full. */
        while (kc_store_free(&st) > 3 * rec_size(sizeof v))
            ck_assert_int_eq(kc_store_put1(&st, 1, v, sizeof v), 0);
        uint32_t gen = st.generation;
        ck_assert_int_eq(kc_store_begin(&st), 0);
        for (uint16_t k = 10; k < 16; k++) {
            fill(v, sizeof v, k);
            ck_assert_int_eq(kc_store_put(&st, k, v, sizeof v), 0);
        }
        ck_assert_int_eq(kc_store_delete(&st, 100), 0);
        ck_assert_uint_eq(st.generation, gen + 1); /* compacted mid-transaction */
        expect_value(100, "base", 4);
        expect_absent(10);
        if (do_commit)
            ck_assert_int_eq(kc_store_commit(&st), 0);
        else
            kc_store_abort(&st);
        for (int pass = 0; pass < 2; pass++) {
            for (uint16_t k = 10; k < 16; k++) {
                fill(v, sizeof v, k);
                if (do_commit)
                    expect_value(k, v, sizeof v);
                else
                    expect_absent(k);
            }
            if (do_commit)
                expect_absent(100);
            else
                expect_value(100, "base", 4);
            fill(v, sizeof v, 1);
            expect_value(1, v, sizeof v);
            remount();
        }
    }
}
END_TEST

START_TEST(test_no_space)
{
    static uint8_t v[KC_STORE_VALUE_MAX];
    uint16_t k = 0;
    int rc;
    fresh();
    for (;;) {
        fill(v, sizeof v, k);
        rc = kc_store_put1(&st, k, v, sizeof v);
        if (rc)
            break;
        k++;
    }
    ck_assert_int_eq(rc, KC_ERR_NO_SPACE);
    ck_assert_uint_ge(k, 30); /* 64 KiB of 2 KiB values, less overhead */
    /* A full store that cannot gain from compaction does not erase anything. */
    unsigned long erases = ram.erases;
    ck_assert_int_eq(kc_store_put1(&st, k, v, sizeof v), KC_ERR_NO_SPACE);
    ck_assert_uint_eq(ram.erases, erases);
    /* Still usable: the failed transaction left nothing. */
    expect_absent(k);
    remount();
    ck_assert_uint_eq(st.n_keys, k);
    for (uint16_t i = 0; i < k; i++) {
        fill(v, sizeof v, i);
        expect_value(i, v, sizeof v);
    }
    /* Deleting makes room again (through compaction). */
    ck_assert_int_eq(kc_store_begin(&st), 0);
    ck_assert_int_eq(kc_store_delete(&st, 0), 0);
    ck_assert_int_eq(kc_store_delete(&st, 1), 0);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    fill(v, sizeof v, 500);
    ck_assert_int_eq(kc_store_put1(&st, 500, v, sizeof v), 0);
    remount();
    expect_value(500, v, sizeof v);
    expect_absent(0);
    expect_absent(1);
}
END_TEST

START_TEST(test_max_keys)
{
    fresh();
    ck_assert_int_eq(kc_store_begin(&st), 0);
    for (unsigned k = 0; k < KC_STORE_MAX_KEYS; k++)
        ck_assert_int_eq(kc_store_put(&st, (uint16_t)(k * 3), "", 0), 0);
    ck_assert_int_eq(kc_store_put(&st, 1, "", 0), KC_ERR_NO_SPACE);
    ck_assert_int_eq(kc_store_commit(&st), 0);
    ck_assert_uint_eq(st.n_keys, KC_STORE_MAX_KEYS);
    ck_assert_int_eq(kc_store_put1(&st, 1, "x", 1), KC_ERR_NO_SPACE);
    ck_assert_int_eq(kc_store_put1(&st, 3, "x", 1), 0); /* overwrite is fine */
    remount();
    ck_assert_uint_eq(st.n_keys, KC_STORE_MAX_KEYS);
    expect_value(3, "x", 1);
    expect_value(3069, NULL, 0);
}
END_TEST

/* Bytes after the end of the log that are not 0xFF (a torn write). */
START_TEST(test_torn_tail)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "one", 3), 0);
    ck_assert_int_eq(kc_store_put1(&st, 2, "two", 3), 0);
    size_t end = st.write_off;
    uint32_t gen = st.generation;
    static const struct {
        size_t at;  /* offset after the end of the log */
        uint8_t b;
    } torn[] = {{0, 0x00}, {5, 0x7F}, {300, 0xFE}, {AREA_SIZE - 1, 0x00}};
    for (size_t t = 0; t < sizeof torn / sizeof torn[0]; t++) {
        size_t at = st.write_off + torn[t].at;
        if (at >= AREA_SIZE)
            at = AREA_SIZE - 1;
        mem[(size_t)st.active * AREA_SIZE + at] &= torn[t].b;
        remount();
        ck_assert_int_eq(st.dirty_tail, 1);
        expect_value(1, "one", 3);
        expect_value(2, "two", 3);
        /* The next write compacts first and lands on clean flash. */
        ck_assert_int_eq(kc_store_put1(&st, 3, "three", 5), 0);
        ck_assert_uint_eq(st.generation, gen + 1 + t);
        ck_assert_int_eq(st.dirty_tail, 0);
        remount();
        ck_assert_int_eq(st.dirty_tail, 0);
        expect_value(1, "one", 3);
        expect_value(2, "two", 3);
        expect_value(3, "three", 5);
    }
    (void)end;
}
END_TEST

/* A record with a bad CRC ends the log; the committed state before it stays. */
/*
 * A flipped bit in a committed record is damage, not a tear: the records
 * after it are valid, so mount refuses the image instead of silently dropping
 * the last transaction. A flipped bit in the final confirm record (the only
 * record nothing follows) loses nothing.
 */
START_TEST(test_bad_record_crc)
{
    fresh();
    ck_assert_int_eq(kc_store_put1(&st, 1, "one", 3), 0);
    size_t off = st.write_off;
    ck_assert_int_eq(kc_store_put1(&st, 2, "two", 3), 0);
    size_t end = st.write_off, area = (size_t)st.active * AREA_SIZE;
    mem[area + off + 8] ^= 0x01; /* flip a data bit of key 2 */
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), KC_ERR_CORRUPT);
    ck_assert_uint_eq(st.damage_at, area + off);
    mem[area + off + 8] ^= 0x01;
    /* the last commit: followed by its confirm, so damage too */
    mem[area + end - 2 * 12 + 1] ^= 0x10;
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), KC_ERR_CORRUPT);
    mem[area + end - 2 * 12 + 1] ^= 0x10;
    /* the final confirm: a torn-looking tail, every value still there */
    mem[area + end - 12 + 5] ^= 0x04;
    remount();
    expect_value(1, "one", 3);
    expect_value(2, "two", 3);
    ck_assert_int_eq(st.dirty_tail, 1);
}
END_TEST

/*
 * The newer area wins. Its compaction retired the older area's header, so a
 * damaged newer header leaves no valid one: refused, never a fall back to the
 * older state.
 */
START_TEST(test_area_selection)
{
    static uint8_t v[1000];
    fresh();
    fill(v, sizeof v, 9);
    while (st.generation < 3)
        ck_assert_int_eq(kc_store_put1(&st, 1, v, sizeof v), 0);
    ck_assert_int_eq(kc_store_put1(&st, 2, "x", 1), 0);
    int active = st.active;
    remount();
    ck_assert_int_eq(st.active, active);
    ck_assert_uint_eq(st.generation, 3);
    /* Corrupt the live header: refused, the flash unchanged. */
    static uint8_t copy[FLASH_SIZE];
    mem[(size_t)active * AREA_SIZE + 9] ^= 0xFF;
    memcpy(copy, mem, sizeof mem);
    ck_assert_int_eq(kc_hw_ram_init(&ram, mem, sizeof mem, PAGE_SIZE, &hw), 0);
    ck_assert_int_eq(kc_store_mount(&st, &hw.flash), KC_ERR_CORRUPT);
    ck_assert_mem_eq(mem, copy, sizeof mem);
}
END_TEST

/* ---- power cuts --------------------------------------------------------- */

/* A small flash so that the script compacts several times. */
#define PC_FLASH (8u * 1024u)
#define PC_PAGE 1024u
#define PC_KEYS 12
#define PC_VMAX 700
#define PC_TXNS 64

typedef struct op {
    char kind; /* 'p' put, 'd' delete, 'c' commit, 'a' abort */
    uint16_t key;
    uint16_t len;
} op;

typedef struct model {
    int present[PC_KEYS];
    uint16_t len[PC_KEYS];
    uint8_t val[PC_KEYS][PC_VMAX];
} model;

static uint8_t pc_mem[PC_FLASH];
static op script[PC_TXNS][10];
static size_t script_len[PC_TXNS];
static size_t n_txn;
static model snaps[PC_TXNS + 1];

static void pc_value(uint8_t *buf, size_t t, size_t j, size_t len)
{
    fill(buf, len, (unsigned)(t * 16 + j + 1));
}

/* A fixed pseudo-random script: mixed sizes, deletes, aborts, big txns. */
static void make_script(void)
{
    uint32_t x = 12345;
    n_txn = 0;
    for (size_t t = 0; t < PC_TXNS; t++) {
        size_t n = 0;
        x = x * 1103515245u + 12345u;
        size_t nops = 1 + (x >> 16) % 6;
        for (size_t j = 0; j < nops; j++) {
            x = x * 1103515245u + 12345u;
            op o;
            o.key = (uint16_t)((x >> 16) % PC_KEYS);
            o.kind = ((x >> 8) % 7 == 0) ? 'd' : 'p';
            x = x * 1103515245u + 12345u;
            o.len = (uint16_t)((x >> 16) % (t % 5 == 4 ? PC_VMAX : 120));
            script[t][n++] = o;
        }
        x = x * 1103515245u + 12345u;
        script[t][n].kind = ((x >> 16) % 6 == 0) ? 'a' : 'c';
        script[t][n].key = 0;
        script[t][n].len = 0;
        n++;
        script_len[t] = n;
        n_txn++;
    }
}

static void model_apply(model *m, size_t t)
{
    model tmp = *m;
    uint8_t buf[PC_VMAX];
    for (size_t j = 0; j < script_len[t]; j++) {
        const op *o = &script[t][j];
        if (o->kind == 'p') {
            pc_value(buf, t, j, o->len);
            tmp.present[o->key] = 1;
            tmp.len[o->key] = o->len;
            memcpy(tmp.val[o->key], buf, o->len);
        } else if (o->kind == 'd') {
            tmp.present[o->key] = 0;
        } else if (o->kind == 'c') {
            *m = tmp;
        }
    }
}

/* extra: keys outside the model the store holds too (the recovery write). */
static int state_is(const kc_store *s, const model *m, size_t extra)
{
    size_t count = 0;
    for (uint16_t k = 0; k < PC_KEYS; k++) {
        const uint8_t *d;
        size_t n;
        int rc = kc_store_get(s, k, &d, &n);
        if (!m->present[k]) {
            if (rc != KC_ERR_NOT_FOUND)
                return 0;
            continue;
        }
        count++;
        if (rc != 0 || n != m->len[k] || memcmp(d, m->val[k], n) != 0)
            return 0;
    }
    return s->n_keys == count + extra;
}

/*
 * Run the script on s until an operation fails. Returns the index of the
 * transaction that failed (n_txn when none did) and sets *in_commit when the
 * failing call was the commit.
 */
static size_t run_script(kc_store *s, int *in_commit)
{
    uint8_t buf[PC_VMAX];
    *in_commit = 0;
    for (size_t t = 0; t < n_txn; t++) {
        if (kc_store_begin(s) != 0)
            return t;
        for (size_t j = 0; j < script_len[t]; j++) {
            const op *o = &script[t][j];
            int rc = 0;
            switch (o->kind) {
            case 'p':
                pc_value(buf, t, j, o->len);
                rc = kc_store_put(s, o->key, buf, o->len);
                break;
            case 'd': rc = kc_store_delete(s, o->key); break;
            case 'c':
                rc = kc_store_commit(s);
                if (rc)
                    *in_commit = 1;
                break;
            default: kc_store_abort(s); break;
            }
            if (rc) {
                kc_store_abort(s);
                return t;
            }
        }
    }
    return n_txn;
}

START_TEST(test_power_cut_exhaustive)
{
    kc_hw_ram r;
    kc_hw h;
    kc_store s;
    int in_commit;

    make_script();
    memset(&snaps[0], 0, sizeof snaps[0]);
    for (size_t t = 0; t < n_txn; t++) {
        snaps[t + 1] = snaps[t];
        model_apply(&snaps[t + 1], t);
    }

    /* Dry run: count the operations; check the script exercises compaction. */
    memset(pc_mem, 0xFF, sizeof pc_mem);
    ck_assert_int_eq(kc_hw_ram_init(&r, pc_mem, sizeof pc_mem, PC_PAGE, &h), 0);
    ck_assert_int_eq(kc_store_mount(&s, &h.flash), 0);
    ck_assert_uint_eq(run_script(&s, &in_commit), n_txn);
    ck_assert(state_is(&s, &snaps[n_txn], 0));
    ck_assert_uint_ge(s.generation, 8);
    unsigned long total = r.ops;
    ck_assert_uint_gt(total, 200);

    unsigned long checked = 0, saw_new = 0;
    for (unsigned long cut = 0; cut < total; cut++) {
        for (int mode = 0; mode < KC_HW_RAM_CUT_MODES; mode++) {
            memset(pc_mem, 0xFF, sizeof pc_mem);
            ck_assert_int_eq(kc_hw_ram_init(&r, pc_mem, sizeof pc_mem, PC_PAGE, &h), 0);
            r.cut_after = (long)cut;
            r.cut_mode = mode;
            size_t failed;
            in_commit = 0;
            if (kc_store_mount(&s, &h.flash) != 0)
                failed = 0;
            else
                failed = run_script(&s, &in_commit);
            ck_assert_msg(r.dead, "cut %lu mode %d never happened", cut, mode);
            ck_assert_uint_lt(failed, n_txn);

            /* Reboot. */
            ck_assert_int_eq(kc_hw_ram_init(&r, pc_mem, sizeof pc_mem, PC_PAGE, &h), 0);
            ck_assert_int_eq(kc_store_mount(&s, &h.flash), 0);
            int old = state_is(&s, &snaps[failed], 0);
            int new = in_commit && state_is(&s, &snaps[failed + 1], 0);
            ck_assert_msg(old || new, "cut %lu mode %d in txn %zu: mixed state", cut, mode,
                          failed);
            saw_new += !old && new;
            const model *now = old ? &snaps[failed] : &snaps[failed + 1];

            /* The recovered store takes writes and keeps everything. */
            uint8_t v[40];
            fill(v, sizeof v, (unsigned)cut);
            ck_assert_int_eq(kc_store_put1(&s, 200, v, sizeof v), 0);
            ck_assert_int_eq(kc_hw_ram_init(&r, pc_mem, sizeof pc_mem, PC_PAGE, &h), 0);
            ck_assert_int_eq(kc_store_mount(&s, &h.flash), 0);
            ck_assert_int_eq(s.dirty_tail, 0);
            ck_assert_msg(state_is(&s, now, 1), "cut %lu mode %d: lost after recovery", cut,
                          mode);
            const uint8_t *d;
            size_t n;
            ck_assert_int_eq(kc_store_get(&s, 200, &d, &n), 0);
            ck_assert_uint_eq(n, sizeof v);
            ck_assert_mem_eq(d, v, sizeof v);
            checked++;
        }
    }
    ck_assert_uint_eq(checked, total * KC_HW_RAM_CUT_MODES);
    ck_assert_uint_gt(saw_new, 0); /* some cuts land after the commit record */
}
END_TEST

/* ---- the file-backed flash ---------------------------------------------- */

START_TEST(test_hw_file)
{
    char dir[] = "/tmp/kc-test-store-XXXXXX";
    char path[64];
    kc_hw_file hf;
    kc_hw fh;
    kc_store s;
    const uint8_t *d;
    size_t n;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/flash.img", dir);
    ck_assert_int_eq(kc_hw_file_open(&hf, path, FLASH_SIZE, PAGE_SIZE, &fh), 0);
    ck_assert_int_eq(kc_store_mount(&s, &fh.flash), 0);
    ck_assert_int_eq(kc_store_put1(&s, 5, "persist", 7), 0);
    ck_assert_uint_gt(hf.bytes_programmed, 0);
    uint8_t r1[16] = {0}, r2[16] = {0};
    ck_assert_int_eq(fh.rng(fh.ctx, r1, sizeof r1), 0);
    ck_assert_int_eq(fh.rng(fh.ctx, r2, sizeof r2), 0);
    ck_assert(memcmp(r1, r2, sizeof r1) != 0);
    ck_assert_uint_gt(fh.clock(fh.ctx), 1600000000u);
    /* A second opener is refused while the image is in use. */
    kc_hw_file hf2;
    kc_hw fh2;
    ck_assert_int_eq(kc_hw_file_open(&hf2, path, FLASH_SIZE, PAGE_SIZE, &fh2), KC_ERR_STATE);
    ck_assert(strlen(hf2.err) > 0);
    kc_hw_file_close(&hf);

    /* The image keeps the data. */
    ck_assert_int_eq(kc_hw_file_open(&hf, path, FLASH_SIZE, PAGE_SIZE, &fh), 0);
    ck_assert_int_eq(kc_store_mount(&s, &fh.flash), 0);
    ck_assert_int_eq(kc_store_get(&s, 5, &d, &n), 0);
    ck_assert_uint_eq(n, 7);
    ck_assert_mem_eq(d, "persist", 7);
    /* NOR semantics and wear counters. */
    ck_assert_int_eq(fh.flash.erase(fh.flash.ctx, 63), 0);
    ck_assert_uint_eq(hf.erase_count[63], 1);
    static const uint8_t a = 0xF0, b = 0x3C, want = 0x30;
    ck_assert_int_eq(fh.flash.program(fh.flash.ctx, FLASH_SIZE - 1, &a, 1), 0);
    ck_assert_int_eq(fh.flash.program(fh.flash.ctx, FLASH_SIZE - 1, &b, 1), 0);
    ck_assert_uint_eq(fh.flash.map(fh.flash.ctx)[FLASH_SIZE - 1], want);
    ck_assert_int_eq(fh.flash.program(fh.flash.ctx, FLASH_SIZE, &a, 1), KC_ERR_FLASH);
    ck_assert_int_eq(fh.flash.erase(fh.flash.ctx, 64), KC_ERR_FLASH);
    kc_hw_file_close(&hf);

    /* Another size is refused and the file left alone. */
    ck_assert_int_eq(kc_hw_file_open(&hf, path, FLASH_SIZE / 2, PAGE_SIZE, &fh), KC_ERR_BAD_DATA);
    ck_assert_ptr_nonnull(strstr(hf.err, "131072"));
    ck_assert_int_eq(kc_hw_file_open(&hf, path, 1000, PAGE_SIZE, &fh), KC_ERR_ARG);
    ck_assert_int_eq(kc_hw_file_open(&hf, path, FLASH_SIZE, PAGE_SIZE, &fh), 0);
    ck_assert_int_eq(kc_store_mount(&s, &fh.flash), 0);
    ck_assert_int_eq(kc_store_get(&s, 5, &d, &n), 0);
    kc_hw_file_close(&hf);
    kc_hw_file_close(&hf); /* twice is harmless */

    unlink(path);
    rmdir(dir);
}
END_TEST

/* ---- the RAM flash itself ---------------------------------------------- */

START_TEST(test_hw_ram_cut_modes)
{
    static const struct {
        int mode;
        uint8_t want[4];
    } tab[] = {
        {KC_HW_RAM_CUT_NOTHING, {0xFF, 0xFF, 0xFF, 0xFF}},
        {KC_HW_RAM_CUT_HALF, {0x01, 0x02, 0xFF, 0xFF}},
        {KC_HW_RAM_CUT_DONE, {0x01, 0x02, 0x03, 0x04}},
        {KC_HW_RAM_CUT_TAIL, {0xFF, 0xFF, 0x03, 0x04}},
    };
    static const uint8_t data[4] = {1, 2, 3, 4};
    uint8_t m[256];
    kc_hw_ram r;
    kc_hw h;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        memset(m, 0xFF, sizeof m);
        ck_assert_int_eq(kc_hw_ram_init(&r, m, sizeof m, 128, &h), 0);
        r.cut_after = 1;
        r.cut_mode = tab[i].mode;
        ck_assert_int_eq(h.flash.program(h.flash.ctx, 0, data, 4), 0);
        ck_assert_int_eq(h.flash.program(h.flash.ctx, 8, data, 4), KC_ERR_FLASH);
        ck_assert_mem_eq(m + 8, tab[i].want, 4);
        ck_assert_int_eq(h.flash.erase(h.flash.ctx, 0), KC_ERR_FLASH); /* power is off */
        ck_assert_uint_eq(m[0], 1);
        ck_assert_uint_eq(r.ops, 3);
    }
    /* Deterministic RNG: the same seed, the same bytes. */
    uint8_t a[13], b[13];
    ck_assert_int_eq(kc_hw_ram_init(&r, m, sizeof m, 128, &h), 0);
    kc_hw_ram_seed(&r, 42);
    ck_assert_int_eq(h.rng(h.ctx, a, sizeof a), 0);
    kc_hw_ram_seed(&r, 42);
    ck_assert_int_eq(h.rng(h.ctx, b, sizeof b), 0);
    ck_assert_mem_eq(a, b, sizeof a);
    r.rng_fail = 1;
    ck_assert_int_eq(h.rng(h.ctx, a, sizeof a), KC_ERR_RNG);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_blank_format);
    tcase_add_test(tc, test_garbage_flash_refused);
    tcase_add_test(tc, test_torn_first_format_formats);
    tcase_add_loop_test(tc, test_geometry, 0, (int)(sizeof geoms / sizeof geoms[0]));
    tcase_add_test(tc, test_put_get_read);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_uncommitted_invisible);
    tcase_add_test(tc, test_abort);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_empty_commit_writes_nothing);
    tcase_add_test(tc, test_remount_open_txn);
    tcase_add_test(tc, test_flash_error_ends_txn);
    suite_add_tcase(s, tc);

    tc = tcase_create("space");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_compaction);
    tcase_add_test(tc, test_compaction_in_txn);
    tcase_add_test(tc, test_no_space);
    tcase_add_test(tc, test_max_keys);
    tcase_add_test(tc, test_torn_tail);
    tcase_add_test(tc, test_bad_record_crc);
    tcase_add_test(tc, test_area_selection);
    suite_add_tcase(s, tc);

    tc = tcase_create("power_cut");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_power_cut_exhaustive);
    suite_add_tcase(s, tc);

    tc = tcase_create("hw");
    tcase_add_test(tc, test_hw_file);
    tcase_add_test(tc, test_hw_ram_cut_modes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
