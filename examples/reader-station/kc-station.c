/*
 * kc-station.c - the reader/writer station's controller (the patent's
 * figures 28 to 32): it owns the key card slot and the target slot with its
 * stacker, and serves operation instructions from the PC on a local UNIX
 * socket (kcs_proto.h, docs/station.md). The PC says what to do; the whole
 * exchange with both cards happens here, so no envelope, template, PIN or
 * key check value ever crosses the PC line.
 *
 *   kc-station --config STATION.json --profiles DIR --socket PATH
 *              [--reader R | --sim FILE] [--target-reader R | --target-sim FILE]
 *
 * One client at a time, one job at a time: a second client gets a busy
 * result and is closed. A job runs to its end even when its client goes
 * away, so a card is either issued (locked, completion MAC verified by the
 * key card, counted) or aborted on the key card (not counted). The holder
 * PIN is typed on the station's own console at start-up and never accepted
 * over the socket. The card logic is kc-issue's (issuance/issue.c).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kcs_proto.h"
#include "kcs_record.h"
#include "station.h"
#include "keycard_sim.h"
#include "kct_cli.h"

static const char usage[] =
    "usage: kc-station --config STATION.json --profiles DIR --socket PATH\n"
    "                  [--reader R | --sim FILE] [--target-reader R | --target-sim FILE]\n"
    "\n"
    "The reader/writer station: holds the key card and the target slot (with its\n"
    "stacker) and serves operation instructions on the UNIX socket PATH\n"
    "(docs/station.md). The holder PIN is typed here, on the station's console,\n"
    "when a start-up instruction comes (KEYCARD_HOLDER_PIN for automation only).\n"
    "\n"
    "  --config FILE        station config: issuer PIN, issuer public key, readers\n"
    "  --profiles DIR       the issuance profiles the PC may name: DIR/NAME.json\n"
    "  --socket PATH        where to listen (mode 0600)\n"
    "  --reader R, --sim F  the key card (default: found by its AID)\n"
    "  --target-reader R    the target slot (default: the other slot of the key\n"
    "  --target-sim F       card's reader; F: a simulated target card image)\n"
    "  -v, --trace          every command to a card and answer on stderr\n"
    "  --holder-pin SOURCE  the holder PIN at start-ups: prompt (the keypad, the\n"
    "                       default), file:PATH, env:VAR or fd:N\n"
    "  --help, --version    this help; the version\n"
    "\n"
    "Exit status: 0 after a shut-down instruction or SIGTERM, 1 a failure,\n"
    "2 bad usage or bad input.\n";

/* How long a connected client may take to send the rest of a frame. */
#define FRAME_TIMEOUT_MS 10000

typedef struct station {
    kci_station cfg;
    kct_where kc_where;
    char target[KCT_WHERE_MAX];   /* "" = found by answer */
    const char *profiles;
    keycard *kc;
    int ready;                    /* start-up done: both PINs verified, genuine */
    uint8_t kc_serial[8];
    keycard_holder holder;
    uint8_t last_ejected[8];
    int have_ejected;
    long left;                    /* blank cards left, -1 unknown */
    uint32_t issued, failed, skipped;
} station;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The station's display: its log on stdout, one line per event. */
static void display(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void display(const char *fmt, ...)
{
    va_list ap;
    time_t now = time(NULL);
    char ts[32];

    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&now));
    printf("[%s] ", ts);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Default target slot: the other slot of the key card's reader (as kc-issue). */
static void default_target(station *s)
{
    char list[8192], *line, *save = NULL;
    const char *kr = keycard_reader_name(s->kc);
    size_t n = strlen(kr);

    if (s->target[0] || n < 3 || keycard_list_readers(list, sizeof list) != KEYCARD_OK)
        return;
    for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strlen(line) == n && strcmp(line, kr) != 0 && strncmp(line, kr, n - 2) == 0) {
            snprintf(s->target, sizeof s->target, "pcsc:%s", line);
            return;
        }
}

/*
 * Open the card in the target slot; after an eject wait (up to wait_s) for
 * one with another serial (the stacker inserting the next card).
 */
