/*
 * commands.c - the commands of kc-admin, each a sequence of public API calls
 * (include/keycard.h) with one understandable line on any failure.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "admin.h"
#include "kct_cli.h"
#include "audit_verify.h"
#include "profile.h"
#include "kct_host.h"

/* Options shared by every command; a command appends its own before these. */
#define COMMON_LONGOPTS                                                         \
    {"reader", required_argument, NULL, KCA_OPT_READER},                        \
        {"sim", required_argument, NULL, KCA_OPT_SIM},                          \
        {"help", no_argument, NULL, KCA_OPT_HELP},                              \
        {"json", no_argument, NULL, KCA_OPT_JSON}, { NULL, 0, NULL, 0 }

enum {
    OPT_ADMIN_KEY_FILE = 0x200,
    OPT_ISSUER_PIN,
    OPT_HOLDER_PIN,
    OPT_ISSUER_PIN_FILE,
    OPT_HOLDER_PIN_FILE,
    OPT_ISSUER_PUB,
    OPT_FROM,
    OPT_OLD_FILE,
    OPT_NEW_FILE,
    OPT_NEW_PIN,
    OPT_PROFILE,
    OPT_SERIAL,
    OPT_OUT,
    OPT_KEYS,
    OPT_TYPE,
    OPT_USAGE,
    OPT_LABEL,
    OPT_COMPONENTS,
    OPT_COMPONENT,
    OPT_CUSTODIAN,
    OPT_COMPONENT_KCV,
    OPT_TO,
    OPT_KEY,
    OPT_VERSION,
    OPT_SHARES,
    OPT_CUSTODIAN_NAME,
    OPT_KCV
};

/*
 * Run getopt over a command's argv. handler gets the command's own options;
 * returns 0 to go on, or an exit code + 1000 to stop (kept apart from 0).
 */
typedef int (*opt_handler)(int opt, const char *arg, void *ctx);

static int parse_opts(int argc, char **argv, const struct option *lo, kct_where *w,
                      opt_handler h, void *ctx, int *stop)
{
    int help = 0, opt;
    *stop = -1;
    optind = 0; /* GNU: start afresh on this argv */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            char help_cmd[64];
            snprintf(help_cmd, sizeof help_cmd, "kc-admin %s", argv[0]);
            *stop = kct_cli_bad_option(help_cmd, argv[optind - 1], lo);
            return -1;
        }
        int r = kca_common_opt(opt, optarg, w, &help);
        if (r < 0) {
            *stop = KCT_EXIT_USAGE;
            return -1;
        }
        if (r == 0 && h && h(opt, optarg, ctx) != 0) {
            *stop = KCT_EXIT_USAGE;
            return -1;
        }
    }
    if (help) {
        fputs(kca_help(argv[0]), stdout);
        *stop = KCT_EXIT_OK;
        return -1;
    }
    return optind;
}

static int usage_error(const char *cmd, const char *msg)
{
    char help_cmd[64];
    snprintf(help_cmd, sizeof help_cmd, "kc-admin %s", cmd);
    return kct_cli_usage(help_cmd, "%s", msg);
}

/* ---- provision -------------------------------------------------------------- */

/* Options of the commands whose only options are --admin-key-file and --issuer-pub. */
struct admin_key_opts {
    const char *admin_key_file, *issuer_pub;
};

static int admin_key_opt(int opt, const char *arg, void *ctx)
{
    struct admin_key_opts *o = ctx;
    if (opt == OPT_ADMIN_KEY_FILE) {
        o->admin_key_file = arg;
        return 0;
    }
    if (opt == OPT_ISSUER_PUB) {
        o->issuer_pub = arg;
        return 0;
    }
    return -1;
}

/* PROVISION PUT of a credential: tries(1) || value. */
static keycard_rc put_credential(keycard *kc, uint16_t tag, int tries, const void *v, size_t n)
{
    uint8_t buf[1 + KCT_SECRET_MAX];
    buf[0] = (uint8_t)tries;
    memcpy(buf + 1, v, n);
    keycard_rc rc = keycard_provision_put(kc, tag, buf, 1 + n);
    kct_wipe(buf, sizeof buf);
    return rc;
}

static int provision_steps(keycard *kc, const kca_profile *p, keycard_identity *id)
{
    keycard_rc rc;
    const char *step;
#define STEP(name, call)                                                                    \
    do {                                                                                    \
        step = name;                                                                        \
        if ((rc = (call)) != KEYCARD_OK)                                                    \
            goto fail;                                                                      \
    } while (0)
    STEP("put issuer PIN", put_credential(kc, KC_TAG_ISSUER_PIN, p->issuer_tries,
                                          p->issuer_pin.text, p->issuer_pin.len));
    STEP("put holder PIN", put_credential(kc, KC_TAG_HOLDER_PIN, p->holder_tries,
                                          p->holder_pin.text, p->holder_pin.len));
    STEP("put admin key",
         put_credential(kc, KC_TAG_ADMIN_KEY, p->admin_tries, p->admin_key, p->admin_key_len));
    STEP("put holder name", keycard_provision_put(kc, KC_TAG_HOLDER_NAME,
                                                  (const uint8_t *)p->name, p->name_len));
    STEP("put holder number", keycard_provision_put(kc, KC_TAG_HOLDER_NUMBER,
                                                    (const uint8_t *)p->number, p->number_len));
    char name[64];
    for (size_t i = 0; i < p->n_keys; i++) {
        uint8_t d[3 + KEYCARD_LABEL_MAX + 32];
        if (p->keys[i].generate || p->keys[i].import)
            continue; /* made on the card after the commit (generate_keys), or arrives later */
        size_t n = kca_key_encode(&p->keys[i], d);
        snprintf(name, sizeof name, "put key %u", p->keys[i].number);
        rc = keycard_provision_put(kc, KEYCARD_TAG_KEY(p->keys[i].number), d, n);
        kct_wipe(d, sizeof d);
        step = name;
        if (rc != KEYCARD_OK)
            goto fail;
    }
    for (size_t i = 0; i < p->n_templates; i++) {
        snprintf(name, sizeof name, "put template %u", p->templates[i].number);
        STEP(name, keycard_provision_put(kc, KEYCARD_TAG_TEMPLATE(p->templates[i].number),
                                         p->templates[i].bin, p->templates[i].len));
    }
    STEP("generate device key", keycard_provision_generate(kc, id));
    STEP("sign identity with the issuer key",
         keycard_identity_sign(id, p->issuer_key, kct_key_len(p->issuer_key, p->issuer_key_len)));
    STEP("put identity signature",
         keycard_provision_put(kc, KC_TAG_ID_SIGNATURE, id->issuer_sig, sizeof id->issuer_sig));
    /* The secure channel's key, certified like the identity (docs/protocol.md). */
    keycard_channel_key ck;
    uint8_t policy = p->channel_required ? KC_CHANNEL_REQUIRED : KC_CHANNEL_OPTIONAL;
    STEP("generate channel key", keycard_provision_generate_channel(kc, &ck));
    STEP("sign channel key with the issuer key",
         keycard_channel_key_sign(&ck, p->issuer_key, kct_key_len(p->issuer_key, p->issuer_key_len)));
    STEP("put channel signature",
         keycard_provision_put(kc, KC_TAG_CHANNEL_SIG, ck.issuer_sig, sizeof ck.issuer_sig));
    STEP("put channel policy", keycard_provision_put(kc, KC_TAG_CHANNEL_POLICY, &policy, 1));
    /* The issuer key the card checks recipients of its keys against (written once). */
    uint8_t issuer_raw[65];
    STEP("derive the issuer public key",
         keycard_public_key(p->issuer_key, kct_key_len(p->issuer_key, p->issuer_key_len),
                            issuer_raw));
    STEP("put issuer public key (a key card holds one issuer key for life)",
         keycard_provision_put(kc, KC_TAG_ISSUER_PUB, issuer_raw, sizeof issuer_raw));

    STEP("commit", keycard_provision_commit(kc));
#undef STEP
    return 0;
fail:;
    char what[96];
    snprintf(what, sizeof what, "provision: %s", step);
    int ex = kct_fail(rc, what, -1);
    return ex == KCT_EXIT_OK ? KCT_EXIT_FAIL : ex;
}

/*
 * The profile's "generate" keys, made on the card once it is provisioned:
 * a new certified session (the card now has its channel key), the profile's
 * admin key, one PROVISION GENERATE per key; each KCV printed.
 */
static int generate_keys(kct_where *w, const char *cmd, kca_issuer *iss, const kca_profile *p,
                         keycard **kc)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_keys; i++)
        n += p->keys[i].generate;
    if (n == 0)
        return 0;
    keycard_close(*kc);
    *kc = NULL;
    int ex = kca_open_secret(w, cmd, "the admin key", iss, kc, 0, NULL);
    if (ex)
        return ex;
    int tries = -1;
    keycard_rc rc = keycard_verify_admin(*kc, p->admin_key, p->admin_key_len, &tries);
    if (rc != KEYCARD_OK)
        return kct_fail_cred(rc, "admin key (profile)", KEYCARD_ADMIN_KEY, tries);
    for (size_t i = 0; i < p->n_keys; i++) {
        const kca_key *k = &p->keys[i];
        uint8_t kcv[3];
        char hex[7];
        if (!k->generate)
            continue;
        rc = keycard_key_generate(*kc, k->number, k->type, k->flags, k->label, kcv);
        if (rc != KEYCARD_OK) {
            char what[64];
            snprintf(what, sizeof what, "provision: make key %u on the card", k->number);
            return kct_fail(rc, what, -1);
        }
        kct_hex_format(kcv, 3, hex);
        printf("key %u made on the card (%s): KCV %s\n", k->number, k->label, hex);
    }
    return 0;
}

int kca_cmd_provision(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB}, COMMON_LONGOPTS};
    struct admin_key_opts o = {NULL, NULL};
    int stop;
    int i = parse_opts(argc, argv, lo, w, admin_key_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (argc - i != 1)
        return usage_error(argv[0], "give exactly one PROFILE");

    kca_profile p;
    if (kca_profile_load(argv[i], &p) != 0) {
        kct_err("provision: %s: profile not valid; nothing was sent to the card", argv[i]);
        return KCT_EXIT_USAGE;
    }
    if (p.demo)
        kct_err("note: %s is a demo profile: its credentials are published, "
                "never use it for a real key card", argv[i]);

    /*
     * The card is checked against --issuer-pub / KEYCARD_ISSUER_PUB (the key
     * that certified it, when the issuer key changes), else against the
     * profile's issuer key; only a blank card gets its data in plain.
     */
    keycard *kc = NULL;
    kca_issuer iss;
    int blank = 0;
    int ex = kca_issuer_load(argv[0], o.issuer_pub, &iss);
    if (ex == 0 && !iss.pem) {
        keycard_rc prc = keycard_public_key(p.issuer_key, kct_key_len(p.issuer_key, p.issuer_key_len),
                                            iss.raw);
        if (prc != KEYCARD_OK)
            ex = kct_fail(prc, "provision: the profile's issuer key", -1);
        iss.raw_set = prc == KEYCARD_OK;
    }
    if (ex == 0)
        ex = kca_open_secret(w, argv[0], "the profile's PINs, keys and templates", &iss, &kc, 1,
                             &blank);
    if (ex) {
        kca_issuer_free(&iss);
        kca_profile_free(&p);
        return ex;
    }
    keycard_status st;
    keycard_rc rc = keycard_status_read(kc, &st);
    if (rc != KEYCARD_OK) {
        ex = kct_fail(rc, "provision: read card status", -1);
        goto out;
    }
    if (blank && st.lifecycle != KEYCARD_LIFECYCLE_BLANK) {
        kct_err("provision: the key card said it was blank and now says it is not; nothing sent");
        ex = KCT_EXIT_FAIL;
        goto out;
    }
    if (blank)
        kct_err("note: the key card is blank: its first provisioning runs without the secure "
                "channel (it has no channel key yet); do it where the line is trusted");
    if (st.lifecycle != KEYCARD_LIFECYCLE_BLANK) {
        /* Replacing the credentials of a provisioned card takes the current admin key. */
        ex = kca_verify(kc, KEYCARD_ADMIN_KEY, o.admin_key_file);
        if (ex)
            goto out;
    }
    rc = keycard_provision_begin(kc);
    if (rc != KEYCARD_OK) {
        ex = kct_fail(rc, "provision: begin", -1);
        goto out;
    }
    keycard_identity id;
    ex = provision_steps(kc, &p, &id);
    if (ex) {
        /* Nothing was committed; abort only tidies the card's session. */
        keycard_provision_abort(kc);
        goto out;
    }
    char serial[2 * KC_SERIAL_LEN + 1];
    kct_hex_format(id.serial, KC_SERIAL_LEN, serial);
    printf("provisioned key card %s for %s (%s): %zu keys, %zu templates\n", serial, p.name,
           p.number, p.n_keys, p.n_templates);
    for (size_t k = 0; k < p.n_keys; k++)
        if (p.keys[k].import)
            printf("key %u (%s) is to arrive: kc-admin keys import (a wrapped key or "
                   "components) or kc-admin restore\n",
                   p.keys[k].number, p.keys[k].label);
    ex = generate_keys(w, argv[0], &iss, &p, &kc);
out:
    keycard_close(kc);
    kca_issuer_free(&iss);
    kca_profile_free(&p);
    return ex;
}

