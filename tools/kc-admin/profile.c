/*
 * profile.c - read and check a provisioning profile (docs/profile.md).
 *
 * All checks run before a card is touched, and all problems are reported
 * (not just the first), each with its JSON path, so one edit fixes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycard_proto.h"
#include "profile.h"

#define PROFILE_TAG "keycard/1"
#define KEY_FILE_MAX (64 * 1024)

static int printable_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return 0;
    return 1;
}

static void check_holder(kct_errs *e, json_t *root, kca_profile *p)
{
    json_t *h = kct_json_obj(e, "$", root, "holder", 1);
    if (!h)
        return;
    static const char *const fields[] = {"name", "number", NULL};
    kct_json_only(e, "$.holder", h, fields);
    size_t n;
    /* jansson has already rejected text that is not UTF-8. */
    const char *name = kct_json_str(e, "$.holder", h, "name", 1, &n);
    if (name) {
        if (n < 1 || n > KC_HOLDER_NAME_MAX)
            kct_jerr(e, "$.holder.name", "must be 1 to %d bytes of UTF-8 (is %zu)",
                     KC_HOLDER_NAME_MAX, n);
        else {
            memcpy(p->name, name, n);
            p->name[n] = '\0';
            p->name_len = n;
        }
    }
    const char *num = kct_json_str(e, "$.holder", h, "number", 1, &n);
    if (num) {
        if (n < 1 || n > KC_HOLDER_NUMBER_MAX || !printable_ascii(num, n))
            kct_jerr(e, "$.holder.number", "must be 1 to %d printable ASCII characters",
                     KC_HOLDER_NUMBER_MAX);
        else {
            memcpy(p->number, num, n);
            p->number[n] = '\0';
            p->number_len = n;
        }
    }
}

/* The key must parse as a P-256 private key: sign a dummy identity with it. */
static void check_issuer_key(kct_errs *e, json_t *root, const char *dir, kca_profile *p)
{
    json_t *k = kct_json_obj(e, "$", root, "issuer_key", 1);
    if (!k)
        return;
    static const char *const fields[] = {"file", NULL};
    kct_json_only(e, "$.issuer_key", k, fields);
    const char *f = kct_json_str(e, "$.issuer_key", k, "file", 1, NULL);
    if (!f)
        return;
    char full[4096], err[512];
    if (kct_path_join(dir, f, full, sizeof full) != 0) {
        kct_jerr(e, "$.issuer_key.file", "path too long");
        return;
    }
    if (kct_file_read(full, KEY_FILE_MAX, &p->issuer_key, &p->issuer_key_len, err,
                      sizeof err) != 0) {
        kct_jerr(e, "$.issuer_key.file", "%s", err);
        return;
    }
    keycard_identity dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.device_pub[0] = 0x04;
    keycard_rc rc = keycard_identity_sign(&dummy, p->issuer_key,
                                          kct_key_len(p->issuer_key, p->issuer_key_len));
    if (rc != KEYCARD_OK) {
        kct_jerr(e, "$.issuer_key.file", "%s is not a usable P-256 private key: %s", full,
                 keycard_strerror(rc));
        kct_file_free(p->issuer_key, p->issuer_key_len);
        p->issuer_key = NULL;
        p->issuer_key_len = 0;
    }
}

/* ---- numbered keys ------------------------------------------------------- */

/* Key with this number among the first n, or NULL. */
static const kca_key *find_key(const kca_key *keys, size_t n, unsigned number)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].number == number)
            return &keys[i];
    return NULL;
}

const kca_key *kca_profile_key(const kca_profile *p, unsigned number)
{
    return find_key(p->keys, p->n_keys, number);
}

size_t kca_key_encode(const kca_key *k, uint8_t out[3 + KEYCARD_LABEL_MAX + 32])
{
    size_t o = 0;
    out[o++] = k->type;
    out[o++] = k->flags;
    out[o++] = (uint8_t)k->label_len;
    memcpy(out + o, k->label, k->label_len);
    o += k->label_len;
    memcpy(out + o, k->value, k->len);
    return o + k->len;
}

