/*
 * keycard_target_proto.h - the target card's wire protocol
 * (docs/target-card.md): every constant the target firmware
 * (examples/targetcard/) and libkeycard's target side (libkeycard/target.c)
 * both use, defined here once. The key card's protocol is keycard_proto.h;
 * the values the two share (seeding ways, the COMPLETE ISSUANCE instruction)
 * are tied to it by _Static_asserts in libkeycard/target.c.
 *
 * Not installed: the target card is the project's example of a card OS that
 * opens envelopes; an application talks to it through keycard.h.
 */
#ifndef KEYCARD_TARGET_PROTO_H
#define KEYCARD_TARGET_PROTO_H

#include <stdint.h>

/* GET DATA DF10 (card info): tags of its TLVs. */
#define TC_INFO_SERIAL 0xC1
#define TC_INFO_STATE 0xC5
#define TC_INFO_LOCKS 0xCA

/* Card states (GET DATA DF10 tag C5). */
#define TC_STATE_VIRGIN 0x00
#define TC_STATE_MANUFACTURED 0x01
#define TC_STATE_ISSUING 0x02
#define TC_STATE_ISSUED 0x03

/* Lock ways (COMPLETE ISSUANCE P1 and the bit it sets in DF10 tag CA). */
#define TC_LOCK_WAY_KEY 0x01   /* (a) lock the session's issuance key */
#define TC_LOCK_WAY_TABLE 0x02 /* (b) table of INS refused after issuance */
#define TC_LOCK_WAY_FILE 0x03  /* (c) completion file */
#define TC_LOCK_WAY_FLAG 0x04  /* (d) explicit lock flag */
#define TC_LOCK_A 0x01u
#define TC_LOCK_B 0x02u
#define TC_LOCK_C 0x04u
#define TC_LOCK_D 0x08u

/* Seeding ways (BEGIN ISSUANCE P1). */
#define TC_WAY_STATIC 0x01
#define TC_WAY_TARGET_SEED 0x03
#define TC_WAY_HOST_SEED 0x04

/* Issuance key flags (manufacture data and store record). */
#define TC_IKEY_STATIC 0x01u /* may be used in static mode (no chain) */
#define TC_IKEY_LOCKED 0x80u /* locked by lock way (a); never set by MANUFACTURE */
#define TC_IKEY_MAX 16       /* issuance keys one MANUFACTURE may load */

/* Class and instruction bytes. */
#define TC_CLA_ISO 0x00
#define TC_CLA_PROP 0x80
/*
 * The reference target card's ATR without its TCK: TS 3B, T0 8B (TD1 follows,
 * 11 historical bytes), TD1 80, TD2 01 (T=1), historical bytes: category 80,
 * 56 "TARGET" (tag 5, 6 bytes), 82 90 00 (status indicator).
 */
#define TC_ATR_BODY { 0x3B, 0x8B, 0x80, 0x01, 0x80, 0x56, 'T', 'A', 'R', 'G', 'E', 'T', 0x82, 0x90, 0x00 }

#define TC_INS_SELECT 0xA4
#define TC_INS_READ_BINARY 0xB0
#define TC_INS_UPDATE_BINARY 0xD6
#define TC_INS_READ_RECORD 0xB2
#define TC_INS_APPEND_RECORD 0xE2
#define TC_INS_VERIFY 0x20
#define TC_INS_GET_CHALLENGE 0x84
#define TC_INS_EXT_AUTH 0x82
#define TC_INS_GET_DATA 0xCA
#define TC_INS_MANUFACTURE 0xF0
#define TC_INS_BEGIN 0x10
#define TC_INS_BIND 0x12 /* second half of BEGIN: the key card's nonce (protocol v2) */
#define TC_PROTO_VERSION 0x02 /* first byte of the BEGIN answer */
#define TC_BEGIN_PACKED 0x80 /* BEGIN P1 bit: a packed session (docs/protocol.md "Packed envelopes") */
/* Inner issuance commands (CLA 80, only inside an ENVELOPE). */
#define TC_INS_CREATE 0xE0
#define TC_INS_SET_KEY 0xD8
#define TC_INS_WRITE_BINARY 0xD6
#define TC_INS_WRITE_RECORD 0xDC
#define TC_INS_COMPLETE 0x1E
#define TC_CREATE_FOLDER 0x01
#define TC_CREATE_KEY_FILE 0x02
#define TC_CREATE_DATA_FILE 0x03

/* GET DATA tags. */
#define TC_TAG_CARD_INFO 0xDF10
#define TC_TAG_FILE_LIST 0xDF11
/*
 * The completion of the session that locked the card, as kept with the lock:
 * steps(1) lock_way(1) lock_len(1) lock_data completion MAC(16). Public (a
 * proof only the key card can check); a station cut before ISSUE END reads it
 * for the key card's late END. 6A88 on a card not locked by an envelope.
 */
#define TC_TAG_COMPLETION 0xDF12
#define TC_LOCK_DATA_MAX 32 /* data of a COMPLETE ISSUANCE the card takes (way b table, way c FID) */

/* Object types (file list). */
#define TC_OBJ_FOLDER 0x01
#define TC_OBJ_KEY_FILE 0x02
#define TC_OBJ_TRANSPARENT 0x03
#define TC_OBJ_RECORD 0x04

/* File key types (SET KEY P2). */
#define TC_FKEY_PIN 0x01
#define TC_FKEY_AES128 0x02
#define TC_FKEY_AES256 0x03
#define TC_FKEY_MAX_ID 15
#define TC_PIN_MIN 4
#define TC_PIN_MAX 16

/* Access condition bytes. */
#define TC_AC_ALWAYS 0x00
#define TC_AC_NEVER 0xFF
#define TC_AC_PIN(k) ((uint8_t)(0x10u | (k)))
#define TC_AC_AUTH(k) ((uint8_t)(0x20u | (k)))

/* File system limits. */
#define TC_MF_FID 0x3F00u
#define TC_NAME_MAX 16
#define TC_CHALLENGE_LEN 16
#define TC_LOCK_TABLE_MAX 16

/* Status words beyond keycard_proto.h. */
#define TC_SW_AUTH_FAILED 0x6300
#define TC_SW_INCOMPATIBLE 0x6981
#define TC_SW_NO_CURRENT_EF 0x6986
#define TC_SW_SM_WRONG 0x6988
#define TC_SW_RECORD_NOT_FOUND 0x6A83
#define TC_SW_FILE_EXISTS 0x6A89
#define TC_SW_WRONG_OFFSET 0x6B00
#define TC_SW_CHAINING 0x6884

#endif /* KEYCARD_TARGET_PROTO_H */
