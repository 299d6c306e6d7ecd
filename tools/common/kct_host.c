/*
 * kct_host.c - host hygiene shared by the tools (kct_host.h): the
 * length-checked appender, process hardening, private files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kct_host.h"

/* ---- appender ----------------------------------------------------------------- */

void kct_buf_init(kct_buf *b, void *mem, size_t cap)
{
    b->p = mem;
    b->cap = mem ? cap : 0;
    b->len = 0;
    b->over = 0;
}

int kct_buf_add(kct_buf *b, const void *p, size_t n)
{
    if (b->over || n > b->cap - b->len) {
        b->over = 1;
        return -1;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int kct_buf_addc(kct_buf *b, char c)
{
    return kct_buf_add(b, &c, 1);
}

int kct_buf_adds(kct_buf *b, const char *s)
{
    return kct_buf_add(b, s, strlen(s));
}

int kct_buf_add_csv(kct_buf *b, const void *p, size_t n)
{
    const char *s = p;
    size_t i;

    kct_buf_addc(b, '"');
    for (i = 0; i < n && !b->over; i++) {
        if (s[i] == '"')
            kct_buf_addc(b, '"');
        kct_buf_addc(b, s[i]);
    }
    kct_buf_addc(b, '"');
    return b->over ? -1 : 0;
}

int kct_buf_nul(kct_buf *b)
{
    if (b->over || b->len >= b->cap) {
        b->over = 1;
        return -1;
    }
    b->p[b->len] = '\0';
    return 0;
}

void kct_buf_wipe(kct_buf *b)
{
    if (b->p && b->cap)
        explicit_bzero(b->p, b->cap);
    b->len = 0;
    b->over = 0;
}

/* ---- process ------------------------------------------------------------------ */

int kct_harden_process(void)
{
    static const struct rlimit none = {0, 0};
    int rc = 0, err = 0;

    if (setrlimit(RLIMIT_CORE, &none) != 0) {
        err = errno;
        rc = -1;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        err = errno;
        rc = -1;
    }
    if (rc)
        errno = err;
    return rc;
}

/* ---- private files ------------------------------------------------------------- */

int kct_private_create(kct_private *pf, const char *path)
{
    int fd, n;

    memset(pf, 0, sizeof *pf);
    if (strlen(path) >= sizeof pf->path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(pf->path, path);
    n = snprintf(pf->tmp, sizeof pf->tmp, "%s.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof pf->tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* mkstemp: O_CREAT | O_EXCL, mode 0600 (a umask can only take bits away). */
    fd = mkostemp(pf->tmp, O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) != 0 || (pf->f = fdopen(fd, "w")) == NULL) {
        int err = errno;
        close(fd);
        unlink(pf->tmp);
        errno = err;
        return -1;
    }
    return 0;
}

int kct_private_commit(kct_private *pf)
{
    int bad = 0, err = 0;

    if (!pf->f) {
        errno = EBADF;
        return -1;
    }
    if (fflush(pf->f) != 0 || ferror(pf->f) || fsync(fileno(pf->f)) != 0) {
        bad = 1;
        err = errno ? errno : EIO;
    }
    if (fclose(pf->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    pf->f = NULL;
    if (!bad && rename(pf->tmp, pf->path) != 0) {
        bad = 1;
        err = errno;
    }
    if (bad) {
        unlink(pf->tmp);
        errno = err;
        return -1;
    }
    return 0;
}

void kct_private_abort(kct_private *pf)
{
    if (pf->f) {
        fclose(pf->f);
        pf->f = NULL;
        unlink(pf->tmp);
    }
}
