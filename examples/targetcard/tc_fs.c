/*
 * tc_fs.c - the target card's file system (DESIGN.md item 8): the master
 * folder, application folders with a size quota, key files with their keys,
 * transparent and record data files, and the access conditions that guard
 * them.
 *
 * Layout in the store (tc_keys.h): an object lives in one of TC_MAX_OBJECTS
 * slots; its header is record TC_KEY_OBJ(slot), 30 bytes:
 *   fid(2) parent(2) type(1) read_ac(1) change_ac(1) size(2) rec_len(1)
 *   rec_max(1) used(2) name_len(1) name(16, zero padded)
 * (size: folder quota, transparent length, record rec_len*rec_max, key file 0;
 * used: bytes of a folder's quota given to its children). A data file's
 * contents are record TC_KEY_CONTENT(slot): a transparent file's bytes (absent
 * means all zero), a record file's records back to back (absent means none).
 * A file key k is record TC_KEY_FKEY(k): key file fid(2) type(1) max_tries(1)
 * then for a PIN salt(16) verifier(32), for AES the key (16/32); a PIN's
 * tries left are record TC_KEY_FKEY_TRIES(k).
 *
 * Services put into the caller's open transaction (one command = one commit)
 * and check everything before the first put, so a refused command changes
 * nothing.
 */
#include <string.h>

#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "tc_card.h"
#include "tc_keys.h"

#define OBJ_LEN 30
#define PIN_ITERATIONS 1000u
#define FKEY_HDR 4
#define PIN_REC_LEN (FKEY_HDR + 16 + 32)

/* ---- object headers ----------------------------------------------------- */

int tc_fs_get(const tc_card *tc, int slot, tc_obj *o)
{
    const uint8_t *d;
    size_t len;

    if (slot < 0 || slot >= TC_MAX_OBJECTS ||
        kc_store_get(&tc->store, TC_KEY_OBJ(slot), &d, &len) != 0)
        return TC_ERR_FILE_NOT_FOUND;
    if (len != OBJ_LEN || d[13] > TC_NAME_MAX)
        return KC_ERR_CORRUPT;
    memset(o, 0, sizeof(*o));
    o->slot = slot;
    o->fid = get_be16(d);
    o->parent = get_be16(d + 2);
    o->type = d[4];
    o->read_ac = d[5];
    o->change_ac = d[6];
    o->size = get_be16(d + 7);
    o->rec_len = d[9];
    o->rec_max = d[10];
    o->used = get_be16(d + 11);
    o->name_len = d[13];
    memcpy(o->name, d + 14, o->name_len);
    return 0;
}

static int put_obj(tc_card *tc, const tc_obj *o)
{
    uint8_t b[OBJ_LEN] = {0};
    put_be16(b, o->fid);
    put_be16(b + 2, o->parent);
    b[4] = o->type;
    b[5] = o->read_ac;
    b[6] = o->change_ac;
    put_be16(b + 7, o->size);
    b[9] = o->rec_len;
    b[10] = o->rec_max;
    put_be16(b + 11, o->used);
    b[13] = o->name_len;
    memcpy(b + 14, o->name, o->name_len);
    return kc_store_put(&tc->store, TC_KEY_OBJ(o->slot), b, sizeof(b));
}

int tc_fs_find(const tc_card *tc, uint16_t fid, tc_obj *o)
{
    for (int i = 0; i < TC_MAX_OBJECTS; i++) {
        int rc = tc_fs_get(tc, i, o);
        if (rc == KC_ERR_CORRUPT)
            return rc;
        if (rc == 0 && o->fid == fid)
            return 0;
    }
    return TC_ERR_FILE_NOT_FOUND;
}

int tc_fs_find_name(const tc_card *tc, const uint8_t *name, size_t len, tc_obj *o)
{
    for (int i = 0; i < TC_MAX_OBJECTS; i++) {
        int rc = tc_fs_get(tc, i, o);
        if (rc == KC_ERR_CORRUPT)
            return rc;
        if (rc == 0 && o->type == TC_OBJ_FOLDER && o->name_len == len &&
            memcmp(o->name, name, len) == 0)
            return 0;
    }
    return TC_ERR_FILE_NOT_FOUND;
}

