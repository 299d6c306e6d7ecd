/*
 * kct_cli.h - the command-line habits every tool shares, kc-vcard included
 * (nothing here needs libkeycard): --version, one wording for usage errors,
 * and a did-you-mean for a mistyped option or command.
 *
 * A usage error is one line on standard error, exit status 2:
 *
 *     kc-issue: unknown option '--profle' (did you mean '--profile'?); see 'kc-issue --help'
 *     kc-admin: keys: option '--reader' needs a value; see 'kc-admin keys --help'
 */
#ifndef KCT_CLI_H
#define KCT_CLI_H

#include <getopt.h>

#define KCT_CLI_EXIT_USAGE 2

/*
 * "PROG 1.0.0" on standard output, the version this tool was built as
 * (keycard.h), and "(libkeycard X)" after it when lib_version is not NULL
 * (keycard_version(): the library actually loaded).
 */
void kct_cli_version(const char *prog, const char *lib_version);

/*
 * One usage error: "WHO: MESSAGE; see 'HELP_CMD --help'" where WHO is
 * help_cmd with ": " between its words ("kc-admin keys" -> "kc-admin: keys").
 * Returns KCT_CLI_EXIT_USAGE.
 */
int kct_cli_usage(const char *help_cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The closest of names (NULL-terminated) to word, close enough to be a
 * typing slip (at most a third of its letters off, at least one), or NULL.
 */
const char *kct_cli_suggest(const char *word, const char *const *names);

/*
 * The usage error for getopt_long's '?' or ':' at arg (argv[optind - 1]):
 * an option that needs a value and has none, a value given to an option that
 * takes none, or an unknown option with the nearest known one (lo, as given
 * to getopt_long). Returns KCT_CLI_EXIT_USAGE.
 */
int kct_cli_bad_option(const char *help_cmd, const char *arg, const struct option *lo);

#endif /* KCT_CLI_H */
