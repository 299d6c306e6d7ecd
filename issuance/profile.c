/*
 * profile.c - issuance profile (JSON), records (CSV) and step parameter
 * encoding for kc-issue (see profile.h, docs/issuance-profile.md).
 */
#include "profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keycard_proto.h"

const char *kci_way_name(int way)
{
    switch (way) {
    case KEYCARD_WAY_STATIC:
        return "static";
    case KEYCARD_WAY_TARGET_SEED:
        return "target-seed";
    case KEYCARD_WAY_PREVIOUS_RANDOM:
        return "previous-random";
    default:
        return "?";
    }
}

/* One parameter object: exactly one of the known kinds. */
static void parse_param(kct_errs *e, const char *path, json_t *j, kci_param *out)
{
    static const struct {
        const char *name;
        kci_param_kind kind;
        unsigned long max; /* integers: largest value */
    } kinds[] = {
        {"u8", KCI_P_U8, 0xFF},         {"u16", KCI_P_U16, 0xFFFF},
        {"u32", KCI_P_U32, 0xFFFFFFFFul}, {"hex", KCI_P_HEX, 0},
        {"text", KCI_P_TEXT, 0},         {"bytes-hex", KCI_P_BYTES_HEX, 0},
        {"key", KCI_P_KEY, 254},         {"csv", KCI_P_CSV, 0},
    };
    const char *key;
    json_t *v;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(j) || json_object_size(j) != 1) {
        kct_jerr(e, path, "must be an object with one member: u8, u16, u32, hex, text, "
                          "bytes-hex, key or csv");
        return;
    }
    json_object_foreach(j, key, v)
    {
        for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if (strcmp(key, kinds[i].name) == 0)
                break;
        if (i == sizeof(kinds) / sizeof(kinds[0])) {
            kct_jerr(e, path, "unknown parameter kind \"%s\"", key);
            return;
        }
        out->kind = kinds[i].kind;
        if (kinds[i].max != 0) {
            json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
            int ok = json_is_integer(v);
            /* "0x3F00": file identifiers and access conditions read better in hex. */
            if (json_is_string(v) && out->kind != KCI_P_KEY) {
                const char *hs = json_string_value(v);
                char *end;
                unsigned long long h;
                if ((hs[0] == '0' && (hs[1] == 'x' || hs[1] == 'X')) && isxdigit((unsigned char)hs[2])) {
                    h = strtoull(hs + 2, &end, 16);
                    if (*end == '\0' && h <= kinds[i].max) {
                        n = (json_int_t)h;
                        ok = 1;
                    }
                }
            }
            if (!ok || n < 0 || (unsigned long long)n > kinds[i].max ||
                (out->kind == KCI_P_KEY && n == 0)) {
                kct_jerr(e, path, "%s must be an integer %s..%lu (or a \"0x..\" hex string)", key,
                         out->kind == KCI_P_KEY ? "1" : "0", kinds[i].max);
                return;
            }
            out->value = (uint32_t)n;
            return;
        }
        if (!json_is_string(v)) {
            kct_jerr(e, path, "%s must be a string", key);
            return;
        }
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        switch (out->kind) {
        case KCI_P_TEXT:
            if (n > sizeof(out->bytes)) {
                kct_jerr(e, path, "text is longer than 255 bytes");
                return;
            }
            memcpy(out->bytes, s, n);
            out->len = n;
            break;
        case KCI_P_HEX:
        case KCI_P_BYTES_HEX: {
            int r = kct_hex_parse(s, out->bytes, sizeof(out->bytes));
            if (r < 0) {
                kct_jerr(e, path, "%s must be hex digits, at most 255 bytes", key);
                return;
            }
            out->len = (size_t)r;
            break;
        }
        case KCI_P_CSV:
            if (n == 0 || n > KCI_NAME_MAX) {
                kct_jerr(e, path, "csv must name a column (1..%d characters)", KCI_NAME_MAX);
                return;
            }
            memcpy(out->column, s, n + 1);
            break;
        default:
            break;
        }
    }
}

