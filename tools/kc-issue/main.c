/*
 * main.c - kc-issue, the issuing station: start-up flow on the key card
 * (issuer PIN, holder PIN, identity check), then the issuance of the card in
 * the target slot, or of the whole stack (--all), from an issuance profile.
 *
 *   kc-issue --config STATION.json --profile ISSUANCE.json [--records CSV]
 *            [--all] [--show] [--reader R | --sim FILE]
 *            [--target-reader R | --target-sim FILE] [--wait SECONDS]
 *
 * See man/kc-issue.1 and docs/issuance-profile.md.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "jdb.h"
#include "journal.h"
#include "station.h"
#include "kcs_proto.h"
#include "keycard_sim.h"
#include "kct_cli.h"

static const char usage[] =
    "usage: kc-issue --config STATION.json --profile ISSUANCE.json\n"
    "                [--records CSV | --journal JOURNAL [--station-name NAME]\n"
    "                [--journal-wait SECONDS]]\n"
    "                [--all] [--show] [--reader R | --sim FILE]\n"
    "                [--target-reader R | --target-sim FILE]... [--wait SECONDS]\n"
    "       kc-issue --station SOCKET --profile NAME [--records CSV] [--all] [--show]\n"
    "       kc-issue --station SOCKET --status [--json]\n"
    "       kc-issue journal init|import|status|export|reconcile --journal JOURNAL ...\n"
    "\n"
    "Issue the target card (or, with --all, every card of the reader's stack) from an\n"
    "issuance profile. The key card makes every issuance command as an encrypted\n"
    "envelope; this program only carries them to the target card.\n"
    "\n"
    "  --config FILE        station config: issuer PIN, issuer public key, readers\n"
    "  --profile FILE       issuance profile (docs/issuance-profile.md)\n"
    "  --records CSV        per-card data for \"csv\" parameters (header line, one\n"
    "                       row per card; a \"serial\" column ties rows to cards)\n"
    "  --all                issue card after card: eject each (reader command\n"
    "                       FF EE 00 00) and take the next from the stacker\n"
    "  --show               print each issued card's tree, read back with\n"
    "                       operational commands\n"
    "  --reader R, --sim F  the key card (default: found by its AID)\n"
    "  --target-reader R    the target slot (default: the other slot of the key\n"
    "  --target-sim F       card's reader; F: a simulated target card image);\n"
    "                       several (up to 8): one target head each, all issuing\n"
    "                       at once from the one key card (its 4 issuance sessions\n"
    "                       shared), records from --journal\n"
    "  --wait SECONDS       how long to wait for the next card (default 10)\n"
    "  --station SOCKET     drive a reader/writer station (kc-station) instead:\n"
    "                       only operation instructions cross; --profile names a\n"
    "                       profile the station holds; no --config\n"
    "  --journal JOURNAL    take each card's record from the issuance journal and\n"
    "                       journal every card attempt (docs/production.md):\n"
    "                       FILE.db (SQLite, created on first use) or\n"
    "                       postgresql://... (shared by several stations)\n"
    "  --station-name NAME  this station in the journal (default: the host name;\n"
    "                       each station of a line needs a name of its own)\n"
    "  --journal-wait SECS  how long to wait for a journal server that went away\n"
    "                       before stopping (default 600)\n"
    "  --holder-pin SOURCE  the holder PIN: prompt (the default, or KEYCARD_HOLDER_PIN\n"
    "                       when set), file:PATH, env:VAR or fd:N\n"
    "  --json               the results as JSON lines: one object per card and\n"
    "                       the summary (docs/json.md); notices on stderr\n"
    "  -v, --trace          every command to a card and answer on stderr (inside\n"
    "                       the channel, before encryption); secrets as lengths\n"
    "  --help, --version    this help; the version\n"
    "\n"
    "The holder PIN is asked for on the terminal unless --holder-pin names\n"
    "another source (KEYCARD_HOLDER_PIN is read when set, for automation only). Exit status: 0 every card issued (already\n"
    "issued ones are skipped), 1 a card failed or the key card refused, 2 bad\n"
    "usage or bad input.\n";

/* The issuance journal of --journal, and this station's name in it. */
static kcj *g_journal;
static char g_station_name[256];

/* Report a journal error; the run stops (no card may go unjournaled). */
static int journal_fail(const char *err)
{
    kct_err("journal: %s; stopping: no card is issued that the journal cannot record", err);
    return KCT_EXIT_FAIL;
}

/* The run's report: card lines, summary, bar; notices go where it says. */
static kci_report g_rep;
/* --holder-pin SOURCE (prompt, file:PATH, env:VAR, fd:N); NULL: the variable or the terminal. */
static const char *g_holder_source;

/* Target heads one kc-issue drives at most (several target readers). */
#define HEADS_MAX 8

