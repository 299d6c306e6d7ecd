/*
 * tc_apdu.c - the target card's command table, dispatcher and plaintext
 * command handlers (docs/target-card.md): MANUFACTURE, the operational
 * commands a holder's terminal uses (SELECT, READ/UPDATE BINARY, READ/APPEND
 * RECORD, VERIFY, GET CHALLENGE, EXTERNAL AUTHENTICATE, GET DATA) and the
 * doors to the issuance session (BEGIN ISSUANCE, ENVELOPE: tc_session.c).
 *
 * The dispatcher checks, in order: well-formed (6700), no chaining (6884),
 * CLA (6E00), INS (6D00), card manufactured (6985), Lc range (6700), Le
 * allowed (6700); handlers check P1/P2 (6A86) and the rest. The inner
 * issuance commands have table entries too, so that in plaintext they answer
 * 6985 rather than 6D00: they exist, but only inside an envelope.
 * A handler refuses before it writes; a state change is one store commit.
 */
#include <string.h>

#include "kc_apdu.h"
#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "keycard_proto.h"
#include "tc_card.h"
#include "tc_keys.h"

#define CLA_ENVELOPE KC_ENV_CLA

typedef uint16_t (*tc_handler)(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                               uint8_t *out, size_t cap, size_t *out_len);

typedef struct tc_cmd {
    uint8_t cla;
    uint8_t ins;
    uint8_t any_state; /* 1: allowed on a VIRGIN card */
    uint16_t lc_min, lc_max;
    uint8_t le_ok;
    tc_handler handler;
} tc_cmd;

/* Card info: C1 08 serial C5 01 state CA 01 locks. */
#define CARD_INFO_LEN 16

/* Run fn's puts in one transaction; commit, or abort on any error. */
static int commit_or_abort(tc_card *tc, int rc)
{
    if (rc == 0)
        rc = kc_store_commit(&tc->store);
    if (rc)
        kc_store_abort(&tc->store);
    return rc;
}

/* ---- handlers ----------------------------------------------------------- */

