/*
 * kct.h - helpers shared by the command-line tools (kc-admin, kc-startup):
 * messages and exit codes, secret input (JSON value, file, terminal prompt
 * without echo, environment), hex, files relative to a profile, JSON checks
 * that name the JSON path of every error, and the "where" options.
 *
 * Only the public API (keycard.h) is used below this; nothing here knows the
 * card's internals.
 */
#ifndef KCT_H
#define KCT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "keycard.h"
#include "keycard_proto.h"
#include "kct_host.h"

/* Exit codes every tool uses (DESIGN.md, "Contracts"). */
#define KCT_EXIT_OK 0
#define KCT_EXIT_FAIL 1  /* the card refused, or an operation failed */
#define KCT_EXIT_USAGE 2 /* bad usage or bad input */

/* ---- messages ------------------------------------------------------- */

/* Name printed before every message ("kc-admin"). */
void kct_set_prog(const char *name);
const char *kct_prog(void);

/* One line on stderr: "PROG: message". */
void kct_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * -v / --trace: libkeycard's trace (keycard_set_trace) on standard error,
 * each line "PROG: trace: LINE": every command to a card and every answer,
 * inside the secure channel before encryption and after decryption, with
 * secret data shown only as its length.
 */
void kct_trace_on(void);

/*
 * One line on stderr for a failed library call: "PROG: WHAT: explanation".
 * WRONG_PIN adds the tries left (tries < 0: unknown); BLOCKED says how to
 * unblock. Returns the exit code that fits rc (KCT_EXIT_FAIL, or
 * KCT_EXIT_USAGE for KEYCARD_ERR_ARG / KEYCARD_ERR_KEY_FORMAT).
 */
int kct_fail(keycard_rc rc, const char *what, int tries);

/*
 * As kct_fail, for a failed check of credential ref: a blocked PIN says the
 * command that unblocks it, a blocked admin key that it is blocked for good.
 */
int kct_fail_cred(keycard_rc rc, const char *what, keycard_pin ref, int tries);

/* Human name of a credential reference ("issuer PIN"). */
const char *kct_ref_name(keycard_pin ref);

/* ---- secrets ---------------------------------------------------------- */

/* Largest secret text handled (a 32-byte key in hex is 64 characters). */
#define KCT_SECRET_MAX 128

/* A secret in text form as it was entered; wipe with kct_secret_wipe(). */
typedef struct kct_secret {
    char text[KCT_SECRET_MAX + 1];
    size_t len;
} kct_secret;

/* Overwrite n bytes at p in a way the compiler keeps. */
void kct_wipe(void *p, size_t n);
void kct_secret_wipe(kct_secret *s);

/* 1 when a terminal is available for prompting (/dev/tty opens). */
int kct_have_tty(void);

/*
 * Read one line from the terminal (/dev/tty) with echo off. Returns 0, or -1
 * with a message printed (no terminal, too long, end of input).
 */
int kct_secret_prompt(const char *prompt, kct_secret *out);

/*
 * A line that is no secret (a custodian's name, a check value) asked on the
 * terminal, with echo. Returns 0, or -1 with one line printed (no terminal,
 * no input, too long for cap).
 */
int kct_prompt_line(const char *prompt, char *out, size_t cap);

/*
 * Prompt twice and insist the entries match (for a new value). Returns 0 or -1
 * with a message printed.
 */
int kct_secret_prompt_new(const char *prompt, kct_secret *out);

/*
 * Read a secret from a file: the first line, trailing "\r\n" removed. The
 * file must be at most a few hundred bytes. Returns 0 or -1; on -1 err (if
 * not NULL, errcap bytes) receives the reason.
 */
int kct_secret_file(const char *path, kct_secret *out, char *err, size_t errcap);

/* Copy a string as a secret. Returns 0 or -1 when too long. */
int kct_secret_set(kct_secret *out, const char *s);

/*
 * Get a secret for a command-line tool, in this order: file (when not NULL:
 * a PATH, or any source of kct_secret_source below), the environment
 * variable env (when set), a prompt on the terminal (twice when confirm).
 * option names the tool's option in messages ("--admin-key-file"). Returns
 * 0, or -1 with one line printed that names what was tried (what: "admin key").
 *
 * A value taken from env is taken once: its bytes are overwritten in place
 * (the initial environment is what /proc/PID/environ shows) and the variable
 * is removed, so neither a child process nor a later getenv sees it.
 */
