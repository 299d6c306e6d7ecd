/*
 * keycard.c - the API layer of libkeycard (include/keycard.h): argument
 * checks, one function per key card operation, a transaction around every
 * operation (or one around many: keycard_hold), and the tables behind
 * keycard_strerror and keycard_audit_event_name. Bytes are built and parsed by apdu.c; how they
 * travel is transport.h's business.
 */
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "channel.h"
#include "crypto.h"
#include "keycard.h"
#include "keycard_proto.h"
#include "keycard_target_proto.h"
#include "session.h"
#include "transport.h"

struct keycard {
    kcl_session s; /* transport, recovery after a reset or removal, hold (session.h) */
    unsigned bucket[KC_ISSUE_SESSIONS]; /* of each issuance session begun here, 0: none */
    unsigned char packed[KC_ISSUE_SESSIONS]; /* ... and whether it is a packed one */
    unsigned issue_session;             /* the session the issue calls use (P2) */
};

/* Room for any answer libkeycard asks for. */
#define RESP_CAP KCL_APDU_RESP_MAX

static const uint8_t kc_aid[KC_AID_LEN] = {KC_AID_BYTES};

/* ---- small helpers ----------------------------------------------------- */

/* A PIN is 4..16 ASCII digits. Returns its length, or 0 when malformed. */
static size_t pin_len(const char *pin)
{
    if (!pin)
        return 0;
    size_t n = 0;
    while (n <= KC_PIN_MAX_LEN && pin[n]) {
        if (pin[n] < '0' || pin[n] > '9')
            return 0;
        n++;
    }
    return (n >= KC_PIN_MIN_LEN && n <= KC_PIN_MAX_LEN) ? n : 0;
}

static int admin_len_ok(const uint8_t *key, size_t len)
{
    return key && (len == KC_ADMIN_KEY_LEN_128 || len == KC_ADMIN_KEY_LEN_256);
}

static int is_pin_ref(keycard_pin ref)
{
    return ref == KEYCARD_PIN_ISSUER || ref == KEYCARD_PIN_HOLDER;
}

/*
 * SELECT the key card application; anything but 9000 means "not a key card".
 * The answer is the status blob: a key card of another protocol major
 * version is refused here, before anything else is sent to it.
 */
static keycard_rc select_app(kcl_transport *t)
{
    uint8_t r[256];
    uint16_t sw = 0;
    size_t rl = sizeof r;
    const uint8_t *v;
    size_t vl;
    keycard_rc rc = kcl_apdu_exchange(t, KC_CLA_ISO, KC_INS_SELECT, KC_SELECT_P1_BY_AID,
                                      KC_SELECT_P2_FIRST_FCI, kc_aid, sizeof kc_aid, 256, r,
                                      &rl, &sw);
    if (rc != KEYCARD_OK)
        return rc;
    if (sw != KC_SW_OK)
        return KEYCARD_ERR_NO_CARD;
    if (kcl_tlv_find(r, rl, KC_ST_TAG_VERSION, &v, &vl) != KEYCARD_OK || vl != 2 ||
        v[0] != KC_PROTO_VERSION_MAJOR)
        return KEYCARD_ERR_VERSION;
    return KEYCARD_OK;
}

/* The card was reset or pulled: remember which, and that any transaction went with it. */
static void mark_lost(keycard *kc, keycard_rc rc)
{
    kcl_session_mark_lost(&kc->s, rc);
}

/* Start an operation (session.h): recover a lost connection, lock the card. */
static keycard_rc op_begin(keycard *kc)
{
    return kc ? kcl_session_begin(&kc->s) : KEYCARD_ERR_ARG;
}

/* End an operation, passing its result through; a hold keeps its transaction. */
static keycard_rc op_end(keycard *kc, keycard_rc rc)
{
    return kcl_session_end(&kc->s, rc);
}

/* One command inside an operation; *sw is the final status word. */
static keycard_rc cmd(keycard *kc, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                      const uint8_t *data, size_t lc, size_t ne, uint8_t *resp, size_t *rlen,
                      uint16_t *sw)
{
    size_t none = 0;
    keycard_rc rc = kcl_apdu_exchange(kc->s.t, cla, ins, p1, p2, data, lc, ne, resp,
                                      rlen ? rlen : &none, sw);
    if (rc == KEYCARD_OK)
        kc->s.last_sw = *sw;
    /*
     * A reset or pulled card: remember it (session.h). A failure inside the
     * channel needs nothing here: the channel layer keeps the session lost,
     * and sends nothing more, until keycard_reopen.
     */
    if (rc == KEYCARD_ERR_CARD_RESET || rc == KEYCARD_ERR_CARD_REMOVED)
        mark_lost(kc, rc);
    return rc;
}

/* One command whose status word becomes the result. */
static keycard_rc cmd_rc(keycard *kc, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                         const uint8_t *data, size_t lc, size_t ne, uint8_t *resp, size_t *rlen,
                         int *tries)
{
    uint16_t sw = 0;
    keycard_rc rc = cmd(kc, cla, ins, p1, p2, data, lc, ne, resp, rlen, &sw);
    return rc != KEYCARD_OK ? rc : kcl_sw_to_rc(sw, tries);
}

static keycard_rc status_locked(keycard *kc, keycard_status *st)
{
    uint8_t buf[256];
    size_t n = sizeof buf;
    keycard_rc rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_GET_DATA, KC_TAG_STATUS >> 8,
                           KC_TAG_STATUS & 0xFF, NULL, 0, 256, buf, &n, NULL);
    if (rc != KEYCARD_OK)
        return rc;
    return kcl_parse_status(buf, n, st);
}

/*
 * "Conditions not satisfied" from a blank card means "provision it first":
 * tell the caller so, since that is what a person needs to hear.
 */
static keycard_rc refine_blank(keycard *kc, keycard_rc rc)
{
    if (rc != KEYCARD_ERR_CONDITIONS)
        return rc;
    keycard_status st;
    if (status_locked(kc, &st) == KEYCARD_OK && st.lifecycle == KEYCARD_LIFECYCLE_BLANK)
        return KEYCARD_ERR_BLANK;
    return rc;
}

/* ---- life cycle -------------------------------------------------------- */

/* Check the card on t is a key card; t is closed unless it is. */
static keycard_rc select_on(kcl_transport *t, kcl_transport **out)
{
    keycard_rc rc;
    rc = t->ops->begin_transaction(t);
    if (rc == KEYCARD_OK) {
        rc = select_app(t);
        t->ops->end_transaction(t);
    }
    if (rc != KEYCARD_OK) {
        kcl_transport_leave_on_close(t); /* not ours: leave whatever session it has */
        t->ops->close(t);
        return rc;
    }
    *out = t;
    return KEYCARD_OK;
}

/* Open a transport on arg and check its card is a key card. */
static keycard_rc open_on(const kcl_transport_ops *ops, const char *arg, kcl_transport **out)
{
    kcl_transport *t = NULL;
    keycard_rc rc = ops->open(arg, &t);
    return rc != KEYCARD_OK ? rc : select_on(t, out);
}

/* Try every reader; the first key card found wins. */
static keycard_rc open_any(kcl_transport **out)
{
    size_t cap = 4096;
    char *list = NULL;
    keycard_rc rc;
    for (;;) {
        char *n = realloc(list, cap);
        if (!n) {
            free(list);
            return KEYCARD_ERR_MEMORY;
        }
        list = n;
        rc = kcl_pcsc_list(list, cap);
        if (rc != KEYCARD_ERR_BUFFER || cap >= (1u << 20))
            break;
        cap *= 2;
    }
    if (rc != KEYCARD_OK) {
        free(list);
        return rc;
    }
    /* Without any usable reader, say so; readers without a key card: no card. */
    keycard_rc best = KEYCARD_ERR_NO_READER;
    char *save = NULL;
    for (char *r = strtok_r(list, "\n", &save); r; r = strtok_r(NULL, "\n", &save)) {
        rc = open_on(&kcl_transport_pcsc, r, out);
        if (rc == KEYCARD_OK) {
            free(list);
            return KEYCARD_OK;
        }
        if (rc == KEYCARD_ERR_MEMORY) {
            best = rc;
            break;
        }
        if (rc == KEYCARD_ERR_VERSION)
            best = rc; /* a key card, of another version: say so rather than "none" */
        else if (rc != KEYCARD_ERR_NO_READER && rc != KEYCARD_ERR_NO_SERVICE &&
                 best != KEYCARD_ERR_VERSION)
            best = KEYCARD_ERR_NO_CARD;
    }
    free(list);
    return best;
}

/*
 * The channel layer over kc's transport (kc->s.t, a selected key card), and
 * the channel opened per mode; kc is freed on failure.
 */
