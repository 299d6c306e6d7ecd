/*
 * station_client.c - the operation instruction codec of the reader/writer
 * station (issuance/kcs_proto.h, docs/station.md) and
 * kc-issue's --station mode: the same issuance as a local run, but the PC
 * only sends instructions (start-up, issue with a named profile and this
 * card's record, read back, eject) and prints the results; the station does
 * the whole exchange with key card and target card itself.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kcs_proto.h"
#include "station.h"

/* ---- codec ------------------------------------------------------------- */

void kcs_frame_init(kcs_frame *f, uint8_t op, uint8_t p1, uint8_t p2)
{
    f->op = op;
    f->p1 = p1;
    f->p2 = p2;
    f->len = 0;
}

int kcs_put(kcs_frame *f, uint8_t tag, const void *v, size_t len)
{
    if (len > 255 || f->len + 2 + len > KCS_DATA_MAX)
        return -1;
    f->data[f->len++] = tag;
    f->data[f->len++] = (uint8_t)len;
    if (len)
        memcpy(f->data + f->len, v, len);
    f->len += len;
    return 0;
}

int kcs_put_str(kcs_frame *f, uint8_t tag, const char *s)
{
    size_t n = strlen(s);

    return kcs_put(f, tag, s, n > 255 ? 255 : n);
}

int kcs_put_u8(kcs_frame *f, uint8_t tag, unsigned v)
{
    uint8_t b = (uint8_t)v;

    return kcs_put(f, tag, &b, 1);
}

int kcs_put_u16(kcs_frame *f, uint8_t tag, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    return kcs_put(f, tag, b, 2);
}

int kcs_put_u32(kcs_frame *f, uint8_t tag, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    return kcs_put(f, tag, b, 4);
}

int kcs_next(const kcs_frame *f, size_t *off, uint8_t *tag, const uint8_t **v, size_t *len)
{
    if (*off == f->len)
        return 0;
    if (*off + 2 > f->len || *off + 2 + f->data[*off + 1] > f->len)
        return -1;
    *tag = f->data[*off];
    *len = f->data[*off + 1];
    *v = f->data + *off + 2;
    *off += 2 + *len;
    return 1;
}

int kcs_find(const kcs_frame *f, uint8_t tag, const uint8_t **v, size_t *len)
{
    size_t off = 0;
    uint8_t t;

    while (kcs_next(f, &off, &t, v, len) == 1)
        if (t == tag)
            return 0;
    return -1;
}

int kcs_find_str(const kcs_frame *f, uint8_t tag, char *out, size_t cap)
{
    const uint8_t *v;
    size_t n;

    if (kcs_find(f, tag, &v, &n) != 0 || n >= cap)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

unsigned long kcs_find_uint(const kcs_frame *f, uint8_t tag, unsigned long def)
{
    const uint8_t *v;
    size_t n, i;
    unsigned long x = 0;

    if (kcs_find(f, tag, &v, &n) != 0 || n == 0 || n > 4)
        return def;
    for (i = 0; i < n; i++)
        x = x << 8 | v[i];
    return x;
}

int kcs_send(int fd, const kcs_frame *f)
{
    uint8_t buf[KCS_LEN_MAX + 4];
    size_t n = 0, len = 3 + f->len, done = 0;

    buf[n++] = KCS_STX;
    buf[n++] = (uint8_t)(len >> 8);
    buf[n++] = (uint8_t)len;
    buf[n++] = f->op;
    buf[n++] = f->p1;
    buf[n++] = f->p2;
    memcpy(buf + n, f->data, f->len);
    n += f->len;
    buf[n++] = KCS_ETX;
    while (done < n) {
        ssize_t w = send(fd, buf + done, n - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

/* Read exactly n bytes. 0, 1 when the stream ended before the first, -1 else. */
static int read_full(int fd, uint8_t *p, size_t n, int timeout_ms, char *err, size_t errcap)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, timeout_ms);
        ssize_t k;

        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            snprintf(err, errcap, "no complete frame within %d ms", timeout_ms);
            return -1;
        }
        k = r < 0 ? -1 : read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            snprintf(err, errcap, "connection closed");
            return got == 0 ? 1 : -1;
        }
        got += (size_t)k;
    }
    return 0;
}

