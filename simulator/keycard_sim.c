/*
 * keycard_sim.c - libkeycard-sim: a card firmware (the key card, or the
 * target card) linked into this process, running on a flash image file
 * ("sim:FILE") with the geometry its kc_card_ops asks for. APDUs go straight
 * to the firmware's process() entry; there is no reader, no pcscd, and the
 * card state persists in FILE exactly as it would on the chip's flash.
 * libkeycard reaches it as a keycard_link (keycard.h); nothing here is
 * part of libkeycard.so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_card.h"
#include "kc_err.h"
#include "keycard_proto.h"
#include "hw/kc_hw_file.h"
#include "keycard_sim.h"

typedef struct sim_card {
    const kc_card_ops *card;
    kc_hw_file hf;
    kc_hw hw;
    int hf_open;
    void *ctx;   /* the firmware's RAM, card->ctx_size bytes */
    char *name;  /* "sim:FILE" */
    uint8_t rbuf[KC_APDU_MAX_RESP + 2];
} sim_card;

static void sim_close(void *p)
{
    sim_card *s = p;
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

static keycard_rc sim_transmit(void *p, const uint8_t *cmd, size_t len, uint8_t *resp,
                               size_t *resp_len)
{
    sim_card *s = p;
    /* The firmware wants a worst-case buffer; copy out what fits the caller's. */
    size_t n = s->card->process(s->ctx, cmd, len, s->rbuf, sizeof s->rbuf);
    if (n < 2 || n > sizeof s->rbuf || n > *resp_len)
        return KEYCARD_ERR_PROTOCOL;
    memcpy(resp, s->rbuf, n);
    memset(s->rbuf, 0, n);
    *resp_len = n;
    return KEYCARD_OK;
}

static const char *sim_name(void *p)
{
    return ((const sim_card *)p)->name;
}

KEYCARD_API keycard_rc keycard_sim_link(const char *file, keycard_link_kind kind,
                                        keycard_link *out, char *detail, size_t detail_cap)
{
    if (detail && detail_cap)
        detail[0] = '\0';
    if (!file || !*file || !out || (kind != KEYCARD_LINK_KEYCARD && kind != KEYCARD_LINK_TARGET))
        return KEYCARD_ERR_ARG;
    sim_card *s = calloc(1, sizeof *s);
    if (!s)
        return KEYCARD_ERR_MEMORY;
    s->card = kind == KEYCARD_LINK_TARGET ? &kc_target_card : &kc_keycard_card;
    size_t nl = strlen(file) + sizeof "sim:";
    s->name = malloc(nl);
    s->ctx = calloc(1, s->card->ctx_size);
    if (!s->name || !s->ctx) {
        sim_close(s);
        return KEYCARD_ERR_MEMORY;
    }
    memcpy(s->name, "sim:", 4);
    memcpy(s->name + 4, file, nl - 4);
    if (kc_hw_file_open(&s->hf, file, s->card->flash_size, s->card->page_size, &s->hw) != 0) {
        if (detail && detail_cap)
            snprintf(detail, detail_cap, "%s", s->hf.err[0] ? s->hf.err : file);
        sim_close(s);
        return KEYCARD_ERR_IO;
    }
    s->hf_open = 1;
    int irc = s->card->init(s->ctx, &s->hw);
    if (irc != 0) {
        /* A flash image the firmware cannot mount is a file problem on the host. */
        if (!detail || !detail_cap)
            ;
        else if (irc == KC_ERR_CORRUPT && s->card->damage_at)
            snprintf(detail, detail_cap, "%s: damaged at byte %zu", file,
                     s->card->damage_at(s->ctx));
        else
            snprintf(detail, detail_cap, "%s: the %s card does not boot from it (error %d)", file,
                     s->card->name, irc);
        sim_close(s);
        return irc == KC_ERR_CORRUPT ? KEYCARD_ERR_DAMAGED : KEYCARD_ERR_IO;
    }
    s->card->power(s->ctx, KC_POWER_ON);
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->ctx = s;
    out->transmit = sim_transmit;
    out->name = sim_name;
    out->close = sim_close;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_sim_enable(void)
{
    return keycard_register_scheme("sim", keycard_sim_link);
}