static keycard_rc open_handle(keycard *kc, keycard_channel_mode mode,
                              const uint8_t *issuer, keycard **out)
{
    /* Every APDU from here on passes the channel layer (channel.h). */
    kcl_transport *w = NULL;
    keycard_rc rc = kcl_channel_wrap(kc->s.t, mode, issuer, &w);
    if (rc != KEYCARD_OK) {
        kc->s.t->ops->close(kc->s.t);
        free(kc);
        return rc;
    }
    kc->s.t = w;
    kc->s.on_reconnect = select_app;
    if ((rc = w->ops->begin_transaction(w)) == KEYCARD_OK) {
        rc = kcl_channel_start(w);
        w->ops->end_transaction(w);
    }
    if (rc != KEYCARD_OK) {
        w->ops->close(w);
        free(kc);
        return rc;
    }
    kc->s.last_sw = KC_SW_OK; /* SELECT (and the channel's opening) answered */
    *out = kc;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_open(keycard **out, const char *where)
{
    return keycard_open_ex(out, where, NULL);
}

/* What keycard_open_options holds: the issuer key already parsed. */
struct keycard_open_options {
    keycard_channel_mode channel;
    int has_issuer;
    uint8_t issuer[65];
};

KEYCARD_API keycard_rc keycard_open_options_new(keycard_open_options **out)
{
    if (!out)
        return KEYCARD_ERR_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? KEYCARD_OK : KEYCARD_ERR_MEMORY;
}

KEYCARD_API void keycard_open_options_free(keycard_open_options *o)
{
    if (o) {
        kcl_wipe(o, sizeof *o);
        free(o);
    }
}

KEYCARD_API keycard_rc keycard_open_options_channel(keycard_open_options *o,
                                                    keycard_channel_mode mode)
{
    if (!o || (unsigned)mode > KEYCARD_CHANNEL_INSECURE_PLAIN)
        return KEYCARD_ERR_ARG;
    o->channel = mode;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_open_options_issuer_pub(keycard_open_options *o,
                                                       const uint8_t *pub, size_t len)
{
    if (!o)
        return KEYCARD_ERR_ARG;
    o->has_issuer = 0;
    if (!pub)
        return KEYCARD_OK;
    if (kcl_crypto_pub_raw(pub, len, o->issuer) != KEYCARD_OK)
        return KEYCARD_ERR_KEY_FORMAT;
    o->has_issuer = 1;
    return KEYCARD_OK;
}

/* keycard_options (ABI 1) as keycard_open_options; opt NULL: the defaults. */
static keycard_rc options_of(const keycard_options *opt, keycard_open_options *o)
{
    memset(o, 0, sizeof *o);
    if (!opt)
        return KEYCARD_OK;
    keycard_rc rc = keycard_open_options_channel(o, opt->channel);
    if (rc == KEYCARD_OK && opt->issuer_pub)
        rc = keycard_open_options_issuer_pub(o, opt->issuer_pub, opt->issuer_pub_len);
    return rc;
}

KEYCARD_API keycard_rc keycard_open_with(keycard **out, const char *where,
                                         const keycard_open_options *o)
{
    static const keycard_open_options defaults;
    if (!out)
        return KEYCARD_ERR_ARG;
    *out = NULL;
    if (!o)
        o = &defaults;
    keycard *kc = calloc(1, sizeof *kc);
    if (!kc)
        return KEYCARD_ERR_MEMORY;
    kcl_transport *link = NULL;
    int is_link = 0;
    kcl_open_detail_reset();
    keycard_rc rc = kcl_link_open(where, KEYCARD_LINK_KEYCARD, &link, &is_link);
    if (is_link)
        rc = rc == KEYCARD_OK ? select_on(link, &kc->s.t) : rc;
    else if (where && strncmp(where, "pcsc:", 5) == 0)
        rc = where[5] ? open_on(&kcl_transport_pcsc, where + 5, &kc->s.t) : open_any(&kc->s.t);
    else if (where && *where)
        rc = open_on(&kcl_transport_pcsc, where, &kc->s.t);
    else
        rc = open_any(&kc->s.t);
    if (rc != KEYCARD_OK) {
        free(kc);
        return rc;
    }
    return open_handle(kc, o->channel, o->has_issuer ? o->issuer : NULL, out);
}

KEYCARD_API keycard_rc keycard_open_ex(keycard **out, const char *where,
                                       const keycard_options *opt)
{
    keycard_open_options o;
    if (!out)
        return KEYCARD_ERR_ARG;
    *out = NULL;
    keycard_rc rc = options_of(opt, &o);
    if (rc == KEYCARD_OK)
        rc = keycard_open_with(out, where, &o);
    kcl_wipe(&o, sizeof o);
    return rc;
}

keycard_rc kcl_keycard_open_on(kcl_transport *t, const keycard_options *opt, keycard **out)
{
    keycard_open_options o;
    if (!t || !out) {
        if (t)
            t->ops->close(t);
        return KEYCARD_ERR_ARG;
    }
    *out = NULL;
    keycard *kc = calloc(1, sizeof *kc);
    keycard_rc rc = kc ? options_of(opt, &o) : KEYCARD_ERR_MEMORY;
    if (rc == KEYCARD_OK && (rc = t->ops->begin_transaction(t)) == KEYCARD_OK) {
        rc = select_app(t);
        t->ops->end_transaction(t);
    }
    if (rc != KEYCARD_OK) {
        t->ops->close(t);
        free(kc);
        return rc;
    }
    kc->s.t = t;
    return open_handle(kc, o.channel, o.has_issuer ? o.issuer : NULL, out);
}

KEYCARD_API uint16_t keycard_last_sw(const keycard *kc)
{
    return kc ? kc->s.last_sw : 0;
}

KEYCARD_API keycard_rc keycard_reopen(keycard *kc)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    /* Nothing of the old session is kept: not its channel, not an issuance. */
    kcl_channel_restart(kc->s.t);
    memset(kc->bucket, 0, sizeof kc->bucket);
    memset(kc->packed, 0, sizeof kc->packed);
    kc->s.lost = 1; /* reconnect and SELECT (session.h), inside the hold if there is one */
    kc->s.lost_rc = KEYCARD_OK;
    keycard_rc rc = kcl_session_begin(&kc->s);
    if (rc != KEYCARD_OK) {
        kcl_channel_lose(kc->s.t);
        return rc;
    }
    return op_end(kc, kcl_channel_start(kc->s.t)); /* fails lost */
}

KEYCARD_API keycard_channel_state keycard_channel_status(const keycard *kc)
{
    return kc ? kcl_channel_state(kc->s.t) : KEYCARD_CHANNEL_NONE;
}

KEYCARD_API void keycard_close(keycard *kc)
{
    if (!kc)
        return;
    kc->s.t->ops->close(kc->s.t);
    free(kc);
}

KEYCARD_API const char *keycard_reader_name(const keycard *kc)
{
    return kc ? kc->s.t->ops->name(kc->s.t) : "";
}

KEYCARD_API keycard_rc keycard_list_readers(char *buf, size_t cap)
{
    return kcl_pcsc_list(buf, cap);
}

KEYCARD_API keycard_rc keycard_reader_probe(const char *reader, keycard_card_kind *kind,
                                            int *in_use)
{
    static const uint8_t keycard_atr[] = KC_ATR_BODY, target_atr[] = TC_ATR_BODY;
    uint8_t atr[64];
    size_t n = sizeof atr;
    int present = 0, busy = 0;
    if (!reader || !kind)
        return KEYCARD_ERR_ARG;
    if (strncmp(reader, "pcsc:", 5) == 0)
        reader += 5;
    keycard_rc rc = kcl_pcsc_probe(reader, &present, &busy, atr, &n);
    if (rc != KEYCARD_OK)
        return rc;
    /* The body of the ATR decides; the TCK that follows it is the body's XOR. */
    if (!present)
        *kind = KEYCARD_KIND_NONE;
    else if (n == sizeof keycard_atr + 1 && memcmp(atr, keycard_atr, sizeof keycard_atr) == 0)
        *kind = KEYCARD_KIND_KEYCARD;
    else if (n == sizeof target_atr + 1 && memcmp(atr, target_atr, sizeof target_atr) == 0)
        *kind = KEYCARD_KIND_TARGET;
    else
        *kind = KEYCARD_KIND_OTHER;
    if (in_use)
        *in_use = busy;
    return KEYCARD_OK;
}

/* ---- status and credentials -------------------------------------------- */

KEYCARD_API keycard_rc keycard_status_read(keycard *kc, keycard_status *st)
{
    if (!kc || !st)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    return op_end(kc, status_locked(kc, st));
}

KEYCARD_API keycard_rc keycard_hold(keycard *kc)
{
    return kc ? kcl_session_hold(&kc->s) : KEYCARD_ERR_ARG;
}

KEYCARD_API keycard_rc keycard_release(keycard *kc)
{
    return kc ? kcl_session_release(&kc->s) : KEYCARD_ERR_ARG;
}

static keycard_rc reserve(keycard *kc, int on)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    kcl_transport *t = kc->s.t;
    return t->ops->exclusive ? t->ops->exclusive(t, on) : KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_reserve(keycard *kc)
{
    return reserve(kc, 1);
}

KEYCARD_API keycard_rc keycard_unreserve(keycard *kc)
{
    return reserve(kc, 0);
}

KEYCARD_API keycard_rc keycard_present(keycard *kc)
{
    return kc ? kcl_session_present(&kc->s) : KEYCARD_ERR_ARG;
}

/* VERIFY with a value already checked; wipes nothing of the caller's. */
static keycard_rc verify(keycard *kc, uint8_t ref, const uint8_t *val, size_t len,
                         int *tries_left)
{
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    int tries = -1;
    rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_VERIFY, 0x00, ref, val, len, 0, NULL, NULL, &tries);
    if (rc == KEYCARD_ERR_BLOCKED)
        tries = 0;
    if (tries_left && (rc == KEYCARD_ERR_WRONG_PIN || rc == KEYCARD_ERR_BLOCKED))
        *tries_left = tries;
    return op_end(kc, refine_blank(kc, rc));
}

