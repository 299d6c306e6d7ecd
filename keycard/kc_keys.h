/*
 * kc_keys.h - the key card's map of store keys (kc_store.h): which record
 * holds what. One place, so two modules can never pick the same number and
 * later work knows which ranges are already reserved.
 *
 *   0x0001          manufacture record: serial (8 bytes), written once at first boot
 *   0x0002          life cycle (1 byte, KC_LIFECYCLE_*)
 *   0x0011..0x0013  credential record of reference 0x81..0x83 (kc_cred.c layout)
 *   0x0019..0x001B  tries left of reference 0x81..0x83 (1 byte), a record of its
 *                   own so that spending a try rewrites 1 byte, not the verifier
 *   0x0020          holder name (UTF-8)
 *   0x0021          holder number (ASCII)
 *   0x0030          device private key (32 bytes, P-256 scalar)
 *   0x0031          device public key (65 bytes, 04||X||Y)
 *   0x0032          issuer signature of the identity (64 bytes r||s)
 *   0x0033          channel key-agreement private key SK.KA (32 bytes)
 *   0x0034          channel key-agreement public key PK.KA (65 bytes)
 *   0x0035          issuer signature of the channel certificate (64 bytes)
 *   0x0036          channel policy (1 byte, KC_CHANNEL_*; absent: optional)
 *   0x0037          issuer public key (65 bytes), written once: the key that
 *                   certifies the key cards this card may export keys to
 *   0x0040          audit head: next seq(4) chain head(32) acknowledged mark(4) lost(4) (kc_audit.c)
 *   0x0041          audit: channel failures counted but not yet written as an entry (kc_audit.c)
 *   0x0042          scrub pending (1 byte): a destroyed key's bytes may still be on flash;
 *                   the store is compacted twice (kc_store_scrub), at boot if need be
 *   0x0060          previous-random chain state P (32 bytes, kc_issue.c)
 *   0x1000..0x107F  audit entries, key 0x1000 + seq % KC_AUDIT_CAPACITY
 *   0x2001..0x20FE  numbered keys 1..254: type flags kcv(3) label_len label key (kc_issue.c)
 *   0x2101..0x21FE  version state of key n: current version(1) highest destroyed(1);
 *                   absent: version 1, none destroyed
 *   0x2201..0x22FE  the retired version of key n: version(1) then the key record
 *   0x3001..0x30FE  numbered command templates 1..254, the validated binary form (kc_template.h)
 * Everything else is free. 0xFFF0..0xFFFF belong to the store itself.
 */
#ifndef KC_KEYS_H
#define KC_KEYS_H

#include <stdint.h>

#include "keycard_proto.h"

#define KC_KEY_MANUFACTURE 0x0001u
#define KC_KEY_LIFECYCLE 0x0002u
#define KC_KEY_CRED(ref) ((uint16_t)(0x0010u + ((ref)-0x80u)))
#define KC_KEY_TRIES(ref) ((uint16_t)(0x0018u + ((ref)-0x80u)))
#define KC_KEY_HOLDER_NAME 0x0020u
#define KC_KEY_HOLDER_NUMBER 0x0021u
#define KC_KEY_DEVICE_PRIV 0x0030u
#define KC_KEY_DEVICE_PUB 0x0031u
#define KC_KEY_ID_SIGNATURE 0x0032u
#define KC_KEY_KA_PRIV 0x0033u
#define KC_KEY_KA_PUB 0x0034u
#define KC_KEY_CHANNEL_SIG 0x0035u
#define KC_KEY_CHANNEL_POLICY 0x0036u
#define KC_KEY_ISSUER_PUB 0x0037u
#define KC_KEY_AUDIT_HEAD 0x0040u
#define KC_KEY_AUDIT_PENDING 0x0041u
#define KC_KEY_SCRUB 0x0042u
#define KC_KEY_CHAIN_STATE 0x0060u
#define KC_KEY_ISSUE_OPEN 0x0061u /* open issuance session 0, see KC_ISSUE_MARK_LEN */
/* The open-session mark of session k (0..KC_ISSUE_SESSIONS-1): 0x0061..0x0064. */
#define KC_KEY_ISSUE_OPEN_N(k) ((uint16_t)(KC_KEY_ISSUE_OPEN + (k)))
/*
 * The open-session mark: serial(8) key(1) way(1) flags(1) first counter(4)
 * completion key(16); the completion key lets a late END (ISSUE END P1 01)
 * check the target's MAC after the RAM session is gone. Firmware before it
 * wrote the first 11 bytes only (no late END for those).
 */
#define KC_ISSUE_MARK_LEN 31
#define KC_ISSUE_MARK_LEN_OLD 11
#define KC_KEY_AUDIT_ENTRY(seq) ((uint16_t)(0x1000u + ((seq) % KC_AUDIT_CAPACITY)))
#define KC_KEY_NUMBERED_KEY(n) ((uint16_t)(0x2000u + (n)))
#define KC_KEY_KEY_VERSION(n) ((uint16_t)(0x2100u + (n)))
#define KC_KEY_RETIRED_KEY(n) ((uint16_t)(0x2200u + (n)))
#define KC_KEY_TEMPLATE(n) ((uint16_t)(0x3000u + (n)))

#endif /* KC_KEYS_H */