int kci_profile_parse(json_t *root, kct_errs *e, kci_profile *p)
{
    static const char *const fields[] = {"issuance", "name",  "description", "key",  "way",
                                         "bucket",   "pack",  "lock",        "steps", NULL};
    static const char *const step_fields[] = {"template", "label", "params", "comment", NULL};
    const char *s;
    json_t *steps;
    long v;
    int before = e->count;

    memset(p, 0, sizeof(*p));
    kct_json_only(e, "$", root, fields);
    s = kct_json_str(e, "$", root, "issuance", 1, NULL);
    if (s && strcmp(s, "keycard/1") != 0)
        kct_jerr(e, "$.issuance", "must be \"keycard/1\"");
    s = kct_json_str(e, "$", root, "name", 0, NULL);
    if (s)
        snprintf(p->name, sizeof(p->name), "%s", s);
    (void)kct_json_str(e, "$", root, "description", 0, NULL);
    v = kct_json_int(e, "$", root, "key", 1, 1, 254, 0);
    p->key = v > 0 ? (unsigned)v : 0;
    s = kct_json_str(e, "$", root, "way", 0, NULL);
    if (s == NULL || strcmp(s, "target-seed") == 0)
        p->way = KEYCARD_WAY_TARGET_SEED;
    else if (strcmp(s, "previous-random") == 0)
        p->way = KEYCARD_WAY_PREVIOUS_RANDOM;
    else if (strcmp(s, "static") == 0)
        p->way = KEYCARD_WAY_STATIC;
    else
        kct_jerr(e, "$.way", "must be \"target-seed\", \"previous-random\" or \"static\"");
    v = kct_json_int(e, "$", root, "bucket", 0, 64, 1024, 256);
    if (v >= 0 && kc_env_bucket_ok((size_t)v))
        p->bucket = (unsigned)v;
    else if (v >= 0)
        kct_jerr(e, "$.bucket", "must be 64, 128, 256, 512 or 1024");
    p->pack = kct_json_bool(e, "$", root, "pack", 1);
    p->lock = kct_json_bool(e, "$", root, "lock", 1);
    steps = json_object_get(root, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0) {
        kct_jerr(e, "$.steps", "must be a non-empty array");
    } else if (json_array_size(steps) > KCI_STEPS_MAX) {
        kct_jerr(e, "$.steps", "at most %d steps (one key card session)", KCI_STEPS_MAX);
    } else {
        size_t i, k;
        json_t *st;
        json_array_foreach(steps, i, st)
        {
            char path[64];
            kci_step *o = &p->steps[i];
            json_t *params;

            snprintf(path, sizeof(path), "$.steps[%zu]", i);
            if (!json_is_object(st)) {
                kct_jerr(e, path, "must be an object");
                continue;
            }
            kct_json_only(e, path, st, step_fields);
            v = kct_json_int(e, path, st, "template", 1, 1, 254, 0);
            o->template_no = v > 0 ? (unsigned)v : 0;
            s = kct_json_str(e, path, st, "label", 0, NULL);
            if (s)
                snprintf(o->label, sizeof(o->label), "%s", s);
            (void)kct_json_str(e, path, st, "comment", 0, NULL);
            params = json_object_get(st, "params");
            if (params == NULL)
                continue;
            if (!json_is_array(params) || json_array_size(params) > KCI_PARAMS_MAX) {
                kct_jerr(e, path, "params must be an array of at most %d parameters",
                         KCI_PARAMS_MAX);
                continue;
            }
            json_t *pj;
            json_array_foreach(params, k, pj)
            {
                char pp[96];
                snprintf(pp, sizeof(pp), "%s.params[%zu]", path, k);
                parse_param(e, pp, pj, &o->params[k]);
                if (o->params[k].kind == KCI_P_CSV)
                    p->uses_csv = 1;
            }
            o->n_params = json_array_size(params);
        }
        p->n_steps = json_array_size(steps);
    }
    return e->count > before ? -1 : 0;
}