KEYCARD_API keycard_rc keycard_verify_pin(keycard *kc, keycard_pin ref, const char *pin,
                                          int *tries_left)
{
    size_t n = pin_len(pin);
    if (!kc || !is_pin_ref(ref) || !n)
        return KEYCARD_ERR_ARG;
    return verify(kc, (uint8_t)ref, (const uint8_t *)pin, n, tries_left);
}

KEYCARD_API keycard_rc keycard_verify_admin(keycard *kc, const uint8_t *key, size_t key_len,
                                            int *tries_left)
{
    if (!kc || !admin_len_ok(key, key_len))
        return KEYCARD_ERR_ARG;
    return verify(kc, KC_REF_ADMIN_KEY, key, key_len, tries_left);
}

KEYCARD_API keycard_rc keycard_tries_left(keycard *kc, keycard_pin ref, int *tries_left)
{
    if (!kc || !tries_left ||
        (ref != KEYCARD_PIN_ISSUER && ref != KEYCARD_PIN_HOLDER && ref != KEYCARD_ADMIN_KEY))
        return KEYCARD_ERR_ARG;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    uint16_t sw = 0;
    rc = cmd(kc, KC_CLA_ISO, KC_INS_VERIFY, 0x00, (uint8_t)ref, NULL, 0, 0, NULL, NULL, &sw);
    if (rc == KEYCARD_OK) {
        int tries = -1;
        rc = kcl_sw_to_rc(sw, &tries);
        if (rc == KEYCARD_ERR_WRONG_PIN) {
            /* An empty VERIFY spends nothing: 63Cx is the answer, not an error. */
            *tries_left = tries;
            rc = KEYCARD_OK;
        } else if (rc == KEYCARD_ERR_BLOCKED) {
            *tries_left = 0;
            rc = KEYCARD_OK;
        } else if (rc == KEYCARD_OK) {
            /* Some cards answer 9000 when already verified: ask the status blob. */
            keycard_status st;
            rc = status_locked(kc, &st);
            if (rc == KEYCARD_OK)
                *tries_left = st.tries_left[ref - KEYCARD_PIN_ISSUER];
        }
    }
    return op_end(kc, refine_blank(kc, rc));
}

/* CHANGE REFERENCE DATA with old || new; the buffer is wiped. */
static keycard_rc change(keycard *kc, uint8_t ref, const uint8_t *o, size_t ol,
                         const uint8_t *n, size_t nl, int *tries_left)
{
    uint8_t data[2 * KC_ADMIN_KEY_LEN_256];
    memcpy(data, o, ol);
    memcpy(data + ol, n, nl);
    keycard_rc rc = op_begin(kc);
    if (rc == KEYCARD_OK) {
        int tries = -1;
        rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_CHANGE_REFERENCE_DATA, 0x00, ref, data, ol + nl, 0,
                    NULL, NULL, &tries);
        if (rc == KEYCARD_ERR_BLOCKED)
            tries = 0;
        if (tries_left && (rc == KEYCARD_ERR_WRONG_PIN || rc == KEYCARD_ERR_BLOCKED))
            *tries_left = tries;
        rc = op_end(kc, refine_blank(kc, rc));
    }
    kcl_wipe(data, sizeof data);
    return rc;
}

KEYCARD_API keycard_rc keycard_change_pin(keycard *kc, keycard_pin ref, const char *old_pin,
                                          const char *new_pin, int *tries_left)
{
    size_t ol = pin_len(old_pin);
    if (!kc || !is_pin_ref(ref) || !ol || !new_pin)
        return KEYCARD_ERR_ARG;
    size_t nl = pin_len(new_pin);
    if (!nl)
        return KEYCARD_ERR_WRONG_DATA;
    return change(kc, (uint8_t)ref, (const uint8_t *)old_pin, ol, (const uint8_t *)new_pin, nl,
                  tries_left);
}

KEYCARD_API keycard_rc keycard_change_admin(keycard *kc, const uint8_t *old_key,
                                            size_t old_len, const uint8_t *new_key,
                                            size_t new_len, int *tries_left)
{
    if (!kc || !admin_len_ok(old_key, old_len) || !new_key)
        return KEYCARD_ERR_ARG;
    if (!admin_len_ok(new_key, new_len))
        return KEYCARD_ERR_WRONG_DATA;
    return change(kc, KC_REF_ADMIN_KEY, old_key, old_len, new_key, new_len, tries_left);
}

KEYCARD_API keycard_rc keycard_unblock_pin(keycard *kc, keycard_pin ref, const char *new_pin)
{
    if (!kc || !is_pin_ref(ref))
        return KEYCARD_ERR_ARG;
    size_t nl = 0;
    if (new_pin && !(nl = pin_len(new_pin)))
        return KEYCARD_ERR_WRONG_DATA;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_RESET_RETRY_COUNTER,
                new_pin ? KC_RRC_P1_NEW_PIN : KC_RRC_P1_RESET_ONLY, (uint8_t)ref,
                (const uint8_t *)new_pin, nl, 0, NULL, NULL, NULL);
    return op_end(kc, refine_blank(kc, rc));
}

/* ---- data objects ------------------------------------------------------ */

/* GET DATA of a text object into a NUL-terminated string of at most max bytes. */
static keycard_rc get_text(keycard *kc, uint16_t tag, char *out, size_t max, int printable)
{
    uint8_t buf[256];
    size_t n = sizeof buf;
    keycard_rc rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_GET_DATA, tag >> 8, tag & 0xFF, NULL, 0, 256,
                           buf, &n, NULL);
    if (rc != KEYCARD_OK)
        return rc;
    if (n > max)
        return KEYCARD_ERR_PROTOCOL;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 0 || (printable && (buf[i] < 0x20 || buf[i] > 0x7E)))
            return KEYCARD_ERR_PROTOCOL;
    memcpy(out, buf, n);
    out[n] = '\0';
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_holder_info(keycard *kc, keycard_holder *out)
{
    if (!kc || !out)
        return KEYCARD_ERR_ARG;
    keycard_holder h;
    memset(&h, 0, sizeof h);
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = get_text(kc, KC_TAG_HOLDER_NAME, h.name, KC_HOLDER_NAME_MAX, 0);
    if (rc == KEYCARD_OK)
        rc = get_text(kc, KC_TAG_HOLDER_NUMBER, h.number, KC_HOLDER_NUMBER_MAX, 1);
    rc = op_end(kc, refine_blank(kc, rc));
    if (rc == KEYCARD_OK)
        *out = h;
    return rc;
}

KEYCARD_API keycard_rc keycard_identity_check(keycard *kc, const uint8_t *issuer_pub,
                                              size_t issuer_pub_len, keycard_identity *out)
{
    if (!kc || !issuer_pub || !issuer_pub_len)
        return KEYCARD_ERR_ARG;
    uint8_t issuer[KC_P256_PUB_LEN];
    keycard_rc rc = kcl_crypto_pub_raw(issuer_pub, issuer_pub_len, issuer);
    if (rc != KEYCARD_OK)
        return rc;
    keycard_identity id;
    uint8_t buf[256], tbs[KCL_IDENTITY_TBS_LEN], chal[32], sig[256];
    size_t n = sizeof buf, sl = sizeof sig;
    rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_GET_DATA, KC_TAG_IDENTITY >> 8, KC_TAG_IDENTITY & 0xFF,
                NULL, 0, 256, buf, &n, NULL);
    if (rc == KEYCARD_OK)
        rc = kcl_parse_identity(buf, n, 1, &id);
    if (rc == KEYCARD_OK) {
        if (out)
            *out = id;
        /* Rebuilt from the parsed fields: exactly the 77 bytes the issuer signed. */
        kcl_identity_tbs(&id, tbs);
        rc = kcl_crypto_verify(issuer, KC_SIG_LABEL_IDENTITY, tbs, sizeof tbs, id.issuer_sig);
    }
    if (rc == KEYCARD_OK)
        rc = kcl_crypto_random(chal, sizeof chal);
    if (rc == KEYCARD_OK)
        rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_INTERNAL_AUTHENTICATE, 0x00, 0x00, chal, sizeof chal,
                    KC_P256_SIG_LEN, sig, &sl, NULL);
    if (rc == KEYCARD_OK && sl != KC_P256_SIG_LEN)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK) {
        rc = kcl_crypto_verify(id.device_pub, KC_SIG_LABEL_INTERNAL_AUTH, chal, sizeof chal, sig);
        /* A device key off the curve is the card's lie, not the caller's key. */
        if (rc == KEYCARD_ERR_KEY_FORMAT)
            rc = KEYCARD_ERR_NOT_GENUINE;
    }
    return op_end(kc, refine_blank(kc, rc));
}

/* ---- audit ------------------------------------------------------------- */

