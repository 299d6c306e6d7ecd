/*
 * kc_hw_file.h - the hardware boundary (kc_hw.h) simulated over a file, so a
 * virtual card keeps its flash between runs: the file is the flash image,
 * mapped shared, with NOR semantics (program ANDs, erase sets 0xFF); the RNG is
 * getrandom(), the clock time(). Also counts wear for benchmarks.
 * Host-side simulation, not firmware.
 */
#ifndef KC_HW_FILE_H
#define KC_HW_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_hw.h"

/* Most pages a simulated flash may have (the key card has 64, the target 32). */
#define KC_HW_FILE_MAX_PAGES 1024

typedef struct kc_hw_file {
    int fd;
    uint8_t *mem;          /* the shared mapping of the whole file */
    size_t size;
    size_t page_size;
    uint32_t erase_count[KC_HW_FILE_MAX_PAGES]; /* per page, size / page_size used */
    uint64_t bytes_programmed;
    uint64_t programs;     /* program operations */
    uint64_t erases;       /* erase operations */
    char err[160];         /* why kc_hw_file_open failed, one line */
} kc_hw_file;

/*
 * Open (or create, filled with 0xFF) the flash image at path, map it and fill
 * *out. The file is locked (flock) so two virtual cards never share one image.
 * Returns 0 or:
 *   KC_ERR_ARG      size 0, not a multiple of page_size, or more than
 *                   KC_HW_FILE_MAX_PAGES pages
 *   KC_ERR_BAD_DATA the file exists with another size (it is left untouched)
 *   KC_ERR_STATE    another process holds the image
 *   KC_ERR_FLASH    open/create/mmap failed (errno tells more)
 * On failure hf->err says why in words.
 */
int kc_hw_file_open(kc_hw_file *hf, const char *path, size_t size, size_t page_size,
                    kc_hw *out);

/* Flush (msync), unmap and close. Safe on a closed or failed kc_hw_file. */
void kc_hw_file_close(kc_hw_file *hf);

#endif /* KC_HW_FILE_H */
