/*
 * fuzz_input.h - reading a libFuzzer input as a sequence of records, shared
 * by the fuzz targets in tests/fuzz/ (test code, never linked into products).
 *
 * A record is a 2-byte big-endian length and that many bytes; a length past
 * the end of the input is cut to what is left, so every input is a valid
 * sequence and the fuzzer never wastes runs on a framing it cannot hit.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz_in {
    const uint8_t *p;
    size_t left;
} fz_in;

/* One byte, or 0 when the input is used up (*ok set to 0). */
static inline uint8_t fz_byte(fz_in *in, int *ok)
{
    if (in->left == 0) {
        *ok = 0;
        return 0;
    }
    in->left--;
    return *in->p++;
}

/*
 * The next record: *rec points into the input, *len its length (possibly 0).
 * Returns 0 when no record is left (fewer than 2 bytes).
 */
static inline int fz_record(fz_in *in, const uint8_t **rec, size_t *len)
{
    if (in->left < 2)
        return 0;
    size_t n = (size_t)in->p[0] << 8 | in->p[1];
    in->p += 2;
    in->left -= 2;
    if (n > in->left)
        n = in->left;
    *rec = in->p;
    *len = n;
    in->p += n;
    in->left -= n;
    return 1;
}

#endif /* FUZZ_INPUT_H */