/* ---- info ---------------------------------------------------------------------- */

struct info_opts {
    int issuer, holder;
    const char *issuer_file, *holder_file, *issuer_pub;
};

static int info_opt(int opt, const char *arg, void *ctx)
{
    struct info_opts *o = ctx;
    switch (opt) {
    case OPT_ISSUER_PIN: /* --issuer-pin[=SOURCE] */
        o->issuer = 1;
        if (arg)
            o->issuer_file = arg;
        return 0;
    case OPT_HOLDER_PIN:
        o->holder = 1;
        if (arg)
            o->holder_file = arg;
        return 0;
    case OPT_ISSUER_PIN_FILE:
        o->issuer = 1;
        o->issuer_file = arg;
        return 0;
    case OPT_HOLDER_PIN_FILE:
        o->holder = 1;
        o->holder_file = arg;
        return 0;
    case OPT_ISSUER_PUB:
        o->issuer_pub = arg;
        return 0;
    }
    return -1;
}

static void print_tries(const char *label, int t)
{
    if (t < 0)
        printf("%-14s not set\n", label);
    else if (t == 0)
        printf("%-14s BLOCKED\n", label);
    else
        printf("%-14s %d %s left\n", label, t, t == 1 ? "try" : "tries");
}

/* Tries left as JSON: null when the credential is not set, 0 when blocked. */
static json_t *json_tries(int t)
{
    return t < 0 ? json_null() : json_integer(t);
}

int kca_cmd_info(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"issuer-pin", optional_argument, NULL, OPT_ISSUER_PIN},
        {"holder-pin", optional_argument, NULL, OPT_HOLDER_PIN},
        {"issuer-pin-file", required_argument, NULL, OPT_ISSUER_PIN_FILE},
        {"holder-pin-file", required_argument, NULL, OPT_HOLDER_PIN_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        COMMON_LONGOPTS};
    struct info_opts o = {0, 0, NULL, NULL, NULL};
    int stop;
    int i = parse_opts(argc, argv, lo, w, info_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (i != argc)
        return usage_error(argv[0], "no arguments expected");
    if (o.holder && !o.issuer)
        return usage_error(argv[0], "the holder PIN is accepted only after the issuer PIN; "
                                    "add --issuer-pin");

    /* Read the issuer public key before touching the card: a bad file is bad input. */
    kca_issuer iss;
    int ex = kca_issuer_load(argv[0], o.issuer_pub, &iss);
    if (ex)
        return ex;
    const uint8_t *pub = iss.pem;
    size_t pub_len = iss.pem_len;

    /* PINs go only through a certified channel; the status needs none. */
    keycard *kc = NULL;
    if (o.issuer)
        ex = kca_open_secret(w, argv[0], "a PIN", &iss, &kc, 0, NULL);
    else if (pub)
        ex = kct_open_issuer(w, pub, kct_key_len(pub, pub_len), &kc);
    else
        ex = kct_open(w, &kc);
    if (ex) {
        kca_issuer_free(&iss);
        return ex;
    }
    keycard_status st;
    json_t *doc = NULL;
    keycard_rc rc = keycard_status_read(kc, &st);
    if (rc != KEYCARD_OK) {
        ex = kct_fail(rc, "info: read status", -1);
        goto out;
    }
    char serial[2 * KC_SERIAL_LEN + 1], version[16];
    kct_hex_format(st.serial, KC_SERIAL_LEN, serial);
    snprintf(version, sizeof version, "%u.%u", st.version_major, st.version_minor);
    const char *life = st.lifecycle == KEYCARD_LIFECYCLE_BLANK         ? "BLANK"
                       : st.lifecycle == KEYCARD_LIFECYCLE_PROVISIONED ? "PROVISIONED"
                                                                       : "unknown";
    keycard_channel_state ch = keycard_channel_status(kc);
    const char *chan = ch == KEYCARD_CHANNEL_GENUINE     ? "certified"
                       : ch == KEYCARD_CHANNEL_ENCRYPTED ? "encrypted"
                                                         : "none";
    if (kca_json) {
        /* Printed once everything asked for was read (docs/json.md). */
        doc = json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:o, s:o}, s:{s:I, s:i}, s:s, s:b}",
                        "reader", keycard_reader_name(kc), "serial", serial, "lifecycle",
                        st.lifecycle == KEYCARD_LIFECYCLE_BLANK         ? "blank"
                        : st.lifecycle == KEYCARD_LIFECYCLE_PROVISIONED ? "provisioned"
                                                                        : "unknown",
                        "version", version, "tries", "issuer", json_tries(st.tries_left[0]),
                        "holder", json_tries(st.tries_left[1]), "admin",
                        json_tries(st.tries_left[2]), "audit", "next",
                        (json_int_t)st.audit_next, "capacity", (int)st.audit_capacity,
                        "channel", chan, "staging", st.staging ? 1 : 0);
    } else {
        printf("%-14s %s\n", "reader:", keycard_reader_name(kc));
        printf("%-14s %s\n", "serial:", serial);
        printf("%-14s %s\n", "life cycle:", life);
        printf("%-14s %s\n", "version:", version);
        print_tries("issuer PIN:", st.tries_left[0]);
        print_tries("holder PIN:", st.tries_left[1]);
        print_tries("admin key:", st.tries_left[2]);
        printf("%-14s next entry %lu (keeps %u)\n", "audit:", (unsigned long)st.audit_next,
               st.audit_capacity);
        printf("%-14s %s\n", "channel:",
               ch == KEYCARD_CHANNEL_GENUINE
                   ? "certified (certificate verified under the issuer key)"
               : ch == KEYCARD_CHANNEL_ENCRYPTED
                   ? "encrypted (certificate not checked: no --issuer-pub)"
                   : "none");
        if (st.staging)
            printf("%-14s a provisioning session is open\n", "staging:");
        fflush(stdout);
    }

    if (o.issuer && (ex = kca_verify(kc, KEYCARD_PIN_ISSUER, o.issuer_file)) != 0)
        goto out;
    if (o.holder && (ex = kca_verify(kc, KEYCARD_PIN_HOLDER, o.holder_file)) != 0)
        goto out;
    if (o.issuer && o.holder) {
        keycard_holder h;
        rc = keycard_holder_info(kc, &h);
        if (rc != KEYCARD_OK) {
            ex = kct_fail(rc, "info: read holder", -1);
            goto out;
        }
        if (!kca_json) {
            printf("%-14s %s\n", "holder name:", h.name);
            printf("%-14s %s\n", "holder number:", h.number);
        } else if (doc) {
            json_object_set_new(doc, "holder",
                                json_pack("{s:s, s:s}", "name", h.name, "number", h.number));
        }
        {
            keycard_identity id;
            rc = keycard_identity_check(kc, pub, kct_key_len(pub, pub_len), &id);
            if (rc != KEYCARD_OK) {
                ex = kct_fail(rc, "info: identity check", -1);
                goto out;
            }
            char dev[2 * KC_P256_PUB_LEN + 1];
            kct_hex_format(id.device_pub, KC_P256_PUB_LEN, dev);
            if (!kca_json) {
                printf("%-14s %s\n", "device key:", dev);
                printf("%-14s genuine (signed by the issuer key, answered a fresh challenge)\n",
                       "identity:");
            } else if (doc) {
                json_object_set_new(doc, "device_key", json_string(dev));
                json_object_set_new(doc, "identity", json_string("genuine"));
            }
        }
    }
    if (kca_json) {
        ex = kct_json_print(doc);
        doc = NULL;
    }
out:
    json_decref(doc);
    keycard_close(kc);
    kca_issuer_free(&iss);
    return ex;
}

/* ---- audit --------------------------------------------------------------------- */

struct audit_opts {
    const char *admin_key_file;
    unsigned long from;
    kca_audit_req prove; /* --verify, --export, --verify-file, --ack (audit_verify.c) */
    int proving;
};

