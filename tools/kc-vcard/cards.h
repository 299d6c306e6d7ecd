/*
 * cards.h - the card firmwares kc-vcard can run, by name.
 */
#ifndef KC_VCARD_CARDS_H
#define KC_VCARD_CARDS_H

#include "kc_card.h"

typedef struct kc_vcard_entry {
    const char *name;         /* what --card takes */
    const kc_card_ops *ops;   /* NULL when this firmware is not linked in */
} kc_vcard_entry;

/* The known cards, ending with an entry whose name is NULL. */
extern const kc_vcard_entry kc_vcard_cards[];

/*
 * Find a card by name. Returns the entry (whose ops may be NULL: known but
 * not built), or NULL for a name nobody knows.
 */
const kc_vcard_entry *kc_vcard_find(const char *name);

#endif /* KC_VCARD_CARDS_H */