int kct_secret_get(const char *what, const char *option, const char *file, const char *env,
                   const char *prompt, int confirm, kct_secret *out);

/*
 * The one set of secret sources every tool takes (an option's value,
 * source): "prompt" (the terminal, without echo; twice when confirm),
 * "file:PATH" (its first line), "env:VAR" (taken once, as below), "fd:N"
 * (the first line read from descriptor N, which is closed). source NULL: the
 * variable env when set, else the prompt. option names the option in the
 * messages ("--holder-pin"). kct_secret_get's file takes a PATH or any of
 * these forms. Returns 0, or -1 with one line printed.
 */
int kct_secret_source(const char *what, const char *option, const char *source,
                      const char *env, const char *prompt, int confirm, kct_secret *out);

/*
 * Remove the environment variable name, its value overwritten first. For a
 * secret variable a program does not read itself (so a child cannot inherit it).
 */
void kct_secret_env_drop(const char *name);

/* ---- checks of credential forms --------------------------------------- */

/* 1 when s is 4..16 ASCII digits. */
int kct_pin_ok(const char *s);

/*
 * Parse hex (spaces and colons allowed between byte pairs) into out (cap
 * bytes). Returns the byte count, or -1 for bad hex / too long.
 */
int kct_hex_parse(const char *s, uint8_t *out, size_t cap);