static const char *const event_names[] = {
    [KEYCARD_AUDIT_UNLOCK] = "unlock",
    [KEYCARD_AUDIT_PROVISIONED] = "provisioned",
    [KEYCARD_AUDIT_PIN_BLOCKED] = "pin-blocked",
    [KEYCARD_AUDIT_UNBLOCKED] = "unblocked",
    [KEYCARD_AUDIT_PIN_CHANGED] = "pin-changed",
    [KEYCARD_AUDIT_ISSUE_RECEIPT] = "issue-receipt",
    [KEYCARD_AUDIT_CHANNEL_FAILURE] = "channel-failure",
    [KEYCARD_AUDIT_ISSUE_BEGIN] = "issue-begin",
    [KEYCARD_AUDIT_KEY_GENERATED] = "key-generated",
    [KEYCARD_AUDIT_KEY_COMPONENT] = "key-component",
    [KEYCARD_AUDIT_KEY_COMBINED] = "key-combined",
    [KEYCARD_AUDIT_KEY_EXPORTED] = "key-exported",
    [KEYCARD_AUDIT_KEY_IMPORTED] = "key-imported",
    [KEYCARD_AUDIT_BACKUP] = "backup",
    [KEYCARD_AUDIT_KEY_RESTORED] = "key-restored",
    [KEYCARD_AUDIT_KEY_DESTROYED] = "key-destroyed",
};

KEYCARD_API const char *keycard_audit_event_name(uint8_t event)
{
    if (event < sizeof event_names / sizeof event_names[0] && event_names[event])
        return event_names[event];
    return "unknown";
}

KEYCARD_API keycard_rc keycard_audit_read(keycard *kc, uint32_t from,
                                          keycard_audit_entry *entries, size_t *count)
{
    if (!kc || !count || (*count && !entries))
        return KEYCARD_ERR_ARG;
    size_t want = *count, got = 0;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    /* Entries must come with seq >= from, strictly increasing across answers. */
    int have_prev = from > 0;
    uint32_t prev = from - 1, next = from;
    do {
        uint8_t req[4] = {(uint8_t)(next >> 24), (uint8_t)(next >> 16), (uint8_t)(next >> 8),
                          (uint8_t)next};
        uint8_t buf[256];
        size_t n = sizeof buf, k = 0;
        /* Short Le keeps every reader happy; the card sends whole entries that fit. */
        rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_AUDIT_READ, 0x00, 0x00, req, sizeof req, 256, buf,
                    &n, NULL);
        if (rc == KEYCARD_OK)
            rc = kcl_parse_audit(buf, n, entries + got, want - got, &k, have_prev, prev);
        if (rc != KEYCARD_OK || k == 0)
            break;
        got += k;
        prev = entries[got - 1].seq;
        have_prev = 1;
        if (prev == UINT32_MAX)
            break;
        next = prev + 1;
    } while (got < want);
    rc = op_end(kc, refine_blank(kc, rc));
    if (rc == KEYCARD_OK)
        *count = got;
    return rc;
}

KEYCARD_API keycard_rc keycard_audit_sign(keycard *kc, const uint8_t *nonce, size_t nonce_len,
                                          keycard_audit_head *out)
{
    if (!kc || !out || (nonce && (nonce_len < KC_AUDIT_NONCE_MIN ||
                                  nonce_len > KC_AUDIT_NONCE_MAX)))
        return KEYCARD_ERR_ARG;
    keycard_audit_head h;
    memset(&h, 0, sizeof h);
    h.nonce_len = nonce ? nonce_len : 16;
    keycard_rc rc = nonce ? KEYCARD_OK : kcl_crypto_random(h.nonce, h.nonce_len);
    if (nonce)
        memcpy(h.nonce, nonce, nonce_len);
    if (rc != KEYCARD_OK || (rc = op_begin(kc)) != KEYCARD_OK)
        return rc;
    uint8_t buf[KC_AUDIT_SIGNED_LEN];
    size_t n = sizeof buf;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_AUDIT_SIGN, 0x00, 0x00, h.nonce, h.nonce_len,
                KC_AUDIT_SIGNED_LEN, buf, &n, NULL);
    if (rc == KEYCARD_OK && n != KC_AUDIT_SIGNED_LEN)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK) {
        h.next = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
        memcpy(h.head, buf + 4, 32);
        h.lost = (uint32_t)buf[36] << 24 | (uint32_t)buf[37] << 16 | (uint32_t)buf[38] << 8 |
                 buf[39];
        memcpy(h.sig, buf + 40, 64);
        *out = h;
    }
    return op_end(kc, refine_blank(kc, rc));
}

KEYCARD_API keycard_rc keycard_audit_ack(keycard *kc, uint32_t upto)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    uint8_t d[4] = {(uint8_t)(upto >> 24), (uint8_t)(upto >> 16), (uint8_t)(upto >> 8),
                    (uint8_t)upto};
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_AUDIT_ACK, 0x00, 0x00, d, sizeof d, 0, NULL, NULL, NULL);
    return op_end(kc, rc);
}

KEYCARD_API keycard_rc keycard_identity_read(keycard *kc, keycard_identity *out)
{
    if (!kc || !out)
        return KEYCARD_ERR_ARG;
    uint8_t buf[256];
    size_t n = sizeof buf;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_GET_DATA, KC_TAG_IDENTITY >> 8, KC_TAG_IDENTITY & 0xFF,
                NULL, 0, 256, buf, &n, NULL);
    if (rc == KEYCARD_OK)
        rc = kcl_parse_identity(buf, n, 1, out);
    return op_end(kc, refine_blank(kc, rc));
}

/* ---- provisioning ------------------------------------------------------ */

/* One proprietary command without data in either direction. */
static keycard_rc simple(keycard *kc, uint8_t ins)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    return op_end(kc, cmd_rc(kc, KC_CLA_PROP, ins, 0x00, 0x00, NULL, 0, 0, NULL, NULL, NULL));
}

KEYCARD_API keycard_rc keycard_provision_begin(keycard *kc)
{
    return simple(kc, KC_INS_PROVISION_BEGIN);
}

KEYCARD_API keycard_rc keycard_provision_put(keycard *kc, uint16_t tag, const uint8_t *data,
                                             size_t len)
{
    if (!kc || (len && !data) || len > KC_APDU_MAX_DATA)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    return op_end(kc, cmd_rc(kc, KC_CLA_PROP, KC_INS_PROVISION_PUT, tag >> 8, tag & 0xFF, data,
                             len, 0, NULL, NULL, NULL));
}

KEYCARD_API keycard_rc keycard_provision_generate(keycard *kc, keycard_identity *out)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    uint8_t buf[256];
    size_t n = sizeof buf;
    keycard_identity id;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_PROVISION_GENERATE, 0x00, 0x00, NULL, 0, 256, buf, &n,
                NULL);
    if (rc == KEYCARD_OK)
        rc = kcl_parse_identity(buf, n, 0, &id);
    rc = op_end(kc, rc);
    if (rc == KEYCARD_OK && out)
        *out = id;
    return rc;
}

KEYCARD_API keycard_rc keycard_key_generate(keycard *kc, uint8_t number, uint8_t type,
                                            uint8_t flags, const char *label, uint8_t kcv[3])
{
    uint8_t d[KC_GENERATE_KEY_LC_MIN + KC_LABEL_MAX], out[16];
    size_t ll = label ? strlen(label) : 0, n = sizeof out;
    if (!kc || !kcv || number < KC_NUMBER_MIN || number > KC_NUMBER_MAX || ll > KC_LABEL_MAX ||
        (type != KEYCARD_KEY_AES128 && type != KEYCARD_KEY_AES256) || (flags & ~KC_KEYF_ALL))
        return KEYCARD_ERR_ARG;
    d[0] = type;
    d[1] = flags;
    d[2] = (uint8_t)ll;
    memcpy(d + 3, label, ll);
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, number, d, 3 + ll,
                KC_KCV_LEN, out, &n, NULL);
    if (rc == KEYCARD_OK && n != KC_KCV_LEN)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK)
        memcpy(kcv, out, KC_KCV_LEN);
    return op_end(kc, refine_blank(kc, rc));
}

KEYCARD_API keycard_rc keycard_key_check_value(const uint8_t *key, size_t len, uint8_t kcv[3])
{
    if (!key || !kcv || (len != 16 && len != 32))
        return KEYCARD_ERR_ARG;
    return kcl_crypto_kcv(key, len, kcv);
}

KEYCARD_API keycard_rc keycard_key_component(keycard *kc, uint8_t number, uint8_t type,
                                             uint8_t flags, const char *label,
                                             const char *custodian, const uint8_t *component,
                                             size_t len, const uint8_t component_kcv[3])
{
    uint8_t d[3 + KC_LABEL_MAX + 1 + KC_CUSTODIAN_MAX + 32 + KC_KCV_LEN];
    size_t ll = label ? strlen(label) : 0, cl = custodian ? strlen(custodian) : 0, o = 0;
    size_t klen = type == KEYCARD_KEY_AES128 ? 16 : type == KEYCARD_KEY_AES256 ? 32 : 0;
    if (!kc || !component || !component_kcv || !klen || len != klen || ll > KC_LABEL_MAX ||
        cl == 0 || cl > KC_CUSTODIAN_MAX || number < KC_NUMBER_MIN || number > KC_NUMBER_MAX ||
        (flags & ~KC_KEYF_ALL))
        return KEYCARD_ERR_ARG;
    d[o++] = type;
    d[o++] = flags;
    d[o++] = (uint8_t)ll;
    memcpy(d + o, label, ll);
    o += ll;
    d[o++] = (uint8_t)cl;
    memcpy(d + o, custodian, cl);
    o += cl;
    memcpy(d + o, component, len);
    o += len;
    memcpy(d + o, component_kcv, KC_KCV_LEN);
    o += KC_KCV_LEN;
    keycard_rc rc = op_begin(kc);
    if (rc == KEYCARD_OK)
        rc = op_end(kc, cmd_rc(kc, KC_CLA_PROP, KC_INS_PROVISION_PUT, KC_PUT_P1_COMPONENT, number,
                               d, o, 0, NULL, NULL, NULL));
    kcl_wipe(d, sizeof d);
    return rc;
}

