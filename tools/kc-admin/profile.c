/*
 * profile.c - read and check a provisioning profile (docs/profile.md).
 *
 * All checks run before a card is touched, and all problems are reported
 * (not just the first), each with its JSON path, so one edit fixes them.
 */
#include <stdio.h>
#include <string.h>

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
                                         "holder_pin", "admin_key", "issuer_key", NULL};
    kct_json_only(&e, "$", root, fields);
    const char *tag = kct_json_str(&e, "$", root, "profile", 1, NULL);
    if (tag && strcmp(tag, PROFILE_TAG) != 0)
        kct_jerr(&e, "$.profile", "must be \"%s\" (is \"%s\")", PROFILE_TAG, tag);
    p->demo = kct_json_bool(&e, "$", root, "demo", 0);
    check_holder(&e, root, p);
    check_issuer_key(&e, root, dir, p);

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
    kct_wipe(p, sizeof *p);
}
