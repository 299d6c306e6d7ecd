/*
 * transport_pcsc.c - the PC/SC transport: key cards in real or virtual
 * readers through pcsc-lite. The only file of libkeycard that sees PC/SC
 * types; every SCARD_* code is turned into a keycard_rc in pcsc_rc().
 */
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include <winscard.h>

#include "transport.h"

typedef struct pcsc_transport {
    kcl_transport base;
    SCARDCONTEXT ctx;
    SCARDHANDLE card;
    DWORD protocol;
    int in_transaction;
    int leave_on_close; /* a probe: disconnect without resetting the card */
    DWORD share;        /* SCARD_SHARE_SHARED, or _EXCLUSIVE while reserved */
    char *reader;
} pcsc_transport;

/*
 * One place for the PC/SC -> keycard_rc mapping. `connected` tells a card
 * missing at connect time (no card) from one gone during a session (removed).
 */

/*
 * pcsc-lite's client keeps the readers' states in one table for the whole
 * process, which SCardStatus, SCardGetStatusChange and SCardListReaders rewrite from pcscd
 * under the caller's context lock only: two threads asking at once, each on
 * its own context (several target heads), write it together. One lock for
 * those two calls, process-wide, keeps them apart; exchanges are not held up.
 */
static pthread_mutex_t g_state_lock = PTHREAD_MUTEX_INITIALIZER;

static LONG status_locked(SCARDHANDLE card, DWORD *state, DWORD *proto, BYTE *atr, DWORD *alen)
{
    DWORD rlen = 0;
    pthread_mutex_lock(&g_state_lock);
    LONG r = SCardStatus(card, NULL, &rlen, state, proto, atr, alen);
    pthread_mutex_unlock(&g_state_lock);
    return r;
}

static LONG list_locked(SCARDCONTEXT ctx, LPSTR multi, DWORD *n)
{
    pthread_mutex_lock(&g_state_lock);
    LONG r = SCardListReaders(ctx, NULL, multi, n);
    pthread_mutex_unlock(&g_state_lock);
    return r;
}

static LONG change_locked(SCARDCONTEXT ctx, DWORD timeout_ms, SCARD_READERSTATE *rs)
{
    pthread_mutex_lock(&g_state_lock);
    LONG r = SCardGetStatusChange(ctx, timeout_ms, rs, 1);
    pthread_mutex_unlock(&g_state_lock);
    return r;
}

static keycard_rc pcsc_rc(LONG r, int connected)
{
    switch (r) {
    case SCARD_S_SUCCESS:
        return KEYCARD_OK;
    case SCARD_W_REMOVED_CARD:
    case SCARD_E_NO_SMARTCARD:
        return connected ? KEYCARD_ERR_CARD_REMOVED : KEYCARD_ERR_NO_CARD;
    case SCARD_W_RESET_CARD:
        return KEYCARD_ERR_CARD_RESET;
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
        return KEYCARD_ERR_NO_SERVICE;
    case SCARD_E_NO_READERS_AVAILABLE:
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_READER_UNAVAILABLE:
        return KEYCARD_ERR_NO_READER;
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_W_UNRESPONSIVE_CARD:
    case SCARD_W_UNSUPPORTED_CARD:
    case SCARD_E_PROTO_MISMATCH:
        return KEYCARD_ERR_NO_CARD;
    case SCARD_E_SHARING_VIOLATION:
        return KEYCARD_ERR_BUSY;
    case SCARD_E_NO_MEMORY:
        return KEYCARD_ERR_MEMORY;
    case SCARD_E_INSUFFICIENT_BUFFER:
        return KEYCARD_ERR_PROTOCOL;
    default:
        return KEYCARD_ERR_TRANSPORT;
    }
}

/*
 * A failed exchange: pcsc-lite answers "transaction failed" when the card
 * vanished before pcscd noticed. Ask about the card itself, and wait a moment
 * (bounded) for pcscd to see it gone, so a pulled card reads as removed.
 */
static keycard_rc pcsc_failed(pcsc_transport *p, LONG r)
{
    keycard_rc rc = pcsc_rc(r, 1);
    if (rc != KEYCARD_ERR_TRANSPORT)
        return rc;
    DWORD state = 0, proto = 0, alen = MAX_ATR_SIZE;
    BYTE atr[MAX_ATR_SIZE];
    LONG s = status_locked(p->card, &state, &proto, atr, &alen);
    if (s != SCARD_S_SUCCESS)
        return pcsc_rc(s, 1) == KEYCARD_ERR_TRANSPORT ? rc : pcsc_rc(s, 1);
    if (!(state & SCARD_PRESENT))
        return KEYCARD_ERR_CARD_REMOVED;
    SCARD_READERSTATE rs;
    memset(&rs, 0, sizeof rs);
    rs.szReader = p->reader;
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    if (change_locked(p->ctx, 0, &rs) != SCARD_S_SUCCESS)
        return rc;
    /* At most 2 s: pcscd polls a reader's card presence a few times a second. */
    for (int i = 0; i < 20 && (rs.dwEventState & SCARD_STATE_PRESENT); i++) {
        rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
        LONG g = change_locked(p->ctx, 100, &rs);
        if (g != SCARD_S_SUCCESS && g != SCARD_E_TIMEOUT)
            return rc;
    }
    if (rs.dwEventState & SCARD_STATE_EMPTY)
        return KEYCARD_ERR_CARD_REMOVED;
    return rc;
}

