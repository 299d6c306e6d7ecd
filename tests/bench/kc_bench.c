/*
 * kc_bench.c - the measuring half of `make bench` (tests/bench/run.sh is the
 * driver): the cost of issuance against the limits of the link, the crypto
 * and the flash. Absolute times on a shared machine are noise, so every
 * figure comes with the limit it is compared to.
 *
 *   kc_bench pcsc --reader R --target-reader T --profile P --out JSON [--cards N]
 *       (1) no-op APDU round trip, (2) WRAP one step per exchange, (3) batched
 *       WRAP, all through libkeycard over pcscd + vpcd; (5) whole cards issued
 *       from P by the station's own code (issuance/issue.c) from the
 *       stacker in T, with the APDUs and bytes of each line counted.
 *   kc_bench sim --keycard FILE --target-blank FILE --profile P --out JSON
 *       (4) WRAP through the in-process sim transport against a bare mbedTLS
 *       loop doing the same KDF chain step + AES-256-SIV seal; (6) flash wear
 *       of the key card per issued card; the firmware's RAM context size (7).
 *
 * The program is linked against libkeycard-internal.a with
 * -Wl,--wrap=SCardConnect,--wrap=SCardTransmit,--wrap=kc_hw_file_open: the
 * wrappers below count what goes over each PC/SC line and find the key card's
 * flash wear counters (kc_hw_file) without touching product code.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>
#include <mbedtls/cipher.h>
#include <mbedtls/cmac.h>
#include <mbedtls/aes.h>

#include "hw/kc_hw_file.h"
#include "kc_card.h"
#include "kc_template.h"
#include "keycard.h"
#include "keycard_sim.h"
#include "keycard_proto.h"
#include "station.h"

/* ---- wrappers: counting the lines, finding the wear counters ------------ */

#define LINES_MAX 8

typedef struct line_count {
    SCARDHANDLE h;
    const SCARD_IO_REQUEST *pci; /* the protocol the library sends with */
    char reader[128];
    unsigned long apdus, cmd_bytes, resp_bytes;
} line_count;

static line_count lines[LINES_MAX];
static int trace;

LONG __real_SCardConnect(SCARDCONTEXT, LPCSTR, DWORD, DWORD, LPSCARDHANDLE, LPDWORD);
LONG __real_SCardTransmit(SCARDHANDLE, const SCARD_IO_REQUEST *, LPCBYTE, DWORD,
                          SCARD_IO_REQUEST *, LPBYTE, LPDWORD);
int __real_kc_hw_file_open(kc_hw_file *hf, const char *path, size_t size, size_t page_size,
                           kc_hw *out);

LONG __wrap_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD proto,
                         LPSCARDHANDLE h, LPDWORD active);
LONG __wrap_SCardTransmit(SCARDHANDLE h, const SCARD_IO_REQUEST *spci, LPCBYTE cmd, DWORD clen,
                          SCARD_IO_REQUEST *rpci, LPBYTE resp, LPDWORD rlen);
int __wrap_kc_hw_file_open(kc_hw_file *hf, const char *path, size_t size, size_t page_size,
                           kc_hw *out);
int __real_kc_template_fill(const kc_template *t, const uint8_t *params, size_t plen,
                            const kc_template_keys *keys, uint8_t *out, size_t cap,
                            size_t *data_len);
int __wrap_kc_template_fill(const kc_template *t, const uint8_t *params, size_t plen,
                            const kc_template_keys *keys, uint8_t *out, size_t cap,
                            size_t *data_len);

/* Counts are kept per reader name, so a reconnected target keeps its line. */
static line_count *line_of_reader(const char *reader)
{
    for (int i = 0; i < LINES_MAX; i++)
        if (lines[i].reader[0] && strcmp(lines[i].reader, reader) == 0)
            return &lines[i];
    for (int i = 0; i < LINES_MAX; i++)
        if (!lines[i].reader[0]) {
            snprintf(lines[i].reader, sizeof lines[i].reader, "%s", reader);
            return &lines[i];
        }
    return NULL;
}

LONG __wrap_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD proto,
                         LPSCARDHANDLE h, LPDWORD active)
{
    LONG r = __real_SCardConnect(ctx, reader, share, proto, h, active);
    if (r == SCARD_S_SUCCESS && reader) {
        line_count *l = line_of_reader(reader);
        if (l)
            l->h = *h;
    }
    return r;
}

LONG __wrap_SCardTransmit(SCARDHANDLE h, const SCARD_IO_REQUEST *spci, LPCBYTE cmd, DWORD clen,
                          SCARD_IO_REQUEST *rpci, LPBYTE resp, LPDWORD rlen)
{
    LONG r = __real_SCardTransmit(h, spci, cmd, clen, rpci, resp, rlen);
    for (int i = 0; i < LINES_MAX; i++)
        if (lines[i].reader[0] && lines[i].h == h) {
            lines[i].pci = spci;
            lines[i].apdus++;
            lines[i].cmd_bytes += clen;
            if (r == SCARD_S_SUCCESS && rlen)
                lines[i].resp_bytes += *rlen;
            /* KC_BENCH_TRACE=1: one line per APDU, to see what a figure is made of. */
            if (trace && clen >= 4 && r == SCARD_S_SUCCESS && rlen && *rlen >= 2)
                fprintf(stderr, "trace: %s: %02X %02X %02X %02X, %lu bytes -> %lu bytes, SW %02X%02X\n",
                        lines[i].reader, cmd[0], cmd[1], cmd[2], cmd[3], (unsigned long)clen,
                        (unsigned long)*rlen, resp[*rlen - 2], resp[*rlen - 1]);
            break;
        }
    return r;
}

