/*
 * kc_cred.c - issuer PIN, holder PIN and admin key (see kc_cred.h).
 *
 * Credential record (KC_KEY_CRED(ref)), 55 bytes:
 *   version(1) = 1, value length(1), max tries(1), iterations(4, BE),
 *   salt(16), verifier(32) = PBKDF2-HMAC-SHA-256(value, salt, iterations)
 * Tries record (KC_KEY_TRIES(ref)), 1 byte: tries left, 0 = blocked.
 */
#include "kc_cred.h"

#include <string.h>

#include "kc_audit.h"
#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_keys.h"
#include "keycard_proto.h"

#define REC_VERSION 1
#define REC_LEN 55
#define OFF_LEN 1
#define OFF_MAX 2
#define OFF_ITER 3
#define OFF_SALT 7
#define OFF_VERIFIER 23

typedef struct cred_rec {
    uint8_t b[REC_LEN];
} cred_rec;

int kc_cred_ref_valid(uint8_t ref)
{
    return ref == KC_REF_ISSUER_PIN || ref == KC_REF_HOLDER_PIN || ref == KC_REF_ADMIN_KEY;
}

int kc_cred_form_ok(uint8_t ref, const uint8_t *value, size_t len)
{
    if (ref == KC_REF_ADMIN_KEY)
        return len == KC_ADMIN_KEY_LEN_128 || len == KC_ADMIN_KEY_LEN_256;
    if (ref != KC_REF_ISSUER_PIN && ref != KC_REF_HOLDER_PIN)
        return 0;
    if (len < KC_PIN_MIN_LEN || len > KC_PIN_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (value[i] < '0' || value[i] > '9')
            return 0;
    return 1;
}

static int rec_load(const kc_store *s, uint8_t ref, cred_rec *r)
{
    size_t len;
    int rc = kc_store_read(s, KC_KEY_CRED(ref), r->b, sizeof(r->b), &len);
    if (rc == KC_ERR_TOO_BIG)
        return KC_ERR_CORRUPT;
    if (rc)
        return rc;
    if (len != REC_LEN || r->b[0] != REC_VERSION || r->b[OFF_MAX] < KC_TRIES_MIN ||
        r->b[OFF_MAX] > KC_TRIES_MAX)
        return KC_ERR_CORRUPT;
    return 0;
}

static uint32_t rec_iterations(const cred_rec *r)
{
    return get_be32(r->b + OFF_ITER);
}

/* Build a record for value with a fresh salt. */
static int rec_build(const kc_hw *hw, const uint8_t *value, size_t len, unsigned max_tries,
                     cred_rec *r)
{
    int rc;
    memset(r, 0, sizeof(*r));
    r->b[0] = REC_VERSION;
    r->b[OFF_LEN] = (uint8_t)len;
    r->b[OFF_MAX] = (uint8_t)max_tries;
    r->b[OFF_ITER] = (uint8_t)(KC_CRED_ITERATIONS >> 24);
    r->b[OFF_ITER + 1] = (uint8_t)(KC_CRED_ITERATIONS >> 16);
    r->b[OFF_ITER + 2] = (uint8_t)(KC_CRED_ITERATIONS >> 8);
    r->b[OFF_ITER + 3] = (uint8_t)KC_CRED_ITERATIONS;
    if ((rc = hw->rng(hw->ctx, r->b + OFF_SALT, 16)) != 0)
        return KC_ERR_RNG;
    return kc_crypto_verifier(value, len, r->b + OFF_SALT, KC_CRED_ITERATIONS,
                              r->b + OFF_VERIFIER);
}

int kc_cred_tries(const kc_store *s, uint8_t ref, unsigned *left)
{
    const uint8_t *d;
    size_t len;
    if (!kc_cred_ref_valid(ref))
        return KC_ERR_NOT_FOUND;
    if (kc_store_get(s, KC_KEY_TRIES(ref), &d, &len) != 0)
        return KC_ERR_NOT_FOUND;
    if (len != 1 || d[0] > KC_TRIES_MAX)
        return KC_ERR_CORRUPT;
    *left = d[0];
    return 0;
}

int kc_cred_value_len(const kc_store *s, uint8_t ref, size_t *len)
{
    cred_rec r;
    int rc;
    if (!kc_cred_ref_valid(ref))
        return KC_ERR_NOT_FOUND;
    if ((rc = rec_load(s, ref, &r)) != 0)
        return rc;
    *len = r.b[OFF_LEN];
    return 0;
}

int kc_cred_put(kc_store *s, const kc_hw *hw, uint8_t ref, const uint8_t *value, size_t len,
                unsigned max_tries)
{
    cred_rec r;
    uint8_t t = (uint8_t)max_tries;
    int rc;

    if (!kc_cred_form_ok(ref, value, len) || max_tries < KC_TRIES_MIN || max_tries > KC_TRIES_MAX)
        return KC_ERR_BAD_DATA;
    if ((rc = rec_build(hw, value, len, max_tries, &r)) == 0 &&
        (rc = kc_store_put(s, KC_KEY_CRED(ref), r.b, sizeof(r.b))) == 0)
        rc = kc_store_put(s, KC_KEY_TRIES(ref), &t, 1);
    kc_wipe(&r, sizeof(r));
    return rc;
}

int kc_cred_check(kc_store *s, const kc_hw *hw, uint8_t ref, const uint8_t *value, size_t len,
                  const kc_cred_on_match *on_match, unsigned *left)
{
    cred_rec r, nr;
    uint8_t got[32];
    unsigned tries;
    uint8_t t;
    int rc, match;

    if (left)
        *left = 0;
    if (!kc_cred_ref_valid(ref))
        return KC_ERR_NOT_FOUND;
    if (s->txn_open)
        return KC_ERR_STATE;
    if ((rc = rec_load(s, ref, &r)) != 0 || (rc = kc_cred_tries(s, ref, &tries)) != 0)
        return rc;
    if (tries == 0)
        return KC_ERR_CRED_BLOCKED;
    if (on_match && on_match->new_value &&
        !kc_cred_form_ok(ref, on_match->new_value, on_match->new_len))
        return KC_ERR_BAD_DATA;
    /* A full audit log refuses before a try is spent (kc_audit.h policy). */
    if (on_match && on_match->audit_event &&
        (rc = kc_audit_room(s, on_match->audit_event)) != 0)
        return rc;

    /* Spend the try and make it durable before anything depends on the value. */
    t = (uint8_t)(tries - 1);
    if ((rc = kc_store_put1(s, KC_KEY_TRIES(ref), &t, 1)) != 0)
        return rc;
    if (left)
        *left = t;

    /* A value of another length cannot match; still derive, to keep timing flat. */
    rc = kc_crypto_verifier(value, len, r.b + OFF_SALT, rec_iterations(&r), got);
    if (rc)
        goto out;
    match = kc_ct_equal(got, r.b + OFF_VERIFIER, sizeof(got)) & (len == r.b[OFF_LEN]);

    if (!match) {
        if (t == 0) {
            /* Blocked by this try: record it (a separate commit; the try is already spent). */
            if ((rc = kc_store_begin(s)) == 0 &&
                (rc = kc_audit_append(s, hw, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1)) == 0)
                rc = kc_store_commit(s);
            if (rc) {
                if (s->txn_open)
                    kc_store_abort(s);
                goto out;
            }
        }
        rc = KC_ERR_CRED_WRONG;
        goto out;
    }

    t = r.b[OFF_MAX];
    if ((rc = kc_store_begin(s)) != 0)
        goto out;
    if (on_match && on_match->new_value) {
        if ((rc = rec_build(hw, on_match->new_value, on_match->new_len, t, &nr)) == 0)
            rc = kc_store_put(s, KC_KEY_CRED(ref), nr.b, sizeof(nr.b));
        kc_wipe(&nr, sizeof(nr));
    }
    if (rc == 0)
        rc = kc_store_put(s, KC_KEY_TRIES(ref), &t, 1);
    if (rc == 0 && on_match && on_match->audit_event)
        rc = kc_audit_append(s, hw, on_match->audit_event, on_match->audit_data,
                             on_match->audit_len);
    else if (rc == 0 && ref == KC_REF_ADMIN_KEY)
        rc = kc_audit_flush(s, hw); /* counted channel failures: in the log the admin reads */
    if (rc == 0)
        rc = kc_store_commit(s);
    if (rc) {
        if (s->txn_open)
            kc_store_abort(s);
        goto out;
    }
    if (left)
        *left = t;
out:
    kc_wipe(got, sizeof(got));
    kc_wipe(&r, sizeof(r));
    return rc;
}

int kc_cred_reset(kc_store *s, const kc_hw *hw, uint8_t ref, const uint8_t *new_value,
                  size_t new_len)
{
    cred_rec r, nr;
    uint8_t t;
    int rc;

    if (!kc_cred_ref_valid(ref))
        return KC_ERR_NOT_FOUND;
    if (s->txn_open)
        return KC_ERR_STATE;
    if (new_value && !kc_cred_form_ok(ref, new_value, new_len))
        return KC_ERR_BAD_DATA;
    if ((rc = rec_load(s, ref, &r)) != 0)
        return rc;
    t = r.b[OFF_MAX];
    if ((rc = kc_store_begin(s)) != 0)
        return rc;
    if (new_value) {
        if ((rc = rec_build(hw, new_value, new_len, t, &nr)) == 0)
            rc = kc_store_put(s, KC_KEY_CRED(ref), nr.b, sizeof(nr.b));
        kc_wipe(&nr, sizeof(nr));
    }
    if (rc == 0)
        rc = kc_store_put(s, KC_KEY_TRIES(ref), &t, 1);
    if (rc == 0)
        rc = kc_audit_append(s, hw, KC_AUDIT_EVT_UNBLOCKED, &ref, 1);
    if (rc == 0)
        rc = kc_store_commit(s);
    if (rc && s->txn_open)
        kc_store_abort(s);
    return rc;
}
