/*
 * kc_applet.c - the key card application (docs/apdu.md): command table,
 * dispatcher and handlers.
 *
 * The dispatcher runs every check of the table before a handler sees the
 * command, in the documented order: well-formed (6700), CLA (6E00), INS
 * (6D00), selected (6985), P1/P2 (6A86), Lc/Le (6700), security state (6982).
 * Handlers return a status word; the services below them return KC_ERR_*,
 * turned into status words by kc_err_to_sw here and nowhere else. A handler
 * refuses before it writes: every state change is a store commit at the end.
 */
#include "kc_applet.h"

#include <string.h>

#include "kc_audit.h"
#include "kc_bytes.h"
#include "kc_channel.h"
#include "kc_cred.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_issue.h"
#include "kc_backup.h"
#include "kc_keywrap.h"
#include "kc_keys.h"
#include "keycard_proto.h"

typedef uint16_t (*kc_handler)(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                               size_t *out_len);

typedef struct kc_cmd {
    uint8_t cla;          /* KC_CLA_ISO or KC_CLA_PROP (chain bit masked off) */
    uint8_t ins;
    uint8_t any_time;     /* 1: allowed before SELECT (SELECT itself) */
    uint8_t sec;          /* KC_SEC_* bits that must all be set */
    uint16_t lc_min, lc_max;
    uint8_t le_ok;        /* 1: the command returns data, Le may be present */
    uint8_t le_min;       /* fixed-size answers: a present Le below this is 6700 */
    int (*p1p2_ok)(uint8_t p1, uint8_t p2); /* NULL: the handler judges P1P2 */
    kc_handler handler;
} kc_cmd;

/* Answer sizes written down once. */
#define STATUS_BLOB_LEN 33   /* C1 08 . C5 01 . C6 02 . C7 03 . C8 06 . C9 01 . */
#define IDENTITY_TBS_LEN 77  /* C1 08 serial C2 41 pub */
#define IDENTITY_BLOB_LEN 143 /* the above, C3 40 sig */
#define ISSUE_BEGIN_LC_MIN 27 /* serial key bucket Nt (ways 03, 04) */
#define ISSUE_BEGIN_LC_MAX 31 /* ... first counter(4) (way 01) */
/* [serial(8), late END] n SWs MAC [lock_way lock_len lock_data, late END] */
#define ISSUE_END_LC_MAX (8 + 1 + 2 * KC_ISSUE_MAX_STEPS + 16 + 2 + KC_ISSUE_LOCK_DATA_MAX)

/* ---- status words ------------------------------------------------------ */

uint16_t kc_err_to_sw(int err)
{
    return kc_err_sw(err, NULL, 0);
}

/* ---- small helpers ----------------------------------------------------- */

static unsigned sec_bit(uint8_t ref)
{
    return ref == KC_REF_ISSUER_PIN ? KC_SEC_ISSUER
           : ref == KC_REF_HOLDER_PIN ? KC_SEC_HOLDER
                                      : KC_SEC_ADMIN;
}

static int provisioned(const kc_keycard *kc)
{
    return kc_keycard_lifecycle(kc) == KC_LIFECYCLE_PROVISIONED;
}

static int exists(const kc_keycard *kc, uint16_t key)
{
    const uint8_t *d;
    size_t len;
    return kc_store_get(&kc->store, key, &d, &len) == 0;
}

