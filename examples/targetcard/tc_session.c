/*
 * tc_session.c - the target card's issuance session (docs/target-card.md,
 * docs/protocol.md): BEGIN ISSUANCE seeds the session by one of three ways,
 * ENVELOPE opens an encrypted inner command with the next chain value, runs
 * it and answers with a MACed response; COMPLETE ISSUANCE locks the card by
 * one of the four lock ways and answers the completion MAC.
 *
 * The session lives in RAM only. Any refused envelope (bad format, wrong
 * counter, bad tag, locked) wipes it: the host must BEGIN again, and since
 * the chain value of a refused envelope is gone, nothing captured can be
 * replayed into a later session. An accepted envelope is one store commit:
 * the inner command's changes (or none, when the inner command is refused),
 * the static-mode counter and the card state together.
 */
#include <string.h>

#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_envelope.h"
#include "kc_err.h"
#include "keycard_proto.h"
#include "tc_card.h"
#include "tc_keys.h"

/* INS codes lock way (b) refuses when COMPLETE ISSUANCE gives no table. */
static const uint8_t default_lock_table[] = {
    TC_INS_CREATE, TC_INS_SET_KEY, TC_INS_WRITE_BINARY, TC_INS_WRITE_RECORD, TC_INS_COMPLETE,
};

void tc_session_end(tc_card *tc)
{
    if (tc->sess.open) {
        uint8_t mac[16];
        /* Ends the running hash; its state is wiped by final. */
        (void)kc_env_transcript_final(&tc->sess.transcript, tc->sess.kcomp, tc->sess.kcomp, 0,
                                      NULL, 0, mac);
        kc_wipe(mac, sizeof(mac));
    }
    kc_wipe(&tc->sess, sizeof(tc->sess));
}

/* Issuance key key_no: flags and Kcard. Errors: KC_ERR_NOT_FOUND, KC_ERR_CORRUPT. */
static int ikey(const tc_card *tc, uint8_t key_no, uint8_t *flags, uint8_t kcard[32],
                size_t *kcard_len)
{
    const uint8_t *d;
    size_t len;
    if (key_no == 0 || kc_store_get(&tc->store, TC_KEY_IKEY(key_no), &d, &len) != 0)
        return KC_ERR_NOT_FOUND;
    if (len < 2 || (d[1] != 16 && d[1] != 32) || len != 2u + d[1])
        return KC_ERR_CORRUPT;
    *flags = d[0];
    if (kcard != NULL)
        memcpy(kcard, d + 2, d[1]);
    *kcard_len = d[1];
    return 0;
}

static int completion_file_present(const tc_card *tc)
{
    uint8_t fid[2];
    size_t len;
    tc_obj o;
    return kc_store_read(&tc->store, TC_KEY_LOCK_FILE, fid, 2, &len) == 0 && len == 2 &&
           tc_fs_find(tc, get_be16(fid), &o) == 0;
}

/*
 * 1 when the lock refuses issuance with key key_no (and, when have_ins, the
 * inner instruction ins): the rule of each lock way applied so far.
 */
static int locked(const tc_card *tc, uint8_t key_no, int have_ins, uint8_t ins)
{
    uint8_t locks = tc_card_locks(tc);
    uint8_t flags, table[TC_LOCK_TABLE_MAX];
    size_t kl, n;

    if (locks & TC_LOCK_D)
        return 1;
    if ((locks & TC_LOCK_C) && completion_file_present(tc))
        return 1;
    if ((locks & TC_LOCK_A) && (ikey(tc, key_no, &flags, NULL, &kl) != 0 || (flags & TC_IKEY_LOCKED)))
        return 1;
    /* After any lock the primary issuance set is refused, whatever a table says. */
    if (locks && have_ins &&
        (ins == TC_INS_CREATE || ins == TC_INS_SET_KEY || ins == TC_INS_COMPLETE))
        return 1;
    if ((locks & TC_LOCK_B) && have_ins) {
        if (kc_store_read(&tc->store, TC_KEY_LOCK_TABLE, table, sizeof(table), &n) != 0)
            return 1; /* a lost table must not open the card */
        for (size_t i = 0; i < n; i++)
            if (table[i] == ins)
                return 1;
    }
    return 0;
}

/* ---- BEGIN ISSUANCE and BIND ------------------------------------------- */

