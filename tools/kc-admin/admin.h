/*
 * admin.h - the commands of kc-admin and the helpers they share.
 *
 * Each command gets its own argv (argv[0] is the command name) and the
 * "where" chosen by the global options, and returns the exit code.
 */
#ifndef KCA_ADMIN_H
#define KCA_ADMIN_H

#include "../common/kct.h"

/* Long options every command also accepts, so that order does not matter. */
#define KCA_OPT_READER 0x100
#define KCA_OPT_SIM 0x101
#define KCA_OPT_HELP 'h'
#define KCA_OPT_JSON 0x102

/* --json (before the command or among its options): results as JSON on stdout. */
extern int kca_json;

int kca_cmd_provision(int argc, char **argv, kct_where *w);
int kca_cmd_info(int argc, char **argv, kct_where *w);
int kca_cmd_audit(int argc, char **argv, kct_where *w);
int kca_cmd_change_pin(int argc, char **argv, kct_where *w);
int kca_cmd_unblock(int argc, char **argv, kct_where *w);
int kca_cmd_readers(int argc, char **argv, kct_where *w);
int kca_cmd_keys(int argc, char **argv, kct_where *w);
int kca_cmd_backup(int argc, char **argv, kct_where *w);
int kca_cmd_restore(int argc, char **argv, kct_where *w);
int kca_cmd_templates(int argc, char **argv, kct_where *w);
int kca_cmd_target_manufacture(int argc, char **argv, kct_where *w);

/* Help text of a command (NULL for an unknown name). */
const char *kca_help(const char *cmd);

/*
 * Handle an option that every command shares (--reader, --sim, --help).
 * Returns 1 when handled, 0 when not one of them, -1 on error (message
 * printed). Sets *help on --help.
 */
int kca_common_opt(int opt, const char *arg, kct_where *w, int *help);

/* Parse "issuer", "holder", "admin" (admin only when allow_admin). */
int kca_parse_ref(const char *s, int allow_admin, keycard_pin *ref);

/*
 * Get the current value of a credential: from file (when not NULL), the
 * environment (KEYCARD_ISSUER_PIN, KEYCARD_HOLDER_PIN, KEYCARD_ADMIN_KEY) or
 * a prompt. The form is checked (PIN digits, admin key hex). Returns 0 or
 * the exit code with one line printed.
 */
int kca_get_current(keycard_pin ref, const char *file, kct_secret *out);

/* Get then verify a credential on the card. Returns 0 or the exit code. */
int kca_verify(keycard *kc, keycard_pin ref, const char *file);

/*
 * The issuer public key a command checks the key card's channel certificate
 * against: --issuer-pub FILE, else the file KEYCARD_ISSUER_PUB names, else
 * (provision) the public half of the profile's issuer private key.
 */
typedef struct kca_issuer {
    uint8_t *pem;     /* the file as read (PEM or DER), or NULL */
    size_t pem_len;
    uint8_t raw[65];  /* or a raw point (derived), when raw_set */
    int raw_set;
    const char *path; /* where it came from, for messages */
} kca_issuer;

/* The path of the issuer public key file: opt, else $KEYCARD_ISSUER_PUB, else NULL. */
const char *kca_issuer_path(const char *opt);

/*
 * Read the issuer public key from kca_issuer_path(opt) into *out (nothing
 * when there is none). Returns 0, or 2 with a message when the file cannot
 * be read.
 */
int kca_issuer_load(const char *cmd, const char *opt, kca_issuer *out);
void kca_issuer_free(kca_issuer *iss);

/*
 * Open the key card for a command that sends a secret (what: "the admin
 * key", ...): only with an issuer key, and only after the card's channel
 * certificate verified under it (a certified secure channel). Without a key:
 * one line saying to give --issuer-pub, exit 2, nothing sent. With
 * blank_ok, a card that says it is blank is opened in plain for its first
 * provisioning and *blank set. Returns 0 or the exit code.
 */
int kca_open_secret(const kct_where *w, const char *cmd, const char *what, const kca_issuer *iss,
                    keycard **kc, int blank_ok, int *blank);

#endif /* KCA_ADMIN_H */