static keycard_rc open_target(station *s, long wait_s, keycard_target **out)
{
    long until = now_ms() + wait_s * 1000L;
    keycard_rc rc;

    for (;;) {
        keycard_target_info info;
        rc = keycard_target_open(out, s->target[0] ? s->target : NULL);
        if (rc == KEYCARD_OK) {
            rc = keycard_target_info_read(*out, &info);
            if (rc == KEYCARD_OK &&
                (!s->have_ejected || memcmp(info.serial, s->last_ejected, 8) != 0))
                return KEYCARD_OK;
            keycard_target_close(*out);
            *out = NULL;
            if (rc == KEYCARD_OK)
                rc = KEYCARD_ERR_NO_CARD; /* still the card just ejected */
        }
        if (now_ms() >= until || stop_flag)
            return rc;
        nap_ms(200);
    }
}

static void answer(kcs_frame *r, uint8_t op, unsigned res)
{
    kcs_frame_init(r, (uint8_t)(op | KCS_OP_RESULT), (uint8_t)(res >> 8), (uint8_t)res);
}

static unsigned refuse(kcs_frame *r, uint8_t op, unsigned res, const char *msg)
{
    answer(r, op, res);
    kcs_put_str(r, KCS_R_MESSAGE, msg);
    return res;
}

static void put_ready(station *s, kcs_frame *r)
{
    kcs_put_u8(r, KCS_R_READY, s->ready);
    if (s->ready) {
        kcs_put(r, KCS_R_KC_SERIAL, s->kc_serial, 8);
        kcs_put_str(r, KCS_R_OPERATOR, s->holder.name);
        kcs_put_str(r, KCS_R_OPNUMBER, s->holder.number);
    }
}

static void put_counts(station *s, kcs_frame *r)
{
    uint8_t b[12];
    uint32_t v[3] = {s->issued, s->failed, s->skipped};
    int i;

    for (i = 0; i < 3; i++) {
        b[4 * i] = (uint8_t)(v[i] >> 24);
        b[4 * i + 1] = (uint8_t)(v[i] >> 16);
        b[4 * i + 2] = (uint8_t)(v[i] >> 8);
        b[4 * i + 3] = (uint8_t)v[i];
    }
    kcs_put(r, KCS_R_COUNTS, b, sizeof b);
}

/* The key card went away or refused for good: a new start-up is needed. */
static void keycard_lost(station *s, keycard_rc rc)
{
    display("key card failed (%s): start-up needed", keycard_strerror(rc));
    keycard_close(s->kc);
    s->kc = NULL;
    s->ready = 0;
}

/* ---- operations ---------------------------------------------------------- */

static unsigned op_status(station *s, kcs_frame *r)
{
    keycard_target *t = NULL;
    keycard_target_info info;

    answer(r, KCS_OP_STATUS, KCS_RES_OK);
    put_ready(s, r);
    if (keycard_target_open(&t, s->target[0] ? s->target : NULL) == KEYCARD_OK) {
        /* Ask the stacker (reader command FF EC 00 00) how many blank cards it holds. */
        static const uint8_t count[] = {0xFF, 0xEC, 0x00, 0x00, 0x02};
        uint8_t resp[8];
        size_t n = sizeof resp;
        if (keycard_target_transmit(t, count, sizeof count, resp, &n) == KEYCARD_OK && n == 4 &&
            resp[2] == 0x90 && resp[3] == 0x00)
            s->left = (long)resp[0] << 8 | resp[1];
    }
    kcs_put_u16(r, KCS_R_LEFT, s->left < 0 ? 0xFFFF : (unsigned)s->left);
    if (t != NULL && keycard_target_info_read(t, &info) == KEYCARD_OK) {
        kcs_put(r, KCS_R_SERIAL, info.serial, 8);
        kcs_put_u8(r, KCS_R_TSTATE, (unsigned)info.state);
        kcs_put_u8(r, KCS_R_LOCKS, info.locks);
    }
    keycard_target_close(t);
    put_counts(s, r);
    return KCS_RES_OK;
}

/*
 * The holder PIN when it came from KEYCARD_HOLDER_PIN (automation only): the
 * variable is dropped once read, so it is kept for the start-ups after a
 * lost key card session; wiped at exit. Typed at the console, it is asked
 * for at every start-up.
 */