static kc_hw_file *wear_hf;          /* the key card's flash, once opened */
static const char *wear_path;        /* which image is the key card's */

/*
 * The inner commands the key card makes (its WRAP fills each step's template
 * once): their number and their bytes as plain APDUs would carry them,
 * header (4) + Lc (1, when there is data) + data + status word (2). What the
 * line efficiency of (5) divides by the target line's bytes.
 */
static unsigned long inner_cmds, inner_bytes;

int __wrap_kc_template_fill(const kc_template *t, const uint8_t *params, size_t plen,
                            const kc_template_keys *keys, uint8_t *out, size_t cap,
                            size_t *data_len)
{
    int r = __real_kc_template_fill(t, params, plen, keys, out, cap, data_len);
    if (r == 0) {
        inner_cmds++;
        inner_bytes += 4 + (*data_len ? 1 + *data_len : 0) + 2;
    }
    return r;
}

int __wrap_kc_hw_file_open(kc_hw_file *hf, const char *path, size_t size, size_t page_size,
                           kc_hw *out)
{
    int r = __real_kc_hw_file_open(hf, path, size, page_size, out);
    if (r == 0 && wear_path && strcmp(path, wear_path) == 0)
        wear_hf = hf;
    return r;
}

static void lines_reset(void)
{
    for (int i = 0; i < LINES_MAX; i++)
        lines[i].apdus = lines[i].cmd_bytes = lines[i].resp_bytes = 0;
}

static line_count *line_named(const char *reader)
{
    line_count *l = line_of_reader(reader);
    static line_count none;
    return l ? l : &none;
}

/* ---- timing and statistics ---------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), nearest rank; sorts v. */
static double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static double median(double *v, size_t n) { return quantile(v, n, 0.5); }

static void die(const char *what, keycard_rc rc)
{
    fprintf(stderr, "kc_bench: %s: %s\n", what, keycard_strerror(rc));
    exit(1);
}

/* ---- the key card session ------------------------------------------------ */

static keycard *open_keycard_mode(const char *where, keycard_channel_mode mode)
{
    keycard *kc;
    keycard_rc rc;
    const char *ip = getenv("KEYCARD_ISSUER_PIN"), *hp = getenv("KEYCARD_HOLDER_PIN");
    int left;
    keycard_options opt;

    memset(&opt, 0, sizeof opt);
    opt.channel = mode;
    if ((rc = keycard_open_ex(&kc, where, &opt)) != KEYCARD_OK)
        die("open the key card", rc);
    if ((rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ip ? ip : "13579135", &left)) != 0)
        die("issuer PIN", rc);
    if ((rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, hp ? hp : "246810", &left)) != 0)
        die("holder PIN", rc);
    return kc;
}

static keycard *open_keycard(const char *where)
{
    return open_keycard_mode(where, KEYCARD_CHANNEL_AUTO);
}

/*
 * The bare-link figures send a plain APDU under libkeycard's feet, which ends
 * the key card's secure channel and with it the verified PINs: a new session
 * (keycard_reopen) and the PINs again. Outside every timed part.
 */
static void reopen_keycard(keycard *kc)
{
    const char *ip = getenv("KEYCARD_ISSUER_PIN"), *hp = getenv("KEYCARD_HOLDER_PIN");
    keycard_rc rc = keycard_reopen(kc);
    if (rc == KEYCARD_OK)
        rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ip ? ip : "13579135", NULL);
    if (rc == KEYCARD_OK)
        rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, hp ? hp : "246810", NULL);
    if (rc != KEYCARD_OK)
        die("reopen the key card after the bare link", rc);
}

/* The profile's steps as WRAP takes them (no CSV parameters allowed here). */
static size_t profile_steps(const kci_profile *p, keycard_step *steps)
{
    static uint8_t params[KCI_STEPS_MAX][KCI_STEP_BYTES_MAX];
    char err[256];
    for (size_t i = 0; i < p->n_steps; i++) {
        long n = kci_step_encode(&p->steps[i], NULL, -1, params[i], sizeof params[i], err,
                                 sizeof err);
        if (n < 0) {
            fprintf(stderr, "kc_bench: step %zu: %s\n", i + 1, err);
            exit(1);
        }
        steps[i].template_no = (uint8_t)p->steps[i].template_no;
        steps[i].params = params[i];
        steps[i].params_len = (size_t)n;
    }
    return p->n_steps;
}

static const uint8_t bench_serial[8] = {0x42, 0x45, 0x4E, 0x43, 0x48, 0x00, 0x00, 0x01};
static const uint8_t bench_seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/*
 * Export-and-acknowledge as an operator would: the key card refuses BEGIN
 * once its audit log holds KC_AUDIT_CAPACITY - reserve unacknowledged
 * entries, and the bench writes a receipt per session. The admin key is the
 * one of examples/profiles/demo.json (KC_BENCH_ADMIN_KEY overrides it).
 * Outside every timed part.
 */
static void audit_ack_all(keycard *kc)
{
    uint8_t key[32];
    size_t klen = 0;
    const char *hex = getenv("KC_BENCH_ADMIN_KEY");
    if (!hex)
        hex = "000102030405060708090A0B0C0D0E0F";
    for (; hex[0] && hex[1] && klen < sizeof key; hex += 2) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        key[klen++] = (uint8_t)v;
    }
    keycard_audit_head h;
    keycard_rc rc = keycard_verify_admin(kc, key, klen, NULL);
    if (rc == KEYCARD_OK)
        rc = keycard_audit_sign(kc, NULL, 0, &h);
    if (rc == KEYCARD_OK)
        rc = keycard_audit_ack(kc, h.next);
    if (rc != KEYCARD_OK)
        die("audit acknowledge", rc);
}