static size_t tlv(uint8_t *o, uint8_t tag, const uint8_t *v, size_t len)
{
    o[0] = tag;
    o[1] = (uint8_t)len;
    memcpy(o + 2, v, len);
    return 2 + len;
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
static int utf8_ok(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static size_t status_blob(const kc_keycard *kc, uint8_t *o)
{
    uint8_t serial[KC_SERIAL_LEN] = {0};
    uint8_t v[8];
    size_t n = 0;
    unsigned t;

    (void)kc_keycard_serial(kc, serial);
    n += tlv(o + n, KC_ST_TAG_SERIAL, serial, sizeof(serial));
    v[0] = kc_keycard_lifecycle(kc);
    n += tlv(o + n, KC_ST_TAG_LIFECYCLE, v, 1);
    v[0] = KC_PROTO_VERSION_MAJOR;
    v[1] = KC_PROTO_VERSION_MINOR;
    n += tlv(o + n, KC_ST_TAG_VERSION, v, 2);
    for (unsigned i = 0; i < 3; i++)
        v[i] = kc_cred_tries(&kc->store, (uint8_t)(KC_REF_ISSUER_PIN + i), &t) == 0 ? (uint8_t)t
                                                                                  : 0xFF;
    n += tlv(o + n, KC_ST_TAG_TRIES, v, 3);
    uint32_t next = kc_audit_next(&kc->store);
    v[0] = (uint8_t)(next >> 24);
    v[1] = (uint8_t)(next >> 16);
    v[2] = (uint8_t)(next >> 8);
    v[3] = (uint8_t)next;
    v[4] = (uint8_t)(KC_AUDIT_CAPACITY >> 8);
    v[5] = (uint8_t)KC_AUDIT_CAPACITY;
    n += tlv(o + n, KC_ST_TAG_AUDIT, v, 6);
    v[0] = kc->staging ? 1 : 0;
    n += tlv(o + n, KC_ST_TAG_STAGING, v, 1);
    return n;
}

/* End the provisioning session after a store failure; its puts are dropped. */
static uint16_t session_fail(kc_keycard *kc, int rc)
{
    kc_store_abort(&kc->store);
    kc->staging = 0;
    kc->staged = 0;
    return kc_err_to_sw(rc);
}

/* Status word of a kc_issue service. */

/* ---- P1/P2 rules ------------------------------------------------------- */

static int p1p2_zero(uint8_t p1, uint8_t p2)
{
    return p1 == 0 && p2 == 0;
}

static int p1p2_wrap(uint8_t p1, uint8_t p2)
{
    /* P2: the session (a CHECK needs none) */
    return (p1 == 0 && p2 < KC_ISSUE_SESSIONS) || (p1 == KC_ISSUE_WRAP_P1_CHECK && p2 == 0);
}

static int p1p2_end(uint8_t p1, uint8_t p2)
{
    /* P2: the session (a late END finds the card's session by its serial) */
    return (p1 == 0 && p2 < KC_ISSUE_SESSIONS) || (p1 == KC_ISSUE_END_P1_LATE && p2 == 0);
}

static int p1p2_select(uint8_t p1, uint8_t p2)
{
    return p1 == KC_SELECT_P1_BY_AID && (p2 == KC_SELECT_P2_FIRST_FCI || p2 == KC_SELECT_P2_NO_RESPONSE);
}

static int p1p2_ref(uint8_t p1, uint8_t p2)
{
    return p1 == 0 && kc_cred_ref_valid(p2);
}

static int p1p2_generate(uint8_t p1, uint8_t p2)
{
    if (p1 == KC_GENERATE_P1_KEY || p1 == KC_GENERATE_P1_COMBINE)
        return p2 >= KC_NUMBER_MIN && p2 <= KC_NUMBER_MAX;
    return p2 == 0 && (p1 == KC_GENERATE_P1_DEVICE || p1 == KC_GENERATE_P1_CHANNEL);
}

static int p1p2_way(uint8_t p1, uint8_t p2)
{
    uint8_t way = p1 & (uint8_t)~KC_ISSUE_BEGIN_PACKED; /* bit 80: a packed session */
    return p2 < KC_ISSUE_SESSIONS && (way == KC_WAY_STATIC || way == KC_WAY_TARGET_SEED ||
                       way == KC_WAY_PREVIOUS_RANDOM);
}

static int p1p2_rrc(uint8_t p1, uint8_t p2)
{
    return (p1 == KC_RRC_P1_NEW_PIN || p1 == KC_RRC_P1_RESET_ONLY) &&
           (p2 == KC_REF_ISSUER_PIN || p2 == KC_REF_HOLDER_PIN);
}

/* ---- handlers ---------------------------------------------------------- */

static uint16_t h_select(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    static const uint8_t aid[KC_AID_LEN] = {KC_AID_BYTES};
    int fci = a->p2 == KC_SELECT_P2_FIRST_FCI;

    if (!fci && a->le_present)
        return KC_SW_WRONG_LENGTH;
    if (fci && cap < STATUS_BLOB_LEN)
        return KC_SW_WRONG_LENGTH;
    kc_keycard_clear_security(kc); /* every SELECT, found or not */
    if (a->lc != KC_AID_LEN || memcmp(a->data, aid, KC_AID_LEN) != 0)
        return KC_SW_FILE_NOT_FOUND;
    kc->selected = 1;
    if (fci)
        *out_len = status_blob(kc, out);
    return KC_SW_OK;
}

static uint16_t h_verify(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    uint8_t ref = a->p2;
    uint8_t number[KC_HOLDER_NUMBER_MAX];
    size_t number_len = 0;
    unsigned left;
    int rc;
    (void)out, (void)cap, (void)out_len;

    if (kc->staging || !provisioned(kc))
        return KC_SW_CONDITIONS;
    if (a->lc == 0) {
        /* Spends nothing. As ISO 7816-4 and PIV: 9000 when verified in this session. */
        if ((rc = kc_cred_tries(&kc->store, ref, &left)) != 0)
            return kc_err_to_sw(rc);
        if (kc->sec & sec_bit(ref))
            return KC_SW_OK;
        return left ? KC_SW_TRIES_LEFT(left) : KC_SW_AUTH_BLOCKED;
    }
    if (ref == KC_REF_HOLDER_PIN && !(kc->sec & KC_SEC_ISSUER))
        return KC_SW_SECURITY_STATUS;
    if (!kc_cred_form_ok(ref, a->data, a->lc))
        return KC_SW_WRONG_DATA;

    kc_cred_on_match unlock = {0};
    if (ref == KC_REF_HOLDER_PIN) {
        /* The patent's start-up flow: the holder is recorded in the usage history. */
        if (kc_store_read(&kc->store, KC_KEY_HOLDER_NUMBER, number, sizeof(number), &number_len))
            number_len = 0;
        unlock.audit_event = KC_AUDIT_EVT_UNLOCK;
        unlock.audit_data = number;
        unlock.audit_len = number_len;
    }
    rc = kc_cred_check(&kc->store, &kc->hw, ref, a->data, a->lc,
                       ref == KC_REF_HOLDER_PIN ? &unlock : NULL, &left);
    if (rc == 0) {
        kc->sec |= sec_bit(ref);
        return KC_SW_OK;
    }
    kc->sec &= ~sec_bit(ref);
    if (rc == KC_ERR_CRED_WRONG)
        return KC_SW_TRIES_LEFT(left);
    return kc_err_to_sw(rc);
}

static uint16_t h_change(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    uint8_t ref = a->p2;
    size_t old_len;
    unsigned left;
    int rc;
    (void)out, (void)cap, (void)out_len;

    if (kc->staging || !provisioned(kc))
        return KC_SW_CONDITIONS;
    if (ref == KC_REF_HOLDER_PIN && !(kc->sec & KC_SEC_ISSUER))
        return KC_SW_SECURITY_STATUS;
    if ((rc = kc_cred_value_len(&kc->store, ref, &old_len)) != 0)
        return kc_err_to_sw(rc);
    if (a->lc <= old_len || !kc_cred_form_ok(ref, a->data + old_len, a->lc - old_len))
        return KC_SW_WRONG_DATA;
    kc_cred_on_match change = {
        .new_value = a->data + old_len,
        .new_len = a->lc - old_len,
        .audit_event = KC_AUDIT_EVT_PIN_CHANGED,
        .audit_data = &ref,
        .audit_len = 1,
    };
    rc = kc_cred_check(&kc->store, &kc->hw, ref, a->data, old_len, &change, &left);
    if (rc == 0) {
        kc->sec |= sec_bit(ref);
        return KC_SW_OK;
    }
    kc->sec &= ~sec_bit(ref);
    if (rc == KC_ERR_CRED_WRONG)
        return KC_SW_TRIES_LEFT(left);
    return kc_err_to_sw(rc);
}

static uint16_t h_reset_retry(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                              size_t *out_len)
{
    int rc;
    (void)out, (void)cap, (void)out_len;

    if (kc->staging || !provisioned(kc))
        return KC_SW_CONDITIONS;
    if (a->p1 == KC_RRC_P1_RESET_ONLY) {
        if (a->lc != 0)
            return KC_SW_WRONG_LENGTH;
        rc = kc_cred_reset(&kc->store, &kc->hw, a->p2, NULL, 0);
    } else {
        if (a->lc == 0)
            return KC_SW_WRONG_LENGTH;
        if (!kc_cred_form_ok(a->p2, a->data, a->lc))
            return KC_SW_WRONG_DATA;
        rc = kc_cred_reset(&kc->store, &kc->hw, a->p2, a->data, a->lc);
        if (rc == 0)
            kc->sec &= ~sec_bit(a->p2); /* the verified value is gone */
    }
    return kc_err_to_sw(rc);
}

static uint16_t versions_dir(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len);

/* GET DATA DF05 / DF06: the key or template directory, from number data[0] (default 1). */
static uint16_t directory(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    unsigned from = a->lc ? a->data[0] : KC_NUMBER_MIN;
    int rc;

    if (!provisioned(kc))
        return KC_SW_CONDITIONS;
    if (!(kc->sec & KC_SEC_ADMIN))
        return KC_SW_SECURITY_STATUS;
    if (a->p2 == (KC_TAG_KEY_DIR & 0xFF))
        rc = kc_issue_key_dir(&kc->store, from, out, cap, out_len);
    else
        rc = kc_issue_template_dir(&kc->store, from, out, cap, out_len);
    return kc_err_to_sw(rc);
}

static uint16_t h_get_data(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                           size_t *out_len)
{
    uint16_t tag = (uint16_t)(a->p1 << 8 | a->p2);
    uint8_t buf[IDENTITY_BLOB_LEN];
    size_t n = 0;
    int rc = 0;

    if (tag == KC_TAG_KEY_DIR || tag == KC_TAG_TEMPLATE_DIR)
        return directory(kc, a, out, cap, out_len);
    if (tag == KC_TAG_KEY_VERSIONS)
        return versions_dir(kc, a, out, cap, out_len);
    if (a->lc != 0) /* only the directories take data */
        return KC_SW_WRONG_LENGTH;
    if (tag == KC_TAG_STATUS) {
        n = status_blob(kc, buf);
    } else if (tag == KC_TAG_CHANNEL_CERT) { /* public: read before any PIN is sent */
        if ((rc = kc_channel_cert(kc, buf, sizeof buf, &n)) == KC_ERR_NOT_FOUND)
            return KC_SW_REF_NOT_FOUND;
        if (rc)
            return kc_err_to_sw(rc == KC_ERR_TOO_BIG ? KC_ERR_CORRUPT : rc);
    } else if (tag == KC_TAG_HOLDER_NAME || tag == KC_TAG_HOLDER_NUMBER ||
               tag == KC_TAG_IDENTITY) {
        if (!provisioned(kc))
            return KC_SW_CONDITIONS;
        /* The identity also with the admin key: kc-admin audit --verify needs the device key. */
        if ((kc->sec & (KC_SEC_ISSUER | KC_SEC_HOLDER)) != (KC_SEC_ISSUER | KC_SEC_HOLDER) &&
            !(tag == KC_TAG_IDENTITY && (kc->sec & KC_SEC_ADMIN)))
            return KC_SW_SECURITY_STATUS;
        if (tag == KC_TAG_HOLDER_NAME) {
            rc = kc_store_read(&kc->store, KC_KEY_HOLDER_NAME, buf, KC_HOLDER_NAME_MAX, &n);
        } else if (tag == KC_TAG_HOLDER_NUMBER) {
            rc = kc_store_read(&kc->store, KC_KEY_HOLDER_NUMBER, buf, KC_HOLDER_NUMBER_MAX, &n);
        } else {
            buf[0] = KC_ID_TAG_SERIAL;
            buf[1] = KC_SERIAL_LEN;
            buf[10] = KC_ID_TAG_DEVICE_PUB;
            buf[11] = KC_P256_PUB_LEN;
            buf[77] = KC_ID_TAG_SIGNATURE;
            buf[78] = KC_P256_SIG_LEN;
            if ((rc = kc_keycard_serial(kc, buf + 2)) == 0 &&
                (rc = kc_store_read_exact(&kc->store, KC_KEY_DEVICE_PUB, buf + 12,
                                          KC_P256_PUB_LEN)) == 0 &&
                (rc = kc_store_read_exact(&kc->store, KC_KEY_ID_SIGNATURE, buf + 79,
                                          KC_P256_SIG_LEN)) == 0)
                n = IDENTITY_BLOB_LEN;
        }
        if (rc == KC_ERR_TOO_BIG)
            rc = KC_ERR_CORRUPT;
        if (rc)
            return kc_err_to_sw(rc);
    } else {
        return KC_SW_REF_NOT_FOUND;
    }
    if (n > cap)
        return KC_SW_WRONG_LENGTH;
    memcpy(out, buf, n);
    *out_len = n;
    return KC_SW_OK;
}

static uint16_t h_internal_auth(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    uint8_t priv[KC_P256_PRIV_LEN];
    uint8_t hash[32];
    int rc;

    if (cap < KC_P256_SIG_LEN)
        return KC_SW_WRONG_LENGTH;
    rc = kc_store_read_exact(&kc->store, KC_KEY_DEVICE_PRIV, priv, sizeof(priv));
    if (rc == 0)
        rc = kc_crypto_sha256(KC_SIG_LABEL_INTERNAL_AUTH, a->data, a->lc, hash);
    if (rc == 0)
        rc = kc_crypto_p256_sign(&kc->hw, priv, hash, out);
    kc_wipe(priv, sizeof(priv));
    if (rc)
        return kc_err_to_sw(rc);
    *out_len = KC_P256_SIG_LEN;
    return KC_SW_OK;
}

static uint16_t h_audit_read(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    uint32_t from = get_be32(a->data);
    int rc = kc_audit_read(&kc->store, from, out, cap, out_len);
    if (rc == KC_ERR_TOO_BIG)
        return KC_SW_WRONG_LENGTH;
    return kc_err_to_sw(rc);
}

/* AUDIT SIGN (kc_audit.h): the chain head signed by the device key over a nonce. */
static uint16_t h_audit_sign(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    if (!provisioned(kc))
        return KC_SW_CONDITIONS;
    if (cap < KC_AUDIT_SIGNED_LEN)
        return KC_SW_WRONG_LENGTH;
    int rc = kc_audit_sign(&kc->store, &kc->hw, a->data, a->lc, out);
    if (rc)
        return kc_err_to_sw(rc == KC_ERR_NOT_FOUND ? KC_ERR_CORRUPT : rc);
    *out_len = KC_AUDIT_SIGNED_LEN;
    return KC_SW_OK;
}

/* AUDIT ACKNOWLEDGE (kc_audit.h): entries below seq are exported. */
static uint16_t h_audit_ack(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                            size_t *out_len)
{
    uint32_t upto = get_be32(a->data);
    (void)out, (void)cap, (void)out_len;
    if (kc->staging)
        return KC_SW_CONDITIONS;
    return kc_err_to_sw(kc_audit_ack(&kc->store, upto));
}

static uint16_t h_prov_begin(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    int rc;
    (void)a, (void)out, (void)cap, (void)out_len;

    if (kc->staging)
        return KC_SW_CONDITIONS;
    if (provisioned(kc) && !(kc->sec & KC_SEC_ADMIN))
        return KC_SW_SECURITY_STATUS;
    if ((rc = kc_store_begin(&kc->store)) != 0)
        return kc_err_to_sw(rc);
    kc_issue_close_all(kc->issue, KC_ISSUE_SESSIONS); /* keys and templates may change under it */
    kc->staging = 1;
    kc->staged = 0;
    return KC_SW_OK;
}

/*
 * Version state of key n: the current version (1 when never recorded), the
 * highest destroyed. Returns 1 when the state is recorded, else 0.
 */
static int key_versions(const kc_keycard *kc, uint8_t n, uint8_t *cur, uint8_t *destroyed)
{
    const uint8_t *d;
    size_t len;
    *cur = 1;
    *destroyed = 0;
    if (kc_store_get(&kc->store, KC_KEY_KEY_VERSION(n), &d, &len) == 0 && len == 2) {
        *cur = d[0];
        *destroyed = d[1];
        return 1;
    }
    return 0;
}

/*
 * A numbered key record (type flags label_len label key) stored with its
 * audit entry ev (number type flags kcv(3) ...) in one commit; an open
 * issuance session ends (its key may be the one replaced). The version: for
 * a number that holds a key, the next one (the key it held is kept as the
 * retired version; a retired version already there must be destroyed
 * first); for a free number, the one after the highest destroyed. want != 0
 * (a key that arrives with its version) must be exactly that. The version is
 * written into ev at ev_ver. The answer is the KCV from ev.
 */
static uint16_t key_commit(kc_keycard *kc, uint8_t number, uint8_t want, const uint8_t *rec,
                           size_t rec_len, uint8_t event, uint8_t *ev, size_t ev_len,
                           size_t ev_ver, uint8_t *out, size_t *out_len)
{
    uint8_t old[1 + KC_ISSUE_KEY_REC_MAX], vs[2], cur, destroyed;
    const uint8_t *d;
    size_t old_len = 0, len;
    int rc;

    int recorded = key_versions(kc, number, &cur, &destroyed);
    if (kc_store_get(&kc->store, KC_KEY_NUMBERED_KEY(number), &d, &len) == 0) {
        if (kc_store_get(&kc->store, KC_KEY_RETIRED_KEY(number), &d, &len) == 0 || cur == 255)
            return KC_SW_CONDITIONS; /* two versions already: destroy the retired one first */
        if (kc_store_read(&kc->store, KC_KEY_NUMBERED_KEY(number), old + 1, sizeof old - 1,
                          &old_len) != 0)
            return kc_err_to_sw(KC_ERR_CORRUPT);
        old[0] = cur;
        old_len++;
        vs[0] = (uint8_t)(cur + 1);
    } else {
        /* A free number: above every version it held (a key deleted by provisioning too). */
        uint8_t floor = recorded && cur > destroyed ? cur : destroyed;
        if (floor == 255)
            return KC_SW_CONDITIONS;
        vs[0] = (uint8_t)(floor + 1);
    }
    if (want && (old_len ? want != vs[0] : want < vs[0])) {
        kc_wipe(old, sizeof old);
        return KC_SW_CONDITIONS; /* not the next version: an old blob cannot come back */
    }
    if (want)
        vs[0] = want;
    vs[1] = destroyed;
    ev[ev_ver] = vs[0];
    rc = kc_store_begin(&kc->store);
    if (rc == 0) {
        kc_issue_close_all(kc->issue, KC_ISSUE_SESSIONS);
        if ((old_len && (rc = kc_store_put(&kc->store, KC_KEY_RETIRED_KEY(number), old,
                                           old_len)) != 0) ||
            (rc = kc_issue_key_put(&kc->store, number, rec, rec_len)) != 0 ||
            (rc = kc_store_put(&kc->store, KC_KEY_KEY_VERSION(number), vs, sizeof vs)) != 0 ||
            (rc = kc_audit_append(&kc->store, &kc->hw, event, ev, ev_len)) != 0 ||
            (rc = kc_store_commit(&kc->store)) != 0)
            kc_store_abort(&kc->store);
    }
    kc_wipe(old, sizeof old);
    if (rc)
        return kc_err_to_sw(rc);
    memcpy(out, ev + 3, KC_KCV_LEN);
    *out_len = KC_KCV_LEN;
    return KC_SW_OK;
}

/* Key length of a type byte; 0 for none. */
static size_t type_len(uint8_t type)
{
    return type == KC_KEY_TYPE_AES128 ? 16 : type == KC_KEY_TYPE_AES256 ? 32 : 0;
}

/* Key component commands run outside a provisioning session, under the admin key. */
static uint16_t component_allowed(const kc_keycard *kc)
{
    if (kc->staging)
        return KC_SW_CONDITIONS;
    return (kc->sec & KC_SEC_ADMIN) ? KC_SW_OK : KC_SW_SECURITY_STATUS;
}

/* One audit entry in a commit of its own (nothing else in it). */
static int audit_commit(kc_keycard *kc, uint8_t event, const uint8_t *d, size_t n)
{
    int rc = kc_store_begin(&kc->store);
    if (rc == 0 && ((rc = kc_audit_append(&kc->store, &kc->hw, event, d, n)) != 0 ||
                    (rc = kc_store_commit(&kc->store)) != 0))
        kc_store_abort(&kc->store);
    return rc;
}

/*
 * PROVISION PUT P1=22: one key component. data: type flags label_len label
 * name_len custodian component component_kcv(3). Checked against its KCV,
 * then XORed into RAM; an audit entry (number, index, component KCV,
 * custodian) is its only trace in flash.
 */
static uint16_t put_component(kc_keycard *kc, const kc_apdu *a)
{
    const uint8_t *d = a->data;
    size_t n = a->lc, ll, nl, klen, o;
    uint8_t kcv[KC_KCV_LEN], ev[5 + KC_CUSTODIAN_MAX];
    uint16_t sw;
    int rc;

    if (n < 4 || (ll = d[2]) > KC_LABEL_MAX || n < 3 + ll + 1 ||
        (nl = d[3 + ll]) > KC_CUSTODIAN_MAX || nl == 0)
        return KC_SW_WRONG_LENGTH;
    o = 3 + ll + 1 + nl;
    klen = type_len(d[0]);
    if (n != o + (klen ? klen : 16) + KC_KCV_LEN)
        return KC_SW_WRONG_LENGTH;
    if ((sw = component_allowed(kc)) != KC_SW_OK)
        return sw;
    if (klen == 0 || (d[1] & ~KC_KEYF_ALL) != 0 || a->p2 < KC_NUMBER_MIN || a->p2 > KC_NUMBER_MAX)
        return KC_SW_WRONG_DATA;
    if (kc->comp.n > 0 && (kc->comp.number != a->p2 || kc->comp.type != d[0] ||
                           kc->comp.flags != d[1] || kc->comp.label_len != ll ||
                           memcmp(kc->comp.label, d + 3, ll) != 0))
        return KC_SW_WRONG_DATA; /* another key's component: the one begun stays */
    if (kc->comp.n >= KC_COMPONENTS_MAX)
        return KC_SW_NOT_ENOUGH_MEMORY;
    /* A mistyped component is refused here, before it spoils the key. */
    if ((rc = kc_issue_kcv(d + o, klen, kcv)) != 0)
        return kc_err_to_sw(rc);
    if (!kc_ct_equal(kcv, d + o + klen, KC_KCV_LEN))
        return KC_SW_WRONG_DATA;
    ev[0] = a->p2;
    ev[1] = (uint8_t)(kc->comp.n + 1);
    memcpy(ev + 2, kcv, KC_KCV_LEN);
    memcpy(ev + 5, d + 3 + ll + 1, nl);
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_COMPONENT)) != 0 ||
        (rc = audit_commit(kc, KC_AUDIT_EVT_KEY_COMPONENT, ev, 5 + nl)) != 0)
        return kc_err_to_sw(rc);
    if (kc->comp.n == 0) {
        kc->comp.number = a->p2;
        kc->comp.type = d[0];
        kc->comp.flags = d[1];
        kc->comp.label_len = (uint8_t)ll;
        memcpy(kc->comp.label, d + 3, ll);
    }
    for (size_t i = 0; i < klen; i++)
        kc->comp.acc[i] ^= d[o + i];
    kc->comp.n++;
    return KC_SW_OK;
}