static void pcsc_close(kcl_transport *t)
{
    pcsc_transport *p = (pcsc_transport *)t;
    if (p->card) {
        if (p->in_transaction)
            SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
        /*
         * Reset on the way out, so the card does not stay unlocked for the
         * next client; a probe that only asked who is there leaves it as it
         * found it (another program may hold a session on it).
         */
        SCardDisconnect(p->card, p->leave_on_close ? SCARD_LEAVE_CARD : SCARD_RESET_CARD);
    }
    if (p->ctx)
        SCardReleaseContext(p->ctx);
    free(p->reader);
    free(p);
}

static keycard_rc pcsc_open(const char *reader, kcl_transport **out)
{
    if (!reader || !*reader || !out)
        return KEYCARD_ERR_ARG;
    pcsc_transport *p = calloc(1, sizeof *p);
    if (!p)
        return KEYCARD_ERR_MEMORY;
    p->base.ops = &kcl_transport_pcsc;
    p->reader = strdup(reader);
    if (!p->reader) {
        free(p);
        return KEYCARD_ERR_MEMORY;
    }
    LONG r = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx);
    if (r != SCARD_S_SUCCESS) {
        p->ctx = 0;
        pcsc_close(&p->base);
        return pcsc_rc(r, 0);
    }
    p->share = SCARD_SHARE_SHARED;
    r = SCardConnect(p->ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
                     &p->card, &p->protocol);
    if (r != SCARD_S_SUCCESS) {
        p->card = 0;
        pcsc_close(&p->base);
        return pcsc_rc(r, 0);
    }
    *out = &p->base;
    return KEYCARD_OK;
}

static const SCARD_IO_REQUEST *pcsc_pci(DWORD protocol)
{
    return protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
}

static keycard_rc pcsc_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len)
{
    pcsc_transport *p = (pcsc_transport *)t;
    DWORD rlen = (DWORD)*resp_len;
    LONG r = SCardTransmit(p->card, pcsc_pci(p->protocol), cmd, (DWORD)len, NULL, resp, &rlen);
    if (r != SCARD_S_SUCCESS)
        return pcsc_failed(p, r);
    if (rlen < 2 || rlen > *resp_len)
        return KEYCARD_ERR_PROTOCOL;
    *resp_len = rlen;
    return KEYCARD_OK;
}

static keycard_rc pcsc_begin(kcl_transport *t)
{
    pcsc_transport *p = (pcsc_transport *)t;
    LONG r = SCardBeginTransaction(p->card);
    if (r != SCARD_S_SUCCESS)
        return pcsc_failed(p, r);
    p->in_transaction = 1;
    return KEYCARD_OK;
}

static keycard_rc pcsc_end(kcl_transport *t)
{
    pcsc_transport *p = (pcsc_transport *)t;
    if (!p->in_transaction)
        return KEYCARD_OK;
    p->in_transaction = 0;
    return pcsc_rc(SCardEndTransaction(p->card, SCARD_LEAVE_CARD), 1);
}

static keycard_rc pcsc_reconnect(kcl_transport *t)
{
    pcsc_transport *p = (pcsc_transport *)t;
    p->in_transaction = 0;
    LONG r = SCardReconnect(p->card, p->share, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
                            SCARD_LEAVE_CARD, &p->protocol);
    return pcsc_rc(r, 1);
}

static keycard_rc pcsc_exclusive(kcl_transport *t, int on)
{
    pcsc_transport *p = (pcsc_transport *)t;
    DWORD want = on ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED;
    if (p->share == want)
        return KEYCARD_OK;
    if (p->in_transaction)
        return KEYCARD_ERR_ARG; /* not inside a hold: a reconnect ends the transaction */
    LONG r = SCardReconnect(p->card, want, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
                            SCARD_LEAVE_CARD, &p->protocol);
    if (r == SCARD_S_SUCCESS)
        p->share = want;
    return pcsc_rc(r, 1);
}

/*
 * pcscd knows, per handle, whether the card was pulled, replaced or reset
 * since: SCardStatus tells without a word to the card itself.
 */
