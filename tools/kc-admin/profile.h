/*
 * profile.h - a key card provisioning profile (docs/profile.md), read and
 * checked completely before anything is sent to a card.
 */
#ifndef KCA_PROFILE_H
#define KCA_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/kct.h"

typedef struct kca_profile {
    int demo; /* 1: published demo credentials, not for real use */
    char name[KC_HOLDER_NAME_MAX + 1];
    size_t name_len;
    char number[KC_HOLDER_NUMBER_MAX + 1];
    size_t number_len;
    kct_secret issuer_pin;
    int issuer_tries;
    kct_secret holder_pin;
    int holder_tries;
    uint8_t admin_key[KC_ADMIN_KEY_LEN_256];
    size_t admin_key_len;
    int admin_tries;
    uint8_t *issuer_key; /* the key file as read (PEM or DER) */
    size_t issuer_key_len;
} kca_profile;

/*
 * Read and check the profile at file. Every problem is printed on its own
 * line as "FILE: $.json.path: problem". Returns 0, or -1 when anything is
 * wrong (p then holds nothing to free, but kca_profile_free is harmless).
 */
int kca_profile_load(const char *file, kca_profile *p);

/* Wipe the secrets and free the issuer key. */
void kca_profile_free(kca_profile *p);

#endif /* KCA_PROFILE_H */
