/*
 * kc_keywrap.h - wrapped keys (docs/protocol.md section 9a): a numbered key
 * encrypted to a key card's certified channel key PK.KA, with what the key
 * is (number, type, usage, version, check value, serials, label) bound as
 * associated data. The key card seals one for KEY EXPORT and opens one for
 * KEY IMPORT; nothing here touches the store.
 */
#ifndef KC_KEYWRAP_H
#define KC_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"
#include "keycard_proto.h"

/* A parsed blob: pointers into the caller's bytes. */
typedef struct kc_keywrap_view {
    uint8_t number, type, flags, version, label_len;
    const uint8_t *kcv, *from, *to, *label;
    const uint8_t *epk, *tag, *ct;
    size_t hdr_len, key_len;
} kc_keywrap_view;

/*
 * Check the framing of a blob of len bytes (magic, format, type, flags,
 * version, label, total length) and fill v. Nothing cryptographic. Returns 0
 * or KC_ERR_BAD_DATA.
 */
int kc_keywrap_parse(const uint8_t *b, size_t len, kc_keywrap_view *v);

/* The same for a blob of format (KC_KEYWRAP_FORMAT, or KC_BACKUP_FORMAT: no ePK.W, epk NULL). */
int kc_keywrap_parse_as(const uint8_t *b, size_t len, uint8_t format, kc_keywrap_view *v);

/*
 * Write the header (27 + label_len bytes) into o; returns its length. The
 * caller has checked label_len <= KC_LABEL_MAX.
 */
size_t kc_keywrap_header(uint8_t *o, uint8_t number, uint8_t type, uint8_t flags,
                         uint8_t version, const uint8_t kcv[KC_KCV_LEN],
                         const uint8_t from[KC_SERIAL_LEN], const uint8_t to[KC_SERIAL_LEN],
                         const uint8_t *label, uint8_t label_len);

/*
 * Seal key (16 or 32 bytes, as the header's type says) after the header of
 * hdr_len bytes already in blob: a fresh eSK.W from hw's RNG, then ePK.W, T
 * and C follow the header. blob has room for hdr_len + KC_KEYWRAP_BODY_LEN +
 * key_len. Every intermediate secret is wiped. Returns 0, KC_ERR_BAD_DATA
 * (pk_ka not a point), KC_ERR_RNG, KC_ERR_CRYPTO (blob wiped past the header).
 */
int kc_keywrap_seal(const kc_hw *hw, const uint8_t pk_ka[KC_P256_PUB_LEN], uint8_t *blob,
                    size_t hdr_len, const uint8_t *key, size_t key_len);

/*
 * Open a blob addressed to the card holding sk_ka/pk_ka: parse, ECDH, tag,
 * then the decrypted key against the header's check value. key receives
 * v->key_len bytes. Returns 0, KC_ERR_BAD_DATA (framing, ePK.W not a point),
 * KC_ERR_AUTH (tag or check value: key wiped), KC_ERR_CRYPTO, KC_ERR_RNG.
 */
int kc_keywrap_open(const kc_hw *hw, const uint8_t sk_ka[KC_P256_PRIV_LEN],
                    const uint8_t pk_ka[KC_P256_PUB_LEN], const uint8_t *blob, size_t len,
                    kc_keywrap_view *v, uint8_t key[32]);

#endif /* KC_KEYWRAP_H */
