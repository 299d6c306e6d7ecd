/*
 * show.c - read an issued card back as a holder's terminal would: the file
 * list (GET DATA DF11), then SELECT and READ BINARY / READ RECORD of every
 * file whose read right is "always". Only operational commands, all in
 * plaintext, through keycard_target_transmit.
 */
#include <ctype.h>
#include <string.h>

#include "station.h"

#define FT_FOLDER 0x01
#define FT_KEYS 0x02
#define FT_BINARY 0x03
#define FT_RECORD 0x04
#define SHOW_BYTES_MAX 48 /* content shown per file or record */
#define SHOW_ENTRIES_MAX 128

typedef struct entry {
    unsigned fid, parent, type, size, rd, ch;
    char name[33];
} entry;

/* An access condition in words. */
static const char *ac_name(unsigned ac, char *buf, size_t cap)
{
    if (ac == 0x00)
        return "always";
    if (ac == 0xFF)
        return "never";
    if ((ac & 0xF0) == 0x10)
        snprintf(buf, cap, "PIN %u", ac & 0x0F);
    else if ((ac & 0xF0) == 0x20)
        snprintf(buf, cap, "key %u", ac & 0x0F);
    else
        snprintf(buf, cap, "%02X", ac);
    return buf;
}

static keycard_rc xmit(keycard_target *t, const uint8_t *apdu, size_t n, uint8_t *resp,
                       size_t *rlen, unsigned *sw)
{
    keycard_rc rc = keycard_target_transmit(t, apdu, n, resp, rlen);

    if (rc != KEYCARD_OK)
        return rc;
    if (*rlen < 2)
        return KEYCARD_ERR_PROTOCOL;
    *rlen -= 2;
    *sw = (unsigned)resp[*rlen] << 8 | resp[*rlen + 1];
    return KEYCARD_OK;
}

/* Content as text when printable, else hex; cut at SHOW_BYTES_MAX. */
static void print_bytes(FILE *f, const uint8_t *b, size_t n)
{
    size_t i, m = n > SHOW_BYTES_MAX ? SHOW_BYTES_MAX : n, used = m;
    int text = m > 0;

    /* Trailing zero bytes are unwritten space, not content. */
    while (used > 0 && b[used - 1] == 0)
        used--;
    for (i = 0; i < used; i++)
        if (!isprint(b[i]))
            text = 0;
    if (text && used > 0) {
        fputc('"', f);
        fwrite(b, 1, used, f);
        fputc('"', f);
        return; /* the rest is unwritten (zero) space */
    } else {
        for (i = 0; i < m; i++)
            fprintf(f, "%02X", b[i]);
    }
    if (n > m)
        fprintf(f, "... (%zu bytes)", n);
}

static void show_file(keycard_target *t, FILE *f, const entry *e, const char *pad)
{
    uint8_t apdu[8] = {0x00, 0xA4, 0x00, 0x0C, 0x02, (uint8_t)(e->fid >> 8), (uint8_t)e->fid};
    uint8_t resp[300], data[4096];
    size_t rlen = sizeof resp, have = 0;
    unsigned sw;
    kct_buf b;

    if (xmit(t, apdu, 7, resp, &rlen, &sw) != KEYCARD_OK || sw != 0x9000) {
        fprintf(f, "%s  (SELECT refused)\n", pad);
        return;
    }
    if (e->type == FT_BINARY) {
        /* The card is not trusted to answer only what was asked: a bounded copy. */
        kct_buf_init(&b, data, sizeof data);
        while (have < e->size && have < sizeof data) {
            size_t want = e->size - have > 128 ? 128 : e->size - have;
            uint8_t rb[5] = {0x00, 0xB0, (uint8_t)(have >> 8), (uint8_t)have, (uint8_t)want};
            rlen = sizeof resp;
            if (xmit(t, rb, 5, resp, &rlen, &sw) != KEYCARD_OK || sw != 0x9000 || rlen == 0 ||
                rlen > want || kct_buf_add(&b, resp, rlen) != 0)
                break;
            have = b.len;
        }
        fprintf(f, "%s  = ", pad);
        print_bytes(f, data, have);
        fputc('\n', f);
        return;
    }
    for (unsigned r = 1; r < 256; r++) {
        uint8_t rr[5] = {0x00, 0xB2, (uint8_t)r, 0x04, 0x00};
        rlen = sizeof resp;
        if (xmit(t, rr, 5, resp, &rlen, &sw) != KEYCARD_OK || sw != 0x9000)
            break;
        fprintf(f, "%s  #%u = ", pad, r);
        print_bytes(f, resp, rlen);
        fputc('\n', f);
    }
}

