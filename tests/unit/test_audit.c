/*
 * test_audit.c - the audit log that proves itself: hash chain, signed head
 * (AUDIT SIGN), the full-log policy with AUDIT ACKNOWLEDGE, the channel
 * failure hook, and keycard_audit_verify naming the first bad entry when any
 * byte of any entry is changed, an entry is removed or two are swapped.
 *
 * The key card runs in process (kc_test_card); its answers are parsed with
 * libkeycard's own parsers and checked with the public verifier.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <valgrind/valgrind.h>

#include "apdu.h"
#include "kc_audit.h"
#include "kc_err.h"
#include "kc_keycard.h"
#include "keycard.h"
#include "keycard_proto.h"
#include "support/kc_test_card.h"

#define V_ADMIN_OK "0020008310" "000102030405060708090A0B0C0D0E0F"
#define V_HOLDER_BAD "0020008206" "303030303030"
#define MAX_E 200

static kc_keycard *kc_of(kc_test_card *t)
{
    return t->ctx;
}

typedef struct log_copy {
    keycard_audit_entry e[MAX_E];
    size_t n;
    keycard_audit_head head;
    keycard_identity id;
    uint8_t issuer[65];
} log_copy;

static log_copy L, W; /* read from the card; a working copy to doctor */

/* Read the whole log, a signed head and the identity (admin key). */
static void read_log(kc_test_card *t, log_copy *l)
{
    memset(l, 0, sizeof *l);
    ck_assert_uint_eq(kc_test_card_select(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, V_ADMIN_OK), 0x9000);
    uint32_t from = 0;
    for (;;) {
        uint8_t apdu[16];
        uint8_t d[4] = {(uint8_t)(from >> 24), (uint8_t)(from >> 16), (uint8_t)(from >> 8),
                        (uint8_t)from};
        size_t len = kc_test_apdu(apdu, 0x80, KC_INS_AUDIT_READ, 0, 0, d, 4);
        apdu[len++] = 0;
        ck_assert_uint_eq(kc_test_card_send(t, apdu, len), 0x9000);
        if (t->resp_len == 0)
            break;
        size_t k = 0;
        ck_assert_int_eq(kcl_parse_audit(t->resp, t->resp_len, l->e + l->n, MAX_E - l->n, &k,
                                         l->n > 0, l->n ? l->e[l->n - 1].seq : 0),
                         KEYCARD_OK);
        ck_assert_uint_gt(k, 0);
        l->n += k;
        from = l->e[l->n - 1].seq + 1;
    }
    ck_assert_uint_eq(kc_test_card_sendx(t, "80A2000010" "000102030405060708090A0B0C0D0E0F" "00"),
                      0x9000);
    ck_assert_uint_eq(t->resp_len, KC_AUDIT_SIGNED_LEN);
    const uint8_t *r = t->resp;
    l->head.next = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    memcpy(l->head.head, r + 4, 32);
    l->head.lost = (uint32_t)r[36] << 24 | (uint32_t)r[37] << 16 | (uint32_t)r[38] << 8 | r[39];
    memcpy(l->head.sig, r + 40, 64);
    for (int i = 0; i < 16; i++)
        l->head.nonce[i] = (uint8_t)i;
    l->head.nonce_len = 16;
    /* The identity with the admin key alone (kc-admin audit --verify needs it). */
    ck_assert_uint_eq(kc_test_card_sendx(t, "00CADF0200"), 0x9000);
    ck_assert_int_eq(kcl_parse_identity(t->resp, t->resp_len, 1, &l->id), KEYCARD_OK);
    kc_test_issuer_pub(l->issuer);
}

static keycard_rc verify(const log_copy *l, keycard_audit_fault *f, uint32_t *bad)
{
    return keycard_audit_verify(l->e, l->n, &l->head, &l->id, l->issuer, 65, f, bad);
}

/* One entry of event in a commit of its own: a fast way to fill the log. */
static int add_entry(kc_test_card *t, uint8_t event, const void *d, size_t n)
{
    kc_store *s = &kc_of(t)->store;
    int rc = kc_store_begin(s);
    if (rc == 0 && (rc = kc_audit_append(s, &kc_of(t)->hw, event, d, n)) == 0)
        rc = kc_store_commit(s);
    if (rc && s->txn_open)
        kc_store_abort(s);
    return rc;
}