static uint16_t h_issuance_plain(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                                 uint8_t *out, size_t cap, size_t *out_len)
{
    (void)tc, (void)a, (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;
    return KC_SW_CONDITIONS; /* issuance commands exist only inside an envelope */
}

static uint16_t h_select(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    tc_obj o;
    int rc;
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;

    if (a->p2 != 0x0C || (a->p1 != 0x00 && a->p1 != 0x04))
        return KC_SW_WRONG_P1P2;
    if (a->le_present)
        return KC_SW_WRONG_LENGTH;
    if (a->p1 == 0x00) {
        if (a->lc != 2)
            return KC_SW_WRONG_LENGTH;
        rc = tc_fs_find(tc, get_be16(a->data), &o);
    } else {
        if (a->lc > TC_NAME_MAX)
            return KC_SW_FILE_NOT_FOUND;
        rc = tc_fs_find_name(tc, a->data, a->lc, &o);
    }
    if (rc)
        return tc_err_to_sw(rc); /* the selection stays as it was */
    if (o.type == TC_OBJ_FOLDER) {
        tc->cur_df = o.slot;
        tc->cur_ef = -1;
    } else {
        tc_obj parent;
        if ((rc = tc_fs_find(tc, o.parent, &parent)) != 0)
            return tc_err_to_sw(rc == TC_ERR_FILE_NOT_FOUND ? KC_ERR_CORRUPT : rc);
        tc->cur_df = parent.slot;
        tc->cur_ef = o.slot;
    }
    return KC_SW_OK;
}

/* The current EF, with access condition ac (read or change) checked. */
static uint16_t current_ef(const tc_card *tc, int change, tc_obj *o)
{
    int rc;
    if (tc->cur_ef < 0)
        return TC_SW_NO_CURRENT_EF;
    if ((rc = tc_fs_get(tc, tc->cur_ef, o)) != 0)
        return rc == TC_ERR_FILE_NOT_FOUND ? TC_SW_NO_CURRENT_EF : tc_err_to_sw(rc);
    if (o->type == TC_OBJ_KEY_FILE || o->type == TC_OBJ_FOLDER)
        return TC_SW_INCOMPATIBLE;
    if (!tc_fs_ac_ok(tc, change ? o->change_ac : o->read_ac))
        return KC_SW_SECURITY_STATUS;
    return KC_SW_OK;
}

static uint16_t h_read_binary(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    tc_obj o;
    uint16_t sw;
    (void)cmd, (void)len;

    if (a->p1 & 0x80) /* short EF identifiers are not supported */
        return KC_SW_WRONG_P1P2;
    if ((sw = current_ef(tc, 0, &o)) != KC_SW_OK)
        return sw;
    return tc_err_to_sw(tc_fs_read_binary(tc, &o, (size_t)(a->p1 << 8 | a->p2), out, cap, out_len));
}

static uint16_t h_update_binary(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                                uint8_t *out, size_t cap, size_t *out_len)
{
    tc_obj o;
    uint16_t sw;
    int rc;
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;

    if (a->p1 & 0x80)
        return KC_SW_WRONG_P1P2;
    if ((sw = current_ef(tc, 1, &o)) != KC_SW_OK)
        return sw;
    if ((rc = kc_store_begin(&tc->store)) != 0)
        return tc_err_to_sw(rc);
    rc = tc_fs_write_binary(tc, &o, (size_t)(a->p1 << 8 | a->p2), a->data, a->lc);
    return tc_err_to_sw(commit_or_abort(tc, rc));
}

static uint16_t h_read_record(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t buf[256];
    size_t n;
    tc_obj o;
    uint16_t sw;
    int rc;
    (void)cmd, (void)len;

    if (a->p2 != 0x04 || a->p1 == 0)
        return KC_SW_WRONG_P1P2;
    if ((sw = current_ef(tc, 0, &o)) != KC_SW_OK)
        return sw;
    if ((rc = tc_fs_read_record(tc, &o, a->p1, buf, &n)) != 0)
        return tc_err_to_sw(rc);
    if (n > cap)
        return KC_SW_WRONG_LENGTH;
    memcpy(out, buf, n);
    *out_len = n;
    return KC_SW_OK;
}

static uint16_t h_append_record(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                                uint8_t *out, size_t cap, size_t *out_len)
{
    tc_obj o;
    uint16_t sw;
    int rc;
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;

    if (a->p1 != 0 || a->p2 != 0)
        return KC_SW_WRONG_P1P2;
    if ((sw = current_ef(tc, 1, &o)) != KC_SW_OK)
        return sw;
    if ((rc = kc_store_begin(&tc->store)) != 0)
        return tc_err_to_sw(rc);
    rc = tc_fs_append_record(tc, &o, a->data, a->lc);
    return tc_err_to_sw(commit_or_abort(tc, rc));
}

static uint16_t h_verify(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    unsigned left = 0;
    uint8_t k = a->p2;
    int rc;
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;

    if (a->p1 != 0 || k < 1 || k > TC_FKEY_MAX_ID)
        return KC_SW_WRONG_P1P2;
    if (tc_fs_key_type(tc, k) != TC_FKEY_PIN)
        return KC_SW_REF_NOT_FOUND;
    if (a->lc == 0) { /* how many tries are left, spending none */
        if ((rc = tc_fs_pin_tries(tc, k, &left)) != 0)
            return tc_err_to_sw(rc);
        return left ? KC_SW_TRIES_LEFT(left) : KC_SW_AUTH_BLOCKED;
    }
    rc = tc_fs_verify_pin(tc, k, a->data, a->lc, &left);
    if (rc == 0) {
        tc->pin_ok |= (uint16_t)(1u << k);
        return KC_SW_OK;
    }
    tc->pin_ok &= (uint16_t)~(1u << k);
    if (rc == TC_ERR_PIN_WRONG)
        return KC_SW_TRIES_LEFT(left);
    return tc_err_to_sw(rc);
}

static uint16_t h_get_challenge(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                                uint8_t *out, size_t cap, size_t *out_len)
{
    (void)cmd, (void)len;
    if (a->p1 != 0 || a->p2 != 0)
        return KC_SW_WRONG_P1P2;
    if (!a->le_present || a->ne != TC_CHALLENGE_LEN || cap < TC_CHALLENGE_LEN)
        return KC_SW_WRONG_LENGTH;
    tc->have_challenge = 0;
    if (tc->hw.rng(tc->hw.ctx, tc->challenge, TC_CHALLENGE_LEN) != 0)
        return KC_SW_UNKNOWN;
    tc->have_challenge = 1;
    memcpy(out, tc->challenge, TC_CHALLENGE_LEN);
    *out_len = TC_CHALLENGE_LEN;
    return KC_SW_OK;
}

static uint16_t h_ext_auth(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                           uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t mac[16];
    uint8_t k = a->p2;
    int have, rc, ok;
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;

    if (a->p1 != 0 || k < 1 || k > TC_FKEY_MAX_ID)
        return KC_SW_WRONG_P1P2;
    /* One attempt per challenge, whatever its outcome. */
    have = tc->have_challenge;
    tc->have_challenge = 0;
    if (!have)
        return KC_SW_CONDITIONS;
    rc = tc_fs_key_cmac(tc, k, tc->challenge, TC_CHALLENGE_LEN, mac);
    kc_wipe(tc->challenge, sizeof(tc->challenge));
    if (rc == KC_ERR_NOT_FOUND)
        return KC_SW_REF_NOT_FOUND;
    if (rc)
        return tc_err_to_sw(rc);
    ok = kc_ct_equal(mac, a->data, 16);
    kc_wipe(mac, sizeof(mac));
    if (!ok) {
        tc->auth_ok &= (uint16_t)~(1u << k);
        return TC_SW_AUTH_FAILED;
    }
    tc->auth_ok |= (uint16_t)(1u << k);
    return KC_SW_OK;
}

static uint16_t h_get_data(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                           uint8_t *out, size_t cap, size_t *out_len)
{
    uint16_t tag = (uint16_t)(a->p1 << 8 | a->p2);
    int rc;
    (void)cmd, (void)len;

    if (tag == TC_TAG_CARD_INFO) {
        if (cap < CARD_INFO_LEN)
            return KC_SW_WRONG_LENGTH;
        out[0] = TC_INFO_SERIAL;
        out[1] = 8;
        (void)tc_card_serial(tc, out + 2);
        out[10] = TC_INFO_STATE;
        out[11] = 1;
        out[12] = tc_card_state(tc);
        out[13] = TC_INFO_LOCKS;
        out[14] = 1;
        out[15] = tc_card_locks(tc);
        *out_len = CARD_INFO_LEN;
        return KC_SW_OK;
    }
    if (tag == TC_TAG_COMPLETION) {
        rc = kc_store_read(&tc->store, TC_KEY_COMPLETION, out, cap, out_len);
        return rc == 0 ? KC_SW_OK : rc == KC_ERR_TOO_BIG ? KC_SW_WRONG_LENGTH
                                                         : KC_SW_REF_NOT_FOUND;
    }
    if (tag == TC_TAG_FILE_LIST) {
        if (tc_card_state(tc) == TC_STATE_VIRGIN)
            return KC_SW_CONDITIONS;
        rc = tc_fs_list(tc, out, cap, out_len);
        return rc == KC_ERR_TOO_BIG ? KC_SW_WRONG_LENGTH : tc_err_to_sw(rc);
    }
    return KC_SW_REF_NOT_FOUND;
}

static uint16_t h_manufacture(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    const uint8_t *d = a->data;
    size_t n = a->lc, off;
    uint8_t seen[32] = {0};
    unsigned count;
    int rc;
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;

    if (a->p1 != 0 || a->p2 != 0)
        return KC_SW_WRONG_P1P2;
    if (tc_card_state(tc) != TC_STATE_VIRGIN)
        return KC_SW_CONDITIONS;
    /* Validate everything before the first put. */
    count = d[8];
    if (count < 1 || count > TC_IKEY_MAX)
        return KC_SW_WRONG_DATA;
    off = 9;
    for (unsigned i = 0; i < count; i++) {
        if (n - off < 3)
            return KC_SW_WRONG_DATA;
        uint8_t no = d[off], flags = d[off + 1], kl = d[off + 2];
        if (no == 0 || no == 0xFF || (flags & ~TC_IKEY_STATIC) || (kl != 16 && kl != 32) ||
            n - off - 3 < kl || (seen[no / 8] >> (no % 8)) & 1)
            return KC_SW_WRONG_DATA;
        seen[no / 8] |= (uint8_t)(1u << (no % 8));
        off += 3u + kl;
    }
    if (off != n)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_store_begin(&tc->store)) != 0)
        return tc_err_to_sw(rc);
    rc = kc_store_put(&tc->store, TC_KEY_SERIAL, d, 8);
    if (rc == 0)
        rc = tc_card_put_record(tc, TC_STATE_MANUFACTURED, 0);
    for (off = 9; rc == 0 && off < n; off += 3u + d[off + 2])
        rc = kc_store_put(&tc->store, TC_KEY_IKEY(d[off]), d + off + 1, 2u + d[off + 2]);
    if (rc == 0)
        rc = tc_fs_format(tc);
    rc = commit_or_abort(tc, rc);
    if (rc == 0) {
        tc->cur_df = 0;
        tc->cur_ef = -1;
    }
    return tc_err_to_sw(rc);
}

