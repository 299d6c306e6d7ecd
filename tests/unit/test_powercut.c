/*
 * test_powercut.c - power cuts at every flash write of every state-changing
 * command of the key card and the target card, and a random soak with random
 * cuts, both checked against a reference model (kc_model.h).
 *
 * Campaign, per command: bring the card to the state before it and snapshot
 * flash + RAM; run it once uncut to learn its flash operations K and the state
 * after; then for each cut point 0..K-1 and each kc_hw_ram cut mode (nothing,
 * half, done, tail, erased) put the snapshot back, cut, run, reboot, and check:
 * the committed store equals the state before or after (or, for the commands
 * documented as two commits, a committed state the uncut run went through),
 * never a mix; a card that answered as the uncut run did is in the after state;
 * PIN tries never come back; a previous-random seed handed out is never
 * handed out again; the audit log reads back whole and consecutive; a target
 * card never reports ISSUED while a correctly sealed issuance command still
 * runs. A last point per command reboots after it completed (after state).
 *
 * KC_SOAK_STEPS sets the soak length (default 300 steps per card, 40 under
 * valgrind); KC_POWERCUT_VERBOSE=1 lists every command with its K;
 * KC_POWERCUT_QUICK=1 (and valgrind) tries one cut mode per cut point.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/valgrind.h>

#include "support/kc_model.h"
#include "support/kc_test_card.h"
#include "support/kc_test_target.h"
#include "kc_crypto.h"
#include "kc_issue.h"
#include "kc_keycard.h"
#include "keycard.h"
#include "tc_card.h"

enum { KEY = 0, TGT = 1 };

#define MAX_SEEDS 2048

/* Host-side state that rolls back with a snapshot (what the host "knows"). */
typedef struct host {
    size_t n_seeds;
    uint8_t seeds[MAX_SEEDS][16];
    uint8_t last_seed[16];
    int have_last_seed;
    kc_tt_session sess;
    char pin81[17], pin82[17];
} host;

static kc_test_card KC;
static kc_test_target TT;
static kc_model_dev KDEV, TDEV;
static host H;

