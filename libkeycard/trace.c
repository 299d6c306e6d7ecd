/*
 * trace.c - keycard_set_trace: one line per command a handle sends and per
 * answer it gets, at the encoding layer (apdu.c), so inside the secure
 * channel the line shows the inner command before encryption and the answer
 * after decryption. Secret-bearing data never reaches the line: command data
 * is shown only for SELECT, answer data only for SELECT and the public GET
 * DATA objects (status, channel certificate, directories, target card info);
 * everything else is its length.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keycard.h"
#include "keycard_proto.h"
#include "keycard_target_proto.h"
#include "trace.h"

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static keycard_trace_fn trace_fn;
static void *trace_ctx;

KEYCARD_API void keycard_set_trace(keycard_trace_fn fn, void *ctx)
{
    pthread_mutex_lock(&trace_lock);
    trace_fn = fn;
    trace_ctx = ctx;
    pthread_mutex_unlock(&trace_lock);
}

int kcl_trace_on(void)
{
    pthread_mutex_lock(&trace_lock);
    int on = trace_fn != NULL;
    pthread_mutex_unlock(&trace_lock);
    return on;
}

static void emit(const char *line)
{
    pthread_mutex_lock(&trace_lock);
    if (trace_fn)
        trace_fn(trace_ctx, line);
    pthread_mutex_unlock(&trace_lock);
}

uint64_t kcl_trace_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* GET DATA objects anyone may read, and SELECT: their bytes may be shown. */
static int public_answer(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
    unsigned tag = (unsigned)p1 << 8 | p2;
    if (cla == KC_CLA_ISO && ins == KC_INS_SELECT)
        return 1;
    return cla == KC_CLA_ISO && ins == KC_INS_GET_DATA &&
           (tag == KC_TAG_STATUS || tag == KC_TAG_CHANNEL_CERT || tag == KC_TAG_KEY_DIR ||
            tag == KC_TAG_TEMPLATE_DIR || tag == TC_TAG_CARD_INFO || tag == TC_TAG_FILE_LIST ||
            tag == TC_TAG_COMPLETION);
}

/* " " and up to 64 bytes in hex ("..." after), or " [N bytes]". */
static void data_text(char *out, size_t cap, const uint8_t *d, size_t n, int show)
{
    size_t o = 0;
    if (!n) {
        out[0] = '\0';
        return;
    }
    if (!show) {
        snprintf(out, cap, " [%zu bytes, not shown]", n);
        return;
    }
    o += (size_t)snprintf(out, cap, " [%zu]", n);
    for (size_t i = 0; i < n && i < 64 && o + 4 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, " %02X", d[i]);
    if (n > 64 && o + 4 < cap)
        snprintf(out + o, cap - o, " ...");
}

void kcl_trace_command(const char *who, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                       const uint8_t *data, size_t lc)
{
    char d[256], line[512];
    data_text(d, sizeof d, data, lc, cla == KC_CLA_ISO && ins == KC_INS_SELECT);
    snprintf(line, sizeof line, "%s > %02X %02X %02X %02X%s", who, cla, ins, p1, p2, d);
    emit(line);
}

void kcl_trace_answer(const char *who, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                      uint16_t sw, const uint8_t *data, size_t n, keycard_rc rc, uint64_t t0)
{
    char d[256], line[512];
    double ms = (double)(kcl_trace_clock() - t0) / 1000.0;
    if (rc != KEYCARD_OK) {
        snprintf(line, sizeof line, "%s < %s (%.2f ms)", who, keycard_strerror(rc), ms);
    } else {
        data_text(d, sizeof d, data, n, public_answer(cla, ins, p1, p2));
        snprintf(line, sizeof line, "%s < %04X%s (%.2f ms)", who, sw, d, ms);
    }
    emit(line);
}

void kcl_trace_envelope(const char *who, const uint8_t *apdu, size_t len, const uint8_t *resp,
                        size_t rlen, keycard_rc rc, uint64_t t0)
{
    char line[256];
    double ms = (double)(kcl_trace_clock() - t0) / 1000.0;
    /* The envelope is ciphertext; its answer: [c]_4 inner SW data MAC, then 9000. */
    snprintf(line, sizeof line, "%s > %02X %02X %02X %02X envelope [%zu bytes, sealed]", who,
             apdu[0], apdu[1], apdu[2], apdu[3], len);
    emit(line);
    if (rc != KEYCARD_OK)
        snprintf(line, sizeof line, "%s < %s (%.2f ms)", who, keycard_strerror(rc), ms);
    else if (rlen >= 2 + 4 + 2 + 16)
        snprintf(line, sizeof line, "%s < %02X%02X counter %u inner %02X%02X [%zu bytes] (%.2f ms)",
                 who, resp[rlen - 2], resp[rlen - 1],
                 (unsigned)resp[0] << 24 | (unsigned)resp[1] << 16 | (unsigned)resp[2] << 8 |
                     resp[3],
                 resp[4], resp[5], rlen - 2, ms);
    else
        snprintf(line, sizeof line, "%s < %02X%02X [%zu bytes] (%.2f ms)", who,
                 rlen >= 2 ? resp[rlen - 2] : 0, rlen >= 2 ? resp[rlen - 1] : 0,
                 rlen >= 2 ? rlen - 2 : 0, ms);
    emit(line);
}