static uint16_t h_begin(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    (void)cmd, (void)len;
    return tc_session_begin(tc, a->p1, a->p2, a->data, a->lc, out, cap, out_len);
}

static uint16_t h_bind(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                       uint8_t *out, size_t cap, size_t *out_len)
{
    (void)cmd, (void)len, (void)out, (void)cap, (void)out_len;
    if (a->p1 != 0 || a->p2 != 0) {
        tc_session_end(tc);
        return KC_SW_WRONG_P1P2;
    }
    return tc_session_bind(tc, a->data, a->lc);
}

static uint16_t h_envelope(tc_card *tc, const kc_apdu *a, const uint8_t *cmd, size_t len,
                           uint8_t *out, size_t cap, size_t *out_len)
{
    (void)cmd;
    return tc_session_envelope(tc, a, len, out, cap, out_len);
}

/* ---- the table ---------------------------------------------------------- */

#define ISO TC_CLA_ISO
#define PROP TC_CLA_PROP
#define ENV CLA_ENVELOPE
#define DMAX KC_APDU_MAX_DATA

static const tc_cmd commands[] = {
    /* cla  ins                 any  lc_min lc_max       le handler */
    {ISO, TC_INS_SELECT, 0, 1, TC_NAME_MAX, 1, h_select},
    {ISO, TC_INS_READ_BINARY, 0, 0, 0, 1, h_read_binary},
    {ISO, TC_INS_UPDATE_BINARY, 0, 1, TC_FILE_MAX, 0, h_update_binary},
    {ISO, TC_INS_READ_RECORD, 0, 0, 0, 1, h_read_record},
    {ISO, TC_INS_APPEND_RECORD, 0, 1, 255, 0, h_append_record},
    {ISO, TC_INS_VERIFY, 0, 0, TC_PIN_MAX, 0, h_verify},
    {ISO, TC_INS_GET_CHALLENGE, 0, 0, 0, 1, h_get_challenge},
    {ISO, TC_INS_EXT_AUTH, 0, 16, 16, 0, h_ext_auth},
    {ISO, TC_INS_GET_DATA, 1, 0, 0, 1, h_get_data},
    {PROP, TC_INS_MANUFACTURE, 1, 9, DMAX, 0, h_manufacture},
    {PROP, TC_INS_BEGIN, 0, 0, 0, 1, h_begin},
    {PROP, TC_INS_BIND, 0, KC_ENV_NONCE_LEN, KC_ENV_NONCE_LEN + KC_ENV_SEED_LEN, 0, h_bind},
    {ENV, KC_ENV_INS, 0, 1, DMAX, 1, h_envelope},
    /* inner issuance commands: refused in plaintext */
    {PROP, TC_INS_CREATE, 0, 0, DMAX, 1, h_issuance_plain},
    {PROP, TC_INS_SET_KEY, 0, 0, DMAX, 1, h_issuance_plain},
    {PROP, TC_INS_WRITE_BINARY, 0, 0, DMAX, 1, h_issuance_plain},
    {PROP, TC_INS_WRITE_RECORD, 0, 0, DMAX, 1, h_issuance_plain},
    {PROP, TC_INS_COMPLETE, 0, 0, DMAX, 1, h_issuance_plain},
};

