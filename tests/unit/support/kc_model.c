/*
 * kc_model.c - snapshots, reboot, committed-state digests and op traces for
 * power-cut campaigns (see kc_model.h). Test code: allocates, uses mbedTLS.
 */
#include "kc_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "kc_store.h"

static void die(const char *what)
{
    fprintf(stderr, "kc_model: %s\n", what);
    abort();
}

void kc_model_snap_take(const kc_model_dev *dev, kc_model_snap *snap)
{
    snap->mem = malloc(dev->ops->flash_size);
    snap->ctx = malloc(dev->ops->ctx_size);
    if (snap->mem == NULL || snap->ctx == NULL)
        die("out of memory");
    kc_model_snap_update(dev, snap);
}

void kc_model_snap_update(const kc_model_dev *dev, kc_model_snap *snap)
{
    memcpy(snap->mem, dev->mem, dev->ops->flash_size);
    memcpy(snap->ctx, dev->ctx, dev->ops->ctx_size);
    snap->ram = *dev->ram;
}

void kc_model_snap_restore(const kc_model_dev *dev, const kc_model_snap *snap)
{
    /* The context holds pointers to dev->hw and into dev->mem: same addresses, still valid. */
    memcpy(dev->mem, snap->mem, dev->ops->flash_size);
    memcpy(dev->ctx, snap->ctx, dev->ops->ctx_size);
    *dev->ram = snap->ram;
}

void kc_model_snap_free(kc_model_snap *snap)
{
    free(snap->mem);
    free(snap->ctx);
    snap->mem = NULL;
    snap->ctx = NULL;
}

int kc_model_reboot(const kc_model_dev *dev)
{
    uint64_t st = dev->ram->rng_state;
    int det = dev->ram->rng_deterministic;
    uint32_t now = dev->ram->now;
    if (kc_hw_ram_init(dev->ram, dev->mem, dev->ops->flash_size, dev->ops->page_size, dev->hw) != 0)
        die("kc_hw_ram_init");
    dev->ram->rng_deterministic = det;
    dev->ram->rng_state = st;
    dev->ram->now = now;
    memset(dev->ctx, 0xA5, dev->ops->ctx_size); /* RAM does not survive */
    int rc = dev->ops->init(dev->ctx, dev->hw);
    if (rc == 0)
        dev->ops->power(dev->ctx, KC_POWER_ON);
    return rc;
}

static int cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

int kc_model_digest(const kc_card_ops *ops, const uint8_t *mem, uint8_t out[32])
{
    size_t size = ops->flash_size;
    uint8_t *copy = malloc(size);
    kc_store *s = malloc(sizeof(*s));
    uint16_t *keys = malloc(sizeof(uint16_t) * KC_STORE_MAX_KEYS);
    kc_hw_ram ram;
    kc_hw hw;
    mbedtls_sha256_context ctx;
    int rc = 0;

    if (copy == NULL || s == NULL || keys == NULL)
        die("out of memory");
    memcpy(copy, mem, size);
    if (kc_hw_ram_init(&ram, copy, size, ops->page_size, &hw) != 0 ||
        kc_store_mount(s, &hw.flash) != 0) {
        rc = -1;
        goto out;
    }
    size_t n = s->n_keys;
    memcpy(keys, s->idx_key, n * sizeof(uint16_t));
    qsort(keys, n, sizeof(uint16_t), cmp_u16);
    mbedtls_sha256_init(&ctx);
    mbedtls_sha256_starts_ret(&ctx, 0);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d;
        size_t len;
        uint8_t hdr[4] = {(uint8_t)(keys[i] >> 8), (uint8_t)keys[i], 0, 0};
        if (kc_store_get(s, keys[i], &d, &len) != 0) {
            rc = -1;
            break;
        }
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        mbedtls_sha256_update_ret(&ctx, hdr, sizeof(hdr));
        mbedtls_sha256_update_ret(&ctx, d, len);
    }
    mbedtls_sha256_finish_ret(&ctx, out);
    mbedtls_sha256_free(&ctx);
out:
    free(keys);
    free(s);
    free(copy);
    return rc;
}

size_t kc_model_store_free(const kc_card_ops *ops, const uint8_t *mem)
{
    size_t size = ops->flash_size, left = 0;
    uint8_t *copy = malloc(size);
    kc_store *s = malloc(sizeof(*s));
    kc_hw_ram ram;
    kc_hw hw;
    if (copy == NULL || s == NULL)
        die("out of memory");
    memcpy(copy, mem, size);
    if (kc_hw_ram_init(&ram, copy, size, ops->page_size, &hw) == 0 &&
        kc_store_mount(s, &hw.flash) == 0 && s->write_off <= s->area_size)
        left = s->area_size - s->write_off;
    free(s);
    free(copy);
    return left;
}

int kc_model_trace_has(const kc_model_trace *tr, const uint8_t d[32])
{
    for (size_t i = 0; i < tr->n; i++)
        if (memcmp(tr->d[i], d, 32) == 0)
            return 1;
    return 0;
}

static void trace_op(void *arg, unsigned long op, int is_erase)
{
    kc_model_trace *tr = arg;
    uint8_t d[32];
    if (is_erase) {
        if (tr->erases < KC_MODEL_TRACE_MAX)
            tr->erase_ops[tr->erases] = op;
        tr->erases++;
    }
    /* Mid-transaction images mount too: that is the store's promise. */
    if (kc_model_digest(tr->dev->ops, tr->dev->mem, d) != 0)
        return;
    if (!kc_model_trace_has(tr, d) && tr->n < KC_MODEL_TRACE_MAX)
        memcpy(tr->d[tr->n++], d, 32);
}

void kc_model_trace_start(kc_model_trace *tr, const kc_model_dev *dev)
{
    memset(tr, 0, sizeof(*tr));
    tr->dev = dev;
    dev->ram->on_op = trace_op;
    dev->ram->on_op_arg = tr;
}

void kc_model_trace_stop(kc_model_trace *tr)
{
    tr->dev->ram->on_op = NULL;
    tr->dev->ram->on_op_arg = NULL;
}

const char *kc_model_hex8(const uint8_t d[32])
{
    static char buf[17];
    for (int i = 0; i < 8; i++)
        snprintf(buf + 2 * i, 3, "%02x", d[i]);
    return buf;
}
