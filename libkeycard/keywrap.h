/*
 * keywrap.h - the host's side of wrapped keys (docs/protocol.md 9a):
 * sealing a key to a key card's certified channel key, as an offline
 * preparer does. Opening happens only on a key card.
 */
#ifndef KCL_KEYWRAP_H
#define KCL_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"

/*
 * Seal key (key_len bytes, as hdr's type says) after the header of hdr_len
 * bytes already in blob, to pk_ka, with the ephemeral private key esk (32
 * bytes; NULL: a fresh one from the host's RNG). Appends ePK.W, T and C.
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_KEY_FORMAT (pk_ka not a point),
 * KEYCARD_ERR_CRYPTO.
 */
keycard_rc kcl_keywrap_seal(const uint8_t *esk, const uint8_t pk_ka[65], uint8_t *blob,
                            size_t hdr_len, const uint8_t *key, size_t key_len);

#endif /* KCL_KEYWRAP_H */
