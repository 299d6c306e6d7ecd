/*
 * kc_audit.c - the audit log on the store (see kc_audit.h).
 *
 * Records: KC_KEY_AUDIT_HEAD holds next(4) head(32) acked(4) lost(4), all
 * u32 BE: the seq the next entry gets, the chain head after entry next - 1,
 * the acknowledged mark (entries below it were exported) and the count of
 * security events lost to a full log. Entry seq lives at
 * KC_KEY_AUDIT_ENTRY(seq) in its wire form, seq(4) time(4) event(1) len(1)
 * data(len) prev(32), so reading is a copy. Writing entry seq overwrites entry
 * seq - KC_AUDIT_CAPACITY: the ring, which the full-log policy only lets
 * happen to acknowledged entries. The entries kept are
 * [max(0, next - capacity), next).
 *
 * KC_KEY_AUDIT_PENDING holds the channel failures counted since the last
 * summary, in the form the summary entry carries (keycard_proto.h, event 07):
 * count(4) first(4) last(4) per-reason counts(4 x 4) last reason(1) last
 * INS(1). A failure updates it in a commit of its own and appends nothing;
 * the next append of another event (and kc_audit_flush) writes it as one
 * entry just before its own, in the same transaction, and deletes it. The
 * chain is only ever extended, never rewritten, and N failures cost at most
 * one entry per entry of another event: unauthenticated failures alone never
 * fill the log.
 */
#include "kc_audit.h"

#include <string.h>

#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_keys.h"

#define HEAD_REC_LEN 44
#define LEGACY_HEAD_LEN 4 /* next only: entries before the chain; treated as acknowledged */

typedef struct audit_head {
    uint32_t next;
    uint8_t head[32];
    uint32_t acked;
    uint32_t lost;
} audit_head;

static void head_load(const kc_store *s, audit_head *h)
{
    const uint8_t *d;
    size_t len;
    memset(h, 0, sizeof(*h));
    if (kc_store_get(s, KC_KEY_AUDIT_HEAD, &d, &len) != 0)
        return;
    if (len == HEAD_REC_LEN) {
        h->next = get_be32(d);
        memcpy(h->head, d + 4, 32);
        h->acked = get_be32(d + 36);
        h->lost = get_be32(d + 40);
    } else if (len == LEGACY_HEAD_LEN) {
        h->next = get_be32(d);
        h->acked = h->next;
    }
}

static int head_put(kc_store *s, const audit_head *h)
{
    uint8_t r[HEAD_REC_LEN];
    put_be32(r, h->next);
    memcpy(r + 4, h->head, 32);
    put_be32(r + 36, h->acked);
    put_be32(r + 40, h->lost);
    return kc_store_put(s, KC_KEY_AUDIT_HEAD, r, sizeof(r));
}

uint32_t kc_audit_next(const kc_store *s)
{
    audit_head h;
    head_load(s, &h);
    return h.next;
}

/* The pending channel failures: 1 and the summary in p when some are counted. */
static int pending_load(const kc_store *s, uint8_t p[KC_AUDIT_CHF_SUMMARY_LEN])
{
    size_t len;
    if (kc_store_read(s, KC_KEY_AUDIT_PENDING, p, KC_AUDIT_CHF_SUMMARY_LEN, &len) != 0 ||
        len != KC_AUDIT_CHF_SUMMARY_LEN || get_be32(p) == 0) {
        memset(p, 0, KC_AUDIT_CHF_SUMMARY_LEN);
        return 0;
    }
    return 1;
}

uint32_t kc_audit_pending(const kc_store *s)
{
    uint8_t p[KC_AUDIT_CHF_SUMMARY_LEN];
    return pending_load(s, p) ? get_be32(p) : 0;
}

static int security_event(uint8_t event)
{
    return event == KC_AUDIT_EVT_PIN_BLOCKED || event == KC_AUDIT_EVT_CHANNEL_FAILURE;
}

/* Entries the event may find unacknowledged and still be written. */
static uint32_t limit(uint8_t event)
{
    if (security_event(event) || event == KC_AUDIT_EVT_ISSUE_RECEIPT)
        return KC_AUDIT_CAPACITY;
    return KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE;
}

static int room(const audit_head *h, uint8_t event)
{
    return h->next - h->acked < limit(event);
}

int kc_audit_room(const kc_store *s, uint8_t event)
{
    audit_head h;
    head_load(s, &h);
    return room(&h, event) ? 0 : KC_ERR_NO_SPACE;
}