typedef struct opts {
    const char *config, *profile, *records, *station, *journal, *station_name;
    char heads[HEADS_MAX][KCT_WHERE_MAX]; /* every --target-reader / --target-sim */
    int n_heads;
    long journal_wait_s;
    int json;   /* the report as JSON lines on stdout (kci_report) */
    int status; /* --station SOCKET --status: the station's state, nothing issued */
    kct_where kc_where;
    char target[KCT_WHERE_MAX];
    int all, show;
    long wait_s;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'},  {"profile", required_argument, NULL, 'p'},
        {"records", required_argument, NULL, 'R'}, {"all", no_argument, NULL, 'a'},
        {"show", no_argument, NULL, 'S'},          {"reader", required_argument, NULL, 'r'},
        {"sim", required_argument, NULL, 's'},     {"target-reader", required_argument, NULL, 't'},
        {"target-sim", required_argument, NULL, 'T'}, {"wait", required_argument, NULL, 'w'},
        {"station", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {"trace", no_argument, NULL, 'v'}, {"json", no_argument, NULL, 'j'},
        {"holder-pin", required_argument, NULL, 'H'}, {"status", no_argument, NULL, 'Q'},
        {"journal", required_argument, NULL, 'J'}, {"station-name", required_argument, NULL, 'N'},
        {"journal-wait", required_argument, NULL, 'W'},
        {NULL, 0, NULL, 0}};
    int opt;
    char *end;

    memset(o, 0, sizeof *o);
    o->wait_s = 10;
    o->journal_wait_s = -1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o->config = optarg;
            break;
        case 'p':
            o->profile = optarg;
            break;
        case 'R':
            o->records = optarg;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'S':
            o->show = 1;
            break;
        case 'r':
        case 's':
            if (kct_where_set(&o->kc_where, opt, optarg) != 0)
                return KCT_EXIT_USAGE;
            break;
        case 't':
        case 'T':
            /* Several: one target head each, all on the one key card. */
            if (o->n_heads == HEADS_MAX)
                return kct_cli_usage("kc-issue", "at most %d target readers", HEADS_MAX);
            if (snprintf(o->heads[o->n_heads], sizeof o->heads[0], "%s%s",
                         opt == 'T' ? "sim:" : "pcsc:", optarg) >= (int)sizeof o->heads[0]) {
                return kct_cli_usage("kc-issue", "target reader name too long");
            }
            if (o->n_heads++ == 0)
                snprintf(o->target, sizeof o->target, "%s", o->heads[0]);
            break;
        case 'w':
            o->wait_s = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || o->wait_s < 0 || o->wait_s > 3600) {
                return kct_cli_usage("kc-issue", "--wait wants seconds 0..3600, not '%s'", optarg);
            }
            break;
        case 'X':
            o->station = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(KCT_EXIT_OK);
        case 'v':
            kct_trace_on();
            break;
        case 'j':
            o->json = 1;
            break;
        case 'H':
            g_holder_source = optarg;
            break;
        case 'Q':
            o->status = 1;
            break;
        case 'J':
            o->journal = optarg;
            break;
        case 'N':
            o->station_name = optarg;
            break;
        case 'W':
            o->journal_wait_s = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || o->journal_wait_s < 0 ||
                o->journal_wait_s > 86400)
                return kct_cli_usage("kc-issue", "--journal-wait wants seconds 0..86400, not '%s'",
                                     optarg);
            break;
        case 'V':
            kct_cli_version("kc-issue", keycard_version());
            exit(KCT_EXIT_OK);
        default:
            return kct_cli_bad_option("kc-issue", argv[optind - 1], lo);
        }
    }
    if (optind != argc) {
        return kct_cli_usage("kc-issue", "unexpected argument '%s'", argv[optind]);
    }
    if (o->status && (!o->station || o->profile || o->config))
        return kct_cli_usage("kc-issue", "--status goes with --station SOCKET alone");
    if (o->station && (o->profile || o->status) && !o->config && !o->kc_where.set &&
        !o->target[0])
        return 0;
    if (o->station) {
        return kct_cli_usage("kc-issue", "--station takes --profile NAME (and --records, --all, "
                                         "--show, --wait); the station has its own config and "
                                         "readers");
    }
    if (!o->config || !o->profile) {
        return kct_cli_usage("kc-issue", "give --config STATION.json and --profile ISSUANCE.json");
    }
    if ((o->station_name || o->journal_wait_s >= 0) && !o->journal)
        return kct_cli_usage("kc-issue", "--station-name and --journal-wait go with --journal");
    if (o->n_heads > 1 && (o->records || o->show))
        return kct_cli_usage("kc-issue", "several target readers take their records from "
                                         "--journal (not --records), and --show is for one");
    if (o->journal && o->records)
        return kct_cli_usage("kc-issue", "the records come from --journal or from --records, "
                                         "not both");
    return 0;
}

/* The start-up flow (as examples/startup/kc-startup.c). Returns 0 or the exit code. */
/*
 * The holder PIN when it came from KEYCARD_HOLDER_PIN (automation, no one to
 * type it again): kept for a new session after a lost one, wiped at exit.
 * Typed on a terminal, it is asked for again instead.
 */
static kct_secret g_holder_env;

static int startup(keycard *kc, kci_station *st)
{
    keycard_status status;
    keycard_holder holder;
    keycard_identity id;
    kct_secret pin;
    keycard_rc rc;
    char serial[17];
    int tries = -1;

    if ((rc = keycard_status_read(kc, &status)) != KEYCARD_OK)
        return kct_fail(rc, "read key card status", -1);
    kct_hex_format(status.serial, KC_SERIAL_LEN, serial);
    if (status.lifecycle != KEYCARD_LIFECYCLE_PROVISIONED) {
        kct_err("the key card in '%s' is blank; provision it first", keycard_reader_name(kc));
        return KCT_EXIT_FAIL;
    }
    rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, st->issuer_pin.text, &tries);
    kct_secret_wipe(&st->issuer_pin);
    if (rc != KEYCARD_OK)
        return kct_fail_cred(rc, "issuer PIN (station config)", KEYCARD_PIN_ISSUER, tries);
    int from_env = !g_holder_source && getenv("KEYCARD_HOLDER_PIN") != NULL;
    /* Kept for a new session after a lost one, unless a person types it again. */
    int keep = g_holder_source ? strcmp(g_holder_source, "prompt") != 0 : from_env;
    if (from_env)
        kct_err("holder PIN taken from KEYCARD_HOLDER_PIN (for automation only)");
    if (g_holder_env.len) {
        pin = g_holder_env;
    } else if (kct_secret_source("holder PIN", "--holder-pin", g_holder_source,
                                 "KEYCARD_HOLDER_PIN", "Holder PIN", 0, &pin) != 0) {
        return KCT_EXIT_USAGE;
    } else if (keep) {
        g_holder_env = pin;
    }
    if (!kct_pin_ok(pin.text)) {
        kct_secret_wipe(&pin);
        kct_err("holder PIN: must be 4 to 16 digits (0-9)");
        return KCT_EXIT_USAGE;
    }
    rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, pin.text, &tries);
    kct_secret_wipe(&pin);
    if (rc != KEYCARD_OK)
        return kct_fail_cred(rc, "holder PIN", KEYCARD_PIN_HOLDER, tries);
    if ((rc = keycard_holder_info(kc, &holder)) != KEYCARD_OK)
        return kct_fail(rc, "read holder", -1);
    /* A card that cannot prove itself genuine gets no target card to issue. */
    rc = keycard_identity_check(kc, st->issuer_pub, kct_key_len(st->issuer_pub, st->issuer_pub_len),
                                &id);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "identity check (the key card is not proven genuine; nothing issued)",
                        -1);
    fprintf(kci_report_notice(&g_rep),
            "station ready: key card %s in '%s' (genuine), operator %s (%s)\n", serial,
            keycard_reader_name(kc), holder.name, holder.number);
    return 0;
}