/*
 * A WRAP session not tied to a target: way 3 with a fixed target nonce (the
 * key card cannot tell), so no target card is involved; the key card still
 * commits its BEGIN audit entry, as in production.
 */
static void session_begin(keycard *kc, const kci_profile *p)
{
    keycard_issue_nonces n;
    memset(&n, 0, sizeof n);
    memcpy(n.target_nonce, bench_seed, sizeof n.target_nonce);
    keycard_rc rc = keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, bench_serial,
                                       (uint8_t)p->key, p->bucket, &n);
    if (rc == KEYCARD_ERR_CARD_MEMORY) {
        audit_ack_all(kc);
        rc = keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, bench_serial, (uint8_t)p->key,
                                p->bucket, &n);
    }
    if (rc != KEYCARD_OK)
        die("issue begin", rc);
}

static void session_abort(keycard *kc)
{
    int result;
    keycard_rc rc = keycard_issue_end(kc, NULL, 0, NULL, &result);
    if (rc != KEYCARD_OK)
        die("issue end", rc);
}

static uint8_t envbuf[KCI_STEPS_MAX * 1100];

/*
 * Envelopes per second of WRAP, `per` steps per call, `total` envelopes per
 * run (sessions are renewed before they reach 64 envelopes; BEGIN and END are
 * outside the timed part), the key card held (keycard_hold) across the run as
 * a station holds it across a card. The key-card APDUs per call go to
 * *apdus_per_call.
 */
static double wrap_rate(keycard *kc, const kci_profile *p, const keycard_step *steps,
                        size_t nsteps, size_t per, size_t total, double *apdus_per_call,
                        const char *reader, double *lat_us)
{
    size_t used = KCI_STEPS_MAX, done = 0, next = 0, calls = 0;
    double t = 0;
    unsigned long apdus = 0;
    keycard_step batch[KCI_STEPS_MAX];

    /* Held as a station holds the key card over a card: one transaction, not one per call. */
    keycard_rc hr = keycard_hold(kc);
    if (hr != KEYCARD_OK)
        die("hold", hr);
    while (done < total) {
        /* A session ends with its lock step (protocol v2): the next batch needs a new one. */
        if (used + per > KCI_STEPS_MAX) {
            if (used != KCI_STEPS_MAX || done)
                session_abort(kc);
            session_begin(kc, p);
            used = 0;
        }
        int locked = 0;
        for (size_t i = 0; i < per; i++) {
            if (p->lock && next % nsteps == nsteps - 1)
                locked = 1;
            batch[i] = steps[next++ % nsteps];
        }
        size_t len = sizeof envbuf;
        unsigned long a0 = reader ? line_named(reader)->apdus : 0;
        double t0 = now_s();
        keycard_rc rc = keycard_issue_wrap(kc, batch, per, envbuf, &len);
        t += now_s() - t0;
        if (lat_us)
            lat_us[calls] = (now_s() - t0) * 1e6;
        if (reader)
            apdus += line_named(reader)->apdus - a0;
        if (rc != KEYCARD_OK)
            die("issue wrap", rc);
        used = locked ? KCI_STEPS_MAX : used + per;
        done += per;
        calls++;
    }
    session_abort(kc);
    keycard_release(kc);
    if (apdus_per_call && reader)
        *apdus_per_call = (double)apdus / (double)calls;
    return (double)done / t;
}

/* ---- pcsc: link, WRAP, batched WRAP, whole cards -------------------------- */

#define RUNS 5       /* in-process runs */
#define PCSC_RUNS 9  /* interleaved PC/SC runs */

/* Open the target in where; skip the card just ejected (prev) for up to 15 s. */
static keycard_target *next_target(const char *where, const uint8_t *prev)
{
    double until = now_s() + 15;
    for (;;) {
        keycard_target *t;
        keycard_target_info info;
        if (keycard_target_open(&t, where) == KEYCARD_OK) {
            if (keycard_target_info_read(t, &info) == KEYCARD_OK &&
                (!prev || memcmp(info.serial, prev, 8) != 0))
                return t;
            keycard_target_close(t);
        }
        if (now_s() > until)
            return NULL;
        usleep(20000);
    }
}

