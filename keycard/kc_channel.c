/*
 * kc_channel.c - the key card's secure channel (see kc_channel.h and
 * docs/protocol.md "Secure channel"): key-agreement key, certificate,
 * OPEN CHANNEL and the wrap/unwrap layer in front of the dispatcher.
 *
 * Every failure ends the channel and the security state together: an attacker
 * who alters one APDU must not keep a session in which PINs were verified.
 */
#include "kc_channel.h"

#include <string.h>

#include "kc_audit.h"
#include "kc_bytes.h"
#include "kc_crypto.h"
#include "kc_err.h"
#include "kc_state.h"
#include "kc_keys.h"

#define KDF_OUT_LEN 128 /* S-ENC | S-RENC | S-RECEIPT | reserved */
#define IV_CMD 0x01
#define IV_RESP 0x02

/* IV = dir 00 00 00 ctr(4) 00 00 00 00: distinct for every command and answer of a session. */
static void make_iv(uint8_t iv[12], uint8_t dir, uint32_t ctr)
{
    memset(iv, 0, 12);
    iv[0] = dir;
    put_be32(iv + 4, ctr);
}

/*
 * A channel failure: the channel, the verified PINs and any session end, and
 * the audit log counts it (reason KC_AUDIT_CHF_*, INS of the refused command)
 * without an entry of its own: no credential is needed to cause one, so one
 * each would let anyone fill the log (kc_audit.h).
 */
static uint16_t fail(kc_keycard *kc, uint8_t reason, uint8_t ins)
{
    int selected = kc->selected;
    kc_keycard_clear_security(kc); /* closes the channel, ends any store transaction */
    kc->selected = selected;       /* the application stays selected: a plain retry says 6982 */
    kc_apdu_chain_reset(&kc->chain);
    /* The answer is 6988 whatever the store says: a failed write cannot keep a channel alive. */
    (void)kc_audit_channel_failure(&kc->store, &kc->hw, reason, ins);
    return KC_SW_SM_INCORRECT;
}

static int provisioned(const kc_keycard *kc)
{
    return kc_keycard_lifecycle(kc) == KC_LIFECYCLE_PROVISIONED;
}

static int policy_required(const kc_keycard *kc)
{
    uint8_t p = KC_CHANNEL_OPTIONAL;
    size_t n;
    if (kc_store_read(&kc->store, KC_KEY_CHANNEL_POLICY, &p, 1, &n) != 0 || n != 1)
        return 0;
    return p == KC_CHANNEL_REQUIRED;
}

int kc_channel_plain_ok(const kc_keycard *kc, const kc_apdu *a)
{
    uint8_t cla = a->cla & (uint8_t) ~(KC_CLA_CHAIN | KC_CLA_SM);
    uint16_t tag = (uint16_t)(a->p1 << 8 | a->p2);

    if (kc->chan.inside || !provisioned(kc) || !policy_required(kc))
        return 1;
    if (cla == KC_CLA_ISO && a->ins == KC_INS_SELECT)
        return 1;
    if (cla == KC_CLA_ISO && a->ins == KC_INS_GET_DATA &&
        (tag == KC_TAG_STATUS || tag == KC_TAG_CHANNEL_CERT))
        return 1;
    return cla == KC_CLA_PROP && a->ins == KC_INS_OPEN_CHANNEL;
}

/* Build the plain inner APDU (short or extended) in ch->apdu around the data at apdu + 7. */
static size_t inner_apdu(kc_channel *ch, const kc_apdu *outer, size_t lc, int le_present,
                         size_t ne)
{
    uint8_t *b = ch->apdu;
    int ext = lc > 255 || ne > 256;
    size_t o = 4;
    b[0] = outer->cla & (uint8_t) ~(KC_CLA_CHAIN | KC_CLA_SM);
    b[1] = outer->ins;
    b[2] = outer->p1;
    b[3] = outer->p2;
    if (lc) {
        size_t at = ext ? 7 : 5;
        memmove(b + at, b + 7, lc); /* the plaintext was decrypted at apdu + 7 */
        if (ext) {
            b[o++] = 0;
            b[o++] = (uint8_t)(lc >> 8);
        }
        b[o++] = (uint8_t)lc;
        o += lc;
    }
    if (le_present) {
        if (ext) {
            if (!lc)
                b[o++] = 0;
            b[o++] = (uint8_t)((ne == 65536 ? 0 : ne) >> 8);
            b[o++] = (uint8_t)(ne == 65536 ? 0 : ne);
        } else {
            b[o++] = (uint8_t)(ne == 256 ? 0 : ne);
        }
    }
    return o;
}