/*
 * PROVISION GENERATE P1=21: the n components received (data: n) combined
 * into numbered key P2, stored with a KEY_COMBINED audit entry in one
 * commit; the answer is its KCV. Refused before the
 * commit (count, number, state, log full), the components stay; tried, they are wiped
 * whether it stored or not.
 */
static uint16_t combine_components(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                                   size_t *out_len)
{
    uint8_t d[3 + KC_LABEL_MAX + 32], ev[KC_KEY_EVT_LEN + 1]; /* ... components version */
    size_t klen = type_len(kc->comp.type), ll = kc->comp.label_len;
    uint16_t sw;
    int rc;

    if (a->lc != 1 || cap < KC_KCV_LEN)
        return KC_SW_WRONG_LENGTH;
    if ((sw = component_allowed(kc)) != KC_SW_OK)
        return sw;
    if (kc->comp.n < 2 || kc->comp.number != a->p2 || a->data[0] != kc->comp.n)
        return KC_SW_CONDITIONS; /* dual control: two components at least, all of them */
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_COMBINED)) != 0)
        return kc_err_to_sw(rc);
    d[0] = kc->comp.type;
    d[1] = kc->comp.flags;
    d[2] = (uint8_t)ll;
    memcpy(d + 3, kc->comp.label, ll);
    memcpy(d + 3 + ll, kc->comp.acc, klen);
    ev[0] = a->p2;
    ev[1] = d[0];
    ev[2] = d[1];
    ev[6] = kc->comp.n;
    rc = kc_issue_kcv(kc->comp.acc, klen, ev + 3);
    kc_wipe(&kc->comp, sizeof(kc->comp));
    sw = rc ? kc_err_to_sw(rc)
            : key_commit(kc, a->p2, 0, d, 3 + ll + klen, KC_AUDIT_EVT_KEY_COMBINED, ev,
                         sizeof(ev), 7, out, out_len);
    kc_wipe(d, sizeof(d));
    return sw;
}

