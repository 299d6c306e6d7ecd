/*
 * tc_keys.h - the target card's map of store keys (kc_store.h): which record
 * holds what. One place, so two modules can never pick the same number.
 *
 *   0x0001          serial (8 bytes), written once by MANUFACTURE
 *   0x0002          card record: state (1, TC_STATE_*) || lock ways applied (1, TC_LOCK_*)
 *   0x0003          static-mode counter: last accepted envelope counter (u32 BE)
 *   0x0004          lock way b: INS codes refused after issuance (1..16 bytes)
 *   0x0005          lock way c: FID of the completion file (2 bytes)
 *   0x0006          completion: steps (1) || lock way (1) || lock len (1) || lock data ||
 *                   completion MAC (16), written with the lock (GET DATA DF12)
 *   0x0101..0x01FE  issuance key n (1..254): flags (1, TC_IKEY_*) || len (1) || Kcard (16/32)
 *   0x0201..0x020F  file key k (1..15): see tc_fs.c for the layout
 *   0x0211..0x021F  tries left of PIN key k (1 byte; a record of its own so a try rewrites 1 byte)
 *   0x1000..0x103F  file system object header of slot 0..63 (tc_fs.c)
 *   0x2000..0x203F  contents of the data file in slot 0..63
 * Everything else is free. 0xFFF0..0xFFFF belong to the store itself.
 */
#ifndef TC_KEYS_H
#define TC_KEYS_H

#include <stdint.h>

#define TC_KEY_SERIAL 0x0001u
#define TC_KEY_CARD 0x0002u
#define TC_KEY_STATIC_CTR 0x0003u
#define TC_KEY_LOCK_TABLE 0x0004u
#define TC_KEY_LOCK_FILE 0x0005u
#define TC_KEY_COMPLETION 0x0006u
#define TC_KEY_IKEY(n) ((uint16_t)(0x0100u + (n)))
#define TC_KEY_FKEY(k) ((uint16_t)(0x0200u + (k)))
#define TC_KEY_FKEY_TRIES(k) ((uint16_t)(0x0210u + (k)))
#define TC_KEY_OBJ(slot) ((uint16_t)(0x1000u + (slot)))
#define TC_KEY_CONTENT(slot) ((uint16_t)(0x2000u + (slot)))

#endif /* TC_KEYS_H */