uint16_t tc_session_begin(tc_card *tc, uint8_t way, uint8_t key_no, const uint8_t *data,
                          size_t lc, uint8_t *out, size_t cap, size_t *out_len)
{
    tc_session *s = &tc->sess;
    uint8_t flags, ctr[4];
    size_t klen, len, want;
    uint32_t last = 0;
    int rc;

    (void)data;
    tc_session_end(tc); /* a BEGIN always ends the session before it */
    uint8_t packed = (way & TC_BEGIN_PACKED) ? 1 : 0;
    way &= (uint8_t)~TC_BEGIN_PACKED;
    if (way != TC_WAY_STATIC && way != TC_WAY_TARGET_SEED && way != TC_WAY_HOST_SEED)
        return KC_SW_WRONG_P1P2;
    want = 1 + KC_ENV_NONCE_LEN + (way == TC_WAY_STATIC ? 4u : 0u);
    if (lc != 0 || cap < want)
        return KC_SW_WRONG_LENGTH;
    if ((rc = ikey(tc, key_no, &flags, s->kcard, &klen)) != 0) {
        kc_wipe(s, sizeof(*s));
        return tc_err_to_sw(rc);
    }
    if (locked(tc, key_no, 0, 0) || (way == TC_WAY_STATIC && !(flags & TC_IKEY_STATIC))) {
        kc_wipe(s, sizeof(*s));
        return KC_SW_CONDITIONS;
    }
    if (way == TC_WAY_STATIC) {
        if (kc_store_read(&tc->store, TC_KEY_STATIC_CTR, ctr, 4, &len) == 0 && len == 4)
            last = get_be32(ctr);
        if (last == UINT32_MAX) {
            kc_wipe(s, sizeof(*s));
            return KC_SW_CONDITIONS; /* counter space used up */
        }
        s->next_c = last + 1;
    } else {
        s->next_c = 1;
    }
    /* This card's own fresh input to the session, whatever the host relays later. */
    if (tc->hw.rng(tc->hw.ctx, s->nt, sizeof(s->nt)) != 0) {
        kc_wipe(s, sizeof(*s));
        return tc_err_to_sw(KC_ERR_RNG);
    }
    s->kcard_len = (uint8_t)klen;
    s->way = way;
    s->key_no = key_no;
    s->packed = packed;
    s->c0 = s->next_c;
    s->pending = 1;
    out[0] = TC_PROTO_VERSION;
    memcpy(out + 1, s->nt, sizeof(s->nt));
    if (way == TC_WAY_STATIC)
        put_be32(out + 1 + KC_ENV_NONCE_LEN, s->next_c);
    *out_len = want;
    return KC_SW_OK;
}

uint16_t tc_session_bind(tc_card *tc, const uint8_t *data, size_t lc)
{
    tc_session *s = &tc->sess;
    uint8_t serial[8], sctx[KC_ENV_SCTX_LEN];
    int rc;

    if (!s->pending) {
        tc_session_end(tc);
        return KC_SW_CONDITIONS;
    }
    if (lc != KC_ENV_NONCE_LEN + (s->way == TC_WAY_HOST_SEED ? KC_ENV_SEED_LEN : 0u)) {
        tc_session_end(tc);
        return KC_SW_WRONG_LENGTH;
    }
    (void)tc_card_serial(tc, serial);
    /* A packed session's option is the context's last byte, as on the key card. */
    kc_env_session_ctx_opts(sctx, serial, s->nt, data,
                            s->way == TC_WAY_HOST_SEED ? data + KC_ENV_NONCE_LEN : NULL,
                            s->packed ? KC_ENV_OPT_PACKED : 0);
    if (s->way == TC_WAY_STATIC)
        rc = kc_env_static_base(s->kcard, s->kcard_len, sctx, s->r);
    else
        rc = kc_env_chain_seed(s->kcard, s->kcard_len, sctx, s->r);
    if (rc == 0)
        rc = kc_env_completion_key(s->kcard, s->kcard_len, sctx, s->kcomp);
    if (rc == 0)
        rc = kc_env_transcript_init(&s->transcript);
    kc_wipe(sctx, sizeof(sctx));
    kc_wipe(s->kcard, sizeof(s->kcard)); /* the session keys are all it needs now */
    if (rc) {
        kc_wipe(s, sizeof(*s));
        return tc_err_to_sw(rc);
    }
    s->pending = 0;
    s->open = 1;
    return KC_SW_OK;
}