/* PROVISION PUT of a numbered key or template (P1 20/21/30/31, P2 = number). */
static uint16_t put_numbered(kc_keycard *kc, const kc_apdu *a)
{
    int del = a->p1 == KC_PUT_P1_KEY_DELETE || a->p1 == KC_PUT_P1_TEMPLATE_DELETE;
    int key = a->p1 == KC_PUT_P1_KEY || a->p1 == KC_PUT_P1_KEY_DELETE;
    int rc;

    if (a->p2 < KC_NUMBER_MIN || a->p2 > KC_NUMBER_MAX)
        return KC_SW_REF_NOT_FOUND;
    if (del ? a->lc != 0 : a->lc == 0)
        return KC_SW_WRONG_LENGTH;
    if (del)
        rc = kc_store_delete(&kc->store, key ? KC_KEY_NUMBERED_KEY(a->p2) : KC_KEY_TEMPLATE(a->p2));
    else if (key)
        rc = kc_issue_key_put(&kc->store, a->p2, a->data, a->lc);
    else
        rc = kc_issue_template_put(&kc->store, a->p2, a->data, a->lc);
    if (rc == KC_ERR_BAD_DATA || rc == KC_ERR_CRYPTO)
        return kc_err_to_sw(rc); /* nothing reached the store: the session goes on */
    if (rc)
        return session_fail(kc, rc);
    return KC_SW_OK;
}

static uint16_t h_prov_put(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                           size_t *out_len)
{
    uint16_t tag = (uint16_t)(a->p1 << 8 | a->p2);
    const uint8_t *d = a->data;
    size_t n = a->lc;
    unsigned bit;
    uint16_t key;
    int rc;
    (void)out, (void)cap, (void)out_len;

    if (a->p1 == KC_PUT_P1_COMPONENT)
        return put_component(kc, a);
    if (!kc->staging)
        return KC_SW_CONDITIONS;
    if (a->p1 == KC_PUT_P1_KEY || a->p1 == KC_PUT_P1_KEY_DELETE || a->p1 == KC_PUT_P1_TEMPLATE ||
        a->p1 == KC_PUT_P1_TEMPLATE_DELETE)
        return put_numbered(kc, a);
    if (n == 0)
        return KC_SW_WRONG_LENGTH;
    switch (tag) {
    case KC_TAG_ISSUER_PIN:
    case KC_TAG_HOLDER_PIN:
    case KC_TAG_ADMIN_KEY:
        if (d[0] < KC_TRIES_MIN || d[0] > KC_TRIES_MAX || !kc_cred_form_ok(a->p2, d + 1, n - 1))
            return KC_SW_WRONG_DATA;
        rc = kc_cred_put(&kc->store, &kc->hw, a->p2, d + 1, n - 1, d[0]);
        if (rc == KC_ERR_BAD_DATA || rc == KC_ERR_RNG || rc == KC_ERR_CRYPTO)
            return kc_err_to_sw(rc); /* nothing reached the store: the session goes on */
        if (rc)
            return session_fail(kc, rc);
        kc->staged |= a->p2 == KC_REF_ISSUER_PIN   ? KC_STAGED_ISSUER
                      : a->p2 == KC_REF_HOLDER_PIN ? KC_STAGED_HOLDER
                                                   : KC_STAGED_ADMIN;
        return KC_SW_OK;
    case KC_TAG_HOLDER_NAME:
        if (n > KC_HOLDER_NAME_MAX || !utf8_ok(d, n))
            return KC_SW_WRONG_DATA;
        key = KC_KEY_HOLDER_NAME;
        bit = KC_STAGED_NAME;
        break;
    case KC_TAG_HOLDER_NUMBER:
        if (n > KC_HOLDER_NUMBER_MAX)
            return KC_SW_WRONG_DATA;
        for (size_t i = 0; i < n; i++)
            if (d[i] < 0x20 || d[i] > 0x7E)
                return KC_SW_WRONG_DATA;
        key = KC_KEY_HOLDER_NUMBER;
        bit = KC_STAGED_NUMBER;
        break;
    case KC_TAG_ID_SIGNATURE:
        if (n != KC_P256_SIG_LEN)
            return KC_SW_WRONG_DATA;
        key = KC_KEY_ID_SIGNATURE;
        bit = KC_STAGED_SIG;
        break;
    case KC_TAG_CHANNEL_SIG:
        if (n != KC_P256_SIG_LEN)
            return KC_SW_WRONG_DATA;
        key = KC_KEY_CHANNEL_SIG;
        bit = KC_STAGED_CH_SIG;
        break;
    case KC_TAG_ISSUER_PUB: {
        /* Written once: who may receive this card's keys is not for later sessions to change. */
        const uint8_t *old;
        size_t old_len;
        if (n != KC_P256_PUB_LEN || !kc_crypto_p256_pub_ok(d))
            return KC_SW_WRONG_DATA;
        if (kc_store_get(&kc->store, KC_KEY_ISSUER_PUB, &old, &old_len) == 0)
            return old_len == n && memcmp(old, d, n) == 0 ? KC_SW_OK : KC_SW_CONDITIONS;
        key = KC_KEY_ISSUER_PUB;
        bit = 0;
        break;
    }
    case KC_TAG_CHANNEL_POLICY:
        if (n != 1 || (d[0] != KC_CHANNEL_OPTIONAL && d[0] != KC_CHANNEL_REQUIRED))
            return KC_SW_WRONG_DATA;
        key = KC_KEY_CHANNEL_POLICY;
        bit = KC_STAGED_POLICY | (d[0] == KC_CHANNEL_REQUIRED ? KC_STAGED_POLICY_REQ : 0);
        kc->staged &= ~KC_STAGED_POLICY_REQ;
        break;
    default:
        return KC_SW_REF_NOT_FOUND;
    }
    if ((rc = kc_store_put(&kc->store, key, d, n)) != 0)
        return session_fail(kc, rc);
    kc->staged |= bit;
    return KC_SW_OK;
}

/*
 * PROVISION GENERATE P1=20, outside a provisioning session, under the admin
 * key: numbered key P2 from the card's RNG. Its record and a KEY_GENERATED
 * audit entry are one transaction (both or neither reach the flash); the
 * answer is the KCV alone. An open issuance session ends: its key may be
 * the one replaced.
 */
static uint16_t generate_key(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    uint8_t d[KC_GENERATE_KEY_LC_MIN + KC_LABEL_MAX + 32], ev[KC_KEY_EVT_LEN];
    size_t klen;
    int rc;

    if (a->lc < KC_GENERATE_KEY_LC_MIN || a->lc != (size_t)KC_GENERATE_KEY_LC_MIN + a->data[2] ||
        cap < KC_KCV_LEN)
        return KC_SW_WRONG_LENGTH;
    if (kc->staging)
        return KC_SW_CONDITIONS; /* the store's transaction is the session's */
    if (!(kc->sec & KC_SEC_ADMIN))
        return KC_SW_SECURITY_STATUS;
    klen = a->data[0] == KC_KEY_TYPE_AES128 ? 16 : a->data[0] == KC_KEY_TYPE_AES256 ? 32 : 0;
    if (klen == 0)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_GENERATED)) != 0)
        return kc_err_to_sw(rc); /* full log: nothing made */
    memcpy(d, a->data, a->lc);
    if (kc->hw.rng(kc->hw.ctx, d + a->lc, klen) != 0) {
        kc_wipe(d, sizeof(d));
        return kc_err_to_sw(KC_ERR_RNG);
    }
    ev[0] = a->p2;
    ev[1] = d[0];
    ev[2] = d[1];
    rc = kc_issue_kcv(d + a->lc, klen, ev + 3);
    uint16_t sw = rc ? kc_err_to_sw(rc)
                     : key_commit(kc, a->p2, 0, d, a->lc + klen, KC_AUDIT_EVT_KEY_GENERATED,
                                  ev, sizeof(ev), 6, out, out_len);
    kc_wipe(d, sizeof(d));
    return sw;
}

