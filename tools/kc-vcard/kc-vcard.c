/*
 * kc-vcard.c - run a card firmware as a virtual PC/SC card on a vpcd slot.
 *
 * The card's flash is a state file (keycard/hw/kc_hw_file). kc-vcard
 * connects to the vpcd reader driver that pcscd loaded (reader entry
 * DEVICENAME /dev/null:PORT: vpcd listens, the card connects), answers its
 * messages (vpcd.h, serve.h), and when pcscd goes away or is not there yet it
 * retries forever, keeping the card state, as a card stays in a reader that
 * loses power. SIGTERM/SIGINT end it cleanly after the APDU in hand.
 *
 * vpcd binds its port on every address of the machine; the project's pcscd
 * runs with tests/pcscd/vpcd_loopback.c preloaded, which keeps it on
 * loopback. With --listen the direction is reversed for a vpcd whose reader
 * entry connects out (DEVICENAME 127.0.0.1:PORT): kc-vcard listens on
 * 127.0.0.1 only. (vpcd 0.8, Debian 12's, aborts pcscd in that form whenever
 * the card is not connected, so it is not the default.)
 *
 * With --stack DIR it is a reader with a stacker (stack.h): the blank card
 * images DIR/NAME.card are inserted one after another; the reader command
 * FF EE 00 00 ejects the card in the slot into DIR/issued/ and inserts the
 * next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <arpa/inet.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cards.h"
#include "kct_cli.h"
#include "keycard_target_proto.h"
#include "kct_host.h"
#include "kc_err.h"
#include "hw/kc_hw_file.h"
#include "kc_card.h"
#include "serve.h"
#include "stack.h"
#include "vpcd.h"

/* vpcd's default port (0x8C7B); slot 1 uses the next one. */
#define VCARD_DEFAULT_PORT 35963
#define VCARD_RETRY_MS 300
#define VCARD_CONNECT_TIMEOUT_MS 2000
/* How often an empty stack is looked at again for new images. */
#define VCARD_STACK_POLL_MS 300
/*
 * After an eject the link stays up this long, so that the client's own
 * clean-up (a reset or power-off as it disconnects) reaches a card that still
 * answers; then the slot stays empty for VCARD_EJECT_GAP_MS, longer than
 * pcscd's card presence polling (0.4 s), so pcscd sees the card leave before
 * the next one comes. Without the grace pcscd may reset a card that is gone,
 * and without the gap it may never notice the exchange: either way it
 * refuses to connect to the new card.
 */
#define VCARD_EJECT_GRACE_MS 300
#define VCARD_EJECT_GAP_MS 1000
/* "Function not supported": an eject asked of a reader without a stacker. */
#define VCARD_SW_NO_STACKER 0x6A81

static volatile sig_atomic_t g_stop;
/* The signal mask outside ppoll: SIGTERM/SIGINT are blocked everywhere else,
 * so they only interrupt waiting, never an APDU in progress. */
static sigset_t g_wait_mask;

typedef struct vcard_opts {
    const char *card;
    const char *state;
    const char *stack;
    const char *host; /* vpcd listens there; NULL with --listen: we listen on loopback */
    int listen;
    unsigned port;
    unsigned slot;
    int log_apdu;
    int trace; /* -v: headers, lengths, SWs and times, no data */
    int no_packed; /* target: refuse packed sessions, as a target made before them */
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
    fputs("usage: kc-vcard --card NAME --state FILE [--port N] [--host H | --listen]\n"
          "                [--reader-slot 0|1] [--log-apdu | --trace] [--no-packed]\n"
          "       kc-vcard --list-cards | --help | --version\n"
          "Run a card firmware as a virtual smart card on a vsmartcard vpcd reader.\n"
          "\n"
          "  --card NAME         card firmware: keycard or target\n"
          "  --state FILE        the card's flash, created blank when missing\n"
          "  --stack DIR         a stacker: serve DIR/*.card one after another in name\n"
          "                      order; the reader command FF EE 00 00 ejects the card\n"
          "                      into DIR/issued/ and inserts the next\n"
          "  --host H            host where pcscd runs vpcd (default 127.0.0.1)\n"
          "  --listen            listen on 127.0.0.1 for a vpcd that connects out\n"
          "                      (reader entry DEVICENAME 127.0.0.1:PORT)\n"
          "  --port N            vpcd port of slot 0 (default 35963 = 0x8C7B)\n"
          "  --reader-slot 0|1   reader slot; slot 1 uses port N+1 (default 0)\n"
          "  --log-apdu          print every command and answer in hex on stderr\n"
          "  -v, --trace         each command's header, lengths, status word and time,\n"
          "                      no data bytes\n"
          "  --no-packed         target: refuse packed sessions (BEGIN ISSUANCE P1 bit\n"
          "                      80: 6A86), as a target made before them does\n"
          "  --list-cards        print the card names\n"
          "  --help              print this help\n"
          "  --version           print the version\n"
          "\n"
          "Keeps reconnecting while pcscd is absent; SIGTERM or SIGINT stops it\n"
          "after the current command, with the state file saved. Exit status: 0 on\n"
          "a signal, 1 when the card cannot start, 2 on bad usage.\n",
          f);
}