static const uint8_t TSERIAL[8] = {0x54, 0x43, 0x50, 0x43, 0x00, 0x00, 0x00, 0x01};
static const uint8_t KSERIAL_T[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

/* ---- statistics and violations ------------------------------------------ */

typedef struct stats {
    unsigned long points, violations, commands, erase_points;
} stats;

static stats ST[2];
static const char *cur_name;
static int cur_card;

static unsigned long aged_found, aged_missed;

__attribute__((format(printf, 3, 4))) static void violation(long i, int mode, const char *fmt, ...)
{
    va_list ap;
    ST[cur_card].violations++;
    if (ST[cur_card].violations <= 40) {
        fprintf(stderr, "VIOLATION %s: cut %ld mode %d: ", cur_name, i, mode);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

/* ---- key card APDUs ------------------------------------------------------ */

static uint8_t abuf[8 + 70000];

/* cla ins p1 p2 [data] [Le] (le < 0: none); extended when needed. Records way-4 seeds. */
static uint16_t kcmd(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, const void *d, size_t n,
                     int le)
{
    size_t len;
    if (n > 255 || le > 256) {
        abuf[0] = cla, abuf[1] = ins, abuf[2] = p1, abuf[3] = p2, abuf[4] = 0;
        len = 5;
        if (n) {
            abuf[len++] = (uint8_t)(n >> 8);
            abuf[len++] = (uint8_t)n;
            memcpy(abuf + len, d, n);
            len += n;
        }
        if (le >= 0) {
            abuf[len++] = 0;
            abuf[len++] = 0;
        }
    } else {
        len = kc_test_apdu(abuf, cla, ins, p1, p2, d, n);
        if (le >= 0)
            abuf[len++] = (uint8_t)le;
    }
    uint16_t sw = kc_test_card_send(&KC, abuf, len);
    if (ins == KC_INS_ISSUE_BEGIN && p1 == KC_WAY_PREVIOUS_RANDOM && sw == 0x9000 &&
        KC.resp_len == 16) {
        if (H.n_seeds < MAX_SEEDS)
            memcpy(H.seeds[H.n_seeds++], KC.resp, 16);
        memcpy(H.last_seed, KC.resp, 16);
        H.have_last_seed = 1;
    }
    return sw;
}

static uint16_t kverify(uint8_t ref, const char *pin)
{
    return kcmd(0x00, KC_INS_VERIFY, 0, ref, pin, strlen(pin), -1);
}

static uint16_t kverify_admin(void)
{
    uint8_t k[16];
    kc_test_hex(KC_TEST_ADMIN_KEY_HEX, k, sizeof(k));
    return kcmd(0x00, KC_INS_VERIFY, 0, KC_REF_ADMIN_KEY, k, 16, -1);
}

static uint16_t kunlock(void)
{
    uint16_t sw = kc_test_card_select(&KC);
    if (sw == 0x9000)
        sw = kverify(KC_REF_ISSUER_PIN, H.pin81);
    if (sw == 0x9000)
        sw = kverify(KC_REF_HOLDER_PIN, H.pin82);
    return sw;
}

/* BEGIN data: serial key bucket Nt [counter]; way 03 takes extra as Nt. */
static uint16_t kbegin(uint8_t way, uint8_t key, const void *extra, size_t en)
{
    uint8_t d[64];
    size_t lc = 11;
    memcpy(d, KSERIAL_T, 8);
    d[8] = key;
    d[9] = 0;
    d[10] = 128;
    if (way != KC_WAY_TARGET_SEED) {
        memset(d + lc, 0x3C, 16);
        lc += 16;
    }
    if (en)
        memcpy(d + lc, extra, en);
    return kcmd(0x80, KC_INS_ISSUE_BEGIN, way, 0, d, lc + en, 0);
}

static uint16_t kwrap(void)
{
    static const uint8_t step[] = {1, 0, 6, 0x30, 0x00, 3, 'A', 'P', 'P'};
    return kcmd(0x80, KC_INS_ISSUE_WRAP, 0, 0, step, sizeof(step), 65536);
}

/* Status blob: tries of 81 82 83 and the next audit seq. Returns 0 when read. */
typedef struct kstatus {
    int ok;
    unsigned tries[3];
    uint32_t next_seq;
    uint8_t lifecycle;
} kstatus;

static kstatus kstatus_read(void)
{
    kstatus s;
    memset(&s, 0, sizeof(s));
    if (kc_test_card_select(&KC) != 0x9000 || kc_test_card_sendx(&KC, "00CADF0300") != 0x9000)
        return s;
    const uint8_t *p = KC.resp;
    size_t n = KC.resp_len, i = 0;
    while (i + 2 <= n && i + 2 + p[i + 1] <= n) {
        uint8_t tag = p[i], l = p[i + 1];
        const uint8_t *v = p + i + 2;
        if (tag == 0xC7 && l == 3)
            s.tries[0] = v[0], s.tries[1] = v[1], s.tries[2] = v[2];
        if (tag == 0xC8 && l == 6)
            s.next_seq = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
        if (tag == 0xC5 && l == 1)
            s.lifecycle = v[0];
        i += 2 + (size_t)l;
    }
    s.ok = i == n;
    return s;
}

/*
 * Read the whole audit log with the admin key. Returns NULL when well formed
 * (consecutive seqs ending at next_seq - 1, entries parse, known events, each
 * entry's prev the hash of the one before, zeros before seq 0, and the last
 * hash the head AUDIT SIGN reports) or what is wrong; "" when it could not be
 * read (admin blocked).
 */
static const char *kaudit_check(uint32_t next_seq)
{
    static const uint8_t zero[32];
    uint32_t from = 0, last = 0;
    unsigned long count = 0;
    uint8_t head[32] = {0}; /* hash of the last entry read */
    if (kc_test_card_select(&KC) != 0x9000 || kverify_admin() != 0x9000)
        return "";
    for (int guard = 0; guard < 200; guard++) {
        uint8_t d[4] = {(uint8_t)(from >> 24), (uint8_t)(from >> 16), (uint8_t)(from >> 8),
                        (uint8_t)from};
        if (kcmd(0x80, KC_INS_AUDIT_READ, 0, 0, d, 4, 0) != 0x9000)
            return "AUDIT READ refused";
        if (KC.resp_len == 0)
            break;
        size_t i = 0;
        while (i < KC.resp_len) {
            if (i + 10 > KC.resp_len || i + 10 + KC.resp[i + 9] + 32 > KC.resp_len)
                return "truncated entry";
            const uint8_t *e = KC.resp + i;
            size_t body = 10 + (size_t)e[9];
            uint32_t seq = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
            if (e[8] < 1 || e[8] > KC_AUDIT_EVT_KEY_DESTROYED)
                return "unknown event";
            if (count && seq != last + 1)
                return "seq not consecutive";
            if (count == 0 && seq < from)
                return "seq below from";
            if (seq == 0 && memcmp(e + body, zero, 32) != 0)
                return "first entry does not chain to zeros";
            if (count && memcmp(e + body, head, 32) != 0)
                return "entry does not chain to the one before";
            uint8_t m[32 + 10 + KC_AUDIT_DATA_MAX];
            memcpy(m, e + body, 32);
            memcpy(m + 32, e, body);
            if (kc_crypto_sha256(KC_AUDIT_CHAIN_LABEL, m, 32 + body, head) != 0)
                return "hash failed";
            last = seq;
            count++;
            i += body + 32;
        }
        from = last + 1;
    }
    if (count && last + 1 != next_seq)
        return "last entry is not next_seq - 1";
    if (!count && next_seq)
        return "entries missing";
    /* The signed head is the chain's head. */
    if (kcmd(0x80, KC_INS_AUDIT_SIGN, 0, 0, "\x01\x02\x03\x04\x05\x06\x07\x08", 8, 0) != 0x9000)
        return "AUDIT SIGN refused";
    if (KC.resp_len != KC_AUDIT_SIGNED_LEN)
        return "AUDIT SIGN answer length";
    uint32_t hn = (uint32_t)KC.resp[0] << 24 | (uint32_t)KC.resp[1] << 16 |
                  (uint32_t)KC.resp[2] << 8 | KC.resp[3];
    if (hn != next_seq)
        return "signed head: next differs";
    if (memcmp(KC.resp + 4, head, 32) != 0)
        return "signed head is not the hash of the last entry";
    return NULL;
}

/* ---- target card APDUs -------------------------------------------------- */

static uint32_t tenv(uint8_t ins, uint8_t p1, uint8_t p2, const void *d, size_t n)
{
    if (H.sess.bucket == 0)
        return 0x69850000u; /* the host has no session: nothing to seal */
    uint16_t inner = 0;
    uint16_t outer = kc_tt_env(&TT, &H.sess, ins, p1, p2, d, n, &inner, NULL);
    return (uint32_t)outer << 16 | (outer == 0x9000 ? inner : 0);
}

static uint16_t tbegin(uint8_t way, kc_tt_session *s)
{
    return kc_tt_begin(&TT, s, way, 1, kc_tt_key1, 32, TSERIAL);
}

static size_t folder(uint8_t *d, uint16_t fid, const char *name)
{
    size_t nl = strlen(name);
    d[0] = (uint8_t)(fid >> 8), d[1] = (uint8_t)fid;
    d[2] = 0x3F, d[3] = 0x00;
    d[4] = 0x02, d[5] = 0x00; /* quota 512 */
    d[6] = 0x00, d[7] = 0xFF;
    d[8] = (uint8_t)nl;
    memcpy(d + 9, name, nl);
    return 9 + nl;
}

typedef struct tinfo {
    uint8_t state, locks;
    int tries;          /* PIN key 1: tries left, -1 unknown */
    long next_static;   /* BEGIN way 01: next counter, -1 refused */
} tinfo;

static tinfo tinfo_read(int want_static)
{
    tinfo in = {0, 0, -1, -1};
    if (kc_tt_sendx(&TT, "00CADF1000") == 0x9000 && TT.resp_len == 16) {
        in.state = TT.resp[12];
        in.locks = TT.resp[15];
    }
    uint16_t sw = kc_tt_sendx(&TT, "00200001");
    if ((sw & 0xFFF0) == 0x63C0)
        in.tries = sw & 0x0F;
    else if (sw == 0x6983)
        in.tries = 0;
    if (want_static) {
        kc_tt_session s;
        if (tbegin(TC_WAY_STATIC, &s) == 0x9000)
            in.next_static = (long)s.c + 1;
    }
    return in;
}

/* 1 when a correctly sealed CREATE FOLDER (key 1, way 03) still runs (outer 9000). */
static int t_issuance_accepted(void)
{
    kc_tt_session s;
    uint8_t d[32];
    if (tbegin(TC_WAY_TARGET_SEED, &s) != 0x9000)
        return 0;
    uint16_t inner;
    size_t n = folder(d, 0x0E0E, "PROBE");
    return kc_tt_env(&TT, &s, TC_INS_CREATE, TC_CREATE_FOLDER, 0, d, n, &inner, NULL) == 0x9000;
}

/* ---- scenarios ----------------------------------------------------------- */

enum { B_K0, B_K1, B_T0, B_T1, B_T2, B_AGED_K, B_AGED_T, B_COUNT };

typedef struct scen {
    const char *name;
    int card;
    int base;
    void (*setup)(void);
    uint32_t (*cmd)(void);
    int multi;       /* documented as more than one commit (VERIFY: try first) */
    uint8_t ref;     /* key card: reference verified; target: 1 = PIN key 1 */
    int statik;      /* target: static-way session (counter monotonic) */
    uint8_t newref;  /* key card: the command sets this PIN to newpin when it completes */
    const char *newpin;
} scen;

static kc_model_snap base_snap[B_COUNT];
static host base_host[B_COUNT];
static int base_have[B_COUNT];

#define WANT(x) ck_assert_uint_eq((x), 0x9000)

static const char *NEW81 = "24682468";
static const char *NEW82 = "112233";

/* key card setups */
static void s_none(void) {}
static void s_issuer(void) { WANT(kverify(KC_REF_ISSUER_PIN, H.pin81)); }
static void s_wrong_issuer(void) { ck_assert_uint_eq(kverify(KC_REF_ISSUER_PIN, "00000000"), 0x63C2); }
static void s_holder_two_wrong(void)
{
    s_issuer();
    ck_assert_uint_eq(kverify(KC_REF_HOLDER_PIN, "000000"), 0x63C2);
    ck_assert_uint_eq(kverify(KC_REF_ISSUER_PIN, H.pin81), 0x9000);
    ck_assert_uint_eq(kverify(KC_REF_HOLDER_PIN, "000000"), 0x63C1);
    ck_assert_uint_eq(kverify(KC_REF_ISSUER_PIN, H.pin81), 0x9000);
}
static void s_admin(void) { WANT(kverify_admin()); }
static void s_admin_holder_wrong(void)
{
    s_issuer();
    ck_assert_uint_eq(kverify(KC_REF_HOLDER_PIN, "000000"), 0x63C2);
    s_admin();
}
static void s_prov_session(void)
{
    s_admin();
    WANT(kc_test_card_sendx(&KC, "80E00000"));
}
static uint16_t put_key7(void)
{
    uint8_t d[3 + 4 + 16] = {KC_KEY_TYPE_AES128, KC_KEYF_INJECT, 4, 'k', 'e', 'y', '7'};
    memset(d + 7, 0x77, 16);
    return kcmd(0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_KEY, 7, d, sizeof(d), -1);
}
static uint16_t put_tpl6(void)
{
    uint8_t d[64];
    size_t n = kc_test_hex(KC_TEST_TPL4_HEX, d, sizeof(d));
    return kcmd(0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_TEMPLATE, 6, d, n, -1);
}
static void s_prov_staged(void)
{
    s_prov_session();
    WANT(put_key7());
    WANT(put_tpl6());
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0x5F, 0x20, "New Name", 8, -1));
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_KEY_DELETE, 4, NULL, 0, -1));
}
static void s_first_session(void)
{
    uint8_t d[40], sig[64], tbs[77];
    WANT(kc_test_card_select(&KC));
    WANT(kc_test_card_sendx(&KC, "80E00000"));
    d[0] = KC_TEST_TRIES;
    memcpy(d + 1, KC_TEST_ISSUER_PIN, 8);
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0x01, KC_REF_ISSUER_PIN, d, 9, -1));
    memcpy(d + 1, KC_TEST_HOLDER_PIN, 6);
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0x01, KC_REF_HOLDER_PIN, d, 7, -1));
    kc_test_hex(KC_TEST_ADMIN_KEY_HEX, d + 1, 16);
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0x01, KC_REF_ADMIN_KEY, d, 17, -1));
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0x5F, 0x20, KC_TEST_HOLDER_NAME,
              strlen(KC_TEST_HOLDER_NAME), -1));
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0xDF, 0x01, KC_TEST_HOLDER_NUMBER,
              strlen(KC_TEST_HOLDER_NUMBER), -1));
    WANT(kc_test_card_sendx(&KC, "80E4000000"));
    ck_assert_uint_eq(KC.resp_len, sizeof(tbs));
    memcpy(tbs, KC.resp, sizeof(tbs));
    kc_test_issuer_sign(tbs, sizeof(tbs), sig);
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0xDF, 0x04, sig, 64, -1));
}
static void s_unlock(void) { WANT(kunlock()); }
static void s_session(void)
{
    s_unlock();
    WANT(kbegin(KC_WAY_PREVIOUS_RANDOM, 2, NULL, 0));
}
static void s_wrapped(void)
{
    s_session();
    WANT(kwrap());
}
/* A packed session (ISSUE BEGIN P1 bit 80). */
static void s_session_packed(void)
{
    s_unlock();
    WANT(kbegin(KC_WAY_PREVIOUS_RANDOM | KC_ISSUE_BEGIN_PACKED, 2, NULL, 0));
}
/* A session cut after WRAP: SELECT ends it in RAM, its open-session mark stays. */
static void s_cut(void)
{
    s_wrapped();
    s_unlock();
}