int kcs_recv(int fd, kcs_frame *f, int timeout_ms, char *err, size_t errcap)
{
    uint8_t h[6], etx;
    size_t len;
    int r;

    r = read_full(fd, h, 1, timeout_ms, err, errcap);
    if (r != 0)
        return r;
    if (h[0] != KCS_STX) {
        snprintf(err, errcap, "start code %02X, not 02", h[0]);
        return -1;
    }
    if (read_full(fd, h + 1, 5, timeout_ms, err, errcap) != 0)
        return -1;
    len = (size_t)h[1] << 8 | h[2];
    if (len < 3 || len > KCS_LEN_MAX) {
        snprintf(err, errcap, "length %zu out of range 3..%d", len, KCS_LEN_MAX);
        return -1;
    }
    f->op = h[3];
    f->p1 = h[4];
    f->p2 = h[5];
    f->len = len - 3;
    if (read_full(fd, f->data, f->len, timeout_ms, err, errcap) != 0 ||
        read_full(fd, &etx, 1, timeout_ms, err, errcap) != 0)
        return -1;
    if (etx != KCS_ETX) {
        snprintf(err, errcap, "end code %02X, not 03", etx);
        return -1;
    }
    return 0;
}

const char *kcs_res_name(unsigned res)
{
    if ((res & 0xFFF0) == KCS_RES_WRONG_PIN)
        return "holder PIN refused";
    switch (res) {
    case KCS_RES_OK: return "done";
    case KCS_RES_NOT_ISSUED: return "the card was not issued";
    case KCS_RES_BUSY: return "busy: the station is serving another client";
    case KCS_RES_LENGTH: return "instruction framing or length wrong";
    case KCS_RES_NO_PIN: return "no holder PIN (blocked, or not entered at the station)";
    case KCS_RES_NOT_READY: return "the station is not started up";
    case KCS_RES_BAD_DATA: return "processing data malformed or not allowed";
    case KCS_RES_NO_PROFILE: return "no such issuance profile at the station";
    case KCS_RES_NO_CARD: return "no card in the target slot";
    case KCS_RES_NO_STACKER: return "the reader refused the eject (no stacker)";
    case KCS_RES_BAD_OP: return "unknown operation type";
    case KCS_RES_KEYCARD: return "the key card failed; start the station up again";
    default: return "unknown result code";
    }
}