static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A card with every kind of entry: provisioned, unlocks, block, unblock, change, channel. */
static void eventful(kc_test_card *t, uint64_t seed)
{
    kc_test_card_new(t, seed);
    t->ram.now = 1800000000u;
    ck_assert_uint_eq(kc_test_card_provision_demo(t), 0x9000);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(kc_test_card_unlock(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "0020008108" "3133353739313335"), 0x9000);
    for (int i = 0; i < 3; i++)
        (void)kc_test_card_sendx(t, V_HOLDER_BAD); /* the third blocks: pin-blocked */
    ck_assert_uint_eq(kc_test_card_sendx(t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(t, "002C0382"), 0x9000); /* unblocked */
    ck_assert_int_eq(kc_audit_channel_failure(&kc_of(t)->store, &kc_of(t)->hw, KC_AUDIT_CHF_MAC,
                                              KC_INS_VERIFY),
                     0);
    ck_assert_uint_eq(kc_test_card_unlock(t), 0x9000);
}

START_TEST(test_real_log_verifies)
{
    kc_test_card t;
    eventful(&t, 901);
    read_log(&t, &L);
    ck_assert_uint_eq(L.n, 8);
    ck_assert_uint_eq(L.head.next, 8);
    static const uint8_t events[8] = {2, 1, 1, 1, 3, 4, 7, 1};
    for (size_t i = 0; i < L.n; i++) {
        ck_assert_uint_eq(L.e[i].seq, i);
        ck_assert_uint_eq(L.e[i].event, events[i]);
    }
    /* The channel failure as a summary of one, written just before the unlock. */
    ck_assert_uint_eq(L.e[6].len, KC_AUDIT_CHF_SUMMARY_LEN);
    ck_assert_uint_eq(u32_at(L.e[6].data), 1);
    ck_assert_uint_eq(u32_at(L.e[6].data + 4), 1800000000u);
    ck_assert_uint_eq(u32_at(L.e[6].data + 8), 1800000000u);
    ck_assert_uint_eq(u32_at(L.e[6].data + 12), 1); /* reason 01: MAC */
    ck_assert_uint_eq(L.e[6].data[28], KC_AUDIT_CHF_MAC);
    ck_assert_uint_eq(L.e[6].data[29], KC_INS_VERIFY);
    ck_assert_str_eq(keycard_audit_event_name(KEYCARD_AUDIT_CHANNEL_FAILURE), "channel-failure");
    keycard_audit_fault f = KEYCARD_AUDIT_FAULT_ENTRY;
    uint32_t bad = 99;
    ck_assert_int_eq(verify(&L, &f, &bad), KEYCARD_OK);
    ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_NONE);
    /* Another issuer key: the device key is not vouched for. */
    W = L;
    memcpy(W.issuer, W.id.device_pub, 65);
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_IDENTITY);
    /* A head signed over another nonce is not this one's (no replay of an old head). */
    W = L;
    W.head.nonce[0] ^= 1;
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_HEAD);
    /* The head moves with each entry; an old head does not cover a new entry. */
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    read_log(&t, &W);
    ck_assert_uint_eq(W.n, 9);
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_OK);
    W.head = L.head;
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
    kc_test_card_free(&t);
}
END_TEST

/* Bytes of one entry, by field, so that every byte is changed once. */
static uint8_t *entry_byte(keycard_audit_entry *e, size_t k, size_t *count)
{
    size_t n = 4 + 4 + 1 + 1 + (size_t)e->len + 32;
    *count = n;
    if (k < 4)
        return (uint8_t *)&e->seq + k; /* any byte of the number changes it */
    if (k < 8)
        return (uint8_t *)&e->time + (k - 4);
    if (k == 8)
        return &e->event;
    if (k == 9)
        return &e->len;
    if (k < 10u + e->len)
        return &e->data[k - 10];
    return &e->prev[k - 10 - e->len];
}