/* key card commands */
static uint32_t c_v81_wrong(void) { return kverify(KC_REF_ISSUER_PIN, "00000000"); }
static uint32_t c_v81_ok(void) { return kverify(KC_REF_ISSUER_PIN, H.pin81); }
static uint32_t c_v82_wrong(void) { return kverify(KC_REF_HOLDER_PIN, "000000"); }
static uint32_t c_v82_ok(void) { return kverify(KC_REF_HOLDER_PIN, H.pin82); }
static uint32_t c_v83_wrong(void)
{
    uint8_t k[16] = {0};
    return kcmd(0x00, KC_INS_VERIFY, 0, KC_REF_ADMIN_KEY, k, 16, -1);
}
static uint32_t c_v83_ok(void) { return kverify_admin(); }
static uint32_t c_change81(void)
{
    char d[40];
    snprintf(d, sizeof(d), "%s%s", H.pin81, NEW81);
    return kcmd(0x00, KC_INS_CHANGE_REFERENCE_DATA, 0, KC_REF_ISSUER_PIN, d, strlen(d), -1);
}
static uint32_t c_change81_wrong(void)
{
    char d[40];
    snprintf(d, sizeof(d), "%s%s", "99999999", NEW81);
    return kcmd(0x00, KC_INS_CHANGE_REFERENCE_DATA, 0, KC_REF_ISSUER_PIN, d, strlen(d), -1);
}
static uint32_t c_reset02(void)
{
    return kcmd(0x00, KC_INS_RESET_RETRY_COUNTER, 0x02, KC_REF_HOLDER_PIN, NEW82, 6, -1);
}
static uint32_t c_reset03(void)
{
    return kcmd(0x00, KC_INS_RESET_RETRY_COUNTER, 0x03, KC_REF_HOLDER_PIN, NULL, 0, -1);
}
static uint32_t c_prov_begin(void) { return kc_test_card_sendx(&KC, "80E00000"); }
static uint32_t c_put_cred(void)
{
    uint8_t d[9] = {5, '1', '1', '1', '1', '2', '2', '2', '2'};
    return kcmd(0x80, KC_INS_PROVISION_PUT, 0x01, KC_REF_ISSUER_PIN, d, sizeof(d), -1);
}
static uint32_t c_put_key(void) { return put_key7(); }
/* A key component (its audit entry alone), and two combined (key + entry in one commit). */
static uint16_t component(const char *who, uint8_t fill)
{
    uint8_t d[3 + 1 + 16 + 16 + 3] = {KC_KEY_TYPE_AES128, KC_KEYF_ENVELOPE, 0};
    size_t wl = strlen(who), o = 3;
    d[o++] = (uint8_t)wl;
    memcpy(d + o, who, wl);
    o += wl;
    memset(d + o, fill, 16);
    kc_issue_kcv(d + o, 16, d + o + 16);
    o += 16 + 3;
    return kcmd(0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_COMPONENT, 11, d, o, -1);
}
static uint32_t c_component(void) { return component("Alice", 0x5A); }
static void s_one_component(void)
{
    s_admin();
    WANT(component("Alice", 0x5A));
    WANT(component("Bob", 0xA5));
}
static uint32_t c_combine(void)
{
    return kcmd(0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_COMBINE, 11, "\x02", 1, 3);
}

/* A key made on the card: the key and its audit entry in one commit. */
static uint32_t c_keygen(void)
{
    static const uint8_t d[] = {KC_KEY_TYPE_AES256, KC_KEYF_ENVELOPE, 3, 'g', 'e', 'n'};
    return kcmd(0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 9, d, sizeof(d), 3);
}
/*
 * Wrapped keys: the card gets a certified channel key and the issuer key it
 * checks recipients against; KEY EXPORT (an audit entry of its own, the blob
 * after it) and KEY IMPORT (key + entry in one commit).
 */
static void s_move_ready(void)
{
    uint8_t tbs[77], sig[64], pub[65];
    s_admin();
    WANT(kc_test_card_sendx(&KC, "80E00000"));
    WANT(kc_test_card_sendx(&KC, "80E4010000"));
    memcpy(tbs, KC.resp, sizeof tbs);
    kc_test_issuer_sign_as(KC_SIG_LABEL_CHANNEL, tbs, sizeof tbs, sig);
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0xDF, 0x08, sig, sizeof sig, -1));
    kc_test_issuer_pub(pub);
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, 0x00, 0xC1, pub, sizeof pub, -1));
    WANT(kc_test_card_sendx(&KC, "80E60000"));
    s_admin();
}
static uint32_t c_export(void)
{
    uint8_t c[143] = {KC_ID_TAG_SERIAL, 8, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                      KC_CH_TAG_KA_PUB, 65};
    kc_test_issuer_pub(c + 12); /* any point: the recipient's key */
    c[77] = KC_CH_TAG_SIGNATURE;
    c[78] = 64;
    kc_test_issuer_sign_as(KC_SIG_LABEL_CHANNEL, c, 77, c + 79);
    return kcmd(0x80, KC_INS_KEY_EXPORT, 0, 1, c, sizeof c, 256);
}
static uint32_t c_import(void)
{
    keycard_channel_key me;
    uint8_t blob[KEYCARD_WRAPPED_MAX], key[16];
    size_t bl;
    ck_assert_uint_eq(kc_test_card_sendx(&KC, "00CADF0700"), 0x9000);
    ck_assert_int_eq(keycard_channel_cert_parse(KC.resp, KC.resp_len, NULL, 0, &me), KEYCARD_OK);
    memset(key, 0x3C, sizeof key);
    ck_assert_int_eq(keycard_key_wrap(&me, 20, KEYCARD_KEY_AES128, KEYCARD_KEYF_INJECT, "wrapped",
                                      1, key, sizeof key, blob, sizeof blob, &bl),
                     KEYCARD_OK);
    return kcmd(0x80, KC_INS_KEY_IMPORT, 0, 20, blob, bl, 256);
}
/* KEY DESTROY of the retired version 1 of key 1: entry, then the erase (and the boot's). */
static void s_destroy_ready(void)
{
    static const uint8_t gen[3] = {KC_KEY_TYPE_AES128, KC_KEYF_ENVELOPE, 0};
    s_admin();
    WANT(kcmd(0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 1, gen, sizeof gen, 3));
}
static uint32_t c_destroy(void)
{
    uint8_t d[4] = {1}, key[16];
    kc_test_hex(KC_TEST_KEY1_HEX, key, sizeof key);
    kc_issue_kcv(key, sizeof key, d + 1);
    return kcmd(0x80, KC_INS_KEY_DESTROY, 0, 1, d, sizeof d, -1);
}
/* Backup: BEGIN writes its audit entry; RESTORE KEY stores key + entry in one commit. */
static uint32_t c_backup_begin(void) { return kcmd(0x80, KC_INS_BACKUP, 0, 0, "\x02\x03", 2, 256); }
static uint8_t restore_blob[KC_BACKUP_MAX];
static size_t restore_blob_len;
static void s_restore_ready(void)
{
    uint8_t shares[2][KC_BACKUP_SHARE_LEN];
    s_admin();
    WANT(kcmd(0x80, KC_INS_BACKUP, 0, 0, "\x02\x02", 2, 256));
    for (int x = 1; x <= 2; x++) {
        WANT(kcmd(0x80, KC_INS_BACKUP, 1, (uint8_t)x, NULL, 0, 256));
        memcpy(shares[x - 1], KC.resp, KC_BACKUP_SHARE_LEN);
    }
    WANT(kcmd(0x80, KC_INS_BACKUP, 2, 1, NULL, 0, 256));
    memcpy(restore_blob, KC.resp, KC.resp_len);
    restore_blob_len = KC.resp_len;
    WANT(kcmd(0x80, KC_INS_BACKUP, 3, 0, NULL, 0, -1));
    WANT(kc_test_card_sendx(&KC, "80E00000"));
    WANT(kcmd(0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_KEY_DELETE, 1, NULL, 0, -1));
    WANT(kc_test_card_sendx(&KC, "80E60000"));
    s_admin();
    for (int x = 0; x < 2; x++)
        WANT(kcmd(0x80, KC_INS_RESTORE, 1, 0, shares[x], KC_BACKUP_SHARE_LEN, -1));
}
static uint32_t c_restore_key(void)
{
    return kcmd(0x80, KC_INS_RESTORE, 2, 1, restore_blob, restore_blob_len, 256);
}
/* A key made for a taken number: the old one retired, the new key, versions, entry: one commit. */
static uint32_t c_keygen_version(void)
{
    static const uint8_t d[] = {KC_KEY_TYPE_AES128, KC_KEYF_ENVELOPE, 0};
    return kcmd(0x80, KC_INS_PROVISION_GENERATE, KC_GENERATE_P1_KEY, 1, d, sizeof(d), 3);
}
static uint32_t c_put_tpl(void) { return put_tpl6(); }
static uint32_t c_put_del(void)
{
    return kcmd(0x80, KC_INS_PROVISION_PUT, KC_PUT_P1_TEMPLATE_DELETE, 2, NULL, 0, -1);
}
static uint32_t c_prov_abort(void) { return kc_test_card_sendx(&KC, "80E80000"); }
static uint32_t c_prov_commit(void) { return kc_test_card_sendx(&KC, "80E60000"); }
static uint32_t c_begin04(void) { return kbegin(KC_WAY_PREVIOUS_RANDOM, 2, NULL, 0); }
static uint32_t c_begin01(void) { return kbegin(KC_WAY_STATIC, 1, "\x00\x00\x00\x05", 4); }
static uint32_t c_begin03(void)
{
    return kbegin(KC_WAY_TARGET_SEED, 2, "0123456789abcdef", 16);
}
/* The card of a session cut in session 0, begun again in session 2 (several heads). */
static uint32_t c_begin03_session2(void)
{
    uint8_t d[27];
    memcpy(d, KSERIAL_T, 8);
    d[8] = 2;
    d[9] = 0;
    d[10] = 128;
    memcpy(d + 11, "0123456789abcdef", 16);
    return kcmd(0x80, KC_INS_ISSUE_BEGIN, KC_WAY_TARGET_SEED, 2, d, sizeof(d), 0);
}
static uint32_t c_wrap(void) { return kwrap(); }
static uint32_t c_begin03_packed(void)
{
    return kbegin(KC_WAY_TARGET_SEED | KC_ISSUE_BEGIN_PACKED, 2, "0123456789abcdef", 16);
}
static uint32_t c_end_abort(void) { return kcmd(0x80, KC_INS_ISSUE_END, 0, 0, NULL, 0, 0); }
static uint32_t c_end_mismatch(void)
{
    uint8_t d[1 + 2 + 16] = {1, 0x90, 0x00};
    return kcmd(0x80, KC_INS_ISSUE_END, 0, 0, d, sizeof(d), 0);
}
/* Late END of the cut session with a completion that does not verify: a receipt. */
static uint32_t c_end_late(void)
{
    uint8_t d[8 + 1 + 2 + 16 + 2] = {0};
    memcpy(d, KSERIAL_T, 8);
    d[8] = 1;
    d[9] = 0x90;
    d[27] = 4; /* lock way d, no data */
    return kcmd(0x80, KC_INS_ISSUE_END, KC_ISSUE_END_P1_LATE, 0, d, sizeof(d), 0);
}

