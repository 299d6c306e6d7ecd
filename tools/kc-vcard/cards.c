/*
 * cards.c - the table of card firmwares kc-vcard can run.
 *
 * Adding a card is one line here (and its firmware in the link).
 */
#include "cards.h"

#include <stddef.h>
#include <string.h>

const kc_vcard_entry kc_vcard_cards[] = {
    {"keycard", &kc_keycard_card},
    {"target", &kc_target_card},
    {NULL, NULL},
};

const kc_vcard_entry *kc_vcard_find(const char *name)
{
    const kc_vcard_entry *e;

    if (name == NULL)
        return NULL;
    for (e = kc_vcard_cards; e->name != NULL; e++)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}