/* One card name a line. */
static void list_cards(void)
{
    const kc_vcard_entry *e;

    for (e = kc_vcard_cards; e->name != NULL; e++)
        printf("%s\n", e->name);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kct_cli_usage("kc-vcard", "%s", msg);
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
        {"stack", required_argument, NULL, 'S'},
        {"port", required_argument, NULL, 'p'},   {"host", required_argument, NULL, 'H'},
        {"listen", no_argument, NULL, 'i'},
        {"reader-slot", required_argument, NULL, 'r'}, {"log-apdu", no_argument, NULL, 'l'},
        {"list-cards", no_argument, NULL, 'L'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},     {"trace", no_argument, NULL, 'v'},
        {"no-packed", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->port = VCARD_DEFAULT_PORT;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->card = optarg;
            break;
        case 's':
            o->state = optarg;
            break;
        case 'S':
            o->stack = optarg;
            break;
        case 'H':
            if (optarg[0] == '\0')
                return bad_usage("--host wants a host");
            o->host = optarg;
            break;
        case 'i':
            o->listen = 1;
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
        case 'v':
            o->trace = 1;
            break;
        case 'P':
            o->no_packed = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'L':
            list_cards();
            exit(0);
        case 'V':
            kct_cli_version("kc-vcard", NULL);
            exit(0);
        default:
            return kct_cli_bad_option("kc-vcard", argv[optind - 1], longopts);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (o->card == NULL)
        return bad_usage("--card is required");
    if (o->state != NULL && o->stack != NULL)
        return bad_usage("give --state or --stack, not both");
    if (o->stack != NULL) {
        if (o->stack[0] == '\0')
            return bad_usage("--stack wants a directory");
    } else if (o->state == NULL || o->state[0] == '\0') {
        return bad_usage("--state (or --stack) is required");
    }
    if (o->no_packed && strcmp(o->card, "target") != 0)
        return bad_usage("--no-packed is for --card target");
    if (o->port + o->slot > 65535)
        return bad_usage("port %u + slot %u is past 65535", o->port, o->slot);
    if (o->listen && o->host != NULL)
        return bad_usage("give --host (vpcd listens) or --listen (vpcd connects), not both");
    if (!o->listen && o->host == NULL)
        o->host = "127.0.0.1";
    return 0;
}

/*
 * -v: one command and its answer as the card saw them, without a data byte
 * (a command may carry a PIN outside the secure channel: a raw test client),
 * with the card's time for it.
 */
static void log_trace(const uint8_t *cmd, size_t n, const uint8_t *resp, size_t rn,
                      const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0->tv_sec) * 1000.0 +
                (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
    if (n >= 4)
        fprintf(stderr, "kc-vcard: trace: > %02X %02X %02X %02X [%zu bytes]\n", cmd[0], cmd[1],
                cmd[2], cmd[3], n);
    if (rn >= 2)
        fprintf(stderr, "kc-vcard: trace: < %02X%02X [%zu bytes] (%.2f ms)\n", resp[rn - 2],
                resp[rn - 1], rn - 2, ms);
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

/* What one slot holds: the card firmware, its RAM, and where its image is. */
typedef struct vcard_slot {
    const kc_card_ops *ops;
    void *ctx;
    const char *stack; /* the stack directory, NULL without a stacker */
    char image[256];   /* the image's name in the stack directory */
    int log_apdu;
    int trace; /* -v: headers, lengths, SWs and times, no data */
    int no_packed; /* --no-packed */
} vcard_slot;

/* --no-packed: BEGIN ISSUANCE asking for a packed session (P1 bit 80). */
static int packed_begin(const vcard_slot *s, const kc_vpcd_msg *m)
{
    return s->no_packed && m->kind == KC_VPCD_MSG_APDU && m->len >= 4 &&
           m->data[0] == TC_CLA_PROP && m->data[1] == TC_INS_BEGIN &&
           (m->data[2] & TC_BEGIN_PACKED) != 0;
}

/*
 * A reader command (class FF). Returns 1 when the card was ejected (the
 * answer is in out, *olen long), else 0 with the answer in out.
 */
static int reader_command(vcard_slot *s, int what, uint8_t *out, size_t cap, size_t *olen)
{
    uint8_t b[4];
    int left;

    if (what != KC_READER_EJECT && what != KC_READER_EJECT_SPOILED && what != KC_READER_COUNT) {
        *olen = kc_vcard_answer_sw((uint16_t)what, out, cap);
        return 0;
    }
    if (s->stack == NULL) {
        *olen = kc_vcard_answer_sw(VCARD_SW_NO_STACKER, out, cap);
        return 0;
    }
    if (what == KC_READER_COUNT) {
        /* Blank cards in the stack, the one in the slot included (2 bytes) || 9000. */
        left = kc_stack_count(s->stack);
        if (left < 0) {
            *olen = kc_vcard_answer_sw(KC_SW_MEMORY_FAILURE, out, cap);
            return 0;
        }
        b[0] = (uint8_t)(left >> 8);
        b[1] = (uint8_t)left;
        b[2] = 0x90;
        b[3] = 0x00;
        *olen = kc_vpcd_frame(b, sizeof(b), out, cap);
        return 0;
    }
    /* The card leaves the slot: power goes, then its image goes to its tray. */
    const char *tray = what == KC_READER_EJECT_SPOILED ? KC_STACK_SPOILED : KC_STACK_ISSUED;
    s->ops->power(s->ctx, KC_POWER_OFF);
    if (kc_stack_retire(s->stack, s->image, tray) != 0) {
        logmsg("cannot move %s/%s to %s/: %s; card kept in the slot", s->stack, s->image,
               tray, strerror(errno));
        *olen = kc_vcard_answer_sw(KC_SW_MEMORY_FAILURE, out, cap);
        return 0;
    }
    left = kc_stack_count(s->stack);
    if (left < 0)
        left = 0;
    /* Answer: blank cards left in the stack (2 bytes) || 9000. */
    b[0] = (uint8_t)(left >> 8);
    b[1] = (uint8_t)left;
    b[2] = 0x90;
    b[3] = 0x00;
    *olen = kc_vpcd_frame(b, sizeof(b), out, cap);
    logmsg("card %s ejected to %s/%s/ (%d left in the stack)", s->image, s->stack, tray, left);
    return 1;
}

/*
 * Serve one connection until vpcd closes it (returns -1), a stop signal
 * comes (returns 0) or the card is ejected (returns 1).
 */
static int serve_connection(int fd, vcard_slot *s)
{
    static uint8_t rx[KC_VPCD_HDR_LEN + KC_VPCD_MSG_MAX];
    static uint8_t out[KC_VCARD_OUT_MAX];
    size_t fill = 0, skip = 0;
    int ejected = 0;
    struct timespec leave = {0, 0}; /* when an ejected card's link closes */

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        struct timespec now, left = {0, 0};
        ssize_t n;
        long r;
        int pr;
        kc_vpcd_msg m;

        if (g_stop)
            return ejected ? 1 : 0;
        if (ejected) {
            /* Serve the client's clean-up until the grace time is over. */
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > leave.tv_sec ||
                (now.tv_sec == leave.tv_sec && now.tv_nsec >= leave.tv_nsec))
                return 1;
            left.tv_sec = leave.tv_sec - now.tv_sec;
            left.tv_nsec = leave.tv_nsec - now.tv_nsec;
            if (left.tv_nsec < 0) {
                left.tv_sec--;
                left.tv_nsec += 1000000000L;
            }
        }
        pr = ppoll(&p, 1, ejected ? &left : NULL, &g_wait_mask);
        if (pr == 0 && ejected)
            return 1;
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return ejected ? 1 : -1;
        }
        n = read(fd, rx + fill, sizeof(rx) - fill);
        if (n == 0)
            return ejected ? 1 : -1;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return ejected ? 1 : -1;
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
                int what = m.kind == KC_VPCD_MSG_APDU ? kc_reader_command(m.data, m.len)
                                                      : KC_READER_NOT_MINE;

                used = (size_t)r;
                struct timespec t0;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                if (s->log_apdu && m.kind == KC_VPCD_MSG_CTRL)
                    log_ctrl(m.ctrl);
                else if (s->log_apdu)
                    log_hex(">", m.data, m.len);
                if (what == KC_READER_NOT_MINE && packed_begin(s, &m))
                    olen = kc_vcard_answer_sw(KC_SW_WRONG_P1P2, out, sizeof(out)); /* an older target */
                else if (what == KC_READER_NOT_MINE)
                    olen = kc_vcard_serve(s->ops, s->ctx, &m, out, sizeof(out));
                else if (ejected) /* a second eject: the card is already out */
                    olen = kc_vcard_answer_sw(KC_SW_CONDITIONS, out, sizeof(out));
                else if ((ejected = reader_command(s, what, out, sizeof(out), &olen)) != 0) {
                    clock_gettime(CLOCK_MONOTONIC, &leave);
                    leave.tv_nsec += (VCARD_EJECT_GRACE_MS % 1000) * 1000000L;
                    leave.tv_sec += VCARD_EJECT_GRACE_MS / 1000 + leave.tv_nsec / 1000000000L;
                    leave.tv_nsec %= 1000000000L;
                }
                if (s->log_apdu && m.kind == KC_VPCD_MSG_APDU)
                    log_hex("<", out + KC_VPCD_HDR_LEN, olen - KC_VPCD_HDR_LEN);
                if (s->trace && m.kind == KC_VPCD_MSG_APDU && olen >= KC_VPCD_HDR_LEN)
                    log_trace(m.data, m.len, out + KC_VPCD_HDR_LEN, olen - KC_VPCD_HDR_LEN, &t0);
                if (olen > 0 && send_all(fd, out, olen) != 0)
                    return ejected ? 1 : -1;
            }
            memmove(rx, rx + used, fill - used);
            fill -= used;
        }
    }
}

