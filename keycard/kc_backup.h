/*
 * kc_backup.h - n-of-m backup of the key set (docs/apdu.md "Backup and
 * restore", docs/protocol.md 9b): Shamir's secret sharing of the backup key
 * over GF(2^8) (polynomial x^8+x^4+x^3+x^2+1, the field libgfshare uses, so
 * its shares are interchangeable with the card's), and the backup blob of one
 * key under that key. Pure functions: the applet keeps the RAM state.
 */
#ifndef KC_BACKUP_H
#define KC_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "kc_keywrap.h"
#include "keycard_proto.h"

/* a * b in GF(2^8), in time independent of the values. */
uint8_t kc_gf_mul(uint8_t a, uint8_t b);

/*
 * Share x (1..255) of the 32-byte secret bk under threshold m (2..8): the
 * polynomial's coefficients 1..m-1 come from seed (KDF, "keycard/backup/poly",
 * context [k]_1). y receives 32 bytes. Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_backup_share(const uint8_t bk[32], const uint8_t seed[32], uint8_t m, uint8_t x,
                    uint8_t y[32]);

/*
 * The secret from n (2..8) shares with distinct, non-zero x (Lagrange at 0).
 * Returns 0 or KC_ERR_BAD_DATA (a repeated or zero x).
 */
int kc_backup_combine(const uint8_t *x, const uint8_t (*y)[32], size_t n, uint8_t secret[32]);

/*
 * Seal key (as the header's type) under bk after the header of hdr_len bytes
 * (format 02, "to" = the backup id) already in blob: T then C follow.
 * K || IV = KDF(bk, "keycard/backup", id || number, 352). Returns 0,
 * KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_backup_seal(const uint8_t bk[32], uint8_t *blob, size_t hdr_len, const uint8_t *key,
                   size_t key_len);

/*
 * Open a backup blob of len bytes: framing (v filled), tag, the key against
 * the header's KCV; key receives v->key_len bytes. Returns 0,
 * KC_ERR_BAD_DATA, KC_ERR_AUTH (key wiped), KC_ERR_CRYPTO.
 */
int kc_backup_open(const uint8_t bk[32], const uint8_t *blob, size_t len, uint8_t key[32],
                   kc_keywrap_view *v);

#endif /* KC_BACKUP_H */