KEYCARD_API keycard_rc keycard_key_combine(keycard *kc, uint8_t number, unsigned n,
                                           uint8_t kcv[3])
{
    uint8_t c = (uint8_t)n, out[16];
    size_t got = sizeof out;
    if (!kc || !kcv || n < 2 || n > KC_COMPONENTS_MAX || number < KC_NUMBER_MIN ||
        number > KC_NUMBER_MAX)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_COMBINE, number, &c, 1,
                KC_KCV_LEN, out, &got, NULL);
    if (rc == KEYCARD_OK && got != KC_KCV_LEN)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK)
        memcpy(kcv, out, KC_KCV_LEN);
    return op_end(kc, rc);
}

KEYCARD_API keycard_rc keycard_key_export(keycard *kc, uint8_t number,
                                          const keycard_channel_key *to, uint8_t *blob,
                                          size_t cap, size_t *len)
{
    uint8_t cert[KEYCARD_CHANNEL_CERT_LEN], out[KEYCARD_WRAPPED_MAX];
    size_t n = sizeof out;
    keycard_wrapped_info info;
    if (!kc || !to || !blob || !len || number < KC_NUMBER_MIN || number > KC_NUMBER_MAX)
        return KEYCARD_ERR_ARG;
    keycard_channel_cert_encode(to, cert);
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_KEY_EXPORT, 0x00, number, cert, sizeof cert,
                KEYCARD_WRAPPED_MAX, out, &n, NULL);
    /* The answer must be a blob of that key for that card, or it is no answer. */
    if (rc == KEYCARD_OK && (keycard_wrapped_parse(out, n, &info) != KEYCARD_OK ||
                             info.number != number || memcmp(info.to, to->serial, 8) != 0))
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK && n > cap)
        rc = KEYCARD_ERR_BUFFER;
    if (rc == KEYCARD_OK) {
        memcpy(blob, out, n);
        *len = n;
    }
    return op_end(kc, rc);
}

KEYCARD_API keycard_rc keycard_key_import_wrapped(keycard *kc, const uint8_t *blob, size_t len,
                                                  uint8_t kcv[3])
{
    keycard_wrapped_info info;
    uint8_t out[16];
    size_t n = sizeof out;
    if (!kc || !blob || !kcv)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = keycard_wrapped_parse(blob, len, &info);
    if (rc != KEYCARD_OK)
        return rc;
    if ((rc = op_begin(kc)) != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_KEY_IMPORT, 0x00, info.number, blob, len, KC_KCV_LEN, out,
                &n, NULL);
    if (rc == KEYCARD_OK && n != KC_KCV_LEN)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK)
        memcpy(kcv, out, KC_KCV_LEN);
    return op_end(kc, rc);
}

/* One BACKUP or RESTORE step: answer of exactly want bytes (0: none) into out. */
static keycard_rc backup_cmd(keycard *kc, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *d,
                             size_t n, uint8_t *out, size_t want, size_t *got)
{
    uint8_t buf[KEYCARD_WRAPPED_MAX];
    size_t len = sizeof buf;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, ins, p1, p2, d, n, want ? KEYCARD_WRAPPED_MAX : 0,
                want ? buf : NULL, want ? &len : NULL, NULL);
    if (rc == KEYCARD_OK && want) {
        if (got ? len > want : len != want)
            rc = KEYCARD_ERR_PROTOCOL;
        else
            memcpy(out, buf, len);
        if (got)
            *got = len;
    }
    kcl_wipe(buf, sizeof buf);
    return op_end(kc, rc);
}

KEYCARD_API keycard_rc keycard_backup_begin(keycard *kc, unsigned m, unsigned n,
                                            uint8_t id[KEYCARD_BACKUP_ID_LEN])
{
    uint8_t d[2] = {(uint8_t)m, (uint8_t)n};
    if (!kc || !id || m < 2 || m > n || n > KC_BACKUP_SHARES_MAX)
        return KEYCARD_ERR_ARG;
    return backup_cmd(kc, KC_INS_BACKUP, KC_BACKUP_P1_BEGIN, 0, d, 2, id, KC_BACKUP_ID_LEN,
                      NULL);
}

KEYCARD_API keycard_rc keycard_backup_share(keycard *kc, unsigned x,
                                            uint8_t share[KEYCARD_BACKUP_SHARE_LEN])
{
    if (!kc || !share || x < 1 || x > KC_BACKUP_SHARES_MAX)
        return KEYCARD_ERR_ARG;
    return backup_cmd(kc, KC_INS_BACKUP, KC_BACKUP_P1_SHARE, (uint8_t)x, NULL, 0, share,
                      KC_BACKUP_SHARE_LEN, NULL);
}

KEYCARD_API keycard_rc keycard_backup_key(keycard *kc, uint8_t number, uint8_t *blob, size_t cap,
                                          size_t *len)
{
    uint8_t out[KEYCARD_WRAPPED_MAX];
    size_t n = 0;
    keycard_wrapped_info info;
    if (!kc || !blob || !len || number < KC_NUMBER_MIN || number > KC_NUMBER_MAX)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = backup_cmd(kc, KC_INS_BACKUP, KC_BACKUP_P1_KEY, number, NULL, 0, out,
                               sizeof out, &n);
    if (rc == KEYCARD_OK && (keycard_wrapped_parse(out, n, &info) != KEYCARD_OK ||
                             info.format != KC_BACKUP_FORMAT || info.number != number))
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK && n > cap)
        rc = KEYCARD_ERR_BUFFER;
    if (rc == KEYCARD_OK) {
        memcpy(blob, out, n);
        *len = n;
    }
    return rc;
}

KEYCARD_API keycard_rc keycard_backup_end(keycard *kc)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    return backup_cmd(kc, KC_INS_BACKUP, KC_BACKUP_P1_END, 0, NULL, 0, NULL, 0, NULL);
}

KEYCARD_API keycard_rc keycard_restore_share(keycard *kc, const uint8_t *share, size_t len)
{
    if (!kc || !share || len != KC_BACKUP_SHARE_LEN)
        return KEYCARD_ERR_ARG;
    return backup_cmd(kc, KC_INS_RESTORE, KC_BACKUP_P1_SHARE, 0, share, len, NULL, 0, NULL);
}

KEYCARD_API keycard_rc keycard_restore_key(keycard *kc, const uint8_t *blob, size_t len,
                                           uint8_t kcv[3])
{
    keycard_wrapped_info info;
    if (!kc || !blob || !kcv)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = keycard_wrapped_parse(blob, len, &info);
    if (rc == KEYCARD_OK && info.format != KC_BACKUP_FORMAT)
        rc = KEYCARD_ERR_WRONG_DATA;
    if (rc != KEYCARD_OK)
        return rc;
    return backup_cmd(kc, KC_INS_RESTORE, KC_BACKUP_P1_KEY, info.number, blob, len, kcv,
                      KC_KCV_LEN, NULL);
}

KEYCARD_API keycard_rc keycard_provision_commit(keycard *kc)
{
    return simple(kc, KC_INS_PROVISION_COMMIT);
}

KEYCARD_API keycard_rc keycard_provision_abort(keycard *kc)
{
    return simple(kc, KC_INS_PROVISION_ABORT);
}

KEYCARD_API keycard_rc keycard_identity_sign(keycard_identity *id, const uint8_t *issuer_priv,
                                             size_t issuer_priv_len)
{
    if (!id || !issuer_priv || !issuer_priv_len)
        return KEYCARD_ERR_ARG;
    uint8_t tbs[KCL_IDENTITY_TBS_LEN];
    kcl_identity_tbs(id, tbs);
    return kcl_crypto_sign(issuer_priv, issuer_priv_len, KC_SIG_LABEL_IDENTITY, tbs, sizeof tbs,
                           id->issuer_sig);
}

KEYCARD_API keycard_rc keycard_public_key(const uint8_t *priv, size_t priv_len, uint8_t pub[65])
{
    if (!priv || !priv_len || !pub)
        return KEYCARD_ERR_ARG;
    return kcl_crypto_pub_from_priv(priv, priv_len, pub);
}

KEYCARD_API keycard_rc keycard_provision_generate_channel(keycard *kc, keycard_channel_key *out)
{
    if (!kc)
        return KEYCARD_ERR_ARG;
    uint8_t buf[256];
    size_t n = sizeof buf;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_CHANNEL, 0x00, NULL, 0,
                256, buf, &n, NULL);
    rc = op_end(kc, rc);
    if (rc == KEYCARD_OK)
        rc = kcl_parse_channel_key(buf, n, 0, out);
    return rc;
}

KEYCARD_API keycard_rc keycard_channel_key_sign(keycard_channel_key *ck, const uint8_t *issuer_priv,
                                                size_t issuer_priv_len)
{
    if (!ck || !issuer_priv || !issuer_priv_len)
        return KEYCARD_ERR_ARG;
    uint8_t tbs[KCL_CHANNEL_TBS_LEN];
    kcl_channel_tbs(ck, tbs);
    return kcl_crypto_sign(issuer_priv, issuer_priv_len, KC_SIG_LABEL_CHANNEL, tbs, sizeof tbs,
                           ck->issuer_sig);
}