static int audit_opt(int opt, const char *arg, void *ctx)
{
    struct audit_opts *o = ctx;
    if (opt == OPT_ADMIN_KEY_FILE) {
        o->admin_key_file = arg;
        return 0;
    }
    switch (opt) {
    case OPT_ISSUER_PUB:
        o->prove.issuer_pub = arg;
        return 0;
    case KCA_OPT_AUDIT_VERIFY:
        o->prove.verify = o->proving = 1;
        return 0;
    case KCA_OPT_AUDIT_EXPORT:
        o->prove.export_file = arg;
        o->proving = 1;
        return 0;
    case KCA_OPT_AUDIT_VERIFY_FILE:
        o->prove.verify_file = arg;
        o->proving = 1;
        return 0;
    case KCA_OPT_AUDIT_ACK:
        o->prove.ack = o->proving = 1;
        return 0;
    }
    if (opt == OPT_FROM) {
        char *end;
        o->from = strtoul(arg, &end, 10);
        if (!*arg || *end || o->from > 0xFFFFFFFFul) {
            kct_err("audit: --from: '%s' is not a sequence number", arg);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const char *way_name(uint8_t way)
{
    return way == KEYCARD_WAY_STATIC             ? "static"
           : way == KEYCARD_WAY_TARGET_SEED      ? "target-seed"
           : way == KEYCARD_WAY_PREVIOUS_RANDOM  ? "previous-random"
                                                 : "?";
}

/* "envelope,inject,static,COMMON" */
static void flag_names(uint8_t f, char *out, size_t cap)
{
    static const struct {
        uint8_t bit;
        const char *name;
    } names[] = {{KEYCARD_KEYF_ENVELOPE, "envelope"},
                 {KEYCARD_KEYF_INJECT, "inject"},
                 {KEYCARD_KEYF_STATIC, "static"},
                 {KEYCARD_KEYF_COMMON, "COMMON"}};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (f & names[i].bit) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s%s", l ? "," : "", names[i].name);
        }
    if (!out[0])
        snprintf(out, cap, "-");
}

/* The flags as a JSON list of their names. */
static json_t *flags_json(uint8_t f)
{
    char names[64];
    json_t *fl = json_array();
    flag_names(f, names, sizeof names);
    for (char *p = names, *save = NULL, *t; (t = strtok_r(p, ",", &save)) != NULL; p = NULL)
        if (strcmp(t, "-") != 0)
            json_array_append_new(fl, json_string(t));
    return fl;
}

/*
 * The entry as the table shows it: time (UTC, "-" when the card had none)
 * and the event's data in words (data, cap bytes). For issuance events
 * (begin, receipt) the fields also go into obj when it is not NULL.
 */
static void entry_text(const keycard_audit_entry *e, char when[32], char *data, size_t cap,
                       json_t *obj)
{
    snprintf(when, 32, "-");
    if (e->time) {
        time_t t = (time_t)e->time;
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    data[0] = '\0';
    size_t len = e->len <= sizeof e->data ? e->len : sizeof e->data;
    switch (e->event) {
    case KEYCARD_AUDIT_UNLOCK: {
        int printable = 1;
        for (size_t i = 0; i < len; i++)
            if (e->data[i] < 0x20 || e->data[i] > 0x7E)
                printable = 0;
        if (printable) {
            snprintf(data, cap, "holder %.*s", (int)len, (const char *)e->data);
            break;
        }
        kct_hex_format(e->data, len, data);
        break;
    }
    case KEYCARD_AUDIT_PIN_BLOCKED:
    case KEYCARD_AUDIT_UNBLOCKED:
    case KEYCARD_AUDIT_PIN_CHANGED:
        if (len == 1) {
            snprintf(data, cap, "%s", kct_ref_name((keycard_pin)e->data[0]));
            break;
        }
        /* fall through */
    case KEYCARD_AUDIT_CHANNEL_FAILURE: {
        static const char *const reasons[] = {"?", "MAC", "counter", "plain", "format"};
        const uint8_t *d = e->data;
        if (len == 2) { /* one failure, as older firmware logged it */
            snprintf(data, cap, "%s, INS %02X", reasons[d[0] <= 4 ? d[0] : 0], d[1]);
            break;
        }
        if (len != KEYCARD_AUDIT_CHANNEL_SUMMARY_LEN)
            goto hex;
        /* count first last, count per reason 1..4, last reason, last INS (u32 BE) */
        unsigned long v[7];
        for (int k = 0; k < 7; k++)
            v[k] = (unsigned long)d[4 * k] << 24 | (unsigned long)d[4 * k + 1] << 16 |
                   (unsigned long)d[4 * k + 2] << 8 | d[4 * k + 3];
        char first[32] = "-", last[32] = "-";
        time_t tf = (time_t)v[1], tl = (time_t)v[2];
        struct tm tm;
        if (v[1] && gmtime_r(&tf, &tm))
            strftime(first, sizeof first, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (v[2] && gmtime_r(&tl, &tm))
            strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(data, cap,
                 "%lu failed (MAC %lu, counter %lu, plain %lu, format %lu), %s .. %s, last %s INS %02X",
                 v[0], v[3], v[4], v[5], v[6], first, last, reasons[d[28] <= 4 ? d[28] : 0], d[29]);
        break;
    }
    case KEYCARD_AUDIT_KEY_GENERATED:
    case KEYCARD_AUDIT_KEY_DESTROYED:
        /* number type flags kcv(3) [version] (6 bytes before versions) */
        if (len == 6 || len == 7) {
            char fl[64], kcv[7];
            const char *type = e->data[1] == KEYCARD_KEY_AES128   ? "aes128"
                               : e->data[1] == KEYCARD_KEY_AES256 ? "aes256"
                                                                  : "?";
            flag_names(e->data[2], fl, sizeof fl);
            kct_hex_format(e->data + 3, 3, kcv);
            unsigned ver = len == 7 ? e->data[6] : 1;
            snprintf(data, cap, "key %u version %u %s, %s, %s, KCV %s", e->data[0], ver,
                     e->event == KEYCARD_AUDIT_KEY_DESTROYED ? "destroyed (erased from flash)"
                                                              : "made on the card",
                     type, fl, kcv);
            if (obj)
                json_object_set_new(obj, "key",
                                    json_pack("{s:i, s:i, s:s, s:o, s:s}", "number", e->data[0],
                                              "version", ver, "type", type, "flags",
                                              flags_json(e->data[2]), "kcv", kcv));
            break;
        }
        goto hex;
    case KEYCARD_AUDIT_KEY_COMPONENT:
        /* number index kcv(3) custodian */
        if (len >= 6) {
            char kcv[7];
            kct_hex_format(e->data + 2, 3, kcv);
            snprintf(data, cap, "key %u, component %u from %.*s, KCV %s", e->data[0], e->data[1],
                     (int)(len - 5), (const char *)e->data + 5, kcv);
            if (obj)
                json_object_set_new(obj, "component",
                                    json_pack("{s:i, s:i, s:s%, s:s}", "number", e->data[0],
                                              "index", e->data[1], "custodian",
                                              (const char *)e->data + 5, len - 5, "kcv", kcv));
            break;
        }
        goto hex;
    case KEYCARD_AUDIT_KEY_COMBINED:
        /* number type flags kcv(3) components [version] */
        if (len == 7 || len == 8) {
            char fl[64], kcv[7];
            unsigned ver = len == 8 ? e->data[7] : 1;
            flag_names(e->data[2], fl, sizeof fl);
            kct_hex_format(e->data + 3, 3, kcv);
            snprintf(data, cap, "key %u version %u from %u components, %s, %s, KCV %s",
                     e->data[0], ver, e->data[6],
                     e->data[1] == KEYCARD_KEY_AES128 ? "aes128" : "aes256", fl, kcv);
            if (obj)
                json_object_set_new(obj, "key",
                                    json_pack("{s:i, s:i, s:o, s:s, s:i}", "number", e->data[0],
                                              "version", ver, "flags", flags_json(e->data[2]),
                                              "kcv", kcv, "components", e->data[6]));
            break;
        }
        goto hex;
    case KEYCARD_AUDIT_KEY_EXPORTED:
    case KEYCARD_AUDIT_KEY_IMPORTED:
    case KEYCARD_AUDIT_KEY_RESTORED:
        /* number type flags kcv(3) version serial(8): to / from / backup id */
        if (len == 15) {
            char fl[64], kcv[7], serial[17];
            int out = e->event == KEYCARD_AUDIT_KEY_EXPORTED;
            int restored = e->event == KEYCARD_AUDIT_KEY_RESTORED;
            static const uint8_t none[8];
            char from[40];
            flag_names(e->data[2], fl, sizeof fl);
            kct_hex_format(e->data + 3, 3, kcv);
            kct_hex_format(e->data + 7, 8, serial);
            snprintf(from, sizeof from, "%s%s",
                     restored ? "backup " : out ? "key card " : "key card ",
                     !out && !restored && memcmp(e->data + 7, none, 8) == 0 ? "(offline preparer)"
                                                                            : serial);
            snprintf(data, cap, "key %u version %u %s %s, %s, %s, KCV %s", e->data[0],
                     e->data[6], out ? "exported to" : restored ? "restored from" : "imported from",
                     from, e->data[1] == KEYCARD_KEY_AES128 ? "aes128" : "aes256", fl, kcv);
            if (obj)
                json_object_set_new(obj, "key",
                                    json_pack("{s:i, s:i, s:o, s:s, s:s}", "number", e->data[0],
                                              "version", e->data[6], "flags",
                                              flags_json(e->data[2]), "kcv", kcv,
                                              out ? "to" : restored ? "backup" : "from", serial));
            break;
        }
        goto hex;
    case KEYCARD_AUDIT_BACKUP:
        /* id(8) M N keys */
        if (len == 11) {
            char id[17];
            kct_hex_format(e->data, 8, id);
            snprintf(data, cap, "backup %s of %u keys, %u shares (any %u restore)", id,
                     e->data[10], e->data[9], e->data[8]);
            if (obj)
                json_object_set_new(obj, "backup",
                                    json_pack("{s:s, s:i, s:i, s:i}", "id", id, "keys",
                                              e->data[10], "shares", e->data[9], "threshold",
                                              e->data[8]));
            break;
        }
        goto hex;
    case KEYCARD_AUDIT_ISSUE_BEGIN:
    case KEYCARD_AUDIT_ISSUE_RECEIPT:
        /* serial(8) key(1) way(1) flags(1), then per event (include/keycard.h) */
        if (len >= 13) {
            static const char *const results[] = {"completed", "MAC-mismatch", "aborted"};
            const char *way = way_name(e->data[9]);
            char serial[17];
            size_t used;
            kct_hex_format(e->data, 8, serial);
            if (obj)
                json_object_set_new(obj, "issue",
                                    json_pack("{s:s, s:i, s:s, s:b}", "serial", serial, "key",
                                              e->data[8], "way", way, "common",
                                              (e->data[10] & 1) ? 1 : 0));
            if (e->event == KEYCARD_AUDIT_ISSUE_BEGIN) {
                snprintf(data, cap, "%s key %u%s, %s, bucket %u", serial, e->data[8],
                         (e->data[10] & 1) ? " (common)" : "", way,
                         (unsigned)e->data[11] << 8 | e->data[12]);
                break;
            }
            char steps[16];
            if (e->data[12] == KEYCARD_AUDIT_RECEIPT_STEPS_UNKNOWN)
                snprintf(steps, sizeof steps, "? steps");
            else
                snprintf(steps, sizeof steps, "%u steps", e->data[12]);
            json_t *is = obj ? json_object_get(obj, "issue") : NULL;
            if (is) {
                json_object_set_new(is, "result",
                                    json_string(e->data[11] < 3 ? results[e->data[11]] : "?"));
                json_object_set_new(is, "steps",
                                    e->data[12] == KEYCARD_AUDIT_RECEIPT_STEPS_UNKNOWN
                                        ? json_null()
                                        : json_integer(e->data[12]));
                json_object_set_new(is, "late_end",
                                    json_boolean(e->data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_LATE));
                json_object_set_new(is, "no_end",
                                    json_boolean(e->data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_UNCLEAN));
            }
            snprintf(data, cap, "%s %s%s%s, key %u%s, %s, %s", serial,
                     e->data[11] < 3 ? results[e->data[11]] : "result?",
                     (e->data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_UNCLEAN) ? " (no END)" : "",
                     (e->data[10] & KEYCARD_AUDIT_RECEIPT_FLAG_LATE) ? " (late END)" : "",
                     e->data[8], (e->data[10] & 1) ? " (common)" : "", way, steps);
            if (len >= KEYCARD_AUDIT_RECEIPT_LOCK_OFF + 2 && e->data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF]) {
                /* The lock the key card bound into the completion MAC. */
                size_t ll = e->data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF + 1];
                char lk[2 * 16 + 1] = "";
                if (ll <= 16 && KEYCARD_AUDIT_RECEIPT_LOCK_OFF + 2 + ll <= len)
                    kct_hex_format(e->data + KEYCARD_AUDIT_RECEIPT_LOCK_OFF + 2, ll, lk);
                used = strlen(data);
                snprintf(data + used, cap - used, ", lock %c%s%s",
                         "?abcd"[e->data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF] <= 4
                                     ? e->data[KEYCARD_AUDIT_RECEIPT_LOCK_OFF]
                                     : 0],
                         ll ? " " : "", lk);
            }
            if (len >= KEYCARD_AUDIT_RECEIPT_MAC_OFF + 16 && e->data[11] == KEYCARD_ISSUE_COMPLETED) {
                /* The target's completion MAC as the key card verified it. */
                char mac[33];
                used = strlen(data);
                kct_hex_format(e->data + KEYCARD_AUDIT_RECEIPT_MAC_OFF, 16, mac);
                snprintf(data + used, cap - used, ", MAC %s", mac);
            }
            break;
        }
        /* fall through */
    default:
    hex:
        kct_hex_format(e->data, len, data);
        break;
    }
}

static void print_entry(const keycard_audit_entry *e)
{
    char when[32], data[2 * KC_AUDIT_DATA_MAX + 64];
    entry_text(e, when, data, sizeof data, NULL);
    if (data[0])
        printf("%-6lu %-20s %-15s %s\n", (unsigned long)e->seq, when,
               keycard_audit_event_name(e->event), data);
    else
        printf("%-6lu %-20s %s\n", (unsigned long)e->seq, when,
               keycard_audit_event_name(e->event));
}

/* {"seq", "time" (null when none), "event", "detail" (the table's words), "data" (hex), "issue"} */
static json_t *entry_json(const keycard_audit_entry *e)
{
    char when[32], text[2 * KC_AUDIT_DATA_MAX + 64], hex[2 * KC_AUDIT_DATA_MAX + 1];
    size_t len = e->len <= sizeof e->data ? e->len : sizeof e->data;
    json_t *o = json_object();
    if (!o)
        return NULL;
    entry_text(e, when, text, sizeof text, o);
    kct_hex_format(e->data, len, hex);
    json_t *head = json_pack("{s:I, s:o, s:s, s:s, s:s}", "seq", (json_int_t)e->seq, "time",
                             e->time ? json_string(when) : json_null(), "event",
                             keycard_audit_event_name(e->event), "detail", text, "data", hex);
    if (!head) {
        json_decref(o);
        return NULL;
    }
    /* The fixed fields first, then "issue" when there is one. */
    json_object_update_missing(head, o);
    json_decref(o);
    return head;
}

int kca_cmd_audit(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"from", required_argument, NULL, OPT_FROM},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        {"verify", no_argument, NULL, KCA_OPT_AUDIT_VERIFY},
        {"export", required_argument, NULL, KCA_OPT_AUDIT_EXPORT},
        {"verify-file", required_argument, NULL, KCA_OPT_AUDIT_VERIFY_FILE},
        {"ack", no_argument, NULL, KCA_OPT_AUDIT_ACK},
        COMMON_LONGOPTS};
    struct audit_opts o;
    memset(&o, 0, sizeof o);
    int stop;
    int i = parse_opts(argc, argv, lo, w, audit_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (i != argc)
        return usage_error(argv[0], "no arguments expected");
    o.prove.issuer_pub = kca_issuer_path(o.prove.issuer_pub);
    if (o.proving) {
        if (o.from)
            return usage_error(argv[0], "--from reads part of the log: not with a check");
        o.prove.admin_key_file = o.admin_key_file;
        return kca_audit_prove(&o.prove, w);
    }
    keycard *kc = NULL;
    json_t *entries = NULL;
    kca_issuer iss;
    int ex = kca_issuer_load(argv[0], o.prove.issuer_pub, &iss);
    if (ex == 0)
        ex = kca_open_secret(w, argv[0], "the admin key", &iss, &kc, 0, NULL);
    kca_issuer_free(&iss);
    if (ex)
        return ex;
    if ((ex = kca_verify(kc, KEYCARD_ADMIN_KEY, o.admin_key_file)) != 0)
        goto out;
    entries = kca_json ? json_array() : NULL;
    if (!kca_json)
        printf("%-6s %-20s %-15s %s\n", "seq", "time (UTC)", "event", "data");
    uint32_t from = (uint32_t)o.from;
    for (;;) {
        keycard_audit_entry e[16];
        size_t n = sizeof e / sizeof e[0];
        keycard_rc rc = keycard_audit_read(kc, from, e, &n);
        if (rc != KEYCARD_OK) {
            ex = kct_fail(rc, "audit: read", -1);
            goto out;
        }
        for (size_t k = 0; k < n; k++) {
            if (entries)
                json_array_append_new(entries, entry_json(&e[k]));
            else
                print_entry(&e[k]);
        }
        if (n == 0)
            break;
        /* A card that returned nothing newer would loop forever; stop then. */
        if (e[n - 1].seq + 1 <= from || e[n - 1].seq == 0xFFFFFFFFu)
            break;
        from = e[n - 1].seq + 1;
    }
    if (kca_json) {
        ex = kct_json_print(json_pack("{s:o}", "entries", entries));
        entries = NULL;
    }
out:
    json_decref(entries);
    keycard_close(kc);
    return ex;
}

