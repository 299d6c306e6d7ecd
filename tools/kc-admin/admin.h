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

int kca_cmd_provision(int argc, char **argv, kct_where *w);
int kca_cmd_info(int argc, char **argv, kct_where *w);
int kca_cmd_audit(int argc, char **argv, kct_where *w);
int kca_cmd_change_pin(int argc, char **argv, kct_where *w);
int kca_cmd_unblock(int argc, char **argv, kct_where *w);
int kca_cmd_readers(int argc, char **argv, kct_where *w);
int kca_cmd_keys(int argc, char **argv, kct_where *w);
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

#endif /* KCA_ADMIN_H */