uint16_t kc_channel_process(kc_keycard *kc, const uint8_t *cmd, size_t len, uint8_t *out,
                            size_t cap, size_t *out_len, kc_channel_dispatch_fn inner)
{
    kc_channel *ch = &kc->chan;
    kc_apdu a;

    if (kc_apdu_parse(&a, cmd, len) != 0) {
        if (ch->open)
            return fail(kc, KC_AUDIT_CHF_FORMAT, len > 1 ? cmd[1] : 0);
        return inner(kc, cmd, len, out, cap, out_len); /* it answers 6700 */
    }
    if (!(a.cla & KC_CLA_SM)) {
        /* Only SELECT may leave the channel; it ends it (kc_keycard_clear_security). */
        if (ch->open && !((a.cla & (uint8_t)~KC_CLA_CHAIN) == KC_CLA_ISO && a.ins == KC_INS_SELECT))
            return fail(kc, KC_AUDIT_CHF_PLAIN, a.ins);
        return inner(kc, cmd, len, out, cap, out_len);
    }
    if (!ch->open) /* no channel: the dispatcher refuses the CLA (6E00) as it always did */
        return inner(kc, cmd, len, out, cap, out_len);
    if ((a.cla & 0x60) != 0) /* a CLA that is no key card CLA */
        return fail(kc, KC_AUDIT_CHF_FORMAT, a.ins);

    /* Chained outer APDU: collect the parts; only the whole is authenticated. */
    int more = (a.cla & KC_CLA_CHAIN) != 0;
    int continues = kc_apdu_chain_continues(&kc->chain, &a);
    if (kc->chain.active && !continues)
        return fail(kc, KC_AUDIT_CHF_FORMAT, a.ins);
    if (more)
        return kc_apdu_chain_add(&kc->chain, &a) ? fail(kc, KC_AUDIT_CHF_FORMAT, a.ins) : KC_SW_OK;
    if (continues && kc_apdu_chain_finish(&kc->chain, &a) != 0)
        return fail(kc, KC_AUDIT_CHF_FORMAT, a.ins);

    /* The outer Le is the inner one plus 18; exactly 18 means the inner had none. */
    if (a.lc < KC_CHANNEL_CMD_OVERHEAD || a.lc - KC_CHANNEL_CMD_OVERHEAD > KC_CHANNEL_INNER_MAX ||
        !a.le_present || a.ne < KC_CHANNEL_RESP_OVERHEAD || cap < KC_CHANNEL_RESP_OVERHEAD)
        return fail(kc, KC_AUDIT_CHF_FORMAT, a.ins);
    uint32_t ctr = get_be32(a.data);
    if (ch->ctr == 0xFFFFFFFFu || ctr != ch->ctr + 1)
        return fail(kc, KC_AUDIT_CHF_COUNTER, a.ins); /* replayed, reordered, skipped, exhausted */

    size_t lc = a.lc - KC_CHANNEL_CMD_OVERHEAD;
    uint8_t iv[12], aad[8], tag[16];
    aad[0] = a.cla & (uint8_t)~KC_CLA_CHAIN;
    aad[1] = a.ins;
    aad[2] = a.p1;
    aad[3] = a.p2;
    put_be32(aad + 4, ctr);
    make_iv(iv, IV_CMD, ctr);
    memcpy(tag, a.data + 4 + lc, 16);
    if (kc_crypto_aes256_gcm_open(ch->s_enc, iv, aad, sizeof aad, a.data + 4, lc, tag,
                                  ch->apdu + 7) != 0) {
        kc_wipe(ch->apdu, sizeof ch->apdu);
        return fail(kc, KC_AUDIT_CHF_MAC, a.ins);
    }
    ch->ctr = ctr;
    kc_apdu_chain_reset(&kc->chain); /* the outer chain is spent; the inner has none */

    int le_present = a.ne > KC_CHANNEL_RESP_OVERHEAD;
    size_t ne = le_present ? a.ne - KC_CHANNEL_RESP_OVERHEAD : 0;
    size_t ilen = inner_apdu(ch, &a, lc, le_present, ne);

    /* SELECT inside the channel ends it: keep what the answer needs. */
    uint8_t renc[32];
    memcpy(renc, ch->s_renc, sizeof renc);
    size_t n = 0;
    ch->inside = 1;
    uint16_t sw = inner(kc, ch->apdu, ilen, out, cap - KC_CHANNEL_RESP_OVERHEAD, &n);
    ch->inside = 0;
    kc_wipe(ch->apdu, sizeof ch->apdu); /* it held the plaintext: PINs, parameters */
    if (sw != KC_SW_OK)
        n = 0;
    out[n] = (uint8_t)(sw >> 8);
    out[n + 1] = (uint8_t)sw;
    make_iv(iv, IV_RESP, ctr);
    put_be32(aad, ctr);
    int rc = kc_crypto_aes256_gcm_seal(renc, iv, aad, 4, out, n + 2, out, out + n + 2);
    kc_wipe(renc, sizeof renc);
    if (rc != 0) {
        *out_len = 0;
        return fail(kc, KC_AUDIT_CHF_FORMAT, a.ins);
    }
    *out_len = n + KC_CHANNEL_RESP_OVERHEAD;
    return KC_SW_OK;
}

