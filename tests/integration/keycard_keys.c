/*
 * keycard_keys.c - test helper: the numbered keys a key card image holds,
 * read straight from its flash (as an attacker with the chip's memory would,
 * not through the card), one line per key: "NUMBER KEYHEX". The ceremony
 * test (27-key-ceremony.sh) greps the APDU log and every file the PCs wrote
 * for these values. Exit 0 when every image was read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hw/kc_hw_file.h"
#include "kc_card.h"
#include "kc_issue.h"
#include "kc_store.h"

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        kc_hw_file *hf = calloc(1, sizeof *hf);
        kc_store *st = calloc(1, sizeof *st);
        kc_hw hw;
        if (!hf || !st ||
            kc_hw_file_open(hf, argv[i], kc_keycard_card.flash_size, kc_keycard_card.page_size,
                            &hw) != 0 ||
            kc_store_mount(st, &hw.flash) != 0) {
            fprintf(stderr, "keycard_keys: %s: %s\n", argv[i], hf ? hf->err : "out of memory");
            bad = 1;
        } else {
            for (unsigned n = 1; n <= 254; n++) {
                kc_issue_key k;
                if (kc_issue_key_load(st, n, &k) != 0)
                    continue;
                printf("%u ", n);
                for (size_t b = 0; b < k.key_len; b++)
                    printf("%02x", k.key[b]);
                printf("\n");
            }
            kc_hw_file_close(hf);
        }
        free(hf);
        free(st);
    }
    return bad;
}
