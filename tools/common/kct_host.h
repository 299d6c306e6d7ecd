/*
 * kct_host.h - host hygiene shared by every tool and by kc-vcard: a
 * length-checked appender for text built from input, process hardening
 * (no core dumps while secrets are held), and files written private (0600,
 * complete or not at all).
 *
 * Nothing here needs libkeycard or jansson, so kc-vcard (which links
 * neither) uses this file alone; the other tools get it through kct.h.
 */
#ifndef KCT_HOST_H
#define KCT_HOST_H

#include <stddef.h>
#include <stdio.h>

/* ---- appender ----------------------------------------------------------------- */

/*
 * A caller-owned buffer of cap bytes being filled. An append that does not
 * fit writes nothing, sets over, and fails; once over, every later append
 * fails too, so a builder may append a whole record and check once at the
 * end. The buffer is never NUL-terminated behind the caller's back.
 */
typedef struct kct_buf {
    char *p;
    size_t cap;
    size_t len;
    int over; /* an append did not fit (sticky) */
} kct_buf;

void kct_buf_init(kct_buf *b, void *mem, size_t cap);

/* Append n bytes / one byte / a string. 0, or -1 when it does not fit. */
int kct_buf_add(kct_buf *b, const void *p, size_t n);
int kct_buf_addc(kct_buf *b, char c);
int kct_buf_adds(kct_buf *b, const char *s);

/*
 * Append n bytes as one CSV field in double quotes, every '"' doubled, so
 * that any byte string stays one field. 0, or -1 when it does not fit.
 */
int kct_buf_add_csv(kct_buf *b, const void *p, size_t n);

/* NUL after the data (not counted in len). 0, or -1 when no byte is left. */
int kct_buf_nul(kct_buf *b);

/* Wipe the whole buffer (data and spare room) and empty it. */
void kct_buf_wipe(kct_buf *b);

/* ---- process ------------------------------------------------------------------ */

/*
 * Call first thing in main of every program that holds a secret (PIN,
 * admin key, card contents): no core file is written (RLIMIT_CORE 0, soft
 * and hard) and the process is not dumpable (prctl PR_SET_DUMPABLE 0: no
 * core, and other processes of the same user cannot ptrace it or read its
 * memory or environment through /proc). Returns 0, or -1 (errno set) when
 * one of the two could not be set; the other is set anyway.
 */
int kct_harden_process(void);

/* ---- private files ------------------------------------------------------------- */

/*
 * A file that may hold audit or card data is written 0600 whatever the
 * umask, to a temporary name beside it (created O_EXCL), and renamed over
 * path only when complete: a reader never sees half a file, and a file or
 * symbolic link already at path is replaced, never written through.
 */
typedef struct kct_private {
    FILE *f;              /* write the contents here */
    char tmp[4096 + 16];  /* the temporary name */
    char path[4096];      /* the final name */
} kct_private;

/* Create the temporary file. 0, or -1 with errno set (nothing created). */
int kct_private_create(kct_private *pf, const char *path);

/*
 * Flush, sync and close the temporary file and rename it to the final name.
 * 0, or -1 with errno set (the temporary file removed, path untouched).
 */
int kct_private_commit(kct_private *pf);

/* Give up: close and remove the temporary file. */
void kct_private_abort(kct_private *pf);

#endif /* KCT_HOST_H */