/* "label": optional, 0..32 printable ASCII. */
static void take_label(kct_errs *e, const char *path, json_t *o, char *out, size_t *len)
{
    size_t n = 0;
    const char *l = kct_json_str(e, path, o, "label", 0, &n);
    *len = 0;
    out[0] = '\0';
    if (!l)
        return;
    if (n > KEYCARD_LABEL_MAX || !printable_ascii(l, n)) {
        char p[300];
        snprintf(p, sizeof p, "%s.label", path);
        kct_jerr(e, p, "must be 0 to %d printable ASCII characters", KEYCARD_LABEL_MAX);
        return;
    }
    memcpy(out, l, n);
    out[n] = '\0';
    *len = n;
}

/*
 * Everything of the keys but their values (secrets come last, so a prompt is
 * only asked once the rest is right).
 */
static void check_keys(kct_errs *e, json_t *root, kca_profile *p)
{
    json_t *arr = json_object_get(root, "keys");
    if (!arr)
        return;
    if (!json_is_array(arr)) {
        kct_jerr(e, "$.keys", "must be an array");
        return;
    }
    if (json_array_size(arr) > KCA_NUMBERED_MAX) {
        kct_jerr(e, "$.keys", "at most %d keys", KCA_NUMBERED_MAX);
        return;
    }
    p->keys = calloc(json_array_size(arr) + 1, sizeof *p->keys);
    if (!p->keys) {
        kct_jerr(e, "$.keys", "out of memory");
        return;
    }
    static const char *const fields[] = {"number", "type",   "label",    "value", "common",
                                         "usage",  "static", "generate", "import", NULL};
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char path[64], sub[96];
        snprintf(path, sizeof path, "$.keys[%zu]", i);
        if (!json_is_object(o)) {
            kct_jerr(e, path, "must be an object");
            p->n_keys++; /* keeps p->keys[i] beside $.keys[i] */
            continue;
        }
        kct_json_only(e, path, o, fields);
        kca_key *k = &p->keys[p->n_keys];
        long num = kct_json_int(e, path, o, "number", 1, 1, KCA_NUMBERED_MAX, 0);
        const char *type = kct_json_str(e, path, o, "type", 1, NULL);
        if (type && strcmp(type, "aes128") == 0) {
            k->type = KEYCARD_KEY_AES128;
            k->len = 16;
        } else if (type && strcmp(type, "aes256") == 0) {
            k->type = KEYCARD_KEY_AES256;
            k->len = 32;
        } else if (type) {
            snprintf(sub, sizeof sub, "%s.type", path);
            kct_jerr(e, sub, "must be \"aes128\" or \"aes256\" (is \"%s\")", type);
        }
        take_label(e, path, o, k->label, &k->label_len);
        int common = kct_json_bool(e, path, o, "common", 0);
        int stat = kct_json_bool(e, path, o, "static", 0);
        uint8_t flags = 0;
        json_t *usage = json_object_get(o, "usage");
        snprintf(sub, sizeof sub, "%s.usage", path);
        if (!usage) {
            kct_jerr(e, sub, "missing: give [\"envelope\"], [\"inject\"] or both");
        } else if (!json_is_array(usage) || json_array_size(usage) == 0) {
            kct_jerr(e, sub, "must be a non-empty array of \"envelope\" and \"inject\"");
        } else {
            size_t j;
            json_t *u;
            json_array_foreach(usage, j, u)
            {
                const char *us = json_string_value(u);
                char up[128];
                snprintf(up, sizeof up, "%s[%zu]", sub, j);
                if (us && strcmp(us, "envelope") == 0)
                    flags |= KEYCARD_KEYF_ENVELOPE;
                else if (us && strcmp(us, "inject") == 0)
                    flags |= KEYCARD_KEYF_INJECT;
                else
                    kct_jerr(e, up, "must be \"envelope\" or \"inject\"");
            }
        }
        if (common == 1)
            flags |= KEYCARD_KEYF_COMMON;
        if (stat == 1) {
            flags |= KEYCARD_KEYF_STATIC;
            if (usage && !(flags & KEYCARD_KEYF_ENVELOPE)) {
                snprintf(sub, sizeof sub, "%s.static", path);
                kct_jerr(e, sub, "only an \"envelope\" key can be used without a chain");
            }
        }
        if (num > 0) {
            if (find_key(p->keys, p->n_keys, (unsigned)num)) {
                snprintf(sub, sizeof sub, "%s.number", path);
                kct_jerr(e, sub, "key %ld is defined twice", num);
            }
            k->number = (uint8_t)num;
        }
        k->flags = flags;
        k->generate = kct_json_bool(e, path, o, "generate", 0) == 1;
        k->import = kct_json_bool(e, path, o, "import", 0) == 1;
        if (k->generate && k->import) {
            snprintf(sub, sizeof sub, "%s.import", path);
            kct_jerr(e, sub, "a key is made on the card (\"generate\") or arrives there "
                             "(\"import\"), not both");
        }
        if (common == 1)
            kct_err("warning: %s: %s: key %ld is \"common\": the same key in every target "
                    "card (patent way 1); one broken card reveals it for all. Prefer a "
                    "diversified key",
                    e->file, path, num);
        p->n_keys++;
    }
}