KEYCARD_API keycard_rc keycard_channel_cert_read(keycard *kc, const uint8_t *issuer_pub,
                                                 size_t issuer_pub_len, keycard_channel_key *out)
{
    if (!kc || (issuer_pub && !issuer_pub_len))
        return KEYCARD_ERR_ARG;
    uint8_t buf[256], pub[65], tbs[KCL_CHANNEL_TBS_LEN];
    size_t n = sizeof buf;
    keycard_channel_key ck;
    if (issuer_pub && kcl_crypto_pub_raw(issuer_pub, issuer_pub_len, pub) != KEYCARD_OK)
        return KEYCARD_ERR_KEY_FORMAT;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    rc = op_end(kc, cmd_rc(kc, KC_CLA_ISO, KC_INS_GET_DATA, KC_TAG_CHANNEL_CERT >> 8,
                           KC_TAG_CHANNEL_CERT & 0xFF, NULL, 0, 256, buf, &n, NULL));
    if (rc == KEYCARD_OK)
        rc = kcl_parse_channel_key(buf, n, 1, &ck);
    if (rc == KEYCARD_OK && issuer_pub) {
        kcl_channel_tbs(&ck, tbs);
        if (kcl_crypto_verify(pub, KC_SIG_LABEL_CHANNEL, tbs, sizeof tbs, ck.issuer_sig) !=
            KEYCARD_OK)
            rc = KEYCARD_ERR_NOT_GENUINE;
    }
    if (rc == KEYCARD_OK && out)
        *out = ck;
    return rc;
}

/* ---- keys, templates and issuance ------------------------------------- */

/* Copy a label of n bytes as a C string; printable ASCII only. */
static keycard_rc take_label(const uint8_t *p, size_t n, char out[KEYCARD_LABEL_MAX + 1])
{
    if (n > KEYCARD_LABEL_MAX)
        return KEYCARD_ERR_PROTOCOL;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7E)
            return KEYCARD_ERR_PROTOCOL;
    memcpy(out, p, n);
    out[n] = '\0';
    return KEYCARD_OK;
}

/*
 * Read a directory (GET DATA DF05/DF06) page by page: the card answers as
 * many whole entries as fit, the next page is asked for with the number to
 * list from as data, and an empty answer ends it. entry() parses one entry at
 * buf (n bytes left) into slot got, returns its length or 0 when malformed,
 * and *num receives its number.
 */
typedef size_t (*dir_entry_fn)(const uint8_t *buf, size_t n, void *out, size_t got,
                               uint8_t *num);

static keycard_rc read_dir(keycard *kc, uint16_t tag, dir_entry_fn entry, void *out,
                           size_t *count)
{
    uint8_t *buf = malloc(RESP_CAP);
    if (!buf)
        return KEYCARD_ERR_MEMORY;
    size_t got = 0;
    unsigned from = 1;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK) {
        free(buf);
        return rc;
    }
    while (rc == KEYCARD_OK && from <= KC_NUMBER_MAX) {
        uint8_t f = (uint8_t)from;
        size_t n = RESP_CAP;
        rc = cmd_rc(kc, KC_CLA_ISO, KC_INS_GET_DATA, tag >> 8, tag & 0xFF,
                    from > 1 ? &f : NULL, from > 1 ? 1 : 0, RESP_CAP, buf, &n, NULL);
        if (rc != KEYCARD_OK || n == 0)
            break;
        unsigned last = 0;
        for (size_t o = 0; o < n;) {
            if (got == *count) {
                rc = KEYCARD_ERR_BUFFER;
                break;
            }
            uint8_t num = 0;
            size_t l = entry(buf + o, n - o, out, got, &num);
            /* Entries come in increasing number order; anything else would loop. */
            if (l == 0 || num < from || num <= last || num > KC_NUMBER_MAX) {
                rc = KEYCARD_ERR_PROTOCOL;
                break;
            }
            last = num;
            o += l;
            got++;
        }
        from = last + 1;
    }
    free(buf);
    rc = op_end(kc, refine_blank(kc, rc));
    if (rc == KEYCARD_OK)
        *count = got;
    return rc;
}

/* Key entry: n(1) type(1) flags(1) kcv(3) label_len(1) label. */
static size_t key_entry(const uint8_t *b, size_t n, void *out, size_t got, uint8_t *num)
{
    if (n < 7 || n - 7 < b[6])
        return 0;
    keycard_key_info *k = (keycard_key_info *)out + got;
    k->number = *num = b[0];
    k->type = b[1];
    k->flags = b[2];
    memcpy(k->kcv, b + 3, 3);
    if (take_label(b + 7, b[6], k->label) != KEYCARD_OK)
        return 0;
    return 7 + (size_t)b[6];
}

/* Template entry: n(1) label_len(1) label. */
static size_t template_entry(const uint8_t *b, size_t n, void *out, size_t got, uint8_t *num)
{
    if (n < 2 || n - 2 < b[1])
        return 0;
    keycard_template_info *t = (keycard_template_info *)out + got;
    t->number = *num = b[0];
    if (take_label(b + 2, b[1], t->label) != KEYCARD_OK)
        return 0;
    return 2 + (size_t)b[1];
}

KEYCARD_API keycard_rc keycard_keys_list(keycard *kc, keycard_key_info *keys, size_t *count)
{
    if (!kc || !count || (*count && !keys))
        return KEYCARD_ERR_ARG;
    return read_dir(kc, KC_TAG_KEY_DIR, key_entry, keys, count);
}

/* Version entry: n version retired_version retired_kcv(3) destroyed. */
static size_t version_entry(const uint8_t *b, size_t n, void *out, size_t got, uint8_t *num)
{
    if (n < KC_KEY_VERSIONS_ENTRY_LEN)
        return 0;
    keycard_key_version *v = (keycard_key_version *)out + got;
    v->number = *num = b[0];
    v->version = b[1];
    v->retired_version = b[2];
    memcpy(v->retired_kcv, b + 3, 3);
    v->destroyed = b[6];
    return KC_KEY_VERSIONS_ENTRY_LEN;
}

KEYCARD_API keycard_rc keycard_key_versions(keycard *kc, keycard_key_version *out,
                                            size_t *count)
{
    if (!kc || !count || (*count && !out))
        return KEYCARD_ERR_ARG;
    return read_dir(kc, KC_TAG_KEY_VERSIONS, version_entry, out, count);
}

KEYCARD_API keycard_rc keycard_key_destroy(keycard *kc, uint8_t number, uint8_t version,
                                           const uint8_t kcv[3])
{
    uint8_t d[1 + KC_KCV_LEN];
    if (!kc || !kcv || !version || number < KC_NUMBER_MIN || number > KC_NUMBER_MAX)
        return KEYCARD_ERR_ARG;
    d[0] = version;
    memcpy(d + 1, kcv, KC_KCV_LEN);
    keycard_rc rc = op_begin(kc);
    if (rc == KEYCARD_OK)
        rc = op_end(kc, cmd_rc(kc, KC_CLA_PROP, KC_INS_KEY_DESTROY, 0, number, d, sizeof d, 0,
                               NULL, NULL, NULL));
    return rc;
}

KEYCARD_API keycard_rc keycard_templates_list(keycard *kc, keycard_template_info *tpls,
                                              size_t *count)
{
    if (!kc || !count || (*count && !tpls))
        return KEYCARD_ERR_ARG;
    return read_dir(kc, KC_TAG_TEMPLATE_DIR, template_entry, tpls, count);
}

KEYCARD_API keycard_rc keycard_diversify(const uint8_t *master, size_t len,
                                         const uint8_t serial[8], uint8_t *out)
{
    if (!serial)
        return KEYCARD_ERR_ARG;
    return kcl_crypto_kdf(master, len, KC_KDF_LABEL_DIVERSIFY, serial, KEYCARD_SERIAL_LEN, out,
                          len);
}

KEYCARD_API keycard_rc keycard_key_kcv(const uint8_t *key, size_t len, uint8_t kcv[3])
{
    return kcl_crypto_kcv(key, len, kcv);
}


KEYCARD_API void keycard_issue_nonces_wipe(keycard_issue_nonces *n)
{
    if (n)
        kcl_wipe(n, sizeof *n);
}

