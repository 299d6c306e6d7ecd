/*
 * profile.h - a key card provisioning profile (docs/profile.md), read and
 * checked completely before anything is sent to a card.
 */
#ifndef KCA_PROFILE_H
#define KCA_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/kct.h"

/* A numbered key of the profile ("keys"). */
typedef struct kca_key {
    uint8_t number;
    uint8_t type;  /* KEYCARD_KEY_AES128 / KEYCARD_KEY_AES256 */
    uint8_t flags; /* KEYCARD_KEYF_* */
    char label[KEYCARD_LABEL_MAX + 1];
    size_t label_len;
    uint8_t value[32];
    size_t len;   /* 16 or 32 */
    int generate; /* "generate": true: made on the key card, no value anywhere else */
    int import;   /* "import": true: arrives later (keys import, restore); the number stays free */
} kca_key;

/* Largest binary template (docs/apdu.md). */
#define KCA_TEMPLATE_MAX 512

/* A numbered template of the profile, already in its binary form. */
typedef struct kca_template {
    uint8_t number;
    uint8_t bin[KCA_TEMPLATE_MAX];
    size_t len;
} kca_template;

#define KCA_NUMBERED_MAX 254

typedef struct kca_profile {
    int demo; /* 1: published demo credentials, not for real use */
    int channel_required; /* "secure_channel": 1 "required" (default), 0 "optional" */
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
    kca_key *keys; /* n_keys entries (heap) */
    size_t n_keys;
    kca_template *templates; /* n_templates entries (heap) */
    size_t n_templates;
} kca_profile;

/* The data of a PROVISION PUT of key k: type flags label_len label key. */
size_t kca_key_encode(const kca_key *k, uint8_t out[3 + KEYCARD_LABEL_MAX + 32]);

/* The key of the profile with this number, or NULL. */
const kca_key *kca_profile_key(const kca_profile *p, unsigned number);

/*
 * Read and check the profile at file. Every problem is printed on its own
 * line as "FILE: $.json.path: problem". Returns 0, or -1 when anything is
 * wrong (p then holds nothing to free, but kca_profile_free is harmless).
 */
int kca_profile_load(const char *file, kca_profile *p);

/* Wipe the secrets and free the issuer key. */
void kca_profile_free(kca_profile *p);

#endif /* KCA_PROFILE_H */