/* target setups */
static void t_begin03(void) { WANT(tbegin(TC_WAY_TARGET_SEED, &H.sess)); }
static void t_begin04(void) { WANT(tbegin(TC_WAY_HOST_SEED, &H.sess)); }
static void t_begin01(void) { WANT(tbegin(TC_WAY_STATIC, &H.sess)); }
static void t_begin03_packed(void) { WANT(tbegin(TC_WAY_TARGET_SEED | TC_BEGIN_PACKED, &H.sess)); }
static void t_begin01_packed(void) { WANT(tbegin(TC_WAY_STATIC | TC_BEGIN_PACKED, &H.sess)); }
static void t_sel2001(void) { WANT(kc_tt_sendx(&TT, "00A4000C022001")); }
static void t_sel2002(void) { WANT(kc_tt_sendx(&TT, "00A4000C022002")); }

/* target commands */
static uint32_t t_manufacture(void) { return kc_tt_manufacture(&TT, TSERIAL); }
static uint32_t t_folder(void)
{
    uint8_t d[32];
    size_t n = folder(d, 0x3000, "APP");
    return tenv(TC_INS_CREATE, TC_CREATE_FOLDER, 0, d, n);
}
static uint32_t t_keyfile(void) { return tenv(TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, "\x11\x00\x3F\x00\x00", 5); }
static uint32_t t_keyfile_dup(void) { return tenv(TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, "\x10\x00\x3F\x00\x00", 5); }
static uint32_t t_transparent(void)
{
    return tenv(TC_INS_CREATE, TC_CREATE_DATA_FILE, 0, "\x21\x01\x3F\x00\x03\x00\x40\x00\x00", 9);
}
static uint32_t t_record(void)
{
    return tenv(TC_INS_CREATE, TC_CREATE_DATA_FILE, 0, "\x21\x02\x3F\x00\x04\x10\x04\x00\x00", 9);
}
static uint32_t t_setpin(void) { return tenv(TC_INS_SET_KEY, 3, TC_FKEY_PIN, "\x10\x00\x03" "5678", 7); }
static uint32_t t_setaes(void)
{
    uint8_t d[2 + 32] = {0x10, 0x00};
    memset(d + 2, 0x44, 32);
    return tenv(TC_INS_SET_KEY, 4, TC_FKEY_AES256, d, sizeof(d));
}
static uint32_t t_writebin(void) { return tenv(TC_INS_WRITE_BINARY, 0, 0, "\x20\x01\x00\x04\xCA\xFE\xBA\xBE", 8); }
static uint32_t t_writerec(void) { return tenv(TC_INS_WRITE_RECORD, 0, 0, "\x20\x02" "ABCDEFGH", 10); }
static uint32_t t_lock_a(void) { return tenv(TC_INS_COMPLETE, TC_LOCK_WAY_KEY, 0, NULL, 0); }
static uint32_t t_lock_b(void) { return tenv(TC_INS_COMPLETE, TC_LOCK_WAY_TABLE, 0, NULL, 0); }
static uint32_t t_lock_c(void) { return tenv(TC_INS_COMPLETE, TC_LOCK_WAY_FILE, 0, "\x0F\xC0", 2); }
static uint32_t t_lock_d(void) { return tenv(TC_INS_COMPLETE, TC_LOCK_WAY_FLAG, 0, NULL, 0); }
/* A packed envelope: outer SW << 16 | the last inner SW (the items run are H's business). */
static uint32_t tenv_packed(const kc_tt_item *it, size_t n)
{
    uint16_t sws[8];
    size_t k = 0;
    if (H.sess.bucket == 0 || !H.sess.packed)
        return 0x69850000u; /* no packed session on the host's side */
    uint16_t outer = kc_tt_env_packed(&TT, &H.sess, it, n, sws, &k);
    return (uint32_t)outer << 16 | (outer == 0x9000 && k ? sws[k - 1] : 0);
}
/* Three inner commands, three commits: a folder, a key file, a write. */
static uint32_t t_packed3(void)
{
    uint8_t d[32];
    size_t n = folder(d, 0x3000, "APP");
    kc_tt_item it[] = {{TC_INS_CREATE, TC_CREATE_FOLDER, 0, d, n},
                       {TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, "\x11\x00\x3F\x00\x00", 5},
                       {TC_INS_WRITE_BINARY, 0, 0, "\x20\x01\x00\x04\xCA\xFE\xBA\xBE", 8}};
    return tenv_packed(it, 3);
}
/* The second of three refused: the first stays, the third never runs. */
static uint32_t t_packed_refused(void)
{
    kc_tt_item it[] = {{TC_INS_WRITE_BINARY, 0, 0, "\x20\x01\x00\x04\xCA\xFE\xBA\xBE", 8},
                       {TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, "\x10\x00\x3F\x00\x00", 5},
                       {TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, "\x11\x00\x3F\x00\x00", 5}};
    return tenv_packed(it, 3);
}
/* A write and the lock (d) in one envelope. */
static uint32_t t_packed_lock(void)
{
    kc_tt_item it[] = {{TC_INS_WRITE_BINARY, 0, 0, "\x20\x01\x00\x04\xCA\xFE\xBA\xBE", 8},
                       {TC_INS_COMPLETE, TC_LOCK_WAY_FLAG, 0, NULL, 0}};
    return tenv_packed(it, 2);
}
static uint32_t t_verify_ok(void) { return kc_tt_sendx(&TT, "002000010431323334"); }
static uint32_t t_verify_wrong(void) { return kc_tt_sendx(&TT, "002000010439393939"); }
static uint32_t t_update(void) { return kc_tt_sendx(&TT, "00D6000004DEADBEEF"); }
static uint32_t t_append(void) { return kc_tt_sendx(&TT, "00E20000080102030405060708"); }