static kct_secret g_holder_env;
/* --holder-pin SOURCE (prompt, file:PATH, env:VAR, fd:N); NULL: the variable or the keypad. */
static const char *g_holder_source;

/* Start-up (kc-startup's flow): issuer PIN from the config, holder PIN from the console. */
static unsigned op_startup(station *s, const kcs_frame *in, kcs_frame *r)
{
    keycard_status st;
    keycard_identity id;
    kct_secret pin;
    keycard_rc rc;
    int tries = -1;
    char msg[200];

    /* Nothing may come with it: above all no PIN. */
    if (in->len != 0 || in->p1 || in->p2)
        return refuse(r, KCS_OP_STARTUP, KCS_RES_BAD_DATA,
                      "start-up takes no data: the holder PIN is typed at the station");
    if (s->ready) {
        answer(r, KCS_OP_STARTUP, KCS_RES_OK);
        put_ready(s, r);
        return KCS_RES_OK;
    }
    /*
     * Every start-up is a new session: one lost to a line fault or a reset
     * stays lost (libkeycard sends nothing more) until it is reopened here.
     */
    if (s->kc && keycard_reopen(s->kc) != KEYCARD_OK) {
        keycard_close(s->kc);
        s->kc = NULL;
    }
    if (!s->kc && kct_open_issuer(&s->kc_where, s->cfg.issuer_pub,
                                  kct_key_len(s->cfg.issuer_pub, s->cfg.issuer_pub_len),
                                  &s->kc) != 0) {
        s->kc = NULL;
        return refuse(r, KCS_OP_STARTUP, KCS_RES_KEYCARD, "no key card in the station");
    }
    /*
     * The key card is the station's while it runs: another program that
     * connects is told "busy" at once instead of resetting it between cards.
     */
    if ((rc = keycard_reserve(s->kc)) != KEYCARD_OK)
        display("warning: cannot reserve the key card (%s): another program using it would "
                "end the station's session", keycard_strerror(rc));
    default_target(s);
    if ((rc = keycard_status_read(s->kc, &st)) != KEYCARD_OK ||
        st.lifecycle != KEYCARD_LIFECYCLE_PROVISIONED) {
        snprintf(msg, sizeof msg, "key card: %s",
                 rc ? keycard_strerror(rc) : "blank, provision it first");
        keycard_lost(s, rc);
        return refuse(r, KCS_OP_STARTUP, KCS_RES_KEYCARD, msg);
    }
    rc = keycard_verify_pin(s->kc, KEYCARD_PIN_ISSUER, s->cfg.issuer_pin.text, &tries);
    if (rc != KEYCARD_OK) {
        snprintf(msg, sizeof msg, "issuer PIN of the station config: %s", keycard_strerror(rc));
        display("start-up refused: %s", msg);
        return refuse(r, KCS_OP_STARTUP, KCS_RES_KEYCARD, msg);
    }
    int from_env = !g_holder_source && getenv("KEYCARD_HOLDER_PIN") != NULL;
    int keep = g_holder_source ? strcmp(g_holder_source, "prompt") != 0 : from_env;
    if (g_holder_env.len)
        display("start-up: holder PIN as given at the station's start (automation)");
    else if (from_env)
        display("start-up: holder PIN taken from KEYCARD_HOLDER_PIN (for automation only)");
    else if (!keep)
        display("start-up: type the holder PIN on the station's keypad");
    if (g_holder_env.len)
        pin = g_holder_env;
    else if (kct_secret_source("holder PIN", "--holder-pin", g_holder_source,
                               "KEYCARD_HOLDER_PIN", "Holder PIN", 0, &pin) != 0)
        return refuse(r, KCS_OP_STARTUP, KCS_RES_NO_PIN,
                      "no holder PIN was entered at the station");
    else if (keep)
        g_holder_env = pin; /* automation: the next start-up has no one to type it */
    if (!kct_pin_ok(pin.text)) {
        kct_secret_wipe(&pin);
        return refuse(r, KCS_OP_STARTUP, KCS_RES_NO_PIN, "holder PIN must be 4 to 16 digits");
    }
    rc = keycard_verify_pin(s->kc, KEYCARD_PIN_HOLDER, pin.text, &tries);
    kct_secret_wipe(&pin);
    if (rc == KEYCARD_ERR_WRONG_PIN) {
        display("holder PIN refused, %d tries left", tries);
        snprintf(msg, sizeof msg, "holder PIN refused, %d tries left", tries);
        return refuse(r, KCS_OP_STARTUP, KCS_RES_WRONG_PIN | (unsigned)(tries & 0xF), msg);
    }
    if (rc == KEYCARD_ERR_BLOCKED)
        return refuse(r, KCS_OP_STARTUP, KCS_RES_NO_PIN, "holder PIN blocked");
    if (rc == KEYCARD_OK)
        rc = keycard_holder_info(s->kc, &s->holder);
    /* A card that cannot prove itself genuine gets no target card to issue. */
    if (rc == KEYCARD_OK)
        rc = keycard_identity_check(s->kc, s->cfg.issuer_pub,
                                    kct_key_len(s->cfg.issuer_pub, s->cfg.issuer_pub_len), &id);
    if (rc != KEYCARD_OK) {
        snprintf(msg, sizeof msg, "start-up: %s", keycard_strerror(rc));
        keycard_lost(s, rc);
        return refuse(r, KCS_OP_STARTUP, KCS_RES_KEYCARD, msg);
    }
    memcpy(s->kc_serial, st.serial, 8);
    s->ready = 1;
    {
        char ser[17];
        kct_hex_format(st.serial, 8, ser);
        display("station ready: key card %s (genuine), operator %s (%s), target slot '%s'", ser,
                s->holder.name, s->holder.number, s->target[0] ? s->target : "(any)");
    }
    answer(r, KCS_OP_STARTUP, KCS_RES_OK);
    put_ready(s, r);
    return KCS_RES_OK;
}

