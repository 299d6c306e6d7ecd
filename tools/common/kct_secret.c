/*
 * kct_secret.c - secret input for the tools: a no-echo prompt on the
 * terminal, a file, or the environment; and wiping of what was entered.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "kct.h"

void kct_secret_wipe(kct_secret *s)
{
    kct_wipe(s, sizeof *s);
}

int kct_secret_set(kct_secret *out, const char *s)
{
    size_t n = strlen(s);
    kct_secret_wipe(out);
    if (n > KCT_SECRET_MAX)
        return -1;
    memcpy(out->text, s, n);
    out->text[n] = '\0';
    out->len = n;
    return 0;
}

int kct_have_tty(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* Strip a trailing "\n" or "\r\n". */
static void chomp(kct_secret *s)
{
    while (s->len > 0 && (s->text[s->len - 1] == '\n' || s->text[s->len - 1] == '\r'))
        s->text[--s->len] = '\0';
}

/* Terminal state to restore if a signal ends the program during a prompt. */
static struct termios g_saved;
static volatile sig_atomic_t g_saved_fd = -1;

static void restore_on_signal(int sig)
{
    if (g_saved_fd >= 0)
        tcsetattr(g_saved_fd, TCSAFLUSH, &g_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

int kct_prompt_line(const char *prompt, char *out, size_t cap)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty) {
        kct_err("%s: no terminal to ask on", prompt);
        return -1;
    }
    fprintf(tty, "%s: ", prompt);
    fflush(tty);
    int ok = fgets(out, (int)cap, tty) != NULL;
    fclose(tty);
    size_t n = ok ? strcspn(out, "\r\n") : 0;
    if (!ok || n == 0 || (n == cap - 1 && out[n] == '\0')) {
        kct_err("%s: %s", prompt, ok && n ? "too long" : "no input");
        return -1;
    }
    out[n] = '\0';
    return 0;
}

int kct_secret_prompt(const char *prompt, kct_secret *out)
{
    kct_secret_wipe(out);
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0) {
        kct_err("%s: no terminal to ask on (give it by file or environment)", prompt);
        return -1;
    }
    struct termios old, quiet;
    int have_termios = tcgetattr(fd, &old) == 0;
    if (have_termios) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        /* Ctrl-C must not leave the terminal without echo. */
        g_saved = old;
        g_saved_fd = fd;
        signal(SIGINT, restore_on_signal);
        signal(SIGTERM, restore_on_signal);
        signal(SIGHUP, restore_on_signal);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0 || write(fd, ": ", 2) < 0) {
        /* the prompt is cosmetic; reading still works */
    }
    size_t n = 0;
    int toolong = 0, eof = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            eof = 1;
            break;
        }
        if (c == '\n' || c == '\r')
            break;
        if (n < KCT_SECRET_MAX)
            out->text[n++] = c;
        else
            toolong = 1;
        c = 0;
    }
    out->text[n] = '\0';
    out->len = n;
    if (have_termios) {
        tcsetattr(fd, TCSAFLUSH, &old);
        g_saved_fd = -1;
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
    }
    if (write(fd, "\n", 1) < 0) {
        /* cosmetic */
    }
    close(fd);
    if (eof && n == 0) {
        kct_secret_wipe(out);
        kct_err("%s: no input", prompt);
        return -1;
    }
    if (toolong) {
        kct_secret_wipe(out);
        kct_err("%s: input too long", prompt);
        return -1;
    }
    return 0;
}

int kct_secret_prompt_new(const char *prompt, kct_secret *out)
{
    kct_secret again;
    char p2[256];
    if (kct_secret_prompt(prompt, out) != 0)
        return -1;
    snprintf(p2, sizeof p2, "%s (again)", prompt);
    if (kct_secret_prompt(p2, &again) != 0) {
        kct_secret_wipe(out);
        return -1;
    }
    int same = again.len == out->len && memcmp(again.text, out->text, out->len) == 0;
    kct_secret_wipe(&again);
    if (!same) {
        kct_secret_wipe(out);
        kct_err("%s: the two entries differ", prompt);
        return -1;
    }
    return 0;
}

