/*
 * fuzz_station.c - libFuzzer target: the station's socket protocol as
 * kc-station reads it, without cards. The input is the byte stream a client
 * sends; it goes through a socket into the station's frame decoder
 * (kcs_recv, issuance/station_client.c), frame after frame until the
 * stream ends or breaks, and each frame is judged as kc-station judges it
 * before any card is touched (issuance/kcs_record.c): the
 * profile name, the record fields quoted into CSV and parsed back
 * (kci_csv_parse), checked against a profile whose steps take record
 * columns and encoded into each step's parameter bytes, the display text;
 * then the result frame is built and sent as the station does.
 *
 * Checks beyond the sanitizers: every item walked is re-encoded to the same
 * bytes (kcs_put / kcs_next); a record the station takes parses back to
 * exactly the fields sent, one row, one column per field (text up to a NUL
 * byte, where C strings end); a record it refuses comes with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kcs_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger streams are cut: a socket pair holds this much without a reader. */
#define STREAM_MAX 65536

/* A profile whose steps take record columns, as a station's profiles do. */
static const char profile_json[] =
    "{\"issuance\":\"keycard/1\",\"key\":1,\"steps\":["
    "{\"template\":1,\"params\":[{\"u8\":1},{\"csv\":\"name\"}]},"
    "{\"template\":2,\"params\":[{\"csv\":\"f00\"},{\"text\":\"x\"},{\"csv\":\"q\"}]}]}";

static kci_profile g_prof;

static void load_profile(void)
{
    static int done;
    json_error_t je;
    json_t *j;
    kct_errs e = {"fuzz_station profile", 0};

    if (done)
        return;
    done = 1;
    kct_set_prog("fuzz_station");
    j = json_loads(profile_json, 0, &je);
    if (j == NULL || kci_profile_parse(j, &e, &g_prof) != 0 || !g_prof.uses_csv) {
        fprintf(stderr, "fuzz_station: the built-in profile does not load\n");
        abort();
    }
    json_decref(j);
}

/* The bytes up to the first NUL of v (what a C string keeps of it) equal s. */
static int same_text(const char *s, const uint8_t *v, size_t n)
{
    const uint8_t *nul = memchr(v, 0, n);
    size_t k = nul ? (size_t)(nul - v) : n;

    return strlen(s) == k && memcmp(s, v, k) == 0;
}

/* Every item re-encodes to the bytes it came from. */
static void check_items(const kcs_frame *in)
{
    static kcs_frame copy;
    size_t off = 0, vl;
    const uint8_t *v;
    uint8_t tag;
    int r;

    kcs_frame_init(&copy, in->op, in->p1, in->p2);
    while ((r = kcs_next(in, &off, &tag, &v, &vl)) == 1)
        if (kcs_put(&copy, tag, v, vl) != 0)
            abort(); /* an item walked always fits again */
    if (r == 0 && (copy.len != in->len || memcmp(copy.data, in->data, in->len) != 0))
        abort();
}

/* The record taken must be the fields sent, in order. */
static void check_record(const kcs_frame *in, const kci_csv *c)
{
    size_t off = 0, vl, i = 0;
    const uint8_t *v;
    uint8_t tag;

    if (c->n_cols == 0) {
        if (c->n_rows != 0)
            abort();
        return;
    }
    if (c->n_rows != 1)
        abort();
    while (kcs_next(in, &off, &tag, &v, &vl) == 1) {
        if (tag != KCS_T_FIELD)
            continue;
        if (i >= c->n_cols || !same_text(c->head[i], v + 1, v[0]) ||
            !same_text(c->rows[0][i], v + 1 + v[0], vl - 1 - v[0]))
            abort();
        i++;
    }
    if (i != c->n_cols)
        abort();
}

/* kc-station's op_issue up to the first card command. */
static void issue(const kcs_frame *in, kcs_frame *r)
{
    char name[256], err[400];
    uint8_t out[KCI_STEP_BYTES_MAX];
    kci_csv csv;
    size_t k;

    kcs_frame_init(r, KCS_OP_ISSUE | KCS_OP_RESULT, 0x6A, 0x80);
    if (kcs_find_str(in, KCS_T_PROFILE, name, sizeof name) != 0 || !kcs_profile_name_ok(name)) {
        kcs_put_str(r, KCS_R_MESSAGE, "no valid profile name");
        /* The record is judged anyway: the fuzzer need not find a name first. */
    }
    err[0] = '\0';
    if (kcs_record_csv(in, &csv, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort(); /* a refusal always says why */
        kcs_put_str(r, KCS_R_MESSAGE, err);
        return;
    }
    check_record(in, &csv);
    if (csv.n_rows && kci_csv_check(&g_prof, &csv) == 0) {
        long row = kci_csv_pick(&csv, "5441524745540001", 0);
        for (k = 0; k < g_prof.n_steps; k++)
            if (kci_step_encode(&g_prof.steps[k], &csv, row, out, sizeof out, err, sizeof err) <
                0)
                break;
    }
    kci_csv_free(&csv);
    kcs_put_u8(r, KCS_R_OUTCOME, KCS_OUT_FAILED);
}

static void serve(const kcs_frame *in, kcs_frame *r)
{
    char text[256];
    size_t i;

    check_items(in);
    switch (in->op) {
    case KCS_OP_ISSUE:
        issue(in, r);
        break;
    case KCS_OP_STARTUP:
        kcs_frame_init(r, KCS_OP_STARTUP | KCS_OP_RESULT, 0x69, 0x85);
        if (in->len || in->p1 || in->p2)
            kcs_put_str(r, KCS_R_MESSAGE, "start-up takes no data");
        break;
    case KCS_OP_DISPLAY:
        kcs_frame_init(r, KCS_OP_DISPLAY | KCS_OP_RESULT, 0x90, 0x00);
        if (kcs_find_str(in, KCS_T_TEXT, text, sizeof text) == 0)
            for (i = 0; text[i]; i++)
                if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F)
                    text[i] = '?';
        break;
    default:
        kcs_frame_init(r, (uint8_t)((in->op & 0x7F) | KCS_OP_RESULT), 0x6D, 0x00);
        (void)kcs_find_uint(in, in->p2, 0);
        kcs_put_str(r, KCS_R_MESSAGE, "unknown operation type code");
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kcs_frame in, out;
    int in_fd[2], out_fd[2];
    char err[160], junk[4096];
    size_t done = 0;

    load_profile();
    if (size > STREAM_MAX)
        size = STREAM_MAX;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_fd) != 0)
        abort();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, out_fd) != 0)
        abort();
    fcntl(in_fd[1], F_SETFL, O_NONBLOCK);
    while (done < size) {
        ssize_t w = send(in_fd[1], data + done, size - done, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the socket is full: the rest is cut */
        done += (size_t)w;
    }
    shutdown(in_fd[1], SHUT_WR);
    /* Everything is in the socket already: no wait is needed for any read. */
    while (kcs_recv(in_fd[0], &in, 0, err, sizeof err) == 0) {
        serve(&in, &out);
        if (kcs_send(out_fd[0], &out) != 0)
            abort();
        while (recv(out_fd[1], junk, sizeof junk, MSG_DONTWAIT) > 0)
            ;
    }
    close(in_fd[0]);
    close(in_fd[1]);
    close(out_fd[0]);
    close(out_fd[1]);
    return 0;
}
