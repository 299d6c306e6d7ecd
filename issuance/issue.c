/*
 * issue.c - the station config and the issuance of one card: target info,
 * BEGIN on both cards for the profile's seeding way, one WRAP of all steps,
 * each envelope to the target, END with the inner status words and the
 * completion MAC of the lock step; both cards held (one PC/SC transaction
 * each) for the whole card.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "station.h"

int kci_station_load(const char *file, kci_station *s)
{
    static const char *const fields[] = {"station",       "issuer_pin",     "issuer_public_key",
                                         "reader",        "target_reader",  "target_readers",
                                         NULL};
    kct_errs e = {file, 0};
    char dir[4096], err[512];
    const char *v;
    json_t *root;

    memset(s, 0, sizeof *s);
    if (kct_dirname(file, dir, sizeof dir) != 0) {
        kct_jerr(&e, "$", "path too long");
        return -1;
    }
    root = kct_json_load(file, &e);
    if (!root)
        return -1;
    kct_json_only(&e, "$", root, fields);
    v = kct_json_str(&e, "$", root, "station", 1, NULL);
    if (v && strcmp(v, "keycard/1") != 0)
        kct_jerr(&e, "$.station", "must be \"keycard/1\"");
    v = kct_json_str(&e, "$", root, "reader", 0, NULL);
    if (v && snprintf(s->reader, sizeof s->reader, "%s", v) >= (int)sizeof s->reader)
        kct_jerr(&e, "$.reader", "too long");
    v = kct_json_str(&e, "$", root, "target_reader", 0, NULL);
    if (v && snprintf(s->target_reader, sizeof s->target_reader, "%s", v) >=
                 (int)sizeof s->target_reader)
        kct_jerr(&e, "$.target_reader", "too long");
    /* Several target heads: a list of readers, instead of target_reader. */
    json_t *heads = json_object_get(root, "target_readers");
    if (heads && (!json_is_array(heads) || json_array_size(heads) < 1 ||
                  json_array_size(heads) > KCI_STATION_HEADS_MAX)) {
        kct_jerr(&e, "$.target_readers", "must be a list of 1 to %d reader names",
                 KCI_STATION_HEADS_MAX);
    } else if (heads && s->target_reader[0]) {
        kct_jerr(&e, "$.target_readers", "give target_reader or target_readers, not both");
    } else if (heads) {
        size_t i;
        json_t *h;
        json_array_foreach(heads, i, h)
        {
            char path[48];
            snprintf(path, sizeof path, "$.target_readers[%zu]", i);
            if (!json_is_string(h) || !json_string_value(h)[0])
                kct_jerr(&e, path, "must be a reader name (a string)");
            else if (snprintf(s->target_readers[i], sizeof s->target_readers[i], "%s",
                              json_string_value(h)) >= (int)sizeof s->target_readers[i])
                kct_jerr(&e, path, "too long");
        }
        s->n_target_readers = (int)json_array_size(heads);
    }
    v = kct_json_str(&e, "$", root, "issuer_public_key", 1, NULL);
    if (v) {
        if (kct_path_join(dir, v, s->issuer_pub_path, sizeof s->issuer_pub_path) != 0)
            kct_jerr(&e, "$.issuer_public_key", "path too long");
        else if (kct_file_read(s->issuer_pub_path, 64 * 1024, &s->issuer_pub,
                               &s->issuer_pub_len, err, sizeof err) != 0)
            kct_jerr(&e, "$.issuer_public_key", "%s", err);
    }
    /* Last, so that a prompt is only shown when the rest is right. */
    kct_json_secret(&e, "$", root, "issuer_pin", "value", 0, dir, "Issuer PIN", 0,
                    kct_check_pin, &s->issuer_pin, NULL);
    kct_json_wipe(root);
    json_decref(root);
    return e.count ? -1 : 0;
}