static unsigned op_issue(station *s, const kcs_frame *in, kcs_frame *r)
{
    static kci_profile prof;
    char name[256], path[4400], err[400], ser[17];
    kci_csv csv;
    kci_outcome oc;
    keycard_target *t = NULL;
    keycard_rc rc;
    size_t next_row = 0;
    unsigned res;
    int krc;

    memset(&csv, 0, sizeof csv);
    if (!s->ready)
        return refuse(r, KCS_OP_ISSUE, KCS_RES_NOT_READY, "no start-up yet");
    if (kcs_find_str(in, KCS_T_PROFILE, name, sizeof name) != 0 || !kcs_profile_name_ok(name))
        return refuse(r, KCS_OP_ISSUE, KCS_RES_BAD_DATA, "no valid profile name");
    snprintf(path, sizeof path, "%s/%s.json", s->profiles, name);
    if (access(path, R_OK) != 0 || kci_profile_load(path, &prof) != 0) {
        snprintf(err, sizeof err, "profile '%s' not held by the station, or not valid", name);
        return refuse(r, KCS_OP_ISSUE, KCS_RES_NO_PROFILE, err);
    }
    if (kcs_record_csv(in, &csv, err, sizeof err) != 0)
        return refuse(r, KCS_OP_ISSUE, KCS_RES_BAD_DATA, err);
    if (csv.n_rows && kci_csv_check(&prof, &csv) != 0) {
        kci_csv_free(&csv);
        return refuse(r, KCS_OP_ISSUE, KCS_RES_BAD_DATA,
                      "the record lacks a field the profile names");
    }
    rc = open_target(s, in->p1, &t);
    if (rc != KEYCARD_OK) {
        kci_csv_free(&csv);
        snprintf(err, sizeof err, "target slot: %s", keycard_strerror(rc));
        return refuse(r, KCS_OP_ISSUE, KCS_RES_NO_CARD, err);
    }
    krc = kci_issue_card(s->kc, t, &prof, &csv, &next_row, &oc);
    kci_csv_free(&csv);
    kct_hex_format(oc.serial, 8, ser);
    switch (oc.result) {
    case KCI_ISSUED:
    case KCI_WRITTEN:
        s->issued++;
        res = KCS_RES_OK;
        break;
    case KCI_SKIPPED:
        s->skipped++;
        res = KCS_RES_OK;
        break;
    default:
        s->failed++;
        res = KCS_RES_NOT_ISSUED;
        break;
    }
    display("card %s: %s %s (%ld ms, profile %s)", ser,
            oc.result == KCI_ISSUED    ? "ISSUED"
            : oc.result == KCI_WRITTEN ? "WRITTEN"
            : oc.result == KCI_SKIPPED ? "SKIPPED"
                                       : "FAILED",
            oc.why, oc.ms, name);
    answer(r, KCS_OP_ISSUE, res);
    kcs_put(r, KCS_R_SERIAL, oc.serial, 8);
    kcs_put_u8(r, KCS_R_OUTCOME,
               oc.result == KCI_ISSUED    ? KCS_OUT_ISSUED
               : oc.result == KCI_WRITTEN ? KCS_OUT_WRITTEN
               : oc.result == KCI_SKIPPED ? KCS_OUT_SKIPPED
                                          : KCS_OUT_FAILED);
    kcs_put_u8(r, KCS_R_STEP, (unsigned)oc.step);
    kcs_put_str(r, KCS_R_WHY, oc.why);
    kcs_put_u32(r, KCS_R_MS, (uint32_t)oc.ms);
    {
        keycard_target_info info;
        if (keycard_target_info_read(t, &info) == KEYCARD_OK) {
            kcs_put_u8(r, KCS_R_TSTATE, (unsigned)info.state);
            kcs_put_u8(r, KCS_R_LOCKS, info.locks);
        }
    }
    put_counts(s, r);
    keycard_target_close(t);
    if (krc != 0)
        keycard_lost(s, krc);
    kct_wipe(&oc, sizeof oc);
    return res;
}