/*
 * Default target reader: the other slot of the key card's reader. PC/SC
 * names end in " SS NN" (NN = slot); the target is a reader with the same
 * name up to the last two characters and another slot number.
 */
static int default_target(const char *kc_reader, char *out, size_t cap)
{
    char list[8192], *line, *save = NULL;
    size_t n = strlen(kc_reader);

    if (n < 3 || keycard_list_readers(list, sizeof list) != KEYCARD_OK)
        return -1;
    for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strlen(line) == n && strcmp(line, kc_reader) != 0 &&
            strncmp(line, kc_reader, n - 2) == 0) {
            snprintf(out, cap, "pcsc:%s", line);
            return 0;
        }
    }
    return -1;
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

/* SIGINT or SIGTERM: the card in progress is finished or aborted cleanly, then the run stops. */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* Calls restart: no PC/SC exchange is cut in half; a second signal acts at once. */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/*
 * Open the target card in where; when prev is not NULL, wait (up to wait_s)
 * for a card with another serial (the stacker inserting the next card).
 */
static keycard_rc open_target(const char *where, const uint8_t *prev, long wait_s,
                              keycard_target **out)
{
    long until = now_ms() + wait_s * 1000L;
    keycard_rc rc;

    for (;;) {
        keycard_target_info info;
        rc = keycard_target_open(out, where);
        if (rc == KEYCARD_OK) {
            rc = keycard_target_info_read(*out, &info);
            if (rc == KEYCARD_OK && (prev == NULL || memcmp(info.serial, prev, 8) != 0))
                return KEYCARD_OK;
            keycard_target_close(*out);
            *out = NULL;
            if (rc == KEYCARD_OK)
                rc = KEYCARD_ERR_NO_CARD; /* still the card just ejected */
        }
        if (now_ms() >= until || g_signal)
            return rc;
        nap_ms(200);
    }
}

/* Errors after which the key card's session (and its verified PINs) is gone. */
static int session_gone(keycard_rc rc)
{
    return rc == KEYCARD_ERR_SESSION_LOST || rc == KEYCARD_ERR_NOT_VERIFIED ||
           rc == KEYCARD_ERR_CARD_RESET || rc == KEYCARD_ERR_CARD_REMOVED ||
           rc == KEYCARD_ERR_NO_CARD || rc == KEYCARD_ERR_CHANNEL ||
           rc == KEYCARD_ERR_TRANSPORT || rc == KEYCARD_ERR_NO_SERVICE;
}

static const char *likely_cause(keycard_rc rc)
{
    switch (rc) {
    case KEYCARD_ERR_CARD_RESET:
    case KEYCARD_ERR_NOT_VERIFIED:
        return "a reset of the key card (a power cycle, or a program that was already "
               "connected when the run began)";
    case KEYCARD_ERR_CARD_REMOVED:
    case KEYCARD_ERR_NO_CARD:
        return "the key card was pulled or lost power";
    case KEYCARD_ERR_NO_SERVICE:
        return "pcscd stopped or restarted";
    default:
        return "a line error or a reset of the key card";
    }
}

/*
 * A new session on the same key card: reconnect (waiting up to --wait for the
 * card to come back), reserve it again, and verify both PINs again (the issuer
 * PIN from the station config, the holder PIN from KEYCARD_HOLDER_PIN or the
 * terminal; with neither, no new session). Returns 0 or an exit status.
 */
static int reopen_session(keycard *kc, const opts *o, kci_station *st)
{
    long waited = 0;
    keycard_rc rc;

    while ((rc = keycard_reopen(kc)) != KEYCARD_OK && waited < o->wait_s * 1000L && !g_signal) {
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 250;
    }
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "key card: new session", -1);
    if ((rc = keycard_reserve(kc)) != KEYCARD_OK)
        kct_err("warning: cannot reserve the key card (%s)", keycard_strerror(rc));
    kci_station_free(st);
    if (kci_station_load(o->config, st) != 0) {
        return KCT_EXIT_USAGE;
    }
    return startup(kc, st);
}

/* The target could not be opened: "no card" means no target card here. */
static int target_fail(keycard_rc rc, const char *where)
{
    if (rc != KEYCARD_ERR_NO_CARD)
        return kct_fail(rc, where[0] ? "open the target card" : "find a target card", -1);
    if (where[0])
        kct_err("open the target card: no card in '%s' (insert the card to issue)", where);
    else
        kct_err("find a target card: no reader holds one besides the key card's (insert the "
                "card to issue, or name its reader with --target-reader)");
    return KCT_EXIT_FAIL;
}

/*
 * Eject the card (reader command FF EE 00 00). Returns the number of blank
 * cards the stacker says are left, -1 when it did not say (no count, or no
 * stacker: the answer is not 9000). *refused: 0 ejected, 1 the reader has
 * no stacker (it answered, not 9000), 2 no answer (said here).
 */
