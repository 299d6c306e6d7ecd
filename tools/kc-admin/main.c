/*
 * main.c - kc-admin: the key card administration tool. Global options,
 * command dispatch, help texts and the credential helpers the commands share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "keycard_sim.h"
#include "kct_cli.h"

static const char usage[] =
    "usage: kc-admin [--reader R | --sim FILE] [--wait-busy SECONDS] [--json] [--trace]\n"
    "                COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Administer a key card: provision it from a profile, show its status,\n"
    "read its audit log, change or unblock its PINs, make, move and back up its\n"
    "keys, list its keys and templates, manufacture target card images.\n"
    "\n"
    "Where the key card is:\n"
    "  --reader NAME   the PC/SC reader NAME (see 'kc-admin readers')\n"
    "  --sim FILE      the key card simulated in this process on the flash image FILE\n"
    "  (neither)       every PC/SC reader is tried; the first key card found is used\n"
    "  --wait-busy S   while another program (a kc-issue batch) reserves the key card,\n"
    "                  wait up to S seconds for it instead of failing at once\n"
    "  --json          results as one JSON document on stdout (docs/json.md)\n"
    "  -v, --trace     every command to the card and answer on stderr (inside the\n"
    "                  channel, before encryption); secrets only as their length\n"
    "\n"
    "Commands:\n"
    "  provision PROFILE          provision a blank or provisioned card from PROFILE\n"
    "  info                       status: serial, life cycle, tries left, audit counter\n"
    "  audit                      print, verify, export or acknowledge the audit log\n"
    "  change-pin issuer|holder|admin\n"
    "                             change a PIN or the admin key\n"
    "  unblock issuer|holder      reset a PIN's tries (needs the admin key)\n"
    "  readers                    list the PC/SC readers\n"
    "  keys                       list the numbered keys: type, flags, KCV, label\n"
    "                             (needs the admin key; values are never shown);\n"
    "                             keys generate|import|cert|export|wrap: keys made on\n"
    "                             the card, from components, or wrapped card to card\n"
    "  backup --shares M-of-N --out DIR\n"
    "                             the key set under a backup key handed out as shares\n"
    "  restore KEYS.kcb SHARE...  a backup onto this key card from M shares\n"
    "  templates                  list the numbered templates (needs the admin key)\n"
    "  target-manufacture --profile PROFILE --serial HEX16 --out FILE [--keys 1,2]\n"
    "                             write a blank target card image with its card keys\n"
    "\n"
    "'kc-admin COMMAND --help' describes a command; 'kc-admin --version' the version.\n"
    "Secrets come from an option's SOURCE - prompt, file:PATH, env:VAR or fd:N (the\n"
    "-file options take a PATH or a SOURCE) - else the environment (KEYCARD_ISSUER_PIN,\n"
    "KEYCARD_HOLDER_PIN, KEYCARD_ADMIN_KEY, KEYCARD_NEW_PIN, KEYCARD_NEW_ADMIN_KEY;\n"
    "for automation) or a prompt without echo.\n"
    "\n"
    "No secret goes to a key card before its channel certificate verified under the\n"
    "issuer public key: commands that send a PIN or the admin key need --issuer-pub\n"
    "FILE (PEM) or KEYCARD_ISSUER_PUB naming that file (provision: else the public\n"
    "half of the profile's issuer key). The only exception is the first provisioning\n"
    "of a blank card, which has no channel key yet.\n"
    "Exit status: 0 success, 1 the card refused or an operation failed, 2 bad usage\n"
    "or bad input.\n";

static const char help_provision[] =
    "usage: kc-admin [WHERE] provision [--admin-key-file FILE] [--issuer-pub FILE] PROFILE\n"
    "\n"
    "Check the whole profile (docs/profile.md) first; any problem is reported with\n"
    "its JSON path and nothing is sent to the card (exit 2). Then provision the\n"
    "card: PINs, admin key, holder, a device key generated on the card, and the\n"
    "issuer's signature of the card's identity, committed at once. Any failure\n"
    "aborts and leaves the card as it was (exit 1).\n"
    "\n"
    "A card already provisioned needs its CURRENT admin key first:\n"
    "  --admin-key-file FILE   hex admin key on the first line of FILE\n"
    "  KEYCARD_ADMIN_KEY=HEX   in the environment (automation)\n"
    "  otherwise it is asked for on the terminal.\n"
    "Nothing is sent to a provisioned card before its channel certificate verified\n"
    "under the issuer public key: --issuer-pub FILE or KEYCARD_ISSUER_PUB (the key\n"
    "that certified the card, when the issuer key changes), else the public half of\n"
    "the profile's issuer key. A blank card has no channel key yet: its first\n"
    "provisioning runs in plain (do it where the line is trusted).\n";

static const char help_info[] =
    "usage: kc-admin [WHERE] info [--issuer-pin[=SOURCE]] [--holder-pin[=SOURCE]]\n"
    "                             [--issuer-pub FILE] [--json]\n"
    "\n"
    "Print the card's public status: serial, life cycle, version, tries left for\n"
    "each credential, audit counter. With both PINs also the holder and the\n"
    "identity. A PIN comes from SOURCE: prompt, file:PATH, env:VAR or fd:N; without\n"
    "one, from KEYCARD_ISSUER_PIN / KEYCARD_HOLDER_PIN when set, else the terminal\n"
    "(--issuer-pin-file / --holder-pin-file PATH are file:PATH). With --issuer-pub\n"
    "the identity is checked against the issuer public key (PEM). Verifying the\n"
    "holder PIN records an unlock in the card's audit log. PINs are sent only after\n"
    "the card's channel certificate verified under the issuer public key\n"
    "(--issuer-pub FILE or KEYCARD_ISSUER_PUB): without it, --issuer-pin is refused\n"
    "(exit 2). With it and no PIN, only the certificate is checked.\n";

static const char help_audit[] =
    "usage: kc-admin [WHERE] audit [--admin-key-file FILE] [--from SEQ] --issuer-pub PUB\n"
    "       kc-admin [WHERE] audit --verify --issuer-pub PUB [--admin-key-file FILE]\n"
    "       kc-admin [WHERE] audit --export FILE [--ack --issuer-pub PUB]\n"
    "       kc-admin audit --verify-file FILE --issuer-pub PUB\n"
    "\n"
    "Print the audit log: sequence number, time (ISO 8601 UTC, '-' when the card\n"
    "had no clock), event and data. Needs the admin key (--admin-key-file,\n"
    "KEYCARD_ADMIN_KEY, or a prompt). --from starts at sequence number SEQ.\n"
    "\n"
    "--verify checks the log offline with the issuer public key PUB: identity,\n"
    "the chain head the card signs over a fresh nonce, the hash chain of every\n"
    "entry; it names the first changed, missing or moved entry. --export writes\n"
    "the log, its signed head and the identity to FILE; with --ack the export is\n"
    "verified and then acknowledged on the card, whose entries may then be\n"
    "overwritten (a card with 112 unacknowledged entries refuses unlock and\n"
    "issuance). --verify-file checks an export without a card. Every form that\n"
    "reads the card sends the admin key, so it needs the issuer public key PUB\n"
    "(--issuer-pub or KEYCARD_ISSUER_PUB) to check the card's channel certificate.\n";

static const char help_change_pin[] =
    "usage: kc-admin [WHERE] change-pin [--old-file FILE] [--new-file FILE]\n"
    "                                   [--issuer-pin-file FILE] --issuer-pub PUB\n"
    "                                   issuer|holder|admin\n"
    "\n"
    "Change the issuer PIN, the holder PIN or the admin key (hex). The current\n"
    "value comes from --old-file, else KEYCARD_ISSUER_PIN / KEYCARD_HOLDER_PIN /\n"
    "KEYCARD_ADMIN_KEY, else a prompt. The new value from --new-file, else\n"
    "KEYCARD_NEW_PIN (KEYCARD_NEW_ADMIN_KEY for the admin key), else two prompts.\n"
    "Changing the holder PIN first verifies the issuer PIN (--issuer-pin-file,\n"
    "KEYCARD_ISSUER_PIN or a prompt). A wrong current value spends a try. The\n"
    "issuer public key PUB (--issuer-pub or KEYCARD_ISSUER_PUB) must certify the\n"
    "card's channel first.\n";

static const char help_unblock[] =
    "usage: kc-admin [WHERE] unblock [--admin-key-file FILE] [--new-pin]\n"
    "                                [--new-file FILE] --issuer-pub PUB issuer|holder\n"
    "\n"
    "Reset the tries of a PIN with the admin key (--admin-key-file,\n"
    "KEYCARD_ADMIN_KEY, or a prompt). The PIN is kept unless --new-pin is given;\n"
    "the new PIN comes from --new-file, KEYCARD_NEW_PIN or two prompts.\n"
    "The admin key itself cannot be unblocked. The issuer public key PUB\n"
    "(--issuer-pub or KEYCARD_ISSUER_PUB) must certify the card's channel first.\n";

static const char help_readers[] =
    "usage: kc-admin readers [--json]\n"
    "\n"
    "List the PC/SC readers, one a line: the number --reader also takes, the name,\n"
    "and what is in it (no card, key card, target card, other card; \"reserved\"\n"
    "when another program holds it), as pcscd knows it: nothing is sent to a card.\n";

static const char help_keys[] =
    "usage: kc-admin [WHERE] keys [--admin-key-file FILE] --issuer-pub PUB [--json]\n"
    "       kc-admin [WHERE] keys destroy NUMBER --version V --kcv HEX --issuer-pub PUB\n"
    "       kc-admin [WHERE] keys cert [--out FILE]\n"
    "       kc-admin [WHERE] keys export --to CERT [NUMBER...] [--out FILE] --issuer-pub PUB\n"
    "       kc-admin [WHERE] keys import FILE --issuer-pub PUB [--json]\n"
    "       kc-admin keys wrap --to CERT NUMBER --type T --usage LIST [--label TEXT]\n"
    "                [--version V] [--key SOURCE] [--out FILE] --issuer-pub PUB\n"
    "       kc-admin [WHERE] keys generate NUMBER --type aes128|aes256 --usage LIST\n"
    "                [--label TEXT] [--admin-key-file FILE] --issuer-pub PUB [--json]\n"
    "       kc-admin [WHERE] keys import NUMBER --components N --type T --usage LIST\n"
    "                [--label TEXT] [--custodian NAME --component SOURCE\n"
    "                --component-kcv HEX]... --issuer-pub PUB [--json]\n"
    "\n"
    "List the numbered keys of the key card: number, type, flags (envelope,\n"
    "inject, static, COMMON) and key check value (first 3 bytes of\n"
    "AES-ECB(key, 16 x 01)) and label. Key values are never readable. Needs the\n"
    "admin key (--admin-key-file, KEYCARD_ADMIN_KEY, or a prompt), sent once the\n"
    "card's channel certificate verified under PUB (or KEYCARD_ISSUER_PUB).\n"
    "\n"
    "keys generate: the card makes key NUMBER from its own random generator, of the\n"
    "type and usage given (LIST: envelope, inject, static, common, joined by commas);\n"
    "only its KCV is shown, the value never leaves the card. The key and a\n"
    "key-generated audit entry are one commit.\n"
    "\n"
    "Versions: a key made or imported for a NUMBER that holds one is its next\n"
    "version; issuance uses it, the one before stays as the retired version (the\n"
    "listing's ver and retired columns) until keys destroy erases it from the\n"
    "card's flash. A number holds at most two versions.\n"
    "\n"
    "keys import --components N: a key from N (2..8) custodians' components under\n"
    "dual control. Each custodian's name, component (hex; a SOURCE: prompt,\n"
    "file:PATH, env:VAR, fd:N) and the component's KCV come from the options in\n"
    "order, or are asked in turn. Each component is checked against its KCV before\n"
    "it is sent, alone, inside the channel; the card checks it again, XORs the\n"
    "components in its RAM and stores the key when all are in. The audit log names\n"
    "each custodian and KCV.\n"
    "\n"
    "keys cert [--out FILE]: this key card's channel certificate (no PIN), for the\n"
    "card or the preparer that sends it keys.\n"
    "\n"
    "keys export --to CERT [NUMBER...] [--out FILE]: the keys given (all without\n"
    "NUMBER), each encrypted by the card to the key card of CERT (a wrapped key,\n"
    "docs/protocol.md 9a). kc-admin checks CERT under PUB and the card checks it\n"
    "again under the issuer key it holds: only a genuine key card of the same\n"
    "issuer receives them. Each export is an audit entry naming the recipient.\n"
    "\n"
    "keys import FILE: every wrapped key of FILE (keys export, keys wrap) into\n"
    "this key card, each into its own number, which must be free.\n"
    "\n"
    "keys wrap --to CERT NUMBER --type T --usage LIST [--label TEXT] [--version V]\n"
    "[--key SOURCE] [--out FILE]: the offline preparer, no card: the key (hex from\n"
    "SOURCE, default a prompt that does not echo) wrapped for the key card of CERT,\n"
    "checked under PUB first.\n";

static const char help_backup[] =
    "usage: kc-admin [WHERE] backup --shares M-of-N --out DIR [--custodian NAME]...\n"
    "                [--admin-key-file FILE] --issuer-pub PUB [--json]\n"
    "\n"
    "Back up every key of the key card. The card makes a backup key that exists\n"
    "only in its RAM, writes each key encrypted under it to DIR/keys.kcb and hands\n"
    "the backup key out only as N Shamir shares, DIR/share-1.txt .. share-N.txt\n"
    "(mode 0600; give each to its custodian, named with --custodian in order): any\n"
    "M of them restore the keys with kc-admin restore, fewer tell nothing. The\n"
    "card logs the backup (its id, M, N, how many keys) before it answers.\n";

static const char help_restore[] =
    "usage: kc-admin [WHERE] restore KEYS.kcb SHARE-FILE...\n"
    "                [--admin-key-file FILE] --issuer-pub PUB [--json]\n"
    "\n"
    "Restore a backup onto this key card (provisioned, without those keys) from\n"
    "its key file (DIR/keys.kcb of kc-admin backup) and M share files: the\n"
    "shares go to the card, which rebuilds the backup key in its RAM from M of\n"
    "them and stores each key of the key file in its number, with a key-restored\n"
    "audit entry. Shares of another backup, fewer than M, or a key file that\n"
    "does not match are refused and restore nothing.\n";

static const char help_templates[] =
    "usage: kc-admin [WHERE] templates [--admin-key-file FILE] --issuer-pub PUB\n"
    "\n"
    "List the numbered templates of the key card (number and label; the\n"
    "templates themselves are never readable). Needs the admin key, and PUB (or\n"
    "KEYCARD_ISSUER_PUB) to check the card's channel certificate first.\n";

static const char help_target_manufacture[] =
    "usage: kc-admin target-manufacture --profile PROFILE --serial HEX16 --out FILE\n"
    "                                   [--keys N,N,...]\n"
    "\n"
    "Manufacture a blank target card image FILE (run it with\n"
    "'kc-vcard --card target --state FILE'): its 8-byte serial and, for each\n"
    "envelope key of PROFILE (or those listed by --keys), its card key:\n"
    "KDF(master, serial), or the key itself for a \"common\" key. FILE is created\n"
    "when missing and must hold a virgin target card. No key card is used.\n";

const char *kca_help(const char *cmd)
{
    static const struct {
        const char *name;
        const char *text;
    } helps[] = {{"provision", help_provision}, {"info", help_info},
                 {"audit", help_audit},         {"change-pin", help_change_pin},
                 {"unblock", help_unblock},     {"readers", help_readers},
                 {"keys", help_keys},           {"templates", help_templates},
                 {"backup", help_backup},       {"restore", help_restore},
                 {"target-manufacture", help_target_manufacture}};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
        if (strcmp(cmd, helps[i].name) == 0)
            return helps[i].text;
    return NULL;
}

int kca_json;

int kca_common_opt(int opt, const char *arg, kct_where *w, int *help)
{
    switch (opt) {
    case KCA_OPT_JSON:
        kca_json = 1;
        return 1;
    case KCA_OPT_READER:
        return kct_where_set(w, 'r', arg) == 0 ? 1 : -1;
    case KCA_OPT_SIM:
        return kct_where_set(w, 's', arg) == 0 ? 1 : -1;
    case KCA_OPT_HELP:
        *help = 1;
        return 1;
    }
    return 0;
}

int kca_parse_ref(const char *s, int allow_admin, keycard_pin *ref)
{
    if (strcmp(s, "issuer") == 0)
        *ref = KEYCARD_PIN_ISSUER;
    else if (strcmp(s, "holder") == 0)
        *ref = KEYCARD_PIN_HOLDER;
    else if (allow_admin && strcmp(s, "admin") == 0)
        *ref = KEYCARD_ADMIN_KEY;
    else
        return -1;
    return 0;
}

int kca_get_current(keycard_pin ref, const char *file, kct_secret *out)
{
    const char *env, *prompt, *option;
    switch (ref) {
    case KEYCARD_PIN_ISSUER:
        env = "KEYCARD_ISSUER_PIN";
        prompt = "Issuer PIN";
        option = "--issuer-pin-file";
        break;
    case KEYCARD_PIN_HOLDER:
        env = "KEYCARD_HOLDER_PIN";
        prompt = "Holder PIN";
        option = "--holder-pin-file";
        break;
    default:
        env = "KEYCARD_ADMIN_KEY";
        prompt = "Admin key (hex)";
        option = "--admin-key-file";
        break;
    }
    /* The source, named before the read: a variable is removed once read. */
    const char *from = file ? file : getenv(env) ? env : "the terminal";
    if (kct_secret_get(kct_ref_name(ref), option, file, env, prompt, 0, out) != 0)
        return KCT_EXIT_USAGE;
    const char *problem =
        ref == KEYCARD_ADMIN_KEY ? kct_check_admin_key(out->text) : kct_check_pin(out->text);
    if (problem) {
        kct_secret_wipe(out);
        kct_err("%s (from %s): %s", kct_ref_name(ref), from, problem);
        return KCT_EXIT_USAGE;
    }
    return 0;
}