static uint16_t h_prov_generate(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    uint8_t priv[KC_P256_PRIV_LEN];
    uint8_t pub[KC_P256_PUB_LEN];
    uint8_t serial[KC_SERIAL_LEN];
    int rc;

    if (a->p1 == KC_GENERATE_P1_KEY)
        return generate_key(kc, a, out, cap, out_len);
    if (a->p1 == KC_GENERATE_P1_COMBINE)
        return combine_components(kc, a, out, cap, out_len);
    /* Device and channel key: no data, and a present Le takes the whole answer. */
    if (a->lc != 0 || cap < IDENTITY_TBS_LEN)
        return KC_SW_WRONG_LENGTH;
    if (a->p1 == KC_GENERATE_P1_CHANNEL)
        return kc_channel_h_generate(kc, out, cap, out_len);
    if (!kc->staging)
        return KC_SW_CONDITIONS;
    if (cap < IDENTITY_TBS_LEN)
        return KC_SW_WRONG_LENGTH;
    if ((rc = kc_keycard_serial(kc, serial)) != 0)
        return kc_err_to_sw(rc);
    if ((rc = kc_crypto_p256_generate(&kc->hw, priv, pub)) != 0) {
        kc_wipe(priv, sizeof(priv));
        return kc_err_to_sw(rc);
    }
    /* The old signature covers the old key: drop it with the new key in the session. */
    if ((rc = kc_store_put(&kc->store, KC_KEY_DEVICE_PRIV, priv, sizeof(priv))) == 0 &&
        (rc = kc_store_put(&kc->store, KC_KEY_DEVICE_PUB, pub, sizeof(pub))) == 0)
        rc = kc_store_delete(&kc->store, KC_KEY_ID_SIGNATURE);
    kc_wipe(priv, sizeof(priv));
    if (rc)
        return session_fail(kc, rc);
    kc->staged |= KC_STAGED_DEVKEY;
    kc->staged &= ~KC_STAGED_SIG;
    size_t n = tlv(out, KC_ID_TAG_SERIAL, serial, sizeof(serial));
    n += tlv(out + n, KC_ID_TAG_DEVICE_PUB, pub, sizeof(pub));
    *out_len = n;
    return KC_SW_OK;
}

/* Every item present after the session: put in it, or committed before and kept. */
static int session_complete(const kc_keycard *kc)
{
    unsigned st = kc->staged;
    int ok = ((st & KC_STAGED_ISSUER) || exists(kc, KC_KEY_CRED(KC_REF_ISSUER_PIN))) &&
             ((st & KC_STAGED_HOLDER) || exists(kc, KC_KEY_CRED(KC_REF_HOLDER_PIN))) &&
             ((st & KC_STAGED_ADMIN) || exists(kc, KC_KEY_CRED(KC_REF_ADMIN_KEY))) &&
             ((st & KC_STAGED_NAME) || exists(kc, KC_KEY_HOLDER_NAME)) &&
             ((st & KC_STAGED_NUMBER) || exists(kc, KC_KEY_HOLDER_NUMBER));
    ok = ok && kc_channel_session_ok(kc);
    if (st & KC_STAGED_DEVKEY)
        return ok && (st & KC_STAGED_SIG);
    return ok && exists(kc, KC_KEY_DEVICE_PRIV) && exists(kc, KC_KEY_DEVICE_PUB) &&
           ((st & KC_STAGED_SIG) || exists(kc, KC_KEY_ID_SIGNATURE));
}

static uint16_t h_prov_commit(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                              size_t *out_len)
{
    uint8_t lc = KC_LIFECYCLE_PROVISIONED;
    int rc;
    (void)a, (void)out, (void)cap, (void)out_len;

    if (!kc->staging || !session_complete(kc))
        return KC_SW_CONDITIONS; /* an incomplete session stays open */
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_PROVISIONED)) != 0)
        return kc_err_to_sw(rc); /* full audit log: the session stays open */
    if ((rc = kc_issue_chain_init(&kc->store, &kc->hw)) == KC_ERR_RNG)
        return kc_err_to_sw(rc); /* nothing written: the session stays open */
    if (rc != 0 || (rc = kc_store_put(&kc->store, KC_KEY_LIFECYCLE, &lc, 1)) != 0 ||
        (rc = kc_audit_append(&kc->store, &kc->hw, KC_AUDIT_EVT_PROVISIONED, NULL, 0)) != 0 ||
        (rc = kc_store_commit(&kc->store)) != 0)
        return session_fail(kc, rc);
    kc->staging = 0;
    kc->staged = 0;
    kc->sec = 0; /* credentials may have changed: verify them anew */
    return KC_SW_OK;
}

static uint16_t h_prov_abort(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    (void)a, (void)out, (void)cap, (void)out_len;
    if (!kc->staging)
        return KC_SW_CONDITIONS;
    kc_store_abort(&kc->store);
    kc->staging = 0;
    kc->staged = 0;
    return KC_SW_OK;
}

/* ---- issuance session (kc_issue.c) --------------------------------------- */

/* The issuance commands run on a provisioned card outside a provisioning session. */
static uint16_t issue_ready(const kc_keycard *kc)
{
    if (!provisioned(kc) || kc->staging)
        return KC_SW_CONDITIONS;
    return KC_SW_OK;
}

static uint16_t h_issue_begin(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                              size_t *out_len)
{
    uint16_t sw = issue_ready(kc);
    if (sw != KC_SW_OK)
        return sw;
    /* BEGIN commits before answering: kc_issue_begin refuses a too small Le first. */
    return kc_err_to_sw(kc_issue_begin_slot(kc->issue, a->p2, &kc->store, &kc->hw, a->p1, a->data,
                                            a->lc, out, cap, out_len));
}

static uint16_t h_issue_wrap(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    uint16_t sw = issue_ready(kc);
    if (sw != KC_SW_OK)
        return sw;
    if (a->p1 == KC_ISSUE_WRAP_P1_CHECK)
        return kc_err_to_sw(kc_issue_check(&kc->store, a->data, a->lc, out, cap, out_len));
    return kc_err_to_sw(
        kc_issue_wrap(&kc->issue[a->p2], &kc->store, a->data, a->lc, out, cap, out_len));
}

static uint16_t h_issue_end(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                            size_t *out_len)
{
    uint16_t sw = issue_ready(kc);
    int rc;
    if (sw != KC_SW_OK)
        return sw;
    if (cap < 1)
        return KC_SW_WRONG_LENGTH;
    if (a->p1 == KC_ISSUE_END_P1_LATE)
        rc = kc_issue_end_late_any(kc->issue, &kc->store, &kc->hw, a->data, a->lc, out);
    else
        rc = kc_issue_end(&kc->issue[a->p2], &kc->store, &kc->hw, a->data, a->lc, out);
    if (rc != 0)
        return kc_err_to_sw(rc);
    *out_len = 1;
    return KC_SW_OK;
}

/* ---- wrapped keys (docs/protocol.md 9a) ------------------------------- */

static int p1p2_number(uint8_t p1, uint8_t p2)
{
    return p1 == 0 && p2 >= KC_NUMBER_MIN && p2 <= KC_NUMBER_MAX;
}

/* Wrapped-key commands: outside a provisioning session (the admin key is in the table). */
static uint16_t move_allowed(const kc_keycard *kc)
{
    return kc->staging ? KC_SW_CONDITIONS : KC_SW_OK;
}

/*
 * 1 when c (a channel certificate, KC_CHANNEL_CERT_LEN bytes) carries the
 * signature of the issuer key this card holds; *no_issuer is set when the
 * card holds none.
 */
static int cert_genuine(const kc_keycard *kc, const uint8_t *c, int *no_issuer)
{
    const uint8_t *issuer;
    size_t len;
    uint8_t hash[32];

    *no_issuer = 0;
    if (c[0] != KC_ID_TAG_SERIAL || c[1] != KC_SERIAL_LEN || c[10] != KC_CH_TAG_KA_PUB ||
        c[11] != KC_P256_PUB_LEN || c[77] != KC_CH_TAG_SIGNATURE || c[78] != KC_P256_SIG_LEN)
        return 0;
    if (kc_store_get(&kc->store, KC_KEY_ISSUER_PUB, &issuer, &len) != 0 ||
        len != KC_P256_PUB_LEN) {
        *no_issuer = 1;
        return 0;
    }
    return kc_crypto_sha256(KC_SIG_LABEL_CHANNEL, c, KC_CHANNEL_CERT_TBS_LEN, hash) == 0 &&
           kc_crypto_p256_verify(issuer, hash, c + KC_CHANNEL_CERT_TBS_LEN + 2) == 0;
}

