/*
 * kc_template.h - numbered command templates of the key card: parse and
 * validate the binary form (docs/apdu.md "Templates"), check a step's
 * parameters against it and fill the inner command data.
 *
 * Pure: no store, no globals. The only outside help is the key callbacks of
 * kc_template_keys, through which a KEY slot asks its caller whether a key
 * may be injected and for the key's value for the target.
 *
 * Binary form (at most KC_TPL_MAX_LEN bytes):
 *   version(1)=01 | CLA INS P1 P2 | n_keys(1) | allowed key numbers(n_keys;
 *   none = any key with INJECT) | label_len(1) | label (0..32 printable ASCII)
 *   | n_items(1) | items, each a type byte:
 *     01 FIXED  len(1: 1..255) bytes(len)               param: none
 *     02 INT    size(1: 1,2,4) min(4) max(4)            param: size bytes BE
 *     03 BYTES  min(2) max(2) (max <= 255) prefix(1: 0/1) param: len(1) bytes(len)
 *     04 KEY    form(1) = 01                            param: key number(1)
 * The parameters of a step are the items' params concatenated in order, with
 * nothing left over.
 */
#ifndef KC_TEMPLATE_H
#define KC_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "keycard_proto.h"

/* A parsed template; the pointers point into the bytes given to kc_template_parse. */
typedef struct kc_template {
    uint8_t hdr[4];          /* inner CLA INS P1 P2 */
    uint8_t n_keys;          /* 0: any key with INJECT */
    const uint8_t *keys;     /* allowed key numbers */
    uint8_t label_len;
    const uint8_t *label;
    uint8_t n_items;
    const uint8_t *items;    /* the item bytes */
    size_t items_len;
    size_t max_data;         /* longest inner data any parameters can give */
} kc_template;

/*
 * What a KEY slot needs from the caller; each slot asks exactly one of them,
 * once. check: key_no (1..254, allowed by the template) exists and may be
 * injected; *len receives its length (16 or 32). fill: the same check and,
 * in the same lookup, the target's value of key_no written into out (cap
 * bytes), its length in *len; KC_ERR_TOO_BIG when cap is smaller (nothing
 * written). Both return 0 or a negative KC_ERR_* (KC_ERR_BAD_DATA: not usable).
 */
typedef struct kc_template_keys {
    void *ctx;
    int (*check)(void *ctx, uint8_t key_no, size_t *len);
    int (*fill)(void *ctx, uint8_t key_no, uint8_t *out, size_t cap, size_t *len);
} kc_template_keys;

/*
 * Validate bytes[0..len) as a whole template and parse it into t.
 * Refused: wrong version, any field out of its range, an item of unknown
 * type, min > max, bytes left over or missing, a worst-case inner data length
 * above KC_TPL_DATA_MAX. Returns 0, KC_ERR_ARG (NULL), KC_ERR_BAD_DATA.
 */
int kc_template_parse(kc_template *t, const uint8_t *bytes, size_t len);

/* Largest inner command data a template may describe (the largest envelope bucket allows). */
#define KC_TPL_DATA_MAX 1017

/*
 * Check the parameters of one step without producing anything: every item's
 * parameter within its range, key slots allowed by the template and accepted
 * by keys->check, no bytes left over. *data_len receives the length the inner
 * data will have. keys may be NULL when the template has no KEY item.
 * Returns 0, KC_ERR_ARG, KC_ERR_BAD_DATA (or an error of keys->check).
 */
int kc_template_check(const kc_template *t, const uint8_t *params, size_t plen,
                      const kc_template_keys *keys, size_t *data_len);

/*
 * Check as kc_template_check, then write the inner command data into out
 * (capacity cap); *data_len receives its length. On error out is wiped (it
 * may hold key values). Returns 0, KC_ERR_ARG, KC_ERR_BAD_DATA,
 * KC_ERR_TOO_BIG (cap too small), or an error of the key callbacks.
 */
int kc_template_fill(const kc_template *t, const uint8_t *params, size_t plen,
                     const kc_template_keys *keys, uint8_t *out, size_t cap, size_t *data_len);

#endif /* KC_TEMPLATE_H */
