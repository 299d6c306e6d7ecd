/*
 * issue_replay.c - the replay and lock checks of 40-issue.sh, over PC/SC
 * with libkeycard's raw target transmit: envelopes captured from one session
 * are sent again in the same session, in a later session of the same card
 * and to another card; single flipped bits; all envelopes of a session have
 * one length; after the lock a correctly encrypted issuance command is
 * refused with 6985 and operational commands follow the access rights.
 *
 *   issue_replay replay KEYCARD-READER TARGET-READER
 *       (needs two blank cards in the stacker: ejects both)
 *   issue_replay locked KEYCARD-READER TARGET-READER PIN
 *       (the card in the slot is issued with the 40-issue profiles:
 *        file 1010 read always, 1012 read PIN 1 = PIN)
 *
 * The issuer and holder PINs come from KEYCARD_ISSUER_PIN / KEYCARD_HOLDER_PIN.
 * Prints "ok - ..." / "not ok - ..." lines; exit 0 when all passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keycard.h"

static int fails, checks;

static void check(int ok, const char *what)
{
    checks++;
    if (!ok)
        fails++;
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
}

static unsigned sw_of(const uint8_t *r, size_t n)
{
    return n >= 2 ? (unsigned)r[n - 2] << 8 | r[n - 1] : 0;
}

/* Raw APDU to the target; returns the SW (0 on a transport error). */
static unsigned raw(keycard_target *t, const uint8_t *apdu, size_t len, uint8_t *resp,
                    size_t *rlen)
{
    static uint8_t tmp[4200];
    size_t n = sizeof tmp;
    if (keycard_target_transmit(t, apdu, len, resp ? resp : tmp, resp ? rlen : &n) != KEYCARD_OK)
        return 0;
    return sw_of(resp ? resp : tmp, resp ? *rlen : n);
}

/* A "create folder" step (template 1) for folder fid named name. */
static size_t folder_params(uint8_t *p, unsigned fid, const char *name)
{
    size_t n = strlen(name);
    p[0] = (uint8_t)(fid >> 8);
    p[1] = (uint8_t)fid;
    p[2] = 0x3F;
    p[3] = 0x00;
    p[4] = 0x00;
    p[5] = 0x40; /* quota 64 */
    p[6] = 0x00;
    p[7] = 0xFF;
    p[8] = (uint8_t)n;
    memcpy(p + 9, name, n);
    return 9 + n;
}

typedef struct session {
    uint8_t env[8][1200];
    size_t len[8];
    size_t n;
} session;

/*
 * A session of way target-seed with key 1 on both cards, and nsteps folder
 * steps wrapped into s. Returns 0 or -1.
 */
static int open_session(keycard *kc, keycard_target *t, unsigned base, size_t nsteps, session *s)
{
    keycard_target_info info;
    keycard_step steps[8];
    uint8_t params[8][32], out[8 * 1200];
    size_t out_len = sizeof out, off = 0, i;
    char name[16];

    if (keycard_target_info_read(t, &info) != KEYCARD_OK)
        return -1;
    keycard_issue_nonces n;
    if (keycard_target_issue_begin(t, KEYCARD_WAY_TARGET_SEED, 1, &n) != KEYCARD_OK ||
        keycard_issue_open(kc, KEYCARD_WAY_TARGET_SEED, info.serial, 1, 256, &n) != KEYCARD_OK ||
        keycard_target_issue_bind(t, &n) != KEYCARD_OK)
        return -1;
    for (i = 0; i < nsteps; i++) {
        snprintf(name, sizeof name, "R%04X", base + (unsigned)i);
        steps[i].template_no = 1;
        steps[i].params = params[i];
        steps[i].params_len = folder_params(params[i], base + (unsigned)i, name);
    }
    if (keycard_issue_wrap(kc, steps, nsteps, out, &out_len) != KEYCARD_OK)
        return -1;
    for (s->n = 0; s->n < nsteps; s->n++) {
        const uint8_t *a;
        size_t al;
        if (keycard_issue_next(out, out_len, &off, &a, &al) != KEYCARD_OK || al > 1200)
            return -1;
        memcpy(s->env[s->n], a, al);
        s->len[s->n] = al;
    }
    return 0;
}