static const scen SCENS[] = {
    /* key card */
    {"VERIFY issuer wrong", KEY, B_K1, s_none, c_v81_wrong, 1, 0x81, 0, 0, NULL},
    {"VERIFY issuer ok", KEY, B_K1, s_none, c_v81_ok, 1, 0x81, 0, 0, NULL},
    {"VERIFY issuer ok after a wrong one", KEY, B_K1, s_wrong_issuer, c_v81_ok, 1, 0x81, 0, 0, NULL},
    {"VERIFY holder wrong", KEY, B_K1, s_issuer, c_v82_wrong, 1, 0x82, 0, 0, NULL},
    {"VERIFY holder ok (unlock audit)", KEY, B_K1, s_issuer, c_v82_ok, 1, 0x82, 0, 0, NULL},
    {"VERIFY holder wrong, blocks", KEY, B_K1, s_holder_two_wrong, c_v82_wrong, 1, 0x82, 0, 0, NULL},
    {"VERIFY admin wrong", KEY, B_K1, s_none, c_v83_wrong, 1, 0x83, 0, 0, NULL},
    {"VERIFY admin ok", KEY, B_K1, s_none, c_v83_ok, 1, 0x83, 0, 0, NULL},
    {"CHANGE REFERENCE DATA issuer", KEY, B_K1, s_none, c_change81, 1, 0x81, 0, 0x81, "24682468"},
    {"CHANGE REFERENCE DATA wrong old", KEY, B_K1, s_none, c_change81_wrong, 1, 0x81, 0, 0, NULL},
    {"RESET RETRY COUNTER new PIN", KEY, B_K1, s_admin_holder_wrong, c_reset02, 0, 0, 0, 0x82, "112233"},
    {"RESET RETRY COUNTER keep PIN", KEY, B_K1, s_admin_holder_wrong, c_reset03, 0, 0, 0, 0, NULL},
    {"PROVISION BEGIN", KEY, B_K1, s_admin, c_prov_begin, 0, 0, 0, 0, NULL},
    {"PROVISION GENERATE key (own commit)", KEY, B_K1, s_admin, c_keygen, 0, 0, 0, 0, NULL},
    {"PROVISION PUT key component (audit entry)", KEY, B_K1, s_admin, c_component, 0, 0, 0, 0, NULL},
    {"PROVISION GENERATE combine (key + entry)", KEY, B_K1, s_one_component, c_combine, 0, 0, 0, 0, NULL},
    {"KEY EXPORT (audit entry, then the blob)", KEY, B_K1, s_move_ready, c_export, 0, 0, 0, 0, NULL},
    {"KEY IMPORT (key + entry)", KEY, B_K1, s_move_ready, c_import, 0, 0, 0, 0, NULL},
    {"PROVISION GENERATE next version (retire + key + entry)", KEY, B_K1, s_admin, c_keygen_version, 0, 0, 0, 0, NULL},
    {"KEY DESTROY (entry, erase, flag)", KEY, B_K1, s_destroy_ready, c_destroy, 0, 0, 0, 0, NULL},
    {"BACKUP BEGIN (audit entry)", KEY, B_K1, s_admin, c_backup_begin, 0, 0, 0, 0, NULL},
    {"RESTORE KEY (key + entry)", KEY, B_K1, s_restore_ready, c_restore_key, 0, 0, 0, 0, NULL},
    {"PROVISION PUT credential (staged)", KEY, B_K1, s_prov_session, c_put_cred, 0, 0, 0, 0, NULL},
    {"PROVISION PUT key (staged)", KEY, B_K1, s_prov_session, c_put_key, 0, 0, 0, 0, NULL},
    {"PROVISION PUT template (staged)", KEY, B_K1, s_prov_session, c_put_tpl, 0, 0, 0, 0, NULL},
    {"PROVISION PUT delete (staged)", KEY, B_K1, s_prov_session, c_put_del, 0, 0, 0, 0, NULL},
    {"PROVISION ABORT", KEY, B_K1, s_prov_staged, c_prov_abort, 0, 0, 0, 0, NULL},
    {"PROVISION COMMIT", KEY, B_K1, s_prov_staged, c_prov_commit, 0, 0, 0, 0, NULL},
    {"PROVISION COMMIT first (chain created)", KEY, B_K0, s_first_session, c_prov_commit, 0, 0, 0, 0, NULL},
    {"ISSUE BEGIN way 04 (chain advance)", KEY, B_K1, s_unlock, c_begin04, 0, 0, 0, 0, NULL},
    /* Two commits: the replaced session's aborted receipt, then the new BEGIN. */
    {"ISSUE BEGIN way 04 again", KEY, B_K1, s_session, c_begin04, 1, 0, 0, 0, NULL},
    {"ISSUE BEGIN way 01", KEY, B_K1, s_unlock, c_begin01, 0, 0, 0, 0, NULL},
    /* Two commits: session 0's mark of the card closed (aborted receipt), then the BEGIN. */
    {"ISSUE BEGIN in session 2 of a card cut in session 0", KEY, B_K1, s_cut, c_begin03_session2, 1, 0, 0, 0, NULL},
    {"ISSUE BEGIN way 03", KEY, B_K1, s_unlock, c_begin03, 0, 0, 0, 0, NULL},
    {"ISSUE WRAP", KEY, B_K1, s_session, c_wrap, 0, 0, 0, 0, NULL},
    {"ISSUE BEGIN way 03 packed", KEY, B_K1, s_unlock, c_begin03_packed, 0, 0, 0, 0, NULL},
    {"ISSUE WRAP packed", KEY, B_K1, s_session_packed, c_wrap, 0, 0, 0, 0, NULL},
    {"ISSUE END abort (receipt)", KEY, B_K1, s_wrapped, c_end_abort, 0, 0, 0, 0, NULL},
    {"ISSUE END MAC mismatch (receipt)", KEY, B_K1, s_wrapped, c_end_mismatch, 0, 0, 0, 0, NULL},
    {"ISSUE END late (receipt of a cut session)", KEY, B_K1, s_cut, c_end_late, 0, 0, 0, 0, NULL},
    /* target card */
    {"MANUFACTURE", TGT, B_T0, s_none, t_manufacture, 0, 0, 0, 0, NULL},
    {"ENV create folder (first: -> ISSUING)", TGT, B_T1, t_begin03, t_folder, 0, 0, 0, 0, NULL},
    {"ENV create folder (host seed)", TGT, B_T2, t_begin04, t_folder, 0, 0, 0, 0, NULL},
    {"ENV create key file", TGT, B_T2, t_begin03, t_keyfile, 0, 0, 0, 0, NULL},
    {"ENV create transparent file", TGT, B_T2, t_begin03, t_transparent, 0, 0, 0, 0, NULL},
    {"ENV create record file", TGT, B_T2, t_begin03, t_record, 0, 0, 0, 0, NULL},
    {"ENV set key PIN", TGT, B_T2, t_begin03, t_setpin, 0, 0, 0, 0, NULL},
    {"ENV set key AES-256", TGT, B_T2, t_begin03, t_setaes, 0, 0, 0, 0, NULL},
    {"ENV write binary", TGT, B_T2, t_begin03, t_writebin, 0, 0, 0, 0, NULL},
    {"ENV write record", TGT, B_T2, t_begin03, t_writerec, 0, 0, 0, 0, NULL},
    {"ENV refused inner (chain)", TGT, B_T2, t_begin03, t_keyfile_dup, 0, 0, 0, 0, NULL},
    {"ENV static write binary (counter persist)", TGT, B_T2, t_begin01, t_writebin, 0, 0, 1, 0, NULL},
    {"ENV static refused inner (counter persist)", TGT, B_T2, t_begin01, t_keyfile_dup, 0, 0, 1, 0, NULL},
    {"ENV static first (-> ISSUING)", TGT, B_T1, t_begin01, t_folder, 0, 0, 1, 0, NULL},
    /* Packed envelopes: one commit per inner command, so each prefix is a state. */
    {"ENV packed: folder, key file, write", TGT, B_T2, t_begin03_packed, t_packed3, 1, 0, 0, 0, NULL},
    {"ENV packed: second of three refused", TGT, B_T2, t_begin03_packed, t_packed_refused, 1, 0, 0, 0, NULL},
    {"ENV packed: write and lock d", TGT, B_T2, t_begin03_packed, t_packed_lock, 1, 0, 0, 0, NULL},
    {"ENV packed static (counter persist)", TGT, B_T2, t_begin01_packed, t_packed3, 1, 0, 1, 0, NULL},
    {"COMPLETE lock way a (key)", TGT, B_T2, t_begin03, t_lock_a, 0, 0, 0, 0, NULL},
    {"COMPLETE lock way b (table)", TGT, B_T2, t_begin03, t_lock_b, 0, 0, 0, 0, NULL},
    {"COMPLETE lock way c (file)", TGT, B_T2, t_begin03, t_lock_c, 0, 0, 0, 0, NULL},
    {"COMPLETE lock way d (flag)", TGT, B_T2, t_begin04, t_lock_d, 0, 0, 0, 0, NULL},
    {"VERIFY ok", TGT, B_T2, s_none, t_verify_ok, 1, 1, 0, 0, NULL},
    {"VERIFY wrong", TGT, B_T2, s_none, t_verify_wrong, 1, 1, 0, 0, NULL},
    {"UPDATE BINARY", TGT, B_T2, t_sel2001, t_update, 0, 0, 0, 0, NULL},
    {"APPEND RECORD", TGT, B_T2, t_sel2002, t_append, 0, 0, 0, 0, NULL},
};
#define N_SCENS (sizeof(SCENS) / sizeof(SCENS[0]))

