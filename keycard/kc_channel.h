/*
 * kc_channel.h - the key card's secure channel (docs/protocol.md "Secure
 * channel", modelled on GlobalPlatform SCP11b: the card's certified static
 * key and a fresh card ephemeral key against the host's ephemeral key): the
 * key-agreement key and its certificate, OPEN CHANNEL, and the one layer that
 * unwraps every command before the dispatcher and wraps its answer, so
 * handlers never know.
 *
 * State is volatile and lives in kc_keycard (no static state); power events,
 * SELECT and any channel failure end it and wipe the session keys.
 */
#ifndef KC_CHANNEL_H
#define KC_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "kc_apdu.h"
#include "kc_channel_state.h"
#include "keycard_proto.h"

struct kc_keycard;

/* The layer below the channel (the dispatcher, kc_applet.c): one plain APDU in, SW out. */
typedef uint16_t (*kc_channel_dispatch_fn)(struct kc_keycard *kc, const uint8_t *cmd,
                                           size_t len, uint8_t *out, size_t cap,
                                           size_t *out_len);

/*
 * Process one APDU through the channel layer. A command with CLA bit 0x04 is
 * unwrapped (counter, AES-256-GCM), dispatched, and its answer wrapped: the
 * data out then holds GCM(inner data || inner SW) || tag and the result is
 * 9000. A plain command goes to dispatch unchanged, except while a channel is
 * open (only SELECT may then be plain). Every failure (bad tag, counter not
 * the next one, plain command in an open channel, wrapped command with no
 * channel, malformed wrapping) answers 6988 and ends the channel and the
 * security state. cap is the room at out.
 */
uint16_t kc_channel_process(struct kc_keycard *kc, const uint8_t *cmd, size_t len, uint8_t *out,
                            size_t cap, size_t *out_len, kc_channel_dispatch_fn dispatch);

/*
 * The channel policy lets this command run now: always on a card that is not
 * provisioned or whose policy is optional, inside the channel, and for SELECT,
 * GET DATA DF03/DF07 and OPEN CHANNEL. 0: the caller answers 6982.
 */
int kc_channel_plain_ok(const struct kc_keycard *kc, const kc_apdu *a);

/*
 * OPEN CHANNEL handler (80 40 00 00 41 ePK.H Le): a fresh card ephemeral pair
 * (hw->rng), Z1 = ECDH(eSK.C, ePK.H), Z2 = ECDH(SK.KA, ePK.H), session keys,
 * answer ePK.C || receipt (KC_CHANNEL_OPEN_RESP_LEN). On success ends any
 * earlier channel and the security state. 6700 when Ne < 81 (a channel v1
 * host), 6985 when the card has no key-agreement key or inside the channel,
 * 6A80 for a point not on the curve; nothing changes on a refusal.
 */
uint16_t kc_channel_h_open(struct kc_keycard *kc, const kc_apdu *a, uint8_t *out, size_t cap,
                           size_t *out_len);

/*
 * PROVISION GENERATE P1=01: a new key-agreement pair in the open provisioning
 * session; out receives C1 08 serial C4 41 PK.KA (77 bytes, what the issuer
 * signs). The old channel signature is dropped.
 */
uint16_t kc_channel_h_generate(struct kc_keycard *kc, uint8_t *out, size_t cap,
                               size_t *out_len);

/*
 * The channel certificate (GET DATA DF07): C1 08 serial C4 41 PK.KA C6 40 sig
 * into out (KC_CHANNEL_CERT_LEN bytes). Errors: KC_ERR_NOT_FOUND (no signed
 * channel key), KC_ERR_CORRUPT, KC_ERR_TOO_BIG (cap).
 */
#define KC_CHANNEL_CERT_TBS_LEN 77
#define KC_CHANNEL_CERT_LEN 143
int kc_channel_cert(const struct kc_keycard *kc, uint8_t *out, size_t cap, size_t *n);

/*
 * A provisioning session may commit as far as the channel goes: a generated
 * key-agreement key has its signature, and a "required" policy has a signed
 * key. 1 when fine.
 */
int kc_channel_session_ok(const struct kc_keycard *kc);

#endif /* KC_CHANNEL_H */
