/*
 * profile.h - kc-issue's inputs: the issuance profile (JSON: envelope key,
 * seeding way, padding bucket, template steps with typed parameters), the
 * per-card records (CSV) and the encoding of a step's parameters into the
 * bytes the key card's WRAP takes. docs/issuance-profile.md is the reference.
 *
 * No card I/O here, so unit tests can check the parsing and the encoding.
 */
#ifndef KCI_PROFILE_H
#define KCI_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "kct.h"

/* Limits: the key card takes at most 64 steps per session. */
#define KCI_STEPS_MAX 64
#define KCI_PARAMS_MAX 32     /* parameters of one step */
#define KCI_STEP_BYTES_MAX 1024 /* encoded parameter bytes of one step */
#define KCI_NAME_MAX 64

typedef enum kci_param_kind {
    KCI_P_U8 = 1,
    KCI_P_U16,
    KCI_P_U32,
    KCI_P_HEX,       /* raw bytes, no length */
    KCI_P_TEXT,      /* len(1) || UTF-8 bytes */
    KCI_P_BYTES_HEX, /* len(1) || bytes */
    KCI_P_KEY,       /* key number (1 byte) */
    KCI_P_CSV        /* len(1) || the text of a CSV column of this card's record */
} kci_param_kind;

typedef struct kci_param {
    kci_param_kind kind;
    uint32_t value;      /* U8/U16/U32/KEY */
    uint8_t bytes[255];  /* HEX/TEXT/BYTES_HEX */
    size_t len;
    char column[KCI_NAME_MAX + 1]; /* CSV */
} kci_param;

typedef struct kci_step {
    unsigned template_no; /* 1..254 */
    char label[KCI_NAME_MAX + 1]; /* optional "label" of the step, for messages */
    size_t n_params;
    kci_param params[KCI_PARAMS_MAX];
} kci_step;

typedef struct kci_profile {
    char name[KCI_NAME_MAX + 1]; /* optional "name" */
    unsigned key;                /* envelope key number 1..254 */
    int way;                     /* KCI_WAY_* */
    unsigned bucket;             /* 64, 128, 256, 512 or 1024 */
    int pack;                    /* 1: packed sessions where the target takes them (default) */
    int lock;                    /* 1: the last step locks and answers the completion MAC */
    size_t n_steps;
    kci_step steps[KCI_STEPS_MAX];
    int uses_csv;                /* 1 when a parameter names a CSV column */
} kci_profile;

/*
 * Load and check an issuance profile; every problem is printed with its JSON
 * path. Returns 0, or -1 (the count of problems is in e->count).
 */
int kci_profile_load(const char *file, kci_profile *p);

/* Same from a parsed JSON object (for tests); errors go to e. */
int kci_profile_parse(json_t *root, kct_errs *e, kci_profile *p);

/* Name of a way ("target-seed", ...). */
const char *kci_way_name(int way);

/* ---- records (CSV) ------------------------------------------------------ */

/*
 * A CSV file: the first row names the columns; every other row is one card's
 * record. Fields may be double-quoted ("" is a quote inside). A column
 * named "serial" (16 hex digits) ties a record to a card.
 */
typedef struct kci_csv {
    size_t n_cols, n_rows;
    char **head;  /* n_cols names */
    char ***rows; /* n_rows x n_cols fields */
    size_t *line; /* the line each row starts on (for messages) */
} kci_csv;

/*
 * Parse text (len bytes), checked whole before anything is used: a UTF-8
 * byte order mark at the start is skipped; refused with the line and column
 * named: a NUL byte, invalid UTF-8, an empty or repeated column name, a row
 * with another number of fields, a "serial" that is not 16 hex digits or
 * appears twice, and a file with a header but no record.
 * Returns 0, or -1 with the reason in err.
 */
int kci_csv_parse(const char *text, size_t len, kci_csv *c, char *err, size_t errcap);
/* Read and parse a file. Returns 0 or -1 with the reason in err. */
int kci_csv_load(const char *file, kci_csv *c, char *err, size_t errcap);
void kci_csv_free(kci_csv *c);
/* Column index of name, or -1. */
int kci_csv_col(const kci_csv *c, const char *name);
/*
 * The record of a card: the row whose "serial" column equals serial_hex
 * (case-insensitive) when the column exists, else row `next` (in order).
 * Returns the row index or -1 when there is none.
 */
long kci_csv_pick(const kci_csv *c, const char *serial_hex, size_t next);

/*
 * Check that every CSV column the profile names exists. Returns 0, or -1
 * with the missing column printed.
 */
int kci_csv_check(const kci_profile *p, const kci_csv *c);

/*
 * Check that every column of a records file is used (by a parameter of the
 * profile, or "serial"), so that a misspelt column is not silently ignored.
 * Returns 0, or -1 with each unused column printed (one line each).
 */
int kci_csv_unused(const kci_profile *p, const kci_csv *c);

/* ---- encoding ----------------------------------------------------------- */

/*
 * Encode step s's parameters, in order, into out (cap bytes): u8/u16/u32
 * big-endian, hex as it is, text/bytes-hex/csv as len(1) || bytes, key as one
 * byte. row is this card's CSV record (NULL without records). Returns the
 * length, or -1 with the reason in err (a CSV column missing or too long,
 * or out too small).
 */
long kci_step_encode(const kci_step *s, const kci_csv *c, long row, uint8_t *out, size_t cap,
                     char *err, size_t errcap);

#endif /* KCI_PROFILE_H */
