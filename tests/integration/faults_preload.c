/*
 * faults_preload.c - fault injection for 41-host-faults.sh: an LD_PRELOAD
 * object that sits in front of pcsc-lite's SCardTransmit in kc-issue (or any
 * libkeycard program), so a host fault (card pulled, pcscd restarted, key
 * card reset) happens at an exact point of an issuance, not at a moment
 * guessed with sleep.
 *
 * Environment:
 *   KC_FAULT_AT    where the fault goes, once per process:
 *                    env:K    just before the K-th ENVELOPE (84 C2) is sent;
 *                    after:K  just after the K-th ENVELOPE's answer came back
 *                    end      just before the key card's ISSUE END (80 54)
 *                  (before a command the caller may hold a PC/SC transaction
 *                  on that card: a hook that needs the same card must use
 *                  an "after" point)
 *   KC_FAULT_HOOK  shell command run at that point (it stops/starts the
 *                  virtual cards or pcscd); the APDU is sent after it returns
 *   KC_FAULT_LOG   file: one line per APDU sent ("84C2", "8054", ...), so a
 *                  test can tell that nothing was sent to a card
 *
 * Nothing else changes: the real SCardTransmit gets the same arguments.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winscard.h>

typedef LONG (*transmit_fn)(SCARDHANDLE, const SCARD_IO_REQUEST *, LPCBYTE, DWORD,
                            SCARD_IO_REQUEST *, LPBYTE, LPDWORD);

static unsigned envelopes;
static int fired;
static char at[32], hook[2048], log_file[1024];

/*
 * Take the settings once and drop them (and LD_PRELOAD) from the
 * environment, so the hook's own programs (pcsc_apdu.py, a new pcscd) run
 * without this object.
 */
static void settings(void)
{
    static int done;
    const char *v;

    if (done)
        return;
    done = 1;
    if ((v = getenv("KC_FAULT_AT")))
        snprintf(at, sizeof at, "%s", v);
    if ((v = getenv("KC_FAULT_HOOK")))
        snprintf(hook, sizeof hook, "%s", v);
    if ((v = getenv("KC_FAULT_LOG")))
        snprintf(log_file, sizeof log_file, "%s", v);
    unsetenv("KC_FAULT_AT");
    unsetenv("KC_FAULT_HOOK");
    unsetenv("KC_FAULT_LOG");
    unsetenv("LD_PRELOAD");
}

/* 1 when this APDU is the fault point (after: 0 before it is sent, 1 after). */
static int is_fault_point(const unsigned char *apdu, DWORD len, int after)
{
    if (fired || !at[0] || len < 2)
        return 0;
    if (strncmp(at, "after:", 6) == 0)
        return after && apdu[0] == 0x84 && apdu[1] == 0xC2 &&
               envelopes == strtoul(at + 6, NULL, 10);
    if (after)
        return 0;
    if (strncmp(at, "env:", 4) == 0)
        return apdu[0] == 0x84 && apdu[1] == 0xC2 && envelopes == strtoul(at + 4, NULL, 10);
    if (strcmp(at, "end") == 0)
        return apdu[0] == 0x80 && apdu[1] == 0x54;
    return 0;
}

static void inject(void)
{
    fired = 1;
    fprintf(stderr, "faults: fault injected at %s\n", at);
    fflush(NULL);
    if (hook[0] && system(hook) != 0)
        fprintf(stderr, "faults: hook '%s' failed\n", hook);
}

LONG SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST *send_pci, LPCBYTE apdu,
                   DWORD apdu_len, SCARD_IO_REQUEST *recv_pci, LPBYTE resp, LPDWORD resp_len)
{
    static transmit_fn real;

    settings();
    if (!real) {
        real = (transmit_fn)dlsym(RTLD_NEXT, "SCardTransmit");
        if (!real)
            return SCARD_F_INTERNAL_ERROR;
    }
    if (apdu && apdu_len >= 2) {
        if (apdu[0] == 0x84 && apdu[1] == 0xC2)
            envelopes++;
        if (log_file[0]) {
            FILE *f = fopen(log_file, "a");
            if (f) {
                fprintf(f, "%02X%02X\n", apdu[0], apdu[1]);
                fclose(f);
            }
        }
        if (is_fault_point(apdu, apdu_len, 0))
            inject();
    }
    LONG r = real(card, send_pci, apdu, apdu_len, recv_pci, resp, resp_len);
    if (apdu && is_fault_point(apdu, apdu_len, 1))
        inject();
    return r;
}
