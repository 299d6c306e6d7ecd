/*
 * kc-vcard.c - run a card firmware as a virtual PC/SC card on a vpcd slot.
 *
 * The card's flash is a state file (keycard/hw/kc_hw_file). kc-vcard
 * connects to the vpcd reader driver that pcscd loaded (vpcd listens, the
 * card connects), answers its messages (vpcd.h, serve.h), and when pcscd goes
 * away or is not there yet it retries forever, keeping the card state, as a
 * card stays in a reader that loses power. SIGTERM/SIGINT end it cleanly
 * after the APDU in hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cards.h"
#include "hw/kc_hw_file.h"
#include "kc_card.h"
#include "serve.h"
#include "vpcd.h"

/* vpcd's default port (0x8C7B); slot 1 listens on the next one. */
#define VCARD_DEFAULT_PORT 35963
#define VCARD_RETRY_MS 300
#define VCARD_CONNECT_TIMEOUT_MS 2000

static volatile sig_atomic_t g_stop;
/* The signal mask outside ppoll: SIGTERM/SIGINT are blocked everywhere else,
 * so they only interrupt waiting, never an APDU in progress. */
static sigset_t g_wait_mask;

typedef struct vcard_opts {
    const char *card;
    const char *state;
    const char *host;
    unsigned port;
    unsigned slot;
    int log_apdu;
} vcard_opts;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    va_list ap;

    fputs("kc-vcard: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fputs("usage: kc-vcard --card NAME --state FILE [--port N] [--host H]\n"
          "                [--reader-slot 0|1] [--log-apdu]\n"
          "       kc-vcard --list-cards | --help\n"
          "Run a card firmware as a virtual smart card on a vsmartcard vpcd reader.\n"
          "\n"
          "  --card NAME         card firmware: keycard or target\n"
          "  --state FILE        the card's flash, created blank when missing\n"
          "  --host H            host where pcscd runs vpcd (default 127.0.0.1)\n"
          "  --port N            vpcd port of slot 0 (default 35963 = 0x8C7B)\n"
          "  --reader-slot 0|1   reader slot; slot 1 uses port N+1 (default 0)\n"
          "  --log-apdu          print every command and answer in hex on stderr\n"
          "  --list-cards        print the card names, marking those not built yet\n"
          "  --help              print this help\n"
          "\n"
          "Keeps reconnecting while pcscd is absent; SIGTERM or SIGINT stops it\n"
          "after the current command, with the state file saved. Exit status: 0 on\n"
          "a signal, 1 when the card cannot start, 2 on bad usage.\n",
          f);
}

