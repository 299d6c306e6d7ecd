/*
 * fuzz_keycard.c - libFuzzer target: the key card's APDU dispatcher
 * (kc_keycard_card.process) fed a sequence of command APDUs with the card
 * state carried from one to the next.
 *
 * Input: byte 0 picks the starting state (low 2 bits):
 *   0 blank card, 1 provisioned (demo credentials, issuance keys and
 *   templates of tests/unit/support/kc_test_card.h), 2 the same with both
 *   PINs verified, 3 the same with the admin key verified;
 * then records (fuzz_input.h): a record of length 0 is a warm reset of the
 * card, any other record is one command APDU.
 *
 * The states are built once through the APDUs (provisioning takes an ECDSA
 * signature and many flash writes) and snapshot as flash image + RAM
 * context + simulated hardware; every input starts from a fresh copy, so
 * flash is reset per input and runs are repeatable.
 *
 * Checks beyond the sanitizers: every answer is 2..cap bytes long.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "kc_test_card.h"

#define N_STATES 4
#define MAX_APDUS 64

static kc_test_card card;
static struct {
    uint8_t *mem;
    uint8_t *ctx;
    kc_hw_ram ram;
} snap[N_STATES];
static uint8_t resp[KC_APDU_MAX_RESP + 2];

static void must(uint16_t sw, const char *what)
{
    if (sw != 0x9000) {
        fprintf(stderr, "fuzz_keycard: setup step %s gave %04X\n", what, sw);
        abort();
    }
}

static void take(int i)
{
    snap[i].mem = malloc(kc_keycard_card.flash_size);
    snap[i].ctx = malloc(kc_keycard_card.ctx_size);
    if (!snap[i].mem || !snap[i].ctx)
        abort();
    memcpy(snap[i].mem, card.mem, kc_keycard_card.flash_size);
    memcpy(snap[i].ctx, card.ctx, kc_keycard_card.ctx_size);
    snap[i].ram = card.ram;
}

static void restore(int i)
{
    memcpy(card.mem, snap[i].mem, kc_keycard_card.flash_size);
    memcpy(card.ctx, snap[i].ctx, kc_keycard_card.ctx_size);
    card.ram = snap[i].ram;
}

/* A certified channel key and the issuer key the card checks recipients with. */
static void certify(void)
{
    uint8_t tbs[77], sig[64], apdu[8 + 70], pub[65];
    must(kc_test_card_verify_admin(&card), "verify admin");
    must(kc_test_card_sendx(&card, "80E00000"), "begin");
    must(kc_test_card_sendx(&card, "80E4010000"), "channel key");
    memcpy(tbs, card.resp, sizeof tbs);
    kc_test_issuer_sign_as(KC_SIG_LABEL_CHANNEL, tbs, sizeof tbs, sig);
    must(kc_test_card_send(&card, apdu, kc_test_apdu(apdu, 0x80, 0xE2, 0xDF, 0x08, sig, 64)),
         "channel signature");
    kc_test_issuer_pub(pub);
    must(kc_test_card_send(&card, apdu, kc_test_apdu(apdu, 0x80, 0xE2, 0x00, 0xC1, pub, 65)),
         "issuer key");
    must(kc_test_card_sendx(&card, "80E60000"), "commit");
    must(kc_test_card_select(&card), "select");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kc_test_card_new(&card, 0x6b6579636172642eULL);
    take(0);
    must(kc_test_card_provision_demo(&card), "provision demo");
    must(kc_test_card_provision_issuance(&card), "provision issuance");
    certify(); /* a channel key and the issuer key: KEY EXPORT / IMPORT reach their checks */
    take(1);
    must(kc_test_card_unlock(&card), "unlock");
    take(2);
    restore(1);
    must(kc_test_card_select(&card), "select");
    must(kc_test_card_verify_admin(&card), "verify admin");
    take(3);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    int ok = 1;
    uint8_t start = fz_byte(&in, &ok);
    if (!ok)
        return 0;
    restore(start & 3);

    const uint8_t *apdu;
    size_t len;
    for (int n = 0; n < MAX_APDUS && fz_record(&in, &apdu, &len); n++) {
        if (len == 0) {
            kc_keycard_card.power(card.ctx, KC_POWER_RESET);
            continue;
        }
        size_t r = kc_keycard_card.process(card.ctx, apdu, len, resp, sizeof resp);
        if (r < 2 || r > sizeof resp) {
            fprintf(stderr, "fuzz_keycard: answer of %zu bytes\n", r);
            abort();
        }
    }
    return 0;
}
