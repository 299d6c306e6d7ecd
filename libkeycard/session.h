/*
 * session.h - what a card handle of libkeycard keeps about its connection,
 * shared by the key card (keycard.c) and the target card (target.c): the
 * transport, a lost connection to recover, and keycard_hold's transaction.
 */
#ifndef KCL_SESSION_H
#define KCL_SESSION_H

#include "keycard.h"
#include "transport.h"

typedef struct kcl_session {
    kcl_transport *t;
    /*
     * The card was reset or pulled (or its channel broke): the next operation
     * reconnects and, through on_reconnect, SELECTs again. Nothing is
     * replayed: the card's security state is gone.
     */
    int lost;
    keycard_rc lost_rc; /* KEYCARD_ERR_CARD_RESET or _REMOVED while lost, else OK */
    /* hold depth; while > 0 operations run in the hold's transaction (txn: taken). */
    unsigned held;
    int txn;
    /* The status word of the last answer (inside the channel: the inner one); 0: none. */
    uint16_t last_sw;
    /* Run inside the new transaction after a reconnect (NULL: nothing to do). */
    keycard_rc (*on_reconnect)(kcl_transport *t);
} kcl_session;

/* Remember a reset or removal (other codes are ignored). */
void kcl_session_mark_lost(kcl_session *s, keycard_rc rc);

/*
 * Start an operation: recover a lost connection, then lock the card with a
 * PC/SC transaction unless a hold has it already. Errors: the transport's.
 */
keycard_rc kcl_session_begin(kcl_session *s);

/* End an operation, passing its result rc through; a hold keeps its transaction. */
keycard_rc kcl_session_end(kcl_session *s, keycard_rc rc);

/* keycard_hold / keycard_release / keycard_present for any handle (same errors). */
keycard_rc kcl_session_hold(kcl_session *s);
keycard_rc kcl_session_release(kcl_session *s);
keycard_rc kcl_session_present(kcl_session *s);

#endif /* KCL_SESSION_H */
