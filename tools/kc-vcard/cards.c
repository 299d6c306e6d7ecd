/*
 * cards.c - the table of card firmwares kc-vcard can run.
 *
 * Adding a card is one line here. A firmware that may not be linked into
 * kc-vcard yet is referenced weakly: its address is NULL until its object
 * joins the link, and kc-vcard then says "<name> card not built yet".
 */
#include "cards.h"

#include <stddef.h>
#include <string.h>

/* The target card (examples/targetcard/), when linked in. */
extern const kc_card_ops kc_target_card __attribute__((weak));

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
