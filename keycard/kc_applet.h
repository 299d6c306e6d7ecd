/*
 * kc_applet.h - the key card application: the command table, the
 * dispatcher that checks every command before its handler runs (in the order
 * docs/apdu.md gives), the handlers, and the one place where service errors
 * become status words.
 */
#ifndef KC_APPLET_H
#define KC_APPLET_H

#include <stddef.h>
#include <stdint.h>

#include "kc_state.h"

/*
 * Process one command APDU (raw bytes) for kc: response data then SW1 SW2
 * into resp (cap >= 2; data is limited to cap - 2 bytes). Returns the
 * response length (>= 2, or 0 when cap < 2).
 */
size_t kc_applet_process(kc_keycard *kc, const uint8_t *cmd, size_t len, uint8_t *resp,
                         size_t cap);

/* Status word for a negative KC_ERR_* (or a kc_cred error); 9000 for 0. */
uint16_t kc_err_to_sw(int err);

#endif /* KC_APPLET_H */