static keycard_rc pcsc_status(kcl_transport *t)
{
    pcsc_transport *p = (pcsc_transport *)t;
    DWORD state = 0, proto = 0, alen = MAX_ATR_SIZE;
    BYTE atr[MAX_ATR_SIZE];
    LONG r = status_locked(p->card, &state, &proto, atr, &alen);
    if (r != SCARD_S_SUCCESS)
        return pcsc_rc(r, 1);
    if (!(state & SCARD_PRESENT))
        return KEYCARD_ERR_CARD_REMOVED;
    return KEYCARD_OK;
}

static const char *pcsc_name(const kcl_transport *t)
{
    return ((const pcsc_transport *)t)->reader;
}

static void pcsc_leave_on_close(kcl_transport *t);
static keycard_rc pcsc_atr(kcl_transport *t, uint8_t *atr, size_t *len);

const kcl_transport_ops kcl_transport_pcsc = {
    .kind = "pcsc",
    .open = pcsc_open,
    .transmit = pcsc_transmit,
    .begin_transaction = pcsc_begin,
    .end_transaction = pcsc_end,
    .reconnect = pcsc_reconnect,
    .status = pcsc_status,
    .name = pcsc_name,
    .close = pcsc_close,
    .leave_on_close = pcsc_leave_on_close,
    .atr = pcsc_atr,
    .exclusive = pcsc_exclusive,
};

static void pcsc_leave_on_close(kcl_transport *t)
{
    ((pcsc_transport *)t)->leave_on_close = 1;
}

static keycard_rc pcsc_atr(kcl_transport *t, uint8_t *atr, size_t *len)
{
    pcsc_transport *p = (pcsc_transport *)t;
    DWORD state = 0, proto = 0, alen = MAX_ATR_SIZE;
    BYTE a[MAX_ATR_SIZE];
    LONG r = status_locked(p->card, &state, &proto, a, &alen);
    if (r != SCARD_S_SUCCESS)
        return pcsc_rc(r, 1);
    if (alen > *len)
        return KEYCARD_ERR_BUFFER;
    memcpy(atr, a, alen);
    *len = alen;
    return KEYCARD_OK;
}

keycard_rc kcl_pcsc_list(char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return KEYCARD_ERR_ARG;
    SCARDCONTEXT ctx;
    LONG r = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (r != SCARD_S_SUCCESS)
        return pcsc_rc(r, 0);
    keycard_rc rc = KEYCARD_OK;
    char *multi = NULL;
    DWORD n = 0;
    r = list_locked(ctx, NULL, &n);
    if (r == SCARD_S_SUCCESS && n > 0) {
        multi = calloc(1, n + 1);
        if (!multi) {
            rc = KEYCARD_ERR_MEMORY;
            goto out;
        }
        r = list_locked(ctx, multi, &n);
    }
    if (r != SCARD_S_SUCCESS) {
        rc = pcsc_rc(r, 0);
        goto out;
    }
    if (!multi || !*multi) {
        rc = KEYCARD_ERR_NO_READER;
        goto out;
    }
    /* A multi-string "a\0b\0\0" becomes "a\nb\0". */
    size_t used = 0;
    for (const char *s = multi; *s; s += strlen(s) + 1) {
        size_t l = strlen(s);
        if (used + (used ? 1 : 0) + l + 1 > cap) {
            rc = KEYCARD_ERR_BUFFER;
            goto out;
        }
        if (used)
            buf[used++] = '\n';
        memcpy(buf + used, s, l);
        used += l;
    }
    buf[used] = '\0';
out:
    if (rc != KEYCARD_OK)
        buf[0] = '\0';
    free(multi);
    SCardReleaseContext(ctx);
    return rc;
}

keycard_rc kcl_pcsc_probe(const char *reader, int *present, int *in_use, uint8_t *atr,
                          size_t *atr_len)
{
    if (!reader || !present || !in_use || !atr || !atr_len)
        return KEYCARD_ERR_ARG;
    SCARDCONTEXT ctx;
    LONG r = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (r != SCARD_S_SUCCESS)
        return pcsc_rc(r, 0);
    /* pcscd's own view of the reader: no connection, nothing sent to the card. */
    SCARD_READERSTATE rs;
    memset(&rs, 0, sizeof rs);
    rs.szReader = reader;
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    r = change_locked(ctx, 0, &rs);
    keycard_rc rc = pcsc_rc(r, 0);
    if (rc == KEYCARD_OK && (rs.dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)))
        rc = KEYCARD_ERR_NO_READER;
    if (rc == KEYCARD_OK) {
        *present = (rs.dwEventState & SCARD_STATE_PRESENT) != 0 &&
                   !(rs.dwEventState & SCARD_STATE_MUTE);
        *in_use = (rs.dwEventState & SCARD_STATE_EXCLUSIVE) != 0;
        size_t n = *present && rs.cbAtr <= *atr_len ? rs.cbAtr : 0;
        memcpy(atr, rs.rgbAtr, n);
        *atr_len = n;
    }
    SCardReleaseContext(ctx);
    return rc;
}
