/*
 * audit.c - keycard_audit_verify: the offline check of a read-out audit log
 * (docs/apdu.md "Audit log"), one implementation for kc-admin and any other
 * reader. Pure: no key card, only the entries, the signed head, the identity
 * and the issuer public key.
 *
 * Naming the first bad entry: each entry i gives h_i = SHA-256(label NUL ||
 * prev_i || seq..data of i) from its own stored prev; "link i" holds when h_i
 * equals the next entry's prev and the seqs are consecutive (for the last
 * entry: h equals the signed head and next = seq + 1). A change to entry k's
 * body breaks link k alone; a change to its prev or seq breaks links k - 1
 * and k; a removed entry after j breaks link j alone, with a seq gap. So at
 * the first broken link j: j + 1 is the culprit when link j + 1 is broken too,
 * else a gap means "missing", else j itself.
 */
#include <string.h>

#include "crypto.h"
#include "keycard.h"
#include "keycard_proto.h"
#include "apdu.h"

_Static_assert(KEYCARD_AUDIT_CHANNEL_SUMMARY_LEN == KC_AUDIT_CHF_SUMMARY_LEN,
               "keycard.h and keycard_proto.h disagree on the channel failure summary");

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* h = SHA-256(label NUL || prev || seq time event len data). */
static keycard_rc entry_hash(const keycard_audit_entry *e, uint8_t h[32])
{
    uint8_t m[KC_AUDIT_PREV_LEN + KC_AUDIT_HDR_LEN + KC_AUDIT_DATA_MAX];
    if (e->len > KC_AUDIT_DATA_MAX)
        return KEYCARD_ERR_ARG;
    memcpy(m, e->prev, KC_AUDIT_PREV_LEN);
    put_u32(m + 32, e->seq);
    put_u32(m + 36, e->time);
    m[40] = e->event;
    m[41] = e->len;
    memcpy(m + 42, e->data, e->len);
    return kcl_crypto_sha256(KC_AUDIT_CHAIN_LABEL, m, 42 + (size_t)e->len, h);
}

/* Whether link i holds (see the top of the file); -1 on a crypto failure. */
static int link_ok(const keycard_audit_entry *e, size_t n, size_t i,
                   const keycard_audit_head *head)
{
    uint8_t h[32];
    keycard_rc rc = entry_hash(&e[i], h);
    if (rc == KEYCARD_ERR_ARG)
        return 0; /* an impossible length is a broken entry */
    if (rc != KEYCARD_OK)
        return -1;
    if (i + 1 < n)
        return e[i].seq != UINT32_MAX && e[i + 1].seq == e[i].seq + 1 &&
               memcmp(h, e[i + 1].prev, 32) == 0;
    return e[i].seq != UINT32_MAX && head->next == e[i].seq + 1 && memcmp(h, head->head, 32) == 0;
}

static keycard_rc fail(keycard_audit_fault *fault, uint32_t *bad_seq, keycard_audit_fault f,
                       uint32_t seq)
{
    if (fault)
        *fault = f;
    if (bad_seq)
        *bad_seq = seq;
    return KEYCARD_ERR_NOT_GENUINE;
}

KEYCARD_API keycard_rc keycard_audit_verify(const keycard_audit_entry *entries, size_t n,
                                            const keycard_audit_head *head,
                                            const keycard_identity *id,
                                            const uint8_t *issuer_pub, size_t issuer_pub_len,
                                            keycard_audit_fault *fault, uint32_t *bad_seq)
{
    static const uint8_t zero[32];
    uint8_t issuer[KC_P256_PUB_LEN], tbs[KCL_IDENTITY_TBS_LEN], m[40 + KC_AUDIT_NONCE_MAX];
    keycard_rc rc;

    if (fault)
        *fault = KEYCARD_AUDIT_FAULT_NONE;
    if (bad_seq)
        *bad_seq = 0;
    if ((n && !entries) || !head || !id || !issuer_pub || !issuer_pub_len ||
        head->nonce_len < KC_AUDIT_NONCE_MIN || head->nonce_len > KC_AUDIT_NONCE_MAX)
        return KEYCARD_ERR_ARG;

    /* 1. The device key is the issuer's: the identity signature. */
    if ((rc = kcl_crypto_pub_raw(issuer_pub, issuer_pub_len, issuer)) != KEYCARD_OK)
        return rc;
    kcl_identity_tbs(id, tbs);
    rc = kcl_crypto_verify(issuer, KC_SIG_LABEL_IDENTITY, tbs, sizeof tbs, id->issuer_sig);
    if (rc == KEYCARD_ERR_NOT_GENUINE || rc == KEYCARD_ERR_KEY_FORMAT)
        return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_IDENTITY, 0);
    if (rc != KEYCARD_OK)
        return rc;

    /* 2. The head is the device key's, for this nonce. */
    put_u32(m, head->next);
    memcpy(m + 4, head->head, 32);
    put_u32(m + 36, head->lost);
    memcpy(m + 40, head->nonce, head->nonce_len);
    rc = kcl_crypto_verify(id->device_pub, KC_SIG_LABEL_AUDIT_HEAD, m, 40 + head->nonce_len,
                           head->sig);
    if (rc == KEYCARD_ERR_NOT_GENUINE || rc == KEYCARD_ERR_KEY_FORMAT)
        return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_HEAD, head->next);
    if (rc != KEYCARD_OK)
        return rc;

    /* 3. The entries are the whole kept log and chain up to that head. */
    uint32_t oldest = head->next > KC_AUDIT_CAPACITY ? head->next - KC_AUDIT_CAPACITY : 0;
    if (n == 0) {
        if (head->next == 0)
            return memcmp(head->head, zero, 32) == 0
                       ? KEYCARD_OK
                       : fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_HEAD, 0);
        return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_MISSING, oldest);
    }
    int l0 = link_ok(entries, n, 0, head);
    if (l0 < 0)
        return KEYCARD_ERR_CRYPTO;
    if (entries[0].seq != oldest) {
        /* Intact but starting late: the oldest ones were dropped. */
        if (l0 && entries[0].seq > oldest)
            return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_MISSING, oldest);
        return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_ENTRY, oldest);
    }
    if (oldest == 0 && memcmp(entries[0].prev, zero, 32) != 0)
        return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_ENTRY, 0);
    for (size_t j = 0; j < n; j++) {
        int lj = j == 0 ? l0 : link_ok(entries, n, j, head);
        if (lj < 0)
            return KEYCARD_ERR_CRYPTO;
        if (lj)
            continue;
        uint32_t here = entries[j].seq; /* intact: link j - 1 held */
        if (j + 1 < n) {
            int ln = link_ok(entries, n, j + 1, head);
            if (ln < 0)
                return KEYCARD_ERR_CRYPTO;
            if (!ln)
                return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_ENTRY, here + 1);
            if (entries[j + 1].seq != here + 1)
                return fail(fault, bad_seq,
                            entries[j + 1].seq > here + 1 ? KEYCARD_AUDIT_FAULT_MISSING
                                                          : KEYCARD_AUDIT_FAULT_ENTRY,
                            here + 1);
            return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_ENTRY, here);
        }
        /* The last entry against the signed head. */
        if (head->next > here + 1)
            return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_MISSING, here + 1);
        return fail(fault, bad_seq, KEYCARD_AUDIT_FAULT_ENTRY, here);
    }
    return KEYCARD_OK;
}