static long eject(keycard_target *t, int spoiled, int *refused)
{
    /* FF EE 01 00: into the stacker's tray of spoiled cards, apart from the good ones. */
    uint8_t cmd[4] = {0xFF, 0xEE, (uint8_t)(spoiled ? 0x01 : 0x00), 0x00};
    uint8_t resp[16];
    size_t n = sizeof resp;
    keycard_rc rc;

    *refused = 0;
    rc = keycard_target_transmit(t, cmd, sizeof cmd, resp, &n);
    if (rc != KEYCARD_OK) {
        /* No answer at all: the reader or pcscd went away, not a reader without a stacker. */
        fprintf(kci_report_notice(&g_rep),
                "cannot eject the card: %s; stopping (the card stays in the slot)\n",
                keycard_strerror(rc));
        *refused = 2;
        return -1;
    }
    if (n < 2 || resp[n - 2] != 0x90 || resp[n - 1] != 0x00) {
        if (spoiled && n >= 2 && resp[n - 2] == 0x6A && resp[n - 1] == 0x86) {
            fprintf(kci_report_notice(&g_rep),
                    "  (the stacker has no tray for spoiled cards: ejected with the others)\n");
            return eject(t, 0, refused);
        }
        /* 6985: the stacker has already ejected it (a run that ended just before). */
        if (n >= 2 && resp[n - 2] == 0x69 && resp[n - 1] == 0x85)
            return -1;
        *refused = 1;
        return -1;
    }
    return n == 4 ? (long)resp[0] << 8 | resp[1] : -1;
}

/*
 * The journal at the start of a run: opened (created on first use), this
 * station's claims from a run that stopped given back, and each of its cards
 * left "issuing" settled when the key card holds that card's completed
 * receipt (docs/production.md "After a crash"); the others stay open until
 * their card is in the slot again (journal_card) or another card comes first.
 */
#define PENDING_MAX 16
static kcj_open_attempt g_pending[PENDING_MAX];
static int g_n_pending;
static char g_keycard_serial[17];

static int journal_start(keycard *kc, const opts *o)
{
    char err[1024];
    keycard_status ks;
    if (o->station_name)
        snprintf(g_station_name, sizeof g_station_name, "%s", o->station_name);
    else if (gethostname(g_station_name, sizeof g_station_name - 1) != 0)
        snprintf(g_station_name, sizeof g_station_name, "station");
    if (keycard_status_read(kc, &ks) == KEYCARD_OK)
        kct_hex_format(ks.serial, 8, g_keycard_serial);
    if (kcj_open(o->journal, 1, o->journal_wait_s >= 0 ? o->journal_wait_s : JDB_WAIT_DEFAULT,
                 &g_journal, err, sizeof err) != 0)
        return journal_fail(err);
    int n = kcj_recover(g_journal, g_station_name, g_pending, PENDING_MAX, err, sizeof err);
    if (n < 0)
        return journal_fail(err);
    g_n_pending = 0;
    for (int i = 0; i < n; i++) {
        uint8_t serial[8];
        int result = -1;
        kct_hex_parse(g_pending[i].serial, serial, sizeof serial);
        keycard_rc rc = keycard_issue_end_late(kc, serial, NULL, NULL, &result);
        if (rc == KEYCARD_OK && result == KEYCARD_ISSUE_ON_RECORD) {
            if (kcj_settle(g_journal, g_pending[i].record, g_pending[i].attempt, "issued",
                           "recovered at the restart: the key card holds its completed receipt",
                           NULL, err, sizeof err) != 0)
                return journal_fail(err);
            fprintf(kci_report_notice(&g_rep),
                    "journal: record %ld: card %s was issued before the station stopped (its "
                    "receipt is on the key card)\n",
                    g_pending[i].record, g_pending[i].serial);
        } else {
            g_pending[g_n_pending++] = g_pending[i];
        }
    }
    fprintf(kci_report_notice(&g_rep), "journal %s: station %s%s\n", kcj_name(g_journal),
            g_station_name,
            g_n_pending ? ", a card of the run that stopped is awaited in the slot" : "");
    return 0;
}

/*
 * One card with the journal: the record this card was issuing when a run
 * stopped, else a new claim (not for a locked card: the key card decides
 * about it); "issuing" committed before the first command; the outcome
 * settled after. Returns 0, -1 (journal error, said), -2 (no record left).
 */
/* The report from several heads: one at a time. */
static pthread_mutex_t g_rep_mu = PTHREAD_MUTEX_INITIALIZER;
static void report_lock(void) { pthread_mutex_lock(&g_rep_mu); }
static void report_unlock(void) { pthread_mutex_unlock(&g_rep_mu); }

/*
 * The cards the stopped run left issuing whose serial is none of here[n]
 * (the cards in the slots now): gone from the slots, set aside, their
 * records back in the queue. Returns 0 or -1 (journal error, said).
 */
static int pending_aside(kcj *j, const char *const *here, int n)
{
    char err[1024];
    for (int i = 0; i < g_n_pending; i++) {
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= here[k][0] && strcasecmp(g_pending[i].serial, here[k]) == 0;
        if (seen)
            continue;
        if (kcj_settle(j, g_pending[i].record, g_pending[i].attempt, "aside",
                       "the station stopped during this card; it was not in the slot at the "
                       "restart and the key card has no completed receipt for it: set it aside "
                       "when found",
                       NULL, err, sizeof err) != 0)
            return journal_fail(err);
        report_lock();
        fprintf(kci_report_notice(&g_rep),
                "journal: record %ld back in the queue: card %s (left issuing when the station "
                "stopped) is not in a slot and has no receipt; set it aside when found\n",
                g_pending[i].record, g_pending[i].serial);
        report_unlock();
    }
    g_n_pending = 0;
    return 0;
}