static int cmd_pcsc(const char *reader, const char *treader, const char *profile,
                    const char *out, int ncards)
{
    static kci_profile prof;
    keycard_step steps[KCI_STEPS_MAX];
    char where[300];
    json_t *o = json_object();

    if (kci_profile_load(profile, &prof) != 0)
        return 2;
    size_t nsteps = profile_steps(&prof, steps);
    snprintf(where, sizeof where, "pcsc:%s", reader);
    keycard *kc = open_keycard(where);

    /*
     * (1)-(3) interleaved: every run measures the link, the link with an
     * envelope's worth of bytes, WRAP and batched WRAP back to back, and the
     * ratios are taken within a run, so the load of a shared machine, which
     * drifts over seconds, cancels out of them.
     *   no-op: an APDU the card refuses at once (unknown INS -> 6D00);
     *   no-op 260 B: the same with 255 data bytes (what an envelope-sized
     *   message costs on this link, card work aside).
     */
    static const uint8_t noop[5] = {0x80, 0x7E, 0x00, 0x00, 0x00};
    static uint8_t big[5 + 255];
    enum { NOOP_N = 300, WRAP_N = 180 };
    static double lat[PCSC_RUNS * NOOP_N], wlat[PCSC_RUNS * WRAP_N], rlat[PCSC_RUNS * NOOP_N];
    double rraw[PCSC_RUNS], q2raw[PCSC_RUNS], q3raw[PCSC_RUNS], tx[PCSC_RUNS];
    size_t nr = 0;
    double rn[PCSC_RUNS], rbig[PCSC_RUNS], r2[PCSC_RUNS], r3[PCSC_RUNS], q2[PCSC_RUNS],
        q2b[PCSC_RUNS], q3[PCSC_RUNS], apc1 = 0, apcb = 0;
    uint8_t resp[300];
    size_t rl, nl = 0, nw = 0;
    uint16_t noop_sw = 0;

    memcpy(big, noop, 4);
    big[4] = 255;
    for (int w = 0; w < 50; w++) { /* warm-up */
        rl = sizeof resp;
        keycard_transmit(kc, noop, sizeof noop, resp, &rl);
    }
    wrap_rate(kc, &prof, steps, nsteps, 1, 60, NULL, NULL, NULL);
    wrap_rate(kc, &prof, steps, nsteps, nsteps, nsteps * 2, NULL, NULL, NULL);
    for (int r = 0; r < PCSC_RUNS; r++) {
        double t0 = now_s();
        for (int i = 0; i < NOOP_N; i++) {
            keycard_status st;
            double a = now_s();
            keycard_rc rc = keycard_status_read(kc, &st);
            if (rc != KEYCARD_OK)
                die("status read", rc);
            lat[nl++] = (now_s() - a) * 1e6;
        }
        rn[r] = NOOP_N / (now_s() - t0);
        /* The bare link: SCardTransmit on the library's own connection. */
        line_count *lk = line_named(reader);
        t0 = now_s();
        for (int i = 0; i < NOOP_N; i++) {
            DWORD n = sizeof resp;
            double a = now_s();
            if (__real_SCardTransmit(lk->h, lk->pci, noop, sizeof noop, NULL, resp, &n) !=
                    SCARD_S_SUCCESS || n < 2)
                die("raw no-op APDU", KEYCARD_ERR_TRANSPORT);
            noop_sw = (uint16_t)(resp[n - 2] << 8 | resp[n - 1]);
            rlat[nr++] = (now_s() - a) * 1e6;
        }
        rraw[r] = NOOP_N / (now_s() - t0);
        /* What libkeycard puts around every operation: one transaction. */
        t0 = now_s();
        for (int i = 0; i < NOOP_N; i++)
            if (SCardBeginTransaction(lk->h) != SCARD_S_SUCCESS ||
                SCardEndTransaction(lk->h, SCARD_LEAVE_CARD) != SCARD_S_SUCCESS)
                die("transaction", KEYCARD_ERR_TRANSPORT);
        tx[r] = (now_s() - t0) * 1e6 / NOOP_N;
        q2raw[r] = 0; /* filled below, when WRAP of this run is known */
        t0 = now_s();
        for (int i = 0; i < NOOP_N; i++) {
            DWORD n = sizeof resp;
            if (__real_SCardTransmit(lk->h, lk->pci, big, sizeof big, NULL, resp, &n) !=
                SCARD_S_SUCCESS)
                die("raw no-op APDU with data", KEYCARD_ERR_TRANSPORT);
        }
        rbig[r] = NOOP_N / (now_s() - t0);
        reopen_keycard(kc);
        r2[r] = wrap_rate(kc, &prof, steps, nsteps, 1, WRAP_N, &apc1, reader, wlat + nw);
        nw += WRAP_N;
        r3[r] = wrap_rate(kc, &prof, steps, nsteps, nsteps, nsteps * 6, &apcb, reader, NULL);
        q2[r] = r2[r] / rn[r];
        q2b[r] = r2[r] / rbig[r];
        q2raw[r] = r2[r] / rraw[r];
        q3[r] = r3[r] / rn[r];
        q3raw[r] = r3[r] / rraw[r];
    }
    char swbuf[8];
    snprintf(swbuf, sizeof swbuf, "%04X", noop_sw);
    json_object_set_new(o, "pcsc_runs", json_integer(PCSC_RUNS));
    json_object_set_new(o, "libkeycard_noop_call",
                        json_string("keycard_status_read: 00 CA DF 03 00, 35-byte answer"));
    json_object_set_new(o, "link_noop_apdu", json_string("80 7E 00 00 00 (unknown INS)"));
    json_object_set_new(o, "link_noop_sw", json_string(swbuf));
    json_object_set_new(o, "libkeycard_noop_samples", json_integer((json_int_t)nl));
    json_object_set_new(o, "libkeycard_noop_p50_us", json_real(quantile(lat, nl, 0.50)));
    json_object_set_new(o, "libkeycard_noop_p99_us", json_real(quantile(lat, nl, 0.99)));
    json_object_set_new(o, "libkeycard_noop_calls_per_s", json_real(median(rn, PCSC_RUNS)));
    json_object_set_new(o, "link_noop_p50_us", json_real(quantile(rlat, nr, 0.50)));
    json_object_set_new(o, "link_noop_p99_us", json_real(quantile(rlat, nr, 0.99)));
    json_object_set_new(o, "link_noop_apdus_per_s", json_real(median(rraw, PCSC_RUNS)));
    json_object_set_new(o, "wrap_pcsc_ratio_to_link", json_real(median(q2raw, PCSC_RUNS)));
    json_object_set_new(o, "link_noop_260b_apdus_per_s", json_real(median(rbig, PCSC_RUNS)));
    json_object_set_new(o, "pcsc_transaction_begin_end_us", json_real(median(tx, PCSC_RUNS)));
    json_object_set_new(o, "wrap_batched_pcsc_ratio_to_libkeycard_noop",
                        json_real(median(q3, PCSC_RUNS)));
    json_object_set_new(o, "wrap_pcsc_envelopes_per_s", json_real(median(r2, PCSC_RUNS)));
    json_object_set_new(o, "wrap_pcsc_held",
                        json_string("keycard_hold across the run, as a station holds a card"));
    json_object_set_new(o, "wrap_pcsc_p50_us", json_real(quantile(wlat, nw, 0.50)));
    json_object_set_new(o, "wrap_pcsc_p99_us", json_real(quantile(wlat, nw, 0.99)));
    json_object_set_new(o, "wrap_pcsc_ratio_to_libkeycard_noop", json_real(median(q2, PCSC_RUNS)));
    json_object_set_new(o, "wrap_pcsc_ratio_to_link_260b", json_real(median(q2b, PCSC_RUNS)));
    json_object_set_new(o, "wrap_pcsc_apdus_per_envelope", json_real(apc1));
    json_object_set_new(o, "wrap_batched_steps_per_call", json_integer((json_int_t)nsteps));
    json_object_set_new(o, "wrap_batched_pcsc_envelopes_per_s", json_real(median(r3, PCSC_RUNS)));
    json_object_set_new(o, "wrap_batched_pcsc_ratio_to_link", json_real(median(q3raw, PCSC_RUNS)));
    json_object_set_new(o, "wrap_batched_pcsc_apdus_per_call", json_real(apcb));

    /* (5) whole cards from the stacker, with the station's own code. */
    snprintf(where, sizeof where, "pcsc:%s", treader);
    /*
     * The first card warms up; then half the cards one inner command per
     * envelope (the profile with "pack": false: the baseline), half packed,
     * as the profile says by default.
     */
    double ms[64], ms_un[64];
    int measured = 0, measured_un = 0, want_pack = prof.pack;
    uint8_t prev[8];
    int have_prev = 0;
    unsigned long kc_apdus = 0, kc_cmd = 0, kc_resp = 0, t_apdus = 0, t_cmd = 0, t_resp = 0;
    unsigned long u_kc_apdus = 0, u_kc_cmd = 0, u_kc_resp = 0, u_apdus = 0, u_cmd = 0, u_resp = 0;
    size_t next_row = 0;
    kci_csv csv;
    memset(&csv, 0, sizeof csv);
    for (int i = 0; i < ncards && i < 64; i++) {
        keycard_target *t = next_target(where, have_prev ? prev : NULL);
        if (!t) {
            fprintf(stderr, "kc_bench: no target card %d in '%s'\n", i + 1, treader);
            return 1;
        }
        kci_outcome oc;
        int base = i > 0 && i <= (ncards - 1) / 2;
        prof.pack = base ? 0 : want_pack;
        audit_ack_all(kc); /* before the lines are counted */
        lines_reset();
        double t0 = now_s();
        int rc = kci_issue_card(kc, t, &prof, &csv, &next_row, &oc);
        double dt = (now_s() - t0) * 1e3;
        if (rc != 0 || (oc.result != KCI_ISSUED && oc.result != KCI_WRITTEN)) {
            fprintf(stderr, "kc_bench: card %d not issued: %s\n", i + 1, oc.why);
            return 1;
        }
        line_count *lk = line_named(reader), *lt = line_named(treader);
        /* Card 1 warms up (caches, first connect); the rest are measured. */
        if (base) {
            ms_un[measured_un++] = dt;
            u_kc_apdus = lk->apdus, u_kc_cmd = lk->cmd_bytes, u_kc_resp = lk->resp_bytes;
            u_apdus = lt->apdus, u_cmd = lt->cmd_bytes, u_resp = lt->resp_bytes;
        } else if (i > 0) {
            ms[measured++] = dt;
            kc_apdus = lk->apdus, kc_cmd = lk->cmd_bytes, kc_resp = lk->resp_bytes;
            t_apdus = lt->apdus, t_cmd = lt->cmd_bytes, t_resp = lt->resp_bytes;
        }
        memcpy(prev, oc.serial, 8);
        have_prev = 1;
        static const uint8_t ej[4] = {0xFF, 0xEE, 0x00, 0x00};
        rl = sizeof resp;
        keycard_target_transmit(t, ej, sizeof ej, resp, &rl);
        keycard_target_close(t);
    }
    prof.pack = want_pack;
    if (measured == 0 || measured_un == 0) {
        fprintf(stderr, "kc_bench: --cards %d: at least 3 are needed (a warm-up, a baseline, "
                        "a packed card)\n", ncards);
        return 1;
    }
    json_object_set_new(o, "card_packed", json_boolean(want_pack));
    json_object_set_new(o, "card_unpacked_runs", json_integer(measured_un));
    json_object_set_new(o, "card_unpacked_keycard_apdus", json_integer((json_int_t)u_kc_apdus));
    json_object_set_new(o, "card_unpacked_keycard_cmd_bytes", json_integer((json_int_t)u_kc_cmd));
    json_object_set_new(o, "card_unpacked_keycard_resp_bytes",
                        json_integer((json_int_t)u_kc_resp));
    json_object_set_new(o, "card_unpacked_target_apdus", json_integer((json_int_t)u_apdus));
    json_object_set_new(o, "card_unpacked_target_cmd_bytes", json_integer((json_int_t)u_cmd));
    json_object_set_new(o, "card_unpacked_target_resp_bytes", json_integer((json_int_t)u_resp));
    json_object_set_new(o, "card_unpacked_ms", json_real(median(ms_un, (size_t)measured_un)));
    double card_ms = median(ms, (size_t)measured);
    json_object_set_new(o, "card_profile", json_string(profile));
    json_object_set_new(o, "card_steps", json_integer((json_int_t)nsteps));
    json_object_set_new(o, "card_bucket_bytes", json_integer(prof.bucket));
    json_object_set_new(o, "card_runs", json_integer(measured));
    json_object_set_new(o, "card_keycard_apdus", json_integer((json_int_t)kc_apdus));
    json_object_set_new(o, "card_keycard_cmd_bytes", json_integer((json_int_t)kc_cmd));
    json_object_set_new(o, "card_keycard_resp_bytes", json_integer((json_int_t)kc_resp));
    json_object_set_new(o, "card_target_apdus", json_integer((json_int_t)t_apdus));
    json_object_set_new(o, "card_target_cmd_bytes", json_integer((json_int_t)t_cmd));
    json_object_set_new(o, "card_target_resp_bytes", json_integer((json_int_t)t_resp));
    json_object_set_new(o, "card_ms", json_real(card_ms));
    json_object_set_new(o, "cards_per_hour", json_real(3600e3 / card_ms));
    keycard_close(kc);
    return json_dump_file(o, out, JSON_INDENT(1) | JSON_SORT_KEYS) == 0 ? 0 : 1;
}