/*
 * KEY EXPORT, P2 = number, data: the recipient's channel certificate. Only
 * to a genuine key card of this card's issuer, never to itself; the
 * KEY_EXPORTED entry is committed before the answer leaves (no entry, no
 * blob).
 */
static uint16_t h_key_export(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    const uint8_t *c = a->data;
    uint8_t serial[KC_SERIAL_LEN], ev[KC_KEY_MOVE_EVT_LEN], destroyed;
    kc_issue_key k;
    uint16_t sw;
    int rc, no_issuer;

    if ((sw = move_allowed(kc)) != KC_SW_OK)
        return sw;
    if (!cert_genuine(kc, c, &no_issuer))
        return no_issuer ? KC_SW_CONDITIONS : KC_SW_WRONG_DATA;
    if ((rc = kc_keycard_serial(kc, serial)) != 0)
        return kc_err_to_sw(rc);
    if (memcmp(serial, c + 2, KC_SERIAL_LEN) == 0)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_issue_key_load(&kc->store, a->p2, &k)) != 0)
        return rc == KC_ERR_NOT_FOUND ? KC_SW_REF_NOT_FOUND : kc_err_to_sw(rc);
    size_t hdr = KC_KEYWRAP_HDR_LEN + k.label_len, total = hdr + KC_KEYWRAP_BODY_LEN + k.key_len;
    if (cap < total)
        return KC_SW_WRONG_LENGTH;
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_EXPORTED)) != 0)
        return kc_err_to_sw(rc);
    ev[0] = a->p2;
    ev[1] = k.type;
    ev[2] = k.flags;
    memcpy(ev + 3, k.kcv, KC_KCV_LEN);
    key_versions(kc, a->p2, &ev[6], &destroyed);
    memcpy(ev + 7, c + 2, KC_SERIAL_LEN);
    kc_keywrap_header(out, a->p2, k.type, k.flags, ev[6], k.kcv, serial, c + 2, k.label,
                      k.label_len);
    rc = kc_keywrap_seal(&kc->hw, c + 12, out, hdr, k.key, k.key_len);
    if (rc == 0)
        rc = audit_commit(kc, KC_AUDIT_EVT_KEY_EXPORTED, ev, sizeof ev);
    if (rc) {
        kc_wipe(out, total);
        return kc_err_to_sw(rc);
    }
    *out_len = total;
    return KC_SW_OK;
}

/*
 * A key that arrived (KEY IMPORT, RESTORE KEY), key wiped here: stored as
 * number v->number with its audit entry (number type flags kcv version
 * serial, serial: where it came from) in one commit; the answer is the KCV.
 */
static uint16_t store_arrived(kc_keycard *kc, const kc_keywrap_view *v, uint8_t key[32],
                              uint8_t event, const uint8_t serial[KC_SERIAL_LEN], uint8_t *out,
                              size_t *out_len)
{
    uint8_t d[3 + KC_LABEL_MAX + 32], ev[KC_KEY_MOVE_EVT_LEN];
    uint16_t sw;
    d[0] = v->type;
    d[1] = v->flags;
    d[2] = v->label_len;
    memcpy(d + 3, v->label, v->label_len);
    memcpy(d + 3 + v->label_len, key, v->key_len);
    kc_wipe(key, 32);
    ev[0] = v->number;
    ev[1] = v->type;
    ev[2] = v->flags;
    memcpy(ev + 3, v->kcv, KC_KCV_LEN);
    ev[6] = v->version;
    memcpy(ev + 7, serial, KC_SERIAL_LEN);
    sw = key_commit(kc, v->number, v->version, d, 3u + v->label_len + v->key_len, event, ev,
                    sizeof ev, 6, out, out_len);
    kc_wipe(d, sizeof d);
    return sw;
}

/* ---- backup and restore (docs/apdu.md "Backup and restore") ------------ */

static uint16_t backup_begin(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    kc_backup_ram *b = &kc->backup;
    uint8_t ev[KC_BACKUP_EVT_LEN], count = 0;
    kc_issue_key k;
    int rc;

    if (a->lc != 2 || cap < KC_BACKUP_ID_LEN)
        return KC_SW_WRONG_LENGTH;
    if (a->data[0] < 2 || a->data[0] > a->data[1] || a->data[1] > KC_BACKUP_SHARES_MAX)
        return KC_SW_WRONG_DATA;
    if (b->mode == KC_INS_RESTORE)
        return KC_SW_CONDITIONS;
    for (unsigned n = KC_NUMBER_MIN; n <= KC_NUMBER_MAX; n++)
        count = (uint8_t)(count + (kc_issue_key_load(&kc->store, n, &k) == 0));
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_BACKUP)) != 0)
        return kc_err_to_sw(rc);
    kc_wipe(b, sizeof(*b));
    if (kc->hw.rng(kc->hw.ctx, b->bk, sizeof b->bk) != 0 ||
        kc->hw.rng(kc->hw.ctx, b->seed, sizeof b->seed) != 0 ||
        kc->hw.rng(kc->hw.ctx, b->id, sizeof b->id) != 0) {
        kc_wipe(b, sizeof(*b));
        return kc_err_to_sw(KC_ERR_RNG);
    }
    memcpy(ev, b->id, KC_BACKUP_ID_LEN);
    ev[8] = a->data[0];
    ev[9] = a->data[1];
    ev[10] = count;
    if ((rc = audit_commit(kc, KC_AUDIT_EVT_BACKUP, ev, sizeof ev)) != 0) {
        kc_wipe(b, sizeof(*b)); /* no entry, no backup */
        return kc_err_to_sw(rc);
    }
    b->mode = KC_INS_BACKUP;
    b->m = a->data[0];
    b->n = a->data[1];
    memcpy(out, b->id, KC_BACKUP_ID_LEN);
    *out_len = KC_BACKUP_ID_LEN;
    return KC_SW_OK;
}

/*
 * Shares cross the line in BACKUP's answers and RESTORE's data: on a card
 * with a certified channel key only inside the channel, whatever the policy.
 */
static uint16_t shares_allowed(const kc_keycard *kc)
{
    const uint8_t *d;
    size_t len;
    if (!kc->chan.inside && kc_store_get(&kc->store, KC_KEY_CHANNEL_SIG, &d, &len) == 0)
        return KC_SW_SECURITY_STATUS;
    return kc->staging ? KC_SW_CONDITIONS : KC_SW_OK;
}

/* BACKUP: BEGIN (data M N), SHARE (P2 = x), KEY (P2 = number), END. */
static uint16_t h_backup(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    kc_backup_ram *b = &kc->backup;
    uint8_t serial[KC_SERIAL_LEN];
    kc_issue_key k;
    uint16_t sw;
    int rc;

    if ((sw = shares_allowed(kc)) != KC_SW_OK)
        return sw;
    if (a->p1 == KC_BACKUP_P1_BEGIN)
        return a->p2 ? KC_SW_WRONG_P1P2 : backup_begin(kc, a, out, cap, out_len);
    if (a->p1 == KC_BACKUP_P1_END) {
        if (a->p2 || a->lc)
            return a->p2 ? KC_SW_WRONG_P1P2 : KC_SW_WRONG_LENGTH;
        kc_wipe(b, sizeof(*b));
        return KC_SW_OK;
    }
    if (a->p1 != KC_BACKUP_P1_SHARE && a->p1 != KC_BACKUP_P1_KEY)
        return KC_SW_WRONG_P1P2;
    if (a->lc)
        return KC_SW_WRONG_LENGTH;
    if (b->mode != KC_INS_BACKUP)
        return KC_SW_CONDITIONS;
    if (a->p1 == KC_BACKUP_P1_SHARE) {
        if (a->p2 == 0 || a->p2 > b->n)
            return KC_SW_WRONG_P1P2;
        if (cap < KC_BACKUP_SHARE_LEN)
            return KC_SW_WRONG_LENGTH;
        memcpy(out, b->id, KC_BACKUP_ID_LEN);
        out[8] = b->m;
        out[9] = a->p2;
        if ((rc = kc_backup_share(b->bk, b->seed, b->m, a->p2, out + 10)) != 0) {
            kc_wipe(out, KC_BACKUP_SHARE_LEN);
            return kc_err_to_sw(rc);
        }
        *out_len = KC_BACKUP_SHARE_LEN;
        return KC_SW_OK;
    }
    if (a->p2 < KC_NUMBER_MIN || a->p2 > KC_NUMBER_MAX)
        return KC_SW_WRONG_P1P2;
    /*
     * K and IV come from (BK, id, number): a number sealed twice in one backup
     * (a key replaced in between) would reuse them. Once per number.
     */
    if (b->sealed[a->p2 / 8] & (1u << (a->p2 % 8)))
        return KC_SW_CONDITIONS;
    if ((rc = kc_issue_key_load(&kc->store, a->p2, &k)) != 0)
        return rc == KC_ERR_NOT_FOUND ? KC_SW_REF_NOT_FOUND : kc_err_to_sw(rc);
    size_t hdr = KC_KEYWRAP_HDR_LEN + k.label_len, total = hdr + 16 + k.key_len;
    if (cap < total)
        return KC_SW_WRONG_LENGTH;
    if ((rc = kc_keycard_serial(kc, serial)) != 0)
        return kc_err_to_sw(rc);
    uint8_t version, destroyed;
    key_versions(kc, a->p2, &version, &destroyed);
    kc_keywrap_header(out, a->p2, k.type, k.flags, version, k.kcv, serial, b->id, k.label,
                      k.label_len);
    out[2] = KC_BACKUP_FORMAT;
    if ((rc = kc_backup_seal(b->bk, out, hdr, k.key, k.key_len)) != 0) {
        kc_wipe(out, total);
        return kc_err_to_sw(rc);
    }
    b->sealed[a->p2 / 8] |= (uint8_t)(1u << (a->p2 % 8));
    *out_len = total;
    return KC_SW_OK;
}