/*
 * Keep the card of slot s connected to vpcd (reconnecting while pcscd is
 * away) until a stop signal (returns 0) or an eject (returns 1).
 */
static int run_card(const struct addrinfo *ai, const vcard_opts *o, const char *portstr,
                    vcard_slot *s)
{
    int connected = -1; /* -1 never tried, 0 waiting, 1 connected */

    while (!g_stop) {
        int why = 0, rc;
        int fd = try_connect(ai, &why);

        if (fd < 0) {
            if (g_stop)
                break;
            if (connected != 0)
                logmsg("waiting for vpcd at %s:%s (%s)", o->host, portstr, strerror(why));
            connected = 0;
            nap(VCARD_RETRY_MS);
            continue;
        }
        logmsg("%s card connected to vpcd at %s:%s", s->ops->name, o->host, portstr);
        connected = 1;
        rc = serve_connection(fd, s);
        /* Closing the link is the card leaving the slot, as vpcd sees it. */
        close(fd);
        /* Losing the reader is losing power: volatile card state goes. */
        s->ops->power(s->ctx, KC_POWER_OFF);
        if (rc == 1)
            return 1;
        if (rc < 0 && !g_stop) {
            logmsg("vpcd at %s:%s went away; reconnecting", o->host, portstr);
            connected = 0;
        }
    }
    return 0;
}

