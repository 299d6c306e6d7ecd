/*
 * store_dump.c - test helper: records of a card image read straight from its
 * flash, as an attacker holding the chip's memory would (not through the
 * card): "store_dump keycard|target FILE FROM TO" prints one line "KEY HEX"
 * (both in hex) per record whose store key is in FROM..TO. The ceremony test
 * (27-key-ceremony.sh) takes the key values a key card holds from it, to
 * search the APDU log and every file the PCs wrote for them, and compares
 * the keys targets received. Exit 0 when the image was read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/kc_hw_file.h"
#include "kc_card.h"
#include "kc_store.h"

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "keycard") != 0 && strcmp(argv[1], "target") != 0)) {
        fprintf(stderr, "usage: store_dump keycard|target FILE FROM TO\n");
        return 2;
    }
    const kc_card_ops *card =
        strcmp(argv[1], "keycard") == 0 ? &kc_keycard_card : &kc_target_card;
    unsigned long from = strtoul(argv[3], NULL, 16), to = strtoul(argv[4], NULL, 16);
    kc_hw_file *hf = calloc(1, sizeof *hf);
    kc_store *st = calloc(1, sizeof *st);
    kc_hw hw;
    if (!hf || !st || kc_hw_file_open(hf, argv[2], card->flash_size, card->page_size, &hw) != 0 ||
        kc_store_mount(st, &hw.flash) != 0) {
        fprintf(stderr, "store_dump: %s: %s\n", argv[2], hf ? hf->err : "out of memory");
        return 1;
    }
    for (unsigned long k = from; k <= to && k <= 0xFFEF; k++) {
        const uint8_t *d;
        size_t len;
        if (kc_store_get(st, (uint16_t)k, &d, &len) != 0)
            continue;
        printf("%04lx ", k);
        for (size_t i = 0; i < len; i++)
            printf("%02x", d[i]);
        printf("\n");
    }
    kc_hw_file_close(hf);
    free(hf);
    free(st);
    return 0;
}