int kca_verify(keycard *kc, keycard_pin ref, const char *file)
{
    kct_secret s;
    int ex = kca_get_current(ref, file, &s);
    if (ex)
        return ex;
    int tries = -1;
    keycard_rc rc;
    if (ref == KEYCARD_ADMIN_KEY) {
        uint8_t key[32];
        int n = kct_admin_key_parse(s.text, key);
        rc = keycard_verify_admin(kc, key, (size_t)n, &tries);
        kct_wipe(key, sizeof key);
    } else {
        rc = keycard_verify_pin(kc, ref, s.text, &tries);
    }
    kct_secret_wipe(&s);
    if (rc == KEYCARD_OK)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "verify %s", kct_ref_name(ref));
    return kct_fail_cred(rc, what, ref, tries);
}

const char *kca_issuer_path(const char *opt)
{
    const char *env = getenv("KEYCARD_ISSUER_PUB");
    if (opt)
        return opt;
    return env && env[0] ? env : NULL;
}

int kca_issuer_load(const char *cmd, const char *opt, kca_issuer *out)
{
    char err[512];
    memset(out, 0, sizeof *out);
    out->path = kca_issuer_path(opt);
    if (!out->path)
        return 0;
    if (kct_file_read(out->path, 64 * 1024, &out->pem, &out->pem_len, err, sizeof err) != 0) {
        kct_err("%s: issuer public key (%s): %s", cmd, opt ? "--issuer-pub" : "KEYCARD_ISSUER_PUB",
                err);
        out->pem = NULL;
        return KCT_EXIT_USAGE;
    }
    return 0;
}

