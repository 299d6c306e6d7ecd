/*
 * kc_state.h - the key card's state: all firmware state in one caller-owned
 * structure (kc_keycard), the security and provisioning bits, and what
 * clears them. The layers above (the channel, the dispatcher and handlers,
 * the card face in kc_keycard.c) all work on it; it calls none of them.
 *
 * Persistent state lives in the store; everything here except the store's
 * index is volatile and cleared by power events and SELECT.
 */
#ifndef KC_STATE_H
#define KC_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_apdu.h"
#include "kc_channel_state.h"
#include "kc_hw.h"
#include "kc_issue.h"
#include "kc_store.h"
#include "keycard_proto.h"

/* Security state bits (kc_keycard.sec). */
#define KC_SEC_ISSUER 0x01u /* issuer PIN verified */
#define KC_SEC_HOLDER 0x02u /* holder PIN verified */
#define KC_SEC_ADMIN 0x04u  /* admin key verified */

/* Items put or generated in the open provisioning session (kc_keycard.staged). */
#define KC_STAGED_ISSUER 0x01u
#define KC_STAGED_HOLDER 0x02u
#define KC_STAGED_ADMIN 0x04u
#define KC_STAGED_NAME 0x08u
#define KC_STAGED_NUMBER 0x10u
#define KC_STAGED_DEVKEY 0x20u
#define KC_STAGED_SIG 0x40u /* put after the last GENERATE of the session */
#define KC_STAGED_KA 0x80u     /* key-agreement key generated (GENERATE P1=01) */
#define KC_STAGED_CH_SIG 0x100u /* channel signature put after the last KA GENERATE */
#define KC_STAGED_POLICY 0x200u     /* channel policy put in the session */
#define KC_STAGED_POLICY_REQ 0x400u /* ... and it is "required" */

/* Key components being combined (PROVISION PUT P1=22, GENERATE P1=21): RAM only. */
typedef struct kc_components {
    uint8_t acc[32]; /* XOR of the components so far */
    uint8_t number, type, flags, n, label_len;
    uint8_t label[KC_LABEL_MAX];
} kc_components;

/* A backup or a restore in progress (BACKUP / RESTORE): RAM only. */
typedef struct kc_backup_ram {
    uint8_t mode; /* 0 none, KC_INS_BACKUP or KC_INS_RESTORE */
    uint8_t m, n, count;
    uint8_t id[KC_BACKUP_ID_LEN];
    uint8_t bk[32];   /* backup: the backup key */
    uint8_t seed[32]; /* backup: the polynomial's coefficients come from it */
    uint8_t sealed[32]; /* backup: bit n set once key n was sealed (K, IV used once each) */
    uint8_t x[KC_BACKUP_SHARES_MAX], y[KC_BACKUP_SHARES_MAX][32]; /* restore: shares */
} kc_backup_ram;

typedef struct kc_keycard {
    kc_hw hw;          /* copy of the board's hardware table */
    kc_store store;
    int mounted;       /* 0 when the store could not be mounted: every APDU answers 6581 */
    int selected;      /* the application is selected */
    unsigned sec;      /* KC_SEC_* */
    int staging;       /* a provisioning session (store transaction) is open */
    unsigned staged;   /* KC_STAGED_* */
    kc_apdu_chain chain;
    kc_issue_session issue[KC_ISSUE_SESSIONS]; /* open issuance sessions (kc_issue.h), by P2 */
    kc_channel chan;        /* the secure channel (kc_channel.h), if open */
    kc_components comp;     /* key components received, not yet combined */
    kc_backup_ram backup;   /* backup key or restore shares, never in flash */
} kc_keycard;

/*
 * Clear the security state and the selection, abort an open provisioning
 * session, close an issuance session, wipe key components not yet combined
 * and end the secure channel (SELECT does this; the chain buffer is left to
 * the dispatcher).
 */
void kc_keycard_clear_security(kc_keycard *kc);

/* kc_keycard_clear_security and drop any partial command chain (power events). */
void kc_keycard_clear_volatile(kc_keycard *kc);

/* Life cycle from the store (KC_LIFECYCLE_BLANK when unreadable). */
uint8_t kc_keycard_lifecycle(const kc_keycard *kc);

/* Serial number into serial. Errors: KC_ERR_NOT_FOUND, KC_ERR_CORRUPT. */
int kc_keycard_serial(const kc_keycard *kc, uint8_t serial[KC_SERIAL_LEN]);

#endif /* KC_STATE_H */
