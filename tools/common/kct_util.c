/*
 * kct_util.c - messages, exit codes, hex, files and the "where" options of the
 * command-line tools.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "kct.h"

void kct_wipe(void *p, size_t n)
{
    /* explicit_bzero is not removed as a dead store, unlike memset. */
    if (p && n)
        explicit_bzero(p, n);
}

static const char *g_prog = "keycard";

void kct_set_prog(const char *name)
{
    const char *slash = strrchr(name, '/');
    g_prog = slash ? slash + 1 : name;
}

const char *kct_prog(void)
{
    return g_prog;
}

void kct_err(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void trace_line(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s: trace: %s\n", g_prog, line);
}

void kct_trace_on(void)
{
    keycard_set_trace(trace_line, NULL);
}

const char *kct_ref_name(keycard_pin ref)
{
    switch (ref) {
    case KEYCARD_PIN_ISSUER:
        return "issuer PIN";
    case KEYCARD_PIN_HOLDER:
        return "holder PIN";
    case KEYCARD_ADMIN_KEY:
        return "admin key";
    }
    return "credential";
}

int kct_fail(keycard_rc rc, const char *what, int tries)
{
    switch (rc) {
    case KEYCARD_ERR_WRONG_PIN:
        if (tries == 0)
            kct_err("%s: wrong value; no tries left, it is now blocked", what);
        else if (tries > 0)
            kct_err("%s: wrong value; %d %s left", what, tries, tries == 1 ? "try" : "tries");
        else
            kct_err("%s: wrong value", what);
        return KCT_EXIT_FAIL;
    case KEYCARD_ERR_BLOCKED:
        kct_err("%s: blocked after too many wrong tries (a PIN can be reset with "
                "'kc-admin unblock'; a blocked admin key cannot)", what);
        return KCT_EXIT_FAIL;
    case KEYCARD_ERR_NO_CARD:
        kct_err("%s: %s (is the key card inserted? try 'kc-admin readers')", what,
                keycard_strerror(rc));
        return KCT_EXIT_FAIL;
    case KEYCARD_ERR_ARG:
    case KEYCARD_ERR_KEY_FORMAT:
        kct_err("%s: %s", what, keycard_strerror(rc));
        return KCT_EXIT_USAGE;
    default:
        kct_err("%s: %s", what, keycard_strerror(rc));
        return KCT_EXIT_FAIL;
    }
}

int kct_fail_cred(keycard_rc rc, const char *what, keycard_pin ref, int tries)
{
    if (rc != KEYCARD_ERR_BLOCKED && !(rc == KEYCARD_ERR_WRONG_PIN && tries == 0))
        return kct_fail(rc, what, tries);
    const char *verb =
        rc == KEYCARD_ERR_BLOCKED ? "is blocked" : "wrong value; no tries left, now blocked";
    if (ref == KEYCARD_ADMIN_KEY)
        kct_err("%s: %s; a blocked admin key stays blocked for good", what, verb);
    else
        kct_err("%s: %s; an administrator can reset it with 'kc-admin unblock %s'", what, verb,
                ref == KEYCARD_PIN_ISSUER ? "issuer" : "holder");
    return KCT_EXIT_FAIL;
}

/* ---- hex ------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int kct_hex_parse(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == ':') {
            s++;
            continue;
        }
        int hi = hexval((unsigned char)s[0]);
        int lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);
        if (hi < 0 || lo < 0 || n >= cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    return (int)n;
}

int kct_admin_key_parse(const char *s, uint8_t out[32])
{
    int n = kct_hex_parse(s, out, 32);
    if (n != KC_ADMIN_KEY_LEN_128 && n != KC_ADMIN_KEY_LEN_256) {
        kct_wipe(out, 32);
        return -1;
    }
    return n;
}

void kct_hex_format(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int kct_pin_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n > 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* ---- files ----------------------------------------------------------------- */

int kct_dirname(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    int n;
    if (!slash)
        n = snprintf(out, cap, ".");
    else if (slash == path)
        n = snprintf(out, cap, "/");
    else
        n = snprintf(out, cap, "%.*s", (int)(slash - path), path);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int kct_path_join(const char *dir, const char *name, char *out, size_t cap)
{
    int n;
    if (name[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
        n = snprintf(out, cap, "%s", name);
    else
        n = snprintf(out, cap, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int kct_file_read(const char *path, size_t max, uint8_t **data, size_t *len, char *err,
                  size_t errcap)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s is not a regular file", path);
        fclose(f);
        return -1;
    }
    if ((unsigned long long)st.st_size > max) {
        snprintf(err, errcap, "%s is too large (more than %zu bytes)", path, max);
        fclose(f);
        return -1;
    }
    size_t cap = (size_t)st.st_size;
    uint8_t *buf = malloc(cap + 1);
    if (!buf) {
        snprintf(err, errcap, "out of memory reading %s", path);
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        kct_file_free(buf, cap);
        snprintf(err, errcap, "cannot read %s", path);
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

void kct_file_free(uint8_t *data, size_t len)
{
    if (!data)
        return;
    kct_wipe(data, len + 1);
    free(data);
}

size_t kct_key_len(const uint8_t *data, size_t len)
{
    /* PEM parsers want the terminating NUL counted; DER has no NUL after it. */
    if (len >= 5 && memcmp(data, "-----", 5) == 0)
        return len + 1;
    return len;
}

/* ---- where ----------------------------------------------------------------- */

int kct_where_set(kct_where *w, int kind, const char *arg)
{
    if (w->set) {
        kct_err("give at most one of --reader and --sim");
        return -1;
    }
    if (!arg || !arg[0]) {
        kct_err("%s needs a value", kind == 's' ? "--sim" : "--reader");
        return -1;
    }
    int n = snprintf(w->spec, sizeof w->spec, "%s%s", kind == 's' ? "sim:" : "pcsc:", arg);
    if (n < 0 || (size_t)n >= sizeof w->spec) {
        kct_err("%s: value too long", kind == 's' ? "--sim" : "--reader");
        return -1;
    }
    w->set = 1;
    return 0;
}

const char *kct_where_spec(const kct_where *w)
{
    return (w && w->set) ? w->spec : NULL;
}

int kct_reader_resolve(const char *spec, char *out, size_t cap)
{
    char list[8192], *names[64];
    size_t n = 0;
    if (!spec || strncmp(spec, "pcsc:", 5) != 0 || !spec[5] ||
        keycard_list_readers(list, sizeof list) != KEYCARD_OK) {
        snprintf(out, cap, "%s", spec ? spec : "");
        return 0;
    }
    const char *arg = spec + 5;
    for (char *r = list, *save = NULL, *t; n < 64 && (t = strtok_r(r, "\n", &save)); r = NULL)
        names[n++] = t;
    const char *hit = NULL;
    size_t i, matches = 0;
    for (i = 0; i < n && !hit; i++)
        if (strcmp(names[i], arg) == 0)
            hit = names[i];
    if (!hit && strspn(arg, "0123456789") == strlen(arg)) {
        unsigned long k = strtoul(arg, NULL, 10);
        if (k >= n) {
            kct_err("no reader number %s: there %s %zu (0..%zu; see 'kc-admin readers')", arg,
                    n == 1 ? "is" : "are", n, n - 1);
            return KCT_EXIT_FAIL;
        }
        hit = names[k];
    }
    if (!hit) {
        for (i = 0; i < n; i++)
            if (strcasestr(names[i], arg) && matches++ == 0)
                hit = names[i];
    }
    if (matches > 1) {
        char also[1024] = "";
        for (i = 0; i < n; i++)
            if (strcasestr(names[i], arg)) {
                size_t l = strlen(also);
                snprintf(also + l, sizeof also - l, "%s%zu '%s'", l ? ", " : "", i, names[i]);
            }
        kct_err("reader '%s' matches %zu readers: %s; give more of the name or its number", arg,
                matches, also);
        return KCT_EXIT_USAGE;
    }
    if (!hit) {
        kct_err("no PC/SC reader named '%s' or with it in its name (see 'kc-admin readers')",
                arg);
        return KCT_EXIT_FAIL;
    }
    if ((size_t)snprintf(out, cap, "pcsc:%s", hit) >= cap) {
        kct_err("reader name too long: '%s'", hit);
        return KCT_EXIT_USAGE;
    }
    return 0;
}

int kct_open(const kct_where *w, keycard **out)
{
    return kct_open_issuer(w, NULL, 0, out);
}

int kct_open_issuer(const kct_where *w, const uint8_t *issuer_pub, size_t issuer_pub_len,
                    keycard **out)
{
    return kct_open_issuer_or_blank(w, issuer_pub, issuer_pub_len, out, NULL);
}

int kct_open_issuer_or_blank(const kct_where *w, const uint8_t *issuer_pub,
                             size_t issuer_pub_len, keycard **out, int *blank)
{
    char named[KCT_WHERE_MAX];
    const char *spec = kct_where_spec(w);
    const char *env = getenv("KEYCARD_READER");
    if (!spec && env && *env) {
        /* The key card's reader for every tool, as GP_READER is for gp. */
        snprintf(named, sizeof named, "pcsc:%s", env);
        spec = named;
    }
    int ex = spec ? kct_reader_resolve(spec, named, sizeof named) : 0;
    if (ex)
        return ex;
    if (spec)
        spec = named;
    keycard_options opt = {KEYCARD_CHANNEL_AUTO, issuer_pub, issuer_pub_len};
    keycard_rc rc = keycard_open_ex(out, spec, &opt);
    /* Reserved by another program (a kc-issue batch): wait for it when asked to. */
    for (long waited = 0; rc == KEYCARD_ERR_BUSY && w && waited < w->busy_wait_s * 1000L;
         waited += 250) {
        struct timespec ts = {0, 250 * 1000000L};
        if (waited == 0)
            kct_err("the key card is reserved by another program; waiting up to %ld s "
                    "(--wait-busy)", w->busy_wait_s);
        nanosleep(&ts, NULL);
        rc = keycard_open_ex(out, spec, &opt);
    }
    if (blank)
        *blank = 0;
    if (rc == KEYCARD_ERR_BLANK && blank && issuer_pub) {
        /* Nothing to check on a blank card: no certificate yet. */
        opt.issuer_pub = NULL;
        opt.issuer_pub_len = 0;
        if ((rc = keycard_open_ex(out, spec, &opt)) == KEYCARD_OK)
            *blank = 1;
    }
    if (rc == KEYCARD_OK)
        return 0;
    if (rc == KEYCARD_ERR_NOT_GENUINE) {
        kct_err("key card refused: no channel certificate that verifies under the issuer public "
                "key (a card of another issuer, or a reader that hides it); no PIN or data was "
                "sent to it");
        return KCT_EXIT_FAIL;
    }
    if (rc == KEYCARD_ERR_NO_READER && spec && strncmp(spec, "pcsc:", 5) == 0) {
        /* Tell "no such reader" from "no PC/SC service" when the list says so. */
        char list[8192];
        if (keycard_list_readers(list, sizeof list) == KEYCARD_OK) {
            kct_err("no PC/SC reader named '%s' (see 'kc-admin readers')", spec + 5);
            return KCT_EXIT_FAIL;
        }
    }
    char what[KCT_WHERE_MAX + 32];
    if (!spec)
        snprintf(what, sizeof what, "open key card (searched every reader)");
    else if (strncmp(spec, "sim:", 4) == 0)
        snprintf(what, sizeof what, "open simulated key card %s", spec + 4);
    else
        snprintf(what, sizeof what, "open key card in reader '%s'", spec + 5);
    if ((rc == KEYCARD_ERR_IO || rc == KEYCARD_ERR_DAMAGED) && keycard_open_detail()[0]) {
        /* The file and its problem, not just "input/output error". */
        kct_err("%s: %s (%s)", what, keycard_strerror(rc), keycard_open_detail());
        return KCT_EXIT_FAIL;
    }
    return kct_fail(rc, what, -1);
}