/* Read a fixed-size store item; a wrong size is corruption. */
static int read_exact(const kc_keycard *kc, uint16_t key, uint8_t *buf, size_t len)
{
    return kc_store_read_exact(&kc->store, key, buf, len);
}

/*
 * The session keys of one OPEN CHANNEL (docs/protocol.md section 9): the KDF
 * key Kx = SHA-256([1]_4 || Z1 || Z2 || "keycard/channel/v2") (SP 800-56C
 * one-step KDF), then S-ENC | S-RENC | S-RECEIPT | reserved =
 * KDF(Kx, "keycard/channel", ctx, 1024). Kx is wiped here.
 */
static int derive_keys(const uint8_t z1[32], const uint8_t z2[32],
                       const uint8_t ctx[KC_CHANNEL_CTX_LEN], uint8_t keys[KDF_OUT_LEN])
{
    static const uint8_t one[4] = {0, 0, 0, 1};
    static const char fixed[] = KC_CHANNEL_KX_LABEL;
    kc_sha256_ctx h;
    uint8_t kx[32];
    int rc = kc_crypto_sha256_init(&h);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, one, sizeof one);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, z1, 32);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, z2, 32);
    if (rc == 0)
        rc = kc_crypto_sha256_update(&h, (const uint8_t *)fixed, sizeof fixed - 1);
    if (rc == 0)
        rc = kc_crypto_sha256_final(&h, kx);
    kc_wipe(&h, sizeof h);
    if (rc == 0)
        rc = kc_crypto_kdf(kx, sizeof kx, KC_CHANNEL_KDF_LABEL, ctx, KC_CHANNEL_CTX_LEN, keys,
                           KDF_OUT_LEN);
    kc_wipe(kx, sizeof kx);
    return rc;
}

uint16_t kc_channel_h_open(kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                           size_t *out_len)
{
    uint8_t priv[KC_P256_PRIV_LEN], esk[KC_P256_PRIV_LEN];
    uint8_t z1[32], z2[32], keys[KDF_OUT_LEN], ctx[KC_CHANNEL_CTX_LEN];
    uint8_t *epk_h = ctx, *epk_c = ctx + KC_P256_PUB_LEN, *pk_ka = ctx + 2 * KC_P256_PUB_LEN;
    int rc;

    /* A host of channel v1 asks for the bare 16-byte receipt: 6700 before any work. */
    if (cap < KC_CHANNEL_OPEN_RESP_LEN)
        return KC_SW_WRONG_LENGTH;
    if (kc->chan.inside)
        return KC_SW_CONDITIONS; /* a channel is not opened through itself */
    rc = read_exact(kc, KC_KEY_KA_PRIV, priv, sizeof priv);
    if (rc == 0)
        rc = read_exact(kc, KC_KEY_KA_PUB, pk_ka, KC_P256_PUB_LEN);
    if (rc == KC_ERR_NOT_FOUND) {
        kc_wipe(priv, sizeof priv);
        return KC_SW_CONDITIONS; /* no channel key: nothing changes */
    }
    memcpy(epk_h, a->data, KC_P256_PUB_LEN);
    /* Z2 = static x host ephemeral; refuses a point off the curve before anything else. */
    if (rc == 0)
        rc = kc_crypto_p256_ecdh(&kc->hw, priv, epk_h, z2);
    kc_wipe(priv, sizeof priv);
    /* Z1 = card ephemeral x host ephemeral: a fresh pair for every OPEN, so no two
     * sessions share keys whatever the host sends (a recorded session replays nothing). */
    if (rc == 0)
        rc = kc_crypto_p256_generate(&kc->hw, esk, epk_c);
    if (rc == 0)
        rc = kc_crypto_p256_ecdh(&kc->hw, esk, epk_h, z1);
    kc_wipe(esk, sizeof esk);
    if (rc == 0)
        rc = derive_keys(z1, z2, ctx, keys);
    kc_wipe(z1, sizeof z1);
    kc_wipe(z2, sizeof z2);
    if (rc == 0)
        rc = kc_crypto_aes_cmac(keys + 64, 32, ctx, sizeof ctx, out + KC_P256_PUB_LEN);
    if (rc == 0) {
        /* A new channel starts with nothing verified, whatever came before it. */
        kc_channel_close(&kc->chan);
        kc->sec = 0;
        kc_issue_close_all(kc->issue, KC_ISSUE_SESSIONS);
        memcpy(kc->chan.s_enc, keys, 32);
        memcpy(kc->chan.s_renc, keys + 32, 32);
        kc->chan.ctr = 0;
        kc->chan.open = 1;
        memcpy(out, epk_c, KC_P256_PUB_LEN);
        *out_len = KC_CHANNEL_OPEN_RESP_LEN;
    }
    kc_wipe(keys, sizeof keys);
    return kc_err_sw(rc, NULL, 0);
}

