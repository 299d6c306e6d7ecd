/*
 * fuzz_libkeycard_resp.c - libFuzzer target: libkeycard's handling of card
 * answers, with a malicious card. The public API script of scenario.c runs
 * against a fake PC/SC transport whose every answer comes from the input.
 *
 * The fake is linked in place of libkeycard/transport_pcsc.c (it defines
 * kcl_transport_pcsc and kcl_pcsc_list), so libkeycard itself is the
 * product code unchanged; keycard_open("pcsc:kc") lands here.
 *
 * Input: 2 bytes (big-endian) select the script steps to run (bit i: step i
 * of scenario.h); then records (fuzz_input.h), each the next answer of
 * whichever card is asked: data || SW1 SW2. A record of length 0 is a card
 * reset (KEYCARD_ERR_CARD_RESET), of length 1 a transport failure picked by
 * its byte. When the records are used up the card is gone (NO_CARD) and the
 * script stops.
 *
 * Checks beyond the sanitizers: every answer fits the caller's buffer (the
 * fake never writes past *resp_len; ASan checks libkeycard's use of it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "scenario.h"
#include "transport.h"

static fz_in input;
static int gone;

typedef struct fake {
    kcl_transport base;
    char name[8];
} fake;

static keycard_rc fake_open(const char *arg, kcl_transport **out);

static keycard_rc fake_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len)
{
    (void)t;
    if (!cmd || len < 4 || !resp || !resp_len)
        abort(); /* libkeycard never sends less than a header */
    const uint8_t *rec;
    size_t n;
    if (gone || !fz_record(&input, &rec, &n)) {
        gone = 1;
        return KEYCARD_ERR_NO_CARD;
    }
    if (n == 0)
        return KEYCARD_ERR_CARD_RESET;
    if (n == 1) {
        static const keycard_rc errs[] = {KEYCARD_ERR_CARD_REMOVED, KEYCARD_ERR_NO_CARD,
                                          KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_PROTOCOL,
                                          KEYCARD_ERR_NO_READER};
        return errs[rec[0] % (sizeof errs / sizeof errs[0])];
    }
    if (n > *resp_len)
        return KEYCARD_ERR_PROTOCOL; /* as the PC/SC transport: answer larger than the buffer */
    /* A private copy so ASan sees exactly n bytes were given. */
    memcpy(resp, rec, n);
    *resp_len = n;
    return KEYCARD_OK;
}

static keycard_rc fake_ok(kcl_transport *t)
{
    (void)t;
    return gone ? KEYCARD_ERR_NO_CARD : KEYCARD_OK;
}

static const char *fake_name(const kcl_transport *t)
{
    return ((const fake *)t)->name;
}

static void fake_close(kcl_transport *t)
{
    free(t);
}

const kcl_transport_ops kcl_transport_pcsc = {
    "pcsc", fake_open, fake_transmit, fake_ok, fake_ok, fake_ok, fake_name, fake_close, fake_ok,
};

static keycard_rc fake_open(const char *arg, kcl_transport **out)
{
    if (gone)
        return KEYCARD_ERR_NO_CARD;
    fake *f = calloc(1, sizeof *f);
    if (!f)
        return KEYCARD_ERR_MEMORY;
    f->base.ops = &kcl_transport_pcsc;
    strncpy(f->name, arg ? arg : "", sizeof f->name - 1);
    *out = &f->base;
    return KEYCARD_OK;
}

keycard_rc kcl_pcsc_list(char *buf, size_t cap)
{
    static const char list[] = "kc\ntc";
    if (cap < sizeof list)
        return KEYCARD_ERR_BUFFER;
    memcpy(buf, list, sizeof list);
    return KEYCARD_OK;
}

/* Reader probes (keycard_reader_probe) see empty readers here: nothing to fuzz in them. */
keycard_rc kcl_pcsc_probe(const char *reader, int *present, int *in_use, uint8_t *atr,
                          size_t *atr_len)
{
    (void)reader, (void)atr;
    *present = *in_use = 0;
    *atr_len = 0;
    return KEYCARD_OK;
}

static int more(void)
{
    return !gone;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t mask = (uint32_t)data[0] << 8 | data[1];
    input.p = data + 2;
    input.left = size - 2;
    gone = 0;
    sc_ctx c = {NULL, NULL, NULL, more};
    sc_run(&c, mask);
    return 0;
}
