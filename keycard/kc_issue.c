/*
 * kc_issue.c - numbered keys and templates, previous-random chain state and
 * the issuance session of the key card (see kc_issue.h, docs/apdu.md).
 *
 * Order of work in every command: check everything, then derive, then (END,
 * way 04 BEGIN) commit, then answer. WRAP in particular never produces an
 * envelope of a batch whose later step is invalid: a rejected batch leaves
 * the counter where it was, so a host cannot learn which step failed from
 * the number of envelopes, and a target never sees a gap.
 */
#include "kc_issue.h"

#include <string.h>

#include "kc_audit.h"
#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_envelope.h"
#include "kc_err.h"
#include "kc_keys.h"
#include "kc_template.h"

/* The target's COMPLETE ISSUANCE (80 1E): the lock. */
static int is_complete(const uint8_t hdr[4])
{
    return hdr[0] == KC_CLA_PROP && hdr[1] == KC_TGT_INS_COMPLETE;
}

void kc_issue_close(kc_issue_session *s)
{
    if (s != NULL)
        kc_wipe(s, sizeof(*s)); /* open = 0 with the secrets */
}

void kc_issue_close_all(kc_issue_session *all, size_t n)
{
    for (size_t i = 0; all != NULL && i < n; i++)
        kc_issue_close(&all[i]);
}

/* KCV = the first 3 bytes of AES(key, 16 x 01), as GlobalPlatform computes it. */
int kc_issue_kcv(const uint8_t *key, size_t len, uint8_t kcv[KC_KCV_LEN])
{
    uint8_t ones[16], mac[16];
    int rc;

    if (key == NULL || kcv == NULL || (len != 16 && len != 32))
        return KC_ERR_ARG;
    memset(ones, 0x01, sizeof(ones));
    rc = kc_crypto_aes_block(key, len, ones, mac);
    if (rc == 0)
        memcpy(kcv, mac, KC_KCV_LEN);
    kc_wipe(mac, sizeof(mac));
    return rc;
}

/* ---- numbered keys ------------------------------------------------------ */

typedef kc_issue_key key_rec;

static size_t key_len_of(uint8_t type)
{
    return type == KC_KEY_TYPE_AES128 ? 16 : type == KC_KEY_TYPE_AES256 ? 32 : 0;
}