static int free_slot(const tc_card *tc)
{
    const uint8_t *d;
    size_t len;
    for (int i = 0; i < TC_MAX_OBJECTS; i++)
        if (kc_store_get(&tc->store, TC_KEY_OBJ(i), &d, &len) != 0)
            return i;
    return -1;
}

int tc_fs_format(tc_card *tc)
{
    tc_obj mf = {
        .slot = 0,
        .fid = TC_MF_FID,
        .parent = 0,
        .type = TC_OBJ_FOLDER,
        .read_ac = TC_AC_ALWAYS,
        .change_ac = TC_AC_NEVER,
        .size = TC_MF_QUOTA,
        .name_len = 2,
        .name = {'M', 'F'},
    };
    return put_obj(tc, &mf);
}

/* ---- access conditions -------------------------------------------------- */

int tc_fs_ac_valid(uint8_t ac)
{
    uint8_t k = ac & 0x0F;
    if (ac == TC_AC_ALWAYS || ac == TC_AC_NEVER)
        return 1;
    return ((ac & 0xF0) == 0x10 || (ac & 0xF0) == 0x20) && k >= 1 && k <= TC_FKEY_MAX_ID;
}

int tc_fs_ac_ok(const tc_card *tc, uint8_t ac)
{
    uint8_t k = ac & 0x0F;
    if (ac == TC_AC_ALWAYS)
        return 1;
    if (!tc_fs_ac_valid(ac) || ac == TC_AC_NEVER)
        return 0;
    if ((ac & 0xF0) == 0x10)
        return (tc->pin_ok >> k) & 1u;
    return (tc->auth_ok >> k) & 1u;
}

/* ---- CREATE ------------------------------------------------------------- */

static int fid_ok(uint16_t fid)
{
    return fid != 0x0000 && fid != 0xFFFF && fid != TC_MF_FID;
}

int tc_fs_create(tc_card *tc, uint8_t kind, const uint8_t *d, size_t n)
{
    tc_obj o, parent, tmp;
    uint16_t charge = 0;
    int rc;

    memset(&o, 0, sizeof(o));
    if (n < 4)
        return TC_ERR_LENGTH;
    o.fid = get_be16(d);
    o.parent = get_be16(d + 2);
    switch (kind) {
    case TC_CREATE_FOLDER: /* fid parent quota(2) read_ac change_ac name_len name */
        if (n < 10 || n != 9u + d[8])
            return TC_ERR_LENGTH;
        if (d[8] < 1 || d[8] > TC_NAME_MAX)
            return KC_ERR_BAD_DATA;
        o.type = TC_OBJ_FOLDER;
        o.size = get_be16(d + 4);
        o.read_ac = d[6];
        o.change_ac = d[7];
        o.name_len = d[8];
        memcpy(o.name, d + 9, o.name_len);
        charge = o.size;
        if (tc_fs_find_name(tc, o.name, o.name_len, &tmp) == 0)
            return TC_ERR_EXISTS;
        break;
    case TC_CREATE_KEY_FILE: /* fid parent change_ac */
        if (n != 5)
            return TC_ERR_LENGTH;
        o.type = TC_OBJ_KEY_FILE;
        o.read_ac = TC_AC_NEVER; /* keys are never readable */
        o.change_ac = d[4];
        break;
    case TC_CREATE_DATA_FILE: /* fid parent kind size(2) | rec_len max  read_ac change_ac */
        if (n != 9)
            return TC_ERR_LENGTH;
        o.type = d[4];
        if (o.type == TC_OBJ_TRANSPARENT) {
            o.size = get_be16(d + 5);
        } else if (o.type == TC_OBJ_RECORD) {
            o.rec_len = d[5];
            o.rec_max = d[6];
            if (o.rec_len == 0 || o.rec_max == 0)
                return KC_ERR_BAD_DATA;
            o.size = (uint16_t)(o.rec_len * o.rec_max);
        } else {
            return KC_ERR_BAD_DATA;
        }
        if (o.size == 0 || o.size > TC_FILE_MAX)
            return KC_ERR_BAD_DATA;
        o.read_ac = d[7];
        o.change_ac = d[8];
        charge = o.size;
        break;
    default:
        return KC_ERR_BAD_DATA;
    }
    if (!fid_ok(o.fid) || !tc_fs_ac_valid(o.read_ac) || !tc_fs_ac_valid(o.change_ac))
        return KC_ERR_BAD_DATA;
    if ((rc = tc_fs_find(tc, o.fid, &tmp)) == 0)
        return TC_ERR_EXISTS;
    if (rc != TC_ERR_FILE_NOT_FOUND)
        return rc;
    if ((rc = tc_fs_find(tc, o.parent, &parent)) != 0)
        return rc;
    if (parent.type != TC_OBJ_FOLDER)
        return TC_ERR_WRONG_TYPE;
    if ((uint32_t)parent.used + charge > parent.size)
        return TC_ERR_QUOTA;
    if ((o.slot = free_slot(tc)) < 0)
        return TC_ERR_QUOTA;
    parent.used = (uint16_t)(parent.used + charge);
    if ((rc = put_obj(tc, &o)) != 0)
        return rc;
    return charge ? put_obj(tc, &parent) : 0;
}

