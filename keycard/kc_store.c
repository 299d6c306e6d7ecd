/*
 * kc_store.c - the card's persistent store: a transactional key/value log on
 * NOR-like flash (kc_hw.h), safe against a power cut at any program or erase.
 *
 * On-flash layout (all integers little-endian)
 * -------------------------------------------
 * The flash is split in two halves, "areas" 0 and 1, each a whole number of
 * pages. Exactly one area is live: the one with a valid header and the highest
 * generation. An area is:
 *
 *   offset 0   area header, 16 bytes:
 *                magic u32 = 0x3153434B ("KCS1"), version u16 = 1,
 *                reserved u16 = 0, generation u32,
 *                crc u32 = CRC-32 of the 12 bytes before it
 *   offset 16  records, one after another, each starting 4-byte aligned:
 *                key u16, len u16, seq u32        (8-byte record header)
 *                data[len]
 *                zero padding up to a multiple of 4
 *                crc u32 = CRC-32 (IEEE 802.3) of record header + data
 *   then       erased flash (0xFF) up to the end of the area
 *
 * Record kinds, by key:
 *   0x0000..0xFFEF  "key = data" (len <= KC_STORE_VALUE_MAX)
 *   0xFFF0          commit: len 0; marks transaction seq as committed
 *   0xFFF1          delete: len 2, data = the deleted key (u16)
 *   0xFFF2          confirm: len 0; written after every commit record and
 *                   after the copies of a compaction, so that the record
 *                   that makes a state visible is never the last one written
 *   0xFFF3..0xFFFF  reserved; an all-0xFF record header is erased flash
 *
 * Transactions. Every record carries the sequence number of its transaction;
 * a transaction's records are contiguous and are followed by its commit
 * record. Mount applies a transaction's records only when it meets the commit
 * record with the same seq; records of a seq whose commit never came (a newer
 * seq starts, or the log ends) are garbage. Seq 0 is special: records at the
 * start of an area with seq 0 were copied there by compaction and are
 * committed by the area header itself.
 *
 * Scanning stops at the first erased record header or the first record that
 * fails its checks. A torn write is the last thing ever written to the live
 * area, so no valid record can follow a torn one: a bad record followed by a
 * valid record is damage, not a tear, and mount refuses the image
 * (KC_ERR_CORRUPT, s->damage_at names the byte) instead of dropping the
 * records after it. Because every commit record is
 * followed by a confirm record, a flipped bit in the last commit is seen as
 * damage too; a flipped bit in the final confirm loses nothing. When only
 * erased-looking garbage follows the end of the log, the tail is "dirty" and
 * the next write compacts first, because programming over non-erased bytes
 * would corrupt the new record.
 *
 * Compaction (when a record does not fit, or the tail is dirty): erase the
 * other area, copy every live committed record into it with seq 0, then a
 * confirm record (seq 0), copy the open transaction's records so far (same
 * seq, still uncommitted), and only then program the new header with
 * generation + 1. Until that program the old area is the live one and is
 * never touched; afterwards the new area wins by generation, and the old
 * area's header is retired (programmed to zeros) so that a damaged header of
 * the new area can never make mount fall back to the old state silently.
 *
 * Mount: the valid header of highest generation wins. No valid header: an
 * erased flash (or one whose only non-erased bytes are a torn first header)
 * is formatted; anything else is damage and is refused, never reformatted.
 *
 * Power-cut argument: every program either extends the log with bytes that
 * mount ignores until a later program validates them (record CRC, commit
 * record, area header), or writes those validating bytes, each in one program
 * of a few bytes whose partial result fails its CRC. Erases only touch the
 * non-live area.
 */
#include "kc_store.h"

#include <string.h>

#include "kc_bytes.h"
#include "kc_err.h"