/* ---- bases ---------------------------------------------------------------- */

static const kc_model_dev *dev_of(int card)
{
    return card == KEY ? &KDEV : &TDEV;
}

static void devs_init(void)
{
    kc_test_card_new(&KC, 7);
    kc_tt_new(&TT, 9);
    KDEV = (kc_model_dev){&kc_keycard_card, KC.mem, &KC.ram, &KC.hw, KC.ctx};
    TDEV = (kc_model_dev){&kc_target_card, TT.mem, &TT.ram, &TT.hw, TT.tc};
    memset(&H, 0, sizeof(H));
    strcpy(H.pin81, KC_TEST_ISSUER_PIN);
    strcpy(H.pin82, KC_TEST_HOLDER_PIN);
    memset(base_have, 0, sizeof(base_have));
    memset(ST, 0, sizeof(ST));
    aged_found = aged_missed = 0;
}

static void devs_free(void)
{
    for (int b = 0; b < B_COUNT; b++)
        if (base_have[b])
            kc_model_snap_free(&base_snap[b]);
    kc_test_card_free(&KC);
    kc_tt_free(&TT);
}

static int base_card(int b)
{
    return b <= B_K1 || b == B_AGED_K ? KEY : TGT;
}

static void base_save(int b)
{
    const kc_model_dev *d = dev_of(base_card(b));
    if (base_have[b])
        kc_model_snap_update(d, &base_snap[b]);
    else
        kc_model_snap_take(d, &base_snap[b]);
    base_host[b] = H;
    base_have[b] = 1;
}

static void t_base2(void)
{
    kc_tt_session s;
    uint16_t in;
    static const struct { uint8_t ins, p1, p2; const char *d; size_t n; } steps[] = {
        {TC_INS_CREATE, TC_CREATE_KEY_FILE, 0, "\x10\x00\x3F\x00\x00", 5},
        {TC_INS_SET_KEY, 1, TC_FKEY_PIN, "\x10\x00\x03" "1234", 7},
        {TC_INS_CREATE, TC_CREATE_DATA_FILE, 0, "\x20\x01\x3F\x00\x03\x00\x20\x00\x00", 9},
        {TC_INS_CREATE, TC_CREATE_DATA_FILE, 0, "\x20\x02\x3F\x00\x04\x08\x04\x00\x00", 9},
        {TC_INS_SET_KEY, 2, TC_FKEY_AES128, "\x10\x00" "0123456789abcdef", 18},
        {TC_INS_CREATE, TC_CREATE_DATA_FILE, 0, "\x20\x03\x3F\x00\x03\x00\x01\x00\x00", 9},
    };
    WANT(tbegin(TC_WAY_TARGET_SEED, &s));
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        WANT(kc_tt_env(&TT, &s, steps[i].ins, steps[i].p1, steps[i].p2, steps[i].d, steps[i].n,
                       &in, NULL));
        ck_assert_uint_eq(in, 0x9000);
    }
    kc_tt_power(&TT, KC_POWER_RESET);
}

static void bases_build(void)
{
    base_save(B_K0);
    ck_assert_uint_eq(kc_test_card_provision_demo(&KC), 0x9000);
    ck_assert_uint_eq(kc_test_card_provision_issuance(&KC), 0x9000);
    WANT(kc_test_card_select(&KC));
    base_save(B_K1);
    base_save(B_T0);
    WANT(kc_tt_manufacture(&TT, TSERIAL));
    base_save(B_T1);
    t_base2();
    base_save(B_T2);
}

static void base_restore(int b)
{
    kc_model_snap_restore(dev_of(base_card(b)), &base_snap[b]);
    H = base_host[b];
}

/* ---- torn base: a dirty log tail makes the command compact ------------- */

/* One small commit of filler (card state: as left by filler_start). */
static void filler(int card, unsigned long n)
{
    if (card == KEY) {
        if (n % 2 == 0)
            WANT(kbegin(KC_WAY_PREVIOUS_RANDOM, 2, NULL, 0));
        else
            WANT(kcmd(0x80, KC_INS_ISSUE_END, 0, 0, NULL, 0, 0));
    } else {
        uint8_t b = (uint8_t)n;
        WANT(kc_tt_cmd(&TT, 0x00, TC_INS_UPDATE_BINARY, 0, 0, &b, 1, -1));
    }
}

static void filler_start(int card)
{
    if (card == KEY)
        WANT(kunlock());
    else
        WANT(kc_tt_sendx(&TT, "00A4000C022003"));
}

/* Back to the base's RAM state (nothing verified, nothing selected but the application). */
static void filler_end(int card)
{
    if (card == KEY) {
        kc_keycard_card.power(KC.ctx, KC_POWER_RESET);
        WANT(kc_test_card_select(&KC));
    } else {
        kc_tt_power(&TT, KC_POWER_RESET);
    }
}

/*
 * Build the "torn" base of s's card: s's base where an earlier filler commit
 * was cut halfway, then a reboot: the log tail is dirty, so the next write
 * compacts (erases the other area and copies). Returns 1 when s's command
 * (after s's setup) is that next write, so its cut points include erases.
 */
static int age_for(const scen *s)
{
    const kc_model_dev *dev = dev_of(s->card);
    int aged = s->card == KEY ? B_AGED_K : B_AGED_T;

    base_restore(s->base);
    /*
     * Twice: a torn commit and a reboot. The first dirty tail makes the good
     * filler compact into the other (never used, so already erased) area; the
     * second makes the command compact back into the first area, which must
     * be erased first.
     */
    for (int round = 0; round < 2; round++) {
        filler_start(s->card);
        if (round == 1)
            filler(s->card, 0);
        /* Second half of the first record programmed, its header not: the log ends there, dirty. */
        dev->ram->cut_after = (long)dev->ram->ops;
        dev->ram->cut_mode = KC_HW_RAM_CUT_TAIL;
        if (s->card == KEY)
            ck_assert_uint_eq(kbegin(KC_WAY_PREVIOUS_RANDOM, 2, NULL, 0), 0x6581);
        else
            ck_assert_uint_eq(kc_tt_sendx(&TT, "00D6000001AA"), 0x6581);
        ck_assert_int_eq(kc_model_reboot(dev), 0);
        if (s->card == KEY)
            WANT(kc_test_card_select(&KC));
    }
    filler_end(s->card);
    base_save(aged);
    unsigned long e0 = dev->ram->erases;
    s->setup();
    unsigned long e1 = dev->ram->erases;
    uint32_t c = s->cmd();
    if (getenv("KC_POWERCUT_DEBUG"))
        printf("  e0 %lu e1 %lu e2 %lu code %x dirty %d\n", e0, e1, dev->ram->erases, c,
               s->card == KEY ? ((kc_keycard *)KC.ctx)->store.dirty_tail : TT.tc->store.dirty_tail);
    if (e1 == e0 && dev->ram->erases > e1) {
        aged_found++;
        return 1;
    }
    aged_missed++;
    return 0;
}

/* ---- the model check after a reboot --------------------------------------- */

typedef struct ref_model {
    const scen *s;
    uint8_t before[32], after[32];
    kc_model_trace tr;
    uint32_t uncut;
    kstatus kb, ka;
    tinfo tb, ta;
    int have_useed;
    uint8_t useed[16];
    host hpre;
} ref_model;