/* RESTORE: SHARE (data: a share), KEY (P2 = number, data: a backup blob), END. */
static uint16_t h_restore(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                          size_t *out_len)
{
    kc_backup_ram *b = &kc->backup;
    const uint8_t *d = a->data;
    uint8_t bk[32], key[32];
    kc_keywrap_view v;
    uint16_t sw;
    int rc;

    if ((sw = shares_allowed(kc)) != KC_SW_OK)
        return sw;
    if (a->p1 == KC_BACKUP_P1_END) {
        if (a->p2 || a->lc)
            return a->p2 ? KC_SW_WRONG_P1P2 : KC_SW_WRONG_LENGTH;
        kc_wipe(b, sizeof(*b));
        return KC_SW_OK;
    }
    if (a->p1 == KC_BACKUP_P1_SHARE) {
        if (a->p2)
            return KC_SW_WRONG_P1P2;
        if (a->lc != KC_BACKUP_SHARE_LEN)
            return KC_SW_WRONG_LENGTH;
        if (d[8] < 2 || d[8] > KC_BACKUP_SHARES_MAX || d[9] == 0)
            return KC_SW_WRONG_DATA;
        if (b->mode == KC_INS_BACKUP)
            return KC_SW_CONDITIONS;
        if (b->mode == KC_INS_RESTORE && (memcmp(b->id, d, KC_BACKUP_ID_LEN) != 0 || b->m != d[8]))
            return KC_SW_WRONG_DATA; /* a share of another backup: those given stay */
        for (size_t i = 0; i < b->count; i++)
            if (b->x[i] == d[9])
                return KC_SW_WRONG_DATA;
        if (b->count >= KC_BACKUP_SHARES_MAX)
            return KC_SW_NOT_ENOUGH_MEMORY;
        if (b->mode != KC_INS_RESTORE) {
            b->mode = KC_INS_RESTORE;
            memcpy(b->id, d, KC_BACKUP_ID_LEN);
            b->m = d[8];
        }
        b->x[b->count] = d[9];
        memcpy(b->y[b->count], d + 10, 32);
        b->count++;
        return KC_SW_OK;
    }
    if (a->p1 != KC_BACKUP_P1_KEY || a->p2 < KC_NUMBER_MIN || a->p2 > KC_NUMBER_MAX)
        return KC_SW_WRONG_P1P2;
    if (a->lc < KC_BACKUP_MIN || cap < KC_KCV_LEN)
        return KC_SW_WRONG_LENGTH;
    if (b->mode != KC_INS_RESTORE || b->count < b->m)
        return KC_SW_CONDITIONS; /* fewer shares than the threshold: nothing to try */
    if (kc_keywrap_parse_as(d, a->lc, KC_BACKUP_FORMAT, &v) != 0 || v.number != a->p2 ||
        memcmp(v.to, b->id, KC_BACKUP_ID_LEN) != 0)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_RESTORED)) != 0)
        return kc_err_to_sw(rc);
    rc = kc_backup_combine(b->x, (const uint8_t(*)[32])b->y, b->m, bk);
    if (rc == 0)
        rc = kc_backup_open(bk, d, a->lc, key, &v);
    kc_wipe(bk, sizeof bk);
    if (rc)
        return rc == KC_ERR_AUTH || rc == KC_ERR_BAD_DATA ? KC_SW_WRONG_DATA : kc_err_to_sw(rc);
    return store_arrived(kc, &v, key, KC_AUDIT_EVT_KEY_RESTORED, b->id, out, out_len);
}

/*
 * KEY IMPORT, P2 = number, data: a blob addressed to this card. Stored with
 * its KEY_IMPORTED entry in one commit, only into a free number (a replayed
 * blob cannot put back a replaced key); the answer is the KCV.
 */
static uint16_t h_key_import(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    uint8_t serial[KC_SERIAL_LEN], pk[KC_P256_PUB_LEN], sk[KC_P256_PRIV_LEN], key[32];
    kc_keywrap_view v;
    uint16_t sw;
    int rc;

    if (cap < KC_KCV_LEN)
        return KC_SW_WRONG_LENGTH;
    if ((sw = move_allowed(kc)) != KC_SW_OK)
        return sw;
    if (kc_keywrap_parse(a->data, a->lc, &v) != 0)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_keycard_serial(kc, serial)) != 0)
        return kc_err_to_sw(rc);
    if (v.number != a->p2 || memcmp(v.to, serial, KC_SERIAL_LEN) != 0)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_IMPORTED)) != 0)
        return kc_err_to_sw(rc);
    if ((rc = kc_store_read_exact(&kc->store, KC_KEY_KA_PRIV, sk, sizeof sk)) != 0 ||
        (rc = kc_store_read_exact(&kc->store, KC_KEY_KA_PUB, pk, sizeof pk)) != 0) {
        kc_wipe(sk, sizeof sk);
        return rc == KC_ERR_NOT_FOUND ? KC_SW_CONDITIONS : kc_err_to_sw(rc);
    }
    rc = kc_keywrap_open(&kc->hw, sk, pk, a->data, a->lc, &v, key);
    kc_wipe(sk, sizeof sk);
    if (rc)
        return rc == KC_ERR_AUTH || rc == KC_ERR_BAD_DATA ? KC_SW_WRONG_DATA : kc_err_to_sw(rc);
    return store_arrived(kc, &v, key, KC_AUDIT_EVT_KEY_IMPORTED, v.from, out, out_len);
}

/* ---- key versions ------------------------------------------------------ */

/*
 * KEY DESTROY, P2 = number, data: version kcv(3) of its retired version (the
 * operator says which key goes). Deleted with a KEY_DESTROYED entry in one
 * commit, then erased from flash (kc_store_scrub); a power cut before the
 * erase is finished leaves the scrub flag, and the next boot finishes it.
 */
static uint16_t h_key_destroy(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                              size_t *out_len)
{
    uint8_t ev[KC_KEY_EVT_LEN], vs[2], one = 1, cur, destroyed;
    const uint8_t *d;
    size_t len;
    int rc;
    (void)out, (void)cap, (void)out_len;

    if (kc->staging)
        return KC_SW_CONDITIONS;
    if (kc_store_get(&kc->store, KC_KEY_RETIRED_KEY(a->p2), &d, &len) != 0)
        return KC_SW_REF_NOT_FOUND; /* no retired version: the current one is never destroyed */
    if (len < 1 + 6 || d[0] != a->data[0] || memcmp(d + 3, a->data + 1, KC_KCV_LEN) != 0)
        return KC_SW_WRONG_DATA;
    if ((rc = kc_audit_room(&kc->store, KC_AUDIT_EVT_KEY_DESTROYED)) != 0)
        return kc_err_to_sw(rc);
    key_versions(kc, a->p2, &cur, &destroyed);
    ev[0] = a->p2;
    ev[1] = d[1];
    ev[2] = d[2];
    memcpy(ev + 3, d + 3, KC_KCV_LEN);
    ev[6] = d[0];
    vs[0] = cur;
    vs[1] = d[0] > destroyed ? d[0] : destroyed;
    if ((rc = kc_store_begin(&kc->store)) == 0 &&
        ((rc = kc_store_delete(&kc->store, KC_KEY_RETIRED_KEY(a->p2))) != 0 ||
         (rc = kc_store_put(&kc->store, KC_KEY_KEY_VERSION(a->p2), vs, sizeof vs)) != 0 ||
         (rc = kc_store_put(&kc->store, KC_KEY_SCRUB, &one, 1)) != 0 ||
         (rc = kc_audit_append(&kc->store, &kc->hw, KC_AUDIT_EVT_KEY_DESTROYED, ev, sizeof ev)) !=
             0 ||
         (rc = kc_store_commit(&kc->store)) != 0))
        kc_store_abort(&kc->store);
    if (rc)
        return kc_err_to_sw(rc);
    /* Committed: now no byte of it may stay on flash. */
    if ((rc = kc_store_scrub(&kc->store)) == 0 && (rc = kc_store_begin(&kc->store)) == 0 &&
        ((rc = kc_store_delete(&kc->store, KC_KEY_SCRUB)) != 0 ||
         (rc = kc_store_commit(&kc->store)) != 0))
        kc_store_abort(&kc->store);
    return kc_err_to_sw(rc);
}