/* ---- sim: in-process WRAP, the bare crypto loop, flash wear ---------------- */

/* SP 800-108 counter-mode KDF with AES-CMAC, as docs/protocol.md section 1. */
static void raw_kdf(const mbedtls_cipher_info_t *ci128, const mbedtls_cipher_info_t *ci256,
                    const uint8_t *key, size_t klen, const char *label, const uint8_t *ctx,
                    size_t clen, uint8_t *out, size_t olen)
{
    uint8_t in[1 + 64 + 1 + 16 + 2], t[16];
    size_t ll = strlen(label), n = 0;
    memcpy(in + 1, label, ll);
    in[1 + ll] = 0;
    memcpy(in + 2 + ll, ctx, clen);
    in[2 + ll + clen] = (uint8_t)((olen * 8) >> 8);
    in[3 + ll + clen] = (uint8_t)(olen * 8);
    for (uint8_t i = 1; n < olen; i++) {
        in[0] = i;
        mbedtls_cipher_cmac(klen == 32 ? ci256 : ci128, key, (unsigned)klen * 8, in,
                            4 + ll + clen, t);
        size_t k = olen - n < 16 ? olen - n : 16;
        memcpy(out + n, t, k);
        n += k;
    }
}

/* Bare AES-CMAC with mbedTLS (the baseline's own, not the firmware's). */
static void raw_cmac(const mbedtls_cipher_info_t *c256, const uint8_t key[32], const uint8_t *a,
                     size_t al, const uint8_t *b, size_t bl, uint8_t out[16])
{
    mbedtls_cipher_context_t c;
    mbedtls_cipher_init(&c);
    mbedtls_cipher_setup(&c, c256);
    mbedtls_cipher_cmac_starts(&c, key, 256);
    mbedtls_cipher_cmac_update(&c, a, al);
    if (bl)
        mbedtls_cipher_cmac_update(&c, b, bl);
    mbedtls_cipher_cmac_finish(&c, out);
    mbedtls_cipher_free(&c);
}

