/*
 * channel.h - libkeycard's side of the secure channel (docs/protocol.md
 * "Secure channel"): a transport that wraps another one. Below the encoding
 * layer (apdu.c builds and parses plain APDUs as before), above the real
 * transport: every command is encrypted and MACed on its way down and every
 * answer checked and decrypted on its way up, so the API never knows.
 *
 * With the channel closed the wrapper passes APDUs through unchanged, except
 * those that carry a secret (KEYCARD_ERR_NO_CHANNEL) when the card has a
 * channel key. A failure inside an open channel leaves the session lost
 * (KEYCARD_ERR_SESSION_LOST, nothing sent) until kcl_channel_start runs again
 * after kcl_channel_restart: the wrapper never opens a channel by itself.
 */
#ifndef KCL_CHANNEL_H
#define KCL_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"
#include "transport.h"

/*
 * Wrap inner (owned by the wrapper from now on, closed with it) into *out.
 * mode: KEYCARD_CHANNEL_*; issuer_pub (65-byte raw point, may be NULL): the
 * certificate must verify under it before the channel counts as open, and a
 * card without a certificate is then refused. Nothing is sent yet.
 * Errors: KEYCARD_ERR_MEMORY, KEYCARD_ERR_ARG.
 */
keycard_rc kcl_channel_wrap(kcl_transport *inner, keycard_channel_mode mode,
                            const uint8_t *issuer_pub, kcl_transport **out);

/*
 * Open the channel on a selected key card: read the certificate (GET DATA
 * DF07, plain), check it against the issuer key when one is set, send OPEN
 * CHANNEL with a fresh ephemeral key, take the card's ephemeral key from the
 * answer and check the receipt. A card without a certificate stays plain
 * (mode AUTO or OFF, no issuer key); secrets may then go in plain only when
 * its status says blank. Mode OFF checks the certificate but opens nothing;
 * INSECURE_PLAIN sends nothing. On any error the session is left lost.
 * Errors: KEYCARD_ERR_NOT_GENUINE (certificate missing while an issuer key is
 * set, signature or receipt wrong), KEYCARD_ERR_BLANK (no certificate, an
 * issuer key set, and the card says blank), KEYCARD_ERR_UNSUPPORTED (mode
 * REQUIRE and no channel offered), KEYCARD_ERR_CHANNEL (an OPEN CHANNEL answer
 * of another length: a card of channel v1, which adds no ephemeral key; never
 * a plain fallback), KEYCARD_ERR_PROTOCOL (the card's ephemeral key is no
 * point of the curve), KEYCARD_ERR_CRYPTO, transport errors.
 */
keycard_rc kcl_channel_start(kcl_transport *t);

/*
 * Before a new kcl_channel_start on a lost (or any) session: forget the old
 * channel and let only a reconnect and a plain SELECT through until then.
 */
void kcl_channel_restart(kcl_transport *t);

/* Mark the session lost (a restart that failed before kcl_channel_start). */
void kcl_channel_lose(kcl_transport *t);

/* KEYCARD_CHANNEL_NONE, _ENCRYPTED or _GENUINE (t must come from kcl_channel_wrap). */
keycard_channel_state kcl_channel_state(const kcl_transport *t);

/*
 * Tests only (tests/unit/test_channel.c checks the wire format against
 * tests/vectors/channel.json): make the channel open with these session keys
 * and last counter. Errors: KEYCARD_ERR_ARG (t is no channel transport).
 */
keycard_rc kcl_channel_set_keys(kcl_transport *t, const uint8_t s_enc[32], const uint8_t s_renc[32],
                                uint32_t ctr);

/* The bytes the issuer signs for a channel key: C1 08 serial C4 41 PK.KA. */
#define KCL_CHANNEL_TBS_LEN 77
void kcl_channel_tbs(const keycard_channel_key *ck, uint8_t out[KCL_CHANNEL_TBS_LEN]);

/*
 * Parse a channel key (GENERATE P1=01 answer) or, with with_sig, a channel
 * certificate (GET DATA DF07). Errors: KEYCARD_ERR_PROTOCOL.
 */
keycard_rc kcl_parse_channel_key(const uint8_t *buf, size_t len, int with_sig,
                                 keycard_channel_key *out);

#endif /* KCL_CHANNEL_H */
