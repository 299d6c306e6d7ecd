/*
 * probe.c - compiled only by tests/chip/build.sh for the chip: the size of
 * each card's context (the RAM its host or card OS gives it) as the size of
 * an object, which the build reads back with nm.
 */
#include "kc_keycard.h"
#include "tc_card.h"

char kc_chip_keycard_ctx[sizeof(kc_keycard)];
char kc_chip_target_ctx[sizeof(tc_card)];