START_TEST(test_tamper_any_byte_named)
{
    kc_test_card t;
    eventful(&t, 902);
    read_log(&t, &L);
    kc_test_card_free(&t);
    for (size_t i = 0; i < L.n; i++) {
        size_t count = 1;
        for (size_t k = 0; k < count; k++) {
            W = L;
            uint8_t *b = entry_byte(&W.e[i], k, &count);
            *b ^= 0x01;
            keycard_audit_fault f;
            uint32_t bad;
            ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
            ck_assert_msg(f == KEYCARD_AUDIT_FAULT_ENTRY && bad == L.e[i].seq,
                          "entry %zu byte %zu: fault %d seq %u", i, k, (int)f, (unsigned)bad);
        }
    }
}
END_TEST

START_TEST(test_head_tamper)
{
    kc_test_card t;
    eventful(&t, 903);
    read_log(&t, &L);
    kc_test_card_free(&t);
    uint8_t *fields[] = {(uint8_t *)&W.head.next, W.head.head, (uint8_t *)&W.head.lost,
                         W.head.sig, W.head.sig + 63};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        W = L;
        *fields[i] ^= 0x01;
        keycard_audit_fault f;
        ck_assert_int_eq(verify(&W, &f, NULL), KEYCARD_ERR_NOT_GENUINE);
        ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_HEAD);
    }
}
END_TEST

START_TEST(test_remove_one_named)
{
    kc_test_card t;
    eventful(&t, 904);
    read_log(&t, &L);
    kc_test_card_free(&t);
    for (size_t i = 0; i < L.n; i++) {
        W = L;
        memmove(&W.e[i], &W.e[i + 1], (W.n - i - 1) * sizeof W.e[0]);
        W.n--;
        keycard_audit_fault f;
        uint32_t bad;
        ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
        ck_assert_msg(f == KEYCARD_AUDIT_FAULT_MISSING && bad == L.e[i].seq,
                      "removed %zu: fault %d seq %u", i, (int)f, (unsigned)bad);
    }
    /* All of them. */
    W = L;
    W.n = 0;
    keycard_audit_fault f;
    uint32_t bad;
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_MISSING);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(test_reorder_refused)
{
    kc_test_card t;
    eventful(&t, 905);
    read_log(&t, &L);
    kc_test_card_free(&t);
    for (size_t i = 0; i + 1 < L.n; i++) {
        W = L;
        keycard_audit_entry tmp = W.e[i];
        W.e[i] = W.e[i + 1];
        W.e[i + 1] = tmp;
        keycard_audit_fault f;
        uint32_t bad;
        ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
        ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_ENTRY);
        ck_assert_uint_eq(bad, L.e[i].seq);
    }
}
END_TEST

static uint8_t tries_of(kc_test_card *t, int which)
{
    ck_assert_uint_eq(kc_test_card_sendx(t, "00CADF03"), 0x9000);
    for (size_t i = 0; i + 1 < t->resp_len; i += 2u + t->resp[i + 1])
        if (t->resp[i] == KC_ST_TAG_TRIES)
            return t->resp[i + 2 + which];
    ck_abort_msg("no tries in the status");
    return 0;
}