uint16_t kc_channel_h_generate(kc_keycard *kc, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t priv[KC_P256_PRIV_LEN], pub[KC_P256_PUB_LEN], serial[KC_SERIAL_LEN];
    int rc;

    if (!kc->staging)
        return KC_SW_CONDITIONS;
    if (cap < KC_CHANNEL_CERT_TBS_LEN)
        return KC_SW_WRONG_LENGTH;
    if ((rc = kc_keycard_serial(kc, serial)) != 0)
        return kc_err_sw(rc, NULL, 0);
    if ((rc = kc_crypto_p256_generate(&kc->hw, priv, pub)) != 0) {
        kc_wipe(priv, sizeof priv);
        return kc_err_sw(rc, NULL, 0);
    }
    /* The old signature covers the old key: drop it with the new key in the session. */
    if ((rc = kc_store_put(&kc->store, KC_KEY_KA_PRIV, priv, sizeof priv)) == 0 &&
        (rc = kc_store_put(&kc->store, KC_KEY_KA_PUB, pub, sizeof pub)) == 0)
        rc = kc_store_delete(&kc->store, KC_KEY_CHANNEL_SIG);
    kc_wipe(priv, sizeof priv);
    if (rc == KC_ERR_NOT_FOUND)
        rc = 0;
    if (rc) {
        kc_store_abort(&kc->store);
        kc->staging = 0;
        kc->staged = 0;
        return kc_err_sw(rc, NULL, 0);
    }
    kc->staged |= KC_STAGED_KA;
    kc->staged &= ~KC_STAGED_CH_SIG;
    out[0] = KC_ID_TAG_SERIAL;
    out[1] = KC_SERIAL_LEN;
    memcpy(out + 2, serial, KC_SERIAL_LEN);
    out[10] = KC_CH_TAG_KA_PUB;
    out[11] = KC_P256_PUB_LEN;
    memcpy(out + 12, pub, KC_P256_PUB_LEN);
    *out_len = KC_CHANNEL_CERT_TBS_LEN;
    return KC_SW_OK;
}

int kc_channel_cert(const kc_keycard *kc, uint8_t *out, size_t cap, size_t *n)
{
    int rc;
    if (cap < KC_CHANNEL_CERT_LEN)
        return KC_ERR_TOO_BIG;
    out[0] = KC_ID_TAG_SERIAL;
    out[1] = KC_SERIAL_LEN;
    out[10] = KC_CH_TAG_KA_PUB;
    out[11] = KC_P256_PUB_LEN;
    out[77] = KC_CH_TAG_SIGNATURE;
    out[78] = KC_P256_SIG_LEN;
    if ((rc = kc_keycard_serial(kc, out + 2)) != 0 ||
        (rc = read_exact(kc, KC_KEY_KA_PUB, out + 12, KC_P256_PUB_LEN)) != 0 ||
        (rc = read_exact(kc, KC_KEY_CHANNEL_SIG, out + 79, KC_P256_SIG_LEN)) != 0)
        return rc;
    *n = KC_CHANNEL_CERT_LEN;
    return 0;
}

static int exists(const kc_keycard *kc, uint16_t key)
{
    const uint8_t *d;
    size_t len;
    return kc_store_get(&kc->store, key, &d, &len) == 0;
}

int kc_channel_session_ok(const kc_keycard *kc)
{
    unsigned st = kc->staged;
    if ((st & KC_STAGED_KA) && !(st & KC_STAGED_CH_SIG))
        return 0;
    /* The policy put in this session, else the committed one (reads see committed data). */
    int required = (st & KC_STAGED_POLICY) ? (st & KC_STAGED_POLICY_REQ) != 0 : policy_required(kc);
    if (!required || (st & KC_STAGED_KA))
        return 1;
    /* A required channel needs a signed key, or no command could ever be given again. */
    return exists(kc, KC_KEY_KA_PRIV) && exists(kc, KC_KEY_KA_PUB) &&
           ((st & KC_STAGED_CH_SIG) || exists(kc, KC_KEY_CHANNEL_SIG));
}