static unsigned op_readback(station *s, kcs_frame *r)
{
    keycard_target *t = NULL;
    keycard_rc rc;
    char *buf = NULL, *line, *save = NULL, msg[160];
    size_t blen = 0;
    FILE *f;

    rc = keycard_target_open(&t, s->target[0] ? s->target : NULL);
    if (rc != KEYCARD_OK) {
        snprintf(msg, sizeof msg, "target slot: %s", keycard_strerror(rc));
        return refuse(r, KCS_OP_READBACK, KCS_RES_NO_CARD, msg);
    }
    f = open_memstream(&buf, &blen);
    if (f == NULL) {
        keycard_target_close(t);
        return refuse(r, KCS_OP_READBACK, KCS_RES_NO_CARD, "out of memory");
    }
    rc = kci_show_tree(t, f, "");
    fclose(f);
    keycard_target_close(t);
    if (rc != KEYCARD_OK) {
        free(buf);
        snprintf(msg, sizeof msg, "cannot read the file list: %s", keycard_strerror(rc));
        return refuse(r, KCS_OP_READBACK, KCS_RES_NO_CARD, msg);
    }
    answer(r, KCS_OP_READBACK, KCS_RES_OK);
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (kcs_put_str(r, KCS_R_LINE, line) != 0)
            break;
    free(buf);
    return KCS_RES_OK;
}

static unsigned op_eject(station *s, kcs_frame *r)
{
    static const uint8_t cmd[4] = {0xFF, 0xEE, 0x00, 0x00};
    keycard_target *t = NULL;
    keycard_target_info info;
    uint8_t resp[16];
    size_t n = sizeof resp;
    keycard_rc rc;
    char msg[160];

    rc = keycard_target_open(&t, s->target[0] ? s->target : NULL);
    if (rc != KEYCARD_OK) {
        snprintf(msg, sizeof msg, "target slot: %s", keycard_strerror(rc));
        return refuse(r, KCS_OP_EJECT, KCS_RES_NO_CARD, msg);
    }
    if (keycard_target_info_read(t, &info) != KEYCARD_OK)
        memset(info.serial, 0, 8);
    rc = keycard_target_transmit(t, cmd, sizeof cmd, resp, &n);
    keycard_target_close(t);
    if (rc != KEYCARD_OK || n < 2 || resp[n - 2] != 0x90 || resp[n - 1] != 0x00)
        return refuse(r, KCS_OP_EJECT, KCS_RES_NO_STACKER, "the reader refused the eject");
    memcpy(s->last_ejected, info.serial, 8);
    s->have_ejected = 1;
    s->left = n == 4 ? (long)resp[0] << 8 | resp[1] : -1;
    {
        char ser[17];
        kct_hex_format(info.serial, 8, ser);
        display("card %s ejected (%ld blank left)", ser, s->left);
    }
    answer(r, KCS_OP_EJECT, KCS_RES_OK);
    kcs_put(r, KCS_R_SERIAL, info.serial, 8);
    kcs_put_u16(r, KCS_R_LEFT, s->left < 0 ? 0xFFFF : (unsigned)s->left);
    return KCS_RES_OK;
}