START_TEST(test_full_log_refused_until_ack)
{
    kc_test_card t;
    kc_test_card_new(&t, 906);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    /* provisioned is seq 0: 111 unlocks fill CAPACITY - RESERVE */
    for (int i = 0; i < KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE - 1; i++)
        ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE);
    /* the next unlock is refused before a try is spent */
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x6A84);
    ck_assert_uint_eq(tries_of(&t, 1), 3);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE);
    /* re-provisioning: refused, its session stays open for after the export */
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E2DF0103" "4F5032"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x6A84);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E80000"), 0x9000);
    /* no holder PIN attempt at all, not even a wrong one */
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "0020008108" "3133353739313335"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_HOLDER_BAD), 0x6A84);
    ck_assert_uint_eq(tries_of(&t, 1), 3);
    /* a block of the issuer PIN happens anyway and is recorded from the reserve */
    for (int i = 0; i < 3; i++)
        (void)kc_test_card_sendx(&t, "0020008108" "3030303030303030");
    ck_assert_uint_eq(tries_of(&t, 0), 0);
    ck_assert_uint_eq(kc_audit_next(&kc_of(&t)->store), KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE + 1);
    /* the unblock is an ordinary event: refused too */
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "002C0381"), 0x6A84);
    /* acknowledge: not beyond the log, never backwards, then all is well again */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A4000004" "00000072"), 0x6A80);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A4000004" "00000071"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A4000004" "00000010"), 0x9000); /* no-op */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "002C0381"), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    /* acknowledged entries are kept until overwritten: the log still verifies */
    read_log(&t, &L);
    ck_assert_uint_eq(L.n, KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE + 3);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    /* the mark survives a reboot */
    ck_assert_int_eq(kc_test_card_reboot(&t), 0);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_ring_wraps_and_verifies)
{
    kc_test_card t;
    kc_test_card_new(&t, 907);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    /* Entries written directly (no PIN derivations: fast) past the end of the ring. */
    for (int i = 0; i < KC_AUDIT_CAPACITY + 20; i++) {
        if (i == 100) {
            ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
            ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
            ck_assert_uint_eq(kc_test_card_sendx(&t, "80A4000004" "00000064"), 0x9000);
        }
        uint8_t ref = (uint8_t)i;
        ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    }
    read_log(&t, &L);
    ck_assert_uint_eq(L.n, KC_AUDIT_CAPACITY);
    ck_assert_uint_eq(L.e[0].seq, L.head.next - KC_AUDIT_CAPACITY);
    ck_assert_uint_eq(L.head.lost, 0);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    /* the oldest kept entry removed: named missing */
    W = L;
    memmove(&W.e[0], &W.e[1], (W.n - 1) * sizeof W.e[0]);
    W.n--;
    keycard_audit_fault f;
    uint32_t bad;
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_MISSING);
    ck_assert_uint_eq(bad, L.e[0].seq);
    /* its prev changed: named */
    W = L;
    W.e[0].prev[5] ^= 0x80;
    ck_assert_int_eq(verify(&W, &f, &bad), KEYCARD_ERR_NOT_GENUINE);
    ck_assert_int_eq(f, KEYCARD_AUDIT_FAULT_ENTRY);
    ck_assert_uint_eq(bad, L.e[0].seq);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_security_events_counted_when_full)
{
    kc_test_card t;
    kc_test_card_new(&t, 908);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    kc_store *s = &kc_of(&t)->store;
    uint8_t ref = KC_REF_ISSUER_PIN;
    for (int i = 1; i < KC_AUDIT_CAPACITY; i++)
        ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY);
    /* full: nothing overwritten, the loss is counted in the signed head */
    ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY);
    /* channel failures are only counted: they take no slot and are not lost */
    ck_assert_int_eq(kc_audit_channel_failure(s, &kc_of(&t)->hw, KC_AUDIT_CHF_PLAIN, 0x20), 0);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY);
    ck_assert_uint_eq(kc_audit_pending(s), 1);
    ck_assert_int_eq(kc_audit_room(s, KC_AUDIT_EVT_ISSUE_RECEIPT), KC_ERR_NO_SPACE);
    read_log(&t, &L);
    ck_assert_uint_eq(L.n, KC_AUDIT_CAPACITY);
    ck_assert_uint_eq(L.e[0].event, KC_AUDIT_EVT_PROVISIONED); /* not overwritten */
    ck_assert_uint_eq(L.head.lost, 2);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    /* the hook refuses inside an open transaction */
    ck_assert_int_eq(kc_store_begin(s), 0);
    ck_assert_int_eq(kc_audit_channel_failure(s, &kc_of(&t)->hw, KC_AUDIT_CHF_PLAIN, 0x20),
                     KC_ERR_STATE);
    kc_store_abort(s);
    kc_test_card_free(&t);
}
END_TEST

START_TEST(test_sign_rules)
{
    kc_test_card t;
    kc_test_card_new(&t, 909);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    /* blank: no admin key, so 6982 before anything else */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A20000080102030405060708"), 0x6982);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, V_ADMIN_OK), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A20000080102030405060708"), 0x9000);
    ck_assert_uint_eq(t.resp_len, KC_AUDIT_SIGNED_LEN);
    /* two signatures over the same nonce differ (random k) yet both verify */
    uint8_t first[KC_AUDIT_SIGNED_LEN];
    memcpy(first, t.resp, sizeof first);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A20000080102030405060708"), 0x9000);
    ck_assert_mem_eq(first, t.resp, 40);
    uint8_t msg[48];
    memcpy(msg, first, 40);
    memcpy(msg + 40, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0200"), 0x9000);
    keycard_identity id;
    ck_assert_int_eq(kcl_parse_identity(t.resp, t.resp_len, 1, &id), KEYCARD_OK);
    ck_assert_int_eq(kc_test_p256_verify(id.device_pub, KC_SIG_LABEL_AUDIT_HEAD, msg, 48,
                                         first + 40),
                     1);
    kc_test_card_free(&t);
}
END_TEST