/* Admin key from hex text: 16 or 32 bytes. Returns the length or -1. */
int kct_admin_key_parse(const char *s, uint8_t out[32]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void kct_hex_format(const uint8_t *in, size_t n, char *out);

/* ---- files ------------------------------------------------------------ */

/*
 * Directory part of path ("." when none), into out (cap bytes).
 * Returns 0 or -1 when it does not fit.
 */
int kct_dirname(const char *path, char *out, size_t cap);

/*
 * Path of name relative to dir (name unchanged when absolute). Returns 0 or
 * -1 when it does not fit.
 */
int kct_path_join(const char *dir, const char *name, char *out, size_t cap);

/*
 * Read a whole file (at most max bytes) into a fresh buffer with a NUL after
 * the data; *len gets the data length (without the NUL). Free with
 * kct_file_free(), which wipes. Returns 0 or -1 with the reason in err.
 */
int kct_file_read(const char *path, size_t max, uint8_t **data, size_t *len, char *err,
                  size_t errcap);
void kct_file_free(uint8_t *data, size_t len);

/*
 * Length to pass to the library for a key file read by kct_file_read: PEM
 * text is passed with its NUL (what PEM parsers expect), DER as it is.
 */
size_t kct_key_len(const uint8_t *data, size_t len);

/* ---- JSON with paths ----------------------------------------------------- */

/*
 * Make jansson wipe every block it frees, so that secrets parsed from a
 * profile do not linger on the heap. Call once before any JSON is parsed.
 */
void kct_json_init(void);

/* Collects validation errors, each "PATH: problem", printed one a line. */
typedef struct kct_errs {
    const char *file; /* printed before each error */
    int count;
} kct_errs;

void kct_jerr(kct_errs *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Load a JSON file whose top level must be an object. Errors (not readable,
 * not JSON, not an object) are reported into e with path "$". Returns the
 * object or NULL.
 */
json_t *kct_json_load(const char *file, kct_errs *e);

/*
 * Check that obj (at path) has only fields listed in allowed (NULL-ended);
 * every other field is an error "PATH.FIELD: unknown field". Returns the
 * number of unknown fields.
 */
int kct_json_only(kct_errs *e, const char *path, json_t *obj, const char *const allowed[]);

/*
 * Get a member. required: a missing member is an error. Type checks report
 * "PATH.KEY: must be ...". Return NULL when missing or of the wrong type.
 */
json_t *kct_json_obj(kct_errs *e, const char *path, json_t *obj, const char *key, int required);
const char *kct_json_str(kct_errs *e, const char *path, json_t *obj, const char *key,
                         int required, size_t *len);
/* Integer in [lo, hi]; def when missing and not required; returns -1 on errors. */
long kct_json_int(kct_errs *e, const char *path, json_t *obj, const char *key, int required,
                  long lo, long hi, long def);
/* Boolean; def when missing; -1 on a wrong type. */
int kct_json_bool(kct_errs *e, const char *path, json_t *obj, const char *key, int def);

/* Wipe the text of every string in a JSON tree (before json_decref). */
void kct_json_wipe(json_t *j);

/*
 * A result document on stdout: compact, one line, keys in the order set;
 * the reference is taken (j may be NULL: out of memory). Returns 0, or the
 * exit code after one line on stderr.
 */
int kct_json_print(json_t *j);

/*
 * A secret described in JSON: exactly one of
 *   "value": "..."  (or "hex" for keys, named by value_key),
 *   "file": "path"  (relative to base_dir; first line),
 *   "prompt": true  (asked on the terminal, twice when confirm),
 * plus "tries": 1..15 when allow_tries (default 3). what names the secret in
 * prompts. Errors go to e with their JSON path. On success out holds the text
 * and *tries the count; returns 0, else -1. check (may be NULL) judges the
 * text; its complaint is reported at the path of the source used.
 */
typedef const char *(*kct_secret_check)(const char *text);
int kct_json_secret(kct_errs *e, const char *path, json_t *obj, const char *key,
                    const char *value_key, int allow_tries, const char *base_dir,
                    const char *what, int confirm, kct_secret_check check, kct_secret *out,
                    int *tries);

/* Checks for kct_json_secret: NULL when fine, else the problem. */
const char *kct_check_pin(const char *text);
const char *kct_check_admin_key(const char *text);

/* ---- where: --reader NAME / --sim FILE -------------------------------- */

/* Longest "where" string built (prefix + reader name or path). */
#define KCT_WHERE_MAX 1100

typedef struct kct_where {
    char spec[KCT_WHERE_MAX]; /* "" = find by AID, "pcsc:NAME", "sim:FILE" */
    int set;                  /* 1 once --reader or --sim was given */
    long busy_wait_s;         /* wait up to this long while another program reserves it */
} kct_where;

/*
 * Record --reader NAME (kind 'r') or --sim FILE (kind 's'). A second one is an
 * error. Returns 0 or -1 with a message printed.
 */
int kct_where_set(kct_where *w, int kind, const char *arg);

/* The string for keycard_open (NULL when none given). */
const char *kct_where_spec(const kct_where *w);

/*
 * A reader as the user named it, the way opensc-tool and gp take one:
 * spec "pcsc:ARG" becomes "pcsc:NAME" in out, where ARG is a reader's number
 * in the list (kc-admin readers, from 0), its exact name, or a part of one
 * name only (case ignored). Any other spec, or one when the reader list
 * cannot be read (pcscd absent: the open will say so), is copied as it is.
 * Returns 0, or the exit code with one line printed: KCT_EXIT_FAIL when no
 * reader matches (not connected?), KCT_EXIT_USAGE when several do (they are
 * named).
 */
int kct_reader_resolve(const char *spec, char *out, size_t cap);

/*
 * Open the key card described by w, without an issuer key: for commands
 * that send no secret (libkeycard refuses to send one in plain to a
 * provisioned card anyway). Prints one line and returns the exit code on
 * failure; 0 on success.
 */
int kct_open(const kct_where *w, keycard **out);

/*
 * kct_open with the issuer public key (PEM, DER or a raw 65-byte point; may
 * be NULL): the key card's channel certificate must verify under it before
 * anything else is sent (keycard_open_ex), so a card of another issuer, or a
 * line that hides the certificate, is refused before any PIN. Same returns.
 */
int kct_open_issuer(const kct_where *w, const uint8_t *issuer_pub, size_t issuer_pub_len,
                    keycard **out);

/*
 * As kct_open_issuer, but a card that says it is blank is opened without the
 * issuer key (its first provisioning, the one plain exception) and *blank is
 * set; the caller tells the user. Same returns.
 */
int kct_open_issuer_or_blank(const kct_where *w, const uint8_t *issuer_pub,
                             size_t issuer_pub_len, keycard **out, int *blank);

#endif /* KCT_H */
