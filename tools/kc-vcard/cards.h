/*
 * cards.h - the card firmwares kc-vcard can run, by name.
 */
#ifndef KC_VCARD_CARDS_H
#define KC_VCARD_CARDS_H

#include "kc_card.h"

typedef struct kc_vcard_entry {
    const char *name;         /* what --card takes */
    const kc_card_ops *ops;   /* the firmware's card face */
} kc_vcard_entry;

/* The known cards, ending with an entry whose name is NULL. */
extern const kc_vcard_entry kc_vcard_cards[];

/* Find a card by name. Returns the entry, or NULL for a name nobody knows. */
const kc_vcard_entry *kc_vcard_find(const char *name);

#endif /* KC_VCARD_CARDS_H */