static int journal_card(kcj *j, kci_head *h, keycard *kc, keycard_target *t,
                        const kci_profile *prof, kci_outcome *oc, int *rc_kc)
{
    keycard_target_info ti;
    kci_csv one;
    char serial[17] = "", err[1024];
    long rec = 0, att = 0;
    size_t zero = 0;
    memset(&one, 0, sizeof one);
    memset(&ti, 0, sizeof ti);
    if (keycard_target_info_read(t, &ti) == KEYCARD_OK)
        kct_hex_format(ti.serial, 8, serial);
    if (serial[0] && kcj_find_issuing(j, g_station_name, serial, &rec, &att, &one, err,
                                      sizeof err) != 0)
        return journal_fail(err), -1;
    /*
     * The cards the stopped run left issuing that are not this one: gone from
     * the slot (several heads: settled before they started, run_heads).
     */
    const char *here[1] = {serial};
    if (!h && pending_aside(j, here, 1) != 0)
        return -1;
    int locked = ti.state == KEYCARD_TARGET_ISSUED || ti.state == KEYCARD_TARGET_ISSUING;
    /* A claim that went back to the queue meanwhile (the server was away too long): again. */
    for (int again = 0; !rec && !locked && serial[0]; again++) {
        if (kcj_claim(j, g_station_name, serial, &rec, &one, err, sizeof err) != 0)
            return journal_fail(err), -1;
        if (!rec)
            return -2;
        int ir = kcj_issuing(j, rec, g_station_name, serial, g_keycard_serial,
                             keycard_target_reader_name(t), &att, err, sizeof err);
        if (ir == 0)
            break;
        kci_csv_free(&one);
        if (ir != -2 || again == 2)
            return journal_fail(err), -1;
        report_lock();
        fprintf(kci_report_notice(&g_rep), "journal: %s; claiming again\n", err);
        report_unlock();
        rec = 0;
    }
    *rc_kc = kci_issue_card_head(h, kc, t, prof, &one, &zero, oc);
    kci_csv_free(&one);
    if (!rec) {
        if (oc->result == KCI_ISSUED) {
            /* Recovered by a late END, but its record went to another card meanwhile. */
            oc->result = KCI_FAILED;
            snprintf(oc->why, sizeof oc->why,
                     "locked by a run that stopped, vouched for by the key card, but the "
                     "journal gave its record to another card: set aside");
        }
        return 0;
    }
    int done = oc->result == KCI_ISSUED || oc->result == KCI_WRITTEN ||
               oc->result == KCI_SKIPPED;
    if (*rc_kc != 0 && !done)
        return 0; /* the key card's session is in doubt: the record stays issuing (restart rule) */
    char why[300], mac[33];
    snprintf(why, sizeof why, "%s", oc->why);
    if (oc->have_mac)
        kct_hex_format(oc->mac, sizeof oc->mac, mac);
    /*
     * A failure that stops the batch (the key card refuses every card: its
     * log is full, the key is missing) leaves the card in the slot, not set
     * aside: the attempt is "failed", the record back in the queue uncounted.
     */
    if (kcj_settle(j, rec, att, done ? "issued" : oc->batch_fatal ? "failed" : "aside",
                   done ? NULL : why,
                   done && oc->have_mac ? mac : NULL, err, sizeof err) != 0)
        return journal_fail(err), -1;
    return 0;
}

/* ---- several target heads on one key card ---------------------------------- */

typedef struct head_ctx {
    kci_head h;
    char where[KCT_WHERE_MAX];
    kcj *journal;
    keycard *kc;
    const kci_profile *prof;
    const opts *o;
    pthread_t th;
    int started;
} head_ctx;

static pthread_mutex_t g_kc_mu = PTHREAD_MUTEX_INITIALIZER;  /* one key-card exchange at a time */
static pthread_mutex_t g_sess_mu = PTHREAD_MUTEX_INITIALIZER; /* the key card's free sessions */
static pthread_cond_t g_sess_cv = PTHREAD_COND_INITIALIZER;
static unsigned g_sess_busy;
static volatile int g_stop_heads; /* a head met a failure that ends the run */
static int g_idle_heads;          /* heads that found no card at all (reader gone, empty) */

/* A free session of the key card for this head's card (heads beyond the sessions wait). */
static int head_take(kci_head *h)
{
    pthread_mutex_lock(&g_sess_mu);
    for (;;) {
        for (unsigned k = 0; k < KEYCARD_ISSUE_SESSIONS; k++) {
            if (!(g_sess_busy & (1u << k))) {
                g_sess_busy |= 1u << k;
                h->session = k;
                pthread_mutex_unlock(&g_sess_mu);
                return 0;
            }
        }
        if (g_stop_heads || g_signal)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_sess_cv, &g_sess_mu, &ts);
    }
    pthread_mutex_unlock(&g_sess_mu);
    return -1;
}

static void head_give(kci_head *h)
{
    pthread_mutex_lock(&g_sess_mu);
    g_sess_busy &= ~(1u << h->session);
    pthread_cond_broadcast(&g_sess_cv);
    pthread_mutex_unlock(&g_sess_mu);
}

/* The key card's busy time (under g_kc_mu): what the heads' cards cost it. */
static double g_kc_busy_ms;
static _Thread_local double g_enter_ms;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void head_enter(kci_head *h)
{
    head_ctx *hc = h->arg;
    pthread_mutex_lock(&g_kc_mu);
    g_enter_ms = mono_ms();
    (void)keycard_issue_session_select(hc->kc, h->session);
}

static void head_leave(kci_head *h)
{
    (void)h;
    g_kc_busy_ms += mono_ms() - g_enter_ms;
    pthread_mutex_unlock(&g_kc_mu);
}