_Static_assert(TC_LOCK_DATA_MAX == KC_ENV_LOCK_DATA_MAX,
               "lock data: keycard_target_proto.h and kc_envelope.h disagree");

/* ---- inner issuance commands -------------------------------------------- */

/* What an inner command changes besides its own puts. */
typedef struct inner_ctx {
    uint8_t state, locks;
    int complete; /* COMPLETE ISSUANCE ran: answer the completion MAC */
    uint8_t lock_way;              /* its P1 ... */
    uint8_t lock_data[KC_ENV_LOCK_DATA_MAX]; /* ... and data, bound into the MAC */
    size_t lock_len;
} inner_ctx;

static int inner_complete(tc_card *tc, const uint8_t hdr[4], const uint8_t *d, size_t n,
                          inner_ctx *x)
{
    uint8_t rec[2 + 32], flags;
    size_t kl;
    int rc;

    if (n > KC_ENV_LOCK_DATA_MAX)
        return TC_ERR_LENGTH;
    /* The lock as the envelope gave it is what the completion MAC binds. */
    x->lock_way = hdr[2];
    if (n)
        memcpy(x->lock_data, d, n);
    x->lock_len = n;
    switch (hdr[2]) {
    case TC_LOCK_WAY_KEY:
        if (n != 0)
            return TC_ERR_LENGTH;
        if ((rc = ikey(tc, tc->sess.key_no, &flags, rec + 2, &kl)) != 0)
            return rc;
        rec[0] = flags | TC_IKEY_LOCKED;
        rec[1] = (uint8_t)kl;
        rc = kc_store_put(&tc->store, TC_KEY_IKEY(tc->sess.key_no), rec, 2 + kl);
        kc_wipe(rec, sizeof(rec));
        if (rc)
            return rc;
        x->locks |= TC_LOCK_A;
        break;
    case TC_LOCK_WAY_TABLE:
        if (n > TC_LOCK_TABLE_MAX)
            return TC_ERR_LENGTH;
        if (n == 0) {
            d = default_lock_table;
            n = sizeof(default_lock_table);
        }
        if ((rc = kc_store_put(&tc->store, TC_KEY_LOCK_TABLE, d, n)) != 0)
            return rc;
        x->locks |= TC_LOCK_B;
        break;
    case TC_LOCK_WAY_FILE: {
        /* The completion file: a 1-byte transparent file in the MF, readable, never changed. */
        uint8_t c[9] = {d[0], d[1], TC_MF_FID >> 8, TC_MF_FID & 0xFF, TC_OBJ_TRANSPARENT, 0, 1,
                        TC_AC_ALWAYS, TC_AC_NEVER};
        if (n != 2)
            return TC_ERR_LENGTH;
        if ((rc = tc_fs_create(tc, TC_CREATE_DATA_FILE, c, sizeof(c))) != 0 ||
            (rc = kc_store_put(&tc->store, TC_KEY_LOCK_FILE, d, 2)) != 0)
            return rc;
        x->locks |= TC_LOCK_C;
        break;
    }
    case TC_LOCK_WAY_FLAG:
        if (n != 0)
            return TC_ERR_LENGTH;
        x->locks |= TC_LOCK_D;
        break;
    default:
        return KC_ERR_ARG; /* P1 checked by the caller */
    }
    x->state = TC_STATE_ISSUED;
    x->complete = 1;
    return 0;
}

