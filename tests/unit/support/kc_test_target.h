/*
 * kc_test_target.h - unit-test helper for the target card (kc_target_card):
 * a card on RAM flash driven with raw APDUs, a standard MANUFACTURE, and the
 * key card's side of an issuance session done in the test (kc_envelope seal,
 * response MAC check, completion MAC), so suites build valid envelopes the
 * way the key card would.
 */
#ifndef KC_TEST_TARGET_H
#define KC_TEST_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "hw/kc_hw_ram.h"
#include "kc_envelope.h"
#include "keycard_proto.h"
#include "tc_card.h"

typedef struct kc_test_target {
    uint8_t *mem;
    kc_hw_ram ram;
    kc_hw hw;
    tc_card *tc;
    uint8_t resp[KC_APDU_MAX_RESP + 2];
    size_t resp_len; /* data bytes of the last response */
} kc_test_target;

/* The standard manufacture: key 1 AES-256 (static allowed), key 2 AES-128 (chain only). */
extern const uint8_t kc_tt_key1[32];
extern const uint8_t kc_tt_key2[16];

/* A virgin card on erased RAM flash, deterministic RNG from seed, powered on. */
void kc_tt_new(kc_test_target *t, uint64_t seed);
void kc_tt_free(kc_test_target *t);
/* Power event (KC_POWER_*); a power-on after off reboots the store. */
void kc_tt_power(kc_test_target *t, int event);
/* Reboot on the same flash (clears a power cut): init + power on. */
void kc_tt_reboot(kc_test_target *t);
/* Send raw bytes / hex; returns SW, data in t->resp. */
uint16_t kc_tt_send(kc_test_target *t, const uint8_t *apdu, size_t len);
uint16_t kc_tt_sendx(kc_test_target *t, const char *hex);
/* Send cla ins p1 p2 [data] (short or extended) with an optional Le (le < 0: none). */
uint16_t kc_tt_cmd(kc_test_target *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                   const void *data, size_t n, int le);
/* MANUFACTURE with serial and the two standard keys. Returns SW. */
uint16_t kc_tt_manufacture(kc_test_target *t, const uint8_t serial[8]);
/* Digest of the committed store contents. */
void kc_tt_store_digest(const kc_test_target *t, uint8_t out[32]);
/* Transactions committed so far (the store's sequence number). */
uint32_t kc_tt_commits(const kc_test_target *t);

/* The key card's half of a session. */
typedef struct kc_tt_session {
    uint8_t serial[8];
    uint8_t kcard[32];
    size_t kcard_len;
    uint8_t way;
    uint8_t r[32];      /* chain: R_{c-1} */
    uint32_t c;         /* counter of the last envelope sealed */
    size_t bucket;
    uint8_t kcomp[16];
    kc_env_transcript tr;
    uint8_t last_r[32]; /* R of the last sealed envelope (response check) */
    uint8_t base[32];   /* static mode: the session base B */
    uint8_t nk[16];     /* the key card's nonce this helper played */
    int packed;         /* BEGIN with P1 bit 80: several inner commands per envelope */
    uint32_t c0;        /* counter of the first envelope: inner command i is c0 + i */
    uint8_t lock_way;   /* P1 and data of the COMPLETE ISSUANCE sent (completion MAC) */
    uint8_t lock_data[KC_ENV_LOCK_DATA_MAX];
    size_t lock_len;
} kc_tt_session;

/*
 * BEGIN ISSUANCE and BIND on the card with way and key_no (kcard: that key's
 * value), playing the key card's half with a fresh nonce (and way-04 seed) of
 * its own. Returns the card's SW (of BEGIN, or of BIND when BEGIN passed).
 */
uint16_t kc_tt_begin(kc_test_target *t, kc_tt_session *s, uint8_t way, uint8_t key_no,
                     const uint8_t *kcard, size_t kcard_len, const uint8_t serial[8]);
/* Seal the next envelope (counter s->c + 1) into apdu; returns its length. */
size_t kc_tt_seal(kc_tt_session *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                  const void *data, size_t n, uint8_t *apdu, size_t cap);
/*
 * Seal, send, and on outer 9000 verify the response MAC (aborts on a bad one),
 * record the transcript and put the inner SW in *inner (inner data stays in
 * t->resp at offset 6, *inner_len bytes when not NULL). Returns the outer SW.
 */
uint16_t kc_tt_env(kc_test_target *t, kc_tt_session *s, uint8_t ins, uint8_t p1, uint8_t p2,
                   const void *data, size_t n, uint16_t *inner, size_t *inner_len);
/* One inner command of a packed envelope (CLA 80). */
typedef struct kc_tt_item {
    uint8_t ins, p1, p2;
    const void *data;
    size_t n;
} kc_tt_item;

/*
 * Packed session (kc_tt_begin with way | 0x80): seal count items into one
 * envelope, send it, and on outer 9000 verify the response MAC, split the
 * answer into sws (*nsw: the items run) and record each in the transcript.
 * Returns the outer SW.
 */
uint16_t kc_tt_env_packed(kc_test_target *t, kc_tt_session *s, const kc_tt_item *it,
                          size_t count, uint16_t *sws, size_t *nsw);

/* The completion MAC the key card expects for the transcript so far (ends it). */
void kc_tt_completion(kc_tt_session *s, uint8_t mac[16]);

#endif /* KC_TEST_TARGET_H */