int kci_profile_load(const char *file, kci_profile *p)
{
    kct_errs e = {file, 0};
    json_t *root = kct_json_load(file, &e);
    int r;

    if (root == NULL)
        return -1;
    r = kci_profile_parse(root, &e, p);
    json_decref(root);
    return r;
}

/* ---- CSV ------------------------------------------------------------------- */

/* Append field f to a growing row. */
static int row_add(char ***row, size_t *n, const char *f, size_t flen)
{
    char **r = realloc(*row, (*n + 1) * sizeof(char *));
    char *copy;

    if (r == NULL)
        return -1;
    *row = r;
    copy = malloc(flen + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, f, flen);
    copy[flen] = '\0';
    r[(*n)++] = copy;
    return 0;
}

static void row_free(char **row, size_t n)
{
    size_t i;

    if (row == NULL)
        return;
    for (i = 0; i < n; i++)
        free(row[i]);
    free(row);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t need;
    unsigned long cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        need = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        need = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        need = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < need)
        return 0;
    for (size_t k = 1; k < need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* Whole-file checks before parsing: NUL bytes, UTF-8. */
static int text_check(const char *text, size_t len, char *err, size_t errcap)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        const unsigned char *p = (const unsigned char *)text + i;
        size_t k;
        if (*p == 0) {
            snprintf(err, errcap, "line %zu, column %zu: a NUL byte", line, col);
            return -1;
        }
        if ((k = utf8_seq(p, len - i)) == 0) {
            snprintf(err, errcap, "line %zu, column %zu: not UTF-8 (byte %02X)", line, col, *p);
            return -1;
        }
        if (*p == '\n')
            line++, col = 1;
        else
            col++;
        i += k;
    }
    return 0;
}

static int is_hex16(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return i == 16;
}

/* After parsing: the header's names, the serial column's values. */
static int csv_validate(const kci_csv *c, char *err, size_t errcap)
{
    int sc = -1;
    for (size_t i = 0; i < c->n_cols; i++) {
        if (c->head[i][0] == '\0') {
            snprintf(err, errcap, "line 1, column %zu: a column without a name", i + 1);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->head[i], c->head[j]) == 0) {
                snprintf(err, errcap, "line 1, column %zu: column \"%s\" named twice (also column %zu)",
                         i + 1, c->head[i], j + 1);
                return -1;
            }
        if (strcmp(c->head[i], "serial") == 0)
            sc = (int)i;
    }
    if (c->n_rows == 0) {
        snprintf(err, errcap, "no records: only a header line");
        return -1;
    }
    if (sc < 0)
        return 0;
    for (size_t r = 0; r < c->n_rows; r++) {
        const char *v = c->rows[r][sc];
        if (!is_hex16(v)) {
            snprintf(err, errcap, "line %zu, column %d (\"serial\"): \"%.40s\" is not 16 hex digits",
                     c->line[r], sc + 1, v);
            return -1;
        }
        for (size_t q = 0; q < r; q++)
            if (strcasecmp(c->rows[q][sc], v) == 0) {
                snprintf(err, errcap, "line %zu, column %d (\"serial\"): serial %s again (first on line %zu)",
                         c->line[r], sc + 1, v, c->line[q]);
                return -1;
            }
    }
    return 0;
}

