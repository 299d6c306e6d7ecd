/*
 * kct_json.c - JSON input for the tools (profiles, station configs): every
 * problem is reported with its JSON path ("$.holder_pin.value: ..."), unknown
 * fields are errors, and freed JSON memory is wiped because it held secrets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kct.h"

/* ---- allocator that wipes ------------------------------------------------- */

/*
 * jansson copies every string it parses (PINs, keys) into its own blocks and
 * frees them without clearing. A size header lets free wipe the whole block.
 */
typedef union {
    size_t size;
    max_align_t align;
} hdr;

static void *wipe_malloc(size_t n)
{
    hdr *h = malloc(sizeof(hdr) + n);
    if (!h)
        return NULL;
    h->size = n;
    return h + 1;
}

static void wipe_free(void *p)
{
    if (!p)
        return;
    hdr *h = (hdr *)p - 1;
    kct_wipe(p, h->size);
    free(h);
}

void kct_json_init(void)
{
    json_set_alloc_funcs(wipe_malloc, wipe_free);
}

/* ---- errors ------------------------------------------------------------------ */

void kct_jerr(kct_errs *e, const char *path, const char *fmt, ...)
{
    va_list ap;
    if (e->file)
        fprintf(stderr, "%s: %s: %s: ", kct_prog(), e->file, path);
    else
        fprintf(stderr, "%s: %s: ", kct_prog(), path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    e->count++;
}

/* "PATH.KEY" into out. */
static void subpath(char *out, size_t cap, const char *path, const char *key)
{
    snprintf(out, cap, "%s.%s", path, key);
}

json_t *kct_json_load(const char *file, kct_errs *e)
{
    char err[512];
    uint8_t *data;
    size_t len;
    if (kct_file_read(file, 1 << 20, &data, &len, err, sizeof err) != 0) {
        kct_jerr(e, "$", "%s", err);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
    kct_file_free(data, len);
    if (!j) {
        kct_jerr(e, "$", "not valid JSON (line %d, column %d: %s)", je.line, je.column,
                 je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        kct_jerr(e, "$", "must be a JSON object");
        kct_json_wipe(j);
        json_decref(j);
        return NULL;
    }
    return j;
}

int kct_json_only(kct_errs *e, const char *path, json_t *obj, const char *const allowed[])
{
    int bad = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = 1;
        if (!ok) {
            char p[256];
            subpath(p, sizeof p, path, key);
            kct_jerr(e, p, "unknown field");
            bad++;
        }
    }
    return bad;
}

static json_t *member(kct_errs *e, const char *path, json_t *obj, const char *key, int required)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v && required && obj) {
        char p[256];
        subpath(p, sizeof p, path, key);
        kct_jerr(e, p, "missing (required)");
    }
    return v;
}

json_t *kct_json_obj(kct_errs *e, const char *path, json_t *obj, const char *key, int required)
{
    json_t *v = member(e, path, obj, key, required);
    if (v && !json_is_object(v)) {
        char p[256];
        subpath(p, sizeof p, path, key);
        kct_jerr(e, p, "must be an object");
        return NULL;
    }
    return v;
}

const char *kct_json_str(kct_errs *e, const char *path, json_t *obj, const char *key,
                         int required, size_t *len)
{
    json_t *v = member(e, path, obj, key, required);
    if (!v)
        return NULL;
    char p[256];
    subpath(p, sizeof p, path, key);
    if (!json_is_string(v)) {
        kct_jerr(e, p, "must be a string");
        return NULL;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != n) {
        kct_jerr(e, p, "must not contain a NUL character");
        return NULL;
    }
    if (len)
        *len = n;
    return s;
}

long kct_json_int(kct_errs *e, const char *path, json_t *obj, const char *key, int required,
                  long lo, long hi, long def)
{
    json_t *v = member(e, path, obj, key, required);
    if (!v)
        return required ? -1 : def;
    char p[256];
    subpath(p, sizeof p, path, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        kct_jerr(e, p, "must be an integer from %ld to %ld", lo, hi);
        return -1;
    }
    return (long)json_integer_value(v);
}

int kct_json_bool(kct_errs *e, const char *path, json_t *obj, const char *key, int def)
{
    json_t *v = member(e, path, obj, key, 0);
    if (!v)
        return def;
    if (!json_is_boolean(v)) {
        char p[256];
        subpath(p, sizeof p, path, key);
        kct_jerr(e, p, "must be true or false");
        return -1;
    }
    return json_is_true(v);
}