static unsigned op_display(const kcs_frame *in, kcs_frame *r)
{
    char text[256];
    size_t i;

    if (kcs_find_str(in, KCS_T_TEXT, text, sizeof text) != 0)
        return refuse(r, KCS_OP_DISPLAY, KCS_RES_BAD_DATA, "no text to display");
    for (i = 0; text[i]; i++) /* the display shows printable characters only */
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F)
            text[i] = '?';
    display("message: %s", text);
    answer(r, KCS_OP_DISPLAY, KCS_RES_OK);
    return KCS_RES_OK;
}

/* Run one instruction; returns 1 when the station is to shut down. */
static int serve(station *s, const kcs_frame *in, kcs_frame *r)
{
    switch (in->op) {
    case KCS_OP_STATUS:
        op_status(s, r);
        break;
    case KCS_OP_STARTUP:
        op_startup(s, in, r);
        break;
    case KCS_OP_ISSUE:
        op_issue(s, in, r);
        break;
    case KCS_OP_READBACK:
        op_readback(s, r);
        break;
    case KCS_OP_EJECT:
        op_eject(s, r);
        break;
    case KCS_OP_DISPLAY:
        op_display(in, r);
        break;
    case KCS_OP_SHUTDOWN:
        answer(r, KCS_OP_SHUTDOWN, KCS_RES_OK);
        put_counts(s, r);
        display("shut-down instruction: %u issued, %u failed, %u skipped this shift", s->issued,
                s->failed, s->skipped);
        return 1;
    default:
        refuse(r, in->op & 0x7F, KCS_RES_BAD_OP, "unknown operation type code");
        break;
    }
    return 0;
}

static int listen_on(const char *path)
{
    struct sockaddr_un a;
    mode_t old;
    int fd, probe;

    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) {
        kct_err("--socket: path too long");
        return -1;
    }
    strcpy(a.sun_path, path);
    /* A live station on the path is left alone; a stale socket file is replaced. */
    if ((probe = kcs_connect(path)) >= 0) {
        close(probe);
        kct_err("%s: another station listens there", path);
        return -1;
    }
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        kct_err("socket: %s", strerror(errno));
        return -1;
    }
    old = umask(0077); /* only the station's user may send instructions */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
        umask(old);
        kct_err("%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    umask(old);
    return fd;
}