KEYCARD_API keycard_rc keycard_issue_open(keycard *kc, keycard_issue_way way,
                                          const uint8_t serial[8], uint8_t key_no,
                                          unsigned bucket, keycard_issue_nonces *n)
{
    if (!kc || !serial || !n || !kc_env_bucket_ok(bucket) || key_no == 0 || key_no == 0xFF)
        return KEYCARD_ERR_ARG;
    uint8_t p1 = (uint8_t)way; /* the way, and bit 80 for a packed session */
    way = (keycard_issue_way)(way & ~KEYCARD_ISSUE_PACKED);
    if (way != KEYCARD_WAY_STATIC && way != KEYCARD_WAY_TARGET_SEED &&
        way != KEYCARD_WAY_PREVIOUS_RANDOM)
        return KEYCARD_ERR_ARG;
    if (way == KEYCARD_WAY_STATIC && n->first_ctr == 0)
        return KEYCARD_ERR_ARG;
    /* serial(8) key(1) bucket(2) Nt(16) [first counter(4)] */
    uint8_t d[8 + 1 + 2 + KEYCARD_NONCE_LEN + 4];
    size_t lc = 0;
    memcpy(d, serial, 8);
    d[8] = key_no;
    d[9] = (uint8_t)(bucket >> 8);
    d[10] = (uint8_t)bucket;
    memcpy(d + 11, n->target_nonce, KEYCARD_NONCE_LEN);
    lc = 11 + KEYCARD_NONCE_LEN;
    if (way == KEYCARD_WAY_STATIC) {
        d[lc++] = (uint8_t)(n->first_ctr >> 24);
        d[lc++] = (uint8_t)(n->first_ctr >> 16);
        d[lc++] = (uint8_t)(n->first_ctr >> 8);
        d[lc++] = (uint8_t)n->first_ctr;
    }
    size_t want = KEYCARD_NONCE_LEN + (way == KEYCARD_WAY_PREVIOUS_RANDOM ? KEYCARD_SEED_LEN : 0);
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    uint8_t r[256];
    size_t rl = sizeof r;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_ISSUE_BEGIN, p1, (uint8_t)kc->issue_session, d, lc, 256,
                r, &rl, NULL);
    if (rc == KEYCARD_OK && rl != want)
        rc = KEYCARD_ERR_PROTOCOL;
    if (rc == KEYCARD_OK) {
        memcpy(n->keycard_nonce, r, KEYCARD_NONCE_LEN);
        if (way == KEYCARD_WAY_PREVIOUS_RANDOM)
            memcpy(n->seed, r + KEYCARD_NONCE_LEN, KEYCARD_SEED_LEN);
    }
    kcl_wipe(r, sizeof r);
    rc = op_end(kc, refine_blank(kc, rc));
    if (rc == KEYCARD_OK) {
        kc->bucket[kc->issue_session] = bucket;
        kc->packed[kc->issue_session] = (p1 & KEYCARD_ISSUE_PACKED) != 0;
    }
    return rc;
}

KEYCARD_API keycard_rc keycard_issue_session_select(keycard *kc, unsigned session)
{
    if (!kc || session >= KC_ISSUE_SESSIONS)
        return KEYCARD_ERR_ARG;
    kc->issue_session = session;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_issue_begin(keycard *kc, keycard_issue_way way,
                                           const uint8_t serial[8], uint8_t key_no,
                                           unsigned bucket, const uint8_t *seed_in,
                                           uint32_t first_ctr, uint8_t *seed_out)
{
    (void)kc, (void)way, (void)serial, (void)key_no, (void)bucket, (void)seed_in;
    (void)first_ctr, (void)seed_out;
    return KEYCARD_ERR_VERSION;
}

KEYCARD_API keycard_rc keycard_issue_next(const uint8_t *buf, size_t len, size_t *off,
                                          const uint8_t **apdu, size_t *apdu_len)
{
    if ((!buf && len) || !off || !apdu || !apdu_len || *off > len)
        return KEYCARD_ERR_ARG;
    if (*off == len)
        return KEYCARD_ERR_NOT_FOUND;
    if (len - *off < 2)
        return KEYCARD_ERR_PROTOCOL;
    size_t l = (size_t)buf[*off] << 8 | buf[*off + 1];
    if (l < 5 || len - *off - 2 < l)
        return KEYCARD_ERR_PROTOCOL;
    *apdu = buf + *off + 2;
    *apdu_len = l;
    *off += 2 + l;
    return KEYCARD_OK;
}

/*
 * A WRAP answer of want envelopes (packed: 1 to want): fixed records
 * [elen]_2 || envelope, so its layout is checked by stride, not walked; the
 * caller walks it once (keycard_issue_next) to send each envelope.
 */
static keycard_rc check_wrap(const uint8_t *r, size_t n, size_t want, size_t elen, int packed)
{
    if (packed && n % (2 + elen) == 0 && n / (2 + elen) >= 1 && n / (2 + elen) <= want)
        want = n / (2 + elen);
    if (n != want * (2 + elen))
        return KEYCARD_ERR_PROTOCOL;
    for (size_t i = 0; i < want; i++)
        if (((size_t)r[i * (2 + elen)] << 8 | r[i * (2 + elen) + 1]) != elen)
            return KEYCARD_ERR_PROTOCOL;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_issue_wrap(keycard *kc, const keycard_step *steps, size_t n,
                                          uint8_t *out, size_t *out_len)
{
    if (!kc || !steps || n == 0 || !out || !out_len)
        return KEYCARD_ERR_ARG;
    if (!kc->bucket[kc->issue_session])
        return KEYCARD_ERR_CONDITIONS; /* no keycard_issue_open of this session in this handle */
    size_t elen = kc_env_apdu_len(kc->bucket[kc->issue_session]), per = elen + 2;
    for (size_t i = 0; i < n; i++)
        if ((steps[i].params_len && !steps[i].params) || steps[i].params_len > 0xFFFF ||
            3 + steps[i].params_len > KC_APDU_MAX_DATA)
            return KEYCARD_ERR_ARG;
    if (n > SIZE_MAX / per || n * per > *out_len)
        return KEYCARD_ERR_BUFFER;
    uint8_t *cmdbuf = malloc(KC_APDU_MAX_DATA);
    if (!cmdbuf)
        return KEYCARD_ERR_MEMORY;
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK) {
        free(cmdbuf);
        return rc;
    }
    size_t done = 0, o = 0;
    while (done < n && rc == KEYCARD_OK) {
        /* As many steps as the command and the answer buffers take. */
        size_t k = 0, lc = 0;
        while (done + k < n && (k + 1) * per <= RESP_CAP &&
               lc + 3 + steps[done + k].params_len <= KC_APDU_MAX_DATA) {
            const keycard_step *s = &steps[done + k];
            cmdbuf[lc++] = s->template_no;
            cmdbuf[lc++] = (uint8_t)(s->params_len >> 8);
            cmdbuf[lc++] = (uint8_t)s->params_len;
            if (s->params_len)
                memcpy(cmdbuf + lc, s->params, s->params_len);
            lc += s->params_len;
            k++;
        }
        size_t rl = *out_len - o;
        rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_ISSUE_WRAP, 0x00, (uint8_t)kc->issue_session, cmdbuf,
                    lc, k * per,
                    out + o, &rl, NULL);
        if (rc == KEYCARD_OK)
            rc = check_wrap(out + o, rl, k, elen, kc->packed[kc->issue_session]);
        if (rc == KEYCARD_OK) {
            o += rl;
            done += k;
        }
        kcl_wipe(cmdbuf, KC_APDU_MAX_DATA);
    }
    free(cmdbuf);
    rc = op_end(kc, refine_blank(kc, rc));
    if (rc == KEYCARD_OK)
        *out_len = o;
    return rc;
}

KEYCARD_API keycard_rc keycard_issue_wrap_size(const keycard *kc, size_t n, size_t *size)
{
    if (!kc || !size || n > KEYCARD_ISSUE_MAX_STEPS)
        return KEYCARD_ERR_ARG;
    if (!kc->bucket[kc->issue_session])
        return KEYCARD_ERR_CONDITIONS;
    *size = n * (2 + kc_env_apdu_len(kc->bucket[kc->issue_session]));
    return KEYCARD_OK;
}

/* Append n bytes of b to params at *len, or nothing. */
static keycard_rc param_put(uint8_t *params, size_t cap, size_t *len, const uint8_t *b, size_t n)
{
    if (!params || !len || *len > cap)
        return KEYCARD_ERR_ARG;
    if (n > cap - *len)
        return KEYCARD_ERR_BUFFER;
    if (n)
        memcpy(params + *len, b, n);
    *len += n;
    return KEYCARD_OK;
}

KEYCARD_API keycard_rc keycard_param_int(uint8_t *params, size_t cap, size_t *len,
                                         uint32_t value, unsigned size)
{
    uint8_t b[4];
    if (size < 1 || size > 4 || (size < 4 && value >> (8 * size)))
        return KEYCARD_ERR_ARG;
    for (unsigned i = 0; i < size; i++)
        b[i] = (uint8_t)(value >> (8 * (size - 1 - i)));
    return param_put(params, cap, len, b, size);
}

KEYCARD_API keycard_rc keycard_param_bytes(uint8_t *params, size_t cap, size_t *len,
                                           const void *bytes, size_t n)
{
    if (n > 255 || (n && !bytes) || !params || !len || *len > cap)
        return KEYCARD_ERR_ARG;
    if (1 + n > cap - *len)
        return KEYCARD_ERR_BUFFER;
    uint8_t l = (uint8_t)n;
    (void)param_put(params, cap, len, &l, 1);
    return param_put(params, cap, len, bytes, n);
}

KEYCARD_API keycard_rc keycard_param_key(uint8_t *params, size_t cap, size_t *len,
                                         uint8_t key_no)
{
    if (key_no < KC_NUMBER_MIN || key_no > KC_NUMBER_MAX)
        return KEYCARD_ERR_ARG;
    return param_put(params, cap, len, &key_no, 1);
}