/* Put entry h->next (event, data) into the open transaction and advance h in memory. */
static int put_entry(kc_store *s, const kc_hw *hw, audit_head *h, uint8_t event,
                     const uint8_t *data, size_t len)
{
    uint8_t e[KC_AUDIT_ENTRY_MAX];
    uint8_t m[KC_AUDIT_PREV_LEN + KC_AUDIT_HDR_LEN + KC_AUDIT_DATA_MAX];
    uint8_t next_head[32];
    uint32_t seq = h->next;
    size_t body = KC_AUDIT_HDR_LEN + len;
    int rc;

    put_be32(e, seq);
    put_be32(e + 4, hw && hw->clock ? hw->clock(hw->ctx) : 0);
    e[8] = event;
    e[9] = (uint8_t)len;
    if (len)
        memcpy(e + KC_AUDIT_HDR_LEN, data, len);
    memcpy(e + body, h->head, KC_AUDIT_PREV_LEN);
    /* head_i = SHA-256(label NUL || head_{i-1} || seq..data) */
    memcpy(m, h->head, KC_AUDIT_PREV_LEN);
    memcpy(m + KC_AUDIT_PREV_LEN, e, body);
    if ((rc = kc_crypto_sha256(KC_AUDIT_CHAIN_LABEL, m, KC_AUDIT_PREV_LEN + body, next_head)) != 0)
        return rc;
    if ((rc = kc_store_put(s, KC_KEY_AUDIT_ENTRY(seq), e, body + KC_AUDIT_PREV_LEN)) != 0)
        return rc;
    memcpy(h->head, next_head, 32);
    h->next = seq + 1;
    return 0;
}

/*
 * The pending summary as entry h->next when one is pending and there is room
 * for it and one more entry under the security limit (the summary may use the
 * reserve, so a flood never takes an unlock's slot); else it stays pending.
 */
static int put_pending(kc_store *s, const kc_hw *hw, audit_head *h)
{
    uint8_t p[KC_AUDIT_CHF_SUMMARY_LEN];
    int rc;
    if (!pending_load(s, p) || h->next - h->acked + 1 >= KC_AUDIT_CAPACITY)
        return 0;
    if ((rc = put_entry(s, hw, h, KC_AUDIT_EVT_CHANNEL_FAILURE, p, sizeof(p))) == 0)
        rc = kc_store_delete(s, KC_KEY_AUDIT_PENDING);
    return rc;
}

int kc_audit_append(kc_store *s, const kc_hw *hw, uint8_t event, const uint8_t *data,
                    size_t len)
{
    audit_head h;
    int rc;

    if (len > KC_AUDIT_DATA_MAX || (len && data == NULL))
        return KC_ERR_ARG;
    head_load(s, &h);
    if (!room(&h, event)) {
        if (!security_event(event))
            return KC_ERR_NO_SPACE;
        /* It happened and cannot be undone: say so in the signed head. */
        if (h.lost != UINT32_MAX)
            h.lost++;
        return head_put(s, &h);
    }
    /* The failures counted since the last summary come first, in order of time. */
    if ((rc = put_pending(s, hw, &h)) != 0 || (rc = put_entry(s, hw, &h, event, data, len)) != 0)
        return rc;
    return head_put(s, &h);
}

int kc_audit_flush(kc_store *s, const kc_hw *hw)
{
    audit_head h;
    int rc;
    if (s == NULL)
        return KC_ERR_ARG;
    if (!s->txn_open)
        return KC_ERR_STATE;
    head_load(s, &h);
    uint32_t next = h.next;
    if ((rc = put_pending(s, hw, &h)) != 0 || h.next == next)
        return rc;
    return head_put(s, &h);
}

int kc_audit_channel_failure(kc_store *s, const kc_hw *hw, uint8_t reason, uint8_t ins)
{
    uint8_t p[KC_AUDIT_CHF_SUMMARY_LEN];
    uint32_t now = hw && hw->clock ? hw->clock(hw->ctx) : 0;
    int rc;
    if (s == NULL || reason < 1 || reason > KC_AUDIT_CHF_REASONS)
        return KC_ERR_ARG;
    if (s->txn_open)
        return KC_ERR_STATE;
    if (!pending_load(s, p))
        put_be32(p + 4, now); /* the first one */
    /* Counts saturate: a summary never wraps to a small number. */
    uint8_t *by_reason = p + 12 + 4 * (size_t)(reason - 1);
    if (get_be32(p) != UINT32_MAX)
        put_be32(p, get_be32(p) + 1);
    if (get_be32(by_reason) != UINT32_MAX)
        put_be32(by_reason, get_be32(by_reason) + 1);
    put_be32(p + 8, now);
    p[KC_AUDIT_CHF_SUMMARY_LEN - 2] = reason;
    p[KC_AUDIT_CHF_SUMMARY_LEN - 1] = ins;
    rc = kc_store_put1(s, KC_KEY_AUDIT_PENDING, p, sizeof(p));
    if (rc && s->txn_open)
        kc_store_abort(s);
    return rc;
}