/* ---- change-pin, unblock ------------------------------------------------------------- */

struct pin_opts {
    const char *old_file, *new_file, *issuer_file, *admin_key_file, *issuer_pub;
    int new_pin;
};

static int pin_opt(int opt, const char *arg, void *ctx)
{
    struct pin_opts *o = ctx;
    switch (opt) {
    case OPT_OLD_FILE:
        o->old_file = arg;
        return 0;
    case OPT_NEW_FILE:
        o->new_file = arg;
        o->new_pin = 1;
        return 0;
    case OPT_ISSUER_PIN_FILE:
        o->issuer_file = arg;
        return 0;
    case OPT_ADMIN_KEY_FILE:
        o->admin_key_file = arg;
        return 0;
    case OPT_NEW_PIN:
        o->new_pin = 1;
        return 0;
    case OPT_ISSUER_PUB:
        o->issuer_pub = arg;
        return 0;
    }
    return -1;
}

/* The new value of a credential, its form checked. Returns 0 or the exit code. */
static int get_new(keycard_pin ref, const char *file, kct_secret *out)
{
    int admin = ref == KEYCARD_ADMIN_KEY;
    const char *env = admin ? "KEYCARD_NEW_ADMIN_KEY" : "KEYCARD_NEW_PIN";
    char prompt[64], what[64];
    snprintf(what, sizeof what, "new %s", kct_ref_name(ref));
    snprintf(prompt, sizeof prompt, "New %s%s", kct_ref_name(ref), admin ? " (hex)" : "");
    /* The source, named before the read: a variable is removed once read. */
    const char *from = file ? file : getenv(env) ? env : "the terminal";
    if (kct_secret_get(what, "--new-file", file, env, prompt, 1, out) != 0)
        return KCT_EXIT_USAGE;
    const char *problem = admin ? kct_check_admin_key(out->text) : kct_check_pin(out->text);
    if (problem) {
        kct_secret_wipe(out);
        kct_err("%s (from %s): %s", what, from, problem);
        return KCT_EXIT_USAGE;
    }
    return 0;
}

int kca_cmd_change_pin(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"old-file", required_argument, NULL, OPT_OLD_FILE},
        {"new-file", required_argument, NULL, OPT_NEW_FILE},
        {"issuer-pin-file", required_argument, NULL, OPT_ISSUER_PIN_FILE},
        {"admin-key-file", required_argument, NULL, OPT_OLD_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        COMMON_LONGOPTS};
    struct pin_opts o = {NULL, NULL, NULL, NULL, NULL, 0};
    int stop;
    int i = parse_opts(argc, argv, lo, w, pin_opt, &o, &stop);
    if (i < 0)
        return stop;
    keycard_pin ref;
    if (argc - i != 1 || kca_parse_ref(argv[i], 1, &ref) != 0)
        return usage_error(argv[0], "say which: issuer, holder or admin");

    /* Collect the key and both values before touching the card so a typo costs no try. */
    kca_issuer iss;
    int ex = kca_issuer_load(argv[0], o.issuer_pub, &iss);
    if (ex)
        return ex;
    if (!iss.pem) {
        ex = kca_open_secret(w, argv[0], ref == KEYCARD_ADMIN_KEY ? "the admin key" : "a PIN",
                             &iss, NULL, 0, NULL);
        return ex;
    }
    kct_secret oldv, newv;
    if ((ex = kca_get_current(ref, o.old_file, &oldv)) != 0) {
        kca_issuer_free(&iss);
        return ex;
    }
    if ((ex = get_new(ref, o.new_file, &newv)) != 0) {
        kct_secret_wipe(&oldv);
        kca_issuer_free(&iss);
        return ex;
    }
    keycard *kc = NULL;
    ex = kca_open_secret(w, argv[0], ref == KEYCARD_ADMIN_KEY ? "the admin key" : "a PIN", &iss,
                         &kc, 0, NULL);
    kca_issuer_free(&iss);
    if (ex)
        goto out;
    if (ref == KEYCARD_PIN_HOLDER && (ex = kca_verify(kc, KEYCARD_PIN_ISSUER, o.issuer_file)))
        goto out;
    int tries = -1;
    keycard_rc rc;
    if (ref == KEYCARD_ADMIN_KEY) {
        uint8_t ok[32], nk[32];
        int on = kct_admin_key_parse(oldv.text, ok), nn = kct_admin_key_parse(newv.text, nk);
        rc = keycard_change_admin(kc, ok, (size_t)on, nk, (size_t)nn, &tries);
        kct_wipe(ok, sizeof ok);
        kct_wipe(nk, sizeof nk);
    } else {
        rc = keycard_change_pin(kc, ref, oldv.text, newv.text, &tries);
    }
    if (rc != KEYCARD_OK) {
        char what[64];
        snprintf(what, sizeof what, "change %s", kct_ref_name(ref));
        ex = kct_fail_cred(rc, what, ref, tries);
        goto out;
    }
    printf("%s changed\n", kct_ref_name(ref));
out:
    keycard_close(kc);
    kct_secret_wipe(&oldv);
    kct_secret_wipe(&newv);
    return ex;
}

int kca_cmd_unblock(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"new-pin", no_argument, NULL, OPT_NEW_PIN},
        {"new-file", required_argument, NULL, OPT_NEW_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        COMMON_LONGOPTS};
    struct pin_opts o = {NULL, NULL, NULL, NULL, NULL, 0};
    int stop;
    int i = parse_opts(argc, argv, lo, w, pin_opt, &o, &stop);
    if (i < 0)
        return stop;
    keycard_pin ref;
    if (argc - i != 1 || kca_parse_ref(argv[i], 0, &ref) != 0)
        return usage_error(argv[0], "say which: issuer or holder (the admin key cannot be "
                                    "unblocked)");
    kca_issuer iss;
    int ex = kca_issuer_load(argv[0], o.issuer_pub, &iss);
    if (ex)
        return ex;
    if (!iss.pem)
        return kca_open_secret(w, argv[0], "the admin key", &iss, NULL, 0, NULL);
    kct_secret newv;
    kct_secret_wipe(&newv);
    if (o.new_pin && (ex = get_new(ref, o.new_file, &newv)) != 0) {
        kca_issuer_free(&iss);
        return ex;
    }
    keycard *kc = NULL;
    ex = kca_open_secret(w, argv[0], "the admin key", &iss, &kc, 0, NULL);
    kca_issuer_free(&iss);
    if (ex)
        goto out;
    if ((ex = kca_verify(kc, KEYCARD_ADMIN_KEY, o.admin_key_file)) != 0)
        goto out;
    keycard_rc rc = keycard_unblock_pin(kc, ref, o.new_pin ? newv.text : NULL);
    if (rc != KEYCARD_OK) {
        char what[64];
        snprintf(what, sizeof what, "unblock %s", kct_ref_name(ref));
        ex = kct_fail(rc, what, -1);
        goto out;
    }
    int tries = -1;
    if (keycard_tries_left(kc, ref, &tries) == KEYCARD_OK)
        printf("%s unblocked%s (%d tries)\n", kct_ref_name(ref),
               o.new_pin ? " with a new PIN" : "", tries);
    else
        printf("%s unblocked%s\n", kct_ref_name(ref), o.new_pin ? " with a new PIN" : "");
out:
    keycard_close(kc);
    kct_secret_wipe(&newv);
    return ex;
}

/* ---- readers ------------------------------------------------------------------------ */

int kca_cmd_readers(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {COMMON_LONGOPTS};
    int stop;
    int i = parse_opts(argc, argv, lo, w, NULL, NULL, &stop);
    if (i < 0)
        return stop;
    if (i != argc)
        return usage_error(argv[0], "no arguments expected");
    char buf[8192];
    keycard_rc rc = keycard_list_readers(buf, sizeof buf);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "readers", -1);
    if (!buf[0]) {
        kct_err("readers: no PC/SC reader found");
        return KCT_EXIT_FAIL;
    }
    /* Each reader with what pcscd says is in it: nothing is sent to any card. */
    static const char *const kinds[] = {"none", "keycard", "target", "other"};
    static const char *const words[] = {"no card", "key card", "target card", "other card"};
    json_t *list = kca_json ? json_array() : NULL;
    unsigned idx = 0;
    for (char *r = buf, *save = NULL, *name; (name = strtok_r(r, "\n", &save)) != NULL;
         r = NULL, idx++) {
        keycard_card_kind kind = KEYCARD_KIND_NONE;
        int busy = 0;
        keycard_rc prc = keycard_reader_probe(name, &kind, &busy);
        const char *k = prc == KEYCARD_OK ? kinds[kind] : "unknown";
        if (list) {
            json_array_append_new(list, json_pack("{s:i, s:s, s:b, s:s, s:b}", "index", idx,
                                                  "name", name, "card",
                                                  prc == KEYCARD_OK && kind != KEYCARD_KIND_NONE,
                                                  "kind", k, "reserved", busy));
        } else {
            printf("%u  %-40s %s%s\n", idx, name,
                   prc == KEYCARD_OK ? words[kind] : keycard_strerror(prc),
                   busy ? " (reserved by another program)" : "");
        }
    }
    return list ? kct_json_print(json_pack("{s:o}", "readers", list)) : KCT_EXIT_OK;
}

/* ---- keys, templates ---------------------------------------------------------------- */

/* The key card opened (channel certified under the issuer key) and its admin key verified. */
static int admin_session(const char *cmd, kct_where *w, const struct admin_key_opts *o,
                         keycard **kc)
{
    kca_issuer iss;
    int ex = kca_issuer_load(cmd, o->issuer_pub, &iss);
    if (ex == 0)
        ex = kca_open_secret(w, cmd, "the admin key", &iss, kc, 0, NULL);
    kca_issuer_free(&iss);
    if (ex)
        return ex;
    ex = kca_verify(*kc, KEYCARD_ADMIN_KEY, o->admin_key_file);
    if (ex) {
        keycard_close(*kc);
        *kc = NULL;
    }
    return ex;
}

/* Open the key card and verify its admin key: what both directories need. */
static int open_admin(int argc, char **argv, kct_where *w, keycard **kc)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB}, COMMON_LONGOPTS};
    struct admin_key_opts o = {NULL, NULL};
    int stop;
    int i = parse_opts(argc, argv, lo, w, admin_key_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (i != argc)
        return usage_error(argv[0], "no arguments expected");
    return admin_session(argv[0], w, &o, kc);
}

struct gen_opts {
    struct admin_key_opts a;
    const char *type, *usage, *label;
    long components; /* keys import: how many */
    const char *component[8], *custodian[8], *ckcv[8];
    int n_component, n_custodian, n_ckcv;
};

static int gen_opt(int opt, const char *arg, void *ctx)
{
    struct gen_opts *o = ctx;
    switch (opt) {
    case OPT_TYPE:
        o->type = arg;
        return 0;
    case OPT_USAGE:
        o->usage = arg;
        return 0;
    case OPT_LABEL:
        o->label = arg;
        return 0;
    case OPT_COMPONENTS: {
        char *end;
        o->components = strtol(arg, &end, 10);
        if (!*arg || *end || o->components < 2 || o->components > 8) {
            kct_err("keys import: --components takes 2..8");
            return -1;
        }
        return 0;
    }
    case OPT_COMPONENT:
    case OPT_CUSTODIAN:
    case OPT_COMPONENT_KCV: {
        /* Repeated, one per custodian, in order. */
        const char **list = opt == OPT_COMPONENT ? o->component
                            : opt == OPT_CUSTODIAN ? o->custodian
                                                   : o->ckcv;
        int *n = opt == OPT_COMPONENT ? &o->n_component
                 : opt == OPT_CUSTODIAN ? &o->n_custodian
                                        : &o->n_ckcv;
        if (*n >= 8) {
            kct_err("keys import: at most 8 components");
            return -1;
        }
        list[(*n)++] = arg;
        return 0;
    }
    }
    return admin_key_opt(opt, arg, &o->a);
}

/* "envelope,inject,static,common" -> KEYCARD_KEYF_*; -1 on an unknown word. */
static int parse_usage(const char *s)
{
    static const struct {
        const char *name;
        int bit;
    } words[] = {{"envelope", KEYCARD_KEYF_ENVELOPE},
                 {"inject", KEYCARD_KEYF_INJECT},
                 {"static", KEYCARD_KEYF_STATIC},
                 {"common", KEYCARD_KEYF_COMMON}};
    int flags = 0;
    while (*s) {
        size_t n = strcspn(s, ","), i;
        for (i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strlen(words[i].name) == n && strncmp(s, words[i].name, n) == 0)
                break;
        if (i == sizeof words / sizeof words[0])
            return -1;
        flags |= words[i].bit;
        s += n + (s[n] == ',');
    }
    return flags;
}

/* The options both keys generate and keys import take. */
#define KEY_SPEC_LONGOPTS                                                         \
    {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},              \
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},                  \
        {"type", required_argument, NULL, OPT_TYPE},                              \
        {"usage", required_argument, NULL, OPT_USAGE},                            \
        {"label", required_argument, NULL, OPT_LABEL}