/*
 * The chain definition checked against an independent computation (Python
 * hashlib: SHA-256(b"keycard audit v1\0" + head + seq time event len data)).
 */
START_TEST(test_chain_vector)
{
    static const char *const heads[2] = {
        "0f97cda37faec221d8ca29771443f8f9a2dc940752539258a7863b6766ed5fe1",
        "6762204323cecc7a01f92da86a3d3c9370e294abb494d08864d0255792e39fa0",
    };
    uint8_t want[2][32];
    kc_test_card t;
    kc_test_card_new(&t, 910);
    t.ram.now = 1800000000u;
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    t.ram.now = 1800000060u;
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    read_log(&t, &L);
    for (int i = 0; i < 2; i++)
        ck_assert_uint_eq(kc_test_hex(heads[i], want[i], 32), 32);
    ck_assert_uint_eq(L.n, 2);
    ck_assert_mem_eq(L.e[1].prev, want[0], 32);
    ck_assert_mem_eq(L.head.head, want[1], 32);
    ck_assert_uint_eq(L.head.next, 2);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    kc_test_card_free(&t);
}
END_TEST

/* ISSUE BEGIN refuses when a receipt might find no room; END still writes one. */
START_TEST(test_issue_begin_refused_when_full)
{
    kc_test_card t;
    kc_test_card_new(&t, 911);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    kc_store *s = &kc_of(&t)->store;
    /* way 03 BEGIN: serial(8) key 1 bucket 64 seed(16) */
    const char *begin = "805003001B" "0102030405060708" "01" "0040"
                        "00112233445566778899AABBCCDDEEFF";
    ck_assert_uint_eq(kc_test_card_sendx(&t, begin), 0x9000); /* room: a session opens */
    uint8_t ref = KC_REF_ISSUER_PIN;
    while (kc_audit_next(s) < KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE)
        ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    /* the open session still gets its receipt, from the reserve */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "8054000000"), 0x9000);
    ck_assert_uint_eq(t.resp[0], KC_ISSUE_ABORTED);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE + 1);
    /* a new one is refused, and nothing was written */
    ck_assert_uint_eq(kc_test_card_sendx(&t, begin), 0x6A84);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE + 1);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "8054000000"), 0x6985); /* no session */
    kc_test_card_free(&t);
}
END_TEST

/*
 * Issue 10, finding 5: OPEN CHANNEL needs no credential, so anyone on the
 * line can make channels fail at will. 10,000 failures (refused OPENs, real
 * wrapped commands that do not verify, and the rest through the firmware's
 * hook, which is what a failure calls) must leave the log as it was: no
 * entry, so unlock and ISSUE BEGIN still work; the next entry brings one
 * summary with the count, and the log still verifies.
 */