static void check_point(const ref_model *m, long i, int mode, uint32_t code)
{
    const scen *s = m->s;
    const kc_model_dev *dev = dev_of(s->card);
    uint8_t d[32];

    ST[s->card].points++;
    if (kc_model_reboot(dev) != 0) {
        violation(i, mode, "%s", "card does not boot");
        return;
    }
    if (kc_model_digest(dev->ops, dev->mem, d) != 0) {
        violation(i, mode, "%s", "store does not mount");
        return;
    }
    int is_before = memcmp(d, m->before, 32) == 0;
    int is_after = memcmp(d, m->after, 32) == 0;
    if (!is_before && !is_after && !(s->multi && kc_model_trace_has(&m->tr, d)))
        violation(i, mode, "state %s is neither before nor after (a mix)", kc_model_hex8(d));
    if (code == m->uncut && !is_after && mode >= 0)
        violation(i, mode, "answered as if done (%s) but the state is not the after state", "same SW");
    if (mode < 0 && !is_after)
        violation(i, mode, "%s", "after state lost by a reboot");

    if (s->card == KEY) {
        kstatus k = kstatus_read();
        if (!k.ok) {
            violation(i, mode, "%s", "status unreadable");
            return;
        }
        for (int r = 0; r < 3; r++)
            if (!is_after && m->kb.tries[r] != 0xFF && k.tries[r] > m->kb.tries[r])
                violation(i, mode, "a try of reference %s came back", r == 0 ? "81" : r == 1 ? "82" : "83");
        if (s->ref) {
            unsigned t = k.tries[s->ref - 0x81], b = m->kb.tries[s->ref - 0x81];
            if (t != b && t + 1 != b && t != m->ka.tries[s->ref - 0x81])
                violation(i, mode, "%s", "tries neither before, before - 1 nor after");
        }
        if (k.lifecycle == 0x07) {
            const char *e = kaudit_check(k.next_seq);
            if (e && *e)
                violation(i, mode, "audit log: %s", e);
        }
        if (is_after && s->newref == 0x81)
            strcpy(H.pin81, s->newpin);
        if (is_after && s->newref == 0x82)
            strcpy(H.pin82, s->newpin);
        if (k.lifecycle == 0x07 && kunlock() == 0x9000 &&
            kbegin(KC_WAY_PREVIOUS_RANDOM, 2, NULL, 0) == 0x9000) {
            for (size_t j = 0; j + 1 < H.n_seeds; j++)
                if (memcmp(H.seeds[j], KC.resp, 16) == 0)
                    violation(i, mode, "%s", "a previous-random seed was handed out twice");
            if (is_after && m->have_useed && memcmp(m->useed, KC.resp, 16) == 0)
                violation(i, mode, "%s", "after state yet the seed of the command came again");
        }
    } else {
        tinfo ti = tinfo_read(s->statik);
        if (ti.locks && ti.state != TC_STATE_ISSUED)
            violation(i, mode, "%s", "lock bits set but not ISSUED");
        if (!is_after && m->tb.tries >= 0 && ti.tries > m->tb.tries)
            violation(i, mode, "%s", "a PIN try came back");
        if (s->ref && ti.tries != m->tb.tries && ti.tries + 1 != m->tb.tries && ti.tries != m->ta.tries)
            violation(i, mode, "%s", "tries neither before, before - 1 nor after");
        if (s->statik && ti.next_static < m->tb.next_static)
            violation(i, mode, "%s", "static counter went back");
        int accepted = t_issuance_accepted();
        if (ti.state == TC_STATE_ISSUED && accepted)
            violation(i, mode, "%s", "reports ISSUED yet a sealed issuance command still runs");
        if (ti.state != TC_STATE_ISSUED && ti.state != TC_STATE_VIRGIN && !accepted)
            violation(i, mode, "%s", "not ISSUED yet issuance refused");
    }
}

/* Run one command through every cut point and mode. */
static void run_scen(const scen *s, int base, kc_model_snap *pre, int n_modes)
{
    const kc_model_dev *dev = dev_of(s->card);
    static ref_model m;

    cur_name = s->name;
    cur_card = s->card;
    memset(&m, 0, sizeof(m));
    m.s = s;
    base_restore(base);
    s->setup();
    kc_model_snap_update(dev, pre);
    m.hpre = H;
    ck_assert_int_eq(kc_model_digest(dev->ops, dev->mem, m.before), 0);
    if (s->card == KEY)
        m.kb = kstatus_read();
    else
        m.tb = tinfo_read(s->statik);

    kc_model_snap_restore(dev, pre);
    H = m.hpre;
    unsigned long ops0 = dev->ram->ops;
    kc_model_trace_start(&m.tr, dev);
    m.uncut = s->cmd();
    kc_model_trace_stop(&m.tr);
    unsigned long k = dev->ram->ops - ops0;
    ck_assert_int_eq(kc_model_digest(dev->ops, dev->mem, m.after), 0);
    m.have_useed = H.n_seeds > m.hpre.n_seeds;
    if (m.have_useed)
        memcpy(m.useed, H.last_seed, 16);
    if (s->card == KEY)
        m.ka = kstatus_read();
    else
        m.ta = tinfo_read(s->statik);
    ST[s->card].commands++;
    ST[s->card].erase_points += m.tr.erases;

    for (unsigned long i = 0; i < k; i++) {
        for (int mode = 0; mode < KC_HW_RAM_CUT_MODES; mode++) {
            /* Quick (under valgrind): every cut point, one mode each in turn. */
            if (n_modes == 1 && mode != (int)(i % KC_HW_RAM_CUT_MODES))
                continue;
            kc_model_snap_restore(dev, pre);
            H = m.hpre;
            dev->ram->cut_after = (long)(ops0 + i);
            dev->ram->cut_mode = mode;
            uint32_t code = s->cmd();
            if (!dev->ram->dead)
                violation((long)i, mode, "%s", "cut point not reached (op count differs between runs)");
            check_point(&m, (long)i, mode, code);
        }
    }
    /* Power lost right after the command completed. */
    kc_model_snap_restore(dev, pre);
    H = m.hpre;
    check_point(&m, (long)k, -1, s->cmd());
    if (getenv("KC_POWERCUT_VERBOSE"))
        printf("  %-44s K=%lu (erases %lu, states %zu) uncut %08x\n", s->name, k, m.tr.erases,
               m.tr.n, m.uncut);
}

/* ---- random soak --------------------------------------------------------- */

static uint32_t k_unlock(void) { return kunlock(); }
static uint32_t k_select(void) { return kc_test_card_select(&KC); }
static uint32_t k_garbage(void) { return kc_test_card_sendx(&KC, "80FF0000"); }
static uint32_t k_status(void) { return kstatus_read().ok ? 0x9000 : 0x6F00; }
static uint32_t t_b03(void) { return tbegin(TC_WAY_TARGET_SEED, &H.sess); }
static uint32_t t_b04(void) { return tbegin(TC_WAY_HOST_SEED, &H.sess); }
static uint32_t t_b01(void) { return tbegin(TC_WAY_STATIC, &H.sess); }
static uint32_t t_b03p(void) { return tbegin(TC_WAY_TARGET_SEED | TC_BEGIN_PACKED, &H.sess); }
static uint32_t t_s1(void) { return kc_tt_sendx(&TT, "00A4000C022001"); }
static uint32_t t_s2(void) { return kc_tt_sendx(&TT, "00A4000C022002"); }
static uint32_t t_garbage(void) { return kc_tt_sendx(&TT, "80C2000003010203"); }

typedef struct soak_cmd {
    uint32_t (*fn)(void);
    int multi;
} soak_cmd;

static const soak_cmd SOAK_K[] = {
    {k_unlock, 1}, {k_unlock, 1}, {k_select, 0}, {k_garbage, 0}, {k_status, 0},
    {c_v81_wrong, 1}, {c_v81_ok, 1}, {c_v82_wrong, 1}, {c_v82_ok, 1}, {c_v83_ok, 1},
    {c_v83_ok, 1}, {c_change81_wrong, 1}, {c_reset03, 0}, {c_prov_begin, 0}, {c_put_cred, 0},
    {c_put_key, 0}, {c_put_tpl, 0}, {c_put_del, 0}, {c_prov_abort, 0}, {c_prov_commit, 0},
    {c_begin04, 1}, {c_begin04, 1}, {c_begin01, 1}, {c_begin03, 1}, {c_wrap, 0}, {c_end_abort, 0},
    {c_end_mismatch, 0}, {c_begin03_packed, 1},
};
static const soak_cmd SOAK_T[] = {
    {t_b03, 0}, {t_b04, 0}, {t_b01, 0}, {t_s1, 0}, {t_s2, 0}, {t_garbage, 0}, {t_folder, 0},
    {t_keyfile, 0}, {t_keyfile_dup, 0}, {t_transparent, 0}, {t_record, 0}, {t_setpin, 0},
    {t_setaes, 0}, {t_writebin, 0}, {t_writerec, 0}, {t_writebin, 0}, {t_verify_ok, 1},
    {t_verify_wrong, 1}, {t_update, 0}, {t_append, 0}, {t_lock_d, 0}, {t_b03p, 0},
    {t_packed3, 1}, {t_packed_refused, 1}, {t_packed_lock, 1},
};

static uint64_t soak_rng = 0x1234567ULL;
static unsigned soak_rand(unsigned n)
{
    soak_rng ^= soak_rng << 13;
    soak_rng ^= soak_rng >> 7;
    soak_rng ^= soak_rng << 17;
    return (unsigned)(soak_rng % n);
}

static unsigned long soak_steps(void)
{
    const char *e = getenv("KC_SOAK_STEPS");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? (unsigned long)v : (RUNNING_ON_VALGRIND ? 40 : 300);
}