/*
 * After the options: "SUB NUMBER" as the only arguments, a type, a usage, a
 * label that fits. Returns 0 with *number, *type, *flags set, or the exit code.
 */
static int key_spec(int argc, char **argv, int i, const char *sub, const struct gen_opts *o,
                    uint8_t *number, uint8_t *type, uint8_t *flags)
{
    char what[64], *end;
    snprintf(what, sizeof what, "keys %s", sub);
    if (argc - i != 2 || strcmp(argv[i], sub) != 0)
        return usage_error(argv[0], strcmp(sub, "generate") == 0 ? "keys generate takes one NUMBER (1..254)"
                                    : strcmp(sub, "wrap") == 0   ? "keys wrap takes one NUMBER (1..254)"
                                                                 : "keys import takes one NUMBER (1..254)");
    unsigned long n = strtoul(argv[i + 1], &end, 10);
    if (!*argv[i + 1] || *end || n < 1 || n > 254)
        return usage_error(argv[0], "NUMBER must be 1..254");
    if (!o->type || (strcmp(o->type, "aes128") != 0 && strcmp(o->type, "aes256") != 0))
        return usage_error(argv[0], "--type aes128 or --type aes256");
    int f = o->usage ? parse_usage(o->usage) : -1;
    if (f <= 0)
        return usage_error(argv[0], "--usage takes envelope, inject, static and common, joined "
                                    "by commas");
    if (o->label && strlen(o->label) > 32)
        return usage_error(argv[0], "--label is at most 32 characters");
    *number = (uint8_t)n;
    *type = strcmp(o->type, "aes128") == 0 ? KEYCARD_KEY_AES128 : KEYCARD_KEY_AES256;
    *flags = (uint8_t)f;
    return 0;
}

/* Options (lo), then key_spec for "keys SUB NUMBER". Returns 0 or the exit code. */
static int key_cmd_parse(int argc, char **argv, kct_where *w, const struct option *lo,
                         const char *sub, struct gen_opts *o, uint8_t *number, uint8_t *type,
                         uint8_t *flags)
{
    int stop;
    memset(o, 0, sizeof *o);
    int i = parse_opts(argc, argv, lo, w, gen_opt, o, &stop);
    if (i < 0)
        return stop;
    return key_spec(argc, argv, i, sub, o, number, type, flags);
}

/* The result of a key made or imported: one line, or its JSON document. */
static int key_made(const char *how, uint8_t number, const struct gen_opts *o, uint8_t flags,
                    const uint8_t kcv[3])
{
    char fl[64], hex[7];
    flag_names(flags, fl, sizeof fl);
    kct_hex_format(kcv, 3, hex);
    if (kca_json)
        return kct_json_print(json_pack("{s:i, s:s, s:o, s:s, s:s}", "number", number, "type",
                                        o->type, "flags", flags_json(flags), "kcv", hex,
                                        "label", o->label ? o->label : ""));
    printf("key %u %s: %s, %s, KCV %s%s%s\n", number, how, o->type, fl, hex,
           o->label ? ", label " : "", o->label ? o->label : "");
    return KCT_EXIT_OK;
}

/* The card refused a new version: the number holds two already (or a session is open). */
static int two_versions(const char *what, unsigned number)
{
    kct_err("%s: key %u: the card made no new version: the number holds a current and a retired "
            "version (destroy the retired one first: kc-admin keys destroy), or a provisioning "
            "session is open",
            what, number);
    return KCT_EXIT_FAIL;
}

/* kc-admin keys generate NUMBER --type T --usage U [--label L]: made on the card. */
static int keys_generate(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {KEY_SPEC_LONGOPTS, COMMON_LONGOPTS};
    struct gen_opts o;
    uint8_t number, type, flags, kcv[3];
    int ex = key_cmd_parse(argc, argv, w, lo, "generate", &o, &number, &type, &flags);
    if (ex)
        return ex;
    keycard *kc = NULL;
    if ((ex = admin_session(argv[0], w, &o.a, &kc)) != 0)
        return ex;
    keycard_rc rc = keycard_key_generate(kc, number, type, flags, o.label ? o.label : "", kcv);
    keycard_close(kc);
    if (rc == KEYCARD_ERR_CONDITIONS)
        return two_versions("keys generate", number);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "keys generate", -1);
    return key_made("generated on the card", number, &o, flags, kcv);
}

/*
 * kc-admin keys import --components N NUMBER ...: each custodian's name,
 * component (never echoed) and its KCV, from the options or asked in turn;
 * each component checked against its KCV here, then on the card, each sent
 * in its own command inside the channel; the card combines them.
 */
static int keys_import(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        KEY_SPEC_LONGOPTS,
        {"components", required_argument, NULL, OPT_COMPONENTS},
        {"component", required_argument, NULL, OPT_COMPONENT},
        {"custodian", required_argument, NULL, OPT_CUSTODIAN},
        {"component-kcv", required_argument, NULL, OPT_COMPONENT_KCV}, COMMON_LONGOPTS};
    struct gen_opts o;
    uint8_t number, type, flags, kcv[3];
    int ex = key_cmd_parse(argc, argv, w, lo, "import", &o, &number, &type, &flags);
    if (ex)
        return ex;
    if (o.components < 2)
        return usage_error(argv[0], "keys import: --components N (2..8): the custodians");
    if (o.n_component > o.components || o.n_custodian > o.components || o.n_ckcv > o.components)
        return usage_error(argv[0], "keys import: more --component, --custodian or "
                                    "--component-kcv than --components");
    keycard *kc = NULL;
    if ((ex = admin_session(argv[0], w, &o.a, &kc)) != 0)
        return ex;
    size_t klen = type == KEYCARD_KEY_AES128 ? 16 : 32;
    for (int c = 0; c < o.components && ex == 0; c++) {
        char name[64], hex[16], prompt[64], want[7], have[7];
        kct_secret comp;
        uint8_t bytes[32], got[3], given[3];
        snprintf(prompt, sizeof prompt, "Custodian %d of %ld, name", c + 1, o.components);
        if (c < o.n_custodian)
            snprintf(name, sizeof name, "%s", o.custodian[c]);
        else if (kct_prompt_line(prompt, name, sizeof name) != 0) {
            ex = KCT_EXIT_USAGE;
            break;
        }
        snprintf(prompt, sizeof prompt, "Component %d of %ld (hex)", c + 1, o.components);
        if (kct_secret_source("component", "--component", c < o.n_component ? o.component[c]
                                                                             : "prompt",
                              NULL, prompt, 0, &comp) != 0) {
            ex = KCT_EXIT_USAGE;
            break;
        }
        int n = kct_hex_parse(comp.text, bytes, sizeof bytes);
        kct_secret_wipe(&comp);
        snprintf(prompt, sizeof prompt, "Component %d of %ld, its KCV (6 hex digits)", c + 1,
                 o.components);
        if (n != (int)klen) {
            kct_err("keys import: component %d is not %zu bytes of hex; nothing of it sent", c + 1,
                    klen);
            ex = KCT_EXIT_USAGE;
        } else if (c < o.n_ckcv) {
            snprintf(hex, sizeof hex, "%s", o.ckcv[c]);
        } else if (kct_prompt_line(prompt, hex, sizeof hex) != 0) {
            ex = KCT_EXIT_USAGE;
        }
        if (ex == 0 && kct_hex_parse(hex, given, sizeof given) != 3) {
            kct_err("keys import: component %d: its KCV is 6 hex digits", c + 1);
            ex = KCT_EXIT_USAGE;
        }
        /* A mistyped component is caught here, before it reaches the card. */
        if (ex == 0 && keycard_key_check_value(bytes, klen, got) == KEYCARD_OK &&
            memcmp(got, given, 3) != 0) {
            kct_hex_format(got, 3, have);
            kct_hex_format(given, 3, want);
            kct_err("keys import: component %d (%s): its KCV is %s, the custodian's is %s: "
                    "mistyped; nothing of it sent",
                    c + 1, name, have, want);
            ex = KCT_EXIT_FAIL;
        }
        keycard_rc rc = ex ? KEYCARD_OK
                           : keycard_key_component(kc, number, type, flags,
                                                   o.label ? o.label : "", name, bytes, klen,
                                                   given);
        kct_wipe(bytes, sizeof bytes);
        if (rc != KEYCARD_OK) {
            char what[64];
            snprintf(what, sizeof what, "keys import: component %d", c + 1);
            ex = kct_fail(rc, what, -1);
        } else if (ex == 0 && !kca_json) {
            kct_hex_format(given, 3, want);
            fprintf(stderr, "component %d of %ld (%s, KCV %s) taken by the card\n", c + 1,
                    o.components, name, want);
        }
    }
    keycard_rc rc = ex ? KEYCARD_OK : keycard_key_combine(kc, number, (unsigned)o.components, kcv);
    keycard_close(kc); /* components not combined are forgotten with the session */
    if (ex)
        return ex;
    if (rc == KEYCARD_ERR_CONDITIONS)
        return two_versions("keys import", number);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "keys import: combine", -1);
    return key_made("imported from components", number, &o, flags, kcv);
}

/* ---- wrapped keys: certificate, export, import from a file, offline wrap ---- */

#define KEYFILE_MAX 254 /* blobs in one file: one per key number */

/*
 * The lines of path that are neither blank nor '#' comments, each as bytes
 * (hex): at most max of at most cap bytes, into items (max * cap) and lens.
 * Returns the count, or -1 with a message naming the line.
 */
static int hex_lines(const char *what, const char *path, uint8_t *items, size_t cap, size_t *lens,
                     int max)
{
    uint8_t *data;
    size_t len, i = 0;
    char err[512];
    int n = 0, line = 0;
    if (kct_file_read(path, 1 << 20, &data, &len, err, sizeof err) != 0) {
        kct_err("%s: %s", what, err);
        return -1;
    }
    while (i < len && n >= 0) {
        size_t e = i, a = i, b;
        while (e < len && data[e] != '\n')
            e++;
        b = e;
        line++;
        while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r'))
            a++;
        while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r'))
            b--;
        if (a < b && data[a] != '#') {
            char tmp[2 * 512 + 1];
            int k = -1;
            if (n >= max) {
                kct_err("%s: %s: line %d: more than %d entries", what, path, line, max);
                n = -1;
                break;
            }
            if (b - a < sizeof tmp) {
                memcpy(tmp, data + a, b - a);
                tmp[b - a] = '\0';
                k = kct_hex_parse(tmp, items + (size_t)n * cap, cap);
            }
            if (k <= 0) {
                kct_err("%s: %s: line %d is not one entry in hex (at most %zu bytes)", what,
                        path, line, cap);
                n = -1;
                break;
            }
            lens[n++] = (size_t)k;
        }
        i = e + 1;
    }
    kct_file_free(data, len);
    return n;
}

/*
 * A recipient's channel certificate from a file (kc-admin keys cert), checked
 * against the issuer key. Returns 0 or the exit code (said).
 */
static int cert_load(const char *cmd, const char *path, const char *issuer_opt,
                     keycard_channel_key *ck)
{
    uint8_t cert[KEYCARD_CHANNEL_CERT_LEN + 1];
    size_t len;
    kca_issuer iss;
    int ex = kca_issuer_load(cmd, issuer_opt, &iss);
    if (ex)
        return ex;
    if (!iss.pem) {
        kct_err("%s: the recipient's certificate must be checked: give --issuer-pub FILE (the "
                "issuer public key, PEM) or set KEYCARD_ISSUER_PUB",
                cmd);
        return KCT_EXIT_USAGE;
    }
    char what[96];
    snprintf(what, sizeof what, "%s: --to", cmd);
    int n = hex_lines(what, path, cert, sizeof cert, &len, 1);
    keycard_rc rc = n != 1 ? KEYCARD_ERR_WRONG_DATA
                           : keycard_channel_cert_parse(cert, len, iss.pem,
                                                        kct_key_len(iss.pem, iss.pem_len), ck);
    kca_issuer_free(&iss);
    if (n < 0)
        return KCT_EXIT_USAGE;
    if (rc == KEYCARD_ERR_NOT_GENUINE) {
        kct_err("%s: %s: not a key card of this issuer (its certificate is not signed by %s); "
                "nothing sent",
                cmd, path, kca_issuer_path(issuer_opt));
        return KCT_EXIT_FAIL;
    }
    if (rc != KEYCARD_OK) {
        kct_err("%s: %s: not a key card's channel certificate (kc-admin keys cert writes one)",
                cmd, path);
        return KCT_EXIT_USAGE;
    }
    return 0;
}

/* Where a command writes: --out FILE (0600, replaced whole) or stdout. */
typedef struct out_file {
    kct_private pf;
    FILE *f;
    const char *path;
} out_file;

