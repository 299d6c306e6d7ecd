/*
 * faults_preload.c - fault injection for 41-host-faults.sh and
 * 61-downgrade.sh: an LD_PRELOAD object that sits in front of pcsc-lite's
 * SCardTransmit in kc-issue (or any libkeycard program), so a host fault
 * (card pulled, pcscd restarted, key card reset, a command lost on the line)
 * happens at an exact point, not at a moment guessed with sleep, and so a
 * hostile reader can be played (a stripped channel certificate).
 *
 * Environment:
 *   KC_FAULT_AT    where the fault goes, once per process:
 *                    env:K      just before the K-th ENVELOPE (84 C2) is sent;
 *                    after:K    just after the K-th ENVELOPE's answer came back
 *                    end        just before the key card's ISSUE END (80 54, or
 *                               84 54 inside the secure channel)
 *                    wrapped:K  the K-th secure-channel command to the key
 *                               card (CLA 04 or 84, not an ENVELOPE) is not
 *                               sent: SCardTransmit fails with
 *                               SCARD_F_COMM_ERROR, as on a broken line
 *                  (before a command the caller may hold a PC/SC transaction
 *                  on that card: a hook that needs the same card must use
 *                  an "after" point)
 *   KC_FAULT_HOOK  shell command run at that point (it stops/starts the
 *                  virtual cards or pcscd); the APDU is sent after it returns
 *   KC_FAULT_LOG   file: one line per APDU sent ("84C2", "8054", ...), so a
 *                  test can tell that nothing was sent to a card; a fault
 *                  adds a line "FAULT"
 *   KC_FAULT_STRIP_CERT=1  a reader that hides the key card's channel
 *                  certificate: GET DATA DF07 is answered 6A88 here and not
 *                  sent (logged as "STRIP")
 *   KC_FAULT_V1=1  a key card of protocol version 1: the version in the
 *                  answer to SELECT (status blob tag C6) reads 01 00
 *                  (logged as "V1")
 *
 * Nothing else changes: the real SCardTransmit gets the same arguments.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winscard.h>

typedef LONG (*transmit_fn)(SCARDHANDLE, const SCARD_IO_REQUEST *, LPCBYTE, DWORD,
                            SCARD_IO_REQUEST *, LPBYTE, LPDWORD);

static unsigned envelopes, wrapped;
static int fired, strip_cert, as_v1;
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
    strip_cert = (v = getenv("KC_FAULT_STRIP_CERT")) && strcmp(v, "1") == 0;
    as_v1 = (v = getenv("KC_FAULT_V1")) && strcmp(v, "1") == 0;
    unsetenv("KC_FAULT_AT");
    unsetenv("KC_FAULT_HOOK");
    unsetenv("KC_FAULT_LOG");
    unsetenv("KC_FAULT_STRIP_CERT");
    unsetenv("KC_FAULT_V1");
    unsetenv("LD_PRELOAD");
}

/* A secure-channel command to the key card (an ENVELOPE to the target is 84 C2 too). */
static int is_wrapped(const unsigned char *apdu)
{
    return (apdu[0] == 0x04 || apdu[0] == 0x84) && apdu[1] != 0xC2;
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
    if (strcmp(at, "end") == 0) /* in plain or inside the secure channel (CLA 84) */
        return (apdu[0] == 0x80 || apdu[0] == 0x84) && apdu[1] == 0x54;
    if (strncmp(at, "wrapped:", 8) == 0)
        return is_wrapped(apdu) && wrapped == strtoul(at + 8, NULL, 10);
    return 0;
}

static void log_line(const char *line)
{
    FILE *f;

    if (log_file[0] && (f = fopen(log_file, "a"))) {
        fprintf(f, "%s\n", line);
        fclose(f);
    }
}

static void inject(void)
{
    fired = 1;
    fprintf(stderr, "faults: fault injected at %s\n", at);
    fflush(NULL);
    log_line("FAULT");
    if (!hook[0])
        return;
    /*
     * Not system(): it ignores SIGINT in the caller while the hook runs, and a
     * hook may be the very Ctrl-C the program under test must see.
     */
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", hook, (char *)NULL);
        _exit(127);
    }
    int st = -1;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
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
        if (is_wrapped(apdu))
            wrapped++;
        if (strip_cert && apdu_len >= 4 && apdu[0] == 0x00 && apdu[1] == 0xCA &&
            apdu[2] == 0xDF && apdu[3] == 0x07 && resp && resp_len && *resp_len >= 2) {
            log_line("STRIP");
            resp[0] = 0x6A;
            resp[1] = 0x88;
            *resp_len = 2;
            return SCARD_S_SUCCESS;
        }
        if (strncmp(at, "wrapped:", 8) == 0 && is_fault_point(apdu, apdu_len, 0)) {
            inject();
            return SCARD_F_COMM_ERROR; /* lost on the line: the card never sees it */
        }
        if (log_file[0]) {
            char head[8];
            snprintf(head, sizeof head, "%02X%02X", apdu[0], apdu[1]);
            log_line(head);
        }
        if (is_fault_point(apdu, apdu_len, 0))
            inject();
    }
    LONG r = real(card, send_pci, apdu, apdu_len, recv_pci, resp, resp_len);
    if (as_v1 && r == SCARD_S_SUCCESS && apdu && apdu_len >= 4 && apdu[0] == 0x00 &&
        apdu[1] == 0xA4 && apdu[2] == 0x04 && apdu[3] == 0x00 && resp && resp_len) {
        /* The status blob's version TLV C6 02 (major minor): 02 xx -> 01 00. */
        for (DWORD i = 0; i + 4 <= *resp_len; i++)
            if (resp[i] == 0xC6 && resp[i + 1] == 0x02 && resp[i + 2] == 0x02) {
                resp[i + 2] = 0x01;
                resp[i + 3] = 0x00;
                log_line("V1");
                break;
            }
    }
    if (apdu && is_fault_point(apdu, apdu_len, 1))
        inject();
    return r;
}