int kct_json_print(json_t *j)
{
    if (!j) {
        kct_err("out of memory building the JSON result");
        return KCT_EXIT_FAIL;
    }
    int r = json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (r != 0 || putchar('\n') == EOF || fflush(stdout) != 0) {
        kct_err("cannot write the JSON result to standard output");
        return KCT_EXIT_FAIL;
    }
    return 0;
}

void kct_json_wipe(json_t *j)
{
    if (!j)
        return;
    if (json_is_string(j)) {
        /* The library owns the text; clearing it in place before the free
         * is the only way to reach it, and the tree is not used afterwards. */
        char *s = (char *)json_string_value(j);
        kct_wipe(s, json_string_length(j));
    } else if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) kct_json_wipe(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) kct_json_wipe(v);
    }
}

/* ---- secrets in JSON ------------------------------------------------------- */

const char *kct_check_pin(const char *text)
{
    return kct_pin_ok(text) ? NULL : "must be 4 to 16 digits (0-9)";
}

const char *kct_check_admin_key(const char *text)
{
    uint8_t k[32];
    int n = kct_admin_key_parse(text, k);
    kct_wipe(k, sizeof k);
    return n < 0 ? "must be 16 or 32 bytes in hex (32 or 64 hex digits)" : NULL;
}

int kct_json_secret(kct_errs *e, const char *path, json_t *obj, const char *key,
                    const char *value_key, int allow_tries, const char *base_dir,
                    const char *what, int confirm, kct_secret_check check, kct_secret *out,
                    int *tries)
{
    char p[256], pp[320];
    int before = e->count;
    kct_secret_wipe(out);
    subpath(p, sizeof p, path, key);
    json_t *o = kct_json_obj(e, path, obj, key, 1);
    if (!o)
        return -1;
    const char *const with_tries[] = {value_key, "file", "prompt", "tries", NULL};
    const char *const without[] = {value_key, "file", "prompt", NULL};
    kct_json_only(e, p, o, allow_tries ? with_tries : without);
    if (tries)
        *tries = allow_tries ? (int)kct_json_int(e, p, o, "tries", 0, KC_TRIES_MIN,
                                                 KC_TRIES_MAX, 3)
                             : 0;

    int sources = !!json_object_get(o, value_key) + !!json_object_get(o, "file") +
                  !!json_object_get(o, "prompt");
    if (sources != 1) {
        kct_jerr(e, p, "give exactly one of \"%s\", \"file\" or \"prompt\"", value_key);
        return -1;
    }
    const char *src;
    if (json_object_get(o, value_key)) {
        src = value_key;
        const char *v = kct_json_str(e, p, o, value_key, 1, NULL);
        if (!v)
            return -1;
        if (kct_secret_set(out, v) != 0) {
            subpath(pp, sizeof pp, p, value_key);
            kct_jerr(e, pp, "too long");
            return -1;
        }
    } else if (json_object_get(o, "file")) {
        src = "file";
        const char *f = kct_json_str(e, p, o, "file", 1, NULL);
        if (!f)
            return -1;
        char full[4096], err[512];
        subpath(pp, sizeof pp, p, "file");
        if (kct_path_join(base_dir, f, full, sizeof full) != 0) {
            kct_jerr(e, pp, "path too long");
            return -1;
        }
        if (kct_secret_file(full, out, err, sizeof err) != 0) {
            kct_jerr(e, pp, "%s", err);
            return -1;
        }
    } else {
        src = "prompt";
        int b = kct_json_bool(e, p, o, "prompt", 0);
        subpath(pp, sizeof pp, p, "prompt");
        if (b != 1) {
            if (b == 0)
                kct_jerr(e, pp, "must be true when given");
            return -1;
        }
        if (e->count != 0)
            return -1; /* do not ask for a value of a file already known wrong */
        if (!kct_have_tty()) {
            kct_jerr(e, pp, "needs a terminal to ask on; give \"%s\" or \"file\" instead",
                     value_key);
            return -1;
        }
        int r = confirm ? kct_secret_prompt_new(what, out) : kct_secret_prompt(what, out);
        if (r != 0) {
            kct_jerr(e, pp, "no value entered");
            return -1;
        }
    }
    const char *problem = check ? check(out->text) : NULL;
    if (problem) {
        subpath(pp, sizeof pp, p, src);
        if (strcmp(src, "file") == 0)
            kct_jerr(e, pp, "the file's first line %s", problem);
        else if (strcmp(src, "prompt") == 0)
            kct_jerr(e, pp, "the value entered %s", problem);
        else
            kct_jerr(e, pp, "%s", problem);
        kct_secret_wipe(out);
        return -1;
    }
    if (e->count != before) {
        kct_secret_wipe(out); /* a spec with any error yields no secret */
        return -1;
    }
    return 0;
}