static int out_open(const char *cmd, const char *path, out_file *o)
{
    o->path = path;
    o->f = stdout;
    if (!path)
        return 0;
    if (kct_private_create(&o->pf, path) != 0) {
        kct_err("%s: --out %s: %s", cmd, path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    o->f = o->pf.f;
    return 0;
}

static int out_close(const char *cmd, out_file *o, int ok)
{
    if (!o->path)
        return fflush(stdout) == 0 ? 0 : KCT_EXIT_FAIL;
    if (!ok) {
        kct_private_abort(&o->pf);
        return 0;
    }
    if (kct_private_commit(&o->pf) != 0) {
        kct_err("%s: --out %s: %s", cmd, o->path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    return 0;
}

struct move_opts {
    struct admin_key_opts a;
    const char *to, *out, *key, *type, *usage, *label, *kcv;
    long version;
};

static int move_opt(int opt, const char *arg, void *ctx)
{
    struct move_opts *o = ctx;
    char *end;
    switch (opt) {
    case OPT_TO:
        o->to = arg;
        return 0;
    case OPT_OUT:
        o->out = arg;
        return 0;
    case OPT_KEY:
        o->key = arg;
        return 0;
    case OPT_KCV:
        o->kcv = arg;
        return 0;
    case OPT_TYPE:
        o->type = arg;
        return 0;
    case OPT_USAGE:
        o->usage = arg;
        return 0;
    case OPT_LABEL:
        o->label = arg;
        return 0;
    case OPT_VERSION:
        o->version = strtol(arg, &end, 10);
        if (!*arg || *end || o->version < 1 || o->version > 255) {
            kct_err("--version takes 1..255");
            return -1;
        }
        return 0;
    }
    return admin_key_opt(opt, arg, &o->a);
}

/* One blob as a file line, with a comment saying what it is. */
static void blob_write(FILE *f, const uint8_t *blob, size_t len)
{
    keycard_wrapped_info in;
    char hex[2 * KEYCARD_WRAPPED_MAX + 1], kcv[7], from[17], to[17], fl[64];
    if (keycard_wrapped_parse(blob, len, &in) != KEYCARD_OK)
        return;
    kct_hex_format(in.kcv, 3, kcv);
    kct_hex_format(in.from, 8, from);
    kct_hex_format(in.to, 8, to);
    flag_names(in.flags, fl, sizeof fl);
    kct_hex_format(blob, len, hex);
    fprintf(f, "# key %u version %u %s %s KCV %s label \"%s\" from %s to %s\n%s\n", in.number,
            in.version, in.type == KEYCARD_KEY_AES128 ? "aes128" : "aes256", fl, kcv, in.label,
            from, to, hex);
}

/* kc-admin keys cert [--out FILE]: this key card's channel certificate, no PIN. */
static int keys_cert(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {{"out", required_argument, NULL, OPT_OUT},
                                       {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
                                       COMMON_LONGOPTS};
    struct move_opts o;
    int stop;
    memset(&o, 0, sizeof o);
    int i = parse_opts(argc, argv, lo, w, move_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (argc - i != 1)
        return usage_error(argv[0], "keys cert takes no arguments");
    kca_issuer iss;
    int ex = kca_issuer_load(argv[0], o.a.issuer_pub, &iss);
    keycard *kc = NULL;
    if (ex == 0)
        ex = kct_open(w, &kc);
    keycard_channel_key ck;
    keycard_rc rc = KEYCARD_OK;
    if (ex == 0) {
        rc = keycard_channel_cert_read(kc, iss.pem, iss.pem ? kct_key_len(iss.pem, iss.pem_len) : 0,
                                       &ck);
        keycard_close(kc);
    }
    kca_issuer_free(&iss);
    if (ex)
        return ex;
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "keys cert", -1);
    uint8_t cert[KEYCARD_CHANNEL_CERT_LEN];
    char hex[2 * KEYCARD_CHANNEL_CERT_LEN + 1], serial[17];
    keycard_channel_cert_encode(&ck, cert);
    kct_hex_format(cert, sizeof cert, hex);
    kct_hex_format(ck.serial, 8, serial);
    out_file of;
    if ((ex = out_open("keys cert", o.out, &of)) != 0)
        return ex;
    fprintf(of.f, "# keycard channel certificate of key card %s%s\n%s\n", serial,
            iss.path ? ", checked against the issuer key" : "", hex);
    return out_close("keys cert", &of, 1);
}

/*
 * kc-admin keys export --to CERT [NUMBER...]: the chosen keys (all without
 * numbers), each wrapped by the card to the key card of CERT; the card checks
 * the certificate as kc-admin does, and logs each export.
 */
static int keys_export(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        {"to", required_argument, NULL, OPT_TO},
        {"out", required_argument, NULL, OPT_OUT}, COMMON_LONGOPTS};
    struct move_opts o;
    int stop;
    memset(&o, 0, sizeof o);
    int i = parse_opts(argc, argv, lo, w, move_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (!o.to)
        return usage_error(argv[0], "keys export needs --to CERT (kc-admin keys cert on the "
                                    "receiving key card writes it)");
    unsigned nums[KEYFILE_MAX];
    int nn = 0;
    for (int k = i + 1; k < argc; k++) {
        char *end;
        unsigned long v = strtoul(argv[k], &end, 10);
        if (!*argv[k] || *end || v < 1 || v > 254 || nn >= KEYFILE_MAX)
            return usage_error(argv[0], "keys export: NUMBER must be 1..254");
        nums[nn++] = (unsigned)v;
    }
    keycard_channel_key to;
    int ex = cert_load("keys export", o.to, o.a.issuer_pub, &to);
    keycard *kc = NULL;
    if (ex || (ex = admin_session(argv[0], w, &o.a, &kc)) != 0)
        return ex;
    if (nn == 0) { /* every key the card holds */
        keycard_key_info keys[KCA_NUMBERED_MAX];
        size_t n = KCA_NUMBERED_MAX;
        keycard_rc rc = keycard_keys_list(kc, keys, &n);
        if (rc != KEYCARD_OK) {
            keycard_close(kc);
            return kct_fail(rc, "keys export: read the key directory", -1);
        }
        for (size_t k = 0; k < n; k++)
            nums[nn++] = keys[k].number;
        if (nn == 0) {
            keycard_close(kc);
            kct_err("keys export: the key card holds no keys; nothing written");
            return KCT_EXIT_FAIL;
        }
    }
    out_file of;
    if ((ex = out_open("keys export", o.out, &of)) != 0) {
        keycard_close(kc);
        return ex;
    }
    char serial[17];
    kct_hex_format(to.serial, 8, serial);
    fprintf(of.f, "# keycard wrapped keys (docs/protocol.md 9a) for key card %s\n", serial);
    json_t *list = kca_json ? json_array() : NULL;
    for (int k = 0; k < nn && ex == 0; k++) {
        uint8_t blob[KEYCARD_WRAPPED_MAX];
        size_t bl = 0;
        keycard_rc rc = keycard_key_export(kc, (uint8_t)nums[k], &to, blob, sizeof blob, &bl);
        if (rc != KEYCARD_OK) {
            char what[96];
            snprintf(what, sizeof what, "keys export: key %u", nums[k]);
            if (rc == KEYCARD_ERR_CONDITIONS) {
                kct_err("keys export: the key card holds no issuer key to check the recipient "
                        "against (provisioned before wrapped keys): run kc-admin provision on it "
                        "once more to add it; nothing written");
                ex = KCT_EXIT_FAIL;
            } else if (rc == KEYCARD_ERR_WRONG_DATA) {
                kct_err("keys export: key %u: the key card refused the recipient: not a key card "
                        "of its issuer, or itself; nothing written", nums[k]);
                ex = KCT_EXIT_FAIL;
            } else {
                ex = kct_fail(rc, what, -1);
            }
            break;
        }
        blob_write(of.f, blob, bl);
        keycard_wrapped_info in;
        char kcv[7];
        keycard_wrapped_parse(blob, bl, &in);
        kct_hex_format(in.kcv, 3, kcv);
        if (list)
            json_array_append_new(list, json_pack("{s:i, s:s, s:s}", "number", in.number, "kcv",
                                                  kcv, "to", serial));
        else
            fprintf(stderr, "key %u (KCV %s) wrapped for key card %s\n", in.number, kcv, serial);
    }
    keycard_close(kc);
    int cex = out_close("keys export", &of, ex == 0);
    if (list && ex == 0 && !o.out)
        json_decref(list); /* stdout carries the keys themselves */
    else if (list && ex == 0)
        return kct_json_print(list);
    else if (list)
        json_decref(list);
    return ex ? ex : cex;
}

/* kc-admin keys import FILE: every blob of FILE into this key card. */
static int keys_import_file(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB}, COMMON_LONGOPTS};
    struct move_opts o;
    int stop;
    memset(&o, 0, sizeof o);
    int i = parse_opts(argc, argv, lo, w, move_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (argc - i != 2)
        return usage_error(argv[0], "keys import takes one FILE (from kc-admin keys export or "
                                    "keys wrap), or --components N NUMBER");
    static uint8_t blobs[KEYFILE_MAX][KEYCARD_WRAPPED_MAX];
    size_t lens[KEYFILE_MAX];
    int n = hex_lines("keys import", argv[i + 1], &blobs[0][0], KEYCARD_WRAPPED_MAX, lens,
                      KEYFILE_MAX);
    if (n < 0)
        return KCT_EXIT_USAGE;
    if (n == 0) {
        kct_err("keys import: %s holds no wrapped key", argv[i + 1]);
        return KCT_EXIT_USAGE;
    }
    for (int k = 0; k < n; k++) {
        keycard_wrapped_info in;
        if (keycard_wrapped_parse(blobs[k], lens[k], &in) != KEYCARD_OK) {
            kct_err("keys import: %s: entry %d is not a wrapped key; nothing imported",
                    argv[i + 1], k + 1);
            return KCT_EXIT_USAGE;
        }
    }
    keycard *kc = NULL;
    int ex = admin_session(argv[0], w, &o.a, &kc);
    if (ex)
        return ex;
    json_t *list = kca_json ? json_array() : NULL;
    for (int k = 0; k < n && ex == 0; k++) {
        keycard_wrapped_info in;
        uint8_t kcv[3];
        char hex[7], from[17];
        keycard_wrapped_parse(blobs[k], lens[k], &in);
        keycard_rc rc = keycard_key_import_wrapped(kc, blobs[k], lens[k], kcv);
        if (rc != KEYCARD_OK) {
            char what[128];
            snprintf(what, sizeof what, "keys import: key %u", in.number);
            if (rc == KEYCARD_ERR_CONDITIONS) {
                kct_err("keys import: key %u version %u: not the next version of key %u on "
                        "this card (a replayed or older blob), or it holds two versions "
                        "already; keys before it were imported",
                        in.number, in.version, in.number);
                ex = KCT_EXIT_FAIL;
            } else if (rc == KEYCARD_ERR_WRONG_DATA) {
                kct_err("keys import: key %u: refused by the key card: not wrapped for it, "
                        "altered, or of a version it does not hold; keys before it were imported",
                        in.number);
                ex = KCT_EXIT_FAIL;
            } else {
                ex = kct_fail(rc, what, -1);
            }
            break;
        }
        kct_hex_format(kcv, 3, hex);
        kct_hex_format(in.from, 8, from);
        if (list)
            json_array_append_new(list, json_pack("{s:i, s:i, s:s, s:s, s:s}", "number",
                                                  in.number, "version", in.version, "kcv", hex,
                                                  "label", in.label, "from", from));
        else
            printf("key %u imported, KCV %s%s%s\n", in.number, hex,
                   memcmp(in.from, "\0\0\0\0\0\0\0\0", 8) ? ", from key card " : ", prepared "
                                                                                 "off-card",
                   memcmp(in.from, "\0\0\0\0\0\0\0\0", 8) ? from : "");
    }
    keycard_close(kc);
    if (list && ex == 0)
        return kct_json_print(list);
    if (list)
        json_decref(list);
    return ex;
}

/*
 * kc-admin keys wrap --to CERT NUMBER --type T --usage U [--label L]
 * [--version V] [--key SOURCE] [--out FILE]: the offline preparer; no card.
 */
static int keys_wrap(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        {"to", required_argument, NULL, OPT_TO},
        {"out", required_argument, NULL, OPT_OUT},
        {"key", required_argument, NULL, OPT_KEY},
        {"type", required_argument, NULL, OPT_TYPE},
        {"usage", required_argument, NULL, OPT_USAGE},
        {"label", required_argument, NULL, OPT_LABEL},
        {"version", required_argument, NULL, OPT_VERSION}, COMMON_LONGOPTS};
    struct move_opts o;
    int stop;
    memset(&o, 0, sizeof o);
    o.version = 1;
    int i = parse_opts(argc, argv, lo, w, move_opt, &o, &stop);
    if (i < 0)
        return stop;
    struct gen_opts g;
    memset(&g, 0, sizeof g);
    g.type = o.type;
    g.usage = o.usage;
    g.label = o.label;
    uint8_t number, type, flags;
    int ex = key_spec(argc, argv, i, "wrap", &g, &number, &type, &flags);
    if (ex)
        return ex;
    if (!o.to)
        return usage_error(argv[0], "keys wrap needs --to CERT (the receiving key card's "
                                    "certificate, from kc-admin keys cert)");
    keycard_channel_key to;
    if ((ex = cert_load("keys wrap", o.to, o.a.issuer_pub, &to)) != 0)
        return ex;
    size_t klen = type == KEYCARD_KEY_AES128 ? 16 : 32;
    kct_secret sec;
    uint8_t key[32], blob[KEYCARD_WRAPPED_MAX];
    size_t bl = 0;
    if (kct_secret_source("key", "--key", o.key ? o.key : "prompt", NULL,
                          klen == 16 ? "Key (32 hex digits)" : "Key (64 hex digits)", 0,
                          &sec) != 0)
        return KCT_EXIT_USAGE;
    int kn = kct_hex_parse(sec.text, key, sizeof key);
    kct_secret_wipe(&sec);
    if (kn != (int)klen) {
        kct_wipe(key, sizeof key);
        kct_err("keys wrap: the key is not %zu bytes of hex; nothing written", klen);
        return KCT_EXIT_USAGE;
    }
    keycard_rc rc = keycard_key_wrap(&to, number, type, flags, o.label ? o.label : "",
                                     (uint8_t)o.version, key, klen, blob, sizeof blob, &bl);
    kct_wipe(key, sizeof key);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "keys wrap", -1);
    out_file of;
    if ((ex = out_open("keys wrap", o.out, &of)) != 0)
        return ex;
    blob_write(of.f, blob, bl);
    return out_close("keys wrap", &of, 1);
}

/*
 * kc-admin keys destroy NUMBER --version V --kcv HEX: the retired version of
 * key NUMBER, named twice over so that a slip cannot take another, erased.
 */
static int keys_destroy(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        {"version", required_argument, NULL, OPT_VERSION},
        {"kcv", required_argument, NULL, OPT_KCV}, COMMON_LONGOPTS};
    struct move_opts o;
    int stop;
    char *end;
    uint8_t kcv[3];
    memset(&o, 0, sizeof o);
    int i = parse_opts(argc, argv, lo, w, move_opt, &o, &stop);
    if (i < 0)
        return stop;
    unsigned long n = argc - i == 2 ? strtoul(argv[i + 1], &end, 10) : 0;
    if (argc - i != 2 || !*argv[i + 1] || *end || n < 1 || n > 254)
        return usage_error(argv[0], "keys destroy takes one NUMBER (1..254)");
    if (!o.version || !o.kcv || strlen(o.kcv) != 6 || kct_hex_parse(o.kcv, kcv, 3) != 3)
        return usage_error(argv[0], "keys destroy needs --version V and --kcv HEX (6 hex digits) "
                                    "of the retired version, as kc-admin keys lists it");
    keycard *kc = NULL;
    int ex = admin_session(argv[0], w, &o.a, &kc);
    if (ex)
        return ex;
    keycard_rc rc = keycard_key_destroy(kc, (uint8_t)n, (uint8_t)o.version, kcv);
    keycard_close(kc);
    if (rc == KEYCARD_ERR_NOT_FOUND) {
        kct_err("keys destroy: key %lu has no retired version (the current one is never "
                "destroyed: make or import the next version first)", n);
        return KCT_EXIT_FAIL;
    }
    if (rc == KEYCARD_ERR_WRONG_DATA) {
        kct_err("keys destroy: key %lu: its retired version is not version %ld with KCV %s; "
                "nothing destroyed", n, o.version, o.kcv);
        return KCT_EXIT_FAIL;
    }
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "keys destroy", -1);
    if (kca_json)
        return kct_json_print(json_pack("{s:i, s:i, s:s, s:b}", "number", (int)n, "version",
                                        (int)o.version, "kcv", o.kcv, "destroyed", 1));
    printf("key %lu version %ld (KCV %s) destroyed: erased from the key card's flash\n", n,
           o.version, o.kcv);
    return KCT_EXIT_OK;
}