static void show_level(keycard_target *t, FILE *f, const entry *es, size_t n, unsigned parent,
                       int depth, const char *indent)
{
    char pad[160], a1[16], a2[16];
    size_t i;
    int d;

    if (depth > 8)
        return;
    for (i = 0; i < n; i++) {
        const entry *e = &es[i];
        if (e->parent != parent || e->fid == parent)
            continue;
        snprintf(pad, sizeof pad, "%s", indent);
        for (d = 0; d < depth; d++)
            strncat(pad, "  ", sizeof pad - strlen(pad) - 1);
        switch (e->type) {
        case FT_FOLDER:
            fprintf(f, "%s%04X folder \"%s\" quota %u, read %s, change %s\n", pad, e->fid,
                    e->name, e->size, ac_name(e->rd, a1, sizeof a1), ac_name(e->ch, a2, sizeof a2));
            show_level(t, f, es, n, e->fid, depth + 1, indent);
            break;
        case FT_KEYS:
            fprintf(f, "%s%04X key file (keys never readable), change %s\n", pad, e->fid,
                    ac_name(e->ch, a2, sizeof a2));
            break;
        default:
            fprintf(f, "%s%04X %s file, %u bytes, read %s, change %s\n", pad, e->fid,
                    e->type == FT_RECORD ? "record" : "transparent", e->size,
                    ac_name(e->rd, a1, sizeof a1), ac_name(e->ch, a2, sizeof a2));
            if (e->rd == 0x00)
                show_file(t, f, e, pad);
            else
                fprintf(f, "%s  (read needs %s: not shown)\n", pad, a1);
            break;
        }
    }
}

int kci_show_tree(keycard_target *t, FILE *f, const char *indent)
{
    static const uint8_t gd[5] = {0x00, 0xCA, 0xDF, 0x11, 0x00};
    uint8_t resp[4096 + 2];
    entry es[SHOW_ENTRIES_MAX];
    size_t rlen = sizeof resp, off = 0, n = 0, i;
    unsigned sw;
    keycard_rc rc = xmit(t, gd, sizeof gd, resp, &rlen, &sw);

    if (rc != KEYCARD_OK)
        return rc;
    if (sw != 0x9000)
        return KEYCARD_ERR_CARD;
    while (off + 10 <= rlen && n < SHOW_ENTRIES_MAX) {
        entry *e = &es[n++];
        size_t nl = resp[off + 9];
        e->fid = (unsigned)resp[off] << 8 | resp[off + 1];
        e->parent = (unsigned)resp[off + 2] << 8 | resp[off + 3];
        e->type = resp[off + 4];
        e->size = (unsigned)resp[off + 5] << 8 | resp[off + 6];
        e->rd = resp[off + 7];
        e->ch = resp[off + 8];
        if (off + 10 + nl > rlen)
            return KEYCARD_ERR_PROTOCOL;
        nl = nl > 32 ? 32 : nl;
        memcpy(e->name, resp + off + 10, nl);
        e->name[nl] = '\0';
        off += 10 + resp[off + 9];
    }
    /* Roots: the master folder (its own parent, or a parent not in the list). */
    for (i = 0; i < n; i++) {
        size_t k;
        int has_parent = 0;
        for (k = 0; k < n; k++)
            if (es[k].fid == es[i].parent && k != i)
                has_parent = 1;
        if (has_parent)
            continue;
        if (es[i].type == FT_FOLDER) {
            char a1[16], a2[16];
            fprintf(f, "%s%04X folder \"%s\" quota %u, read %s, change %s\n", indent, es[i].fid,
                    es[i].name, es[i].size, ac_name(es[i].rd, a1, sizeof a1),
                    ac_name(es[i].ch, a2, sizeof a2));
            show_level(t, f, es, n, es[i].fid, 1, indent);
        }
    }
    return KEYCARD_OK;
}
