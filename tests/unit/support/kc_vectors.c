/*
 * kc_vectors.c - the vectors of tests/vectors/ for the unit tests (see kc_vectors.h).
 */
#include "kc_vectors.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *kc_vectors_load(const char *name)
{
    const char *dir = getenv("KC_VECTORS_DIR");
    char path[512];
    json_error_t err;
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/vectors", name);
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "cannot load %s: %s (line %d)", path, err.text, err.line);
    return j;
}

size_t kc_vectors_hexs(const char *hex, uint8_t *out, size_t cap)
{
    ck_assert_ptr_nonnull(hex);
    size_t n = strlen(hex);
    ck_assert_msg(n % 2 == 0 && n / 2 <= cap, "bad hex string of %zu digits", n);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

size_t kc_vectors_hex(json_t *obj, const char *key, uint8_t *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(obj, key));
    ck_assert_msg(s != NULL, "missing hex field '%s'", key);
    return kc_vectors_hexs(s, out, cap);
}