/* Entry seq in its wire form, checked whole. 0 or KC_ERR_CORRUPT. */
static int entry_get(const kc_store *s, uint32_t seq, const uint8_t **d, size_t *dl)
{
    if (kc_store_get(s, KC_KEY_AUDIT_ENTRY(seq), d, dl) != 0 || *dl < KC_AUDIT_HDR_LEN ||
        get_be32(*d) != seq || *dl != (size_t)KC_AUDIT_HDR_LEN + (*d)[9] + KC_AUDIT_PREV_LEN)
        return KC_ERR_CORRUPT;
    return 0;
}

int kc_audit_read(const kc_store *s, uint32_t from, uint8_t *out, size_t cap, size_t *len)
{
    uint32_t next = kc_audit_next(s);
    uint32_t oldest = next > KC_AUDIT_CAPACITY ? next - KC_AUDIT_CAPACITY : 0;
    size_t n = 0;

    *len = 0;
    for (uint32_t seq = from > oldest ? from : oldest; seq < next; seq++) {
        const uint8_t *d;
        size_t dl;
        if (entry_get(s, seq, &d, &dl) != 0)
            return KC_ERR_CORRUPT;
        if (dl > cap - n) {
            if (n == 0)
                return KC_ERR_TOO_BIG;
            break;
        }
        memcpy(out + n, d, dl);
        n += dl;
    }
    *len = n;
    return 0;
}

int kc_audit_find_prev(const kc_store *s, uint8_t event, const uint8_t *prefix, size_t plen,
                       uint32_t *before, const uint8_t **data, size_t *len)
{
    uint32_t next = kc_audit_next(s);
    uint32_t oldest = next > KC_AUDIT_CAPACITY ? next - KC_AUDIT_CAPACITY : 0;

    for (uint32_t seq = *before < next ? *before : next; seq-- > oldest;) {
        const uint8_t *d;
        size_t dl;
        if (entry_get(s, seq, &d, &dl) != 0)
            return KC_ERR_CORRUPT;
        /* public data (serials): no constant-time need */
        if (d[8] == event && d[9] >= plen && memcmp(d + KC_AUDIT_HDR_LEN, prefix, plen) == 0) {
            *data = d + KC_AUDIT_HDR_LEN;
            *len = d[9];
            *before = seq;
            return 0;
        }
    }
    return KC_ERR_NOT_FOUND;
}

int kc_audit_sign(const kc_store *s, const kc_hw *hw, const uint8_t *nonce, size_t nonce_len,
                  uint8_t out[KC_AUDIT_SIGNED_LEN])
{
    uint8_t priv[KC_P256_PRIV_LEN];
    uint8_t m[40 + KC_AUDIT_NONCE_MAX];
    uint8_t hash[32];
    audit_head h;
    int rc;

    if (nonce_len < KC_AUDIT_NONCE_MIN || nonce_len > KC_AUDIT_NONCE_MAX || nonce == NULL)
        return KC_ERR_ARG;
    head_load(s, &h);
    put_be32(m, h.next);
    memcpy(m + 4, h.head, 32);
    put_be32(m + 36, h.lost);
    memcpy(m + 40, nonce, nonce_len);
    rc = kc_store_read_exact(s, KC_KEY_DEVICE_PRIV, priv, sizeof(priv));
    if (rc == 0)
        rc = kc_crypto_sha256(KC_SIG_LABEL_AUDIT_HEAD, m, 40 + nonce_len, hash);
    if (rc == 0)
        rc = kc_crypto_p256_sign(hw, priv, hash, out + 40);
    kc_wipe(priv, sizeof(priv));
    if (rc)
        return rc;
    memcpy(out, m, 40);
    return 0;
}

int kc_audit_ack(kc_store *s, uint32_t upto)
{
    audit_head h;
    int rc;
    if (s->txn_open)
        return KC_ERR_STATE;
    head_load(s, &h);
    if (upto > h.next)
        return KC_ERR_BAD_DATA;
    if (upto <= h.acked)
        return 0;
    h.acked = upto;
    if ((rc = kc_store_begin(s)) != 0)
        return rc;
    if ((rc = head_put(s, &h)) == 0)
        rc = kc_store_commit(s);
    if (rc && s->txn_open)
        kc_store_abort(s);
    return rc;
}