static void raw_dbl(uint8_t d[16])
{
    uint8_t carry = d[0] >> 7;
    for (int i = 0; i < 15; i++)
        d[i] = (uint8_t)(d[i] << 1 | d[i + 1] >> 7);
    d[15] = (uint8_t)(d[15] << 1 ^ (carry ? 0x87 : 0));
}

/*
 * Envelopes/s of the same work as the firmware's seal, written straight on
 * mbedTLS: chain step + Kenv (512 bits) + AES-256-SIV (S2V with one AD, CTR)
 * of one bucket.
 */
static double raw_rate(size_t bucket, size_t total)
{
    const mbedtls_cipher_info_t *c128 = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_128_ECB);
    const mbedtls_cipher_info_t *c256 = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_256_ECB);
    static const uint8_t zero[16];
    uint8_t r[32] = {7}, kenv[64], ctx[12], aad[16], pt[1024] = {0}, ct[1024], d[16], m[16],
            last[16], v[16], ctr[16], stream[16];
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    memcpy(ctx, bench_serial, 8);
    memcpy(aad, "\x84\xC2\x00\x00", 4);
    memcpy(aad + 4, bench_serial, 8);
    double t0 = now_s();
    for (uint32_t c = 1; c <= total; c++) {
        size_t off = 0;
        ctx[8] = (uint8_t)(c >> 24), ctx[9] = (uint8_t)(c >> 16), ctx[10] = (uint8_t)(c >> 8),
        ctx[11] = (uint8_t)c;
        raw_kdf(c128, c256, r, 32, "keycard/chain-step", ctx, 12, r, 32);
        raw_kdf(c128, c256, r, 32, "keycard/v2/envelope", ctx, 12, kenv, 64);
        memcpy(aad + 12, ctx + 8, 4);
        raw_cmac(c256, kenv, zero, 16, NULL, 0, d);
        raw_cmac(c256, kenv, aad, 16, NULL, 0, m);
        raw_dbl(d);
        for (int i = 0; i < 16; i++)
            last[i] = pt[bucket - 16 + i] ^ d[i] ^ m[i];
        raw_cmac(c256, kenv, pt, bucket - 16, last, 16, v);
        memcpy(ctr, v, 16);
        ctr[8] &= 0x7F;
        ctr[12] &= 0x7F;
        mbedtls_aes_setkey_enc(&aes, kenv + 32, 256);
        mbedtls_aes_crypt_ctr(&aes, bucket, &off, ctr, stream, pt, ct);
        pt[0] ^= ct[0]; /* keep the work observable */
    }
    double dt = now_s() - t0;
    mbedtls_aes_free(&aes);
    return (double)total / dt;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static int cmd_sim(const char *kcfile, const char *blank, const char *profile, const char *out,
                   double wear_budget_s)
{
    static kci_profile prof;
    keycard_step steps[KCI_STEPS_MAX];
    char where[4200], tfile[4200];
    json_t *o = json_object();

    if (kci_profile_load(profile, &prof) != 0)
        return 2;
    size_t nsteps = profile_steps(&prof, steps);
    snprintf(where, sizeof where, "sim:%s", kcfile);
    wear_path = kcfile;

    /*
     * (4a) The firmware's WRAP path against the bare crypto loop: plain APDUs,
     * since in-process there is no line for the secure channel to protect
     * (its cost is the with-channel figure below, which the product uses).
     */
    double p1[RUNS], pr[RUNS], pq[RUNS];
    keycard *plain = open_keycard_mode(where, KEYCARD_CHANNEL_INSECURE_PLAIN);
    wrap_rate(plain, &prof, steps, nsteps, 1, 300, NULL, NULL, NULL);
    for (int r = 0; r < RUNS; r++) {
        p1[r] = wrap_rate(plain, &prof, steps, nsteps, 1, 1200, NULL, NULL, NULL);
        pr[r] = raw_rate(prof.bucket, 6000);
        pq[r] = p1[r] / pr[r];
    }
    keycard_close(plain);
    json_object_set_new(o, "wrap_sim_plain_envelopes_per_s", json_real(median(p1, RUNS)));
    json_object_set_new(o, "wrap_sim_plain_ratio_to_raw", json_real(median(pq, RUNS)));

    keycard *kc = open_keycard(where);
    if (!wear_hf) {
        fprintf(stderr, "kc_bench: the key card's flash counters were not found\n");
        return 1;
    }

    /* (4) in-process WRAP against the bare crypto loop, same bucket. */
    double s1[RUNS], sb[RUNS], raw[RUNS], q1[RUNS], qb[RUNS];
    wrap_rate(kc, &prof, steps, nsteps, 1, 300, NULL, NULL, NULL);
    raw_rate(prof.bucket, 2000);
    for (int r = 0; r < RUNS; r++) {
        s1[r] = wrap_rate(kc, &prof, steps, nsteps, 1, 1200, NULL, NULL, NULL);
        sb[r] = wrap_rate(kc, &prof, steps, nsteps, nsteps, nsteps * 40, NULL, NULL, NULL);
        raw[r] = raw_rate(prof.bucket, 6000);
        q1[r] = s1[r] / raw[r]; /* ratios within a run: the machine's load cancels */
        qb[r] = sb[r] / raw[r];
    }
    double w1 = median(s1, RUNS), wb = median(sb, RUNS), rr = median(raw, RUNS);
    json_object_set_new(o, "sim_runs", json_integer(RUNS));
    json_object_set_new(o, "wrap_sim_envelopes_per_s", json_real(w1));
    json_object_set_new(o, "wrap_batched_sim_envelopes_per_s", json_real(wb));
    json_object_set_new(o, "raw_crypto_envelopes_per_s", json_real(rr));
    json_object_set_new(o, "wrap_sim_ratio_to_raw", json_real(median(q1, RUNS)));
    json_object_set_new(o, "wrap_batched_sim_ratio_to_raw", json_real(median(qb, RUNS)));

    /* (6) flash wear: issue cards in-process until the budget is spent. */
    kc_hw_file *hf = wear_hf;
    size_t pages = hf->size / hf->page_size;
    uint32_t *e0 = calloc(pages, sizeof *e0);
    if (!e0)
        return 1;
    memcpy(e0, hf->erase_count, pages * sizeof *e0);
    uint64_t p0 = hf->bytes_programmed, ops0 = hf->programs;
    snprintf(tfile, sizeof tfile, "%s.target", kcfile);
    kci_csv csv;
    memset(&csv, 0, sizeof csv);
    size_t next_row = 0, cards = 0;
    /*
     * Per page: how many erases and at which card the first and the last
     * came, so the cycle of a page is measured between two of its own
     * erases (steady state), not rounded to whole erases over the run.
     */
    uint32_t *cnt = calloc(pages, sizeof *cnt);
    size_t *first = calloc(pages, sizeof *first), *last = calloc(pages, sizeof *last);
    uint32_t *seen = calloc(pages, sizeof *seen);
    if (!cnt || !first || !last || !seen)
        return 1;
    memcpy(seen, hf->erase_count, pages * sizeof *seen);
    double t0 = now_s(), issue_t = 0;
    uint32_t min_cnt = 0;
    /* Until every page has been erased three times (or the time is up). */
    while ((now_s() - t0 < wear_budget_s && min_cnt < 3) || cards < 20) {
        if (copy_file(blank, tfile) != 0) {
            fprintf(stderr, "kc_bench: cannot copy %s: %s\n", blank, strerror(errno));
            return 1;
        }
        char tw[4300];
        snprintf(tw, sizeof tw, "sim:%s", tfile);
        keycard_target *t;
        keycard_rc rc = keycard_target_open(&t, tw);
        if (rc != KEYCARD_OK)
            die("open the simulated target", rc);
        kci_outcome oc;
        if (cards % 32 == 0)
            audit_ack_all(kc);
        double a = now_s();
        if (cards == 0)
            inner_cmds = inner_bytes = 0; /* one card's inner commands */
        int r = kci_issue_card(kc, t, &prof, &csv, &next_row, &oc);
        issue_t += now_s() - a;
        if (cards == 0) {
            json_object_set_new(o, "card_inner_commands", json_integer((json_int_t)inner_cmds));
            json_object_set_new(o, "card_inner_bytes", json_integer((json_int_t)inner_bytes));
        }
        keycard_target_close(t);
        if (r != 0 || (oc.result != KCI_ISSUED && oc.result != KCI_WRITTEN)) {
            fprintf(stderr, "kc_bench: simulated card %zu not issued: %s\n", cards + 1, oc.why);
            return 1;
        }
        cards++;
        min_cnt = UINT32_MAX;
        for (size_t i = 0; i < pages; i++) {
            if (hf->erase_count[i] != seen[i]) {
                if (!cnt[i])
                    first[i] = cards;
                cnt[i] += hf->erase_count[i] - seen[i];
                last[i] = cards;
                seen[i] = hf->erase_count[i];
            }
            min_cnt = cnt[i] < min_cnt ? cnt[i] : min_cnt;
        }
    }
    unlink(tfile);
    /* The fastest-cycling page: the fewest cards between its erases. */
    double cycle = 0;
    for (size_t i = 0; i < pages; i++)
        if (cnt[i] >= 2) {
            double c = (double)(last[i] - first[i]) / (double)(cnt[i] - 1);
            if (cycle == 0 || c < cycle)
                cycle = c;
        }
    free(cnt), free(first), free(last), free(seen);
    if (getenv("KC_BENCH_DEBUG"))
        fprintf(stderr, "wear: erases %llu programs %llu bytes %llu (from %llu)\n",
                (unsigned long long)hf->erases, (unsigned long long)hf->programs,
                (unsigned long long)hf->bytes_programmed, (unsigned long long)p0);
    uint32_t emax = 0, emin = UINT32_MAX;
    uint64_t esum = 0;
    size_t worn = 0;
    for (size_t i = 0; i < pages; i++) {
        uint32_t d = hf->erase_count[i] - e0[i];
        emax = d > emax ? d : emax;
        emin = d < emin ? d : emin;
        esum += d;
        worn += d > 0;
    }
    double per_card_max = cycle > 0 ? 1.0 / cycle : (double)emax / (double)cards;
    json_object_set_new(o, "wear_cards_issued", json_integer((json_int_t)cards));
    json_object_set_new(o, "wear_flash_bytes", json_integer((json_int_t)hf->size));
    json_object_set_new(o, "wear_page_bytes", json_integer((json_int_t)hf->page_size));
    json_object_set_new(o, "wear_pages", json_integer((json_int_t)pages));
    json_object_set_new(o, "wear_pages_erased", json_integer((json_int_t)worn));
    json_object_set_new(o, "wear_bytes_programmed_per_card",
                        json_real((double)(hf->bytes_programmed - p0) / (double)cards));
    json_object_set_new(o, "wear_program_ops_per_card",
                        json_real((double)(hf->programs - ops0) / (double)cards));
    json_object_set_new(o, "wear_erases_per_card_all_pages",
                        json_real((double)esum / (double)cards));
    json_object_set_new(o, "wear_erases_per_card_most_worn_page", json_real(per_card_max));
    json_object_set_new(o, "wear_erases_most_worn_page_total", json_integer(emax));
    json_object_set_new(o, "wear_erases_least_worn_page_total", json_integer(emin));
    /* With no erase seen, the run only bounds the lifetime from below. */
    json_object_set_new(o, "wear_cards_per_erase_cycle_most_worn_page", json_real(cycle));
    json_object_set_new(o, "wear_cards_until_100k_cycles",
                        json_real(per_card_max > 0 ? 100000.0 / per_card_max
                                                   : 100000.0 * (double)cards));
    json_object_set_new(o, "wear_projection_is_lower_bound", json_boolean(per_card_max == 0));
    json_object_set_new(o, "sim_card_ms", json_real(issue_t * 1e3 / (double)cards));
    json_object_set_new(o, "keycard_ctx_bytes", json_integer((json_int_t)kc_keycard_card.ctx_size));
    free(e0);
    keycard_close(kc);
    return json_dump_file(o, out, JSON_INDENT(1) | JSON_SORT_KEYS) == 0 ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------ */

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    (void)keycard_sim_enable(); /* "sim:FILE" cards (libkeycard-sim) */
    kct_set_prog("kc_bench");
    kct_json_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    trace = getenv("KC_BENCH_TRACE") != NULL;
    const char *profile = arg(argc, argv, "--profile", "examples/profiles/standard.json");
    const char *out = arg(argc, argv, "--out", NULL);
    if (argc >= 2 && out && strcmp(argv[1], "pcsc") == 0) {
        const char *r = arg(argc, argv, "--reader", NULL), *t = arg(argc, argv, "--target-reader", NULL);
        if (!r || !t)
            goto usage;
        return cmd_pcsc(r, t, profile, out, atoi(arg(argc, argv, "--cards", "6")));
    }
    if (argc >= 2 && out && strcmp(argv[1], "sim") == 0) {
        const char *k = arg(argc, argv, "--keycard", NULL), *b = arg(argc, argv, "--target-blank", NULL);
        if (!k || !b)
            goto usage;
        return cmd_sim(k, b, profile, out, atof(arg(argc, argv, "--wear-seconds", "20")));
    }
usage:
    fprintf(stderr, "usage: kc_bench pcsc --reader R --target-reader T --out JSON [--profile P] "
                    "[--cards N]\n"
                    "       kc_bench sim --keycard FILE --target-blank FILE --out JSON "
                    "[--profile P] [--wear-seconds S]\n");
    return 2;
}
