/*
 * session.c - connection recovery and PC/SC transactions for every card
 * handle (see session.h).
 */
#include "session.h"

void kcl_session_mark_lost(kcl_session *s, keycard_rc rc)
{
    if (rc != KEYCARD_ERR_CARD_RESET && rc != KEYCARD_ERR_CARD_REMOVED)
        return;
    s->lost = 1;
    s->lost_rc = rc;
    s->txn = 0;
}

keycard_rc kcl_session_begin(kcl_session *s)
{
    keycard_rc rc;

    if (s->held && s->txn && !s->lost)
        return KEYCARD_OK;
    if (s->lost && s->txn) {
        /* Lost with the hold's transaction still ours (a broken channel): end it, take it anew. */
        s->t->ops->end_transaction(s->t);
        s->txn = 0;
    }
    if (s->lost && (rc = s->t->ops->reconnect(s->t)) != KEYCARD_OK)
        return rc;
    rc = s->t->ops->begin_transaction(s->t);
    kcl_session_mark_lost(s, rc);
    if (rc != KEYCARD_OK)
        return rc;
    if (s->lost) {
        if (s->on_reconnect && (rc = s->on_reconnect(s->t)) != KEYCARD_OK) {
            s->t->ops->end_transaction(s->t);
            return rc;
        }
        s->lost = 0;
        s->lost_rc = KEYCARD_OK;
    }
    if (s->held)
        s->txn = 1;
    return KEYCARD_OK;
}

keycard_rc kcl_session_end(kcl_session *s, keycard_rc rc)
{
    kcl_session_mark_lost(s, rc);
    if (s->held && s->txn)
        return rc;
    kcl_session_mark_lost(s, s->t->ops->end_transaction(s->t));
    return rc;
}

keycard_rc kcl_session_hold(kcl_session *s)
{
    if (s->held == ~0u)
        return KEYCARD_ERR_ARG;
    if (s->held) {
        s->held++;
        return KEYCARD_OK;
    }
    s->held = 1;
    keycard_rc rc = kcl_session_begin(s);
    if (rc != KEYCARD_OK)
        s->held = 0;
    return rc;
}

keycard_rc kcl_session_release(kcl_session *s)
{
    if (!s->held)
        return KEYCARD_ERR_ARG;
    if (--s->held)
        return KEYCARD_OK;
    if (s->txn) {
        s->txn = 0;
        /* A card gone meanwhile took the transaction with it: the next operation sees it. */
        kcl_session_mark_lost(s, s->t->ops->end_transaction(s->t));
    }
    return KEYCARD_OK;
}

keycard_rc kcl_session_present(kcl_session *s)
{
    if (s->lost && s->lost_rc)
        return s->lost_rc;
    if (!s->t->ops->status)
        return KEYCARD_OK;
    keycard_rc rc = s->t->ops->status(s->t);
    kcl_session_mark_lost(s, rc);
    return rc;
}

void kcl_transport_leave_on_close(kcl_transport *t)
{
    if (t && t->ops->leave_on_close)
        t->ops->leave_on_close(t);
}

keycard_rc kcl_transport_atr(kcl_transport *t, uint8_t *atr, size_t *len)
{
    if (!t || !atr || !len)
        return KEYCARD_ERR_ARG;
    return t->ops->atr ? t->ops->atr(t, atr, len) : KEYCARD_ERR_UNSUPPORTED;
}