static int label_ok(const uint8_t *l, size_t n)
{
    if (n > KC_LABEL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (l[i] < 0x20 || l[i] > 0x7E)
            return 0;
    return 1;
}

int kc_issue_key_load(const kc_store *st, unsigned n, kc_issue_key *k)
{
    const uint8_t *d;
    size_t len;

    if (n < KC_NUMBER_MIN || n > KC_NUMBER_MAX ||
        kc_store_get(st, KC_KEY_NUMBERED_KEY(n), &d, &len) != 0)
        return KC_ERR_NOT_FOUND;
    if (len < 6)
        return KC_ERR_CORRUPT;
    k->type = d[0];
    k->flags = d[1];
    k->kcv = d + 2;
    k->label_len = d[5];
    k->label = d + 6;
    k->key_len = key_len_of(d[0]);
    k->key = d + 6 + d[5];
    if (k->key_len == 0 || len != 6u + d[5] + k->key_len)
        return KC_ERR_CORRUPT;
    return 0;
}

int kc_issue_key_put(kc_store *st, uint8_t n, const uint8_t *d, size_t len)
{
    uint8_t rec[KC_ISSUE_KEY_REC_MAX];
    size_t klen, ll;
    int rc;

    if (st == NULL || (d == NULL && len))
        return KC_ERR_ARG;
    if (n < KC_NUMBER_MIN || n > KC_NUMBER_MAX || len < 3)
        return KC_ERR_BAD_DATA;
    klen = key_len_of(d[0]);
    ll = d[2];
    if (klen == 0 || (d[1] & ~KC_KEYF_ALL) != 0 || ll > KC_LABEL_MAX || len != 3 + ll + klen ||
        !label_ok(d + 3, ll))
        return KC_ERR_BAD_DATA;
    rec[0] = d[0];
    rec[1] = d[1];
    rec[5] = (uint8_t)ll;
    memcpy(rec + 6, d + 3, ll);
    memcpy(rec + 6 + ll, d + 3 + ll, klen);
    rc = kc_issue_kcv(d + 3 + ll, klen, rec + 2);
    if (rc == 0)
        rc = kc_store_put(st, KC_KEY_NUMBERED_KEY(n), rec, 6 + ll + klen);
    kc_wipe(rec, sizeof(rec));
    return rc;
}

/* 1 when every item of t is FIXED: the template takes no host parameter. */
static int all_fixed(const kc_template *t)
{
    for (size_t off = 0; off < t->items_len; off += 2u + t->items[off + 1])
        if (t->items[off] != KC_TPL_ITEM_FIXED)
            return 0;
    return 1;
}

int kc_issue_template_put(kc_store *st, uint8_t n, const uint8_t *d, size_t len)
{
    kc_template t;

    if (st == NULL)
        return KC_ERR_ARG;
    if (n < KC_NUMBER_MIN || n > KC_NUMBER_MAX || kc_template_parse(&t, d, len) != 0)
        return KC_ERR_BAD_DATA;
    /* The lock is the issuer's decision, never the issuing PC's: fixed, and short. */
    if (is_complete(t.hdr) && (!all_fixed(&t) || t.max_data > KC_ISSUE_LOCK_DATA_MAX))
        return KC_ERR_BAD_DATA;
    return kc_store_put(st, KC_KEY_TEMPLATE(n), d, len);
}

/* ---- directories -------------------------------------------------------- */

int kc_issue_key_dir(const kc_store *st, unsigned from, uint8_t *out, size_t cap, size_t *len)
{
    size_t o = 0;
    *len = 0;
    for (unsigned n = from < KC_NUMBER_MIN ? KC_NUMBER_MIN : from; n <= KC_NUMBER_MAX; n++) {
        key_rec k;
        int rc = kc_issue_key_load(st, n, &k);
        if (rc == KC_ERR_NOT_FOUND)
            continue;
        if (rc)
            return rc;
        size_t e = 7u + k.label_len;
        if (e > cap - o) {
            if (o == 0)
                return KC_ERR_ISSUE_ROOM;
            break;
        }
        out[o] = (uint8_t)n;
        out[o + 1] = k.type;
        out[o + 2] = k.flags;
        memcpy(out + o + 3, k.kcv, KC_KCV_LEN);
        out[o + 6] = k.label_len;
        memcpy(out + o + 7, k.label, k.label_len);
        o += e;
    }
    *len = o;
    return 0;
}

int kc_issue_template_dir(const kc_store *st, unsigned from, uint8_t *out, size_t cap,
                          size_t *len)
{
    size_t o = 0;
    *len = 0;
    for (unsigned n = from < KC_NUMBER_MIN ? KC_NUMBER_MIN : from; n <= KC_NUMBER_MAX; n++) {
        const uint8_t *d;
        size_t dl;
        kc_template t;
        if (kc_store_get(st, KC_KEY_TEMPLATE(n), &d, &dl) != 0)
            continue;
        if (kc_template_parse(&t, d, dl) != 0)
            return KC_ERR_CORRUPT;
        size_t e = 2u + t.label_len;
        if (e > cap - o) {
            if (o == 0)
                return KC_ERR_ISSUE_ROOM;
            break;
        }
        out[o] = (uint8_t)n;
        out[o + 1] = t.label_len;
        memcpy(out + o + 2, t.label, t.label_len);
        o += e;
    }
    *len = o;
    return 0;
}

/* ---- previous-random chain state ---------------------------------------- */

int kc_issue_chain_init(kc_store *st, const kc_hw *hw)
{
    uint8_t p[32];
    const uint8_t *d;
    size_t len;
    int rc;

    if (kc_store_get(st, KC_KEY_CHAIN_STATE, &d, &len) == 0 && len == sizeof(p))
        return 0;
    if (hw->rng(hw->ctx, p, sizeof(p)) != 0) {
        kc_wipe(p, sizeof(p));
        return KC_ERR_RNG;
    }
    rc = kc_store_put(st, KC_KEY_CHAIN_STATE, p, sizeof(p));
    kc_wipe(p, sizeof(p));
    return rc;
}

/* ---- session ------------------------------------------------------------ */

/* Card key of the target: the key itself when COMMON, else diversified. */
static int card_key(const key_rec *k, const uint8_t serial[8], uint8_t *out)
{
    if (k->flags & KC_KEYF_COMMON) {
        memcpy(out, k->key, k->key_len);
        return 0;
    }
    return kc_env_diversify(k->key, k->key_len, serial, out);
}

/* A receipt: serial key way flags result steps mac lock templates (keycard_proto.h). */
static size_t receipt_build(uint8_t *rec, const uint8_t serial[8], uint8_t key_no, uint8_t way,
                            uint8_t flags, uint8_t result, uint8_t steps, const uint8_t *mac,
                            const kc_issue_session *s)
{
    size_t ll = s->lock_len, off, nt;

    if (ll > KC_ISSUE_LOCK_DATA_MAX)
        ll = KC_ISSUE_LOCK_DATA_MAX;
    memcpy(rec, serial, 8);
    rec[8] = key_no;
    rec[9] = way;
    rec[10] = flags;
    rec[11] = result;
    rec[12] = steps;
    if (mac)
        memcpy(rec + KC_RECEIPT_MAC_OFF, mac, 16);
    else
        memset(rec + KC_RECEIPT_MAC_OFF, 0, 16);
    rec[KC_RECEIPT_LOCK_OFF] = s->lock_way;
    rec[KC_RECEIPT_LOCK_OFF + 1] = (uint8_t)ll;
    memcpy(rec + KC_RECEIPT_LOCK_OFF + 2, s->lock_data, ll);
    off = KC_RECEIPT_TPL_OFF(ll);
    nt = s->n;
    if (nt > KC_AUDIT_DATA_MAX - off)
        nt = KC_AUDIT_DATA_MAX - off; /* the first templates, as many as fit */
    memcpy(rec + off, s->tpl, nt);
    return off + nt;
}

/*
 * The receipt and the end of the open-session mark, in one commit: either
 * both are stored or neither (then the mark still says the session is open).
 */
static int receipt_commit(kc_store *st, const kc_hw *hw, const uint8_t *rec, size_t rl,
                          unsigned slot)
{
    int rc;

    if ((rc = kc_store_begin(st)) != 0)
        return rc;
    if ((rc = kc_audit_append(st, hw, KC_AUDIT_EVT_ISSUE_RECEIPT, rec, rl)) != 0 ||
        (rc = kc_store_delete(st, KC_KEY_ISSUE_OPEN_N(slot))) != 0 ||
        (rc = kc_store_commit(st)) != 0) {
        kc_store_abort(st);
        return rc;
    }
    return 0;
}

/* Session slot's open-session mark into mark[KC_ISSUE_MARK_LEN]: 1 read, 0 none, <0 error. */
static int mark_read(const kc_store *st, unsigned slot, uint8_t *mark, size_t *n)
{
    if (kc_store_read(st, KC_KEY_ISSUE_OPEN_N(slot), mark, KC_ISSUE_MARK_LEN, n) != 0)
        return 0;
    if (*n != KC_ISSUE_MARK_LEN && *n != KC_ISSUE_MARK_LEN_OLD) {
        kc_wipe(mark, KC_ISSUE_MARK_LEN);
        return KC_ERR_CORRUPT;
    }
    return 1;
}

/*
 * The session the store still marks open (its BEGIN was committed, no receipt
 * yet) gets an "aborted, unclean" receipt, and the mark goes, in one commit.
 * s: the RAM session of that BEGIN when this power cycle still has it (its
 * step count, lock and templates go into the receipt), else NULL or another
 * session (steps unknown).
 * Called by the next ISSUE BEGIN, not at power-up: until then the mark and
 * the BEGIN entry in the log say that the session never ended cleanly.
 */
static int close_marked(kc_store *st, const kc_hw *hw, const kc_issue_session *s, unsigned slot)
{
    uint8_t mark[KC_ISSUE_MARK_LEN], rec[KC_AUDIT_DATA_MAX];
    size_t n, rl;
    int rc = mark_read(st, slot, mark, &n);

    if (rc <= 0)
        return rc; /* no session left open, or a damaged mark */
    static const kc_issue_session unknown; /* no lock, no templates known */
    int known = s && s->open && memcmp(s->serial, mark, 8) == 0;
    rl = receipt_build(rec, mark, mark[8], mark[9], mark[10] | KC_RECEIPT_FLAG_UNCLEAN,
                       KC_ISSUE_ABORTED, known ? s->n : KC_RECEIPT_STEPS_UNKNOWN, NULL,
                       known ? s : &unknown);
    kc_wipe(mark, sizeof(mark));
    return receipt_commit(st, hw, rec, rl, slot);
}

/*
 * BEGIN of session s; all (NULL: s alone) the key card's sessions, whose
 * marks for the same serial under another number are closed with the mark
 * of s, once the BEGIN is known good.
 */
static int begin_in(kc_issue_session *s, kc_issue_session *all, kc_store *st, const kc_hw *hw,
                    uint8_t way, const uint8_t *d, size_t len, uint8_t *out, size_t cap,
                    size_t *out_len)
{
    uint8_t kcard[32], seed[16], p[32], nk[KC_ISSUE_NONCE_LEN], sctx[KC_ENV_SCTX_LEN];
    uint8_t evt[KC_ISSUE_BEGIN_EVT_LEN], mark[KC_ISSUE_MARK_LEN];
    const uint8_t *serial = d, *nt = d + 11;
    key_rec k;
    size_t need, plen, answer;
    uint32_t c0 = 1;
    int rc;

    if (s == NULL || st == NULL || hw == NULL || (d == NULL && len) || out == NULL ||
        out_len == NULL)
        return KC_ERR_ARG;
    *out_len = 0;
    uint8_t packed = (way & KC_ISSUE_BEGIN_PACKED) ? 1 : 0;
    way &= (uint8_t)~KC_ISSUE_BEGIN_PACKED;
    /* Everything checked before anything is written: a refused BEGIN changes no flash. */
    need = way == KC_WAY_STATIC ? 31 : (way == KC_WAY_TARGET_SEED ||
                                        way == KC_WAY_PREVIOUS_RANDOM) ? 27 : 0;
    answer = KC_ISSUE_NONCE_LEN + (way == KC_WAY_PREVIOUS_RANDOM ? sizeof(seed) : 0);
    rc = need == 0 || len != need ? KC_ERR_BAD_DATA : cap < answer ? KC_ERR_ISSUE_ROOM : 0;
    if (rc == 0 && !kc_env_bucket_valid(get_be_n(d + 9, 2)))
        rc = KC_ERR_BAD_DATA;
    if (rc == 0 && way == KC_WAY_STATIC) {
        c0 = get_be_n(d + 27, 4);
        /* room for a whole session of counters without wrapping */
        if (c0 == 0 || c0 > UINT32_MAX - KC_ISSUE_MAX_STEPS)
            rc = KC_ERR_BAD_DATA;
    }
    if (rc == 0)
        rc = kc_issue_key_load(st, d[8], &k);
    if (rc == 0 && (!(k.flags & KC_KEYF_ENVELOPE) ||
                    (way == KC_WAY_STATIC && !(k.flags & KC_KEYF_STATIC))))
        rc = KC_ERR_STATE;
    /* A session this BEGIN replaces leaves its receipt (its own commit) when BEGIN is good. */
    uint8_t slot = s->slot;
    if (rc == 0 && slot >= KC_ISSUE_SESSIONS)
        rc = KC_ERR_ARG;
    if (rc == 0)
        rc = close_marked(st, hw, s, slot);
    /*
     * Another number's mark for this serial (its RAM session gone: a run cut
     * before its END) gets its aborted receipt too: a card never has two marks.
     */
    for (unsigned o = 0; rc == 0 && all != NULL && o < KC_ISSUE_SESSIONS; o++) {
        uint8_t other[KC_ISSUE_MARK_LEN];
        size_t ol;
        if (o == slot)
            continue;
        rc = mark_read(st, o, other, &ol);
        int same = rc == 1 && memcmp(other, serial, 8) == 0;
        kc_wipe(other, sizeof(other));
        rc = rc < 0 ? rc : same ? close_marked(st, hw, &all[o], o) : 0;
    }
    kc_issue_close(s);
    s->slot = slot;
    /* Full-log policy: no issuance whose receipt might find no room. */
    if (rc == 0)
        rc = kc_audit_room(st, KC_AUDIT_EVT_UNLOCK);
    if (rc)
        return rc;
    size_t bucket = get_be_n(d + 9, 2);
    /* The key card's own fresh input: no session key can repeat, whatever the host sends. */
    if (hw->rng(hw->ctx, nk, sizeof(nk)) != 0)
        return KC_ERR_RNG;
    if (way == KC_WAY_PREVIOUS_RANDOM) {
        if (kc_store_read(st, KC_KEY_CHAIN_STATE, p, sizeof(p), &plen) != 0 ||
            plen != sizeof(p)) {
            kc_wipe(p, sizeof(p));
            return KC_ERR_STATE;
        }
        rc = kc_env_prev_random(p, serial, seed, p);
        if (rc) {
            kc_wipe(p, sizeof(p));
            return rc;
        }
    }

    rc = card_key(&k, serial, kcard);
    /* A packed session's context ends with its option: none of its keys is an unpacked one's. */
    kc_env_session_ctx_opts(sctx, serial, nt, nk, way == KC_WAY_PREVIOUS_RANDOM ? seed : NULL,
                            packed ? KC_ENV_OPT_PACKED : 0);
    if (rc == 0 && way == KC_WAY_STATIC)
        rc = kc_env_static_base(kcard, k.key_len, sctx, s->secret);
    else if (rc == 0)
        rc = kc_env_chain_seed(kcard, k.key_len, sctx, s->secret);
    if (rc == 0)
        rc = kc_env_completion_key(kcard, k.key_len, sctx, s->kcomp);
    kc_wipe(kcard, sizeof(kcard));
    kc_wipe(sctx, sizeof(sctx));
    s->flags = (k.flags & KC_KEYF_COMMON) ? KC_RECEIPT_FLAG_COMMON : 0;

    /*
     * One commit before anything leaves the card: the BEGIN audit entry, the
     * open-session mark (an unclean end leaves an aborted receipt from it)
     * and, way 04, the advanced previous-random state P'.
     */
    memcpy(mark, serial, 8);
    mark[8] = d[8];
    mark[9] = way;
    mark[10] = s->flags;
    put_be32(mark + 11, c0);
    memcpy(mark + 15, s->kcomp, 16); /* for a late END, should this session be cut */
    memcpy(evt, mark, 11);
    evt[11] = d[9];
    evt[12] = d[10];
    memcpy(evt + 13, nk, sizeof(nk));
    if (rc == 0 && (rc = kc_store_begin(st)) == 0) {
        if ((rc = kc_audit_append(st, hw, KC_AUDIT_EVT_ISSUE_BEGIN, evt, sizeof(evt))) != 0 ||
            (rc = kc_store_put(st, KC_KEY_ISSUE_OPEN_N(slot), mark, sizeof(mark))) != 0 ||
            (way == KC_WAY_PREVIOUS_RANDOM &&
             (rc = kc_store_put(st, KC_KEY_CHAIN_STATE, p, sizeof(p))) != 0) ||
            (rc = kc_store_commit(st)) != 0)
            kc_store_abort(st);
    }
    kc_wipe(p, sizeof(p));
    kc_wipe(mark, sizeof(mark));
    if (rc) {
        kc_wipe(seed, sizeof(seed));
        kc_issue_close(s);
        return rc;
    }
    s->secret_len = 32;
    s->way = way;
    s->key_no = d[8];
    memcpy(s->serial, serial, 8);
    s->bucket = (uint16_t)bucket;
    s->c0 = c0;
    s->n = 0;
    s->ne = 0;
    s->packed = packed;
    s->open = 1;
    memcpy(out, nk, sizeof(nk));
    if (way == KC_WAY_PREVIOUS_RANDOM)
        memcpy(out + sizeof(nk), seed, sizeof(seed));
    *out_len = answer;
    kc_wipe(seed, sizeof(seed));
    return 0;
}

/* Key slot callbacks: keys of this key card, for the session's target. */
typedef struct slot_ctx {
    const kc_store *st;
    const uint8_t *serial;
} slot_ctx;

static int slot_check(void *ctx, uint8_t key_no, size_t *len)
{
    slot_ctx *c = ctx;
    key_rec k;
    if (kc_issue_key_load(c->st, key_no, &k) != 0 || !(k.flags & KC_KEYF_INJECT))
        return KC_ERR_BAD_DATA;
    *len = k.key_len;
    return 0;
}

/* The same lookup as slot_check, and the target's value of the key from it. */
static int slot_fill(void *ctx, uint8_t key_no, uint8_t *out, size_t cap, size_t *len)
{
    slot_ctx *c = ctx;
    key_rec k;
    if (kc_issue_key_load(c->st, key_no, &k) != 0 || !(k.flags & KC_KEYF_INJECT))
        return KC_ERR_BAD_DATA;
    if (k.key_len > cap)
        return KC_ERR_TOO_BIG;
    *len = k.key_len;
    return card_key(&k, c->serial, out);
}

/* Step at off: template number, its parameters. 0 or KC_ERR_BAD_DATA. */
static int next_step(const uint8_t *d, size_t len, size_t *off, uint8_t *tno,
                     const uint8_t **params, size_t *plen)
{
    if (len - *off < 3)
        return KC_ERR_BAD_DATA;
    *tno = d[*off];
    *plen = get_be_n(d + *off + 1, 2);
    if (len - *off - 3 < *plen)
        return KC_ERR_BAD_DATA;
    *params = d + *off + 3;
    *off += 3 + *plen;
    return 0;
}

static int load_template(const kc_store *st, uint8_t tno, kc_template *t)
{
    const uint8_t *d;
    size_t dl;
    if (tno < KC_NUMBER_MIN || tno > KC_NUMBER_MAX ||
        kc_store_get(st, KC_KEY_TEMPLATE(tno), &d, &dl) != 0 || kc_template_parse(t, d, dl) != 0)
        return KC_ERR_BAD_DATA;
    return 0;
}

/*
 * What WRAP produces while the steps are walked: envelopes into out, the
 * chain advanced in a copy, the lock. The session itself changes only once
 * every step has passed (wrap_commit).
 */
typedef struct wrap_out {
    kc_issue_session *s;
    uint8_t *out;
    size_t cap, o;
    size_t env;         /* envelopes sealed in this batch */
    uint8_t chain[32];  /* chained ways: R of the last envelope sealed */
    uint8_t lock_way, lock_len;
    uint8_t lock_data[KC_ISSUE_LOCK_DATA_MAX];
    uint8_t tpl[KC_ISSUE_MAX_STEPS];
    uint8_t pt[KC_ENV_BUCKET_MAX]; /* packed: [count]_1 || the items of the envelope being filled */
    size_t items_len, items_n;
    int full;           /* out of room: the other steps are only checked */
    int crypto;         /* a seal failed: the session ends */
} wrap_out;

/* Bytes a step's inner data may take beside the envelope's own: 7, or 8 packed. */
static size_t inner_overhead(int packed)
{
    return packed ? KC_ENV_PACKED_OVERHEAD : KC_ENV_INNER_OVERHEAD;
}

/*
 * Seal the next envelope of the batch (counter c0 + ne + env) into w->out
 * behind its [len]_2: one inner command (hdr, data), or packed, the items
 * gathered in w (hdr NULL). 0, or an error with w->full or w->crypto set.
 */
static int env_emit(wrap_out *w, const uint8_t *hdr, const uint8_t *data, size_t dlen)
{
    kc_issue_session *s = w->s;
    uint32_t c = s->c0 + (uint32_t)(s->ne + w->env);
    size_t alen;
    uint8_t r[32];
    int rc;

    if (w->cap - w->o < 2 + kc_env_apdu_len(s->bucket)) {
        w->full = 1;
        return KC_ERR_ISSUE_ROOM;
    }
    if (s->way == KC_WAY_STATIC) {
        rc = kc_env_static_key(s->secret, s->secret_len, s->serial, c, r);
    } else {
        /* R_c replaces R_{c-1} in the copy; the session's value moves at commit. */
        rc = kc_env_chain_step(w->chain, s->serial, c);
        memcpy(r, w->chain, sizeof(r));
    }
    alen = w->cap - w->o - 2;
    if (rc == 0 && hdr)
        rc = kc_env_seal(r, s->serial, c, s->bucket, hdr, data, dlen, w->out + w->o + 2, &alen);
    else if (rc == 0) {
        w->pt[0] = (uint8_t)w->items_n;
        rc = kc_env_seal_packed_pt(r, s->serial, c, s->bucket, w->pt, 1 + w->items_len,
                                   w->out + w->o + 2, &alen);
    }
    kc_wipe(r, sizeof(r));
    if (rc) {
        w->crypto = 1;
        return rc;
    }
    w->out[w->o] = (uint8_t)(alen >> 8);
    w->out[w->o + 1] = (uint8_t)alen;
    w->o += 2 + alen;
    w->env++;
    return 0;
}

/* Packed: seal the items gathered so far, if any (the envelope is full or the batch ends). */
static int pack_flush(wrap_out *w)
{
    int rc = 0;
    if (w->items_n && !w->full)
        rc = env_emit(w, NULL, NULL, 0);
    kc_wipe(w->pt, w->s->bucket); /* padded in place by the seal */
    w->items_len = 0;
    w->items_n = 0;
    return rc;
}

/*
 * Step k of this batch: its inner data from the parsed template t (keys
 * resolved in the same walk), sealed into w->out while there is room (its
 * own envelope, or packed, with the steps around it up to the bucket);
 * checked only once there is none. *dlen: the inner length.
 */
static int step_emit(wrap_out *w, size_t k, uint8_t tno, const kc_template *t,
                     const uint8_t *params, size_t plen, const kc_template_keys *keys,
                     size_t *dlen)
{
    kc_issue_session *s = w->s;
    uint8_t inner[KC_TPL_DATA_MAX];
    int rc;

    if (w->full || (!s->packed && w->cap - w->o < 2 + kc_env_apdu_len(s->bucket))) {
        w->full = 1;
        return kc_template_check(t, params, plen, keys, dlen);
    }
    if ((rc = kc_template_fill(t, params, plen, keys, inner, sizeof(inner), dlen)) != 0)
        return rc; /* fill wiped inner */
    if (*dlen > (size_t)s->bucket - inner_overhead(s->packed)) {
        kc_wipe(inner, *dlen);
        return 0; /* the caller names the bucket */
    }
    if (is_complete(t->hdr)) {
        /* Fixed in the template (checked at PUT): bound into the completion MAC. */
        w->lock_way = t->hdr[2];
        w->lock_len = (uint8_t)*dlen;
        memcpy(w->lock_data, inner, *dlen);
    }
    if (!s->packed) {
        rc = env_emit(w, t->hdr, inner, *dlen);
    } else {
        /* count (1) + items + this one + the padding mark within the bucket, or a new envelope */
        if (w->items_n && 1 + w->items_len + KC_ENV_ITEM_HDR + *dlen + 1 > s->bucket)
            rc = pack_flush(w);
        if (rc == 0 && !w->full)
            rc = kc_env_item_put(w->pt + 1, sizeof(w->pt) - 1, &w->items_len, t->hdr, inner,
                                 *dlen);
        if (rc == 0)
            w->items_n++;
    }
    kc_wipe(inner, sizeof(inner));
    if (rc == KC_ERR_ISSUE_ROOM)
        return kc_template_check(t, params, plen, keys, dlen); /* out of room: checked only */
    if (rc)
        return rc;
    if (s->n + k < KC_ISSUE_MAX_STEPS)
        w->tpl[s->n + k] = tno;
    return 0;
}

/*
 * Every step of a batch walked once: framing, template (parsed once),
 * parameters and key slots (each resolved once), inner data within the
 * bucket, COMPLETE ISSUANCE last, at most KC_ISSUE_MAX_STEPS with the done
 * ones. w NULL: checks only (ISSUE WRAP P1 01); else each step is sealed
 * as it passes (step_emit). *count: the steps. why (may be NULL): on a
 * refusal, the step index (0-based) and a KC_ISSUE_CHECK_* reason. Returns
 * 0, KC_ERR_BAD_DATA, KC_ERR_ISSUE_STEPS, KC_ERR_ISSUE_ROOM (every step good,
 * their envelopes do not fit), KC_ERR_CRYPTO.
 */
static int steps_walk(const kc_store *st, const uint8_t *steps, size_t len, size_t bucket,
                      int packed, size_t done, wrap_out *w, size_t *count, uint8_t why[2])
{
    slot_ctx sc = {st, w ? w->s->serial : NULL};
    kc_template_keys keys = {&sc, slot_check, slot_fill};
    const uint8_t *params;
    size_t off = 0, plen, dlen = 0, n = 0;
    uint8_t tno, reason = 0;
    kc_template t;

    while (off < len && reason == 0) {
        if (next_step(steps, len, &off, &tno, &params, &plen) != 0)
            reason = KC_ISSUE_CHECK_FRAMING;
        else if (load_template(st, tno, &t) != 0)
            reason = KC_ISSUE_CHECK_NO_TEMPLATE;
        else if (is_complete(t.hdr) && off != len)
            reason = KC_ISSUE_CHECK_LOCK_NOT_LAST; /* nothing may follow the lock */
        else if ((w ? step_emit(w, n, tno, &t, params, plen, &keys, &dlen)
                    : kc_template_check(&t, params, plen, &keys, &dlen)) != 0)
            reason = w && w->crypto ? 0xFF : KC_ISSUE_CHECK_PARAMS;
        else if (dlen > bucket - inner_overhead(packed))
            reason = KC_ISSUE_CHECK_BUCKET;
        else
            n++;
    }
    if (reason == 0 && done + n > KC_ISSUE_MAX_STEPS)
        reason = KC_ISSUE_CHECK_TOO_MANY;
    *count = n;
    if (reason && why) {
        why[0] = (uint8_t)(n > 255 ? 255 : n);
        why[1] = reason;
    }
    if (reason == 0 && w && packed && pack_flush(w) != 0 && w->crypto)
        reason = 0xFF; /* the last envelope of the batch */
    if (reason == 0xFF)
        return KC_ERR_CRYPTO;
    if (reason)
        return reason == KC_ISSUE_CHECK_TOO_MANY ? KC_ERR_ISSUE_STEPS : KC_ERR_BAD_DATA;
    return w && w->full ? KC_ERR_ISSUE_ROOM : 0;
}

int kc_issue_check(const kc_store *st, const uint8_t *d, size_t len, uint8_t *out,
                   size_t cap, size_t *out_len)
{
    key_rec k;
    size_t count, bucket;
    uint8_t why[2] = {0, 0};

    if (st == NULL || (d == NULL && len) || out == NULL || out_len == NULL)
        return KC_ERR_ARG;
    *out_len = 0;
    if (cap < 3)
        return KC_ERR_ISSUE_ROOM;
    uint8_t way = len >= 2 ? d[1] & (uint8_t)~KC_ISSUE_BEGIN_PACKED : 0;
    int packed = len >= 2 && (d[1] & KC_ISSUE_BEGIN_PACKED);
    if (len < 4 + 3 || (way != KC_WAY_STATIC && way != KC_WAY_TARGET_SEED &&
                        way != KC_WAY_PREVIOUS_RANDOM) ||
        !kc_env_bucket_valid(bucket = get_be_n(d + 2, 2)))
        return KC_ERR_BAD_DATA;
    if (kc_audit_room(st, KC_AUDIT_EVT_UNLOCK) != 0)
        why[1] = KC_ISSUE_CHECK_LOG_FULL; /* ISSUE BEGIN would refuse every card */
    else if (kc_issue_key_load(st, d[0], &k) != 0)
        why[1] = KC_ISSUE_CHECK_NO_KEY;
    else if (!(k.flags & KC_KEYF_ENVELOPE) ||
             (way == KC_WAY_STATIC && !(k.flags & KC_KEYF_STATIC)))
        why[1] = KC_ISSUE_CHECK_KEY_USE;
    else
        (void)steps_walk(st, d + 4, len - 4, bucket, packed, 0, NULL, &count, why);
    out[0] = why[1] ? 0x01 : 0x00;
    out[1] = why[0];
    out[2] = why[1];
    *out_len = 3;
    return 0;
}

int kc_issue_wrap(kc_issue_session *s, const kc_store *st, const uint8_t *steps, size_t len,
                  uint8_t *out, size_t cap, size_t *out_len)
{
    wrap_out w;
    size_t count = 0;
    int rc;

    if (s == NULL || st == NULL || out == NULL || out_len == NULL || (steps == NULL && len))
        return KC_ERR_ARG;
    *out_len = 0;
    if (!s->open || s->lock_way != 0)
        return KC_ERR_STATE; /* no session, or its COMPLETE ISSUANCE is already out */
    if (len == 0)
        return KC_ERR_BAD_DATA;

    /* One walk: each step parsed, checked and sealed once, counters consecutive. */
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.out = out;
    w.cap = cap;
    memcpy(w.chain, s->secret, sizeof(w.chain));
    rc = steps_walk(st, steps, len, s->bucket, s->packed, s->n, &w, &count, NULL);
    if (rc == 0) {
        /* Every step passed: now the session moves. */
        if (s->way != KC_WAY_STATIC)
            memcpy(s->secret, w.chain, sizeof(w.chain)); /* R_{c-1} is gone */
        memcpy(s->tpl + s->n, w.tpl + s->n, count);
        s->n += count;
        s->ne += w.env;
        s->lock_way = w.lock_way;
        s->lock_len = w.lock_len;
        memcpy(s->lock_data, w.lock_data, w.lock_len);
        *out_len = w.o;
    } else {
        /* Nothing of a refused batch leaves the card, and the session stays as it was. */
        kc_wipe(out, w.o);
        if (rc == KC_ERR_CRYPTO)
            kc_issue_close(s); /* short of a fault cannot happen: end the session */
    }
    kc_wipe(&w, sizeof(w));
    return rc;
}

/*
 * The completion MAC the target answered (presented) against the transcript
 * of n = d[0] inner SWs (d + 1) from counter c0 and the lock of l (lock_way,
 * lock_len, lock_data). *res: KC_ISSUE_COMPLETED or KC_ISSUE_MAC_MISMATCH.
 */
static int completion_check(const uint8_t kcomp[16], const uint8_t serial[8], uint32_t c0,
                            const uint8_t *d, const kc_issue_session *l,
                            const uint8_t *presented, uint8_t *res)
{
    kc_env_transcript tr;
    uint8_t mac[16];
    int rc = kc_env_transcript_init(&tr);

    for (size_t i = 0; rc == 0 && i < d[0]; i++)
        rc = kc_env_transcript_update(&tr, c0 + (uint32_t)i, d + 1 + 2 * i);
    if (rc == 0)
        rc = kc_env_transcript_final(&tr, kcomp, serial, l->lock_way, l->lock_data, l->lock_len,
                                     mac);
    else
        kc_wipe(&tr, sizeof(tr));
    if (rc == 0)
        *res = kc_ct_equal(mac, presented, 16) ? KC_ISSUE_COMPLETED : KC_ISSUE_MAC_MISMATCH;
    kc_wipe(mac, sizeof(mac));
    return rc;
}

int kc_issue_end(kc_issue_session *s, kc_store *st, const kc_hw *hw, const uint8_t *d,
                 size_t len, uint8_t *result)
{
    uint8_t rec[KC_AUDIT_DATA_MAX];
    uint8_t res = KC_ISSUE_ABORTED;
    const uint8_t *presented = NULL;
    size_t rl;
    int rc;

    if (s == NULL || st == NULL || result == NULL || (d == NULL && len))
        return KC_ERR_ARG;
    if (!s->open)
        return KC_ERR_STATE;
    if (len != 0) {
        size_t n = d[0];
        if (len != 1 + 2 * n + 16 || n != s->n)
            return KC_ERR_BAD_DATA;
        presented = d + 1 + 2 * n;
        if ((rc = completion_check(s->kcomp, s->serial, s->c0, d, s, presented, &res)) != 0)
            return rc;
    }

    /*
     * The MAC the key card itself checked: a receipt saying "completed" carries
     * proof that only the target could have produced (its completion MAC).
     */
    rl = receipt_build(rec, s->serial, s->key_no, s->way, s->flags, res, s->n, presented, s);
    if ((rc = receipt_commit(st, hw, rec, rl, s->slot)) != 0)
        return rc; /* no receipt: the session stays so END can be repeated */
    kc_issue_close(s);
    *result = res;
    return 0;
}

/*
 * ISSUE END P1 01 over sessions all[n_ram] and the marks of session numbers
 * 0..n_marks-1; strict: any open RAM session refuses (the single-session
 * rule), else only one open for this serial.
 */
static int end_late(const kc_issue_session *all, size_t n_ram, unsigned n_marks, int strict,
                    kc_store *st, const kc_hw *hw, const uint8_t *d, size_t len, uint8_t *result)
{
    uint8_t mark[KC_ISSUE_MARK_LEN], rec[KC_AUDIT_DATA_MAX], res;
    kc_issue_session l; /* the lock the target reports; no templates known */
    const uint8_t *r;
    size_t n = 0, ml = 0, rl, off;
    int rc = 0;

    if (all == NULL || st == NULL || hw == NULL || result == NULL || (d == NULL && len))
        return KC_ERR_ARG;
    /* A live session ends with ISSUE END (strict: any session; else this card's). */
    for (size_t i = 0; strict && i < n_ram; i++)
        if (all[i].open)
            return KC_ERR_STATE;
    if (len < 8)
        return KC_ERR_BAD_DATA;
    for (size_t i = 0; i < n_ram; i++)
        if (all[i].open && memcmp(all[i].serial, d, 8) == 0)
            return KC_ERR_STATE;
    if (len > 8) {
        n = d[8];
        off = 8 + 1 + 2 * n + 16;
        if (n > KC_ISSUE_MAX_STEPS || len < off + 2 || d[off + 1] > KC_ISSUE_LOCK_DATA_MAX ||
            len != off + 2 + d[off + 1])
            return KC_ERR_BAD_DATA;
        memset(&l, 0, sizeof(l));
        l.lock_way = d[off];
        l.lock_len = d[off + 1];
        memcpy(l.lock_data, d + off + 2, l.lock_len);
    }
    /* The mark of this serial's session (serials are public: plain compare). */
    unsigned slot;
    for (slot = 0; slot < n_marks; slot++) {
        rc = mark_read(st, slot, mark, &ml);
        if (rc < 0)
            return rc;
        if (rc == 1 && memcmp(mark, d, 8) == 0)
            break;
        kc_wipe(mark, sizeof(mark));
    }
    if (slot < n_marks && n > 0 && ml == KC_ISSUE_MARK_LEN) {
        const uint8_t *presented = d + 9 + 2 * n;
        rc = completion_check(mark + 15, d, get_be_n(mark + 11, 4), d + 8, &l, presented, &res);
        if (rc == 0) {
            rl = receipt_build(rec, d, mark[8], mark[9], mark[10] | KC_RECEIPT_FLAG_LATE, res,
                               (uint8_t)n, presented, &l);
            rc = receipt_commit(st, hw, rec, rl, slot);
        }
        kc_wipe(mark, sizeof(mark));
        if (rc == 0)
            *result = res;
        return rc;
    }
    kc_wipe(mark, sizeof(mark));
    /*
     * No session of this card to end: is it on record as completed? (Later
     * sessions for a locked card, refused by the target, leave aborted
     * receipts after it.)
     */
    uint32_t seq = kc_audit_next(st);
    while ((rc = kc_audit_find_prev(st, KC_AUDIT_EVT_ISSUE_RECEIPT, d, 8, &seq, &r, &rl)) == 0)
        if (rl > 11 && r[11] == KC_ISSUE_COMPLETED) {
            *result = KC_ISSUE_ON_RECORD;
            return 0;
        }
    return rc;
}

int kc_issue_end_late(const kc_issue_session *s, kc_store *st, const kc_hw *hw,
                      const uint8_t *d, size_t len, uint8_t *result)
{
    return end_late(s, s ? 1 : 0, 1, 1, st, hw, d, len, result);
}

int kc_issue_end_late_any(const kc_issue_session *all, kc_store *st, const kc_hw *hw,
                          const uint8_t *d, size_t len, uint8_t *result)
{
    return end_late(all, KC_ISSUE_SESSIONS, KC_ISSUE_SESSIONS, 0, st, hw, d, len, result);
}

int kc_issue_begin(kc_issue_session *s, kc_store *st, const kc_hw *hw, uint8_t way,
                   const uint8_t *d, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return begin_in(s, NULL, st, hw, way, d, len, out, cap, out_len);
}

int kc_issue_begin_slot(kc_issue_session *all, unsigned slot, kc_store *st, const kc_hw *hw,
                        uint8_t way, const uint8_t *d, size_t len, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    if (all == NULL || slot >= KC_ISSUE_SESSIONS || st == NULL || hw == NULL ||
        (d == NULL && len) || out_len == NULL)
        return KC_ERR_ARG;
    *out_len = 0;
    /* One card, one session: another number's live session for this serial refuses. */
    for (unsigned k = 0; len >= 8 && k < KC_ISSUE_SESSIONS; k++)
        if (k != slot && all[k].open && memcmp(all[k].serial, d, 8) == 0)
            return KC_ERR_STATE;
    all[slot].slot = (uint8_t)slot;
    return begin_in(&all[slot], all, st, hw, way, d, len, out, cap, out_len);
}