/* Run one inner command inside the open transaction; returns its status word. */
static uint16_t inner_run(tc_card *tc, const uint8_t hdr[4], const uint8_t *d, size_t n,
                          inner_ctx *x)
{
    uint8_t p1 = hdr[2], p2 = hdr[3];
    tc_obj o;
    int rc;

    if (hdr[0] != TC_CLA_PROP)
        return KC_SW_CLA_NOT_SUPPORTED;
    switch (hdr[1]) {
    case TC_INS_CREATE:
        if (p1 < TC_CREATE_FOLDER || p1 > TC_CREATE_DATA_FILE || p2 != 0)
            return KC_SW_WRONG_P1P2;
        rc = tc_fs_create(tc, p1, d, n);
        break;
    case TC_INS_SET_KEY:
        if (p1 < 1 || p1 > TC_FKEY_MAX_ID || p2 < TC_FKEY_PIN || p2 > TC_FKEY_AES256)
            return KC_SW_WRONG_P1P2;
        rc = tc_fs_set_key(tc, p1, p2, d, n);
        break;
    case TC_INS_WRITE_BINARY:
        if (p1 != 0 || p2 != 0)
            return KC_SW_WRONG_P1P2;
        if (n < 5)
            return KC_SW_WRONG_LENGTH;
        if ((rc = tc_fs_find(tc, get_be16(d), &o)) == 0)
            rc = tc_fs_write_binary(tc, &o, get_be16(d + 2), d + 4, n - 4);
        break;
    case TC_INS_WRITE_RECORD:
        if (p1 != 0 || p2 != 0)
            return KC_SW_WRONG_P1P2;
        if (n < 3)
            return KC_SW_WRONG_LENGTH;
        if ((rc = tc_fs_find(tc, get_be16(d), &o)) == 0)
            rc = tc_fs_append_record(tc, &o, d + 2, n - 2);
        break;
    case TC_INS_COMPLETE:
        if (p1 < TC_LOCK_WAY_KEY || p1 > TC_LOCK_WAY_FLAG || p2 != 0)
            return KC_SW_WRONG_P1P2;
        rc = inner_complete(tc, hdr, d, n, x);
        break;
    default:
        return KC_SW_INS_NOT_SUPPORTED;
    }
    return tc_err_to_sw(rc);
}

/*
 * COMPLETE ISSUANCE: the completion MAC over the transcript (which ends with
 * this envelope) and the lock, kept with the lock in the same commit so that
 * a station cut before ISSUE END can still show it to the key card.
 */
static int completion_put(tc_card *tc, const inner_ctx *x, const uint8_t serial[8],
                          uint8_t mac[KC_ENV_MAC_LEN])
{
    tc_session *s = &tc->sess;
    uint8_t rec[TC_COMPLETION_MAX];
    uint32_t steps = s->transcript.n;
    int rc;

    if (steps > 255)
        steps = 255; /* more than any key card session allows: its late END refuses */
    rc = kc_env_transcript_final(&s->transcript, s->kcomp, serial, x->lock_way, x->lock_data,
                                 x->lock_len, mac);
    if (rc)
        return rc;
    rec[0] = (uint8_t)steps;
    rec[1] = x->lock_way;
    rec[2] = (uint8_t)x->lock_len;
    memcpy(rec + 3, x->lock_data, x->lock_len);
    memcpy(rec + 3 + x->lock_len, mac, KC_ENV_MAC_LEN);
    return kc_store_put(&tc->store, TC_KEY_COMPLETION, rec, 3 + x->lock_len + KC_ENV_MAC_LEN);
}

/* ---- ENVELOPE ----------------------------------------------------------- */

static uint16_t open_error_sw(int rc)
{
    switch (rc) {
    case KC_ERR_ENV_COUNTER:
        return KC_SW_CONDITIONS;
    case KC_ERR_AUTH:
    case KC_ERR_BAD_DATA:
        return TC_SW_SM_WRONG;
    case KC_ERR_ENV_FORMAT:
    case KC_ERR_TOO_BIG:
        return KC_SW_WRONG_LENGTH;
    default:
        return KC_SW_UNKNOWN;
    }
}

/* The one encoding an ENVELOPE has (kc_envelope.h): anything else is malformed. */
static int envelope_canonical(const kc_apdu *a, size_t len)
{
    if (a->cla != KC_ENV_CLA || a->ins != KC_ENV_INS || a->p1 != 0 || a->p2 != 0 ||
        !a->le_present || a->lc == 0)
        return 0;
    if (!a->extended)
        return a->lc <= 255 && a->ne == 256 && len == 5 + a->lc + 1;
    return a->lc > 255 && a->ne == 65536 && len == 7 + a->lc + 2;
}

/*
 * Run one inner command in a store transaction of its own, together with
 * the card state, the static-mode counter c and its transcript entry
 * [c0 + i]_4 || SW (and, for COMPLETE ISSUANCE, the completion record). A
 * refused inner command changes nothing of its own; the rest still commits.
 * sw gets its status word, mac the completion MAC when x->complete.
 * Returns 0, or a store or crypto error (nothing of it committed).
 */