void kca_issuer_free(kca_issuer *iss)
{
    kct_file_free(iss->pem, iss->pem_len);
    memset(iss, 0, sizeof *iss);
}

int kca_open_secret(const kct_where *w, const char *cmd, const char *what, const kca_issuer *iss,
                    keycard **kc, int blank_ok, int *blank)
{
    if (!iss->pem && !iss->raw_set) {
        kct_err("%s: refusing to send %s to a key card whose channel certificate is not checked: "
                "give --issuer-pub FILE (the issuer public key, PEM) or set KEYCARD_ISSUER_PUB",
                cmd, what);
        return KCT_EXIT_USAGE;
    }
    const uint8_t *k = iss->raw_set ? iss->raw : iss->pem;
    size_t kl = iss->raw_set ? sizeof iss->raw : kct_key_len(iss->pem, iss->pem_len);
    int ex = blank_ok ? kct_open_issuer_or_blank(w, k, kl, kc, blank)
                      : kct_open_issuer(w, k, kl, kc);
    if (ex == 0 && !(blank && *blank) &&
        keycard_channel_status(*kc) != KEYCARD_CHANNEL_GENUINE) {
        /* Cannot happen with an issuer key given; refuse rather than trust it. */
        kct_err("%s: no certified secure channel to the key card; nothing sent", cmd);
        keycard_close(*kc);
        *kc = NULL;
        return KCT_EXIT_FAIL;
    }
    return ex;
}