/* A listening socket on 127.0.0.1:port, or -1 with *why set. */
static int open_listener(unsigned port, int *why)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        *why = errno;
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never beyond this machine */
    /* A card re-inserted (restart, next card of the stack) must not wait out TIME_WAIT. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0) {
        *why = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * The card of slot s in its slot: listen on 127.0.0.1:port until vpcd
 * connects, serve it, and wait for it again when it goes (pcscd stopped or
 * restarted), until a stop signal (returns 0) or an eject (returns 1). The
 * slot is empty exactly while nothing listens: vpcd's connection is refused.
 */
static int run_card_listen(unsigned port, vcard_slot *s)
{
    int lfd = -1, told = 0;

    while (!g_stop) {
        struct pollfd p;
        int fd, rc, why = 0;

        if (lfd < 0) {
            lfd = open_listener(port, &why);
            if (lfd < 0) {
                if (!told)
                    logmsg("cannot listen on 127.0.0.1:%u (%s); retrying (a vpcd reader entry "
                           "of the form /dev/null:PORT listens there itself: use "
                           "127.0.0.1:PORT, or kc-vcard without --listen)",
                           port, strerror(why));
                told = 1;
                nap(VCARD_RETRY_MS);
                continue;
            }
            logmsg("%s card waiting for vpcd on 127.0.0.1:%u", s->ops->name, port);
            told = 0;
        }
        p.fd = lfd;
        p.events = POLLIN;
        p.revents = 0;
        if (ppoll(&p, 1, NULL, &g_wait_mask) < 0)
            continue; /* EINTR: g_stop is looked at above */
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        set_tcp_opts(fd);
        logmsg("%s card connected to vpcd on 127.0.0.1:%u", s->ops->name, port);
        rc = serve_connection(fd, s);
        close(fd);
        /* Losing the reader is losing power: volatile card state goes. */
        s->ops->power(s->ctx, KC_POWER_OFF);
        if (rc == 1) {
            close(lfd); /* the card has left the slot */
            return 1;
        }
        if (rc < 0 && !g_stop)
            logmsg("vpcd on 127.0.0.1:%u went away; waiting for it again", port);
    }
    if (lfd >= 0)
        close(lfd);
    return 0;
}

