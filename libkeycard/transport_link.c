/*
 * transport_link.c - connections the application supplies (keycard_link):
 * the registry of "SCHEME:" openers, and the transport that carries APDUs
 * over a link. libkeycard.so holds no card firmware; the simulator
 * (libkeycard-sim) reaches it this way, like any other application link.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycard.h"
#include "transport.h"

#define MAX_SCHEMES 8
#define SCHEME_MAX 15

static pthread_mutex_t schemes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[SCHEME_MAX + 1];
    keycard_link_opener open;
} schemes[MAX_SCHEMES];

static _Thread_local char open_detail[256];

KEYCARD_API const char *keycard_open_detail(void)
{
    return open_detail;
}

void kcl_open_detail_reset(void)
{
    open_detail[0] = '\0';
}

/* Length of a valid scheme name at the start of s, ended by end; 0 when not one. */
static size_t scheme_len(const char *s, char end)
{
    size_t n = 0;
    while (n <= SCHEME_MAX && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
                               s[n] == '-'))
        n++;
    return n >= 1 && n <= SCHEME_MAX && s[n] == end ? n : 0;
}

KEYCARD_API keycard_rc keycard_register_scheme(const char *scheme, keycard_link_opener open)
{
    size_t n = scheme ? scheme_len(scheme, '\0') : 0;
    if (!n || strcmp(scheme, "pcsc") == 0)
        return KEYCARD_ERR_ARG;
    keycard_rc rc = KEYCARD_OK;
    pthread_mutex_lock(&schemes_lock);
    int at = -1, free_at = -1;
    for (int i = 0; i < MAX_SCHEMES; i++) {
        if (schemes[i].open && strcmp(schemes[i].name, scheme) == 0)
            at = i;
        else if (!schemes[i].open && free_at < 0)
            free_at = i;
    }
    if (at < 0 && open) {
        if (free_at < 0) {
            rc = KEYCARD_ERR_MEMORY;
        } else {
            at = free_at;
            memcpy(schemes[at].name, scheme, n + 1);
        }
    }
    if (at >= 0)
        schemes[at].open = open; /* NULL frees the entry */
    pthread_mutex_unlock(&schemes_lock);
    return rc;
}

/* The opener registered for where's scheme, or NULL; *arg: the rest. */
static keycard_link_opener lookup(const char *where, const char **arg)
{
    size_t n = scheme_len(where, ':');
    keycard_link_opener open = NULL;
    if (!n)
        return NULL;
    pthread_mutex_lock(&schemes_lock);
    for (int i = 0; i < MAX_SCHEMES && !open; i++)
        if (schemes[i].open && strncmp(schemes[i].name, where, n) == 0 && !schemes[i].name[n])
            open = schemes[i].open;
    pthread_mutex_unlock(&schemes_lock);
    *arg = where + n + 1;
    return open;
}

typedef struct link_transport {
    kcl_transport base;
    keycard_link link;
    char *where; /* "SCHEME:ARG", the name when the link has none */
} link_transport;

static keycard_rc link_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                                size_t *resp_len)
{
    link_transport *l = (link_transport *)t;
    size_t cap = *resp_len;
    keycard_rc rc = l->link.transmit(l->link.ctx, cmd, len, resp, resp_len);
    if (rc == KEYCARD_OK && (*resp_len < 2 || *resp_len > cap))
        return KEYCARD_ERR_PROTOCOL;
    return rc;
}

/* One process (or the link's own) decides who talks: nothing to lock or reconnect. */
static keycard_rc link_nothing(kcl_transport *t)
{
    (void)t;
    return KEYCARD_OK;
}

static const char *link_name(const kcl_transport *t)
{
    const link_transport *l = (const link_transport *)t;
    const char *n = l->link.name ? l->link.name(l->link.ctx) : NULL;
    return n ? n : l->where;
}

static void link_close(kcl_transport *t)
{
    link_transport *l = (link_transport *)t;
    if (l->link.close)
        l->link.close(l->link.ctx);
    free(l->where);
    free(l);
}

static const kcl_transport_ops link_ops = {
    .kind = "link",
    .transmit = link_transmit,
    .begin_transaction = link_nothing,
    .end_transaction = link_nothing,
    .reconnect = link_nothing,
    .name = link_name,
    .close = link_close,
};

keycard_rc kcl_link_wrap(const keycard_link *link, const char *where, kcl_transport **out)
{
    /* Only the fields a link of this size has; the rest stays NULL. */
    if (!link || link->size < offsetof(keycard_link, transmit) + sizeof link->transmit ||
        !link->transmit) {
        if (link && link->size >= offsetof(keycard_link, close) + sizeof link->close &&
            link->close)
            link->close(link->ctx);
        return KEYCARD_ERR_ARG;
    }
    link_transport *l = calloc(1, sizeof *l);
    char *w = strdup(where ? where : "link");
    if (!l || !w) {
        free(l);
        free(w);
        if (link->size >= offsetof(keycard_link, close) + sizeof link->close && link->close)
            link->close(link->ctx);
        return KEYCARD_ERR_MEMORY;
    }
    memcpy(&l->link, link, link->size < sizeof l->link ? link->size : sizeof l->link);
    l->link.size = sizeof l->link;
    l->where = w;
    l->base.ops = &link_ops;
    *out = &l->base;
    return KEYCARD_OK;
}

keycard_rc kcl_link_open(const char *where, keycard_link_kind kind, kcl_transport **out,
                         int *handled)
{
    const char *arg = NULL;
    keycard_link_opener open = where ? lookup(where, &arg) : NULL;
    *handled = 1;
    if (!open) {
        if (where && strncmp(where, "sim:", 4) == 0) {
            snprintf(open_detail, sizeof open_detail,
                     "sim: images need the simulator library (libkeycard-sim, keycard_sim_enable)");
            return KEYCARD_ERR_UNSUPPORTED;
        }
        *handled = 0; /* not a link: the caller tries PC/SC */
        return KEYCARD_OK;
    }
    keycard_link link;
    memset(&link, 0, sizeof link);
    keycard_rc rc = open(arg, kind, &link, open_detail, sizeof open_detail);
    open_detail[sizeof open_detail - 1] = '\0';
    if (rc != KEYCARD_OK)
        return rc;
    return kcl_link_wrap(&link, where, out);
}