static void busy(int fd)
{
    static kcs_frame r;

    answer(&r, 0, KCS_RES_BUSY);
    kcs_put_str(&r, KCS_R_MESSAGE, "busy: the station is serving another client");
    /*
     * Read what the client sent before closing: a socket closed with unread
     * data resets the connection, and the client would lose the answer.
     */
    {
        struct pollfd pf = {fd, POLLIN, 0};
        uint8_t junk[512];
        if (poll(&pf, 1, 200) > 0)
            while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
                ;
    }
    kcs_send(fd, &r);
    shutdown(fd, SHUT_WR);
    close(fd);
    display("second client refused: busy");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* results keep their order with stderr's */
    (void)keycard_sim_enable(); /* "sim:FILE" cards (libkeycard-sim) */
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'}, {"profiles", required_argument, NULL, 'P'},
        {"socket", required_argument, NULL, 'k'}, {"reader", required_argument, NULL, 'r'},
        {"sim", required_argument, NULL, 's'},    {"target-reader", required_argument, NULL, 't'},
        {"target-sim", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {"trace", no_argument, NULL, 'v'},
        {"holder-pin", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0}};
    static station s;
    static kcs_frame in, out;
    const char *config = NULL, *sock = NULL;
    struct sigaction sa;
    int opt, lfd, cfd = -1, done = 0, ex = KCT_EXIT_OK;
    char err[160];

    kct_harden_process(); /* holds the issuer PIN all shift: no core, no ptrace */
    kct_set_prog("kc-station");
    kct_json_init();
    s.left = -1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'P': s.profiles = optarg; break;
        case 'k': sock = optarg; break;
        case 'r':
        case 's':
            if (kct_where_set(&s.kc_where, opt, optarg) != 0)
                return KCT_EXIT_USAGE;
            break;
        case 't':
        case 'T':
            if (s.target[0]) {
                return kct_cli_usage("kc-station",
                                     "give at most one of --target-reader and --target-sim");
            }
            snprintf(s.target, sizeof s.target, "%s%s", opt == 'T' ? "sim:" : "pcsc:", optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return KCT_EXIT_OK;
        case 'v':
            kct_trace_on();
            break;
        case 'H':
            g_holder_source = optarg;
            break;
        case 'V':
            kct_cli_version("kc-station", keycard_version());
            return KCT_EXIT_OK;
        default:
            return kct_cli_bad_option("kc-station", argv[optind - 1], lo);
        }
    }
    if (optind != argc || !config || !s.profiles || !sock) {
        return kct_cli_usage("kc-station",
                             "give --config STATION.json, --profiles DIR and --socket PATH");
    }
    if (kci_station_load(config, &s.cfg) != 0) {
        kci_station_free(&s.cfg);
        return KCT_EXIT_USAGE;
    }
    if (!s.kc_where.set && s.cfg.reader[0])
        kct_where_set(&s.kc_where, 'r', s.cfg.reader);
    if (!s.target[0] && s.cfg.target_reader[0])
        snprintf(s.target, sizeof s.target, "pcsc:%s", s.cfg.target_reader);
    if (s.target[0]) {
        /* A number, the name, or a part of it (kct_reader_resolve). */
        char named[sizeof s.target];
        int rex = kct_reader_resolve(s.target, named, sizeof named);
        if (rex) {
            kci_station_free(&s.cfg);
            return rex;
        }
        memcpy(s.target, named, sizeof named);
    }
    if ((lfd = listen_on(sock)) < 0) {
        kci_station_free(&s.cfg);
        return KCT_EXIT_FAIL;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    display("kc-station listening on %s (pid %ld); profiles in %s", sock, (long)getpid(),
            s.profiles);

    while (!done && !stop_flag) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {cfd, POLLIN, 0}};
        int n = poll(pf, cfd >= 0 ? 2 : 1, 500);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            kct_err("poll: %s", strerror(errno));
            ex = KCT_EXIT_FAIL;
            break;
        }
        if (pf[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                if (cfd >= 0) {
                    busy(fd);
                } else {
                    cfd = fd;
                    display("client connected");
                }
            }
        }
        if (cfd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            int r = kcs_recv(cfd, &in, FRAME_TIMEOUT_MS, err, sizeof err);
            if (r != 0) {
                if (r < 0) {
                    /* A broken frame: say so, then drop the client (its stream is lost). */
                    display("client dropped: %s", err);
                    answer(&out, 0, KCS_RES_LENGTH);
                    kcs_put_str(&out, KCS_R_MESSAGE, err);
                    kcs_send(cfd, &out);
                } else {
                    display("client disconnected");
                }
                close(cfd);
                cfd = -1;
                continue;
            }
            /* The job runs to its end whatever the client does meanwhile. */
            done = serve(&s, &in, &out);
            if (kcs_send(cfd, &out) != 0) {
                display("client gone before the result of operation %02X; the job had ended "
                        "(%u issued so far)", in.op, s.issued);
                close(cfd);
                cfd = -1;
            }
        }
    }
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    unlink(sock);
    keycard_close(s.kc);
    kci_station_free(&s.cfg);
    kct_secret_wipe(&g_holder_env);
    display("kc-station stopped");
    return ex;
}
