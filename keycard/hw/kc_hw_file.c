/*
 * kc_hw_file.c - kc_hw over a memory-mapped file (see kc_hw_file.h): the
 * flash image of a virtual card. Host-side simulation, not firmware, so it
 * uses libc freely.
 */
#include "kc_hw_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kc_err.h"

static const uint8_t *file_map(void *ctx)
{
    return ((kc_hw_file *)ctx)->mem;
}

static int file_program(void *ctx, size_t off, const uint8_t *data, size_t len)
{
    kc_hw_file *hf = ctx;
    if (!hf->mem || off > hf->size || len > hf->size - off)
        return KC_ERR_FLASH;
    for (size_t i = 0; i < len; i++)
        hf->mem[off + i] &= data[i];
    hf->bytes_programmed += len;
    hf->programs++;
    return 0;
}

static int file_erase(void *ctx, size_t page)
{
    kc_hw_file *hf = ctx;
    if (!hf->mem || page >= hf->size / hf->page_size)
        return KC_ERR_FLASH;
    memset(hf->mem + page * hf->page_size, 0xFF, hf->page_size);
    hf->erase_count[page]++;
    hf->erases++;
    return 0;
}

static int file_rng(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return KC_ERR_RNG;
        got += (size_t)n;
    }
    return 0;
}

static uint32_t file_clock(void *ctx)
{
    (void)ctx;
    time_t t = time(NULL);
    return t < 0 ? 0 : (uint32_t)t;
}

static int fail(kc_hw_file *hf, int rc, const char *what, const char *path)
{
    int e = errno;
    if (rc == KC_ERR_FLASH)
        snprintf(hf->err, sizeof hf->err, "%s %s: %s", what, path, strerror(e));
    else
        snprintf(hf->err, sizeof hf->err, "%s: %s", path, what);
    kc_hw_file_close(hf);
    errno = e;
    return rc;
}

/* Fill a new file with 0xFF, the erased state, a page at a time. */
static int fill_erased(int fd, size_t size, size_t page_size)
{
    uint8_t buf[4096];
    memset(buf, 0xFF, sizeof buf);
    (void)page_size;
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        ssize_t w = pwrite(fd, buf, n, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return fsync(fd);
}

/*
 * A new blank image, whole or not at all: written to PATH.new, synced, then
 * renamed over PATH (absent or empty). A full disk leaves no half image.
 * Returns 0 or -1 (errno tells).
 */
static int create_blank(const char *path, size_t size, size_t page_size)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = fill_erased(fd, size, page_size);
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        rc = -1, e = errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1, e = errno;
    if (rc != 0) {
        unlink(tmp);
        errno = e;
    }
    return rc;
}

int kc_hw_file_open(kc_hw_file *hf, const char *path, size_t size, size_t page_size,
                    kc_hw *out)
{
    struct stat st;

    if (!hf)
        return KC_ERR_ARG;
    memset(hf, 0, sizeof *hf);
    hf->fd = -1;
    if (!path || !out || size == 0 || page_size == 0 || size % page_size ||
        size / page_size > KC_HW_FILE_MAX_PAGES) {
        snprintf(hf->err, sizeof hf->err, "flash geometry unusable (size %zu, page %zu)", size,
                 page_size);
        return KC_ERR_ARG;
    }
    hf->size = size;
    hf->page_size = page_size;
    if ((stat(path, &st) != 0 && errno == ENOENT) || (st.st_size == 0 && S_ISREG(st.st_mode))) {
        if (create_blank(path, size, page_size) != 0)
            return fail(hf, KC_ERR_FLASH, "cannot create flash image", path);
    }
    hf->fd = open(path, O_RDWR | O_CLOEXEC);
    if (hf->fd < 0)
        return fail(hf, KC_ERR_FLASH, "cannot open flash image", path);
    if (flock(hf->fd, LOCK_EX | LOCK_NB) != 0)
        return fail(hf, KC_ERR_STATE, "flash image is in use by another process", path);
    if (fstat(hf->fd, &st) != 0)
        return fail(hf, KC_ERR_FLASH, "cannot stat flash image", path);
    if ((size_t)st.st_size != size) {
        char why[96];
        snprintf(why, sizeof why, "flash image is %lld bytes, this card needs %zu",
                 (long long)st.st_size, size);
        return fail(hf, KC_ERR_BAD_DATA, why, path);
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, hf->fd, 0);
    if (m == MAP_FAILED)
        return fail(hf, KC_ERR_FLASH, "cannot map flash image", path);
    hf->mem = m;

    memset(out, 0, sizeof *out);
    out->flash.ctx = hf;
    out->flash.size = size;
    out->flash.page_size = page_size;
    out->flash.map = file_map;
    out->flash.program = file_program;
    out->flash.erase = file_erase;
    out->ctx = hf;
    out->rng = file_rng;
    out->clock = file_clock;
    return 0;
}

void kc_hw_file_close(kc_hw_file *hf)
{
    if (!hf)
        return;
    if (hf->mem) {
        msync(hf->mem, hf->size, MS_SYNC);
        munmap(hf->mem, hf->size);
        hf->mem = NULL;
    }
    if (hf->fd >= 0) {
        close(hf->fd); /* releases the flock */
        hf->fd = -1;
    }
}