static const struct {
    const char *name;
    int (*run)(int, char **, kct_where *);
} commands[] = {
    {"provision", kca_cmd_provision},   {"info", kca_cmd_info},
    {"audit", kca_cmd_audit},           {"change-pin", kca_cmd_change_pin},
    {"unblock", kca_cmd_unblock},       {"readers", kca_cmd_readers},
    {"keys", kca_cmd_keys},             {"templates", kca_cmd_templates},
    {"backup", kca_cmd_backup},         {"restore", kca_cmd_restore},
    {"target-manufacture", kca_cmd_target_manufacture},
};

/* "unknown command 'infp' (did you mean 'info'?)" */
static int unknown_command(const char *cmd)
{
    const char *names[sizeof commands / sizeof commands[0] + 1];
    size_t n = 0;
    for (; n < sizeof commands / sizeof commands[0]; n++)
        names[n] = commands[n].name;
    names[n] = NULL;
    const char *near = kct_cli_suggest(cmd, names);
    if (near)
        return kct_cli_usage("kc-admin", "unknown command '%s' (did you mean '%s'?)", cmd, near);
    return kct_cli_usage("kc-admin", "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* results keep their order with stderr's */
    (void)keycard_sim_enable(); /* "sim:FILE" cards (libkeycard-sim) */
    kct_harden_process(); /* holds PINs and keys: no core dump, no ptrace */
    kct_set_prog("kc-admin");
    kct_json_init();
    kct_where where = {{0}, 0, 0};
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        const char *a = argv[i];
        const char *val = NULL;
        int kind = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return KCT_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            kca_json = 1;
            i++;
            continue;
        } else if (strcmp(a, "--trace") == 0 || strcmp(a, "-v") == 0) {
            kct_trace_on();
            i++;
            continue;
        } else if (strcmp(a, "--version") == 0) {
            kct_cli_version("kc-admin", keycard_version());
            return KCT_EXIT_OK;
        } else if (strcmp(a, "--reader") == 0 || strcmp(a, "--sim") == 0) {
            kind = a[2] == 'r' ? 'r' : 's';
            if (i + 1 >= argc)
                return kct_cli_usage("kc-admin", "option '%s' needs a value", a);
            val = argv[++i];
        } else if (strcmp(a, "--wait-busy") == 0 || strncmp(a, "--wait-busy=", 12) == 0) {
            const char *v = a[11] == '=' ? a + 12 : i + 1 < argc ? argv[++i] : NULL;
            char *end = NULL;
            long secs = v ? strtol(v, &end, 10) : -1;
            if (!v || !*v || *end || secs < 0 || secs > 86400)
                return kct_cli_usage("kc-admin",
                                     "--wait-busy needs a number of seconds (0..86400)");
            where.busy_wait_s = secs;
            i++;
            continue;
        } else if (strncmp(a, "--reader=", 9) == 0) {
            kind = 'r';
            val = a + 9;
        } else if (strncmp(a, "--sim=", 6) == 0) {
            kind = 's';
            val = a + 6;
        } else {
            static const struct option global[] = {
                {"help", no_argument, NULL, 'h'},        {"version", no_argument, NULL, 'V'},
                {"reader", required_argument, NULL, 'r'}, {"sim", required_argument, NULL, 's'},
                {"wait-busy", required_argument, NULL, 'w'}, {"trace", no_argument, NULL, 'v'},
                {"json", no_argument, NULL, 'j'},
                {NULL, 0, NULL, 0}};
            return kct_cli_bad_option("kc-admin", a, global);
        }
        if (kct_where_set(&where, kind, val) != 0)
            return KCT_EXIT_USAGE;
        i++;
    }
    if (i >= argc)
        return kct_cli_usage("kc-admin", "no command given");
    const char *cmd = argv[i];
    if (strcmp(cmd, "help") == 0) {
        const char *h = i + 1 < argc ? kca_help(argv[i + 1]) : usage;
        if (!h)
            return unknown_command(argv[i + 1]);
        fputs(h, stdout);
        return KCT_EXIT_OK;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(cmd, commands[c].name) == 0)
            return commands[c].run(argc - i, argv + i, &where);
    return unknown_command(cmd);
}