KEYCARD_API keycard_rc keycard_issue_check(keycard *kc, keycard_issue_way way, uint8_t key_no,
                                           unsigned bucket, const keycard_step *steps, size_t n,
                                           size_t *bad_step, int *reason)
{
    int base = way & ~KEYCARD_ISSUE_PACKED; /* a packed session's items need one byte more */
    if (!kc || !steps || n == 0 || !bad_step || !reason || bucket > 0xFFFF ||
        (base != KEYCARD_WAY_STATIC && base != KEYCARD_WAY_TARGET_SEED &&
         base != KEYCARD_WAY_PREVIOUS_RANDOM))
        return KEYCARD_ERR_ARG;
    *bad_step = 0;
    *reason = 0;
    uint8_t *d = malloc(KC_APDU_MAX_DATA);
    if (!d)
        return KEYCARD_ERR_MEMORY;
    size_t lc = 4;
    d[0] = key_no;
    d[1] = (uint8_t)way;
    d[2] = (uint8_t)(bucket >> 8);
    d[3] = (uint8_t)bucket;
    keycard_rc rc = KEYCARD_OK;
    for (size_t i = 0; i < n && rc == KEYCARD_OK; i++) {
        const keycard_step *s = &steps[i];
        if ((s->params_len && !s->params) || s->params_len > 0xFFFF)
            rc = KEYCARD_ERR_ARG;
        else if (3 + s->params_len > KC_APDU_MAX_DATA - lc)
            rc = KEYCARD_ERR_BUFFER;
        else {
            d[lc++] = s->template_no;
            d[lc++] = (uint8_t)(s->params_len >> 8);
            d[lc++] = (uint8_t)s->params_len;
            if (s->params_len)
                memcpy(d + lc, s->params, s->params_len);
            lc += s->params_len;
        }
    }
    uint8_t r[8];
    size_t rl = sizeof r;
    if (rc == KEYCARD_OK && (rc = op_begin(kc)) == KEYCARD_OK) {
        rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_ISSUE_WRAP, KC_ISSUE_WRAP_P1_CHECK, 0x00, d, lc, 3, r,
                    &rl, NULL);
        if (rc == KEYCARD_OK && (rl != 3 || r[0] > 1 || (r[0] == 1) != (r[2] != 0)))
            rc = KEYCARD_ERR_PROTOCOL;
        rc = op_end(kc, refine_blank(kc, rc));
    }
    kcl_wipe(d, KC_APDU_MAX_DATA); /* the steps may carry personal data */
    free(d);
    if (rc == KEYCARD_OK && r[0] == 1) {
        *bad_step = r[1];
        *reason = r[2];
        rc = KEYCARD_ERR_WRONG_DATA;
    }
    return rc;
}

KEYCARD_API keycard_rc keycard_issue_end(keycard *kc, const uint16_t *inner_sw, size_t n,
                                         const uint8_t *mac, int *result)
{
    if (!kc || !result || (mac && (n > KEYCARD_ISSUE_MAX_STEPS || (n && !inner_sw))))
        return KEYCARD_ERR_ARG;
    uint8_t d[1 + 2 * KEYCARD_ISSUE_MAX_STEPS + KEYCARD_MAC_LEN];
    size_t lc = 0;
    if (mac) {
        d[lc++] = (uint8_t)n;
        for (size_t i = 0; i < n; i++) {
            d[lc++] = (uint8_t)(inner_sw[i] >> 8);
            d[lc++] = (uint8_t)inner_sw[i];
        }
        memcpy(d + lc, mac, KEYCARD_MAC_LEN);
        lc += KEYCARD_MAC_LEN;
    }
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    uint8_t r[256];
    size_t rl = sizeof r;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_ISSUE_END, 0x00, (uint8_t)kc->issue_session,
                lc ? d : NULL, lc, 256, r, &rl,
                NULL);
    if (rc == KEYCARD_OK && rl != 1)
        rc = KEYCARD_ERR_PROTOCOL;
    rc = op_end(kc, refine_blank(kc, rc));
    kc->bucket[kc->issue_session] = 0; /* the card closes the session whatever the result */
    kc->packed[kc->issue_session] = 0;
    if (rc == KEYCARD_OK)
        *result = r[0];
    return rc;
}

KEYCARD_API keycard_rc keycard_issue_end_late(keycard *kc, const uint8_t serial[8],
                                              const keycard_completion *c,
                                              const uint16_t *inner_sw, int *result)
{
    if (!kc || !serial || !result ||
        (c && (c->steps == 0 || c->steps > KEYCARD_ISSUE_MAX_STEPS ||
               c->lock_len > KC_ISSUE_LOCK_DATA_MAX)))
        return KEYCARD_ERR_ARG;
    uint8_t d[8 + 1 + 2 * KEYCARD_ISSUE_MAX_STEPS + KEYCARD_MAC_LEN + 2 + KC_ISSUE_LOCK_DATA_MAX];
    size_t lc = 8;
    memcpy(d, serial, 8);
    if (c) {
        d[lc++] = (uint8_t)c->steps;
        for (size_t i = 0; i < c->steps; i++) {
            uint16_t sw = inner_sw ? inner_sw[i] : 0x9000;
            d[lc++] = (uint8_t)(sw >> 8);
            d[lc++] = (uint8_t)sw;
        }
        memcpy(d + lc, c->mac, KEYCARD_MAC_LEN);
        lc += KEYCARD_MAC_LEN;
        d[lc++] = c->lock_way;
        d[lc++] = (uint8_t)c->lock_len;
        memcpy(d + lc, c->lock_data, c->lock_len);
        lc += c->lock_len;
    }
    keycard_rc rc = op_begin(kc);
    if (rc != KEYCARD_OK)
        return rc;
    uint8_t r[256];
    size_t rl = sizeof r;
    rc = cmd_rc(kc, KC_CLA_PROP, KC_INS_ISSUE_END, KC_ISSUE_END_P1_LATE, 0x00, d, lc, 256, r,
                &rl, NULL);
    if (rc == KEYCARD_OK && rl != 1)
        rc = KEYCARD_ERR_PROTOCOL;
    rc = op_end(kc, refine_blank(kc, rc));
    if (rc == KEYCARD_OK)
        *result = r[0];
    return rc;
}

/* ---- raw access -------------------------------------------------------- */

KEYCARD_API keycard_rc keycard_transmit(keycard *kc, const uint8_t *apdu, size_t apdu_len,
                                        uint8_t *resp, size_t *resp_len)
{
    if (!kc || !apdu || apdu_len < 4 || !resp || !resp_len)
        return KEYCARD_ERR_ARG;
    /* Room for the largest extended answer, so "too small" is the caller's buffer. */
    size_t cap = 65536 + 2;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return KEYCARD_ERR_MEMORY;
    keycard_rc rc = op_begin(kc);
    if (rc == KEYCARD_OK) {
        rc = kc->s.t->ops->transmit(kc->s.t, apdu, apdu_len, buf, &cap);
        rc = op_end(kc, rc);
    }
    if (rc == KEYCARD_OK) {
        if (cap > *resp_len) {
            rc = KEYCARD_ERR_BUFFER;
        } else {
            memcpy(resp, buf, cap);
            *resp_len = cap;
        }
    }
    kcl_wipe(buf, 65536 + 2);
    free(buf);
    return rc;
}

/* ---- messages ---------------------------------------------------------- */

static const char *const messages[] = {
    [0] = "success",
    [1] = "invalid argument",
    [2] = "out of memory",
    [3] = "buffer too small",
    [4] = "no smart card reader of that name, or none connected",
    [5] = "no key card found",
    [6] = "the card was removed from the reader",
    [7] = "the card was reset by another program; its session and verified PINs are lost",
    [8] = "communication with the card failed",
    [9] = "the card gave a malformed answer",
    [10] = "wrong PIN or key",
    [11] = "PIN or key blocked",
    [12] = "PIN or key not verified yet",
    [13] = "the card refuses the command in its current state",
    [14] = "the card rejected the data",
    [15] = "object not found on the card",
    [16] = "card memory full or failing (or its audit log is full: export and acknowledge it)",
    [17] = "the card does not support this command",
    [18] = "the card reported an error",
    [19] = "not a genuine key card (identity check failed)",
    [20] = "the key card is blank (not provisioned)",
    [21] = "the key could not be read (expected a P-256 key in PEM or DER)",
    [22] = "cryptographic operation failed on the host",
    [23] = "file input/output error",
    [24] = ("the target card refused the encrypted command (bad tag, wrong key, replayed or "
            "skipped counter); its issuance session is over"),
    [25] = ("the secure channel to the key card broke (refused or altered message, or a key "
            "card of another secure channel version); it and the verified PINs are gone"),
    [26] = ("the secure session with the key card was lost (line error, altered answer or card "
            "reset); nothing more is sent: open a new session and verify the PINs again"),
    [27] = ("refused to send a secret without the secure channel: the key card has a channel "
            "key or is provisioned, but no channel is open (was its certificate stripped?)"),
    [28] = ("protocol version mismatch: this library speaks keycard protocol v2 (a v1 card or "
            "a v1 call such as keycard_issue_begin is refused)"),
    [29] = ("the card's state file is damaged (not a torn write); it is refused and left as "
            "it is: restore it from a backup"),
    [30] = "no PC/SC service (is pcscd running?)",
    [31] = ("the card is reserved by another program (a kc-issue batch holds the key card): "
            "try again when it is done"),
};

#define KC_STR2(x) #x
#define KC_STR(x) KC_STR2(x)
KEYCARD_API const char *keycard_version(void)
{
    return KC_STR(KEYCARD_VERSION_MAJOR) "." KC_STR(KEYCARD_VERSION_MINOR) "." KC_STR(
        KEYCARD_VERSION_PATCH);
}

KEYCARD_API const char *keycard_strerror(keycard_rc rc)
{
    long i = -(long)rc;
    if (i >= 0 && i < (long)(sizeof messages / sizeof messages[0]) && messages[i])
        return messages[i];
    return "unknown error";
}
