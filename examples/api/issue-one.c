/*
 * issue-one.c - one target card issued with libkeycard's public API alone
 * (keycard.h, and keycard_sim.h for "sim:" images): what an issuing
 * application does, without the project's tools or issuance engine.
 *
 *   cc issue-one.c $(pkg-config --cflags --libs keycard-sim) -o issue-one
 *   KEYCARD_ISSUER_PIN=... KEYCARD_HOLDER_PIN=... ./issue-one KEYCARD TARGET ISSUER_PUB
 *
 * KEYCARD and TARGET as keycard_open takes them (a reader name, "sim:FILE");
 * ISSUER_PUB the issuer's public key file. The profile is fixed here: with
 * the key card's key 1 and the target's own seed (way 03), template 1
 * creates folder 1000 "STORE" under the master file, template 13 locks the
 * card (the templates of examples/profiles/demo.json). The PINs come from the
 * environment to keep the example short; a station asks a person for them.
 * Exit status: 0 issued, 1 refused or failed, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keycard.h>
#include <keycard_sim.h>

static int fail(const char *what, keycard_rc rc)
{
    fprintf(stderr, "issue-one: %s: %s\n", what, keycard_strerror(rc));
    return 1;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = f ? malloc(65536) : NULL;
    *len = b ? fread(b, 1, 65536, f) : 0;
    if (f)
        fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    const char *ipin = getenv("KEYCARD_ISSUER_PIN"), *hpin = getenv("KEYCARD_HOLDER_PIN");
    if (argc != 4 || !ipin || !hpin) {
        fprintf(stderr, "usage: KEYCARD_ISSUER_PIN=.. KEYCARD_HOLDER_PIN=.. issue-one KEYCARD "
                        "TARGET ISSUER_PUB\n");
        return 2;
    }
    keycard_sim_enable();

    /* 1. The key card, its channel certified by the issuer key, and its PINs. */
    size_t pub_len;
    uint8_t *pub = read_all(argv[3], &pub_len);
    keycard_open_options *opt = NULL;
    keycard *kc = NULL;
    keycard_rc rc = keycard_open_options_new(&opt);
    if (rc == KEYCARD_OK)
        rc = keycard_open_options_issuer_pub(opt, pub, pub_len);
    free(pub);
    if (rc == KEYCARD_OK)
        rc = keycard_open_with(&kc, argv[1], opt);
    keycard_open_options_free(opt);
    if (rc != KEYCARD_OK)
        return fail("open the key card", rc);
    int left;
    if ((rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ipin, &left)) != KEYCARD_OK ||
        (rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, hpin, &left)) != KEYCARD_OK)
        return fail("PINs", rc);

    /* 2. The target: its serial, then BEGIN on both cards with both nonces. */
    keycard_target *t = NULL;
    keycard_target_info info;
    keycard_issue_nonces nonces;
    if ((rc = keycard_target_open(&t, argv[2])) != KEYCARD_OK ||
        (rc = keycard_target_info_read(t, &info)) != KEYCARD_OK)
        return fail("open the target card", rc);
    if ((rc = keycard_target_issue_begin(t, KEYCARD_WAY_TARGET_SEED, 1, &nonces)) != KEYCARD_OK ||
        (rc = keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, info.serial, 1, 256, &nonces)) !=
            KEYCARD_OK ||
        (rc = keycard_target_issue_bind(t, &nonces)) != KEYCARD_OK)
        return fail("BEGIN", rc);
    keycard_issue_nonces_wipe(&nonces);

    /* 3. The steps: parameters built item by item, never by hand. */
    uint8_t p1[64];
    size_t n1 = 0;
    if ((rc = keycard_param_int(p1, sizeof p1, &n1, 0x1000, 2)) != KEYCARD_OK ||  /* FID */
        (rc = keycard_param_int(p1, sizeof p1, &n1, 0x3F00, 2)) != KEYCARD_OK ||  /* parent */
        (rc = keycard_param_int(p1, sizeof p1, &n1, 512, 2)) != KEYCARD_OK ||     /* size */
        (rc = keycard_param_int(p1, sizeof p1, &n1, 0x00, 1)) != KEYCARD_OK ||    /* read AC */
        (rc = keycard_param_int(p1, sizeof p1, &n1, 0xFF, 1)) != KEYCARD_OK ||    /* write AC */
        (rc = keycard_param_bytes(p1, sizeof p1, &n1, "STORE", 5)) != KEYCARD_OK) /* name */
        return fail("parameters", rc);
    const keycard_step steps[] = {{1, p1, n1}, {13, NULL, 0}};
    const size_t n = sizeof steps / sizeof steps[0];

    /* 4. WRAP: the key card makes the envelopes; their size asked first. */
    size_t cap;
    if ((rc = keycard_issue_wrap_size(kc, n, &cap)) != KEYCARD_OK)
        return fail("WRAP size", rc);
    uint8_t *env = malloc(cap);
    if (!env)
        return fail("WRAP", KEYCARD_ERR_MEMORY);
    if ((rc = keycard_issue_wrap(kc, steps, n, env, &cap)) != KEYCARD_OK)
        return fail("WRAP", rc);

    /* 5. Each envelope to the target; the last answers the completion MAC. */
    uint16_t sws[2];
    uint8_t mac[KEYCARD_MAC_LEN];
    size_t off = 0, mac_len = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *apdu;
        size_t alen;
        mac_len = sizeof mac;
        if ((rc = keycard_issue_next(env, cap, &off, &apdu, &alen)) != KEYCARD_OK ||
            (rc = keycard_target_envelope(t, apdu, alen, &sws[i], mac, &mac_len, NULL)) !=
                KEYCARD_OK)
            return fail("ENVELOPE", rc);
        if (sws[i] != 0x9000) {
            fprintf(stderr, "issue-one: step %zu: inner SW %04X\n", i + 1, sws[i]);
            return 1;
        }
    }
    free(env);

    /* 6. END: the key card checks the MAC and writes the receipt. */
    int result = -1;
    if (mac_len != sizeof mac)
        return fail("the lock answered no completion MAC", KEYCARD_ERR_PROTOCOL);
    if ((rc = keycard_issue_end(kc, sws, n, mac, &result)) != KEYCARD_OK)
        return fail("END", rc);
    printf("card %02X%02X%02X%02X%02X%02X%02X%02X: %s\n", info.serial[0], info.serial[1],
           info.serial[2], info.serial[3], info.serial[4], info.serial[5], info.serial[6],
           info.serial[7], result == KEYCARD_ISSUE_COMPLETED ? "ISSUED" : "NOT VERIFIED");
    keycard_target_close(t);
    keycard_close(kc);
    return result == KEYCARD_ISSUE_COMPLETED ? 0 : 1;
}
