/*
 * keycard_sim.h - libkeycard-sim: the key card and the target card firmware
 * run inside the calling process on flash image files, for tests, offline
 * tools and demonstrations without a reader.
 *
 * libkeycard.so holds no firmware. An application that wants "sim:FILE" in
 * keycard_open / keycard_target_open links this library as well and calls
 * keycard_sim_enable() once:
 *
 *     cc app.c $(pkg-config --cflags --libs keycard-sim)
 *
 *     keycard_sim_enable();
 *     keycard_open(&kc, "sim:keycard.img");          // created blank when missing
 *     keycard_target_open(&t, "sim:target.img");     // created virgin when missing
 *
 * The image holds the card's whole flash; the card state persists in it
 * exactly as on the chip. One process at a time may use an image.
 */
#ifndef KEYCARD_SIM_H
#define KEYCARD_SIM_H

#include "keycard.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Register the "sim" scheme with libkeycard (keycard_register_scheme).
 * Thread-safe; calling it again does nothing more. Errors: as
 * keycard_register_scheme.
 */
KEYCARD_API keycard_rc keycard_sim_enable(void);

/*
 * The opener itself, for an application that registers it under a scheme
 * of its own or wraps the link (a test line that injects faults): the key
 * card or the target card firmware (kind) on the flash image arg.
 * Errors: KEYCARD_ERR_ARG (empty arg), KEYCARD_ERR_MEMORY, KEYCARD_ERR_IO
 * (the file cannot be opened or has another card's size; detail says which),
 * KEYCARD_ERR_DAMAGED (the firmware cannot mount the image: damaged, not a
 * torn write).
 */
KEYCARD_API keycard_rc keycard_sim_link(const char *arg, keycard_link_kind kind,
                                        keycard_link *out, char *detail, size_t detail_cap);

#ifdef __cplusplus
}
#endif

#endif /* KEYCARD_SIM_H */