/* Random commands from base with a cut at a random point of one step in three. */
static void soak(int card, int base, unsigned long steps)
{
    const kc_model_dev *dev = dev_of(card);
    const soak_cmd *pool = card == KEY ? SOAK_K : SOAK_T;
    size_t n_pool = card == KEY ? sizeof(SOAK_K) / sizeof(SOAK_K[0]) : sizeof(SOAK_T) / sizeof(SOAK_T[0]);
    kc_model_snap pre;
    static kc_model_trace tr;
    static host hpre;
    uint8_t before[32], after[32], d[32];

    cur_card = card;
    cur_name = card == KEY ? "soak key card" : "soak target card";
    base_restore(base);
    kc_model_snap_take(dev, &pre);
    for (unsigned long step = 0; step < steps; step++) {
        const soak_cmd *c = &pool[soak_rand((unsigned)n_pool)];
        kstatus kb = {0};
        kc_model_snap_update(dev, &pre);
        hpre = H;
        ck_assert_int_eq(kc_model_digest(dev->ops, dev->mem, before), 0);
        if (card == KEY) {
            kb = kstatus_read();
            kc_model_snap_restore(dev, &pre);
        }
        unsigned long ops0 = dev->ram->ops;
        kc_model_trace_start(&tr, dev);
        uint32_t uncut = c->fn();
        kc_model_trace_stop(&tr);
        unsigned long k = dev->ram->ops - ops0;
        ck_assert_int_eq(kc_model_digest(dev->ops, dev->mem, after), 0);
        if (k == 0 || soak_rand(3) != 0)
            continue; /* no cut: carry on from the after state */
        kc_model_snap_restore(dev, &pre);
        H = hpre;
        long at = (long)soak_rand((unsigned)k);
        int mode = (int)soak_rand(KC_HW_RAM_CUT_MODES);
        dev->ram->cut_after = (long)ops0 + at;
        dev->ram->cut_mode = mode;
        uint32_t code = c->fn();
        ST[card].points++;
        if (kc_model_reboot(dev) != 0 || kc_model_digest(dev->ops, dev->mem, d) != 0) {
            violation(at, mode, "step %lu: card does not boot", step);
            break;
        }
        int is_after = memcmp(d, after, 32) == 0;
        if (memcmp(d, before, 32) != 0 && !is_after && !(c->multi && kc_model_trace_has(&tr, d)))
            violation(at, mode, "step %lu: state is a mix", step);
        if (code == uncut && !is_after)
            violation(at, mode, "step %lu: answered as done, state not after", step);
        if (card == KEY) {
            kstatus ks = kstatus_read();
            /* A step of two commands (unlock) may legitimately stop between them. */
            int traced = c->multi && kc_model_trace_has(&tr, d);
            for (int r = 0; r < 3; r++)
                if (!is_after && !traced && kb.ok && kb.tries[r] != 0xFF && ks.tries[r] > kb.tries[r])
                    violation(at, mode, "step %lu (cmd %d, K %lu, code %x/%x): try of ref %d came back %u -> %u", step,
                              (int)(c - pool), k, code, uncut, r, kb.tries[r], ks.tries[r]);
            if (ks.lifecycle == 0x07) {
                const char *e = kaudit_check(ks.next_seq);
                if (e && *e)
                    violation(at, mode, "step %lu: audit log: %s", step, e);
            }
        } else {
            tinfo ti = tinfo_read(0);
            if (ti.locks && ti.state != TC_STATE_ISSUED)
                violation(at, mode, "step %lu: lock bits without ISSUED", step);
        }
    }
    kc_model_snap_free(&pre);
}

START_TEST(test_soak)
{
    unsigned long steps = soak_steps();
    devs_init();
    bases_build();
    soak(KEY, B_K1, steps);
    soak(TGT, B_T2, steps);
    printf("power-cut soak: %lu steps per card, %lu cuts, %lu violations\n", steps,
           ST[KEY].points + ST[TGT].points, ST[KEY].violations + ST[TGT].violations);
    fflush(stdout);
    devs_free();
    ck_assert_uint_eq(ST[KEY].violations + ST[TGT].violations, 0);
}
END_TEST

static const char *card_name(int c)
{
    return c == KEY ? "key card" : "target card";
}

START_TEST(test_campaign)
{
    kc_model_snap pre[2];
    devs_init();
    bases_build();
    kc_model_snap_take(&KDEV, &pre[KEY]);
    kc_model_snap_take(&TDEV, &pre[TGT]);
    /* Under valgrind (CI memcheck) or KC_POWERCUT_QUICK: one mode per cut point, no torn runs. */
    int quick = RUNNING_ON_VALGRIND || getenv("KC_POWERCUT_QUICK") != NULL;
    for (size_t i = 0; i < N_SCENS; i++) {
        const scen *s = &SCENS[i];
        run_scen(s, s->base, &pre[s->card], quick ? 1 : KC_HW_RAM_CUT_MODES);
        if (quick)
            continue;
        /* Again after a torn write, so the command compacts: cuts at erases. */
        if (s->base != B_K0 && s->base != B_T0 && s->base != B_T1 && age_for(s))
            run_scen(s, s->card == KEY ? B_AGED_K : B_AGED_T, &pre[s->card], KC_HW_RAM_CUT_MODES);
    }
    unsigned long pts = 0, vio = 0;
    for (int c = 0; c < 2; c++) {
        printf("power-cut campaign, %s: %lu commands, %lu cut points (%lu at erases), %lu violations\n",
               card_name(c), ST[c].commands, ST[c].points, ST[c].erase_points, ST[c].violations);
        pts += ST[c].points;
        vio += ST[c].violations;
    }
    printf("power-cut campaign: %lu commands also run after a torn write (command compacts), %lu not (setup compacts)\n",
           aged_found, aged_missed);
    printf("power-cut campaign: %lu cut points, %lu violations\n", pts, vio);
    fflush(stdout);
    kc_model_snap_free(&pre[KEY]);
    kc_model_snap_free(&pre[TGT]);
    devs_free();
    ck_assert_uint_gt(pts, 0);
    ck_assert_uint_eq(vio, 0);
}
END_TEST

/*
 * Damage is not a tear: every byte of a populated image flipped once (one
 * bit, the bit cycling with the offset). Mounting it must either give
 * exactly the committed contents of the original (the byte was padding, the
 * final confirm record, or erased flash) or refuse the image — never an
 * older or other state. Erased stretches are sampled, every byte carrying
 * data is flipped.
 */
static void bitflip(const kc_model_dev *dev, unsigned long *flips, unsigned long *refused,
                    unsigned long *rollbacks)
{
    size_t size = dev->ops->flash_size;
    uint8_t d0[32], d[32];
    uint8_t *img = malloc(size);
    size_t step_ff = RUNNING_ON_VALGRIND ? 4096 : 257, step = RUNNING_ON_VALGRIND ? 7 : 1;

    ck_assert_ptr_nonnull(img);
    memcpy(img, dev->mem, size);
    ck_assert_int_eq(kc_model_digest(dev->ops, img, d0), 0);
    for (size_t i = 0; i < size; i++) {
        if (img[i] == 0xFF ? i % step_ff != 0 : i % step != 0)
            continue;
        uint8_t keep = img[i];
        img[i] ^= (uint8_t)(1u << (i % 8));
        (*flips)++;
        if (kc_model_digest(dev->ops, img, d) != 0) {
            (*refused)++;
        } else if (memcmp(d, d0, 32) != 0) {
            (*rollbacks)++;
            if (*rollbacks <= 5)
                printf("bit flip at %zu (byte %02X -> %02X): mounted another state\n", i, keep,
                       img[i]);
            if (getenv("KC_BITFLIP_DUMP") && *rollbacks == 1) {
                FILE *f = fopen(getenv("KC_BITFLIP_DUMP"), "wb");
                img[i] = keep;
                fwrite(img, 1, size, f);
                fclose(f);
            }
        }
        img[i] = keep;
    }
    free(img);
}

START_TEST(test_bitflip)
{
    unsigned long flips = 0, refused = 0, rollbacks = 0;
    devs_init();
    bases_build();
    /* The provisioned key card, the target with files. */
    base_restore(B_K1);
    bitflip(dev_of(KEY), &flips, &refused, &rollbacks);
    base_restore(B_T2);
    bitflip(dev_of(TGT), &flips, &refused, &rollbacks);
    /* The key card again after its log compacted (its old area retired). */
    base_restore(B_K1);
    kc_store *ks = &((kc_keycard *)KC.ctx)->store;
    static uint8_t junk[2000];
    uint32_t g0 = ks->generation;
    while (ks->generation == g0)
        ck_assert_int_eq(kc_store_put1(ks, 0x7000, junk, sizeof junk), 0);
    ck_assert_int_eq(kc_store_begin(ks), 0);
    ck_assert_int_eq(kc_store_delete(ks, 0x7000), 0);
    ck_assert_int_eq(kc_store_commit(ks), 0);
    bitflip(dev_of(KEY), &flips, &refused, &rollbacks);
    printf("bit flips: %lu images, %lu refused as damaged, %lu silent rollbacks\n", flips, refused,
           rollbacks);
    fflush(stdout);
    ck_assert_uint_gt(refused, 0);
    ck_assert_uint_eq(rollbacks, 0);
}
END_TEST

static Suite *powercut_suite(void)
{
    Suite *s = suite_create("powercut");
    TCase *tc = tcase_create("campaign");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_campaign);
    suite_add_tcase(s, tc);
    tc = tcase_create("soak");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_soak);
    suite_add_tcase(s, tc);
    tc = tcase_create("bitflip");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, test_bitflip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(powercut_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