static void end_abort(keycard *kc)
{
    int result;
    (void)keycard_issue_end(kc, NULL, 0, NULL, &result);
}

/* Eject the card in the slot and open the next one (another serial). */
static keycard_target *next_card(keycard_target *t, const char *where)
{
    static const uint8_t ej[4] = {0xFF, 0xEE, 0x00, 0x00};
    keycard_target_info a, b;
    keycard_target *n = NULL;
    int i;

    if (keycard_target_info_read(t, &a) != KEYCARD_OK)
        return NULL;
    if (raw(t, ej, sizeof ej, NULL, NULL) != 0x9000)
        return NULL;
    keycard_target_close(t);
    for (i = 0; i < 60; i++) {
        usleep(200000);
        if (keycard_target_open(&n, where) != KEYCARD_OK)
            continue;
        if (keycard_target_info_read(n, &b) == KEYCARD_OK && memcmp(a.serial, b.serial, 8) != 0)
            return n;
        keycard_target_close(n);
        n = NULL;
    }
    return NULL;
}

static int do_replay(keycard *kc, const char *where)
{
    keycard_target *t = NULL;
    static session s1, s2, s3;
    size_t i, rl;
    uint8_t r[512];
    unsigned sw;
    char what[160];

    if (keycard_target_open(&t, where) != KEYCARD_OK) {
        check(0, "open the first target card");
        return 1;
    }
    /* Session 1: three envelopes, all one length. */
    check(open_session(kc, t, 0x4100, 3, &s1) == 0, "session 1 opened, 3 steps wrapped");
    for (i = 1; i < s1.n; i++)
        if (s1.len[i] != s1.len[0])
            break;
    snprintf(what, sizeof what, "all envelopes of a session have one length (%zu bytes)",
             s1.len[0]);
    check(s1.n == 3 && i == s1.n, what);
    rl = sizeof r;
    sw = raw(t, s1.env[0], s1.len[0], r, &rl);
    check(sw == 0x9000 && rl >= 6 && r[4] == 0x90 && r[5] == 0x00,
          "envelope 1 accepted (outer 9000, inner 9000)");
    sw = raw(t, s1.env[0], s1.len[0], NULL, NULL);
    snprintf(what, sizeof what, "envelope 1 sent again in the same session refused (%04X)", sw);
    check(sw != 0x9000 && sw != 0, what);
    sw = raw(t, s1.env[1], s1.len[1], NULL, NULL);
    snprintf(what, sizeof what, "the session is over after the replay: envelope 2 refused (%04X)",
             sw);
    check(sw == 0x6985, what);
    end_abort(kc);

    /* Session 2 of the same card: an envelope of session 1 fails. */
    check(open_session(kc, t, 0x4200, 2, &s2) == 0, "session 2 of the same card opened");
    sw = raw(t, s1.env[1], s1.len[1], NULL, NULL);
    snprintf(what, sizeof what, "envelope 2 of session 1 replayed in session 2 refused (%04X)",
             sw);
    check(sw != 0x9000 && sw != 0, what);
    sw = raw(t, s2.env[0], s2.len[0], NULL, NULL);
    snprintf(what, sizeof what, "and it ended session 2: its own envelope refused (%04X)", sw);
    check(sw == 0x6985, what);
    end_abort(kc);

    /* Single flipped bits: counter, header, ciphertext, tag. */
    {
        static const struct {
            size_t pos; /* from the start, or from the end when >= 1000 */
            const char *where;
        } flips[] = {{3, "P2"}, {8, "counter"}, {40, "ciphertext"}, {1000 + 2, "tag"}};
        for (i = 0; i < sizeof flips / sizeof flips[0]; i++) {
            size_t p;
            check(open_session(kc, t, 0x4300 + (unsigned)i * 4, 1, &s3) == 0,
                  "a fresh session for a flipped bit");
            p = flips[i].pos >= 1000 ? s3.len[0] - (flips[i].pos - 1000) - 1 : flips[i].pos;
            /* Extended Le is the last 2 bytes: the tag ends before them. */
            s3.env[0][p] ^= 0x04;
            sw = raw(t, s3.env[0], s3.len[0], NULL, NULL);
            snprintf(what, sizeof what, "one bit flipped in the %s refused (%04X)",
                     flips[i].where, sw);
            check(sw != 0x9000 && sw != 0, what);
            s3.env[0][p] ^= 0x04;
            sw = raw(t, s3.env[0], s3.len[0], NULL, NULL);
            snprintf(what, sizeof what, "the session ended with it: the intact envelope refused "
                                        "(%04X)", sw);
            check(sw != 0x9000, what);
            end_abort(kc);
        }
    }

    /* Another card: an envelope made for the first one fails. */
    t = next_card(t, where);
    check(t != NULL, "the stacker inserted the second card");
    if (t == NULL)
        return 1;
    sw = raw(t, s1.env[2], s1.len[2], NULL, NULL);
    snprintf(what, sizeof what, "another card's envelope refused without a session (%04X)", sw);
    check(sw == 0x6985, what);
    check(open_session(kc, t, 0x4400, 3, &s2) == 0, "a session on the second card opened");
    sw = raw(t, s1.env[1], s1.len[1], NULL, NULL);
    snprintf(what, sizeof what, "the first card's envelope 2 refused by the second card (%04X)",
             sw);
    check(sw != 0x9000 && sw != 0, what);
    end_abort(kc);
    t = next_card(t, where);
    check(t != NULL, "the stacker inserted the third card");
    keycard_target_close(t);
    return 0;
}

