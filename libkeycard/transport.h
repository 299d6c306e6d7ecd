/*
 * transport.h - the bottom layer of libkeycard: how APDU bytes reach a key
 * card. Each transport is a table of function pointers; the encoding layer
 * (apdu.c) and the API (keycard.c) never know which one they talk to.
 *
 *   kcl_transport_pcsc  a PC/SC reader through pcsc-lite (real and virtual cards)
 *   link (transport_link.c)  a keycard_link the application's opener gave
 *                       for "SCHEME:ARG" - the simulator library's "sim:"
 *                       (card firmware run in this process over a flash
 *                       image file) among them; libkeycard holds no firmware
 *
 * All functions return KEYCARD_OK or a negative keycard_rc. Nothing here is
 * exported from the shared library.
 */
#ifndef KCL_TRANSPORT_H
#define KCL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "keycard.h"

typedef struct kcl_transport kcl_transport;

typedef struct kcl_transport_ops {
    const char *kind; /* "pcsc", "link" */
    /*
     * Connect (pcsc only; links come from kcl_link_open). arg: the reader name.
     * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY, KEYCARD_ERR_NO_READER,
     * KEYCARD_ERR_NO_CARD, KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_IO.
     */
    keycard_rc (*open)(const char *arg, kcl_transport **out);
    /*
     * Send one command APDU, receive response data || SW1 SW2.
     * *resp_len: capacity in, length out (always >= 2 on success).
     * Errors: KEYCARD_ERR_CARD_REMOVED, KEYCARD_ERR_CARD_RESET (security state
     * lost; call reconnect before the next command), KEYCARD_ERR_NO_CARD,
     * KEYCARD_ERR_NO_READER, KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_PROTOCOL
     * (answer larger than the buffer or shorter than a status word).
     */
    keycard_rc (*transmit)(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                           size_t *resp_len);
    /* Exclusive access for a sequence of APDUs. Same errors as transmit. */
    keycard_rc (*begin_transaction)(kcl_transport *t);
    keycard_rc (*end_transaction)(kcl_transport *t);
    /* Reconnect after KEYCARD_ERR_CARD_RESET, leaving the card as it is. */
    keycard_rc (*reconnect)(kcl_transport *t);
    /* Human-readable name of the connection (reader name, "sim:FILE"). */
    const char *(*name)(const kcl_transport *t);
    /* Disconnect and free. close(NULL) is not allowed; callers check. */
    void (*close)(kcl_transport *t);
    /*
     * Is the card still the one connected to, with nothing reset since? A
     * local question (PC/SC: SCardStatus to pcscd), no APDU. NULL in a
     * table: no way to tell, the card counts as present. Errors:
     * KEYCARD_ERR_CARD_REMOVED, KEYCARD_ERR_CARD_RESET, KEYCARD_ERR_NO_READER,
     * KEYCARD_ERR_TRANSPORT.
     */
    keycard_rc (*status)(kcl_transport *t);
    /*
     * Probes (NULL where the transport has no such notion): mark the
     * connection so that close leaves the card as it is (PC/SC:
     * SCARD_LEAVE_CARD instead of a reset: the probe only asked who is
     * there, another program may hold a session on that card) ...
     */
    void (*leave_on_close)(kcl_transport *t);
    /* ... and the card's ATR as the reader layer knows it, nothing sent. */
    keycard_rc (*atr)(kcl_transport *t, uint8_t *atr, size_t *len);
    /*
     * Reserve the card for this connection alone (on) or share it again
     * (off), the card left as it is; NULL where there are no other programs.
     * Errors: KEYCARD_ERR_BUSY (another program is connected), transport errors.
     */
    keycard_rc (*exclusive)(kcl_transport *t, int on);
} kcl_transport_ops;

/* Every transport's state starts with this. */
struct kcl_transport {
    const kcl_transport_ops *ops;
};

extern const kcl_transport_ops kcl_transport_pcsc;

/*
 * where "SCHEME:ARG" with SCHEME registered: *handled = 1 and the link its
 * opener gives, wrapped as a transport. "sim:" unregistered: *handled = 1,
 * KEYCARD_ERR_UNSUPPORTED (keycard_open_detail says why). Anything else:
 * *handled = 0, nothing done (the caller tries PC/SC). Errors: the opener's,
 * KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY.
 */
keycard_rc kcl_link_open(const char *where, keycard_link_kind kind, kcl_transport **out,
                         int *handled);

/*
 * A transport over link (copied; link->close runs at the transport's close,
 * or here on failure), named where when the link has no name. Errors:
 * KEYCARD_ERR_ARG (no transmit), KEYCARD_ERR_MEMORY.
 */
keycard_rc kcl_link_wrap(const keycard_link *link, const char *where, kcl_transport **out);

/* Empty keycard_open_detail for the thread's next open. */
void kcl_open_detail_reset(void);

/*
 * keycard_open_ex on a transport the caller connected (owned by the handle
 * from now on, closed on failure too): SELECT, then the channel per opt.
 * For tests that put a line between library and card (a wrapper injecting
 * faults around the sim transport). Errors: as keycard_open_ex.
 */
keycard_rc kcl_keycard_open_on(kcl_transport *t, const keycard_options *opt, keycard **out);

/*
 * List PC/SC readers as names separated by '\n', NUL-terminated, into buf.
 * Errors: KEYCARD_ERR_NO_SERVICE (no pcscd), KEYCARD_ERR_NO_READER (none),
 * KEYCARD_ERR_BUFFER, KEYCARD_ERR_MEMORY, KEYCARD_ERR_TRANSPORT.
 */
keycard_rc kcl_pcsc_list(char *buf, size_t cap);

/*
 * What pcscd knows of reader, without connecting: a card present (not mute),
 * reserved by another program (exclusive), and its ATR (atr: capacity
 * *atr_len in, length out; 0 without a card). Errors: KEYCARD_ERR_NO_READER,
 * KEYCARD_ERR_NO_SERVICE, KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_ARG.
 */
keycard_rc kcl_pcsc_probe(const char *reader, int *present, int *in_use, uint8_t *atr,
                          size_t *atr_len);

/* t->ops->leave_on_close(t) where the transport has it. */
void kcl_transport_leave_on_close(kcl_transport *t);

/* t->ops->atr where the transport has it; KEYCARD_ERR_UNSUPPORTED where not. */
keycard_rc kcl_transport_atr(kcl_transport *t, uint8_t *atr, size_t *len);

#endif /* KCL_TRANSPORT_H */