/* ---- data files --------------------------------------------------------- */

static size_t content(const tc_card *tc, const tc_obj *o, const uint8_t **d)
{
    size_t len;
    if (kc_store_get(&tc->store, TC_KEY_CONTENT(o->slot), d, &len) != 0) {
        *d = NULL;
        return 0;
    }
    return len;
}

int tc_fs_read_binary(const tc_card *tc, const tc_obj *o, size_t off, uint8_t *out,
                      size_t max, size_t *n)
{
    const uint8_t *d;
    size_t have, len;

    if (o->type != TC_OBJ_TRANSPARENT)
        return TC_ERR_WRONG_TYPE;
    if (off >= o->size)
        return TC_ERR_OFFSET;
    len = o->size - off < max ? o->size - off : max;
    have = content(tc, o, &d);
    if (d != NULL && have != o->size)
        return KC_ERR_CORRUPT;
    if (d == NULL)
        memset(out, 0, len);
    else
        memcpy(out, d + off, len);
    *n = len;
    return 0;
}

int tc_fs_write_binary(tc_card *tc, const tc_obj *o, size_t off, const uint8_t *d, size_t n)
{
    uint8_t buf[TC_FILE_MAX];
    const uint8_t *old;
    size_t have;
    int rc;

    if (o->type != TC_OBJ_TRANSPARENT)
        return TC_ERR_WRONG_TYPE;
    if (off > o->size)
        return TC_ERR_OFFSET;
    if (n > o->size - off)
        return TC_ERR_LENGTH;
    have = content(tc, o, &old);
    if (old != NULL && have != o->size)
        return KC_ERR_CORRUPT;
    if (old == NULL)
        memset(buf, 0, o->size);
    else
        memcpy(buf, old, o->size);
    memcpy(buf + off, d, n);
    rc = kc_store_put(&tc->store, TC_KEY_CONTENT(o->slot), buf, o->size);
    kc_wipe(buf, o->size);
    return rc;
}

int tc_fs_read_record(const tc_card *tc, const tc_obj *o, unsigned recno, uint8_t *out,
                      size_t *n)
{
    const uint8_t *d;
    size_t have;

    if (o->type != TC_OBJ_RECORD)
        return TC_ERR_WRONG_TYPE;
    have = content(tc, o, &d);
    if (recno == 0 || (size_t)recno * o->rec_len > have)
        return TC_ERR_NO_RECORD;
    memcpy(out, d + (size_t)(recno - 1) * o->rec_len, o->rec_len);
    *n = o->rec_len;
    return 0;
}