static int do_locked(keycard *kc, const char *where, const char *pin)
{
    keycard_target *t = NULL;
    keycard_target_info info;
    keycard_step st;
    uint8_t params[32], out[1400], r[600];
    size_t out_len = sizeof out, off = 0, al, rl;
    const uint8_t *a;
    unsigned sw;
    keycard_rc rc;
    char what[200];

    if (keycard_target_open(&t, where) != KEYCARD_OK ||
        keycard_target_info_read(t, &info) != KEYCARD_OK) {
        check(0, "open the issued target card");
        return 1;
    }
    check(info.state == KEYCARD_TARGET_ISSUED, "the card says ISSUED");
    /* A correctly made envelope: the key card's own seed (way 4) for this card. */
    keycard_issue_nonces nn;
    memset(&nn, 0, sizeof nn);
    rc = keycard_target_issue_begin(t, KEYCARD_WAY_PREVIOUS_RANDOM, 1, &nn);
    snprintf(what, sizeof what, "target BEGIN after the lock: %s (lock ways %X)",
             rc == KEYCARD_OK ? "accepted" : keycard_strerror(rc), info.locks);
    /* Lock (b) keeps sessions but refuses the issuance INS; the others refuse BEGIN. */
    check(info.locks & 0x02 ? rc == KEYCARD_OK : rc == KEYCARD_ERR_CONDITIONS, what);
    keycard_rc trc = rc;
    rc = keycard_issue_open(kc, KEYCARD_WAY_PREVIOUS_RANDOM, info.serial, 1, 256, &nn);
    check(rc == KEYCARD_OK, "key card session for the issued card");
    if (trc == KEYCARD_OK)
        check(keycard_target_issue_bind(t, &nn) == KEYCARD_OK, "target BIND after the lock (b)");
    st.template_no = 1;
    st.params = params;
    st.params_len = folder_params(params, 0x4500, "LATE");
    rc = keycard_issue_wrap(kc, &st, 1, out, &out_len);
    check(rc == KEYCARD_OK && keycard_issue_next(out, out_len, &off, &a, &al) == KEYCARD_OK,
          "the key card made a correctly encrypted CREATE FOLDER for it");
    if (rc == KEYCARD_OK) {
        sw = raw(t, a, al, NULL, NULL);
        snprintf(what, sizeof what, "correctly encrypted issuance command after the lock "
                                    "refused 6985 (got %04X)", sw);
        check(sw == 0x6985, what);
    }
    end_abort(kc);

    /* Operational commands with the rights set at issuance. */
    {
        static const uint8_t sel1010[7] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x10, 0x10};
        static const uint8_t sel1012[7] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x10, 0x12};
        static const uint8_t rb[5] = {0x00, 0xB0, 0x00, 0x00, 0x08};
        uint8_t vf[5 + 16] = {0x00, 0x20, 0x00, 0x01};
        uint8_t ub[5 + 4] = {0x00, 0xD6, 0x00, 0x00, 0x04, 'N', 'E', 'W', '!'};
        size_t pl = strlen(pin);

        check(raw(t, sel1010, 7, NULL, NULL) == 0x9000, "SELECT 1010 (operational)");
        rl = sizeof r;
        sw = raw(t, rb, 5, r, &rl);
        snprintf(what, sizeof what, "READ BINARY of 1010 (read always): %04X", sw);
        check(sw == 0x9000 && rl == 10, what);
        sw = raw(t, ub, sizeof ub, NULL, NULL);
        snprintf(what, sizeof what, "UPDATE BINARY of 1010 without PIN 1 refused (%04X)", sw);
        check(sw == 0x6982, what);
        check(raw(t, sel1012, 7, NULL, NULL) == 0x9000, "SELECT 1012");
        sw = raw(t, rb, 5, NULL, NULL);
        snprintf(what, sizeof what, "READ BINARY of 1012 (read PIN 1) refused before VERIFY (%04X)",
                 sw);
        check(sw == 0x6982, what);
        vf[4] = (uint8_t)pl;
        memcpy(vf + 5, pin, pl);
        sw = raw(t, vf, 5 + pl, NULL, NULL);
        snprintf(what, sizeof what, "VERIFY PIN 1 (%04X)", sw);
        check(sw == 0x9000, what);
        rl = sizeof r;
        sw = raw(t, rb, 5, r, &rl);
        snprintf(what, sizeof what, "READ BINARY of 1012 after VERIFY (%04X)", sw);
        check(sw == 0x9000, what);
        check(raw(t, sel1010, 7, NULL, NULL) == 0x9000, "SELECT 1010 again");
        sw = raw(t, ub, sizeof ub, NULL, NULL);
        snprintf(what, sizeof what, "UPDATE BINARY of 1010 (change PIN 1) after VERIFY (%04X)",
                 sw);
        check(sw == 0x9000, what);
    }
    keycard_target_close(t);
    return 0;
}

int main(int argc, char **argv)
{
    keycard *kc = NULL;
    const char *ip = getenv("KEYCARD_ISSUER_PIN"), *hp = getenv("KEYCARD_HOLDER_PIN");
    char kw[512], tw[512];

    if (argc < 4 || !ip || !hp || (strcmp(argv[1], "locked") == 0 && argc < 5)) {
        fprintf(stderr, "usage: issue_replay replay|locked KC-READER TARGET-READER [PIN]\n");
        return 2;
    }
    snprintf(kw, sizeof kw, "pcsc:%s", argv[2]);
    snprintf(tw, sizeof tw, "pcsc:%s", argv[3]);
    if (keycard_open(&kc, kw) != KEYCARD_OK ||
        keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, ip, NULL) != KEYCARD_OK ||
        keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, hp, NULL) != KEYCARD_OK) {
        fprintf(stderr, "issue_replay: key card not ready\n");
        keycard_close(kc);
        return 1;
    }
    if (strcmp(argv[1], "replay") == 0)
        do_replay(kc, tw);
    else
        do_locked(kc, tw, argv[4]);
    keycard_close(kc);
    printf("# %d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