static int run_item(tc_card *tc, const uint8_t hdr[4], const uint8_t *d, size_t n, uint32_t c,
                    const uint8_t serial[8], inner_ctx *x, uint8_t sw[2],
                    uint8_t mac[KC_ENV_MAC_LEN])
{
    tc_session *s = &tc->sess;
    uint8_t ctr[4];
    uint16_t isw;
    int rc;

    x->state = tc_card_state(tc);
    x->locks = tc_card_locks(tc);
    x->complete = 0;
    x->lock_way = 0;
    x->lock_len = 0;
    uint8_t old_state = x->state, old_locks = x->locks;
    if ((rc = kc_store_begin(&tc->store)) != 0)
        return rc;
    isw = inner_run(tc, hdr, d, n, x);
    if (isw != KC_SW_OK) {
        /* A refused inner command changes nothing of its own. */
        kc_store_abort(&tc->store);
        x->state = old_state;
        x->locks = old_locks;
        x->complete = 0;
        rc = kc_store_begin(&tc->store);
    }
    if (rc == 0 && x->state == TC_STATE_MANUFACTURED)
        x->state = TC_STATE_ISSUING;
    if (rc == 0 && (x->state != old_state || x->locks != old_locks))
        rc = tc_card_put_record(tc, x->state, x->locks);
    if (rc == 0 && s->way == TC_WAY_STATIC) {
        put_be32(ctr, c);
        rc = kc_store_put(&tc->store, TC_KEY_STATIC_CTR, ctr, 4);
    }
    /* The transcript advances in RAM only; a failed commit ends the session. */
    sw[0] = (uint8_t)(isw >> 8);
    sw[1] = (uint8_t)isw;
    if (rc == 0)
        rc = kc_env_transcript_update(&s->transcript, s->c0 + s->transcript.n, sw);
    if (rc == 0 && x->complete)
        rc = completion_put(tc, x, serial, mac);
    if (rc == 0)
        rc = kc_store_commit(&tc->store);
    if (rc)
        kc_store_abort(&tc->store);
    return rc;
}

/*
 * Every item of a packed envelope checked before any runs: none the lock
 * refuses (else KC_ERR_STATE), COMPLETE ISSUANCE only last (else
 * KC_ERR_BAD_DATA: the key card never packs so).
 */
static int items_check(const tc_card *tc, const uint8_t *pt, size_t len, size_t count)
{
    size_t off = 1, dl;
    const uint8_t *d;
    uint8_t hdr[4];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = kc_env_item_next(pt, len, &off, hdr, &d, &dl);
        if (rc == 0 && hdr[0] == TC_CLA_PROP && hdr[1] == TC_INS_COMPLETE && i + 1 != count)
            rc = KC_ERR_BAD_DATA;
        if (rc == 0 && locked(tc, tc->sess.key_no, 1, hdr[1]))
            rc = KC_ERR_STATE;
    }
    return rc;
}

/*
 * Run the items of a packed envelope in order, stopping after the first one
 * refused, and write the answer A = [k']_1 || k' times SW1 SW2 [len]_1 data
 * into ans (the completion MAC is the data of COMPLETE ISSUANCE). *sw the
 * last one's status word; *refused when one was refused.
 */
static int run_items(tc_card *tc, const uint8_t *pt, size_t len, size_t count, uint32_t c,
                     const uint8_t serial[8], inner_ctx *x, uint8_t sw[2], uint8_t *ans,
                     size_t *ans_len, int *refused)
{
    uint8_t mac[KC_ENV_MAC_LEN], hdr[4];
    size_t off = 1, o = 1, dl, i;
    const uint8_t *d;
    int rc = 0;

    *refused = 0;
    ans[0] = 0;
    for (i = 0; rc == 0 && i < count && !*refused; i++) {
        if ((rc = kc_env_item_next(pt, len, &off, hdr, &d, &dl)) != 0)
            break;
        if ((rc = run_item(tc, hdr, d, dl, c, serial, x, sw, mac)) != 0)
            break;
        ans[o] = sw[0];
        ans[o + 1] = sw[1];
        ans[o + 2] = x->complete ? KC_ENV_MAC_LEN : 0;
        if (x->complete)
            memcpy(ans + o + 3, mac, KC_ENV_MAC_LEN);
        o += KC_ENV_ANSWER_ITEM + ans[o + 2];
        ans[0]++;
        *refused = sw[0] != 0x90 || sw[1] != 0x00;
    }
    kc_wipe(mac, sizeof(mac));
    *ans_len = o;
    return rc;
}