/* The key values, once everything else is known right. */
static void check_key_values(kct_errs *e, json_t *root, const char *dir, kca_profile *p)
{
    json_t *arr = json_object_get(root, "keys");
    if (!p->keys || !json_is_array(arr))
        return;
    for (size_t i = 0; i < p->n_keys && i < json_array_size(arr); i++) {
        char path[64], what[96];
        snprintf(path, sizeof path, "$.keys[%zu]", i);
        kca_key *k = &p->keys[i];
        json_t *o = json_array_get(arr, i);
        char sub[96];
        if (!json_is_object(o))
            continue;
        snprintf(sub, sizeof sub, "%s.value", path);
        if (k->generate || k->import) {
            if (json_object_get(o, "value"))
                kct_jerr(e, sub, "give a value, or \"%s\": true, not both",
                         k->generate ? "generate" : "import");
            continue;
        }
        if (!p->demo) {
            /* The premise: no master key in plaintext outside a key card. */
            kct_jerr(e, json_object_get(o, "value") ? sub : path,
                     "a production profile (without \"demo\": true) carries no key value: "
                     "have the key card make the key (\"generate\": true) or let it arrive "
                     "wrapped, from components or from a backup (\"import\": true)");
            continue;
        }
        snprintf(what, sizeof what, "Key %u (%s, hex)", k->number, k->label);
        kct_secret v;
        if (kct_json_secret(e, path, json_array_get(arr, i), "value", "hex", 0, dir, what, 1,
                            kct_check_admin_key, &v, NULL) == 0) {
            int n = kct_admin_key_parse(v.text, k->value);
            if (k->len && n != (int)k->len) {
                kct_jerr(e, sub, "a %s key is %zu bytes (%zu hex digits), not %d bytes",
                         k->len == 16 ? "aes128" : "aes256", k->len, 2 * k->len, n);
            }
        }
        kct_secret_wipe(&v);
    }
}

/* ---- templates ------------------------------------------------------------- */

/* One byte given as two hex digits ("80"). Returns 0..255 or -1. */
static int hex_byte(kct_errs *e, const char *path, json_t *o, const char *key)
{
    const char *s = kct_json_str(e, path, o, key, 1, NULL);
    if (!s)
        return -1;
    uint8_t b[2];
    if (strlen(s) != 2 || kct_hex_parse(s, b, sizeof b) != 1) {
        char p[200];
        snprintf(p, sizeof p, "%s.%s", path, key);
        kct_jerr(e, p, "must be one byte as two hex digits (is \"%s\")", s);
        return -1;
    }
    return b[0];
}

/* Builder of a template's binary form; overflow is reported once at the end. */
typedef struct tbuf {
    uint8_t *b;
    size_t n;
    int over;
} tbuf;