/* ---- backup and restore ---------------------------------------------------- */

struct backup_opts {
    struct admin_key_opts a;
    const char *out, *shares, *from;
    const char *custodian[KEYCARD_BACKUP_SHARES_MAX];
    int n_custodian;
};

static int backup_opt(int opt, const char *arg, void *ctx)
{
    struct backup_opts *o = ctx;
    switch (opt) {
    case OPT_OUT:
        o->out = arg;
        return 0;
    case OPT_SHARES:
        o->shares = arg;
        return 0;
    case OPT_CUSTODIAN_NAME:
        if (o->n_custodian >= KEYCARD_BACKUP_SHARES_MAX) {
            kct_err("backup: at most %d --custodian", KEYCARD_BACKUP_SHARES_MAX);
            return -1;
        }
        o->custodian[o->n_custodian++] = arg;
        return 0;
    }
    return admin_key_opt(opt, arg, &o->a);
}

/* DIR/name as a private file with text, replaced whole. 0 or the exit code (said). */
static int write_private(const char *dir, const char *name, const char *text)
{
    char path[4096];
    kct_private pf;
    if (kct_path_join(dir, name, path, sizeof path) != 0) {
        kct_err("backup: --out %s: path too long", dir);
        return KCT_EXIT_USAGE;
    }
    if (kct_private_create(&pf, path) != 0) {
        kct_err("backup: %s: %s", path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    fputs(text, pf.f);
    if (kct_private_commit(&pf) != 0) {
        kct_err("backup: %s: %s", path, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    return 0;
}

/*
 * kc-admin backup --shares M-of-N --out DIR: the card makes a backup key, hands
 * it out only as N shares (DIR/share-X.txt, one file per custodian) and every
 * key as a backup blob under it (DIR/keys.kcb).
 */
int kca_cmd_backup(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB},
        {"shares", required_argument, NULL, OPT_SHARES},
        {"out", required_argument, NULL, OPT_OUT},
        {"custodian", required_argument, NULL, OPT_CUSTODIAN_NAME}, COMMON_LONGOPTS};
    struct backup_opts o;
    int stop;
    unsigned m = 0, n = 0;
    char tail;
    memset(&o, 0, sizeof o);
    int i = parse_opts(argc, argv, lo, w, backup_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (i != argc)
        return usage_error(argv[0], "no arguments expected");
    if (!o.shares || sscanf(o.shares, "%u-of-%u%c", &m, &n, &tail) != 2 || m < 2 || m > n ||
        n > KEYCARD_BACKUP_SHARES_MAX)
        return usage_error(argv[0], "--shares M-of-N: 2 <= M <= N <= 8 (e.g. 3-of-5)");
    if (!o.out)
        return usage_error(argv[0], "--out DIR: where the shares and the key file go");
    if (o.n_custodian && o.n_custodian != (int)n)
        return usage_error(argv[0], "give no --custodian, or one per share (N)");
    if (mkdir(o.out, 0700) != 0 && errno != EEXIST) {
        kct_err("backup: --out %s: %s", o.out, strerror(errno));
        return KCT_EXIT_FAIL;
    }
    keycard *kc = NULL;
    int ex = admin_session(argv[0], w, &o.a, &kc);
    if (ex)
        return ex;
    keycard_key_info keys[KCA_NUMBERED_MAX];
    size_t nk = KCA_NUMBERED_MAX;
    uint8_t id[KEYCARD_BACKUP_ID_LEN];
    char idhex[17], serial[17] = "?";
    keycard_identity ident;
    keycard_rc rc = keycard_keys_list(kc, keys, &nk);
    if (rc == KEYCARD_OK && nk == 0) {
        keycard_close(kc);
        kct_err("backup: the key card holds no keys; nothing written");
        return KCT_EXIT_FAIL;
    }
    if (rc == KEYCARD_OK && keycard_identity_read(kc, &ident) == KEYCARD_OK)
        kct_hex_format(ident.serial, 8, serial);
    if (rc == KEYCARD_OK)
        rc = keycard_backup_begin(kc, m, n, id);
    if (rc != KEYCARD_OK) {
        keycard_close(kc);
        return kct_fail(rc, "backup", -1);
    }
    kct_hex_format(id, sizeof id, idhex);
    /* The key file first: shares of a backup whose keys are not all written are no use. */
    static char text[KCA_NUMBERED_MAX * (2 * KEYCARD_WRAPPED_MAX + 200) + 256];
    size_t tl = (size_t)snprintf(text, sizeof text,
                                 "# keycard backup %s of key card %s: %zu keys, under a backup "
                                 "key that exists only as %u shares (any %u restore)\n",
                                 idhex, serial, nk, n, m);
    for (size_t k = 0; k < nk && rc == KEYCARD_OK; k++) {
        uint8_t blob[KEYCARD_WRAPPED_MAX];
        size_t bl = 0;
        rc = keycard_backup_key(kc, keys[k].number, blob, sizeof blob, &bl);
        if (rc == KEYCARD_OK) {
            FILE *mf = fmemopen(text + tl, sizeof text - tl, "w");
            if (!mf) {
                rc = KEYCARD_ERR_MEMORY;
                break;
            }
            blob_write(mf, blob, bl);
            tl += (size_t)ftell(mf);
            fclose(mf);
        }
    }
    if (rc != KEYCARD_OK) {
        keycard_backup_end(kc);
        keycard_close(kc);
        return kct_fail(rc, "backup: a key", -1);
    }
    if ((ex = write_private(o.out, "keys.kcb", text)) != 0) {
        keycard_backup_end(kc);
        keycard_close(kc);
        return ex;
    }
    for (unsigned x = 1; x <= n && ex == 0; x++) {
        uint8_t share[KEYCARD_BACKUP_SHARE_LEN];
        char hex[2 * KEYCARD_BACKUP_SHARE_LEN + 1], name[32], body[512];
        if ((rc = keycard_backup_share(kc, x, share)) != KEYCARD_OK) {
            ex = kct_fail(rc, "backup: a share", -1);
            break;
        }
        kct_hex_format(share, sizeof share, hex);
        kct_wipe(share, sizeof share);
        snprintf(name, sizeof name, "share-%u.txt", x);
        snprintf(body, sizeof body,
                 "# keycard backup %s of key card %s: share %u of %u (any %u restore)%s%s\n"
                 "# keep it apart from the other shares; with keys.kcb, %u shares are the keys\n"
                 "%s\n",
                 idhex, serial, x, n, m, o.n_custodian ? ", custodian " : "",
                 o.n_custodian ? o.custodian[x - 1] : "", m, hex);
        kct_wipe(hex, sizeof hex);
        ex = write_private(o.out, name, body);
        kct_wipe(body, sizeof body);
    }
    keycard_backup_end(kc);
    keycard_close(kc);
    if (ex)
        return ex;
    if (kca_json)
        return kct_json_print(json_pack("{s:s, s:s, s:i, s:i, s:i, s:s}", "backup", idhex,
                                        "serial", serial, "keys", (int)nk, "threshold", m,
                                        "shares", n, "dir", o.out));
    printf("backup %s of key card %s: %zu keys in %s/keys.kcb, %u shares %s/share-1.txt .. "
           "share-%u.txt (any %u restore)\n",
           idhex, serial, nk, o.out, n, o.out, n, m);
    return KCT_EXIT_OK;
}

/*
 * kc-admin restore KEYS.kcb SHARE-FILE...: the shares to the card, then
 * every key of the backup into this (keyless) key card.
 */
int kca_cmd_restore(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"admin-key-file", required_argument, NULL, OPT_ADMIN_KEY_FILE},
        {"issuer-pub", required_argument, NULL, OPT_ISSUER_PUB}, COMMON_LONGOPTS};
    struct backup_opts o;
    int stop;
    memset(&o, 0, sizeof o);
    int i = parse_opts(argc, argv, lo, w, backup_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (argc - i < 2)
        return usage_error(argv[0], "restore KEYS.kcb SHARE-FILE... (the key file of kc-admin "
                                    "backup, then the share files)");
    o.from = argv[i++];
    static uint8_t blobs[KEYFILE_MAX][KEYCARD_WRAPPED_MAX];
    size_t lens[KEYFILE_MAX];
    int nb = hex_lines("restore: key file", o.from, &blobs[0][0], KEYCARD_WRAPPED_MAX, lens,
                       KEYFILE_MAX);
    if (nb < 0)
        return KCT_EXIT_USAGE;
    if (nb == 0) {
        kct_err("restore: %s holds no key", o.from);
        return KCT_EXIT_USAGE;
    }
    uint8_t shares[KEYCARD_BACKUP_SHARES_MAX][KEYCARD_BACKUP_SHARE_LEN + 1];
    size_t slen[1];
    int ns = argc - i;
    if (ns > KEYCARD_BACKUP_SHARES_MAX)
        return usage_error(argv[0], "at most 8 share files");
    for (int k = 0; k < ns; k++) {
        if (hex_lines("restore: share", argv[i + k], shares[k], sizeof shares[k], slen, 1) != 1 ||
            slen[0] != KEYCARD_BACKUP_SHARE_LEN) {
            kct_err("restore: %s is not a backup share (kc-admin backup writes them)",
                    argv[i + k]);
            kct_wipe(shares, sizeof shares);
            return KCT_EXIT_USAGE;
        }
    }
    keycard *kc = NULL;
    int ex = admin_session(argv[0], w, &o.a, &kc);
    if (ex) {
        kct_wipe(shares, sizeof shares);
        return ex;
    }
    keycard_rc rc = KEYCARD_OK;
    for (int k = 0; k < ns && rc == KEYCARD_OK; k++) {
        rc = keycard_restore_share(kc, shares[k], KEYCARD_BACKUP_SHARE_LEN);
        if (rc == KEYCARD_ERR_WRONG_DATA) {
            kct_err("restore: %s: refused by the key card: a share of another backup, or one "
                    "given twice; nothing restored",
                    argv[i + k]);
            ex = KCT_EXIT_FAIL;
        } else if (rc != KEYCARD_OK) {
            ex = kct_fail(rc, "restore: a share", -1);
        }
    }
    kct_wipe(shares, sizeof shares);
    json_t *list = kca_json ? json_array() : NULL;
    for (int k = 0; k < nb && ex == 0; k++) {
        keycard_wrapped_info in;
        uint8_t kcv[3];
        char hex[7];
        if (keycard_wrapped_parse(blobs[k], lens[k], &in) != KEYCARD_OK ||
            in.format != 2) {
            kct_err("restore: %s: entry %d is not a backup blob", o.from, k + 1);
            ex = KCT_EXIT_USAGE;
            break;
        }
        rc = keycard_restore_key(kc, blobs[k], lens[k], kcv);
        if (rc == KEYCARD_ERR_CONDITIONS && k == 0) {
            kct_err("restore: the key card took the shares but restores nothing: fewer shares "
                    "than the backup's threshold, or key %u version %u is not the next version "
                    "on this card",
                    in.number, in.version);
            ex = KCT_EXIT_FAIL;
        } else if (rc == KEYCARD_ERR_WRONG_DATA) {
            kct_err("restore: key %u: refused: these shares do not open it (shares or key "
                    "file of another backup, altered, or shares that lie about the threshold)",
                    in.number);
            ex = KCT_EXIT_FAIL;
        } else if (rc != KEYCARD_OK) {
            char what[64];
            snprintf(what, sizeof what, "restore: key %u", in.number);
            ex = kct_fail(rc, what, -1);
        } else {
            kct_hex_format(kcv, 3, hex);
            if (list)
                json_array_append_new(list, json_pack("{s:i, s:s, s:s}", "number", in.number,
                                                      "kcv", hex, "label", in.label));
            else
                printf("key %u restored, KCV %s\n", in.number, hex);
        }
    }
    keycard_backup_end(kc);
    keycard_close(kc);
    if (list && ex == 0)
        return kct_json_print(list);
    if (list)
        json_decref(list);
    return ex;
}

int kca_cmd_keys(int argc, char **argv, kct_where *w)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "generate") == 0)
            return keys_generate(argc, argv, w);
        if (strcmp(argv[i], "import") == 0) {
            for (int k = 1; k < argc; k++)
                if (strncmp(argv[k], "--components", 12) == 0)
                    return keys_import(argc, argv, w);
            return keys_import_file(argc, argv, w);
        }
        if (strcmp(argv[i], "export") == 0)
            return keys_export(argc, argv, w);
        if (strcmp(argv[i], "wrap") == 0)
            return keys_wrap(argc, argv, w);
        if (strcmp(argv[i], "cert") == 0)
            return keys_cert(argc, argv, w);
        if (strcmp(argv[i], "destroy") == 0)
            return keys_destroy(argc, argv, w);
    }
    keycard *kc = NULL;
    int ex = open_admin(argc, argv, w, &kc);
    if (ex || !kc)
        return ex;
    keycard_key_info keys[KCA_NUMBERED_MAX];
    keycard_key_version vers[KCA_NUMBERED_MAX];
    size_t n = KCA_NUMBERED_MAX, nv = KCA_NUMBERED_MAX;
    keycard_rc rc = keycard_keys_list(kc, keys, &n);
    keycard_rc vrc = rc == KEYCARD_OK ? keycard_key_versions(kc, vers, &nv) : rc;
    keycard_close(kc);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "keys: read the key directory", -1);
    if (vrc == KEYCARD_ERR_NOT_FOUND)
        nv = 0; /* a key card from before versions: every key is version 1 */
    else if (vrc != KEYCARD_OK)
        return kct_fail(vrc, "keys: read the key versions", -1);
    json_t *list = kca_json ? json_array() : NULL;
    if (n == 0 && !kca_json) {
        printf("no keys\n");
        return KCT_EXIT_OK;
    }
    if (!kca_json)
        printf("%-4s %-7s %-28s %-7s %-4s %-10s %s\n", "no", "type", "flags", "kcv", "ver",
               "retired", "label");
    for (size_t i = 0; i < n; i++) {
        char flags[64], kcv[7], rkcv[7], retired[16] = "-";
        const keycard_key_version *v = NULL;
        for (size_t j = 0; j < nv; j++)
            if (vers[j].number == keys[i].number)
                v = &vers[j];
        unsigned version = v && v->version ? v->version : 1;
        const char *type = keys[i].type == KEYCARD_KEY_AES128   ? "aes128"
                           : keys[i].type == KEYCARD_KEY_AES256 ? "aes256"
                                                                : "?";
        flag_names(keys[i].flags, flags, sizeof flags);
        kct_hex_format(keys[i].kcv, 3, kcv);
        if (v && v->retired_version) {
            kct_hex_format(v->retired_kcv, 3, rkcv);
            snprintf(retired, sizeof retired, "v%u %s", v->retired_version, rkcv);
        }
        if (!list) {
            printf("%-4u %-7s %-28s %-7s %-4u %-10s %s\n", keys[i].number, type, flags, kcv,
                   version, retired, keys[i].label);
            continue;
        }
        json_t *r = v && v->retired_version ? json_pack("{s:i, s:s}", "version",
                                                        v->retired_version, "kcv", rkcv)
                                            : json_null();
        json_array_append_new(list, json_pack("{s:i, s:s, s:o, s:s, s:i, s:o, s:s}", "number",
                                              keys[i].number, "type", type, "flags",
                                              flags_json(keys[i].flags), "kcv", kcv, "version",
                                              version, "retired", r, "label", keys[i].label));
    }
    return list ? kct_json_print(json_pack("{s:o}", "keys", list)) : KCT_EXIT_OK;
}