START_TEST(test_flood_of_channel_failures)
{
    kc_test_card t;
    uint8_t pka[65], pt[65], apdu[80];
    size_t len;
    uint32_t by_reason[KC_AUDIT_CHF_REASONS] = {0};
    int quick = RUNNING_ON_VALGRIND; /* fewer real channels under make memcheck */
    const uint32_t FLOOD = 10000;

    kc_test_card_new(&t, 912);
    t.ram.now = 1800000000u;
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&t), 0x9000);
    /* A channel key ("optional" policy; the card does not check the issuer's signature). */
    ck_assert_uint_eq(kc_test_card_verify_admin(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E00000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E4010000"), 0x9000);
    memset(pt, 0x01, 64);
    len = kc_test_apdu(apdu, 0x80, KC_INS_PROVISION_PUT, 0xDF, 0x08, pt, 64);
    ck_assert_uint_eq(kc_test_card_send(&t, apdu, len), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80E60000"), 0x9000);
    ck_assert_uint_eq(kc_test_card_select(&t), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "00CADF0700"), 0x9000);
    memcpy(pka, t.resp + 12, 65);
    kc_store *s = &kc_of(&t)->store;
    uint32_t next0 = kc_audit_next(s);

    /* OPEN CHANNEL with a point off the curve: refused, nothing written. */
    memcpy(pt, pka, 65);
    pt[64] ^= 1;
    len = kc_test_apdu(apdu, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, pt, 65);
    apdu[len++] = 0;
    for (uint32_t i = 0; i < FLOOD; i++)
        ck_assert_uint_eq(kc_test_card_send(&t, apdu, len), 0x6A80);
    ck_assert_uint_eq(kc_audit_pending(s), 0);

    /* Real channels (any valid point will do as the host's key) and a command that fails. */
    int n_real = quick ? 10 : 200;
    len = kc_test_apdu(apdu, 0x80, KC_INS_OPEN_CHANNEL, 0, 0, pka, 65);
    apdu[len++] = 0;
    for (int i = 0; i < n_real; i++) {
        t.ram.now = 1800000000u + (uint32_t)i;
        ck_assert_uint_eq(kc_test_card_send(&t, apdu, len), 0x9000);
        ck_assert_uint_eq(t.resp_len, KC_CHANNEL_OPEN_RESP_LEN);
        if (i % 2) {
            ck_assert_uint_eq(kc_test_card_sendx(&t, "00CA5F2000"), 0x6988); /* plain in the channel */
            by_reason[KC_AUDIT_CHF_PLAIN - 1]++;
        } else {
            ck_assert_uint_eq(kc_test_card_sendx(&t, "04CA5F2014 00000001"
                                                     "00112233445566778899AABBCCDDEEFF 12"),
                              0x6988); /* a tag that does not verify */
            by_reason[KC_AUDIT_CHF_MAC - 1]++;
        }
    }
    ck_assert_uint_eq(kc_audit_pending(s), (uint32_t)n_real);
    /* The rest through the hook, every reason; the count survives a power cut. */
    for (int i = n_real; i < (int)FLOOD; i++) {
        uint8_t reason = (uint8_t)(1 + i % KC_AUDIT_CHF_REASONS);
        t.ram.now = 1800000000u + (uint32_t)i;
        ck_assert_int_eq(kc_audit_channel_failure(s, &kc_of(&t)->hw, reason, 0x52), 0);
        by_reason[reason - 1]++;
        if ((uint32_t)i == FLOOD / 2) {
            ck_assert_int_eq(kc_test_card_reboot(&t), 0);
            s = &kc_of(&t)->store;
        }
    }
    ck_assert_uint_eq(kc_audit_pending(s), FLOOD);
    ck_assert_uint_eq(kc_audit_next(s), next0); /* not one entry */

    /* Unlock and issuance as if nothing had happened. */
    t.ram.now = 1800020000u;
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_audit_pending(s), 0);
    ck_assert_uint_eq(kc_audit_next(s), next0 + 2); /* the summary, then the unlock */
    const char *begin = "805003001B" "0102030405060708" "01" "0040"
                        "00112233445566778899AABBCCDDEEFF";
    ck_assert_uint_eq(kc_test_card_sendx(&t, begin), 0x9000);
    ck_assert_uint_eq(kc_test_card_sendx(&t, "8054000000"), 0x9000);
    ck_assert_uint_eq(kc_audit_next(s), next0 + 4); /* the BEGIN, the receipt */

    /* More failures, then the admin reads the log: his VERIFY writes their summary. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(kc_audit_channel_failure(s, &kc_of(&t)->hw, KC_AUDIT_CHF_COUNTER, 0x20), 0);
    read_log(&t, &L);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    ck_assert_uint_eq(L.head.lost, 0);
    ck_assert_uint_eq(L.n, next0 + 5);
    const keycard_audit_entry *e = &L.e[next0];
    ck_assert_uint_eq(e->event, KEYCARD_AUDIT_CHANNEL_FAILURE);
    ck_assert_uint_eq(e->len, KEYCARD_AUDIT_CHANNEL_SUMMARY_LEN);
    ck_assert_uint_eq(u32_at(e->data), FLOOD);
    ck_assert_uint_eq(u32_at(e->data + 4), 1800000000u);
    ck_assert_uint_eq(u32_at(e->data + 8), 1800000000u + FLOOD - 1);
    for (int r = 0; r < KC_AUDIT_CHF_REASONS; r++)
        ck_assert_uint_eq(u32_at(e->data + 12 + 4 * r), by_reason[r]);
    ck_assert_uint_eq(L.e[next0 + 1].event, KEYCARD_AUDIT_UNLOCK);
    ck_assert_uint_eq(L.e[next0 + 2].event, KEYCARD_AUDIT_ISSUE_BEGIN);
    ck_assert_uint_eq(L.e[next0 + 3].event, KEYCARD_AUDIT_ISSUE_RECEIPT);
    e = &L.e[next0 + 4];
    ck_assert_uint_eq(e->event, KEYCARD_AUDIT_CHANNEL_FAILURE);
    ck_assert_uint_eq(u32_at(e->data), 3);
    ck_assert_uint_eq(u32_at(e->data + 12 + 4 * (KC_AUDIT_CHF_COUNTER - 1)), 3);
    ck_assert_uint_eq(e->data[KC_AUDIT_CHF_SUMMARY_LEN - 1], 0x20);
    ck_assert_uint_eq(kc_audit_pending(s), 0);
    kc_test_card_free(&t);
}
END_TEST

/* A summary on a log near its end: it may use the reserve, never an unlock's slot, never lost. */
START_TEST(test_summary_room)
{
    kc_test_card t;
    kc_test_card_new(&t, 913);
    ck_assert_uint_eq(kc_test_card_provision_demo(&t), 0x9000);
    kc_store *s = &kc_of(&t)->store;
    uint8_t ref = KC_REF_ISSUER_PIN;
    /* One slot below the limit of starting events, and failures pending. */
    while (kc_audit_next(s) < KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE - 1)
        ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    ck_assert_int_eq(kc_audit_channel_failure(s, &kc_of(&t)->hw, KC_AUDIT_CHF_MAC, 0x20), 0);
    ck_assert_int_eq(kc_audit_room(s, KC_AUDIT_EVT_UNLOCK), 0);
    /* The unlock still gets its slot; the summary goes first, from the reserve. */
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY - KC_AUDIT_RESERVE + 1);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x6A84);
    /* Full to the last slot: a security event takes it, the summary waits (not lost). */
    while (kc_audit_next(s) < KC_AUDIT_CAPACITY - 1)
        ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    ck_assert_int_eq(kc_audit_channel_failure(s, &kc_of(&t)->hw, KC_AUDIT_CHF_MAC, 0x20), 0);
    ck_assert_int_eq(add_entry(&t, KC_AUDIT_EVT_PIN_BLOCKED, &ref, 1), 0);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY);
    ck_assert_uint_eq(kc_audit_pending(s), 1);
    /* The admin's VERIFY finds no room either: still counted, nothing lost, log whole. */
    read_log(&t, &L);
    ck_assert_uint_eq(kc_audit_pending(s), 1);
    ck_assert_uint_eq(L.head.lost, 0);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    /* After the export and acknowledgement the next entry brings it. */
    ck_assert_uint_eq(kc_test_card_sendx(&t, "80A4000004" "00000080"), 0x9000);
    ck_assert_uint_eq(kc_test_card_unlock(&t), 0x9000);
    ck_assert_uint_eq(kc_audit_pending(s), 0);
    ck_assert_uint_eq(kc_audit_next(s), KC_AUDIT_CAPACITY + 2);
    read_log(&t, &L);
    ck_assert_int_eq(verify(&L, NULL, NULL), KEYCARD_OK);
    ck_assert_uint_eq(L.e[L.n - 2].event, KEYCARD_AUDIT_CHANNEL_FAILURE);
    ck_assert_uint_eq(u32_at(L.e[L.n - 2].data), 1);
    kc_test_card_free(&t);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_chain_vector);
    tcase_add_test(tc, test_real_log_verifies);
    tcase_add_test(tc, test_tamper_any_byte_named);
    tcase_add_test(tc, test_head_tamper);
    tcase_add_test(tc, test_remove_one_named);
    tcase_add_test(tc, test_reorder_refused);
    tcase_add_test(tc, test_full_log_refused_until_ack);
    tcase_add_test(tc, test_ring_wraps_and_verifies);
    tcase_add_test(tc, test_security_events_counted_when_full);
    tcase_add_test(tc, test_sign_rules);
    tcase_add_test(tc, test_issue_begin_refused_when_full);
    tcase_add_test(tc, test_flood_of_channel_failures);
    tcase_add_test(tc, test_summary_room);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(audit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