void kci_station_free(kci_station *s)
{
    kct_file_free(s->issuer_pub, s->issuer_pub_len);
    kct_wipe(s, sizeof *s);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Lock ways as letters ("a+c"). */
static void lock_names(unsigned locks, char *out, size_t cap)
{
    static const char letters[] = "abcd";
    size_t n = 0;
    int i;

    out[0] = '\0';
    for (i = 0; i < 4; i++)
        if (locks & (1u << i))
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%c", n ? "+" : "",
                                  letters[i]);
    if (n == 0)
        snprintf(out, cap, "none");
}

/* A step's name in messages: "step 3 (template 5, create folder)". */
static void step_name(const kci_profile *p, size_t i, char *out, size_t cap)
{
    const kci_step *s = &p->steps[i];

    if (s->label[0])
        snprintf(out, cap, "step %zu (template %u, %s)", i + 1, s->template_no, s->label);
    else
        snprintf(out, cap, "step %zu (template %u)", i + 1, s->template_no);
}

static int fail(kci_outcome *o, size_t step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(kci_outcome *o, size_t step, const char *fmt, ...)
{
    va_list ap;

    o->result = KCI_FAILED;
    o->step = step;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
    return 0;
}

/* Key card failures end the run: its session state is unknown. */
static int keycard_gone(keycard_rc rc)
{
    return rc == KEYCARD_ERR_NO_CARD || rc == KEYCARD_ERR_CARD_REMOVED ||
           rc == KEYCARD_ERR_CARD_RESET || rc == KEYCARD_ERR_TRANSPORT ||
           rc == KEYCARD_ERR_NO_READER || rc == KEYCARD_ERR_NO_SERVICE ||
           rc == KEYCARD_ERR_NOT_VERIFIED ||
           rc == KEYCARD_ERR_CHANNEL || rc == KEYCARD_ERR_SESSION_LOST;
}

static keycard_issue_way way_of(const kci_profile *p)
{
    return (keycard_issue_way)p->way; /* KEYCARD_WAY_*, checked by the profile parser */
}

static const char *check_reason(int reason)
{
    switch (reason) {
    case KEYCARD_CHECK_NO_KEY: return "the key card has no such key";
    case KEYCARD_CHECK_KEY_USE: return "the key may not key an issuance session of this way";
    case KEYCARD_CHECK_NO_TEMPLATE: return "the key card has no such template";
    case KEYCARD_CHECK_PARAMS: return "the parameters do not fit the template";
    case KEYCARD_CHECK_BUCKET: return "the command is longer than the bucket takes";
    case KEYCARD_CHECK_LOCK_NOT_LAST: return "a step follows the lock";
    case KEYCARD_CHECK_TOO_MANY: return "more steps than a session takes";
    case KEYCARD_CHECK_LOG_FULL:
        return "its audit log is full (export and acknowledge it: kc-admin audit --export FILE "
               "--ack)";
    default: return "malformed steps";
    }
}

/* The buffers of one card's issuance: on the heap (about 135 KiB), per call. */
typedef struct kci_work {
    uint8_t params[KCI_STEPS_MAX][KCI_STEP_BYTES_MAX];
    uint8_t env[KCI_STEPS_MAX * 1100];
} kci_work;

int kci_profile_check(keycard *kc, const kci_profile *p, const kci_csv *c)
{
    keycard_step steps[KCI_STEPS_MAX];
    uint8_t(*params)[KCI_STEP_BYTES_MAX];
    char err[256], name[128];
    size_t bad = 0;
    int reason = 0, ret = 0;
    keycard_rc rc;

    if (p->uses_csv && c->n_rows == 0)
        return 0;
    if ((params = calloc(KCI_STEPS_MAX, sizeof *params)) == NULL)
        return 0; /* no check ahead: each card is still checked by WRAP */
    for (size_t i = 0; i < p->n_steps; i++) {
        long n = kci_step_encode(&p->steps[i], c, p->uses_csv ? 0 : -1, params[i],
                                 sizeof params[i], err, sizeof err);
        if (n < 0)
            goto out; /* a record problem: said for the card it belongs to */
        steps[i].template_no = (uint8_t)p->steps[i].template_no;
        steps[i].params = params[i];
        steps[i].params_len = (size_t)n;
    }
    /* Packed when the profile says so: its items need one byte more of the bucket. */
    rc = keycard_issue_check(kc, way_of(p) | (p->pack ? KEYCARD_ISSUE_PACKED : 0),
                             (uint8_t)p->key, p->bucket, steps, p->n_steps, &bad, &reason);
    if (rc == KEYCARD_ERR_WRONG_DATA) {
        if (reason == KEYCARD_CHECK_LOG_FULL)
            kct_err("the key card refuses every card: %s; no card touched", check_reason(reason));
        else if (reason == KEYCARD_CHECK_NO_KEY || reason == KEYCARD_CHECK_KEY_USE)
            kct_err("the key card refuses the profile: key %u (%s): %s; no card touched", p->key,
                    kci_way_name(p->way), check_reason(reason));
        else {
            step_name(p, bad < p->n_steps ? bad : p->n_steps - 1, name, sizeof name);
            kct_err("the key card refuses the profile: %s: %s%s; no card touched", name,
                    check_reason(reason), p->uses_csv ? " (with the first record)" : "");
        }
        ret = 1;
    } else if (keycard_gone(rc)) {
        ret = rc;
    }
    /* Other answers (an older key card without the check): each card is checked by WRAP. */
out:
    kct_wipe(params, KCI_STEPS_MAX * sizeof *params);
    free(params);
    return ret;
}

/*
 * A locked card in the slot: issued with a receipt on this key card, or cut
 * between its lock and END (then the key card still keeps that session and
 * writes its receipt now, a late END), or neither: then nobody vouches for
 * it and it is set aside. Returns 0 or a key card error that ends the run.
 */
/* The head of the card this thread issues (kci_issue_card_head), or NULL. */
static _Thread_local kci_head *g_head;

/* A key-card call: one exchange at a time across the heads, this head's session selected. */
#define KC_CALL(expr)                                                                              \
    (g_head ? g_head->enter(g_head) : (void)0, kc_call_rc_ = (expr),                               \
     g_head ? g_head->leave(g_head) : (void)0, kc_call_rc_)
static _Thread_local keycard_rc kc_call_rc_;

static int locked_card(keycard *kc, keycard_target *t, const keycard_target_info *info,
                       kci_outcome *o)
{
    keycard_completion comp;
    char locks[16];
    int result = -1;
    keycard_rc rc;

    lock_names(info->locks, locks, sizeof locks);
    rc = keycard_target_completion(t, &comp);
    if (rc != KEYCARD_OK && rc != KEYCARD_ERR_NOT_FOUND) {
        fail(o, 0, "locked (lock %s), and its completion cannot be read (%s): set aside",
             locks, keycard_strerror(rc));
        return 0;
    }
    /* kc-issue sends the lock only after every step answered 9000: inner SWs NULL. */
    rc = KC_CALL(keycard_issue_end_late(kc, info->serial, rc == KEYCARD_OK ? &comp : NULL, NULL,
                                        &result));
    if (rc == KEYCARD_OK && result == KEYCARD_ISSUE_ON_RECORD) {
        o->result = KCI_SKIPPED;
        snprintf(o->why, sizeof o->why,
                 "already issued (lock %s), its receipt is on the key card; nothing sent", locks);
    } else if (rc == KEYCARD_OK && result == KEYCARD_ISSUE_COMPLETED) {
        o->result = KCI_ISSUED;
        memcpy(o->mac, comp.mac, sizeof o->mac);
        o->have_mac = 1;
        snprintf(o->why, sizeof o->why,
                 "recovered: locked by an interrupted run (lock %s); completion MAC verified "
                 "now, receipt written (late END)", locks);
    } else if (rc == KEYCARD_OK) {
        fail(o, 0, "locked by an interrupted run (lock %s), but its completion MAC does not "
                   "verify (result %02X, receipt says so): set aside", locks, result);
    } else if (rc == KEYCARD_ERR_NOT_FOUND) {
        fail(o, 0, "locked, no receipt: set aside (lock %s; this key card holds no session "
                   "and no completed receipt for it)", locks);
    } else {
        fail(o, 0, "locked (lock %s); the key card cannot tell whether it has a receipt "
                   "(%s): set aside", locks, keycard_strerror(rc));
        if (keycard_gone(rc))
            return rc;
    }
    return 0;
}

int kci_issue_card(keycard *kc, keycard_target *t, const kci_profile *p, const kci_csv *c,
                   size_t *next_row, kci_outcome *o)
{
    keycard_target_info info;
    keycard_step steps[KCI_STEPS_MAX];
    kci_work *w;
    uint16_t sws[KCI_STEPS_MAX];
    uint8_t mac[KEYCARD_MAC_LEN], inner[4096];
    keycard_issue_nonces nonces;
    keycard_issue_way way;
    size_t env_len = sizeof w->env, off = 0, i, inner_len = 0, envs = 0;
    char serial_hex[17], err[256], name[128];
    long row = -1, t0 = now_ms();
    int result = -1, ret = 0, held_kc, held_t, have_session = 0;
    keycard_rc rc;

    memset(o, 0, sizeof *o);
    if ((w = calloc(1, sizeof *w)) == NULL) {
        fail(o, 0, "out of memory; nothing sent");
        return 0;
    }
    /*
     * Both cards held for the whole card: one PC/SC transaction each instead
     * of one per operation, and no other program can reset the key card
     * between the WRAP and the lock. A failed hold is no error of its own:
     * the first operation meets the same fault and reports it.
     */
    held_kc = !g_head && keycard_hold(kc) == KEYCARD_OK; /* heads: held per exchange */
    held_t = keycard_target_hold(t) == KEYCARD_OK;
    /* 1. Who is in the slot: an issued card is recognised before anything is sent. */
    rc = keycard_target_info_read(t, &info);
    if (rc != KEYCARD_OK) {
        fail(o, 0, "cannot read the target card's info: %s", keycard_strerror(rc));
        goto out;
    }
    memcpy(o->serial, info.serial, 8);
    kct_hex_format(info.serial, 8, serial_hex);
    if (info.state == KEYCARD_TARGET_ISSUED) {
        ret = locked_card(kc, t, &info, o);
        goto out;
    }
    if (info.state == KEYCARD_TARGET_VIRGIN) {
        fail(o, 0, "blank card not manufactured (no serial, no keys); nothing sent");
        goto out;
    }
    /*
     * ISSUING: an earlier run was cut off after some envelopes went through.
     * The target has no erase and its files exist, so the profile cannot run
     * again; the card is spoiled (docs/operator-faults.md).
     */
    if (info.state == KEYCARD_TARGET_ISSUING) {
        fail(o, 0, "partially issued by an interrupted run (state ISSUING); it cannot be "
                   "issued again: set it aside; nothing sent");
        goto out;
    }

    /* 2. This card's parameters (its CSV record, when the profile uses one). */
    if (p->uses_csv) {
        row = kci_csv_pick(c, serial_hex, *next_row);
        if (row < 0) {
            fail(o, 0, "no record for this card in the records file; nothing sent");
            goto out;
        }
        if (kci_csv_col(c, "serial") < 0)
            (*next_row)++;
    }
    for (i = 0; i < p->n_steps; i++) {
        long n = kci_step_encode(&p->steps[i], c, row, w->params[i], sizeof w->params[i], err,
                                 sizeof err);
        if (n < 0) {
            step_name(p, i, name, sizeof name);
            fail(o, i + 1, "%s: %s; nothing sent", name, err);
            goto out;
        }
        steps[i].template_no = (uint8_t)p->steps[i].template_no;
        steps[i].params = w->params[i];
        steps[i].params_len = (size_t)n;
    }

    /*
     * 3. BEGIN on both cards: the target's nonce (and counter) goes to the key
     * card, the key card's nonce (and way-04 seed) back to the target (BIND).
     */
    /*
     * With several heads, a key card session first: a head that cannot get
     * one has sent nothing to either card.
     */
    if (g_head && g_head->take(g_head) != 0) {
        fail(o, 0, "no issuance session of the key card came free; nothing sent");
        goto out;
    }
    have_session = g_head != NULL; /* the pool's: given back at the end */
    /* Packed where the target takes it; a target without packed sessions gets them one by one. */
    way = way_of(p) | (p->pack ? KEYCARD_ISSUE_PACKED : 0);
    rc = keycard_target_issue_begin(t, way, (uint8_t)p->key, &nonces);
    if (rc == KEYCARD_ERR_UNSUPPORTED && (way & KEYCARD_ISSUE_PACKED)) {
        way = way_of(p);
        rc = keycard_target_issue_begin(t, way, (uint8_t)p->key, &nonces);
    }
    if (rc != KEYCARD_OK) {
        fail(o, 0, "target card refused BEGIN: %s", keycard_strerror(rc));
        /* The profile's key is not on the card (manufactured for another profile?). */
        o->batch_fatal = rc == KEYCARD_ERR_NOT_FOUND;
        goto out;
    }
    rc = KC_CALL(keycard_issue_open(kc, way, info.serial, (uint8_t)p->key, p->bucket, &nonces));
    if (rc == KEYCARD_OK)
        have_session = 2; /* open on the key card: ended (or kept for a late END) below */
    if (rc != KEYCARD_OK) {
        keycard_issue_nonces_wipe(&nonces);
        fail(o, 0, "key card refused BEGIN (key %u, %s): %s", p->key, kci_way_name(p->way),
             keycard_strerror(rc));
        /* Not this card's fault: the log is full, or the key is missing or of the wrong use. */
        o->batch_fatal = rc == KEYCARD_ERR_CARD_MEMORY || rc == KEYCARD_ERR_NOT_FOUND ||
                         rc == KEYCARD_ERR_CONDITIONS;
        if (keycard_gone(rc))
            ret = rc;
        goto out;
    }
    rc = keycard_target_issue_bind(t, &nonces);
    keycard_issue_nonces_wipe(&nonces);
    if (rc != KEYCARD_OK) {
        fail(o, 0, "target card refused BIND: %s", keycard_strerror(rc));
        goto abort;
    }

    /* 4. One WRAP for all steps: the key card answers only when every step passed. */
    rc = KC_CALL(keycard_issue_wrap(kc, steps, p->n_steps, w->env, &env_len));
    if (rc != KEYCARD_OK) {
        fail(o, 0, "key card refused the steps (WRAP): %s%s", keycard_strerror(rc),
             rc == KEYCARD_ERR_WRONG_DATA ? " (a template number or parameter does not fit)"
                                          : "");
        /*
         * Without per-card records the steps are the same for every card: a
         * refusal (a template the key card lacks, a parameter outside it)
         * will repeat, each time leaving an aborted receipt in the log.
         */
        o->batch_fatal = !p->uses_csv && rc != KEYCARD_OK && !keycard_gone(rc);
        if (keycard_gone(rc))
            ret = rc;
        goto abort;
    }

    /*
     * 5. Each envelope to the target (packed: several steps in one); stop at
     * the first outer or inner error. i counts the steps done.
     */
    for (i = 0; i < p->n_steps; envs++) {
        const uint8_t *apdu;
        size_t alen, k = 1;

        step_name(p, i, name, sizeof name);
        rc = keycard_issue_next(w->env, env_len, &off, &apdu, &alen);
        if (rc != KEYCARD_OK) {
            fail(o, i + 1, "%s: key card gave %s envelope: %s", name,
                 rc == KEYCARD_ERR_NOT_FOUND ? "no" : "a malformed", keycard_strerror(rc));
            goto abort;
        }
        /*
         * The lock cannot be undone: send it (the last envelope) only while
         * the key card still holds the session that checks its completion
         * MAC and writes the receipt (a reset or pulled key card has lost it).
         */
        if (p->lock && off == env_len) {
            /*
             * Held, no other program can have reset it; a pull, a power cycle
             * or a pcscd restart is what is left, and pcscd knows of those
             * without a word to the card (no round trip).
             */
            rc = KC_CALL(keycard_present(kc));
            if (rc != KEYCARD_OK) {
                step_name(p, p->n_steps - 1, name, sizeof name);
                fail(o, p->n_steps, "%s not sent: the key card lost the session (%s); the target "
                                    "card is left unlocked, partially issued", name,
                     keycard_strerror(rc));
                if (keycard_gone(rc))
                    ret = rc;
                goto abort;
            }
        }
        inner_len = sizeof inner;
        if (way & KEYCARD_ISSUE_PACKED) {
            k = p->n_steps - i;
            rc = keycard_target_envelope_packed(t, apdu, alen, &sws[i], &k, inner, &inner_len);
        } else {
            rc = keycard_target_envelope(t, apdu, alen, &sws[i], inner, &inner_len, NULL);
        }
        if (rc != KEYCARD_OK && keycard_gone(rc)) {
            fail(o, i + 1, "%s: no answer from the target card (%s); the card is not issued%s",
                 name, keycard_strerror(rc),
                 i ? " (earlier steps went through: partially issued)" : "");
            goto abort;
        }
        if (rc != KEYCARD_OK) {
            fail(o, i + 1, "%s: target refused the envelope: %s", name, keycard_strerror(rc));
            goto abort;
        }
        for (size_t j = 0; j < k; j++, i++)
            if (sws[i] != 0x9000) {
                step_name(p, i, name, sizeof name);
                fail(o, i + 1, "%s: target answered inner SW %04X", name, sws[i]);
                goto abort;
            }
    }
    if (off != env_len) {
        fail(o, 0, "the key card gave more envelopes than the profile has steps");
        goto abort;
    }

    /* 6. END: the key card checks the completion MAC of the lock step. */
    if (!p->lock) {
        rc = KC_CALL(keycard_issue_end(kc, NULL, 0, NULL, &result));
        o->result = KCI_WRITTEN;
        snprintf(o->why, sizeof o->why, "%zu steps written (profile without lock)", p->n_steps);
        goto out;
    }
    if (inner_len != KEYCARD_MAC_LEN) {
        fail(o, p->n_steps, "the last step answered no completion MAC (%zu bytes); is it the "
                            "lock template?", inner_len);
        goto abort;
    }
    memcpy(mac, inner, sizeof mac);
    rc = KC_CALL(keycard_issue_end(kc, sws, p->n_steps, mac, &result));
    if (rc != KEYCARD_OK) {
        have_session = 0; /* kept: its late END is the card's only way to a receipt */
        fail(o, 0, "the target card is locked but the key card could not check its completion "
                   "(END: %s): no receipt yet; leave the card in the slot, the next run with "
                   "this key card checks it and writes the receipt",
             keycard_strerror(rc));
        /*
         * Whatever the error, the run stops here with the card in the slot:
         * an eject would bury a locked card without receipt among the
         * spoiled ones, and the next card's BEGIN would end the session
         * that can still vouch for it.
         */
        ret = rc;
        goto out;
    }
    if (result == KEYCARD_ISSUE_COMPLETED) {
        o->result = KCI_ISSUED;
        memcpy(o->mac, mac, sizeof o->mac);
        o->have_mac = 1;
        snprintf(o->why, sizeof o->why, "issued: %zu steps in %zu envelope%s%s, completion MAC "
                 "verified", p->n_steps, envs, envs == 1 ? "" : "s",
                 p->pack && !(way & KEYCARD_ISSUE_PACKED) ? " (the target takes no packing)" : "");
    } else {
        fail(o, 0, "key card says the completion MAC does not match (result %02X)", result);
    }
    goto out;

abort:
    /* The key card records the aborted session in its audit log. */
    rc = KC_CALL(keycard_issue_end(kc, NULL, 0, NULL, &result));
    if (keycard_gone(rc) && ret == 0)
        ret = rc;
out:
    if (g_head && have_session)
        g_head->give(g_head);
    if (held_t)
        keycard_target_release(t);
    if (held_kc)
        keycard_release(kc);
    kct_wipe(w, sizeof *w);
    free(w);
    kct_wipe(inner, sizeof inner);
    o->ms = now_ms() - t0;
    return ret;
}

int kci_issue_card_head(kci_head *h, keycard *kc, keycard_target *t, const kci_profile *p,
                        const kci_csv *c, size_t *next_row, kci_outcome *out)
{
    g_head = h;
    int ret = kci_issue_card(kc, t, p, c, next_row, out);
    g_head = NULL;
    return ret;
}