/* The card in its slot, in the link direction o asks for (see run_card_listen). */
static int run_card_any(const struct addrinfo *ai, const vcard_opts *o, const char *portstr,
                        vcard_slot *s)
{
    if (o->listen)
        return run_card_listen(o->port + o->slot, s);
    return run_card(ai, o, portstr, s);
}

/*
 * Boot the card of image path into s. Returns 0, or after saying why: -2 when
 * the image is not one of this card (bad input), -1 when it cannot be used.
 */
static int card_boot(vcard_slot *s, kc_hw_file *hf, const char *path)
{
    kc_hw hw;
    struct stat st;
    int rc;

    explicit_bzero(s->ctx, s->ops->ctx_size ? s->ops->ctx_size : 1);
    /* The image holds the card's secrets: created 0600, and an older one open
     * to other users is closed to them (its owner keeps the access it had). */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
        if (chmod(path, st.st_mode & 0700) == 0)
            logmsg("state file %s was open to other users (mode %04o); now %04o", path,
                   (unsigned)(st.st_mode & 07777), (unsigned)(st.st_mode & 0700));
        else
            logmsg("state file %s is open to other users (mode %04o) and cannot be "
                   "changed: %s",
                   path, (unsigned)(st.st_mode & 07777), strerror(errno));
    }
    rc = kc_hw_file_open(hf, path, s->ops->flash_size, s->ops->page_size, &hw);
    if (rc != 0) {
        if (hf->err[0] != '\0')
            logmsg("%s", hf->err); /* names the file and says why */
        else
            logmsg("cannot use state file %s (error %d)", path, rc);
        return rc == KC_ERR_BAD_DATA ? -2 : -1;
    }
    rc = s->ops->init(s->ctx, &hw);
    if (rc == KC_ERR_CORRUPT) {
        /* Damage, not a torn write: refused, and the file is left as it is. */
        logmsg("%s: the %s card's state file is damaged at byte %zu (not a torn write); "
               "refused and left untouched: restore it from a backup or investigate",
               path, s->ops->name, s->ops->damage_at ? s->ops->damage_at(s->ctx) : (size_t)0);
        kc_hw_file_close(hf);
        return -2;
    }
    if (rc != 0) {
        logmsg("%s card does not boot from %s (error %d)", s->ops->name, path, rc);
        kc_hw_file_close(hf);
        return -1;
    }
    return 0;
}

/*
 * The stacker: insert DIR's images one after another until a stop signal.
 * Returns the exit status.
 */