static void put(tbuf *t, const void *p, size_t n)
{
    if (t->over || n > KCA_TEMPLATE_MAX - t->n) {
        t->over = 1;
        return;
    }
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void put8(tbuf *t, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(t, &b, 1);
}

static void put16(tbuf *t, unsigned v)
{
    put8(t, v >> 8);
    put8(t, v);
}

static void put32(tbuf *t, unsigned long v)
{
    put16(t, (unsigned)(v >> 16) & 0xFFFF);
    put16(t, (unsigned)v & 0xFFFF);
}

/* One item of "data". Returns 1 when it is a key slot. */
static int template_item(kct_errs *e, const char *path, json_t *it, tbuf *t)
{
    char sub[200];
    if (!json_is_object(it) || json_object_size(it) != 1) {
        kct_jerr(e, path, "must be an object with exactly one of \"fixed\", \"int\", \"bytes\", "
                          "\"key\"");
        return 0;
    }
    json_t *v;
    if ((v = json_object_get(it, "fixed"))) {
        snprintf(sub, sizeof sub, "%s.fixed", path);
        uint8_t b[255];
        const char *s = json_string_value(v);
        int n = s ? kct_hex_parse(s, b, sizeof b) : -1;
        if (n < 1) {
            kct_jerr(e, sub, "must be 1 to 255 bytes in hex");
            return 0;
        }
        put8(t, KC_TPL_ITEM_FIXED);
        put8(t, (unsigned)n);
        put(t, b, (size_t)n);
        return 0;
    }
    if ((v = json_object_get(it, "int"))) {
        snprintf(sub, sizeof sub, "%s.int", path);
        if (!json_is_object(v)) {
            kct_jerr(e, sub, "must be an object {\"size\", \"min\", \"max\"}");
            return 0;
        }
        static const char *const f[] = {"size", "min", "max", NULL};
        kct_json_only(e, sub, v, f);
        long size = kct_json_int(e, sub, v, "size", 1, 1, 4, 0);
        if (size == 3) {
            char sp[220];
            snprintf(sp, sizeof sp, "%s.size", sub);
            kct_jerr(e, sp, "must be 1, 2 or 4");
            return 0;
        }
        if (size < 1)
            return 0;
        long top = size == 4 ? 0xFFFFFFFFL : (1L << (8 * size)) - 1;
        long mn = kct_json_int(e, sub, v, "min", 0, 0, top, 0);
        long mx = kct_json_int(e, sub, v, "max", 0, 0, top, top);
        if (mn < 0 || mx < 0)
            return 0;
        if (mn > mx) {
            kct_jerr(e, sub, "min (%ld) is above max (%ld)", mn, mx);
            return 0;
        }
        put8(t, KC_TPL_ITEM_INT);
        put8(t, (unsigned)size);
        put32(t, (unsigned long)mn);
        put32(t, (unsigned long)mx);
        return 0;
    }
    if ((v = json_object_get(it, "bytes"))) {
        snprintf(sub, sizeof sub, "%s.bytes", path);
        if (!json_is_object(v)) {
            kct_jerr(e, sub, "must be an object {\"min\", \"max\", \"prefix\"}");
            return 0;
        }
        static const char *const f[] = {"min", "max", "prefix", NULL};
        kct_json_only(e, sub, v, f);
        long mn = kct_json_int(e, sub, v, "min", 0, 0, 255, 0);
        long mx = kct_json_int(e, sub, v, "max", 1, 1, 255, 0);
        int prefix = kct_json_bool(e, sub, v, "prefix", 0);
        if (mn < 0 || mx < 0 || prefix < 0)
            return 0;
        if (mn > mx) {
            kct_jerr(e, sub, "min (%ld) is above max (%ld)", mn, mx);
            return 0;
        }
        put8(t, KC_TPL_ITEM_BYTES);
        put16(t, (unsigned)mn);
        put16(t, (unsigned)mx);
        put8(t, (unsigned)prefix);
        return 0;
    }
    if ((v = json_object_get(it, "key"))) {
        snprintf(sub, sizeof sub, "%s.key", path);
        if (!json_is_object(v)) {
            kct_jerr(e, sub, "must be an object ({} or {\"form\": \"diversified\"})");
            return 0;
        }
        static const char *const f[] = {"form", NULL};
        kct_json_only(e, sub, v, f);
        const char *form = kct_json_str(e, sub, v, "form", 0, NULL);
        if (form && strcmp(form, "diversified") != 0) {
            char sp[220];
            snprintf(sp, sizeof sp, "%s.form", sub);
            kct_jerr(e, sp, "must be \"diversified\" (the only form)");
            return 0;
        }
        put8(t, KC_TPL_ITEM_KEY);
        put8(t, KC_TPL_KEY_FORM_DIVERSIFIED);
        return 1;
    }
    const char *only = "?";
    json_object_foreach(it, only, v) break;
    snprintf(sub, sizeof sub, "%s.%s", path, only);
    kct_jerr(e, sub, "unknown item kind; use \"fixed\", \"int\", \"bytes\" or \"key\"");
    return 0;
}

/*
 * A COMPLETE ISSUANCE template (80 1E): only "fixed" items, at most
 * KC_ISSUE_LOCK_DATA_MAX bytes, so the issuing PC cannot choose the lock.
 */
static void lock_items_check(kct_errs *e, const char *path, json_t *data)
{
    size_t j, total = 0;
    json_t *it;
    json_array_foreach(data, j, it)
    {
        json_t *f = json_is_object(it) ? json_object_get(it, "fixed") : NULL;
        if (!f || !json_is_string(f)) {
            char ip[128];
            snprintf(ip, sizeof ip, "%s[%zu]", path, j);
            kct_jerr(e, ip, "a lock template (INS 1E) takes only \"fixed\" items: the lock way "
                            "and its table are the issuer's, not a parameter");
            return;
        }
        total += strlen(json_string_value(f)) / 2;
    }
    if (total > KC_ISSUE_LOCK_DATA_MAX)
        kct_jerr(e, path, "a lock template (INS 1E) carries at most %d data bytes",
                 KC_ISSUE_LOCK_DATA_MAX);
}

static void check_templates(kct_errs *e, json_t *root, kca_profile *p)
{
    json_t *arr = json_object_get(root, "templates");
    if (!arr)
        return;
    if (!json_is_array(arr)) {
        kct_jerr(e, "$.templates", "must be an array");
        return;
    }
    if (json_array_size(arr) > KCA_NUMBERED_MAX) {
        kct_jerr(e, "$.templates", "at most %d templates", KCA_NUMBERED_MAX);
        return;
    }
    p->templates = calloc(json_array_size(arr) + 1, sizeof *p->templates);
    if (!p->templates) {
        kct_jerr(e, "$.templates", "out of memory");
        return;
    }
    static const char *const fields[] = {"number", "label", "cla", "ins", "p1",
                                         "p2",     "keys",  "data", NULL};
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char path[64], sub[96];
        snprintf(path, sizeof path, "$.templates[%zu]", i);
        if (!json_is_object(o)) {
            kct_jerr(e, path, "must be an object");
            continue;
        }
        int before = e->count;
        kct_json_only(e, path, o, fields);
        kca_template *tp = &p->templates[p->n_templates];
        tbuf t = {tp->bin, 0, 0};
        long num = kct_json_int(e, path, o, "number", 1, 1, KCA_NUMBERED_MAX, 0);
        if (num > 0) {
            for (size_t j = 0; j < p->n_templates; j++)
                if (p->templates[j].number == num) {
                    snprintf(sub, sizeof sub, "%s.number", path);
                    kct_jerr(e, sub, "template %ld is defined twice", num);
                }
            tp->number = (uint8_t)num;
        }
        char label[KEYCARD_LABEL_MAX + 1];
        size_t label_len;
        take_label(e, path, o, label, &label_len);
        int hdr[4] = {hex_byte(e, path, o, "cla"), hex_byte(e, path, o, "ins"),
                      hex_byte(e, path, o, "p1"), hex_byte(e, path, o, "p2")};
        put8(&t, 0x01); /* version */
        for (int h = 0; h < 4; h++)
            put8(&t, hdr[h] < 0 ? 0 : (unsigned)hdr[h]);
        /* Allowed keys: each must be a key of this profile that may be injected. */
        json_t *keys = json_object_get(o, "keys");
        uint8_t allowed[KCA_NUMBERED_MAX];
        size_t na = 0;
        snprintf(sub, sizeof sub, "%s.keys", path);
        if (keys && !json_is_array(keys)) {
            kct_jerr(e, sub, "must be an array of key numbers");
        } else if (keys) {
            size_t j;
            json_t *kv;
            json_array_foreach(keys, j, kv)
            {
                char kp[128];
                snprintf(kp, sizeof kp, "%s[%zu]", sub, j);
                json_int_t kn = json_is_integer(kv) ? json_integer_value(kv) : -1;
                const kca_key *k = kn >= 1 && kn <= KCA_NUMBERED_MAX
                                       ? find_key(p->keys, p->n_keys, (unsigned)kn)
                                       : NULL;
                if (kn < 1 || kn > KCA_NUMBERED_MAX)
                    kct_jerr(e, kp, "must be a key number 1 to %d", KCA_NUMBERED_MAX);
                else if (!k)
                    kct_jerr(e, kp, "key %ld is not in \"keys\"", (long)kn);
                else if (!(k->flags & KEYCARD_KEYF_INJECT))
                    kct_jerr(e, kp, "key %ld has no \"inject\" usage", (long)kn);
                else if (na < sizeof allowed)
                    allowed[na++] = (uint8_t)kn;
            }
        }
        put8(&t, (unsigned)na);
        put(&t, allowed, na);
        put8(&t, (unsigned)label_len);
        put(&t, label, label_len);
        json_t *data = json_object_get(o, "data");
        snprintf(sub, sizeof sub, "%s.data", path);
        size_t nitems = 0, kslots = 0;
        size_t count_at = t.n;
        put8(&t, 0);
        if (data && !json_is_array(data)) {
            kct_jerr(e, sub, "must be an array of items");
        } else if (data) {
            nitems = json_array_size(data);
            if (nitems > 255)
                kct_jerr(e, sub, "at most 255 items");
            size_t j;
            json_t *it;
            json_array_foreach(data, j, it)
            {
                char ip[128];
                snprintf(ip, sizeof ip, "%s[%zu]", sub, j);
                kslots += (size_t)template_item(e, ip, it, &t);
            }
        }
        if (!t.over && count_at < KCA_TEMPLATE_MAX)
            tp->bin[count_at] = (uint8_t)nitems;
        if (na && !kslots) {
            snprintf(sub, sizeof sub, "%s.keys", path);
            kct_jerr(e, sub, "only a template with a \"key\" item takes allowed keys");
        }
        /* The lock is fixed at provisioning (the key card refuses it otherwise). */
        if (hdr[0] == KC_CLA_PROP && hdr[1] == KC_TGT_INS_COMPLETE && data)
            lock_items_check(e, sub, data);
        if (t.over)
            kct_jerr(e, path, "the template is longer than %d bytes in binary form",
                     KCA_TEMPLATE_MAX);
        tp->len = t.n;
        if (e->count == before)
            p->n_templates++;
    }
}