static void head_say(const head_ctx *hc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void head_say(const head_ctx *hc, const char *fmt, ...)
{
    va_list ap;
    report_lock();
    FILE *f = kci_report_notice(&g_rep);
    fprintf(f, "head %u (%s): ", hc->h.index + 1, hc->where);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    report_unlock();
}

/*
 * One head: card after card from its reader (its stacker), each with its
 * record (from the journal when there is one), then ejected. A failure of
 * the card or of this reader ends this head only; the key card or the
 * journal failing ends every head (the card stays in the slot).
 */
static void *head_run(void *arg)
{
    head_ctx *hc = arg;
    const opts *o = hc->o;
    uint8_t prev[8];
    int have_prev = 0;
    for (;;) {
        keycard_target *t = NULL;
        kci_outcome oc;
        int rc_kc = 0, refused = 0;
        char serial[17], why[sizeof oc.why + 32];
        if (g_stop_heads || g_signal)
            break;
        keycard_rc rc = open_target(hc->where, have_prev ? prev : NULL, o->wait_s, &t);
        if (rc != KEYCARD_OK) {
            if (!have_prev) {
                report_lock();
                g_idle_heads++;
                report_unlock();
            }
            if (!g_stop_heads && !g_signal)
                head_say(hc, "no %scard after %ld s: %s", have_prev ? "further " : "", o->wait_s,
                         keycard_strerror(rc));
            break;
        }
        if (hc->journal) {
            int jr = journal_card(hc->journal, &hc->h, hc->kc, t, hc->prof, &oc, &rc_kc);
            if (jr < 0) {
                if (jr == -2)
                    head_say(hc, "no queued record for the card in the slot; this head stops");
                else
                    g_stop_heads = 1;
                keycard_target_close(t);
                break;
            }
        } else {
            static const kci_csv none;
            size_t zero = 0;
            rc_kc = kci_issue_card_head(&hc->h, hc->kc, t, hc->prof, &none, &zero, &oc);
        }
        kct_hex_format(oc.serial, 8, serial);
        snprintf(why, sizeof why, "%s [head %u]", oc.why, hc->h.index + 1);
        report_lock();
        kci_report_card_head(&g_rep, (int)hc->h.index, serial, oc.result, why, oc.ms);
        report_unlock();
        if (rc_kc != 0) {
            /* The key card's session is gone or in doubt: every head stops, no eject. */
            report_lock();
            kct_fail(rc_kc, "key card", -1);
            report_unlock();
            head_say(hc, "stopping every head (card %s stays in the slot)", serial);
            g_stop_heads = 1;
            keycard_target_close(t);
            break;
        }
        if (oc.batch_fatal) {
            head_say(hc, "stopping every head: %s; every further card would fail the same way "
                         "(card %s stays in the slot)", oc.why, serial);
            g_stop_heads = 1;
            keycard_target_close(t);
            break;
        }
        if (!o->all) {
            keycard_target_close(t);
            break;
        }
        memcpy(prev, oc.serial, 8);
        have_prev = 1;
        report_lock();
        long left = eject(t, oc.result != KCI_ISSUED && oc.result != KCI_WRITTEN &&
                                 oc.result != KCI_SKIPPED,
                          &refused);
        if (!refused)
            kci_report_left_head(&g_rep, (int)hc->h.index, left);
        report_unlock();
        keycard_target_close(t);
        if (refused == 1)
            head_say(hc, "the reader has no stacker (eject refused); this head stops after one "
                         "card");
        if (refused == 2)
            g_stop_heads = 1;
        if (refused || left == 0)
            break;
    }
    return NULL;
}

/*
 * Issue with several target heads (the readers in where[n]) on one key card,
 * one thread per head. Returns 0, or -1 when the run stopped early.
 */
static int run_heads(keycard *kc, const opts *o, const kci_profile *prof,
                     char where[][KCT_WHERE_MAX], int n)
{
    head_ctx *hc = calloc((size_t)n, sizeof *hc);
    char err[1024];
    int bad = 0;
    if (!hc) {
        kct_err("out of memory");
        return -1;
    }
    kci_report_heads(&g_rep, n); /* a terminal: a bar per head; piped: a line per card */
    /*
     * The cards a stopped run left issuing: each found in a slot goes on in
     * that head (journal_card finds its record by serial); the others are
     * set aside now, before any head claims.
     */
    if (g_journal && g_n_pending) {
        char serials[HEADS_MAX][17];
        const char *here[HEADS_MAX];
        for (int i = 0; i < n; i++) {
            keycard_target *t = NULL;
            keycard_target_info ti;
            serials[i][0] = '\0';
            if (open_target(where[i], NULL, 0, &t) == KEYCARD_OK &&
                keycard_target_info_read(t, &ti) == KEYCARD_OK)
                kct_hex_format(ti.serial, 8, serials[i]);
            keycard_target_close(t);
            here[i] = serials[i];
        }
        if (pending_aside(g_journal, here, n) != 0) {
            free(hc);
            return -1;
        }
    }
    g_n_pending = 0;
    for (int i = 0; i < n; i++) {
        hc[i].h.take = head_take;
        hc[i].h.give = head_give;
        hc[i].h.enter = head_enter;
        hc[i].h.leave = head_leave;
        hc[i].h.arg = &hc[i];
        hc[i].h.index = (unsigned)i;
        snprintf(hc[i].where, sizeof hc[i].where, "%.*s", (int)sizeof hc[i].where - 1, where[i]);
        hc[i].kc = kc;
        hc[i].prof = prof;
        hc[i].o = o;
        /* Each head its own connection to the journal: its transactions its own. */
        if (g_journal &&
            kcj_open(o->journal, 1, o->journal_wait_s >= 0 ? o->journal_wait_s : JDB_WAIT_DEFAULT,
                     &hc[i].journal, err, sizeof err) != 0) {
            journal_fail(err);
            bad = 1;
            break;
        }
    }
    fprintf(kci_report_notice(&g_rep), "%d target heads on one key card (%d issuance sessions)\n",
            n, KEYCARD_ISSUE_SESSIONS);
    for (int i = 0; !bad && i < n; i++) {
        if (pthread_create(&hc[i].th, NULL, head_run, &hc[i]) != 0) {
            kct_err("cannot start head %d: out of resources", i + 1);
            g_stop_heads = 1;
            bad = 1;
            break;
        }
        hc[i].started = 1;
    }
    for (int i = 0; i < n; i++) {
        if (hc[i].started)
            pthread_join(hc[i].th, NULL);
        kcj_close(hc[i].journal);
    }
    free(hc);
    /* What bounds the line: the key card serves one exchange at a time. */
    if (g_rep.cards)
        fprintf(kci_report_notice(&g_rep),
                "key card busy %.1f ms per card: its limit %.0f cards/h with enough heads\n",
                g_kc_busy_ms / (double)g_rep.cards,
                g_kc_busy_ms > 0 ? 3600e3 * (double)g_rep.cards / g_kc_busy_ms : 0.0);
    return bad || g_stop_heads ? -1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* results keep their order with stderr's */
    (void)keycard_sim_enable(); /* "sim:FILE" cards (libkeycard-sim) */
    static kci_profile prof;
    kci_station st;
    kci_csv csv;
    opts o;
    keycard *kc = NULL;
    keycard_target *t = NULL;
    char where[KCT_WHERE_MAX], err[512];
    size_t next_row = 0, cards = 0;
    uint8_t prev[8];
    int have_prev = 0, ex, stopped = 0, retry = 0, reopened_failed = 0;
    long remaining = -1;
    FILE *nf;

    kct_harden_process(); /* holds PINs and keys: no core dump, no ptrace */
    catch_signals();
    jdb_set_cancel(&g_signal); /* Ctrl-C ends a wait for the journal's server */
    kct_set_prog("kc-issue");
    kct_json_init();
    if (argc > 1 && strcmp(argv[1], "journal") == 0)
        return kcj_main(argc - 1, argv + 1);
    memset(&csv, 0, sizeof csv);
    if ((ex = parse(argc, argv, &o)) != 0)
        return ex;
    if (o.station && o.status)
        return kci_station_status(o.station, o.json);
    if (o.station)
        return kci_station_client(o.station, o.profile, o.records, o.all, o.show, o.wait_s,
                                  o.json);
    kci_report_init(&g_rep, o.json, 0); /* notices before the batch; its bar starts with it */
    if (kci_profile_load(o.profile, &prof) != 0) {
        return KCT_EXIT_USAGE;
    }
    if (o.records) {
        if (kci_csv_load(o.records, &csv, err, sizeof err) != 0) {
            kct_err("%s: %s", o.records, err);
            return KCT_EXIT_USAGE;
        }
        /* Both checks always run, so every problem of the file is said at once. */
        int bad = kci_csv_check(&prof, &csv) != 0;
        bad |= kci_csv_unused(&prof, &csv) != 0;
        if (bad) {
            kci_csv_free(&csv);
            return KCT_EXIT_USAGE;
        }
    } else if (prof.uses_csv && !o.journal) {
        kct_err("%s: the profile takes \"csv\" parameters; give --records CSV", o.profile);
        return KCT_EXIT_USAGE;
    }
    if (kci_station_load(o.config, &st) != 0) {
        kci_station_free(&st);
        kci_csv_free(&csv);
        return KCT_EXIT_USAGE;
    }
    if (!o.kc_where.set && st.reader[0])
        kct_where_set(&o.kc_where, 'r', st.reader);
    if (!o.target[0] && st.target_reader[0])
        snprintf(o.target, sizeof o.target, "pcsc:%s", st.target_reader);
    /* The station's target heads, unless --target-reader/--target-sim name others. */
    if (o.n_heads == 0 && st.n_target_readers > 0) {
        for (int i = 0; i < st.n_target_readers && i < HEADS_MAX; i++)
            snprintf(o.heads[i], sizeof o.heads[i], "pcsc:%.*s", (int)sizeof o.heads[i] - 6,
                     st.target_readers[i]);
        o.n_heads = st.n_target_readers;
        snprintf(o.target, sizeof o.target, "%s", o.heads[0]);
        if (o.n_heads > 1 && (o.records || o.show)) {
            kct_err("%s: target_readers: several target readers take their records from "
                    "--journal (not --records), and --show is for one", o.config);
            kci_station_free(&st);
            kci_csv_free(&csv);
            return KCT_EXIT_USAGE;
        }
    }

    /* The certificate is checked against the station's issuer key before any PIN goes out. */
    if ((ex = kct_open_issuer(&o.kc_where, st.issuer_pub, kct_key_len(st.issuer_pub, st.issuer_pub_len),
                              &kc)) != 0)
        goto out;
    /*
     * The key card is ours for the run: another program that connects to it
     * now is told "busy" at once, instead of resetting it (and ending this
     * run's session and PINs) between two cards.
     */
    {
        keycard_rc rr = keycard_reserve(kc);
        if (rr != KEYCARD_OK)
            kct_err("warning: cannot reserve the key card (%s): another program using it during the "
                     "run would end the run's session", keycard_strerror(rr));
    }
    if (o.target[0]) {
        /* A number, the name, or a part of it (kct_reader_resolve). */
        if ((ex = kct_reader_resolve(o.target, where, sizeof where)) != 0)
            goto out;
    } else if (default_target(keycard_reader_name(kc), where, sizeof where) != 0) {
        where[0] = '\0'; /* any reader whose card answers as a target */
    }
    /* The first target is found before any PIN is asked for or sent (and no unlock audited). */
    {
        keycard_rc rc = open_target(where[0] ? where : NULL, NULL, 0, &t);
        if (rc != KEYCARD_OK) {
            ex = target_fail(rc, where);
            goto out;
        }
    }
    if ((ex = startup(kc, &st)) != 0)
        goto out;
    fprintf(kci_report_notice(&g_rep), "profile %s: %s%skey %u, way %s, bucket %u, %zu steps%s\n",
            o.profile, prof.name, prof.name[0] ? ", " : "", prof.key, kci_way_name(prof.way),
            prof.bucket, prof.n_steps, prof.lock ? ", locks the card" : "");
    /* A profile the key card cannot serve stops here, before any card is touched. */
    {
        int pc = kci_profile_check(kc, &prof, &csv);
        if (pc < 0) {
            ex = kct_fail((keycard_rc)pc, "key card", -1);
            goto out;
        }
        if (pc > 0) {
            ex = KCT_EXIT_FAIL;
            goto out;
        }
    }
    kci_report_init(&g_rep, o.json, o.all);
    if (o.journal && (ex = journal_start(kc, &o)) != 0) {
        if (g_signal) /* interrupted while waiting for the journal's server */
            ex = 128 + g_signal;
        goto out;
    }
    if (o.n_heads > 1) {
        static char heads[HEADS_MAX][KCT_WHERE_MAX];
        if (prof.uses_csv && !o.journal) {
            kct_err("%s: the profile takes \"csv\" parameters: several target readers take "
                    "them from --journal", o.profile);
            ex = KCT_EXIT_USAGE;
            goto out;
        }
        snprintf(heads[0], sizeof heads[0], "%s", where);
        for (int i = 1; i < o.n_heads; i++)
            if ((ex = kct_reader_resolve(o.heads[i], heads[i], sizeof heads[i])) != 0)
                goto out;
        keycard_target_close(t); /* the first head opens its reader again */
        t = NULL;
        stopped = run_heads(kc, &o, &prof, heads, o.n_heads) != 0;
        kci_report_summary(&g_rep, stopped ? "batch stopped" : g_signal ? "interrupted" : NULL);
        /* A head that never had a card (its reader gone or empty) fails the run too. */
        ex = g_rep.failed || stopped || g_idle_heads ? KCT_EXIT_FAIL : KCT_EXIT_OK;
        if (g_signal)
            ex = 128 + g_signal;
        goto out;
    }

    for (;;) {
        kci_outcome oc;
        keycard_rc rc = cards == 0 || retry ? KEYCARD_OK /* opened before the PINs, or again */
                                            : open_target(where[0] ? where : NULL,
                                                          have_prev ? prev : NULL, o.wait_s, &t);
        char serial[17];
        int rc_kc, refused;

        if (rc != KEYCARD_OK) {
            if (cards == 0) {
                ex = target_fail(rc, where);
                goto out;
            }
            nf = kci_report_notice(&g_rep);
            if (g_signal)
                fprintf(nf, "interrupted (%s) while waiting for the next card\n",
                        g_signal == SIGINT ? "SIGINT" : "SIGTERM");
            else
                fprintf(nf, "no further card after %ld s: %s\n", o.wait_s, keycard_strerror(rc));
            break;
        }
        if (cards == 0)
            fprintf(kci_report_notice(&g_rep), "target slot: '%s'\n",
                    keycard_target_reader_name(t));
        if (g_journal) {
            int jr = journal_card(g_journal, NULL, kc, t, &prof, &oc, &rc_kc);
            if (jr < 0) { /* the journal failed, or holds no record for this card */
                ex = KCT_EXIT_FAIL;
                stopped = jr == -1;
                if (jr == -2)
                    fprintf(kci_report_notice(&g_rep), "journal: no queued record for card in "
                                                       "the slot; stopping\n");
                break;
            }
        } else {
            rc_kc = kci_issue_card(kc, t, &prof, &csv, &next_row, &oc);
        }
        cards++;
        kct_hex_format(oc.serial, 8, serial);
        kci_report_card(&g_rep, serial, oc.result, oc.why, oc.ms);
        if (o.show && (oc.result == KCI_ISSUED || oc.result == KCI_WRITTEN)) {
            nf = kci_report_notice(&g_rep);
            fprintf(nf, "  tree of card %s as read back with operational commands:\n", serial);
            int r = kci_show_tree(t, nf, "    ");
            if (r != KEYCARD_OK)
                fprintf(nf, "    (cannot read the file list: %s)\n", keycard_strerror(r));
        }
        /*
         * The key card's session is gone (reset, power cycle, pcscd restart):
         * once per card, a new session with the PINs again, and the same card
         * once more (a partially issued one is then refused, a locked one
         * recovered by a late END).
         */
        if (rc_kc != 0 && !retry && session_gone(rc_kc)) {
            fprintf(kci_report_notice(&g_rep),
                    "card %s: the key card's session was lost (%s): likely %s; opening a new "
                    "session\n", serial, keycard_strerror(rc_kc), likely_cause(rc_kc));
            fflush(stdout);
            keycard_target_close(t);
            t = NULL;
            reopened_failed = reopen_session(kc, &o, &st) != 0;
            if (!reopened_failed &&
                open_target(where[0] ? where : NULL, NULL, o.wait_s, &t) == KEYCARD_OK) {
                retry = 1;
                cards--; /* the card counts once, with the outcome of the retry */
                kci_report_retry(&g_rep, oc.result);
                continue;
            }
        }
        retry = 0;
        if (rc_kc != 0) {
            /* The key card's session is gone or in doubt: no further card, no eject. */
            if (!reopened_failed)
                kct_fail(rc_kc, "key card", -1);
            kct_err("stopping the batch (card %s stays in the slot)", serial);
            stopped = 1;
            break;
        }
        if (oc.batch_fatal) {
            /* Every further card would fail alike (and leave an aborted receipt each). */
            kct_err("stopping the batch: %s; every further card would fail the same way "
                    "(card %s stays in the slot)", oc.why, serial);
            stopped = 1;
            break;
        }
        if (g_signal) {
            fprintf(kci_report_notice(&g_rep), "interrupted (%s): stopped after card %s\n",
                    g_signal == SIGINT ? "SIGINT" : "SIGTERM", serial);
            break;
        }
        if (!o.all)
            break;
        memcpy(prev, oc.serial, 8);
        have_prev = 1;
        /* A card that failed is set aside: the spoiled tray, never among the issued ones. */
        remaining = eject(t, oc.result != KCI_ISSUED && oc.result != KCI_WRITTEN &&
                                 oc.result != KCI_SKIPPED,
                          &refused);
        keycard_target_close(t);
        t = NULL;
        if (refused == 1)
            fprintf(kci_report_notice(&g_rep),
                    "the reader has no stacker (eject refused); stopping after one card\n");
        if (refused == 2)
            stopped = 1; /* the cards left in the stacker were not reached: exit 1 */
        if (refused)
            break;
        kci_report_left(&g_rep, remaining);
        if (remaining == 0)
            break;
    }
    kci_report_summary(&g_rep, stopped ? "batch stopped" : g_signal ? "interrupted" : NULL);
    ex = g_rep.failed || stopped ? KCT_EXIT_FAIL : KCT_EXIT_OK;
    /* As a shell reports a process ended by the signal: 128 + its number. */
    if (g_signal)
        ex = 128 + g_signal;
out:
    kcj_close(g_journal);
    keycard_target_close(t);
    keycard_close(kc);
    kci_station_free(&st);
    kci_csv_free(&csv);
    kct_secret_wipe(&g_holder_env);
    return ex;
}
