/*
 * kc_test_card.h - unit-test helper: a key card (kc_keycard_card) running on
 * RAM flash (kc_hw_ram), driven with raw APDU bytes, and a one-call
 * "provision with the demo credentials" for suites that need a ready card.
 */
#ifndef KC_TEST_CARD_H
#define KC_TEST_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "hw/kc_hw_ram.h"
#include "kc_card.h"
#include "kc_hw.h"
#include "keycard_proto.h"

/* The demo credentials (examples/profiles/demo.json). */
#define KC_TEST_ISSUER_PIN "13579135"
#define KC_TEST_HOLDER_PIN "246810"
#define KC_TEST_ADMIN_KEY_HEX "000102030405060708090A0B0C0D0E0F"
#define KC_TEST_TRIES 3
#define KC_TEST_HOLDER_NAME "Demo Operator"
#define KC_TEST_HOLDER_NUMBER "OP-0001"

typedef struct kc_test_card {
    uint8_t *mem;       /* the flash image, kc_keycard_card.flash_size bytes */
    kc_hw_ram ram;
    kc_hw hw;
    void *ctx;          /* kc_keycard_card.ctx_size bytes */
    uint8_t resp[KC_APDU_MAX_RESP + 2];
    size_t resp_len;    /* data bytes of the last response (SW excluded) */
} kc_test_card;

/* A blank card (erased flash, deterministic RNG seeded with seed), booted and powered on. */
void kc_test_card_new(kc_test_card *t, uint64_t seed);
void kc_test_card_free(kc_test_card *t);

/* Reboot on the same flash: fresh hw (cut cleared) and RAM state, init, power on. Returns init's rc. */
int kc_test_card_reboot(kc_test_card *t);

/* Send a raw APDU; the data lands in t->resp / t->resp_len. Returns SW. */
uint16_t kc_test_card_send(kc_test_card *t, const uint8_t *apdu, size_t len);

/* Same, with the APDU as hex ("00A40400 0A F04B..."; spaces ignored). */
uint16_t kc_test_card_sendx(kc_test_card *t, const char *hex);

/* Parse hex (spaces ignored) into out; returns the byte count (aborts on bad hex). */
size_t kc_test_hex(const char *hex, uint8_t *out, size_t cap);

/* Build "cla ins p1 p2 [Lc data]" (short or extended as needed) into out; returns length. */
size_t kc_test_apdu(uint8_t *out, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                    const void *data, size_t len);

/* SELECT the key card application. Returns SW. */
uint16_t kc_test_card_select(kc_test_card *t);

/*
 * Provision with the demo credentials through the APDUs (select, begin,
 * puts, generate, issuer signature by the test issuer key, commit). Returns
 * the first SW that is not 9000, or 9000. Leaves the card selected with no
 * credential verified.
 */
uint16_t kc_test_card_provision_demo(kc_test_card *t);

/*
 * Demo issuance material put by kc_test_card_provision_issuance:
 *   key 1 AES-128 ENVELOPE|STATIC (diversified)   key 2 AES-256 ENVELOPE|COMMON
 *   key 3 AES-128 INJECT                           key 4 AES-256 INJECT
 *   template 1 "folder"  80 E0 01 00: INT2 fid 0001..FFFE | FIXED 3F00 | BYTES 1..16 prefixed
 *   template 2 "set-key" 80 D8 01 02 (keys 3 only): FIXED 0102 | KEY
 *   template 3 "write"   80 D6 00 00: INT2 fid | INT2 offset 0..1024 | BYTES 1..200 unprefixed
 *   template 4 "lock"    80 1E 04 00: no items
 *   template 5 "any-key" 80 D8 02 03 (any INJECT key): KEY
 */
#define KC_TEST_KEY1_HEX "404142434445464748494A4B4C4D4E4F"
#define KC_TEST_KEY2_HEX "505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F"
#define KC_TEST_KEY3_HEX "707172737475767778797A7B7C7D7E7F"
#define KC_TEST_KEY4_HEX "808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F"
#define KC_TEST_TPL1_HEX "01 80E00100 00 06 666F6C646572 03 02 02 00000001 0000FFFE 01 02 3F00 03 0001 0010 01"
#define KC_TEST_TPL2_HEX "01 80D80102 01 03 07 7365742D6B6579 02 01 02 0102 04 01"
#define KC_TEST_TPL3_HEX "01 80D60000 00 05 7772697465 03 02 02 00000000 0000FFFF 02 02 00000000 00000400 03 0001 00C8 00"
#define KC_TEST_TPL4_HEX "01 801E0400 00 04 6C6F636B 00"
#define KC_TEST_TPL5_HEX "01 80D80203 00 07 616E792D6B6579 01 04 01"

/*
 * On a card provisioned with kc_test_card_provision_demo: verify the admin
 * key, open a provisioning session, put the demo keys and templates above,
 * commit. Returns the first SW that is not 9000, or 9000. Leaves the card
 * selected with no credential verified.
 */
uint16_t kc_test_card_provision_issuance(kc_test_card *t);

/* SELECT, VERIFY issuer and holder PIN with the demo values. Returns first non-9000 SW or 9000. */
uint16_t kc_test_card_unlock(kc_test_card *t);

/* VERIFY the demo admin key. Returns SW. */
uint16_t kc_test_card_verify_admin(kc_test_card *t);

/* SHA-256 of the whole flash image. */
void kc_test_card_flash_digest(const kc_test_card *t, uint8_t out[32]);

/*
 * SHA-256 over the committed store contents (every key with its value, in key
 * order): equal whenever the card's persistent state is, whatever garbage an
 * aborted transaction left on flash. Mounts a private copy of the flash.
 */
void kc_test_card_store_digest(const kc_test_card *t, uint8_t out[32]);

/* The test issuer's public key (uncompressed P-256 point). */
void kc_test_issuer_pub(uint8_t pub[65]);

/* Issuer signature (r||s) over SHA-256("keycard identity v1\0" || tbs). Returns 0. */
int kc_test_issuer_sign(const uint8_t *tbs, size_t len, uint8_t sig[64]);
/* The same over SHA-256(label\0 || tbs) (e.g. KC_SIG_LABEL_CHANNEL). Returns 0. */
int kc_test_issuer_sign_as(const char *label, const uint8_t *tbs, size_t len, uint8_t sig[64]);

/* 1 when sig (r||s) verifies over SHA-256(label\0 || msg) with pub, else 0. */
int kc_test_p256_verify(const uint8_t pub[65], const char *label, const uint8_t *msg, size_t len,
                        const uint8_t sig[64]);

#endif /* KC_TEST_CARD_H */