int tc_fs_append_record(tc_card *tc, const tc_obj *o, const uint8_t *d, size_t n)
{
    uint8_t buf[TC_FILE_MAX];
    const uint8_t *old;
    size_t have;
    int rc;

    if (o->type != TC_OBJ_RECORD)
        return TC_ERR_WRONG_TYPE;
    if (n != o->rec_len)
        return TC_ERR_LENGTH;
    have = content(tc, o, &old);
    if (have % o->rec_len != 0 || have > o->size)
        return KC_ERR_CORRUPT;
    if (have + n > o->size)
        return TC_ERR_QUOTA;
    if (have)
        memcpy(buf, old, have);
    memcpy(buf + have, d, n);
    rc = kc_store_put(&tc->store, TC_KEY_CONTENT(o->slot), buf, have + n);
    kc_wipe(buf, have + n);
    return rc;
}

/* ---- file keys ---------------------------------------------------------- */

static int pin_form_ok(const uint8_t *p, size_t n)
{
    if (n < TC_PIN_MIN || n > TC_PIN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

uint8_t tc_fs_key_type(const tc_card *tc, uint8_t k)
{
    const uint8_t *d;
    size_t len;
    if (k < 1 || k > TC_FKEY_MAX_ID || kc_store_get(&tc->store, TC_KEY_FKEY(k), &d, &len) != 0 ||
        len < FKEY_HDR)
        return 0;
    return d[2];
}

int tc_fs_set_key(tc_card *tc, uint8_t k, uint8_t type, const uint8_t *d, size_t n)
{
    uint8_t rec[FKEY_HDR + 48];
    const uint8_t *old;
    size_t old_len, rec_len;
    tc_obj kf;
    int rc;

    if (k < 1 || k > TC_FKEY_MAX_ID)
        return KC_ERR_BAD_DATA;
    if (n < 2)
        return TC_ERR_LENGTH;
    if ((rc = tc_fs_find(tc, get_be16(d), &kf)) != 0)
        return rc;
    if (kf.type != TC_OBJ_KEY_FILE)
        return TC_ERR_WRONG_TYPE;
    /* A key id names one key card-wide: it may be set again only in its own key file. */
    if (kc_store_get(&tc->store, TC_KEY_FKEY(k), &old, &old_len) == 0 &&
        (old_len < 2 || get_be16(old) != kf.fid))
        return TC_ERR_EXISTS;
    d += 2;
    n -= 2;
    memcpy(rec, d - 2, 2);
    rec[2] = type;
    rec[3] = 0;
    switch (type) {
    case TC_FKEY_PIN:
        if (n < 1 + TC_PIN_MIN || n > 1 + TC_PIN_MAX)
            return TC_ERR_LENGTH;
        if (d[0] < 1 || d[0] > 15 || !pin_form_ok(d + 1, n - 1))
            return KC_ERR_BAD_DATA;
        rec[3] = d[0];
        if (tc->hw.rng(tc->hw.ctx, rec + FKEY_HDR, 16) != 0)
            return KC_ERR_RNG;
        if ((rc = kc_crypto_verifier(d + 1, n - 1, rec + FKEY_HDR, PIN_ITERATIONS,
                                     rec + FKEY_HDR + 16)) != 0)
            return rc;
        rec_len = PIN_REC_LEN;
        break;
    case TC_FKEY_AES128:
    case TC_FKEY_AES256:
        if (n != (type == TC_FKEY_AES128 ? 16u : 32u))
            return TC_ERR_LENGTH;
        memcpy(rec + FKEY_HDR, d, n);
        rec_len = FKEY_HDR + n;
        break;
    default:
        return KC_ERR_BAD_DATA;
    }
    rc = kc_store_put(&tc->store, TC_KEY_FKEY(k), rec, rec_len);
    if (rc == 0 && type == TC_FKEY_PIN)
        rc = kc_store_put(&tc->store, TC_KEY_FKEY_TRIES(k), &rec[3], 1);
    else if (rc == 0 && kc_store_get(&tc->store, TC_KEY_FKEY_TRIES(k), &old, &old_len) == 0)
        rc = kc_store_delete(&tc->store, TC_KEY_FKEY_TRIES(k)); /* was a PIN before */
    kc_wipe(rec, sizeof(rec));
    return rc;
}

int tc_fs_pin_tries(const tc_card *tc, uint8_t k, unsigned *left)
{
    const uint8_t *d;
    size_t len;
    if (tc_fs_key_type(tc, k) != TC_FKEY_PIN ||
        kc_store_get(&tc->store, TC_KEY_FKEY_TRIES(k), &d, &len) != 0 || len != 1)
        return KC_ERR_NOT_FOUND;
    *left = d[0];
    return 0;
}

int tc_fs_verify_pin(tc_card *tc, uint8_t k, const uint8_t *pin, size_t len, unsigned *left)
{
    uint8_t rec[PIN_REC_LEN], v[32], t;
    size_t rl;
    unsigned tries;
    int rc, match;

    if ((rc = tc_fs_pin_tries(tc, k, &tries)) != 0)
        return rc;
    *left = tries;
    if (tries == 0)
        return TC_ERR_PIN_BLOCKED;
    if (kc_store_read(&tc->store, TC_KEY_FKEY(k), rec, sizeof(rec), &rl) != 0 ||
        rl != PIN_REC_LEN)
        return KC_ERR_CORRUPT;
    /* Spend the try on flash before comparing: a power cut cannot give a free guess. */
    t = (uint8_t)(tries - 1);
    if ((rc = kc_store_put1(&tc->store, TC_KEY_FKEY_TRIES(k), &t, 1)) != 0) {
        kc_wipe(rec, sizeof(rec));
        return rc;
    }
    *left = t;
    rc = kc_crypto_verifier(pin, len, rec + FKEY_HDR, PIN_ITERATIONS, v);
    match = rc == 0 && kc_ct_equal(v, rec + FKEY_HDR + 16, 32);
    t = rec[3];
    kc_wipe(v, sizeof(v));
    kc_wipe(rec, sizeof(rec));
    if (rc)
        return rc;
    if (!match)
        return TC_ERR_PIN_WRONG;
    if ((rc = kc_store_put1(&tc->store, TC_KEY_FKEY_TRIES(k), &t, 1)) != 0)
        return rc;
    *left = t;
    return 0;
}

int tc_fs_key_cmac(const tc_card *tc, uint8_t k, const uint8_t *msg, size_t len,
                   uint8_t mac[16])
{
    const uint8_t *d;
    size_t n;
    uint8_t t = tc_fs_key_type(tc, k);
    if ((t != TC_FKEY_AES128 && t != TC_FKEY_AES256) ||
        kc_store_get(&tc->store, TC_KEY_FKEY(k), &d, &n) != 0 || n < FKEY_HDR)
        return KC_ERR_NOT_FOUND;
    return kc_crypto_aes_cmac(d + FKEY_HDR, n - FKEY_HDR, msg, len, mac);
}

/* ---- file list ---------------------------------------------------------- */

int tc_fs_list(const tc_card *tc, uint8_t *out, size_t cap, size_t *n)
{
    tc_obj o;
    size_t w = 0;

    for (int i = 0; i < TC_MAX_OBJECTS; i++) {
        int rc = tc_fs_get(tc, i, &o);
        if (rc == KC_ERR_CORRUPT)
            return rc;
        if (rc)
            continue;
        if (w + 10u + o.name_len > cap)
            return KC_ERR_TOO_BIG;
        put_be16(out + w, o.fid);
        put_be16(out + w + 2, o.parent);
        out[w + 4] = o.type;
        put_be16(out + w + 5, o.size);
        out[w + 7] = o.read_ac;
        out[w + 8] = o.change_ac;
        out[w + 9] = o.name_len;
        memcpy(out + w + 10, o.name, o.name_len);
        w += 10u + o.name_len;
    }
    *n = w;
    return 0;
}