/* One card name a line; the ones not linked in are marked. */
static void list_cards(void)
{
    const kc_vcard_entry *e;

    for (e = kc_vcard_cards; e->name != NULL; e++)
        printf("%s%s\n", e->name, e->ops != NULL ? "" : " (not built yet)");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("kc-vcard: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see kc-vcard --help)\n", stderr);
    return 2;
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* Returns 0, or the exit status (2) after saying why. */
static int parse_args(int argc, char **argv, vcard_opts *o)
{
    static const struct option longopts[] = {
        {"card", required_argument, NULL, 'c'},   {"state", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},   {"host", required_argument, NULL, 'H'},
        {"reader-slot", required_argument, NULL, 'r'}, {"log-apdu", no_argument, NULL, 'l'},
        {"list-cards", no_argument, NULL, 'L'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = VCARD_DEFAULT_PORT;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->card = optarg;
            break;
        case 's':
            o->state = optarg;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            if (parse_uint(optarg, 65535, &o->port) != 0 || o->port == 0)
                return bad_usage("--port wants a TCP port 1..65535, not '%s'", optarg);
            break;
        case 'r':
            if (parse_uint(optarg, 1, &o->slot) != 0)
                return bad_usage("--reader-slot wants 0 or 1, not '%s'", optarg);
            break;
        case 'l':
            o->log_apdu = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'L':
            list_cards();
            exit(0);
        case ':':
            return bad_usage("option %s needs a value", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (o->card == NULL)
        return bad_usage("--card is required");
    if (o->state == NULL || o->state[0] == '\0')
        return bad_usage("--state is required");
    if (o->port + o->slot > 65535)
        return bad_usage("port %u + slot %u is past 65535", o->port, o->slot);
    return 0;
}

static void log_hex(const char *dir, const uint8_t *b, size_t n)
{
    size_t i;

    fprintf(stderr, "kc-vcard: %s ", dir);
    for (i = 0; i < n; i++)
        fprintf(stderr, "%02X", b[i]);
    fputc('\n', stderr);
}

/* Sleep ms milliseconds, or less when a stop signal comes. */
static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    (void)ppoll(NULL, 0, &ts, &g_wait_mask);
}

static void set_tcp_opts(int fd)
{
    int one = 1;

    /* Without these each APDU waits for a delayed ACK: ~40 ms instead of ~0.2 ms. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/*
 * Try each address once. Returns a connected, blocking socket, or -1 with
 * *why set to the last errno.
 */
static int try_connect(const struct addrinfo *ai, int *why)
{
    for (; ai != NULL && !g_stop; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        int err = 0;
        socklen_t elen = sizeof(err);

        if (fd < 0) {
            *why = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                *why = errno;
                close(fd);
                continue;
            }
            /* Non-blocking so that a signal or a silent host cannot hang us here. */
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            struct timespec ts = {VCARD_CONNECT_TIMEOUT_MS / 1000, 0};
            int r = ppoll(&p, 1, &ts, &g_wait_mask);
            if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
                *why = r == 0 ? ETIMEDOUT : (r < 0 ? errno : err);
                close(fd);
                continue;
            }
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
            *why = errno;
            close(fd);
            continue;
        }
        set_tcp_opts(fd);
        return fd;
    }
    return -1;
}

static int send_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void log_ctrl(uint8_t ctrl)
{
    static const char *const names[] = {"power off", "power on", "reset", "?", "get ATR"};

    if (ctrl < sizeof(names) / sizeof(names[0]) && ctrl != 3)
        logmsg("%s", names[ctrl]);
    else
        logmsg("unknown control 0x%02X ignored", ctrl);
}

/*
 * Serve one connection until vpcd closes it (returns -1) or a stop signal
 * comes (returns 0).
 */
static int serve_connection(int fd, const kc_card_ops *ops, void *ctx, int log_apdu)
{
    static uint8_t rx[KC_VPCD_HDR_LEN + KC_VPCD_MSG_MAX];
    static uint8_t out[KC_VCARD_OUT_MAX];
    size_t fill = 0, skip = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        long r;
        kc_vpcd_msg m;

        if (g_stop)
            return 0;
        if (ppoll(&p, 1, NULL, &g_wait_mask) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        n = read(fd, rx + fill, sizeof(rx) - fill);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        /* Linux turns quick-ACK mode off again by itself; renew it on every read. */
        set_tcp_opts(fd);
        if (skip > 0) { /* still discarding an oversize message */
            if ((size_t)n <= skip) {
                skip -= (size_t)n;
                continue;
            }
            memmove(rx, rx + skip, (size_t)n - skip);
            fill = (size_t)n - skip;
            skip = 0;
        } else {
            fill += (size_t)n;
        }
        while ((r = kc_vpcd_parse(rx, fill, KC_VPCD_MSG_MAX, &m)) != KC_VPCD_NEED_MORE) {
            size_t used, olen = 0;

            if (r == KC_VPCD_ERR_TOO_BIG) {
                /* Larger than any command the card takes: refuse, stay in step. */
                logmsg("%zu-byte message refused (limit %d)", m.len, KC_VPCD_MSG_MAX);
                used = KC_VPCD_HDR_LEN + m.len;
                olen = kc_vcard_answer_sw(KC_SW_WRONG_LENGTH, out, sizeof(out));
                if (send_all(fd, out, olen) != 0)
                    return -1;
                if (used > fill) {
                    skip = used - fill;
                    fill = 0;
                    break;
                }
            } else if (r < 0) {
                used = KC_VPCD_HDR_LEN; /* an empty message: nothing to do */
            } else {
                used = (size_t)r;
                if (log_apdu && m.kind == KC_VPCD_MSG_CTRL)
                    log_ctrl(m.ctrl);
                else if (log_apdu)
                    log_hex(">", m.data, m.len);
                olen = kc_vcard_serve(ops, ctx, &m, out, sizeof(out));
                if (log_apdu && m.kind == KC_VPCD_MSG_APDU)
                    log_hex("<", out + KC_VPCD_HDR_LEN, olen - KC_VPCD_HDR_LEN);
                if (olen > 0 && send_all(fd, out, olen) != 0)
                    return -1;
            }
            memmove(rx, rx + used, fill - used);
            fill -= used;
        }
    }
}

int main(int argc, char **argv)
{
    vcard_opts o;
    const kc_vcard_entry *card;
    const kc_card_ops *ops;
    struct addrinfo hints, *ai = NULL;
    struct sigaction sa;
    sigset_t block;
    kc_hw_file hf;
    kc_hw hw;
    char portstr[8];
    void *ctx;
    int rc, connected = -1; /* -1 never tried, 0 waiting, 1 connected */

    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    card = kc_vcard_find(o.card);
    if (card == NULL) {
        const kc_vcard_entry *e;
        fprintf(stderr, "kc-vcard: unknown card '%s' (known:", o.card);
        for (e = kc_vcard_cards; e->name != NULL; e++)
            fprintf(stderr, " %s", e->name);
        fputs(")\n", stderr);
        return 2;
    }
    if (card->ops == NULL) {
        logmsg("%s card not built yet", card->name);
        return 2;
    }
    ops = card->ops;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%u", o.port + o.slot);
    rc = getaddrinfo(o.host, portstr, &hints, &ai);
    if (rc != 0)
        return bad_usage("cannot resolve host '%s': %s", o.host, gai_strerror(rc));

    /* SIGTERM/SIGINT only get through while we wait (see g_wait_mask). */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &g_wait_mask);
    sigdelset(&g_wait_mask, SIGTERM);
    sigdelset(&g_wait_mask, SIGINT);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
    if (ctx == NULL) {
        logmsg("out of memory");
        freeaddrinfo(ai);
        return 1;
    }
    rc = kc_hw_file_open(&hf, o.state, ops->flash_size, ops->page_size, &hw);
    if (rc != 0) {
        if (hf.err[0] != '\0')
            logmsg("%s", hf.err); /* names the file and says why */
        else
            logmsg("cannot use state file %s (error %d)", o.state, rc);
        free(ctx);
        freeaddrinfo(ai);
        return 1;
    }
    rc = ops->init(ctx, &hw);
    if (rc != 0) {
        logmsg("%s card does not boot from %s (error %d)", ops->name, o.state, rc);
        kc_hw_file_close(&hf);
        free(ctx);
        freeaddrinfo(ai);
        return 1;
    }

    while (!g_stop) {
        int why = 0;
        int fd = try_connect(ai, &why);

        if (fd < 0) {
            if (g_stop)
                break;
            if (connected != 0)
                logmsg("waiting for vpcd at %s:%s (%s)", o.host, portstr, strerror(why));
            connected = 0;
            nap(VCARD_RETRY_MS);
            continue;
        }
        logmsg("%s card connected to vpcd at %s:%s", ops->name, o.host, portstr);
        connected = 1;
        rc = serve_connection(fd, ops, ctx, o.log_apdu);
        close(fd);
        /* Losing the reader is losing power: volatile card state goes. */
        ops->power(ctx, KC_POWER_OFF);
        if (rc < 0 && !g_stop) {
            logmsg("vpcd at %s:%s went away; reconnecting", o.host, portstr);
            connected = 0;
        }
    }

    logmsg("stopping; state saved in %s", o.state);
    ops->power(ctx, KC_POWER_OFF);
    kc_hw_file_close(&hf);
    explicit_bzero(ctx, ops->ctx_size); /* RAM copies of secrets go with the card */
    free(ctx);
    freeaddrinfo(ai);
    return 0;
}
