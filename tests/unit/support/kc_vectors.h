/*
 * kc_vectors.h - unit-test helper: the known-answer vectors of tests/vectors/
 * (made by tests/vectors/gen_vectors.py), read with jansson. A missing file
 * or field fails the test that asked for it.
 */
#ifndef KC_VECTORS_H
#define KC_VECTORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* tests/vectors/NAME (or $KC_VECTORS_DIR/NAME), parsed; json_decref it. */
json_t *kc_vectors_load(const char *name);

/* The hex string member key of obj into out (at most cap bytes); returns its length. */
size_t kc_vectors_hex(json_t *obj, const char *key, uint8_t *out, size_t cap);

/* The same from a hex string itself. */
size_t kc_vectors_hexs(const char *hex, uint8_t *out, size_t cap);

#endif /* KC_VECTORS_H */