int kca_profile_load(const char *file, kca_profile *p)
{
    memset(p, 0, sizeof *p);
    kct_errs e = {file, 0};
    char dir[4096];
    if (kct_dirname(file, dir, sizeof dir) != 0) {
        kct_jerr(&e, "$", "path too long");
        return -1;
    }
    json_t *root = kct_json_load(file, &e);
    if (!root)
        return -1;

    static const char *const fields[] = {"profile", "demo", "holder", "issuer_pin",
                                         "holder_pin", "admin_key", "issuer_key", "keys",
                                         "templates", "secure_channel", NULL};
    kct_json_only(&e, "$", root, fields);
    const char *tag = kct_json_str(&e, "$", root, "profile", 1, NULL);
    if (tag && strcmp(tag, PROFILE_TAG) != 0)
        kct_jerr(&e, "$.profile", "must be \"%s\" (is \"%s\")", PROFILE_TAG, tag);
    p->demo = kct_json_bool(&e, "$", root, "demo", 0);
    /* Required unless the profile says otherwise: PINs then never cross the line in clear. */
    const char *sc = kct_json_str(&e, "$", root, "secure_channel", 0, NULL);
    p->channel_required = 1;
    if (sc && strcmp(sc, "optional") == 0)
        p->channel_required = 0;
    else if (sc && strcmp(sc, "required") != 0)
        kct_jerr(&e, "$.secure_channel", "must be \"required\" or \"optional\"");
    check_holder(&e, root, p);
    check_issuer_key(&e, root, dir, p);
    check_keys(&e, root, p);
    check_templates(&e, root, p);

    /* Secrets last: a "prompt" is only asked once everything else is right. */
    kct_json_secret(&e, "$", root, "issuer_pin", "value", 1, dir, "New issuer PIN", 1,
                    kct_check_pin, &p->issuer_pin, &p->issuer_tries);
    kct_json_secret(&e, "$", root, "holder_pin", "value", 1, dir, "New holder PIN", 1,
                    kct_check_pin, &p->holder_pin, &p->holder_tries);
    kct_secret key;
    if (kct_json_secret(&e, "$", root, "admin_key", "hex", 1, dir, "New admin key (hex)", 1,
                        kct_check_admin_key, &key, &p->admin_tries) == 0) {
        int n = kct_admin_key_parse(key.text, p->admin_key);
        p->admin_key_len = n > 0 ? (size_t)n : 0;
    }
    kct_secret_wipe(&key);
    check_key_values(&e, root, dir, p);

    kct_json_wipe(root);
    json_decref(root);
    if (e.count) {
        kca_profile_free(p);
        return -1;
    }
    return 0;
}

void kca_profile_free(kca_profile *p)
{
    if (p->issuer_key)
        kct_file_free(p->issuer_key, p->issuer_key_len);
    if (p->keys) {
        kct_wipe(p->keys, p->n_keys * sizeof *p->keys);
        free(p->keys);
    }
    free(p->templates);
    kct_wipe(p, sizeof *p);
}