int kca_cmd_templates(int argc, char **argv, kct_where *w)
{
    keycard *kc = NULL;
    int ex = open_admin(argc, argv, w, &kc);
    if (ex || !kc)
        return ex;
    keycard_template_info t[KCA_NUMBERED_MAX];
    size_t n = KCA_NUMBERED_MAX;
    keycard_rc rc = keycard_templates_list(kc, t, &n);
    keycard_close(kc);
    if (rc != KEYCARD_OK)
        return kct_fail(rc, "templates: read the template directory", -1);
    if (kca_json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_pack("{s:i, s:s}", "number", t[i].number, "label",
                                                  t[i].label));
        return kct_json_print(json_pack("{s:o}", "templates", list));
    }
    if (n == 0) {
        printf("no templates\n");
        return KCT_EXIT_OK;
    }
    printf("%-4s %s\n", "no", "label");
    for (size_t i = 0; i < n; i++)
        printf("%-4u %s\n", t[i].number, t[i].label);
    return KCT_EXIT_OK;
}

/* ---- target-manufacture --------------------------------------------------------------- */

struct mfg_opts {
    const char *profile, *serial, *out, *keys;
};

static int mfg_opt(int opt, const char *arg, void *ctx)
{
    struct mfg_opts *o = ctx;
    switch (opt) {
    case OPT_PROFILE:
        o->profile = arg;
        return 0;
    case OPT_SERIAL:
        o->serial = arg;
        return 0;
    case OPT_OUT:
        o->out = arg;
        return 0;
    case OPT_KEYS:
        o->keys = arg;
        return 0;
    }
    return -1;
}

/* "1,2,5" into nums (cap); returns the count or -1. */
static int parse_numbers(const char *s, unsigned *nums, int cap)
{
    int n = 0;
    while (*s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v < 1 || v > KCA_NUMBERED_MAX || n == cap)
            return -1;
        for (int i = 0; i < n; i++)
            if (nums[i] == v)
                return -1;
        nums[n++] = (unsigned)v;
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return n;
}

#define MFG_MAX_KEYS 16

int kca_cmd_target_manufacture(int argc, char **argv, kct_where *w)
{
    static const struct option lo[] = {
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"out", required_argument, NULL, OPT_OUT},
        {"keys", required_argument, NULL, OPT_KEYS},
        COMMON_LONGOPTS};
    struct mfg_opts o = {NULL, NULL, NULL, NULL};
    int stop;
    int i = parse_opts(argc, argv, lo, w, mfg_opt, &o, &stop);
    if (i < 0)
        return stop;
    if (i != argc)
        return usage_error(argv[0], "no arguments expected");
    if (!o.profile || !o.serial || !o.out)
        return usage_error(argv[0], "--profile, --serial and --out are needed");
    uint8_t serial[KEYCARD_SERIAL_LEN];
    if (strlen(o.serial) != 2 * KEYCARD_SERIAL_LEN ||
        kct_hex_parse(o.serial, serial, sizeof serial) != KEYCARD_SERIAL_LEN)
        return usage_error(argv[0], "--serial must be 8 bytes in hex (16 hex digits)");
    unsigned nums[MFG_MAX_KEYS];
    int nn = -1;
    if (o.keys && (nn = parse_numbers(o.keys, nums, MFG_MAX_KEYS)) < 1)
        return usage_error(argv[0], "--keys must be distinct key numbers 1..254 separated by "
                                    "commas (at most 16)");

    kca_profile p;
    if (kca_profile_load(o.profile, &p) != 0)
        return KCT_EXIT_USAGE; /* each problem said on its own line; no image written */
    int ex = KCT_EXIT_OK;
    keycard_target_key tk[MFG_MAX_KEYS];
    size_t n = 0;
    memset(tk, 0, sizeof tk);
    if (nn < 0) {
        /* Default: every key that may key an envelope. */
        for (size_t k = 0; k < p.n_keys && n < MFG_MAX_KEYS; k++)
            if (p.keys[k].flags & KEYCARD_KEYF_ENVELOPE)
                nums[n++] = p.keys[k].number;
        nn = (int)n;
        n = 0;
        if (nn == 0) {
            kct_err("target-manufacture: %s: no key with \"envelope\" usage in \"keys\"",
                    o.profile);
            ex = KCT_EXIT_USAGE;
            goto out;
        }
    }
    for (int k = 0; k < nn; k++) {
        const kca_key *key = kca_profile_key(&p, nums[k]);
        if (!key || !(key->flags & KEYCARD_KEYF_ENVELOPE)) {
            kct_err("target-manufacture: --keys: key %u is %s", nums[k],
                    key ? "not an \"envelope\" key" : "not in the profile");
            ex = KCT_EXIT_USAGE;
            goto out;
        }
        if (key->generate || key->import) {
            /* Its value exists on key cards only: a PC cannot derive the card key. */
            kct_err("target-manufacture: key %u is made on or imported into the key card "
                    "(\"%s\"): its value is on no PC; manufacturing targets for it through the "
                    "key card is not implemented yet (make targets for a transport key the "
                    "fab holds, and inject the issuer's keys at issuance)",
                    key->number, key->generate ? "generate" : "import");
            ex = KCT_EXIT_FAIL;
            goto out;
        }
        keycard_target_key *t = &tk[n++];
        t->number = key->number;
        t->flags = (key->flags & KEYCARD_KEYF_STATIC) ? KEYCARD_TARGET_KEYF_STATIC : 0;
        t->len = key->len;
        keycard_rc rc;
        if (key->flags & KEYCARD_KEYF_COMMON) {
            memcpy(t->key, key->value, key->len); /* way 1: the key itself */
            rc = KEYCARD_OK;
        } else {
            rc = keycard_diversify(key->value, key->len, serial, t->key);
        }
        if (rc != KEYCARD_OK) {
            ex = kct_fail(rc, "target-manufacture: diversify", -1);
            goto out;
        }
    }
    char where[KCT_WHERE_MAX];
    if ((size_t)snprintf(where, sizeof where, "sim:%s", o.out) >= sizeof where) {
        ex = usage_error(argv[0], "--out path too long");
        goto out;
    }
    keycard_target *tg = NULL;
    keycard_rc rc = keycard_target_open(&tg, where);
    if (rc != KEYCARD_OK) {
        char what[64 + KCT_WHERE_MAX];
        snprintf(what, sizeof what, "target-manufacture: open %s", o.out);
        ex = kct_fail(rc, what, -1);
        goto out;
    }
    rc = keycard_target_manufacture(tg, serial, tk, n);
    keycard_target_close(tg);
    if (rc != KEYCARD_OK) {
        ex = kct_fail(rc, rc == KEYCARD_ERR_CONDITIONS
                              ? "target-manufacture: the image is not a virgin target card"
                              : "target-manufacture",
                      -1);
        if (ex == KCT_EXIT_OK)
            ex = KCT_EXIT_FAIL;
        goto out;
    }
    printf("manufactured target card %s in %s with key%s", o.serial, o.out, n > 1 ? "s" : "");
    for (size_t k = 0; k < n; k++)
        printf("%s%u", k ? "," : " ", tk[k].number);
    printf("\n");
out:
    kct_wipe(tk, sizeof tk);
    kca_profile_free(&p);
    return ex;
}