static int run_stack(const struct addrinfo *ai, const vcard_opts *o, const char *portstr,
                     vcard_slot *s)
{
    int waiting = 0;

    while (!g_stop) {
        char path[4096];
        kc_hw_file hf;
        int r = kc_stack_next(o->stack, s->image, sizeof(s->image));

        if (r <= 0) {
            if (!waiting)
                logmsg(r == 0 ? "stack %s is empty; slot stays empty until an image appears"
                              : "cannot read stack %s (%s); retrying",
                       o->stack, strerror(errno));
            waiting = 1;
            nap(VCARD_STACK_POLL_MS);
            continue;
        }
        waiting = 0;
        if (snprintf(path, sizeof(path), "%s/%s", o->stack, s->image) >= (int)sizeof(path)) {
            logmsg("stack path too long: %s/%s", o->stack, s->image);
            return 1;
        }
        memset(&hf, 0, sizeof(hf));
        if (card_boot(s, &hf, path) != 0) {
            /* A bad image must not jam the stacker: set it aside and go on. */
            if (kc_stack_reject(o->stack, s->image) != 0) {
                logmsg("cannot set %s aside: %s", path, strerror(errno));
                return 1;
            }
            logmsg("%s set aside as %s.bad", path, s->image);
            continue;
        }
        logmsg("card %s inserted from the stack", s->image);
        r = run_card_any(ai, o, portstr, s);
        kc_hw_file_close(&hf);
        if (r == 0)
            logmsg("stopping; %s stays in the stack", path);
        else if (!g_stop)
            nap(VCARD_EJECT_GAP_MS); /* the slot is seen empty before the next card */
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* results keep their order with stderr's */
    vcard_opts o;
    const kc_vcard_entry *card;
    vcard_slot slot;
    struct addrinfo hints, *ai = NULL;
    struct sigaction sa;
    sigset_t block;
    kc_hw_file hf;
    char portstr[8];
    int rc;

    kct_harden_process(); /* the card's secrets are in this process's memory */
    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    card = kc_vcard_find(o.card);
    if (card == NULL) {
        const char *names[8];
        size_t n = 0;
        for (const kc_vcard_entry *e = kc_vcard_cards; e->name && n + 1 < 8; e++)
            names[n++] = e->name;
        names[n] = NULL;
        const char *near = kct_cli_suggest(o.card, names);
        if (near)
            return kct_cli_usage("kc-vcard", "unknown card '%s' (did you mean '%s'?)", o.card,
                                 near);
        return kct_cli_usage("kc-vcard", "unknown card '%s' (kc-vcard --list-cards)", o.card);
    }
    memset(&slot, 0, sizeof(slot));
    slot.ops = card->ops;
    slot.stack = o.stack;
    slot.log_apdu = o.log_apdu;
    slot.trace = o.trace;
    slot.no_packed = o.no_packed;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%u", o.port + o.slot);
    if (o.host != NULL && (rc = getaddrinfo(o.host, portstr, &hints, &ai)) != 0)
        return bad_usage("cannot resolve host '%s': %s", o.host, gai_strerror(rc));
    if (o.stack != NULL && kc_stack_count(o.stack) < 0) {
        logmsg("cannot read stack directory %s: %s", o.stack, strerror(errno));
        if (ai != NULL)
            freeaddrinfo(ai);
        return 2;
    }

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

    slot.ctx = calloc(1, slot.ops->ctx_size ? slot.ops->ctx_size : 1);
    if (slot.ctx == NULL) {
        logmsg("out of memory");
        if (ai != NULL)
            freeaddrinfo(ai);
        return 1;
    }

    if (o.stack != NULL) {
        rc = run_stack(ai, &o, portstr, &slot);
    } else {
        memset(&hf, 0, sizeof(hf));
        int boot = card_boot(&slot, &hf, o.state);
        if (boot != 0) {
            rc = boot == -2 ? 2 : 1; /* a wrong image is bad input */
        } else {
            /* Without a stacker an eject is refused, so this returns only on a stop. */
            (void)run_card_any(ai, &o, portstr, &slot);
            logmsg("stopping; state saved in %s", o.state);
            kc_hw_file_close(&hf);
            rc = 0;
        }
    }

    /* RAM copies of secrets go with the card. */
    explicit_bzero(slot.ctx, slot.ops->ctx_size ? slot.ops->ctx_size : 1);
    free(slot.ctx);
    if (ai != NULL)
        freeaddrinfo(ai);
    return rc;
}