#define HDR_MAGIC 0x3153434Bu
#define HDR_VERSION 1
#define HDR_SIZE 16
#define REC_HDR 8
#define REC_CRC 4
#define KEY_COMMIT 0xFFF0u
#define KEY_DELETE 0xFFF1u
#define KEY_CONFIRM 0xFFF2u
#define KEY_RESERVED_MIN 0xFFF0u
#define SEQ_BASE 0u /* records committed by the area header (compaction copies) */

/* Bytes one record with len data bytes takes on flash. */
static size_t rec_size(size_t len)
{
    return REC_HDR + ((len + 3u) & ~(size_t)3u) + REC_CRC;
}

#define COMMIT_SIZE (REC_HDR + REC_CRC)

/* ---- little helpers --------------------------------------------------- */

/* CRC-32 (reflected, polynomial 0xEDB88320), a nibble at a time: a 16-entry
 * table keeps it small for a card. crc starts at 0 and can be chained. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    static const uint32_t tab[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ tab[crc & 0x0F];
        crc = (crc >> 4) ^ tab[crc & 0x0F];
    }
    return ~crc;
}

static int all_ff(const uint8_t *p, size_t n)
{
    uint8_t acc = 0xFF;
    for (size_t i = 0; i < n; i++)
        acc &= p[i];
    return acc == 0xFF;
}

static const uint8_t *area_ptr(const kc_store *s, int area)
{
    return s->flash->map(s->flash->ctx) + (size_t)area * s->area_size;
}

/* Program and read back: a mismatch means the bytes were not erased or the
 * flash failed; either way the caller must not trust what it wrote. */
static int prog(const kc_store *s, int area, size_t off, const uint8_t *data, size_t len)
{
    size_t abs = (size_t)area * s->area_size + off;
    if (len == 0)
        return 0;
    if (s->flash->program(s->flash->ctx, abs, data, len) != 0)
        return KC_ERR_FLASH;
    if (memcmp(s->flash->map(s->flash->ctx) + abs, data, len) != 0)
        return KC_ERR_FLASH;
    return 0;
}

/* ---- records ---------------------------------------------------------- */

typedef struct rec {
    uint16_t key;
    uint16_t len;
    uint32_t seq;
    size_t size; /* bytes on flash */
} rec;

#define REC_OK 1
#define REC_END 0  /* erased: end of log */
#define REC_BAD -1 /* torn or corrupt */

/* Parse the record at off in area a (base pointer). */
static int rec_parse(const kc_store *s, const uint8_t *a, size_t off, rec *r)
{
    if (off + REC_HDR > s->area_size)
        return all_ff(a + off, s->area_size - off) ? REC_END : REC_BAD;
    const uint8_t *p = a + off;
    if (all_ff(p, REC_HDR))
        return REC_END;
    r->key = get_le16(p);
    r->len = get_le16(p + 2);
    r->seq = get_le32(p + 4);
    if (r->key == KEY_COMMIT || r->key == KEY_CONFIRM) {
        if (r->len != 0)
            return REC_BAD;
    } else if (r->key == KEY_DELETE) {
        if (r->len != 2)
            return REC_BAD;
    } else if (r->key >= KEY_RESERVED_MIN || r->len > KC_STORE_VALUE_MAX) {
        return REC_BAD;
    }
    r->size = rec_size(r->len);
    if (off + r->size > s->area_size)
        return REC_BAD;
    uint32_t crc = crc32_update(0, p, REC_HDR + (size_t)r->len);
    if (crc != get_le32(p + r->size - REC_CRC))
        return REC_BAD;
    return REC_OK;
}

/*
 * Append one record at off of area. Three programs: header, the data's whole
 * words, then the last partial word with padding and the CRC. The CRC comes
 * last in address order but any order would do: until all of it is there the
 * record fails its check.
 */
