/*
 * downgrade_client.c - helper of 61-downgrade.sh: a station's calls through
 * libkeycard over PC/SC while faults_preload.c loses one wrapped command on
 * the line (KC_FAULT_AT=wrapped:2, the holder PIN's VERIFY).
 *
 *   downgrade_client READER ISSUER_PUB
 *
 * Opens the key card in READER with the issuer key (certified channel),
 * verifies the issuer PIN, then the holder PIN (lost on the line), then asks
 * again - issuer PIN, holder PIN, holder data - as kc-station did: each must
 * give KEYCARD_ERR_SESSION_LOST with nothing sent (the preload's log,
 * KC_FAULT_LOG, gets a line "REOPEN" before the new session so the script can
 * check that). Then keycard_reopen and both PINs again work.
 * Prints "ok: ..." / "FAIL: ..." lines; exit 0 when all passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycard.h"

#define ISSUER_PIN "13579135"
#define HOLDER_PIN "246810"

static int fails;

static void expect(const char *what, keycard_rc got, keycard_rc want)
{
    if (got == want) {
        printf("ok: %s: %s\n", what, keycard_strerror(got));
        return;
    }
    printf("FAIL: %s: got %d (%s), want %d (%s)\n", what, got, keycard_strerror(got), want,
           keycard_strerror(want));
    fails++;
}

int main(int argc, char **argv)
{
    static uint8_t pub[8192];
    char log_file[1024] = "";
    const char *v = getenv("KC_FAULT_LOG"); /* the preload drops it at the first APDU */
    if (argc != 3) {
        fprintf(stderr, "usage: downgrade_client READER ISSUER_PUB\n");
        return 2;
    }
    if (v)
        snprintf(log_file, sizeof log_file, "%s", v);
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        printf("FAIL: cannot read %s\n", argv[2]);
        return 1;
    }
    size_t pl = fread(pub, 1, sizeof pub - 1, f);
    fclose(f);
    pub[pl++] = 0; /* PEM with its NUL counted */

    keycard *kc = NULL;
    keycard_options opt = {KEYCARD_CHANNEL_AUTO, pub, pl};
    keycard_holder h;
    keycard_rc rc = keycard_open_ex(&kc, argv[1], &opt);
    expect("open with the issuer key", rc, KEYCARD_OK);
    if (rc != KEYCARD_OK)
        return 1;
    if (keycard_channel_status(kc) != KEYCARD_CHANNEL_GENUINE) {
        printf("FAIL: no certified channel\n");
        fails++;
    }
    expect("issuer PIN", keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL);
    printf("%s: holder PIN lost on the line: %d (%s)\n", rc == KEYCARD_OK ? "FAIL" : "ok", rc,
           keycard_strerror(rc));
    if (rc == KEYCARD_OK)
        fails++;
    /* What a station does next: start again on the same handle. */
    expect("issuer PIN after the fault", keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL),
           KEYCARD_ERR_SESSION_LOST);
    expect("holder PIN after the fault", keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL),
           KEYCARD_ERR_SESSION_LOST);
    expect("holder data after the fault", keycard_holder_info(kc, &h), KEYCARD_ERR_SESSION_LOST);
    if (keycard_channel_status(kc) != KEYCARD_CHANNEL_LOST) {
        printf("FAIL: channel status %d, want LOST\n", keycard_channel_status(kc));
        fails++;
    }
    if (log_file[0] && (f = fopen(log_file, "a"))) {
        fputs("REOPEN\n", f);
        fclose(f);
    }
    expect("a new session, asked for", keycard_reopen(kc), KEYCARD_OK);
    expect("issuer PIN in the new session",
           keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ISSUER_PIN, NULL), KEYCARD_OK);
    expect("holder PIN in the new session",
           keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, HOLDER_PIN, NULL), KEYCARD_OK);
    expect("holder data in the new session", keycard_holder_info(kc, &h), KEYCARD_OK);
    keycard_close(kc);
    return fails ? 1 : 0;
}
