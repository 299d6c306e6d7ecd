/*
 * kc_store.h - the card's persistent store: a transactional key/value log on
 * the flash of kc_hw.h. The on-flash layout is documented at the top of
 * kc_store.c and in docs/architecture.md.
 *
 * Every state change is one transaction: kc_store_begin, any number of
 * kc_store_put/kc_store_delete, kc_store_commit. Until the commit record is
 * on flash none of the transaction is visible, after a power cut included;
 * after it all of it is. Only one transaction is open at a time. Reads see
 * committed data only (never the open transaction's puts).
 *
 * No allocation: the caller owns the kc_store.
 */
#ifndef KC_STORE_H
#define KC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"

/* Largest value one record holds. */
#define KC_STORE_VALUE_MAX 2048
/* Most live keys the index tracks. */
#define KC_STORE_MAX_KEYS 1024

typedef struct kc_store {
    const kc_flash *flash;
    size_t area_size;   /* flash->size / 2 */
    int active;         /* 0 or 1: which half is live */
    uint32_t generation;
    size_t write_off;   /* next free byte, offset within the active area */
    uint32_t next_seq;  /* transaction sequence number */
    int txn_open;
    size_t txn_start;   /* offset of the open transaction's first record */
    int dirty_tail;     /* bytes after write_off are not erased: compact before writing */
    size_t damage_at;   /* after KC_ERR_CORRUPT from mount: flash offset of the damage */
    size_t n_keys;
    uint16_t idx_key[KC_STORE_MAX_KEYS];
    uint16_t idx_off[KC_STORE_MAX_KEYS]; /* record offset / 4 within the active area */
} kc_store;

/*
 * Mount the store. An erased flash (new, or whose first format was torn) is
 * formatted empty. A damaged image — no valid area header on a flash that
 * holds data, or a bad record with data written after it (a tear is always
 * the last write) — is refused, never repaired or formatted over:
 * KC_ERR_CORRUPT with s->damage_at the flash offset where the damage starts.
 * Returns 0, KC_ERR_ARG (geometry unusable), KC_ERR_FLASH, KC_ERR_CORRUPT.
 */
int kc_store_mount(kc_store *s, const kc_flash *flash);

/* 1 when the store holds no record at all (a blank card), else 0. */
int kc_store_empty(const kc_store *s);

/*
 * Look up key: on success *data points into mapped flash (valid until the next
 * write to the store) and *len is its length. Returns 0 or KC_ERR_NOT_FOUND.
 */
int kc_store_get(const kc_store *s, uint16_t key, const uint8_t **data, size_t *len);

/*
 * Copy the value of key into buf (capacity cap). Returns 0, KC_ERR_NOT_FOUND,
 * KC_ERR_TOO_BIG (cap too small; nothing copied).
 */
int kc_store_read(const kc_store *s, uint16_t key, uint8_t *buf, size_t cap, size_t *len);

/*
 * Copy a fixed-size item of exactly len bytes into buf. Returns 0,
 * KC_ERR_NOT_FOUND, KC_ERR_CORRUPT (stored with another size; nothing copied).
 */
int kc_store_read_exact(const kc_store *s, uint16_t key, uint8_t *buf, size_t len);

/* Open a transaction. Returns 0 or KC_ERR_STATE (one is already open), KC_ERR_FLASH. */
int kc_store_begin(kc_store *s);

/*
 * Add "key = data" to the open transaction (len <= KC_STORE_VALUE_MAX; keys
 * 0xFFF0..0xFFFF are reserved). Compacts the store when the area is full.
 * Returns 0, KC_ERR_STATE (no transaction), KC_ERR_TOO_BIG, KC_ERR_NO_SPACE,
 * KC_ERR_FLASH, KC_ERR_ARG.
 */
int kc_store_put(kc_store *s, uint16_t key, const void *data, size_t len);

/* Add "delete key" to the open transaction. Same errors as kc_store_put. */
int kc_store_delete(kc_store *s, uint16_t key);

/*
 * Commit the open transaction: one commit record, then the index is updated.
 * Returns 0, KC_ERR_STATE, KC_ERR_NO_SPACE, KC_ERR_FLASH.
 */
int kc_store_commit(kc_store *s);

/* Drop the open transaction (its records stay on flash as garbage). */
void kc_store_abort(kc_store *s);

/* One-record transaction: begin, put, commit. */
int kc_store_put1(kc_store *s, uint16_t key, const void *data, size_t len);

/* Bytes still free in the active area (for tests and status). */
size_t kc_store_free(const kc_store *s);

/*
 * Erase every byte of deleted and superseded records from flash: compact into
 * the other area and back (two erases of each area's pages at most). Nothing
 * committed changes; power-cut safe as any compaction. No transaction may be
 * open. Returns 0, KC_ERR_STATE, KC_ERR_FLASH.
 */
int kc_store_scrub(kc_store *s);

#endif /* KC_STORE_H */
