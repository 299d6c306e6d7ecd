/*
 * apdu.h - the encoding layer of libkeycard: command APDUs built from fields,
 * response bytes parsed back (GET RESPONSE / wrong-Le recovery, TLV blobs of
 * docs/apdu.md), and the one status word -> keycard_rc table.
 *
 * Everything that reads card answers here treats them as hostile: every length
 * is checked against what is left, and malformed answers give
 * KEYCARD_ERR_PROTOCOL, never an overread.
 */
#ifndef KCL_APDU_H
#define KCL_APDU_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"
#include "transport.h"

/* Longest command APDU: header, extended Lc, data, extended Le. */
#define KCL_APDU_CMD_MAX (4 + 3 + 65535 + 2)
/* Largest response data libkeycard accepts (data only, SW apart). */
#define KCL_APDU_RESP_MAX 16384

/*
 * Build a command APDU into out (capacity cap). lc is the data length
 * (0..65535, data may be NULL when 0); ne the expected response length,
 * 0 for "no Le field", 1..65536 otherwise (256 in short form and 65536 in
 * extended form are encoded as zero). Short form whenever lc <= 255 and
 * ne <= 256, else extended. *len receives the APDU length.
 * Errors: KEYCARD_ERR_ARG (field out of range), KEYCARD_ERR_BUFFER.
 */
keycard_rc kcl_apdu_build(uint8_t *out, size_t cap, size_t *len, uint8_t cla, uint8_t ins,
                          uint8_t p1, uint8_t p2, const uint8_t *data, size_t lc, size_t ne);

/*
 * Send one command and collect its answer: follows 61xx with GET RESPONSE
 * and repeats once with the right Le after 6Cxx. resp (capacity *resp_len,
 * may be NULL when 0) receives the data without the status word; *sw the
 * final status word. The APDU buffer is wiped afterwards (it may hold a PIN).
 * Errors: transport errors, KEYCARD_ERR_PROTOCOL (answer longer than the
 * buffer, endless 61xx), KEYCARD_ERR_ARG.
 */
keycard_rc kcl_apdu_exchange(kcl_transport *t, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                             const uint8_t *data, size_t lc, size_t ne, uint8_t *resp,
                             size_t *resp_len, uint16_t *sw);

/*
 * Status word -> keycard_rc. 63Cx gives KEYCARD_ERR_WRONG_PIN and x in
 * *tries (may be NULL; untouched for other words).
 */
keycard_rc kcl_sw_to_rc(uint16_t sw, int *tries);

/*
 * Find the first TLV with the one-byte tag in buf. Lengths: one byte 00..7F,
 * 81 xx, 82 xx xx. On success *val and *vlen point into buf.
 * Errors: KEYCARD_ERR_NOT_FOUND (well-formed, tag absent),
 * KEYCARD_ERR_PROTOCOL (malformed or truncated before the tag was found).
 */
keycard_rc kcl_tlv_find(const uint8_t *buf, size_t len, uint8_t tag, const uint8_t **val,
                        size_t *vlen);

/* Parse the status blob (GET DATA DF03). Errors: KEYCARD_ERR_PROTOCOL. */
keycard_rc kcl_parse_status(const uint8_t *buf, size_t len, keycard_status *st);

/*
 * Parse an identity blob: C1 serial, C2 device key and, when with_sig,
 * C3 signature (else issuer_sig is zeroed). Errors: KEYCARD_ERR_PROTOCOL.
 */
keycard_rc kcl_parse_identity(const uint8_t *buf, size_t len, int with_sig,
                              keycard_identity *id);

/*
 * The bytes the issuer signs for an identity: C1 08 serial C2 41 pub
 * (KCL_IDENTITY_TBS_LEN bytes).
 */
#define KCL_IDENTITY_TBS_LEN (2 + 8 + 2 + 65)
void kcl_identity_tbs(const keycard_identity *id, uint8_t out[KCL_IDENTITY_TBS_LEN]);

/*
 * Parse audit entries from an AUDIT READ answer into entries (capacity max).
 * *n receives how many; *last_seq the last sequence number parsed. Entries
 * must be whole and their sequence numbers strictly increasing (after prev,
 * when have_prev). Errors: KEYCARD_ERR_PROTOCOL.
 */
keycard_rc kcl_parse_audit(const uint8_t *buf, size_t len, keycard_audit_entry *entries,
                           size_t max, size_t *n, int have_prev, uint32_t prev);

#endif /* KCL_APDU_H */
