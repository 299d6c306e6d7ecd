/*
 * transport_sim.c - the "sim" transport: a card firmware (the key card, or
 * the target card) linked into this process, running on a flash image file
 * ("sim:FILE") with the geometry its kc_card_ops asks for. APDUs go straight
 * to the firmware's process() entry; there is no reader, no pcscd, and the
 * card state persists in FILE exactly as it would on the chip's flash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_card.h"
#include "kc_err.h"
#include "keycard_proto.h"
#include "hw/kc_hw_file.h"
#include "keycard.h"
#include "transport.h"

typedef struct sim_transport {
    kcl_transport base;
    const kc_card_ops *card;
    kc_hw_file hf;
    kc_hw hw;
    int hf_open;
    void *ctx;   /* the firmware's RAM, card->ctx_size bytes */
    char *name;  /* "sim:FILE" */
    uint8_t rbuf[KC_APDU_MAX_RESP + 2];
} sim_transport;

static void sim_close(kcl_transport *t)
{
    sim_transport *s = (sim_transport *)t;
    if (s->ctx) {
        s->card->power(s->ctx, KC_POWER_OFF);
        /* The firmware's RAM held PIN state and keys. */
        memset(s->ctx, 0, s->card->ctx_size);
        free(s->ctx);
    }
    if (s->hf_open)
        kc_hw_file_close(&s->hf);
    free(s->name);
    free(s);
}

static _Thread_local char open_detail[256];

KEYCARD_API const char *keycard_open_detail(void)
{
    return open_detail;
}

keycard_rc kcl_sim_open(const kc_card_ops *card, const char *file, kcl_transport **out)
{
    open_detail[0] = '\0';
    if (!card || !file || !*file || !out)
        return KEYCARD_ERR_ARG;
    sim_transport *s = calloc(1, sizeof *s);
    if (!s)
        return KEYCARD_ERR_MEMORY;
    s->base.ops = &kcl_transport_sim;
    s->card = card;
    size_t nl = strlen(file) + sizeof "sim:";
    s->name = malloc(nl);
    s->ctx = calloc(1, s->card->ctx_size);
    if (!s->name || !s->ctx) {
        sim_close(&s->base);
        return KEYCARD_ERR_MEMORY;
    }
    memcpy(s->name, "sim:", 4);
    memcpy(s->name + 4, file, nl - 4);
    if (kc_hw_file_open(&s->hf, file, s->card->flash_size, s->card->page_size, &s->hw) != 0) {
        snprintf(open_detail, sizeof open_detail, "%s", s->hf.err[0] ? s->hf.err : file);
        sim_close(&s->base);
        return KEYCARD_ERR_IO;
    }
    s->hf_open = 1;
    int irc = s->card->init(s->ctx, &s->hw);
    if (irc != 0) {
        /* A flash image the firmware cannot mount is a file problem on the host. */
        if (irc == KC_ERR_CORRUPT && s->card->damage_at)
            snprintf(open_detail, sizeof open_detail, "%s: damaged at byte %zu", file,
                     s->card->damage_at(s->ctx));
        else
            snprintf(open_detail, sizeof open_detail, "%s: the %s card does not boot from it "
                     "(error %d)", file, s->card->name, irc);
        sim_close(&s->base);
        return irc == KC_ERR_CORRUPT ? KEYCARD_ERR_DAMAGED : KEYCARD_ERR_IO;
    }
    s->card->power(s->ctx, KC_POWER_ON);
    *out = &s->base;
    return KEYCARD_OK;
}

/* The table's open: the key card. */
static keycard_rc sim_open(const char *file, kcl_transport **out)
{
    return kcl_sim_open(&kc_keycard_card, file, out);
}

static keycard_rc sim_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                               size_t *resp_len)
{
    sim_transport *s = (sim_transport *)t;
    /* The firmware wants a worst-case buffer; copy out what fits the caller's. */
    size_t n = s->card->process(s->ctx, cmd, len, s->rbuf, sizeof s->rbuf);
    if (n < 2 || n > sizeof s->rbuf)
        return KEYCARD_ERR_PROTOCOL;
    if (n > *resp_len)
        return KEYCARD_ERR_PROTOCOL;
    memcpy(resp, s->rbuf, n);
    memset(s->rbuf, 0, n);
    *resp_len = n;
    return KEYCARD_OK;
}

static keycard_rc sim_nothing(kcl_transport *t)
{
    (void)t;
    return KEYCARD_OK;
}

static const char *sim_name(const kcl_transport *t)
{
    return ((const sim_transport *)t)->name;
}

const kcl_transport_ops kcl_transport_sim = {
    .kind = "sim",
    .open = sim_open,
    .transmit = sim_transmit,
    /* One process, one card, no other client: nothing to lock or reconnect. */
    .begin_transaction = sim_nothing,
    .end_transaction = sim_nothing,
    .reconnect = sim_nothing,
    .status = sim_nothing, /* the card never leaves the process */
    .name = sim_name,
    .close = sim_close,
};