int kci_csv_parse(const char *text, size_t len, kci_csv *c, char *err, size_t errcap)
{
    size_t i = 0, line = 1;
    char *field;

    memset(c, 0, sizeof(*c));
    /* A byte order mark (spreadsheets write one) is not part of the first name. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3;
    if (text_check(text, len, err, errcap) != 0)
        return -1;
    field = malloc(len + 1);
    if (field == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    while (i < len) {
        char **row = NULL;
        size_t nf = 0, row_line = line;
        int end = 0, blank = 1;

        while (!end) {
            size_t fl = 0;
            if (i < len && text[i] == '"') {
                i++;
                blank = 0;
                for (;;) {
                    if (i >= len) {
                        snprintf(err, errcap, "line %zu: unterminated quoted field", row_line);
                        goto fail_row;
                    }
                    if (text[i] == '"' && i + 1 < len && text[i + 1] == '"') {
                        field[fl++] = '"';
                        i += 2;
                    } else if (text[i] == '"') {
                        i++;
                        break;
                    } else {
                        if (text[i] == '\n')
                            line++;
                        field[fl++] = text[i++];
                    }
                }
                if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    snprintf(err, errcap, "line %zu: text after a closing quote", row_line);
                    goto fail_row;
                }
            } else {
                while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    field[fl++] = text[i++];
                if (fl > 0)
                    blank = 0;
            }
            if (row_add(&row, &nf, field, fl) != 0) {
                snprintf(err, errcap, "out of memory");
                goto fail_row;
            }
            if (i < len && text[i] == ',') {
                i++;
                blank = 0;
                continue;
            }
            if (i < len && text[i] == '\r')
                i++;
            if (i < len && text[i] == '\n')
                i++;
            line++;
            end = 1;
        }
        if (blank && nf == 1) { /* an empty line */
            row_free(row, nf);
            continue;
        }
        if (c->head == NULL) {
            c->head = row;
            c->n_cols = nf;
            continue;
        }
        if (nf != c->n_cols) {
            snprintf(err, errcap, "line %zu: %zu fields, the header has %zu", row_line, nf,
                     c->n_cols);
            goto fail_row;
        }
        char ***rows = realloc(c->rows, (c->n_rows + 1) * sizeof(char **));
        if (rows == NULL) {
            snprintf(err, errcap, "out of memory");
            goto fail_row;
        }
        c->rows = rows;
        size_t *lines = realloc(c->line, (c->n_rows + 1) * sizeof(size_t));
        if (lines == NULL) {
            snprintf(err, errcap, "out of memory");
            goto fail_row;
        }
        c->line = lines;
        c->line[c->n_rows] = row_line;
        c->rows[c->n_rows++] = row;
        continue;
    fail_row:
        row_free(row, nf);
        free(field);
        kci_csv_free(c);
        return -1;
    }
    free(field);
    if (c->head == NULL) {
        snprintf(err, errcap, "no header line");
        return -1;
    }
    if (csv_validate(c, err, errcap) != 0) {
        kci_csv_free(c);
        return -1;
    }
    return 0;
}

int kci_csv_load(const char *file, kci_csv *c, char *err, size_t errcap)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int r;

    if (kct_file_read(file, 16 * 1024 * 1024, &data, &len, err, errcap) != 0)
        return -1;
    r = kci_csv_parse((const char *)data, len, c, err, errcap);
    kct_file_free(data, len);
    return r;
}

void kci_csv_free(kci_csv *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n_rows; i++)
        row_free(c->rows[i], c->n_cols);
    free(c->rows);
    free(c->line);
    row_free(c->head, c->n_cols);
    memset(c, 0, sizeof(*c));
}

int kci_csv_col(const kci_csv *c, const char *name)
{
    size_t i;

    if (c == NULL || c->head == NULL)
        return -1;
    for (i = 0; i < c->n_cols; i++)
        if (strcmp(c->head[i], name) == 0)
            return (int)i;
    return -1;
}

long kci_csv_pick(const kci_csv *c, const char *serial_hex, size_t next)
{
    int sc = kci_csv_col(c, "serial");
    size_t i;

    if (c == NULL)
        return -1;
    if (sc >= 0) {
        for (i = 0; i < c->n_rows; i++)
            if (serial_hex != NULL && strcasecmp(c->rows[i][sc], serial_hex) == 0)
                return (long)i;
        return -1;
    }
    return next < c->n_rows ? (long)next : -1;
}