/* Largest answer of a packed envelope: every item of the largest bucket, one MAC. */
#define TC_PACKED_ANSWER_MAX \
    (1 + (KC_ENV_BUCKET_MAX / KC_ENV_ITEM_HDR) * KC_ENV_ANSWER_ITEM + KC_ENV_MAC_LEN)

uint16_t tc_session_envelope(tc_card *tc, const kc_apdu *a, size_t len, uint8_t *out,
                             size_t cap, size_t *out_len)
{
    tc_session *s = &tc->sess;
    uint8_t serial[8], hdr[4], pt[KC_ENV_BUCKET_MAX], r[KC_ENV_R_LEN], sw[2];
    uint8_t mac[KC_ENV_MAC_LEN], ans[TC_PACKED_ANSWER_MAX];
    kc_env_keyset k; /* Kenv and Kresp of counter c, derived together once */
    size_t n = KC_ENV_INNER_MAX, count = 0, ans_len = 0;
    uint32_t c = s->next_c;
    inner_ctx x;
    int rc, refused = 0;

    if (!s->open)
        return KC_SW_CONDITIONS;
    (void)tc_card_serial(tc, serial);
    if (s->way == TC_WAY_STATIC) {
        rc = kc_env_static_key(s->r, sizeof(s->r), serial, c, r);
    } else {
        /* R_{c-1} becomes R_c here and is gone, whatever the envelope holds. */
        rc = kc_env_chain_step(s->r, serial, c);
        memcpy(r, s->r, sizeof(r));
    }
    if (rc == 0)
        rc = kc_env_keyset_derive(r, serial, c, &k);
    kc_wipe(r, sizeof(r)); /* everything of counter c comes from k now */
    if (rc == 0 && !envelope_canonical(a, len))
        rc = KC_ERR_ENV_FORMAT;
    else if (rc == 0 && s->packed)
        rc = kc_env_open_packed_keyed(&k, serial, c, a->data, a->lc, pt, &(size_t){sizeof(pt)},
                                      &count);
    else if (rc == 0)
        rc = kc_env_open_keyed(&k, serial, c, a->data, a->lc, hdr, pt, &n, NULL);
    if (rc) {
        kc_wipe(&k, sizeof(k));
        tc_session_end(tc);
        return open_error_sw(rc);
    }
    /* Nothing runs unless every inner command of the envelope may. */
    rc = s->packed ? items_check(tc, pt, sizeof(pt), count)
                   : locked(tc, s->key_no, 1, hdr[1]) ? KC_ERR_STATE : 0;
    if (rc) {
        kc_wipe(pt, sizeof(pt));
        kc_wipe(&k, sizeof(k));
        tc_session_end(tc);
        return rc == KC_ERR_STATE ? KC_SW_CONDITIONS : open_error_sw(rc);
    }

    if (s->packed)
        rc = run_items(tc, pt, sizeof(pt), count, c, serial, &x, sw, ans, &ans_len, &refused);
    else
        rc = run_item(tc, hdr, pt, n, c, serial, &x, sw, mac);
    kc_wipe(pt, sizeof(pt));
    if (rc) {
        kc_wipe(&k, sizeof(k));
        kc_wipe(mac, sizeof(mac));
        kc_wipe(ans, sizeof(ans));
        tc_session_end(tc);
        return tc_err_to_sw(rc);
    }

    *out_len = cap;
    if (s->packed)
        rc = kc_env_resp_build_keyed(&k, c, sw, ans, ans_len, out, out_len);
    else
        rc = kc_env_resp_build_keyed(&k, c, sw, mac, x.complete ? sizeof(mac) : 0, out, out_len);
    kc_wipe(&k, sizeof(k));
    kc_wipe(mac, sizeof(mac));
    kc_wipe(ans, sizeof(ans));
    if (rc || x.complete || refused) {
        /*
         * The transcript is spent after COMPLETE: the session is over. So is
         * a packed one whose inner command was refused: the items after it
         * did not run, and nothing later could follow on from them.
         */
        if (x.complete)
            s->open = 0; /* final already wiped the hash */
        tc_session_end(tc);
        return rc ? tc_err_to_sw(rc == KC_ERR_TOO_BIG ? KC_ERR_ARG : rc) : KC_SW_OK;
    }
    s->next_c = c + 1;
    if (s->next_c == 0)
        tc_session_end(tc); /* counter space used up */
    return KC_SW_OK;
}
