/*
 * kct_cli.c - see kct_cli.h.
 */
#include "kct_cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keycard.h"

void kct_cli_version(const char *prog, const char *lib_version)
{
    printf("%s %d.%d.%d", prog, KEYCARD_VERSION_MAJOR, KEYCARD_VERSION_MINOR,
           KEYCARD_VERSION_PATCH);
    if (lib_version)
        printf(" (libkeycard %s)", lib_version);
    putchar('\n');
}

int kct_cli_usage(const char *help_cmd, const char *fmt, ...)
{
    va_list ap;
    for (const char *p = help_cmd; *p; p++) {
        if (*p == ' ')
            fputs(": ", stderr);
        else
            fputc(*p, stderr);
    }
    fputs(": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see '%s --help'\n", help_cmd);
    return KCT_CLI_EXIT_USAGE;
}

/* Edit distance (insert, delete, change, swap of neighbours) of a and b, capped at 9. */
static unsigned distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned d[33][33];
    if (la > 32 || lb > 32)
        return 9;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] > 9 ? 9 : d[la][lb];
}

const char *kct_cli_suggest(const char *word, const char *const *names)
{
    const char *best = NULL;
    unsigned bd = 9, limit = (unsigned)strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    for (; names && *names; names++) {
        unsigned d = distance(word, *names);
        if (d < bd) {
            bd = d;
            best = *names;
        }
    }
    return bd <= limit ? best : NULL;
}

int kct_cli_bad_option(const char *help_cmd, const char *arg, const struct option *lo)
{
    char name[64];
    const char *names[64];
    const struct option *hit = NULL;
    size_t n = 0, fits = 0;
    if (strncmp(arg, "--", 2) != 0)
        return kct_cli_usage(help_cmd, "unknown option '%s'", arg);
    size_t len = strcspn(arg + 2, "=");
    int has_value = arg[2 + len] == '=';
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, arg + 2, len);
    name[len] = '\0';
    /* As getopt_long: the option named exactly, or the one it abbreviates. */
    for (const struct option *o = lo; o->name && n + 1 < sizeof names / sizeof names[0]; o++) {
        names[n++] = o->name;
        if (strcmp(o->name, name) == 0) {
            hit = o;
            fits = 1;
            break;
        }
        if (len && strncmp(o->name, name, len) == 0) {
            hit = o;
            fits++;
        }
    }
    names[n] = NULL;
    if (fits > 1)
        return kct_cli_usage(help_cmd, "option '--%s' is ambiguous", name);
    if (hit && hit->has_arg == required_argument && !has_value)
        return kct_cli_usage(help_cmd, "option '--%s' needs a value", hit->name);
    if (hit && hit->has_arg == no_argument && has_value)
        return kct_cli_usage(help_cmd, "option '--%s' takes no value", hit->name);
    for (const struct option *o = lo + n; o->name && n + 1 < sizeof names / sizeof names[0]; o++)
        names[n++] = o->name;
    names[n] = NULL;
    const char *near = kct_cli_suggest(name, names);
    if (near)
        return kct_cli_usage(help_cmd, "unknown option '--%s' (did you mean '--%s'?)", name, near);
    return kct_cli_usage(help_cmd, "unknown option '--%s'", name);
}