int kci_csv_check(const kci_profile *p, const kci_csv *c)
{
    size_t i, k;
    int bad = 0;

    for (i = 0; i < p->n_steps; i++)
        for (k = 0; k < p->steps[i].n_params; k++) {
            const kci_param *q = &p->steps[i].params[k];
            if (q->kind == KCI_P_CSV && kci_csv_col(c, q->column) < 0) {
                kct_err("records: no column \"%s\" (named by steps[%zu].params[%zu])",
                        q->column, i, k);
                bad = 1;
            }
        }
    return bad ? -1 : 0;
}

int kci_csv_unused(const kci_profile *p, const kci_csv *c)
{
    size_t i, k;
    int bad = 0;

    /* A column nothing uses is most likely a misspelt one: say so rather than ignore it. */
    for (size_t col = 0; col < c->n_cols; col++) {
        int used = strcmp(c->head[col], "serial") == 0;
        for (i = 0; !used && i < p->n_steps; i++)
            for (k = 0; !used && k < p->steps[i].n_params; k++)
                used = p->steps[i].params[k].kind == KCI_P_CSV &&
                       strcmp(p->steps[i].params[k].column, c->head[col]) == 0;
        if (!used) {
            kct_err("records: line 1, column %zu: column \"%s\" is used by no step of the profile",
                    col + 1, c->head[col]);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* ---- encoding ---------------------------------------------------------------- */

/*
 * The parameter bytes of step s for record row of c (row -1: none), built
 * with libkeycard's keycard_param_* (the one encoder); "hex" parameters are
 * raw bytes the profile gives as they are.
 */
long kci_step_encode(const kci_step *s, const kci_csv *c, long row, uint8_t *out, size_t cap,
                     char *err, size_t errcap)
{
    size_t n = 0, k;

    for (k = 0; k < s->n_params; k++) {
        const kci_param *q = &s->params[k];
        keycard_rc r;

        switch (q->kind) {
        case KCI_P_U8:
            r = keycard_param_int(out, cap, &n, (uint32_t)q->value, 1);
            break;
        case KCI_P_KEY:
            r = keycard_param_key(out, cap, &n, (uint8_t)q->value);
            break;
        case KCI_P_U16:
            r = keycard_param_int(out, cap, &n, (uint32_t)q->value, 2);
            break;
        case KCI_P_U32:
            r = keycard_param_int(out, cap, &n, (uint32_t)q->value, 4);
            break;
        case KCI_P_HEX:
            r = q->len > cap - n ? KEYCARD_ERR_BUFFER : KEYCARD_OK;
            if (r == KEYCARD_OK) {
                memcpy(out + n, q->bytes, q->len);
                n += q->len;
            }
            break;
        case KCI_P_TEXT:
        case KCI_P_BYTES_HEX:
            r = keycard_param_bytes(out, cap, &n, q->bytes, q->len);
            break;
        case KCI_P_CSV: {
            int col = kci_csv_col(c, q->column);
            const char *v;
            if (c == NULL || row < 0 || (size_t)row >= c->n_rows || col < 0) {
                snprintf(err, errcap, "parameter %zu: no record with column \"%s\"", k + 1,
                         q->column);
                return -1;
            }
            v = c->rows[row][col];
            if (strlen(v) > 255) {
                snprintf(err, errcap, "parameter %zu: column \"%s\" is longer than 255 bytes",
                         k + 1, q->column);
                return -1;
            }
            r = keycard_param_bytes(out, cap, &n, v, strlen(v));
            break;
        }
        default:
            r = KEYCARD_ERR_ARG;
            break;
        }
        if (r == KEYCARD_ERR_BUFFER) {
            snprintf(err, errcap, "parameters longer than %zu bytes", cap);
            return -1;
        }
        if (r != KEYCARD_OK) {
            snprintf(err, errcap, "parameter %zu: not of its kind's form", k + 1);
            return -1;
        }
    }
    return (long)n;
}