/* GET DATA DF09: n version retired_version retired_kcv(3) destroyed, from number data[0]. */
static uint16_t versions_dir(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    unsigned from = a->lc ? a->data[0] : KC_NUMBER_MIN;
    size_t o = 0;

    if (!provisioned(kc))
        return KC_SW_CONDITIONS;
    if (!(kc->sec & KC_SEC_ADMIN))
        return KC_SW_SECURITY_STATUS;
    for (unsigned n = from < KC_NUMBER_MIN ? KC_NUMBER_MIN : from; n <= KC_NUMBER_MAX; n++) {
        const uint8_t *d, *r;
        size_t len, rl;
        int have = kc_store_get(&kc->store, KC_KEY_NUMBERED_KEY(n), &d, &len) == 0;
        int retired = kc_store_get(&kc->store, KC_KEY_RETIRED_KEY(n), &r, &rl) == 0 && rl >= 7;
        if (!have && !retired)
            continue;
        if (cap - o < KC_KEY_VERSIONS_ENTRY_LEN)
            break;
        uint8_t *e = out + o;
        key_versions(kc, (uint8_t)n, &e[1], &e[6]);
        e[0] = (uint8_t)n;
        if (!have)
            e[1] = 0;
        e[2] = retired ? r[0] : 0;
        if (retired)
            memcpy(e + 3, r + 3, KC_KCV_LEN);
        else
            memset(e + 3, 0, KC_KCV_LEN);
        o += KC_KEY_VERSIONS_ENTRY_LEN;
    }
    *out_len = o;
    return KC_SW_OK;
}

/* ---- the table --------------------------------------------------------- */

#define ISO KC_CLA_ISO
#define PROP KC_CLA_PROP
#define IH (KC_SEC_ISSUER | KC_SEC_HOLDER)

static const kc_cmd commands[] = {
    /* cla  ins                           any sec           lc_min lc_max le le_min p1p2     handler */
    {ISO, KC_INS_SELECT, 1, 0, 1, 16, 1, 0, p1p2_select, h_select},
    {ISO, KC_INS_VERIFY, 0, 0, 0, KC_ADMIN_KEY_LEN_256, 0, 0, p1p2_ref, h_verify},
    {ISO, KC_INS_CHANGE_REFERENCE_DATA, 0, 0, 1, 2 * KC_ADMIN_KEY_LEN_256, 0, 0, p1p2_ref, h_change},
    {ISO, KC_INS_RESET_RETRY_COUNTER, 0, KC_SEC_ADMIN, 0, KC_PIN_MAX_LEN, 0, 0, p1p2_rrc, h_reset_retry},
    {ISO, KC_INS_GET_DATA, 0, 0, 0, 1, 1, 0, NULL, h_get_data},
    {ISO, KC_INS_INTERNAL_AUTHENTICATE, 0, IH, KC_IA_CHALLENGE_MIN, KC_IA_CHALLENGE_MAX, 1, KC_P256_SIG_LEN, p1p2_zero, h_internal_auth},
    {PROP, KC_INS_AUDIT_READ, 0, KC_SEC_ADMIN, 4, 4, 1, 0, p1p2_zero, h_audit_read},
    {PROP, KC_INS_AUDIT_SIGN, 0, KC_SEC_ADMIN, KC_AUDIT_NONCE_MIN, KC_AUDIT_NONCE_MAX, 1, KC_AUDIT_SIGNED_LEN, p1p2_zero, h_audit_sign},
    {PROP, KC_INS_AUDIT_ACK, 0, KC_SEC_ADMIN, 4, 4, 0, 0, p1p2_zero, h_audit_ack},
    {PROP, KC_INS_PROVISION_BEGIN, 0, 0, 0, 0, 0, 0, p1p2_zero, h_prov_begin},
    {PROP, KC_INS_PROVISION_PUT, 0, 0, 0, KC_APDU_MAX_DATA, 0, 0, NULL, h_prov_put},
    {PROP, KC_INS_PROVISION_GENERATE, 0, 0, 0, KC_GENERATE_KEY_LC_MIN + KC_LABEL_MAX, 1, KC_KCV_LEN, p1p2_generate, h_prov_generate},
    {PROP, KC_INS_OPEN_CHANNEL, 0, 0, KC_P256_PUB_LEN, KC_P256_PUB_LEN, 1, KC_CHANNEL_OPEN_RESP_LEN, p1p2_zero, kc_channel_h_open},
    {PROP, KC_INS_PROVISION_COMMIT, 0, 0, 0, 0, 0, 0, p1p2_zero, h_prov_commit},
    {PROP, KC_INS_PROVISION_ABORT, 0, 0, 0, 0, 0, 0, p1p2_zero, h_prov_abort},
    {PROP, KC_INS_KEY_EXPORT, 0, KC_SEC_ADMIN, KC_CHANNEL_CERT_LEN, KC_CHANNEL_CERT_LEN, 1, 0, p1p2_number, h_key_export},
    {PROP, KC_INS_KEY_IMPORT, 0, KC_SEC_ADMIN, KC_KEYWRAP_MIN, KC_KEYWRAP_MAX, 1, KC_KCV_LEN, p1p2_number, h_key_import},
    {PROP, KC_INS_KEY_DESTROY, 0, KC_SEC_ADMIN, 1 + KC_KCV_LEN, 1 + KC_KCV_LEN, 0, 0, p1p2_number, h_key_destroy},
    {PROP, KC_INS_BACKUP, 0, KC_SEC_ADMIN, 0, 2, 1, 0, NULL, h_backup},
    {PROP, KC_INS_RESTORE, 0, KC_SEC_ADMIN, 0, KC_BACKUP_MAX, 1, 0, NULL, h_restore},
    {PROP, KC_INS_ISSUE_BEGIN, 0, IH, ISSUE_BEGIN_LC_MIN, ISSUE_BEGIN_LC_MAX, 1, 0, p1p2_way, h_issue_begin},
    {PROP, KC_INS_ISSUE_WRAP, 0, IH, 3, KC_APDU_MAX_DATA, 1, 0, p1p2_wrap, h_issue_wrap},
    {PROP, KC_INS_ISSUE_END, 0, IH, 0, ISSUE_END_LC_MAX, 1, 1, p1p2_end, h_issue_end},
};

/* ---- dispatcher -------------------------------------------------------- */

static uint16_t dispatch(kc_keycard *kc, const uint8_t *cmd, size_t len, uint8_t *out,
                         size_t out_cap, size_t *out_len)
{
    kc_apdu a;
    const kc_cmd *c = NULL;

    if (kc_apdu_parse(&a, cmd, len) != 0) {
        kc_apdu_chain_reset(&kc->chain); /* another command in between ends a chain */
        return KC_SW_WRONG_LENGTH;
    }
    int more = (a.cla & KC_CLA_CHAIN) != 0;
    uint8_t cla = a.cla & (uint8_t)~KC_CLA_CHAIN;
    int continues = kc_apdu_chain_continues(&kc->chain, &a);
    if (kc->chain.active && !continues) {
        kc_apdu_chain_reset(&kc->chain);
        return KC_SW_LAST_CMD_EXPECTED;
    }
    if (cla != KC_CLA_ISO && cla != KC_CLA_PROP) {
        kc_apdu_chain_reset(&kc->chain);
        return KC_SW_CLA_NOT_SUPPORTED;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].cla == cla && commands[i].ins == a.ins)
            c = &commands[i];
    if (c == NULL)
        return KC_SW_INS_NOT_SUPPORTED;
    if (!c->any_time && !kc->selected)
        return KC_SW_CONDITIONS;
    if (c->p1p2_ok && !c->p1p2_ok(a.p1, a.p2))
        return KC_SW_WRONG_P1P2;
    if (!kc_channel_plain_ok(kc, &a)) /* policy "required": only inside the channel */
        return KC_SW_SECURITY_STATUS;

    if (more) /* a part: keep its data, change nothing else */
        return kc_apdu_chain_add(&kc->chain, &a) ? KC_SW_WRONG_LENGTH : KC_SW_OK;
    if (continues && kc_apdu_chain_finish(&kc->chain, &a) != 0)
        return KC_SW_WRONG_LENGTH;

    if (a.lc < c->lc_min || a.lc > c->lc_max)
        return KC_SW_WRONG_LENGTH;
    if (a.le_present && (!c->le_ok || a.ne < c->le_min))
        return KC_SW_WRONG_LENGTH;
    if ((kc->sec & c->sec) != c->sec)
        return KC_SW_SECURITY_STATUS;

    size_t cap = a.ne < out_cap ? a.ne : out_cap;
    return c->handler(kc, &a, out, cap, out_len);
}

size_t kc_applet_process(kc_keycard *kc, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t cap)
{
    size_t out_len = 0;
    uint16_t sw;

    if (resp == NULL || cap < 2)
        return 0;
    if (kc == NULL || cmd == NULL || !kc->mounted) {
        sw = KC_SW_MEMORY_FAILURE;
    } else {
        size_t out_cap = cap - 2 < KC_APDU_MAX_RESP ? cap - 2 : KC_APDU_MAX_RESP;
        /* The secure channel unwraps before the dispatcher and wraps after it. */
        sw = kc_channel_process(kc, cmd, len, resp, out_cap, &out_len, dispatch);
        /* A finished or failed chain may hold a PIN: wipe it now. */
        if (!kc->chain.active || sw != KC_SW_OK)
            kc_apdu_chain_reset(&kc->chain);
    }
    if (sw != KC_SW_OK)
        out_len = 0;
    return kc_apdu_respond(resp, out_len, sw);
}
