/*
 * lib_pcsc.c - helper of 21-lib-pcsc.sh: libkeycard over real PC/SC against
 * the virtual key card.
 *
 *   lib_pcsc provision STATE   provision a flash image over "sim:" (demo PINs,
 *                              a channel key certified by the demo issuer)
 *   lib_pcsc run VCARD_PID     find the key card by AID, verify PINs, check
 *                              identity, see a reset by another client end
 *                              the session (nothing sent until keycard_reopen),
 *                              then stop kc-vcard (VCARD_PID) and require the
 *                              next call to fail promptly with CARD_REMOVED
 *                              or NO_CARD.
 * Prints "ok: ..." / "FAIL: ..." lines; exit 0 when all passed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "keycard.h"
#include "keycard_sim.h"
#include "keycard_proto.h"

#define ISSUER_PIN "13579135"
#define HOLDER_PIN "246810"
static const uint8_t admin_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static int fails;

#define EXPECT(what, got, want)                                                             \
    do {                                                                                    \
        keycard_rc g_ = (got);                                                              \
        if (g_ == (want))                                                                   \
            printf("ok: %s\n", what);                                                       \
        else {                                                                              \
            printf("FAIL: %s: got %d (%s), want %d (%s)\n", what, g_, keycard_strerror(g_), \
                   (int)(want), keycard_strerror(want));                                    \
            fails++;                                                                        \
        }                                                                                   \
    } while (0)

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL: cannot read %s\n", path);
        exit(1);
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int provision(const char *state)
{
    char where[512];
    uint8_t key[4096], d[40];
    size_t kl = slurp("examples/profiles/demo-issuer.key.pem", key, sizeof key);
    keycard *kc;
    keycard_identity id;
    snprintf(where, sizeof where, "sim:%s", state);
    EXPECT("open sim", keycard_open(&kc, where), KEYCARD_OK);
    if (fails)
        return 1;
    EXPECT("begin", keycard_provision_begin(kc), KEYCARD_OK);
    d[0] = 3;
    memcpy(d + 1, ISSUER_PIN, 8);
    EXPECT("put issuer PIN", keycard_provision_put(kc, KC_TAG_ISSUER_PIN, d, 9), KEYCARD_OK);
    memcpy(d + 1, HOLDER_PIN, 6);
    EXPECT("put holder PIN", keycard_provision_put(kc, KC_TAG_HOLDER_PIN, d, 7), KEYCARD_OK);
    memcpy(d + 1, admin_key, 16);
    EXPECT("put admin key", keycard_provision_put(kc, KC_TAG_ADMIN_KEY, d, 17), KEYCARD_OK);
    EXPECT("put name", keycard_provision_put(kc, KC_TAG_HOLDER_NAME, (const uint8_t *)"Test", 4),
           KEYCARD_OK);
    EXPECT("put number",
           keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER, (const uint8_t *)"T-0001", 6),
           KEYCARD_OK);
    EXPECT("generate", keycard_provision_generate(kc, &id), KEYCARD_OK);
    EXPECT("sign", keycard_identity_sign(&id, key, kl), KEYCARD_OK);
    EXPECT("put signature", keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, id.issuer_sig, 64),
           KEYCARD_OK);
    keycard_channel_key ck;
    uint8_t policy = KC_CHANNEL_REQUIRED;
    EXPECT("generate channel key", keycard_provision_generate_channel(kc, &ck), KEYCARD_OK);
    EXPECT("sign channel key", keycard_channel_key_sign(&ck, key, kl), KEYCARD_OK);
    EXPECT("put channel signature",
           keycard_provision_put(kc, KC_TAG_CHANNEL_SIG, ck.issuer_sig, 64), KEYCARD_OK);
    EXPECT("put channel policy", keycard_provision_put(kc, KC_TAG_CHANNEL_POLICY, &policy, 1),
           KEYCARD_OK);
    EXPECT("commit", keycard_provision_commit(kc), KEYCARD_OK);
    keycard_close(kc);
    return fails ? 1 : 0;
}

static int run(pid_t vcard)
{
    char readers[4096];
    uint8_t pub[4096];
    size_t pl = slurp("examples/profiles/demo-issuer.pub.pem", pub, sizeof pub);
    EXPECT("list readers", keycard_list_readers(readers, sizeof readers), KEYCARD_OK);
    printf("readers:\n%s\n", readers);

    keycard *kc = NULL;
    keycard_options opt = {KEYCARD_CHANNEL_AUTO, pub, pl};
    double t0 = now();
    EXPECT("open by AID over PC/SC (where NULL)", keycard_open_ex(&kc, NULL, &opt), KEYCARD_OK);
    if (!kc)
        return 1;
    printf("key card in: %s (%.1f ms)\n", keycard_reader_name(kc), (now() - t0) * 1e3);
    if (strstr(keycard_reader_name(kc), " 00 00") == NULL) {
        printf("FAIL: key card expected in slot 0\n");
        fails++;
    }
    keycard_status st;
    EXPECT("status", keycard_status_read(kc, &st), KEYCARD_OK);
    if (st.lifecycle != KEYCARD_LIFECYCLE_PROVISIONED) {
        printf("FAIL: key card not provisioned\n");
        fails++;
    }
    int t = -1;
    EXPECT("wrong issuer PIN", keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "00000000", &t),
           KEYCARD_ERR_WRONG_PIN);
    if (t != 2) {
        printf("FAIL: tries left %d after a wrong PIN, want 2\n", t);
        fails++;
    }
    EXPECT("issuer PIN", keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t), KEYCARD_OK);
    EXPECT("holder PIN", keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &t), KEYCARD_OK);
    EXPECT("tries left restored", keycard_tries_left(kc, KEYCARD_PIN_ISSUER, &t), KEYCARD_OK);
    if (t != 3) {
        printf("FAIL: tries left %d, want 3\n", t);
        fails++;
    }
    keycard_holder h;
    EXPECT("holder info", keycard_holder_info(kc, &h), KEYCARD_OK);
    EXPECT("identity check", keycard_identity_check(kc, pub, pl, NULL), KEYCARD_OK);

    /* Another client resets the card: the session is lost, and said so. */
    keycard *other = NULL;
    EXPECT("second handle on the same reader",
           keycard_open(&other, keycard_reader_name(kc)), KEYCARD_OK);
    if (other)
        keycard_close(other); /* disconnects with a card reset */
    EXPECT("reset by another client reported", keycard_holder_info(kc, &h),
           KEYCARD_ERR_CARD_RESET);
    EXPECT("after the reset, the session is lost", keycard_holder_info(kc, &h),
           KEYCARD_ERR_SESSION_LOST);
    EXPECT("the issuer PIN is not sent", keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t),
           KEYCARD_ERR_SESSION_LOST);
    EXPECT("a new session on the same handle", keycard_reopen(kc), KEYCARD_OK);
    if (keycard_channel_status(kc) != KEYCARD_CHANNEL_GENUINE) {
        printf("FAIL: the new session has no certified channel\n");
        fails++;
    }
    EXPECT("after the reset, PINs are needed again", keycard_holder_info(kc, &h),
           KEYCARD_ERR_NOT_VERIFIED);
    EXPECT("issuer PIN again", keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t),
           KEYCARD_OK);
    EXPECT("holder PIN again", keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, &t),
           KEYCARD_OK);
    EXPECT("holder info again", keycard_holder_info(kc, &h), KEYCARD_OK);

    /*
     * Looking for the target card on every reader must not touch the key
     * card: no plain command into its channel, no reset on the way out.
     */
    keycard_target *tg = NULL;
    EXPECT("target found by probing every reader (where NULL)", keycard_target_open(&tg, NULL),
           KEYCARD_OK);
    if (tg) {
        if (strstr(keycard_target_reader_name(tg), " 00 01") == NULL) {
            printf("FAIL: target expected in slot 1, found in %s\n", keycard_target_reader_name(tg));
            fails++;
        }
        keycard_target_close(tg);
    }
    EXPECT("the key card's session survived the probe", keycard_holder_info(kc, &h), KEYCARD_OK);
    EXPECT("a reader that does not exist", keycard_target_open(&tg, "No Such Reader 99"),
           KEYCARD_ERR_NO_READER);
    if (strstr(keycard_strerror(KEYCARD_ERR_NO_READER), "pcscd")) {
        printf("FAIL: \"no such reader\" still suggests pcscd is not running\n");
        fails++;
    }

    /* Pull the card: stop kc-vcard and wait until the process is gone. */
    if (kill(vcard, SIGTERM) != 0) {
        printf("FAIL: cannot stop kc-vcard pid %d\n", (int)vcard);
        return 1;
    }
    for (int i = 0; i < 100 && kill(vcard, 0) == 0; i++)
        usleep(50000);
    t0 = now();
    keycard_rc rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, &t);
    double dt = now() - t0;
    printf("after the card was pulled: %d (%s) in %.1f ms\n", rc, keycard_strerror(rc), dt * 1e3);
    if (rc != KEYCARD_ERR_CARD_REMOVED && rc != KEYCARD_ERR_NO_CARD) {
        printf("FAIL: want CARD_REMOVED or NO_CARD\n");
        fails++;
    } else {
        printf("ok: pulled card reported\n");
    }
    if (dt > 5.0) {
        printf("FAIL: took %.1f s\n", dt);
        fails++;
    }
    t0 = now();
    rc = keycard_status_read(kc, &st);
    dt = now() - t0;
    printf("next call: %d (%s) in %.1f ms\n", rc, keycard_strerror(rc), dt * 1e3);
    if ((rc != KEYCARD_ERR_CARD_REMOVED && rc != KEYCARD_ERR_NO_CARD) || dt > 5.0) {
        printf("FAIL: want CARD_REMOVED or NO_CARD, promptly\n");
        fails++;
    }
    keycard_close(kc);
    /* And nobody answers the AID any more. */
    t0 = now();
    rc = keycard_open(&kc, NULL);
    printf("open after the pull: %d (%s) in %.1f ms\n", rc, keycard_strerror(rc),
           (now() - t0) * 1e3);
    if (rc == KEYCARD_OK) {
        keycard_close(kc);
        printf("FAIL: a key card was still found\n");
        fails++;
    } else if (rc != KEYCARD_ERR_NO_CARD) {
        printf("FAIL: want NO_CARD\n");
        fails++;
    }
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    (void)keycard_sim_enable(); /* sim: cards (libkeycard-sim) */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "provision") == 0)
        return provision(argv[2]);
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return run((pid_t)atoi(argv[2]));
    fprintf(stderr, "usage: lib_pcsc provision STATE | run VCARD_PID\n");
    return 2;
}