/* ---- dispatcher --------------------------------------------------------- */

static uint16_t dispatch(tc_card *tc, const uint8_t *cmd, size_t len, uint8_t *out,
                         size_t out_cap, size_t *out_len)
{
    const tc_cmd *c = NULL;
    kc_apdu a;

    if (kc_apdu_parse(&a, cmd, len) != 0)
        return KC_SW_WRONG_LENGTH;
    if (a.cla & KC_CLA_CHAIN)
        return TC_SW_CHAINING;
    if (a.cla != ISO && a.cla != PROP && a.cla != ENV)
        return KC_SW_CLA_NOT_SUPPORTED;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].cla == a.cla && commands[i].ins == a.ins)
            c = &commands[i];
    if (c == NULL)
        return KC_SW_INS_NOT_SUPPORTED;
    if (!c->any_state && tc_card_state(tc) == TC_STATE_VIRGIN)
        return KC_SW_CONDITIONS;
    if (a.lc < c->lc_min || a.lc > c->lc_max)
        return KC_SW_WRONG_LENGTH;
    if (a.le_present && !c->le_ok)
        return KC_SW_WRONG_LENGTH;
    size_t cap = a.ins == KC_ENV_INS || a.ne > out_cap ? out_cap : a.ne;
    return c->handler(tc, &a, cmd, len, out, cap, out_len);
}

size_t tc_apdu_process(tc_card *tc, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap)
{
    size_t out_len = 0;
    uint16_t sw;

    if (resp == NULL || cap < 2)
        return 0;
    if (tc == NULL || cmd == NULL || !tc->mounted) {
        sw = KC_SW_MEMORY_FAILURE;
    } else {
        size_t out_cap = cap - 2 < KC_APDU_MAX_RESP ? cap - 2 : KC_APDU_MAX_RESP;
        sw = dispatch(tc, cmd, len, resp, out_cap, &out_len);
    }
    if (sw != KC_SW_OK)
        out_len = 0;
    return kc_apdu_respond(resp, out_len, sw);
}
