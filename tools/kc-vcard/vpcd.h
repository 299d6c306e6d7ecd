/*
 * vpcd.h - the vsmartcard vpcd link framing, as pure functions over buffers.
 *
 * The vpcd reader driver (loaded by pcscd) and a virtual card exchange
 * messages over TCP, each a 2-byte big-endian length followed by that many
 * bytes. A 1-byte message from the reader is a control (power off, power on,
 * reset, get ATR); a longer one is a command APDU. The card answers get-ATR
 * and every APDU with one framed message and answers nothing else.
 *
 * No I/O here, so the parser can be unit-tested and fuzzed on plain bytes;
 * kc-vcard.c does the socket work.
 */
#ifndef KC_VPCD_H
#define KC_VPCD_H

#include <stddef.h>
#include <stdint.h>

/* Control codes (the single byte of a 1-byte message). */
#define KC_VPCD_CTRL_OFF 0
#define KC_VPCD_CTRL_ON 1
#define KC_VPCD_CTRL_RESET 2
#define KC_VPCD_CTRL_ATR 4

#define KC_VPCD_HDR_LEN 2
/*
 * Largest message kc-vcard accepts: an extended-length APDU carrying the
 * card's largest data field (KC_APDU_MAX_DATA = 4096): header 4, Lc 3,
 * data 4096, Le 3. Anything longer could only be refused by the card, so the
 * runner skips it and answers 6700 without buffering it.
 */
#define KC_VPCD_MSG_MAX (4 + 3 + 4096 + 3)

/* Result codes of kc_vpcd_parse (negative: the stream is malformed). */
#define KC_VPCD_NEED_MORE 0
#define KC_VPCD_ERR_EMPTY (-1)   /* a zero-length message: never valid */
#define KC_VPCD_ERR_TOO_BIG (-2) /* declared length over the caller's max */
#define KC_VPCD_ERR_ARG (-3)     /* NULL pointer */

typedef enum kc_vpcd_kind {
    KC_VPCD_MSG_CTRL = 1, /* ctrl holds the control code */
    KC_VPCD_MSG_APDU = 2, /* data/len hold the command APDU */
} kc_vpcd_kind;

typedef struct kc_vpcd_msg {
    kc_vpcd_kind kind;
    uint8_t ctrl;        /* KC_VPCD_CTRL_* (any byte value may arrive) */
    const uint8_t *data; /* points into the parsed buffer */
    size_t len;          /* payload length (the declared one for ERR_TOO_BIG) */
} kc_vpcd_msg;

/*
 * Parse the first message of buf (avail bytes received so far), accepting
 * payloads of at most max bytes.
 * Returns the number of bytes the message takes (header included, > 0) and
 * fills *msg; KC_VPCD_NEED_MORE when avail holds only part of it;
 * KC_VPCD_ERR_EMPTY; KC_VPCD_ERR_TOO_BIG (msg->len holds the declared length
 * so the caller can skip 2 + len bytes and stay in step); KC_VPCD_ERR_ARG.
 */
long kc_vpcd_parse(const uint8_t *buf, size_t avail, size_t max, kc_vpcd_msg *msg);

/*
 * Frame payload (len bytes, 1..65535) into out (capacity cap).
 * Returns the framed length (len + 2), or 0 when len is 0 or over 65535,
 * or cap is too small.
 */
size_t kc_vpcd_frame(const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

#endif /* KC_VPCD_H */