int kct_secret_file(const char *path, kct_secret *out, char *err, size_t errcap)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errcap = sizeof dummy;
    }
    kct_secret_wipe(out);
    uint8_t *data;
    size_t len;
    if (kct_file_read(path, 4096, &data, &len, err, errcap) != 0)
        return -1;
    size_t line = 0;
    while (line < len && data[line] != '\n')
        line++;
    if (line > KCT_SECRET_MAX) {
        kct_file_free(data, len);
        snprintf(err, errcap, "%s: first line too long for a secret", path);
        return -1;
    }
    if (memchr(data, '\0', line)) {
        kct_file_free(data, len);
        snprintf(err, errcap, "%s: contains a NUL byte", path);
        return -1;
    }
    memcpy(out->text, data, line);
    out->text[line] = '\0';
    out->len = line;
    kct_file_free(data, len);
    chomp(out);
    return 0;
}

void kct_secret_env_drop(const char *name)
{
    char *v;

    /* Every copy: a hand-made environment may hold the name twice. */
    while ((v = getenv(name)) != NULL) {
        kct_wipe(v, strlen(v));
        if (unsetenv(name) != 0)
            break;
    }
}

/* The first line read from descriptor fd (closed afterwards). */
static int secret_fd(const char *what, const char *n, kct_secret *out)
{
    char *end;
    long fd = strtol(n, &end, 10);
    if (!*n || *end || fd < 0 || fd > 1024) {
        kct_err("%s: fd:%s is not a file descriptor number", what, n);
        return -1;
    }
    kct_secret_wipe(out);
    size_t len = 0;
    int toolong = 0;
    for (;;) {
        char c;
        ssize_t r = read((int)fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            kct_err("%s: fd:%ld: %s", what, fd, strerror(errno));
            kct_secret_wipe(out);
            return -1;
        }
        if (r == 0 || c == '\n')
            break;
        if (len < KCT_SECRET_MAX)
            out->text[len++] = c;
        else
            toolong = 1;
    }
    close((int)fd);
    out->text[len] = '\0';
    out->len = len;
    chomp(out);
    if (toolong || len == 0) {
        kct_secret_wipe(out);
        kct_err("%s: fd:%ld: %s", what, fd, toolong ? "first line too long" : "nothing to read");
        return -1;
    }
    return 0;
}

/* The value of the variable name, taken once (see kct_secret_get). */
static int secret_env(const char *what, const char *name, kct_secret *out)
{
    char *v = getenv(name);
    if (!v) {
        kct_err("%s: %s is not set", what, name);
        return -1;
    }
    int r = kct_secret_set(out, v);
    kct_secret_env_drop(name);
    if (r != 0) {
        kct_err("%s: value of %s is too long", what, name);
        return -1;
    }
    return 0;
}

int kct_secret_source(const char *what, const char *option, const char *source,
                      const char *env, const char *prompt, int confirm, kct_secret *out)
{
    if (source && strncmp(source, "file:", 5) == 0) {
        char err[512];
        if (kct_secret_file(source + 5, out, err, sizeof err) != 0) {
            kct_err("%s: %s", what, err);
            return -1;
        }
        return 0;
    }
    if (source && strncmp(source, "env:", 4) == 0)
        return secret_env(what, source + 4, out);
    if (source && strncmp(source, "fd:", 3) == 0)
        return secret_fd(what, source + 3, out);
    if (source && strcmp(source, "prompt") != 0) {
        /* Not echoed: it may be the secret itself, typed where a source belongs. */
        kct_err("%s: %s takes prompt, file:PATH, env:VAR or fd:N (a secret is never given on "
                "the command line)", what, option);
        return -1;
    }
    if (!source && env && getenv(env))
        return secret_env(what, env, out);
    if (!kct_have_tty()) {
        if (env)
            kct_err("%s needed: no terminal to ask on; give %s file:PATH, env:VAR or fd:N, or set "
                    "%s", what, option, env);
        else
            kct_err("%s needed: no terminal to ask on; give %s file:PATH, env:VAR or fd:N", what,
                    option);
        return -1;
    }
    return confirm ? kct_secret_prompt_new(prompt, out) : kct_secret_prompt(prompt, out);
}

int kct_secret_get(const char *what, const char *option, const char *file, const char *env,
                   const char *prompt, int confirm, kct_secret *out)
{
    /* A file option's value: a path, or any of the source forms. */
    char src[4096 + 8];
    const char *source = NULL;
    if (file) {
        int forms = strncmp(file, "file:", 5) == 0 || strncmp(file, "env:", 4) == 0 ||
                    strncmp(file, "fd:", 3) == 0 || strcmp(file, "prompt") == 0;
        snprintf(src, sizeof src, "%s%s", forms ? "" : "file:", file);
        source = src;
    }
    return kct_secret_source(what, option, source, env, prompt, confirm, out);
}