static int rec_write(const kc_store *s, int area, size_t off, uint16_t key, uint32_t seq,
                     const uint8_t *data, size_t len)
{
    uint8_t hdr[REC_HDR];
    uint8_t tail[8];
    size_t whole = len & ~(size_t)3u;
    size_t rest = len - whole;
    int rc;

    put_le16(hdr, key);
    put_le16(hdr + 2, (uint16_t)len);
    put_le32(hdr + 4, seq);
    uint32_t crc = crc32_update(0, hdr, REC_HDR);
    crc = crc32_update(crc, data, len);

    memset(tail, 0, sizeof tail);
    if (rest)
        memcpy(tail, data + whole, rest);
    size_t tail_len = ((rest + 3u) & ~(size_t)3u);
    put_le32(tail + tail_len, crc);
    tail_len += REC_CRC;

    if ((rc = prog(s, area, off, hdr, REC_HDR)) != 0)
        return rc;
    if ((rc = prog(s, area, off + REC_HDR, data, whole)) != 0)
        return rc;
    return prog(s, area, off + REC_HDR + whole, tail, tail_len);
}

/* ---- RAM index (sorted by key) ---------------------------------------- */

/* Position of key in the index, or where it would be inserted (*found = 0). */
static size_t idx_find(const kc_store *s, uint16_t key, int *found)
{
    size_t lo = 0, hi = s->n_keys;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->idx_key[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n_keys && s->idx_key[lo] == key;
    return lo;
}

/* Apply one valid record at off to the index. KC_ERR_CORRUPT if it overflows. */
static int idx_apply(kc_store *s, const uint8_t *a, size_t off, const rec *r)
{
    int found;
    if (r->key == KEY_COMMIT || r->key == KEY_CONFIRM)
        return 0;
    if (r->key == KEY_DELETE) {
        size_t i = idx_find(s, get_le16(a + off + REC_HDR), &found);
        if (found) {
            memmove(&s->idx_key[i], &s->idx_key[i + 1], (s->n_keys - i - 1) * sizeof s->idx_key[0]);
            memmove(&s->idx_off[i], &s->idx_off[i + 1], (s->n_keys - i - 1) * sizeof s->idx_off[0]);
            s->n_keys--;
        }
        return 0;
    }
    size_t i = idx_find(s, r->key, &found);
    if (!found) {
        if (s->n_keys >= KC_STORE_MAX_KEYS)
            return KC_ERR_CORRUPT;
        memmove(&s->idx_key[i + 1], &s->idx_key[i], (s->n_keys - i) * sizeof s->idx_key[0]);
        memmove(&s->idx_off[i + 1], &s->idx_off[i], (s->n_keys - i) * sizeof s->idx_off[0]);
        s->n_keys++;
        s->idx_key[i] = r->key;
    }
    s->idx_off[i] = (uint16_t)(off / 4);
    return 0;
}

/* Apply the records in [from, to) of area a (all of one committed txn). */
static int idx_apply_range(kc_store *s, const uint8_t *a, size_t from, size_t to)
{
    rec r;
    for (size_t off = from; off < to; off += r.size) {
        if (rec_parse(s, a, off, &r) != REC_OK)
            return KC_ERR_CORRUPT;
        int rc = idx_apply(s, a, off, &r);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- area header ------------------------------------------------------ */

static int area_valid(const kc_store *s, int area, uint32_t *gen)
{
    const uint8_t *p = area_ptr(s, area);
    if (get_le32(p) != HDR_MAGIC || get_le16(p + 4) != HDR_VERSION)
        return 0;
    if (crc32_update(0, p, 12) != get_le32(p + 12))
        return 0;
    *gen = get_le32(p + 8);
    return 1;
}

static int area_write_header(const kc_store *s, int area, uint32_t gen)
{
    uint8_t h[HDR_SIZE];
    put_le32(h, HDR_MAGIC);
    put_le16(h + 4, HDR_VERSION);
    put_le16(h + 6, 0);
    put_le32(h + 8, gen);
    put_le32(h + 12, crc32_update(0, h, 12));
    return prog(s, area, 0, h, HDR_SIZE);
}

/* Erase the pages of area that are not already blank (saves wear and time). */
static int area_erase(const kc_store *s, int area)
{
    size_t ps = s->flash->page_size;
    size_t first = (size_t)area * s->area_size / ps;
    const uint8_t *base = area_ptr(s, area);
    /* Header page first, so a half-erased area is plainly invalid. */
    for (size_t i = 0; i < s->area_size / ps; i++) {
        if (all_ff(base + i * ps, ps))
            continue;
        if (s->flash->erase(s->flash->ctx, first + i) != 0)
            return KC_ERR_FLASH;
        if (!all_ff(base + i * ps, ps))
            return KC_ERR_FLASH;
    }
    return 0;
}

/* ---- mount -------------------------------------------------------------- */

/*
 * Where the log stopped at a record that is not valid: a torn write is the
 * last write the area ever got, so no valid record can follow it. Returns 0
 * (a torn tail) or KC_ERR_CORRUPT with s->damage_at set (a valid record
 * further on: this one was damaged after it was written, e.g. a flipped bit
 * in its data, or in its length so that its extent covers the records after
 * it). Searches 4-byte aligned offsets up to the last programmed byte.
 */
static int tear_or_damage(kc_store *s, const uint8_t *a, size_t off)
{
    size_t end = s->area_size;
    rec r;

    while (end > off && a[end - 1] == 0xFF)
        end--;
    for (size_t o = off + 4; o + REC_HDR + REC_CRC <= end; o += 4) {
        if (rec_parse(s, a, o, &r) == REC_OK) {
            s->damage_at = (size_t)s->active * s->area_size + off;
            return KC_ERR_CORRUPT;
        }
    }
    return 0;
}

/* Scan the active area: rebuild the index, find the end of the log. */
static int scan(kc_store *s)
{
    const uint8_t *a = area_ptr(s, s->active);
    size_t off = HDR_SIZE;
    size_t pend = 0; /* start of the pending (uncommitted so far) transaction */
    int have_pend = 0;
    uint32_t pend_seq = 0, max_seq = 0;
    int in_base = 1; /* still in the seq-0 prefix written by compaction */
    rec r;
    int st, rc;

    s->n_keys = 0;
    while ((st = rec_parse(s, a, off, &r)) == REC_OK) {
        if (r.seq == SEQ_BASE) {
            if (!in_base || r.key == KEY_COMMIT) {
                /* Never written so, yet its CRC holds: not a tear. */
                s->damage_at = (size_t)s->active * s->area_size + off;
                return KC_ERR_CORRUPT;
            }
            if ((rc = idx_apply(s, a, off, &r)) != 0)
                return rc;
        } else {
            in_base = 0;
            if (r.seq > max_seq)
                max_seq = r.seq;
            if (r.key == KEY_CONFIRM) {
                /* confirms the commit before it: nothing to apply */
            } else if (r.key == KEY_COMMIT) {
                if (have_pend && r.seq == pend_seq &&
                    (rc = idx_apply_range(s, a, pend, off)) != 0)
                    return rc;
                have_pend = 0;
            } else if (!have_pend || r.seq != pend_seq) {
                /* A new seq: whatever was pending was abandoned. */
                have_pend = 1;
                pend = off;
                pend_seq = r.seq;
            }
        }
        off += r.size;
    }
    if (st == REC_BAD && (rc = tear_or_damage(s, a, off)) != 0)
        return rc;
    s->write_off = off;
    s->dirty_tail = !all_ff(a + off, s->area_size - off);
    s->next_seq = max_seq + 1;
    if (s->next_seq == SEQ_BASE)
        s->next_seq = 1;
    return 0;
}

/* 1 when the flash holds nothing but, at most, a torn first header of area 0. */
static int blank_or_torn_format(const kc_store *s)
{
    const uint8_t *m = s->flash->map(s->flash->ctx);
    return all_ff(m + HDR_SIZE, s->flash->size - HDR_SIZE);
}

int kc_store_mount(kc_store *s, const kc_flash *flash)
{
    uint32_t g0 = 0, g1 = 0;
    int v0, v1, rc;

    if (!s || !flash || !flash->map || !flash->program || !flash->erase || !flash->page_size)
        return KC_ERR_ARG;
    memset(s, 0, sizeof *s);
    s->flash = flash;
    s->area_size = flash->size / 2;
    if (flash->size % flash->page_size || s->area_size % flash->page_size ||
        s->area_size < HDR_SIZE + rec_size(KC_STORE_VALUE_MAX) + COMMIT_SIZE ||
        s->area_size / 4 > 0x10000u) /* idx_off holds offset / 4 in a u16 */
        return KC_ERR_ARG;

    v0 = area_valid(s, 0, &g0);
    v1 = area_valid(s, 1, &g1);
    if (!v0 && !v1) {
        /* Damage is refused, never formatted over: the caller names the file. */
        if (!blank_or_torn_format(s)) {
            s->damage_at = 0;
            return KC_ERR_CORRUPT;
        }
        /* Blank: format area 0, header last. */
        s->active = 0;
        if ((rc = area_erase(s, 0)) != 0 || (rc = area_write_header(s, 0, 1)) != 0)
            return rc;
        s->generation = 1;
    } else if (v0 && (!v1 || g0 > g1)) {
        s->active = 0;
        s->generation = g0;
    } else {
        s->active = 1;
        s->generation = g1;
    }
    return scan(s);
}

int kc_store_empty(const kc_store *s)
{
    return s->n_keys == 0;
}

/* ---- reads ------------------------------------------------------------ */

int kc_store_get(const kc_store *s, uint16_t key, const uint8_t **data, size_t *len)
{
    int found;
    size_t i = idx_find(s, key, &found);
    if (!found)
        return KC_ERR_NOT_FOUND;
    const uint8_t *p = area_ptr(s, s->active) + (size_t)s->idx_off[i] * 4;
    if (data)
        *data = p + REC_HDR;
    if (len)
        *len = get_le16(p + 2);
    return 0;
}

int kc_store_read(const kc_store *s, uint16_t key, uint8_t *buf, size_t cap, size_t *len)
{
    const uint8_t *d;
    size_t n;
    int rc = kc_store_get(s, key, &d, &n);
    if (rc)
        return rc;
    if (n > cap)
        return KC_ERR_TOO_BIG;
    if (n)
        memcpy(buf, d, n);
    if (len)
        *len = n;
    return 0;
}

int kc_store_read_exact(const kc_store *s, uint16_t key, uint8_t *buf, size_t len)
{
    const uint8_t *d;
    size_t n;
    int rc = kc_store_get(s, key, &d, &n);
    if (rc)
        return rc;
    if (n != len)
        return KC_ERR_CORRUPT; /* a fixed-size item of another size: damage */
    if (n)
        memcpy(buf, d, n);
    return 0;
}

size_t kc_store_free(const kc_store *s)
{
    return s->write_off < s->area_size ? s->area_size - s->write_off : 0;
}

/* ---- compaction ------------------------------------------------------- */

/* Bytes the active area would hold after compaction. */
static size_t compacted_size(const kc_store *s)
{
    const uint8_t *a = area_ptr(s, s->active);
    size_t total = HDR_SIZE + COMMIT_SIZE; /* the copies and their confirm */
    for (size_t i = 0; i < s->n_keys; i++)
        total += rec_size(get_le16(a + (size_t)s->idx_off[i] * 4 + 2));
    if (s->txn_open)
        total += s->write_off - s->txn_start;
    return total;
}

static int compact(kc_store *s)
{
    int from = s->active, to = 1 - s->active;
    const uint8_t *a = area_ptr(s, from);
    size_t off = HDR_SIZE;
    rec r;
    int rc;

    if ((rc = area_erase(s, to)) != 0)
        return rc;
    for (size_t i = 0; i < s->n_keys; i++) {
        const uint8_t *p = a + (size_t)s->idx_off[i] * 4;
        uint16_t len = get_le16(p + 2);
        if ((rc = rec_write(s, to, off, s->idx_key[i], SEQ_BASE, p + REC_HDR, len)) != 0)
            return rc;
        off += rec_size(len);
    }
    /* A damaged last copy is then followed by a valid record: seen as damage. */
    if ((rc = rec_write(s, to, off, KEY_CONFIRM, SEQ_BASE, NULL, 0)) != 0)
        return rc;
    off += COMMIT_SIZE;
    size_t new_txn_start = off;
    if (s->txn_open) {
        for (size_t o = s->txn_start; o < s->write_off; o += r.size) {
            if (rec_parse(s, a, o, &r) != REC_OK)
                return KC_ERR_CORRUPT;
            if ((rc = rec_write(s, to, off, r.key, r.seq, a + o + REC_HDR, r.len)) != 0)
                return rc;
            off += r.size;
        }
    }
    /* The commit point of the compaction. */
    if ((rc = area_write_header(s, to, s->generation + 1)) != 0)
        return rc;
    /*
     * Retire the old area's header (zeros can be programmed over anything):
     * a later damaged header of the new area then leaves no valid one to
     * fall back to. A failure here loses nothing: the new area wins by
     * generation.
     */
    {
        static const uint8_t zero[HDR_SIZE];
        (void)prog(s, from, 0, zero, HDR_SIZE);
    }

    /* The copies sit in index order at computable offsets. */
    size_t o2 = HDR_SIZE;
    for (size_t i = 0; i < s->n_keys; i++) {
        uint16_t len = get_le16(a + (size_t)s->idx_off[i] * 4 + 2);
        s->idx_off[i] = (uint16_t)(o2 / 4);
        o2 += rec_size(len);
    }
    s->active = to;
    s->generation++;
    s->write_off = off;
    s->txn_start = new_txn_start;
    s->dirty_tail = 0;
    return 0;
}

/*
 * Make room for need bytes at write_off, compacting when the area is full or
 * its tail is dirty. Compaction is skipped when it could not free enough
 * (saves an erase cycle for nothing).
 */
static int ensure_space(kc_store *s, size_t need)
{
    int rc;
    if (!s->dirty_tail && s->write_off + need <= s->area_size)
        return 0;
    if (!s->dirty_tail && compacted_size(s) + need > s->area_size)
        return KC_ERR_NO_SPACE;
    if ((rc = compact(s)) != 0) {
        /* The target area may hold a half-made copy: redo it next time. */
        s->dirty_tail = 1;
        return rc;
    }
    if (s->write_off + need > s->area_size)
        return KC_ERR_NO_SPACE;
    return 0;
}

int kc_store_scrub(kc_store *s)
{
    if (s == NULL)
        return KC_ERR_ARG;
    if (s->txn_open)
        return KC_ERR_STATE;
    /*
     * Into the other area and back: the first pass erases the other area and
     * copies only live records there; the second erases the area that held
     * the deleted or replaced records. No byte of them is left.
     */
    for (int pass = 0; pass < 2; pass++) {
        int rc = compact(s);
        if (rc) {
            s->dirty_tail = 1;
            return rc;
        }
    }
    return 0;
}

/* ---- transactions ----------------------------------------------------- */

int kc_store_begin(kc_store *s)
{
    if (s->txn_open)
        return KC_ERR_STATE;
    s->txn_open = 1;
    s->txn_start = s->write_off;
    /* Every begin takes a fresh seq, so an aborted txn's records can never be
     * completed by a later commit. */
    s->next_seq++;
    if (s->next_seq == SEQ_BASE)
        s->next_seq = 1;
    return 0;
}

static uint32_t txn_seq(const kc_store *s)
{
    return s->next_seq - 1 == SEQ_BASE ? 0xFFFFFFFFu : s->next_seq - 1;
}

/*
 * Keys the open transaction would add to the index (counting a key put twice
 * twice: an over-estimate is safe).
 */
static size_t txn_new_keys(const kc_store *s)
{
    const uint8_t *a = area_ptr(s, s->active);
    size_t n = 0;
    int found;
    rec r;
    for (size_t o = s->txn_start; o < s->write_off; o += r.size) {
        if (rec_parse(s, a, o, &r) != REC_OK)
            break;
        if (r.key < KEY_RESERVED_MIN) {
            idx_find(s, r.key, &found);
            n += !found;
        }
    }
    return n;
}

/*
 * Append one record of the open transaction. A flash failure ends the
 * transaction: a record the caller was told failed must never be committed
 * along with the others, so a later commit answers KC_ERR_STATE.
 */
static int append(kc_store *s, uint16_t key, const uint8_t *data, size_t len)
{
    int rc = ensure_space(s, rec_size(len) + 2 * COMMIT_SIZE);
    if (rc == 0 && (rc = rec_write(s, s->active, s->write_off, key, txn_seq(s), data, len)) != 0)
        s->dirty_tail = 1;
    if (rc) {
        if (rc != KC_ERR_NO_SPACE)
            s->txn_open = 0;
        return rc;
    }
    s->write_off += rec_size(len);
    return 0;
}

int kc_store_put(kc_store *s, uint16_t key, const void *data, size_t len)
{
    int found;
    if (!s->txn_open)
        return KC_ERR_STATE;
    if (key >= KEY_RESERVED_MIN || (len && !data))
        return KC_ERR_ARG;
    if (len > KC_STORE_VALUE_MAX)
        return KC_ERR_TOO_BIG;
    idx_find(s, key, &found);
    if (!found && s->n_keys + txn_new_keys(s) + 1 > KC_STORE_MAX_KEYS)
        return KC_ERR_NO_SPACE;
    return append(s, key, (const uint8_t *)data, len);
}

int kc_store_delete(kc_store *s, uint16_t key)
{
    uint8_t k[2];
    if (!s->txn_open)
        return KC_ERR_STATE;
    if (key >= KEY_RESERVED_MIN)
        return KC_ERR_ARG;
    put_le16(k, key);
    return append(s, KEY_DELETE, k, sizeof k);
}

int kc_store_commit(kc_store *s)
{
    int rc;
    if (!s->txn_open)
        return KC_ERR_STATE;
    if (s->write_off == s->txn_start) {
        s->txn_open = 0; /* nothing to commit: no flash write */
        return 0;
    }
    if ((rc = ensure_space(s, 2 * COMMIT_SIZE)) == 0 &&
        (rc = rec_write(s, s->active, s->write_off, KEY_COMMIT, txn_seq(s), NULL, 0)) != 0)
        s->dirty_tail = 1;
    if (rc) {
        /* The transaction is over either way; its records are garbage (a torn
         * commit may still count after a remount: old or new, never a mix). */
        s->txn_open = 0;
        return rc;
    }
    size_t commit_off = s->write_off;
    s->write_off += COMMIT_SIZE;
    s->txn_open = 0;
    /*
     * The confirm. A failure here is reported like a failed commit: the
     * caller must not act on the new state, although a remount may show it
     * (old or new, never a mix).
     */
    if ((rc = rec_write(s, s->active, s->write_off, KEY_CONFIRM, txn_seq(s), NULL, 0)) != 0) {
        s->dirty_tail = 1;
        return rc;
    }
    s->write_off += COMMIT_SIZE;
    rc = idx_apply_range(s, area_ptr(s, s->active), s->txn_start, commit_off);
    return rc;
}

void kc_store_abort(kc_store *s)
{
    s->txn_open = 0;
}

int kc_store_put1(kc_store *s, uint16_t key, const void *data, size_t len)
{
    int rc = kc_store_begin(s);
    if (rc)
        return rc;
    if ((rc = kc_store_put(s, key, data, len)) != 0) {
        kc_store_abort(s);
        return rc;
    }
    return kc_store_commit(s);
}
