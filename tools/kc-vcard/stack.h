/*
 * stack.h - the stacker of kc-vcard (--stack DIR): a directory of blank card
 * images served one after another, and the reader's own commands (class FF).
 *
 * The patent's figure 29: a stacker feeds blank cards into the reader's slot
 * and takes issued ones out. Here a card is a flash image DIR/NAME.card; the
 * images are served in name order (strcmp), an ejected one moves to
 * DIR/issued/NAME.card. No sockets here, so unit tests drive it on a
 * temporary directory.
 */
#ifndef KC_VCARD_STACK_H
#define KC_VCARD_STACK_H

#include <stddef.h>
#include <stdint.h>

/* File name ending of a card image in a stack directory. */
#define KC_STACK_SUFFIX ".card"
/* Sub-directories (trays) where ejected cards go: issued ones, and spoiled ones set aside. */
#define KC_STACK_ISSUED "issued"
#define KC_STACK_SPOILED "spoiled"

/* Reader pseudo-APDUs: class FF is addressed to the reader, never to the card. */
#define KC_READER_CLA 0xFF
#define KC_READER_INS_EJECT 0xEE
#define KC_READER_INS_COUNT 0xEC

/* 1 when name is a card image name: "X.card", X not empty, not starting with '.'. */
int kc_stack_is_image(const char *name);

/*
 * The first card image of dir in name order, into name (cap bytes).
 * Returns 1 when found, 0 when the stack is empty, -1 when dir cannot be read
 * or a name does not fit (errno tells).
 */
int kc_stack_next(const char *dir, char *name, size_t cap);

/* Number of card images in dir, or -1 when dir cannot be read. */
int kc_stack_count(const char *dir);

/*
 * Move dir/name to dir/TRAY/name (creating it; tray KC_STACK_ISSUED or
 * KC_STACK_SPOILED). An image of that name already there is kept: the new
 * one becomes name.1, name.2, ... Returns 0, or -1 (errno tells).
 */
int kc_stack_retire(const char *dir, const char *name, const char *tray);

/*
 * Set an image that cannot be served aside: dir/name becomes dir/name.bad,
 * so the stack moves on. Returns 0 or -1 (errno tells).
 */
int kc_stack_reject(const char *dir, const char *name);

/*
 * What a reader command (an APDU of class FF) asks for.
 *   KC_READER_NOT_MINE  not class FF: the card's business
 *   KC_READER_EJECT     FF EE 00 00 [Le]: eject the card to the issued tray
 *   KC_READER_EJECT_SPOILED  FF EE 01 00 [Le]: eject it to the spoiled tray
 *   KC_READER_COUNT     FF EC 00 00 [Le]: how many blank cards the stack holds
 *                       (the one in the slot included)
 *   otherwise the status word the reader answers (6D00 unknown INS, 6A86 bad
 *   P1/P2, 6700 bad length).
 */
#define KC_READER_NOT_MINE 0
#define KC_READER_EJECT 1
#define KC_READER_COUNT 2
#define KC_READER_EJECT_SPOILED 3
int kc_reader_command(const uint8_t *apdu, size_t len);

#endif /* KC_VCARD_STACK_H */