int kcs_connect(const char *path)
{
    struct sockaddr_un a;
    int fd;

    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- kc-issue --station ------------------------------------------------- */

/* One exchange: instruction out, result in (the station answers every one). */
static int exchange(int fd, kcs_frame *f)
{
    char err[128];
    uint8_t op = f->op;
    int r;

    if (kcs_send(fd, f) != 0) {
        kct_err("station: cannot send the instruction: %s", strerror(errno));
        return -1;
    }
    r = kcs_recv(fd, f, -1, err, sizeof err);
    if (r != 0) {
        kct_err("station: no result: %s", r == 1 ? "connection closed" : err);
        return -1;
    }
    if (f->op == KCS_OP_RESULT && KCS_RES(f) == KCS_RES_BUSY) {
        kct_err("station: %s", kcs_res_name(KCS_RES_BUSY));
        return -1;
    }
    if (f->op != (op | KCS_OP_RESULT)) {
        kct_err("station: result for operation %02X, not %02X", f->op & 0x7F, op);
        return -1;
    }
    return 0;
}

/* The station's message, or the result code's name. */
static const char *why(const kcs_frame *f, char *buf, size_t cap)
{
    if (kcs_find_str(f, KCS_R_MESSAGE, buf, cap) == 0)
        return buf;
    return kcs_res_name(KCS_RES(f));
}

/* Build the ISSUE instruction's record fields from CSV row (or none). */
static int put_record(kcs_frame *f, const kci_csv *c, long row)
{
    size_t i;

    if (c == NULL || row < 0)
        return 0;
    for (i = 0; i < c->n_cols; i++) {
        uint8_t item[255];
        size_t nl = strlen(c->head[i]), vl = strlen(c->rows[row][i]);
        if (nl == 0 || 1 + nl + vl > sizeof item)
            return -1;
        item[0] = (uint8_t)nl;
        memcpy(item + 1, c->head[i], nl);
        memcpy(item + 1 + nl, c->rows[row][i], vl);
        if (kcs_put(f, KCS_T_FIELD, item, 1 + nl + vl) != 0)
            return -1;
    }
    return 0;
}

int kci_station_client(const char *sock_path, const char *profile, const char *records,
                       int all, int show, long wait_s, int json)
{
    kci_report rp;
    static kcs_frame f;
    kci_csv csv;
    char name[256], msg[256], serial[17], err[512];
    const char *base, *dot;
    const uint8_t *v;
    size_t vl, next_row = 0, cards = 0;
    int fd, ex = KCT_EXIT_FAIL, ser_col;
    long left = -1;

    memset(&csv, 0, sizeof csv);
    /* A path names the profile by its file name: "profiles/standard.json" is "standard". */
    base = strrchr(profile, '/');
    base = base ? base + 1 : profile;
    dot = strrchr(base, '.');
    if (dot && strcmp(dot, ".json") == 0)
        snprintf(name, sizeof name, "%.*s", (int)(dot - base), base);
    else
        snprintf(name, sizeof name, "%s", base);
    if (name[0] == '\0') {
        kct_err("--profile: no profile name in '%s'", profile);
        return KCT_EXIT_USAGE;
    }
    if (records && kci_csv_load(records, &csv, err, sizeof err) != 0) {
        kct_err("%s: %s", records, err);
        return KCT_EXIT_USAGE;
    }
    ser_col = records ? kci_csv_col(&csv, "serial") : -1;
    if ((fd = kcs_connect(sock_path)) < 0) {
        kct_err("station %s: cannot connect: %s", sock_path, strerror(errno));
        kci_csv_free(&csv);
        return KCT_EXIT_FAIL;
    }

    kcs_frame_init(&f, KCS_OP_STATUS, 0, 0);
    if (exchange(fd, &f) != 0)
        goto out;
    if (kcs_find_uint(&f, KCS_R_READY, 0) != 1) {
        fprintf(json ? stderr : stdout,
                "station %s: start-up: type the holder PIN on the station's console\n", sock_path);
        fflush(stdout);
        kcs_frame_init(&f, KCS_OP_STARTUP, 0, 0);
        if (exchange(fd, &f) != 0)
            goto out;
        if (KCS_RES(&f) != KCS_RES_OK) {
            kct_err("station start-up: %s", why(&f, msg, sizeof msg));
            goto out;
        }
    }
    {
        char op[70] = "?", num[40] = "?";
        kcs_find_str(&f, KCS_R_OPERATOR, op, sizeof op);
        kcs_find_str(&f, KCS_R_OPNUMBER, num, sizeof num);
        if (kcs_find(&f, KCS_R_KC_SERIAL, &v, &vl) == 0 && vl == 8)
            kct_hex_format(v, 8, serial);
        else
            snprintf(serial, sizeof serial, "?");
        fprintf(json ? stderr : stdout, "station ready: %s, key card %s, operator %s (%s)\n",
                sock_path, serial, op, num);
    }
    fprintf(json ? stderr : stdout, "profile %s (held by the station)\n", name);
    kci_report_init(&rp, json, all);

    for (;;) {
        long row = -1;
        unsigned res, out;

        /* This card's record: tied by serial (ask the station who is in the slot) or in order. */
        if (records) {
            if (ser_col >= 0) {
                char sh[17];
                kcs_frame_init(&f, KCS_OP_STATUS, 0, 0);
                if (exchange(fd, &f) != 0)
                    goto out;
                if (kcs_find(&f, KCS_R_SERIAL, &v, &vl) == 0 && vl == 8) {
                    kct_hex_format(v, 8, sh);
                    row = kci_csv_pick(&csv, sh, 0);
                }
            } else if (next_row < csv.n_rows) {
                row = (long)next_row;
            }
        }
        kcs_frame_init(&f, KCS_OP_ISSUE, (uint8_t)(cards == 0 ? 0 : wait_s > 255 ? 255 : wait_s),
                       0);
        if (kcs_put_str(&f, KCS_T_PROFILE, name) != 0 || put_record(&f, &csv, row) != 0) {
            kct_err("%s: a record field is too long for an instruction", records);
            ex = KCT_EXIT_USAGE;
            goto out;
        }
        if (exchange(fd, &f) != 0)
            goto out;
        res = KCS_RES(&f);
        if (res != KCS_RES_OK && res != KCS_RES_NOT_ISSUED) {
            FILE *nf = kci_report_notice(&rp);
            if (res == KCS_RES_NO_CARD && cards > 0) {
                fprintf(nf, "no further card after %ld s: %s\n", wait_s,
                        why(&f, msg, sizeof msg));
                break;
            }
            kct_err("station: %s", why(&f, msg, sizeof msg));
            ex = res == KCS_RES_NO_PROFILE || res == KCS_RES_BAD_DATA ? KCT_EXIT_USAGE
                                                                       : KCT_EXIT_FAIL;
            goto out;
        }
        cards++;
        if (kcs_find(&f, KCS_R_SERIAL, &v, &vl) == 0 && vl == 8)
            kct_hex_format(v, 8, serial);
        else
            snprintf(serial, sizeof serial, "?");
        if (kcs_find_str(&f, KCS_R_WHY, msg, sizeof msg) != 0)
            msg[0] = '\0';
        out = (unsigned)kcs_find_uint(&f, KCS_R_OUTCOME, KCS_OUT_FAILED);
        if (row >= 0 && ser_col < 0 && out != KCS_OUT_SKIPPED)
            next_row++;
        kci_report_card(&rp, serial,
                        out == KCS_OUT_ISSUED    ? KCI_ISSUED
                        : out == KCS_OUT_WRITTEN ? KCI_WRITTEN
                        : out == KCS_OUT_SKIPPED ? KCI_SKIPPED
                                                 : KCI_FAILED,
                        msg, (long)kcs_find_uint(&f, KCS_R_MS, 0));
        if (show && (out == KCS_OUT_ISSUED || out == KCS_OUT_WRITTEN)) {
            size_t off = 0;
            uint8_t tag;
            kcs_frame_init(&f, KCS_OP_READBACK, 0, 0);
            if (exchange(fd, &f) != 0)
                goto out;
            FILE *nf = kci_report_notice(&rp);
            fprintf(nf, "  tree of card %s as read back with operational commands:\n", serial);
            if (KCS_RES(&f) != KCS_RES_OK)
                fprintf(nf, "    (cannot read the file list: %s)\n", why(&f, msg, sizeof msg));
            while (kcs_next(&f, &off, &tag, &v, &vl) == 1)
                if (tag == KCS_R_LINE)
                    fprintf(nf, "    %.*s\n", (int)vl, (const char *)v);
        }
        if (!all)
            break;
        kcs_frame_init(&f, KCS_OP_EJECT, 0, 0);
        if (exchange(fd, &f) != 0)
            goto out;
        if (KCS_RES(&f) == KCS_RES_NO_STACKER) {
            fprintf(kci_report_notice(&rp),
                    "the reader has no stacker (eject refused); stopping after one card\n");
            break;
        }
        if (KCS_RES(&f) != KCS_RES_OK) {
            kct_err("station: eject: %s", why(&f, msg, sizeof msg));
            goto out;
        }
        left = (long)kcs_find_uint(&f, KCS_R_LEFT, 0xFFFF);
        if (left == 0xFFFF)
            left = -1;
        kci_report_left(&rp, left);
        if (left == 0)
            break;
    }
    kci_report_summary(&rp, NULL);
    ex = rp.failed ? KCT_EXIT_FAIL : KCT_EXIT_OK;
out:
    close(fd);
    kci_csv_free(&csv);
    return ex;
}

int kci_station_status(const char *sock_path, int json)
{
    static kcs_frame f;
    static const char *const states[] = {"virgin", "manufactured", "issuing", "issued"};
    char msg[256], kcs[17] = "", tser[17] = "", op[70] = "", num[40] = "";
    const uint8_t *v;
    size_t vl;
    int fd = kcs_connect(sock_path), ex = KCT_EXIT_FAIL;

    if (fd < 0) {
        kct_err("station %s: %s", sock_path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    kcs_frame_init(&f, KCS_OP_STATUS, 0, 0);
    if (exchange(fd, &f) != 0)
        goto out;
    if (KCS_RES(&f) != KCS_RES_OK) {
        kct_err("station: %s", why(&f, msg, sizeof msg));
        goto out;
    }
    int ready = kcs_find_uint(&f, KCS_R_READY, 0) == 1;
    if (kcs_find(&f, KCS_R_KC_SERIAL, &v, &vl) == 0 && vl == 8)
        kct_hex_format(v, 8, kcs);
    kcs_find_str(&f, KCS_R_OPERATOR, op, sizeof op);
    kcs_find_str(&f, KCS_R_OPNUMBER, num, sizeof num);
    int have_card = kcs_find(&f, KCS_R_SERIAL, &v, &vl) == 0 && vl == 8;
    if (have_card)
        kct_hex_format(v, 8, tser);
    unsigned long st = kcs_find_uint(&f, KCS_R_TSTATE, 0xFF);
    unsigned long locks = kcs_find_uint(&f, KCS_R_LOCKS, 0);
    unsigned long left = kcs_find_uint(&f, KCS_R_LEFT, 0xFFFF);
    unsigned long cnt[3] = {0, 0, 0};
    if (kcs_find(&f, KCS_R_COUNTS, &v, &vl) == 0 && vl == 12)
        for (int i = 0; i < 3; i++)
            cnt[i] = (unsigned long)v[4 * i] << 24 | (unsigned long)v[4 * i + 1] << 16 |
                     (unsigned long)v[4 * i + 2] << 8 | v[4 * i + 3];
    const char *state = st < 4 ? states[st] : "unknown";
    if (json) {
        json_t *d = json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "station",
                              sock_path, "ready", ready, "keycard_serial",
                              kcs[0] ? json_string(kcs) : json_null(), "operator",
                              ready ? json_pack("{s:s, s:s}", "name", op, "number", num)
                                    : json_null(),
                              "target",
                              have_card ? json_pack("{s:s, s:s, s:i}", "serial", tser, "state",
                                                    state, "locks", (int)locks)
                                        : json_null(),
                              "left", left == 0xFFFF ? json_null() : json_integer((json_int_t)left),
                              "shift", "issued", (json_int_t)cnt[0], "failed",
                              (json_int_t)cnt[1], "skipped", (json_int_t)cnt[2]);
        ex = kct_json_print(d);
        goto out;
    }
    if (ready)
        printf("station %s: ready, key card %s, operator %s (%s)\n", sock_path, kcs, op, num);
    else
        printf("station %s: not started up (no key card session)\n", sock_path);
    if (have_card)
        printf("target slot: card %s, %s, lock ways %02lX\n", tser, state, locks);
    else
        printf("target slot: no card\n");
    if (left == 0xFFFF)
        printf("stacker: blank cards left unknown\n");
    else
        printf("stacker: %lu blank card%s left\n", left, left == 1 ? "" : "s");
    printf("this shift: %lu issued, %lu failed, %lu skipped\n", cnt[0], cnt[1], cnt[2]);
    ex = KCT_EXIT_OK;
out:
    close(fd);
    return ex;
}
