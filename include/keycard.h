/*
 * keycard.h - the public API of libkeycard: talk to a key card from an issuing
 * station or an administration tool.
 *
 * Life cycle of a session:
 *
 *     keycard *kc;
 *     keycard_rc rc = keycard_open(&kc, NULL);        // find the key card by AID
 *     rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, "13579135", &left);
 *     rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, "246810", &left);
 *     rc = keycard_identity_check(kc, issuer_pub, issuer_pub_len, &id);
 *     rc = keycard_holder_info(kc, &holder);
 *     ...
 *     keycard_close(kc);
 *
 * Every function returns KEYCARD_OK (0) or a negative keycard_rc;
 * keycard_strerror() gives a one-line explanation. No PC/SC type appears here.
 *
 * Threads: a handle (keycard, keycard_target) is used by one thread at a
 * time; different handles may be used from different threads at once.
 * keycard_strerror, keycard_version, keycard_audit_event_name and the
 * keycard_param_* builders touch no shared state. keycard_set_trace and
 * keycard_register_scheme are safe to call from any thread (a lock guards
 * them); keycard_open_detail is per thread.
 *
 * Blocking: every call that talks to a card blocks until the card answered
 * or the transport gave up (PC/SC: pcscd's own timeouts; a card that stays
 * silent makes pcscd report it removed). keycard_open with no reader named
 * tries each reader in turn. keycard_hold waits for another program's PC/SC
 * transaction on the card to end; keycard_set_exclusive does not wait
 * (KEYCARD_ERR_BUSY). Nothing else waits on anything but the card.
 *
 * No downgrade (docs/security.md "No downgrade"): a command that carries a
 * secret - a PIN, the admin key, a key value, a template, provisioning data,
 * issuance parameters - travels only inside the secure channel, except to a
 * blank key card (its first provisioning) when no issuer key was given.
 * Anything else fails with KEYCARD_ERR_NO_CHANNEL before a byte is sent. Raw
 * test tools that need plain APDUs say so with KEYCARD_CHANNEL_INSECURE_PLAIN.
 *
 * Session loss: once the channel is open, any failure inside it - a line or
 * transport error, an answer that is not 9000 with a valid tag, a card reset
 * or removal, a raw SELECT - ends the session. The call that meets it returns
 * what happened (KEYCARD_ERR_TRANSPORT, _CHANNEL, _CARD_RESET, _CARD_REMOVED);
 * every later call returns KEYCARD_ERR_SESSION_LOST and sends nothing. The
 * library never opens a new channel by itself, and never falls back to plain:
 * the caller decides, with keycard_reopen (same handle, same options) or
 * keycard_close and keycard_open_ex, and then verifies its PINs again.
 */
#ifndef KEYCARD_H
#define KEYCARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KEYCARD_API __attribute__((visibility("default")))
#else
#define KEYCARD_API
#endif

/*
 * Version of the project, the one place it is written: the Makefile takes
 * the library's file name, SONAME (the major number) and keycard.pc from
 * here, and the tools report it with --version.
 */
#define KEYCARD_VERSION_MAJOR 1
#define KEYCARD_VERSION_MINOR 0
#define KEYCARD_VERSION_PATCH 0

typedef enum keycard_rc {
    KEYCARD_OK = 0,
    KEYCARD_ERR_ARG = -1,           /* invalid argument */
    KEYCARD_ERR_MEMORY = -2,        /* out of memory on the host */
    KEYCARD_ERR_BUFFER = -3,        /* caller's buffer too small (nothing written) */
    KEYCARD_ERR_NO_READER = -4,     /* no reader of that name, or none (KEYCARD_ERR_NO_SERVICE: no pcscd) */
    KEYCARD_ERR_NO_CARD = -5,       /* no key card found / no card in the reader */
    KEYCARD_ERR_CARD_REMOVED = -6,  /* card removed during the operation */
    KEYCARD_ERR_CARD_RESET = -7,    /* card reset by another party; session lost */
    KEYCARD_ERR_TRANSPORT = -8,     /* communication failure */
    KEYCARD_ERR_PROTOCOL = -9,      /* malformed answer from the card */
    KEYCARD_ERR_WRONG_PIN = -10,    /* wrong PIN or key; see tries_left */
    KEYCARD_ERR_BLOCKED = -11,      /* credential blocked (6983) */
    KEYCARD_ERR_NOT_VERIFIED = -12, /* security status not satisfied (6982) */
    KEYCARD_ERR_CONDITIONS = -13,   /* conditions of use not satisfied (6985) */
    KEYCARD_ERR_WRONG_DATA = -14,   /* card rejected the data (6A80, 6700) */
    KEYCARD_ERR_NOT_FOUND = -15,    /* object not found on the card (6A82, 6A88) */
    KEYCARD_ERR_CARD_MEMORY = -16,  /* card out of memory or memory failure */
    KEYCARD_ERR_UNSUPPORTED = -17,  /* card does not support the command */
    KEYCARD_ERR_CARD = -18,         /* other status word from the card */
    KEYCARD_ERR_NOT_GENUINE = -19,  /* identity check failed: not a genuine key card */
    KEYCARD_ERR_BLANK = -20,        /* key card not provisioned yet */
    KEYCARD_ERR_KEY_FORMAT = -21,   /* a public/private key could not be parsed */
    KEYCARD_ERR_CRYPTO = -22,       /* host crypto failure */
    KEYCARD_ERR_IO = -23,           /* file I/O failure on the host (sim state file) */
    KEYCARD_ERR_ENVELOPE = -24,     /* target card refused an envelope (6988: bad tag,
                                       wrong key, replayed or skipped counter) */
    KEYCARD_ERR_CHANNEL = -25,      /* secure channel to the key card broken (6988 or a
                                       bad answer MAC); it and the verified PINs are gone */
    KEYCARD_ERR_SESSION_LOST = -26, /* the secure session ended earlier (see "Session
                                       loss"); nothing is sent until keycard_reopen */
    KEYCARD_ERR_NO_CHANNEL = -27,   /* a secret was not sent: the key card has a channel
                                       key (or is provisioned) and no channel is open */
    KEYCARD_ERR_VERSION = -28,      /* the card or the call speaks another protocol version */
    KEYCARD_ERR_DAMAGED = -29,      /* sim: the card's flash image is damaged (not a torn
                                       write); refused and left as it is */
    KEYCARD_ERR_NO_SERVICE = -30,   /* no PC/SC service (pcscd not running or stopped) */
    KEYCARD_ERR_BUSY = -31          /* another program holds the card (reserved) */
} keycard_rc;

/* One line that a person understands; never NULL. */
KEYCARD_API const char *keycard_strerror(keycard_rc rc);

/*
 * The version of the library actually loaded ("1.0.0"), which may be newer
 * than the KEYCARD_VERSION_* a program was built with.
 */
KEYCARD_API const char *keycard_version(void);

/*
 * More about the last failed keycard_open / keycard_target_open of the
 * calling thread, when there is more to say than the error code: for a sim
 * image, the file and the cause ("FILE: Permission denied", "FILE: 70000
 * bytes, a key card image has 131072", "FILE: damaged at byte 76"). An empty
 * string when there is nothing more; never NULL. Valid until the thread's
 * next open.
 */
KEYCARD_API const char *keycard_open_detail(void);

/* ==== Connections the application supplies =============================== */

/*
 * libkeycard itself speaks PC/SC. Any other way to a card - the in-process
 * simulator (libkeycard-sim, keycard_sim.h), a card behind a network, a test
 * line that injects faults - is a keycard_link that an opener registered
 * for a scheme returns; "SCHEME:ARG" in keycard_open / keycard_target_open
 * then goes to it. libkeycard sends plain APDUs over the link exactly as
 * over PC/SC; the secure channel and every check stay in libkeycard.
 */
typedef enum keycard_link_kind {
    KEYCARD_LINK_KEYCARD = 0, /* keycard_open / keycard_open_ex */
    KEYCARD_LINK_TARGET = 1   /* keycard_target_open */
} keycard_link_kind;

typedef struct keycard_link {
    size_t size; /* sizeof (keycard_link) as the opener was built: the struct may grow */
    void *ctx;   /* the opener's state, passed to every call below */
    /*
     * One command APDU; the answer (data || SW1 SW2) into resp, *resp_len
     * its capacity in, its length out (>= 2). Errors as keycard_rc
     * (KEYCARD_ERR_TRANSPORT, _CARD_REMOVED, _PROTOCOL for an answer larger
     * than resp). Required.
     */
    keycard_rc (*transmit)(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                           size_t *resp_len);
    /* The connection's name for messages ("sim:FILE"); NULL: "SCHEME:ARG". */
    const char *(*name)(void *ctx);
    /* Disconnect and free ctx; called once, by the handle's close. May be NULL. */
    void (*close)(void *ctx);
} keycard_link;

/*
 * Connect to ARG (the part after "SCHEME:") for kind; fill *out. detail
 * (detail_cap bytes, never NULL) takes one line more about a failure, given
 * back by keycard_open_detail. Errors: any keycard_rc.
 */
typedef keycard_rc (*keycard_link_opener)(const char *arg, keycard_link_kind kind,
                                          keycard_link *out, char *detail, size_t detail_cap);

/*
 * Register open for "SCHEME:" (1 to 15 characters of a-z, 0-9, '-'; not
 * "pcsc"); open NULL removes it, a second registration replaces the first.
 * Thread-safe; a handle already open keeps the link it was opened with.
 * Errors: KEYCARD_ERR_ARG (bad scheme), KEYCARD_ERR_MEMORY (8 schemes are
 * registered already).
 */
KEYCARD_API keycard_rc keycard_register_scheme(const char *scheme, keycard_link_opener open);

/* Opaque session handle. */
typedef struct keycard keycard;

/*
 * Open a session with a key card and SELECT its application.
 *
 * where:
 *   NULL or ""         every PC/SC reader is tried; the first whose card
 *                      answers SELECT of the key card AID is used;
 *   "pcsc:NAME"/"NAME" the PC/SC reader NAME;
 *   "sim:FILE"         the key card firmware run in this process on the flash
 *                      image FILE (created blank when missing); only once the
 *                      simulator library registered it (keycard_sim.h),
 *                      else KEYCARD_ERR_UNSUPPORTED;
 *   "SCHEME:ARG"       any other scheme registered with keycard_register_scheme.
 *
 * The secure channel is opened whenever the key card offers one (its
 * certificate is then not checked: see keycard_open_ex for that).
 *
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY, KEYCARD_ERR_NO_READER,
 * KEYCARD_ERR_NO_CARD, KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_IO.
 */
KEYCARD_API keycard_rc keycard_open(keycard **out, const char *where);

/* ==== Secure channel (docs/protocol.md "Secure channel") ================= */

/* Whether to open the secure channel. */
typedef enum keycard_channel_mode {
    KEYCARD_CHANNEL_AUTO = 0,    /* whenever the key card offers it (default) */
    KEYCARD_CHANNEL_OFF = 1,     /* never: plain APDUs without secrets (diagnostics);
                                    secrets only to a blank key card */
    KEYCARD_CHANNEL_REQUIRE = 2, /* refuse a key card that offers none */
    /*
     * INSECURE: never open the channel and send even secrets in plain, to
     * any card. For raw test tools and benchmarks against test cards only:
     * every PIN and key is then readable on the line. Not with an issuer key
     * (KEYCARD_ERR_ARG).
     */
    KEYCARD_CHANNEL_INSECURE_PLAIN = 3
} keycard_channel_mode;

/* Options of keycard_open_ex; all zero is keycard_open. */
typedef struct keycard_options {
    keycard_channel_mode channel;
    /*
     * The issuer's public key (PEM, DER or raw 65-byte point), or NULL. Given,
     * the key card's channel certificate must verify under it before anything
     * else is sent: a card without one, or with one from another issuer, is
     * refused with KEYCARD_ERR_NOT_GENUINE. Without it the channel still
     * encrypts, but nothing is claimed about the card.
     */
    const uint8_t *issuer_pub;
    size_t issuer_pub_len;
} keycard_options;

/*
 * keycard_open with options (opt NULL: defaults). Opens the secure channel
 * per opt->channel after SELECT; every later command travels inside it.
 * After a failure inside it the session is lost ("Session loss" above) until
 * keycard_reopen. A key card that shows no certificate: with an issuer key,
 * refused (KEYCARD_ERR_BLANK when its status says blank, else
 * KEYCARD_ERR_NOT_GENUINE); without one, a plain session in which secrets go
 * only to a card whose status says blank (KEYCARD_ERR_NO_CHANNEL otherwise).
 * Errors: those of keycard_open, KEYCARD_ERR_NOT_GENUINE, KEYCARD_ERR_BLANK,
 * KEYCARD_ERR_UNSUPPORTED (REQUIRE and no channel), KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_ARG (INSECURE_PLAIN with an issuer key).
 */
KEYCARD_API keycard_rc keycard_open_ex(keycard **out, const char *where,
                                       const keycard_options *opt);

/*
 * Options that can grow: an opaque object with setters, for what
 * keycard_options (fixed in ABI 1) cannot take. New options only ever come
 * here; keycard_open_ex(out, where, opt) is keycard_open_with with the same
 * two settings. Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY,
 * KEYCARD_ERR_KEY_FORMAT (issuer key not parsable).
 */
typedef struct keycard_open_options keycard_open_options;
KEYCARD_API keycard_rc keycard_open_options_new(keycard_open_options **out);
KEYCARD_API void keycard_open_options_free(keycard_open_options *o);
KEYCARD_API keycard_rc keycard_open_options_channel(keycard_open_options *o,
                                                    keycard_channel_mode mode);
/* The issuer's public key (PEM, DER or the raw point), parsed and kept now. */
KEYCARD_API keycard_rc keycard_open_options_issuer_pub(keycard_open_options *o,
                                                       const uint8_t *pub, size_t len);
/* keycard_open_ex with o (NULL: defaults). Errors as keycard_open_ex. */
KEYCARD_API keycard_rc keycard_open_with(keycard **out, const char *where,
                                         const keycard_open_options *o);

/*
 * The status word of the handle's last answer (inside the secure channel:
 * the inner one), 0 before any; what lies behind KEYCARD_ERR_CARD and the
 * other card errors.
 */
KEYCARD_API uint16_t keycard_last_sw(const keycard *kc);

/*
 * Tracing (the tools' -v / --trace). fn gets one line per command a handle
 * sends and one per answer: the inner APDU as the application built it
 * (before the secure channel encrypts it) and the answer after the channel
 * checked and decrypted it, with the time the exchange took. Data that may be
 * secret - PINs, keys, key components, template parameters, holder data,
 * card contents, envelopes - is never in a line, only its length: command
 * data is shown for SELECT alone, answer data for SELECT and the public GET
 * DATA objects (status, channel certificate, directories, target card info).
 * fn NULL ends tracing. Process-wide; the callback runs on the calling
 * thread, under a lock (it must not call libkeycard).
 */
typedef void (*keycard_trace_fn)(void *ctx, const char *line);
KEYCARD_API void keycard_set_trace(keycard_trace_fn fn, void *ctx);

/*
 * Open a new session on the same handle after the old one was lost (or to
 * start afresh): reconnect to the card, SELECT it and open the channel as
 * keycard_open_ex did, with the same options and the same certificate check.
 * Nothing of the old session survives: verify the PINs again. A hold
 * (keycard_hold) stays held. On failure the session stays lost.
 * Errors: as keycard_open_ex (KEYCARD_ERR_NOT_GENUINE, KEYCARD_ERR_BLANK,
 * KEYCARD_ERR_UNSUPPORTED, transport errors), KEYCARD_ERR_ARG.
 */
KEYCARD_API keycard_rc keycard_reopen(keycard *kc);

/* What the line to the key card is now. */
typedef enum keycard_channel_state {
    KEYCARD_CHANNEL_NONE = 0,      /* plain APDUs */
    KEYCARD_CHANNEL_ENCRYPTED = 1, /* channel open; certificate not checked (no issuer key) */
    KEYCARD_CHANNEL_GENUINE = 2,   /* channel open with a certificate from the issuer key */
    KEYCARD_CHANNEL_LOST = 3       /* the channel ended by a failure: keycard_reopen */
} keycard_channel_state;

KEYCARD_API keycard_channel_state keycard_channel_status(const keycard *kc);

/* The key card's key-agreement key and its certificate (GET DATA DF07). */
typedef struct keycard_channel_key {
    uint8_t serial[8];
    uint8_t ka_pub[65];     /* PK.KA, uncompressed P-256 */
    uint8_t issuer_sig[64]; /* r||s over "keycard channel v1" NUL C1 08 serial C4 41 PK.KA */
} keycard_channel_key;

/*
 * In an open provisioning session: the card makes a new key-agreement key
 * (PROVISION GENERATE P1=01); out receives serial and PK.KA (issuer_sig
 * zeroed). Sign it with keycard_channel_key_sign and put the signature with
 * keycard_provision_put(KC_TAG_CHANNEL_SIG). Errors: as keycard_provision_generate.
 */
KEYCARD_API keycard_rc keycard_provision_generate_channel(keycard *kc, keycard_channel_key *out);

/* Fill ck->issuer_sig with the issuer's private key. Errors: as keycard_identity_sign. */
KEYCARD_API keycard_rc keycard_channel_key_sign(keycard_channel_key *ck, const uint8_t *issuer_priv,
                                                size_t issuer_priv_len);

/*
 * Read the channel certificate (no PIN needed) and, when issuer_pub is given,
 * check its signature. Errors: KEYCARD_ERR_NOT_FOUND (no channel key),
 * KEYCARD_ERR_NOT_GENUINE, KEYCARD_ERR_KEY_FORMAT, KEYCARD_ERR_PROTOCOL,
 * transport errors.
 */
KEYCARD_API keycard_rc keycard_channel_cert_read(keycard *kc, const uint8_t *issuer_pub,
                                                 size_t issuer_pub_len, keycard_channel_key *out);

/* End the session and free the handle. keycard_close(NULL) does nothing. */
KEYCARD_API void keycard_close(keycard *kc);

/* Name of the reader in use ("sim:FILE" for the simulator). */
KEYCARD_API const char *keycard_reader_name(const keycard *kc);

/*
 * List PC/SC readers: names separated by '\n' into buf (cap bytes, NUL-terminated).
 * Errors: KEYCARD_ERR_NO_READER, KEYCARD_ERR_BUFFER, KEYCARD_ERR_ARG.
 */
KEYCARD_API keycard_rc keycard_list_readers(char *buf, size_t cap);

/* What a reader holds, as keycard_reader_probe tells it. */
typedef enum keycard_card_kind {
    KEYCARD_KIND_NONE = 0,    /* no card (or a mute one) */
    KEYCARD_KIND_KEYCARD = 1, /* a key card (its ATR) */
    KEYCARD_KIND_TARGET = 2,  /* the reference target card (its ATR) */
    KEYCARD_KIND_OTHER = 3    /* another card */
} keycard_card_kind;

/*
 * What is in the PC/SC reader, from pcscd's own view: nothing is sent to
 * the card and no connection is made, so another program's session on it
 * (a secure channel, a reserved key card) is left as it is. *kind from the
 * ATR; *in_use 1 when another program reserves the card (may be NULL).
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_NO_READER, KEYCARD_ERR_NO_SERVICE,
 * KEYCARD_ERR_TRANSPORT.
 */
KEYCARD_API keycard_rc keycard_reader_probe(const char *reader, keycard_card_kind *kind,
                                            int *in_use);

typedef enum keycard_pin {
    KEYCARD_PIN_ISSUER = 0x81, /* issuer (issuing machine) PIN */
    KEYCARD_PIN_HOLDER = 0x82, /* holder (operator) PIN */
    KEYCARD_ADMIN_KEY = 0x83   /* administration key (raw bytes) */
} keycard_pin;

typedef enum keycard_lifecycle {
    KEYCARD_LIFECYCLE_BLANK = 1,
    KEYCARD_LIFECYCLE_PROVISIONED = 7
} keycard_lifecycle;

/* Public status of a key card; readable without any credential. */
typedef struct keycard_status {
    keycard_lifecycle lifecycle;
    uint8_t serial[8];
    unsigned version_major, version_minor;
    int tries_left[3];   /* issuer PIN, holder PIN, admin key; -1 when not set */
    uint32_t audit_next; /* sequence number the next audit entry gets */
    unsigned audit_capacity;
    int staging;         /* 1 while a provisioning session is open */
} keycard_status;

/* Read the status. Errors: transport errors, KEYCARD_ERR_PROTOCOL. */
KEYCARD_API keycard_rc keycard_status_read(keycard *kc, keycard_status *st);

/*
 * Hold the key card for a sequence of operations: one PC/SC transaction
 * (exclusive access) from keycard_hold to the matching keycard_release, inside
 * which the single operations do not begin and end their own (each of those
 * costs two pcscd round trips). No other program can reach the card while it
 * is held: a station holds it for one card (BEGIN .. END). Holds nest; only
 * the outermost release ends the transaction. A card reset or pulled while
 * held is handled as without a hold: the operation that meets it fails with
 * KEYCARD_ERR_CARD_RESET / _REMOVED; with the secure channel open the session
 * is then lost until keycard_reopen, which takes the transaction again (the
 * hold goes on); in a plain session the next operation reconnects and selects
 * again by itself. The sim transport has no other programs: hold and release
 * only count.
 * Errors (hold): KEYCARD_ERR_ARG, transport errors. keycard_release:
 * KEYCARD_ERR_ARG when nothing is held; the card's loss is not an error there.
 */
KEYCARD_API keycard_rc keycard_hold(keycard *kc);

/*
 * Reserve the key card for this handle alone, for as long as a batch runs:
 * other programs cannot even connect to it and are told at once
 * (KEYCARD_ERR_BUSY), instead of resetting it or ending its secure channel
 * under the batch. Not inside a hold. keycard_unreserve shares it again;
 * keycard_close ends the reservation too. The sim transport has no other
 * programs: both succeed and do nothing.
 * Errors: KEYCARD_ERR_BUSY (another program is connected to it now),
 * KEYCARD_ERR_ARG (inside a hold), transport errors.
 */
KEYCARD_API keycard_rc keycard_reserve(keycard *kc);
KEYCARD_API keycard_rc keycard_unreserve(keycard *kc);
KEYCARD_API keycard_rc keycard_release(keycard *kc);

/*
 * Is the key card still the one the last command talked to? A local check
 * (SCardStatus to pcscd; nothing is sent to the card): KEYCARD_OK, or
 * KEYCARD_ERR_CARD_REMOVED / KEYCARD_ERR_CARD_RESET when the card left the
 * reader, was power-cycled or was reset since (its session and verified PINs
 * are gone then; the next operation reconnects, or, with the secure channel
 * open, says KEYCARD_ERR_SESSION_LOST until keycard_reopen).
 * KEYCARD_ERR_SESSION_LOST when the session was lost earlier. The sim
 * transport: always OK unless the session was lost.
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_NO_READER (pcscd gone),
 * KEYCARD_ERR_TRANSPORT.
 */
KEYCARD_API keycard_rc keycard_present(keycard *kc);

/*
 * Verify a PIN (ASCII digits, 4..16) for KEYCARD_PIN_ISSUER or
 * KEYCARD_PIN_HOLDER. The holder PIN is accepted only after the issuer PIN.
 * tries_left (may be NULL) receives the tries left after a wrong PIN.
 * Errors: KEYCARD_ERR_WRONG_PIN, KEYCARD_ERR_BLOCKED, KEYCARD_ERR_NOT_VERIFIED
 * (holder before issuer), KEYCARD_ERR_BLANK, KEYCARD_ERR_ARG,
 * KEYCARD_ERR_NO_CHANNEL (no channel to a card that has a channel key: the
 * PIN was not sent), KEYCARD_ERR_SESSION_LOST, transport errors.
 */
KEYCARD_API keycard_rc keycard_verify_pin(keycard *kc, keycard_pin ref, const char *pin,
                                          int *tries_left);

/*
 * Verify the admin key (16 or 32 bytes). Same errors as keycard_verify_pin;
 * a blocked admin key stays blocked for good.
 */
KEYCARD_API keycard_rc keycard_verify_admin(keycard *kc, const uint8_t *key, size_t key_len,
                                            int *tries_left);

/*
 * Tries left for ref without spending one (empty VERIFY).
 * *tries_left is 0 when blocked. Errors: KEYCARD_ERR_BLANK, transport errors.
 */
KEYCARD_API keycard_rc keycard_tries_left(keycard *kc, keycard_pin ref, int *tries_left);

/*
 * Change a PIN (old and new as ASCII digits) or, with KEYCARD_ADMIN_KEY, the
 * admin key (old and new as raw bytes, passed through the same char pointers
 * with explicit lengths). Errors as keycard_verify_pin, plus
 * KEYCARD_ERR_WRONG_DATA for a new value of the wrong form.
 */
KEYCARD_API keycard_rc keycard_change_pin(keycard *kc, keycard_pin ref, const char *old_pin,
                                          const char *new_pin, int *tries_left);
KEYCARD_API keycard_rc keycard_change_admin(keycard *kc, const uint8_t *old_key,
                                            size_t old_len, const uint8_t *new_key,
                                            size_t new_len, int *tries_left);

/*
 * Unblock a PIN (reset its tries) with the admin key verified in this session;
 * new_pin NULL keeps the PIN. Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_ARG,
 * KEYCARD_ERR_WRONG_DATA, transport errors.
 */
KEYCARD_API keycard_rc keycard_unblock_pin(keycard *kc, keycard_pin ref, const char *new_pin);

/* Holder data, readable after the issuer and holder PINs. */
typedef struct keycard_holder {
    char name[64 + 1];   /* UTF-8, NUL-terminated */
    char number[32 + 1]; /* ASCII, NUL-terminated */
} keycard_holder;

/* Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL, transport errors. */
KEYCARD_API keycard_rc keycard_holder_info(keycard *kc, keycard_holder *out);

/* The key card's identity. */
typedef struct keycard_identity {
    uint8_t serial[8];
    uint8_t device_pub[65];     /* uncompressed P-256 point */
    uint8_t issuer_sig[64];     /* r||s over the identity, by the issuer key */
} keycard_identity;

/*
 * Prove the key card genuine: read its identity (needs issuer and holder
 * PINs), check the issuer's signature over it with issuer_pub (PEM or DER
 * SubjectPublicKeyInfo, or a raw 65-byte uncompressed P-256 point), then send
 * a fresh random challenge to INTERNAL AUTHENTICATE and check the answer with
 * the device key. out (may be NULL) receives the identity.
 * Errors: KEYCARD_ERR_NOT_GENUINE, KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_identity_check(keycard *kc, const uint8_t *issuer_pub,
                                              size_t issuer_pub_len, keycard_identity *out);

/* One audit log entry. */
typedef struct keycard_audit_entry {
    uint32_t seq;   /* monotonic, never reused */
    uint32_t time;  /* seconds since the epoch by the card's clock, 0 if none */
    uint8_t event;  /* KEYCARD_AUDIT_* */
    uint8_t len;
    uint8_t data[72];
    uint8_t prev[32]; /* chain head before this entry (keycard_audit_verify) */
} keycard_audit_entry;

#define KEYCARD_AUDIT_UNLOCK 0x01      /* data: holder number */
#define KEYCARD_AUDIT_PROVISIONED 0x02
#define KEYCARD_AUDIT_PIN_BLOCKED 0x03 /* data: reference */
#define KEYCARD_AUDIT_UNBLOCKED 0x04   /* data: reference */
#define KEYCARD_AUDIT_PIN_CHANGED 0x05 /* data: reference */
/*
 * data: target serial(8) key number(1) way(1) flags(1: bit0 common key used,
 * bit1 unclean: ended without ISSUE END, bit2 late: written by a late END)
 * result(1: KEYCARD_ISSUE_*) steps(1:
 * 0xFF unknown) completion MAC(16: the one the key card verified for
 * COMPLETED, the one presented for MAC_MISMATCH, zeros for ABORTED) lock
 * way(1: P1 of the COMPLETE ISSUANCE wrapped, 0 none) lock data length(1) lock
 * data (way b: its table) template numbers (as many as fit)
 */
#define KEYCARD_AUDIT_KEY_GENERATED 0x09 /* data: number type flags kcv(3) */
#define KEYCARD_AUDIT_KEY_COMPONENT 0x0A /* data: number index kcv(3) custodian */
#define KEYCARD_AUDIT_KEY_COMBINED 0x0B  /* data: number type flags kcv(3) components */
#define KEYCARD_AUDIT_KEY_EXPORTED 0x0C  /* data: number type flags kcv(3) version to(8) */
#define KEYCARD_AUDIT_KEY_IMPORTED 0x0D  /* data: number type flags kcv(3) version from(8) */
#define KEYCARD_AUDIT_BACKUP 0x0E        /* data: id(8) M N keys */
#define KEYCARD_AUDIT_KEY_RESTORED 0x0F  /* data: number type flags kcv(3) version backup id(8) */
#define KEYCARD_AUDIT_KEY_DESTROYED 0x10 /* data: number type flags kcv(3) version */
#define KEYCARD_AUDIT_ISSUE_RECEIPT 0x06
#define KEYCARD_AUDIT_RECEIPT_MAC_OFF 13
#define KEYCARD_AUDIT_RECEIPT_LOCK_OFF 29
#define KEYCARD_AUDIT_RECEIPT_FLAG_UNCLEAN 0x02
#define KEYCARD_AUDIT_RECEIPT_FLAG_LATE 0x04 /* written by a late END (keycard_issue_end_late) */
#define KEYCARD_AUDIT_RECEIPT_STEPS_UNKNOWN 0xFF
/* data: target serial(8) key(1) way(1) flags(1) bucket(2) key card nonce(16) */
#define KEYCARD_AUDIT_ISSUE_BEGIN 0x08
/*
 * Channel failures, counted (they need no credential, so they cannot fill
 * the log): a summary of KEYCARD_AUDIT_CHANNEL_SUMMARY_LEN bytes, all u32 BE:
 * count(4) first(4) last(4) (times of the first and last failure), the count
 * of each reason 1 bad MAC, 2 counter, 3 plain command, 4 malformed (4 each),
 * then the last failure's reason(1) and INS(1). A 2-byte entry, reason(1)
 * INS(1), is one failure as older firmware logged it.
 */
#define KEYCARD_AUDIT_CHANNEL_FAILURE 0x07
#define KEYCARD_AUDIT_CHANNEL_SUMMARY_LEN 30

/* Name of an audit event ("unlock", ...); "unknown" for others. */
KEYCARD_API const char *keycard_audit_event_name(uint8_t event);

/*
 * Read audit entries with seq >= from (older ones the card still keeps are
 * returned from the oldest kept). Needs the admin key verified.
 * *count: capacity of entries in, entries written out. Fewer than asked means
 * the end of the log. Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL,
 * transport errors.
 */
KEYCARD_API keycard_rc keycard_audit_read(keycard *kc, uint32_t from,
                                          keycard_audit_entry *entries, size_t *count);

/* The audit chain head, signed by the key card's device key over a nonce. */
typedef struct keycard_audit_head {
    uint32_t next;      /* seq the next entry gets */
    uint8_t head[32];   /* chain head after entry next - 1 (zeros for an empty log) */
    uint32_t lost;      /* security events not recorded because the log was full */
    uint8_t nonce[32];
    size_t nonce_len;   /* 8..32 */
    uint8_t sig[64];    /* r||s, docs/apdu.md AUDIT SIGN */
} keycard_audit_head;

/*
 * AUDIT SIGN: have the key card sign its chain head over nonce (8..32 bytes;
 * NULL: 16 fresh random bytes). Needs the admin key verified.
 * Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_ARG, KEYCARD_ERR_BLANK,
 * KEYCARD_ERR_PROTOCOL, KEYCARD_ERR_CRYPTO, transport errors.
 */
KEYCARD_API keycard_rc keycard_audit_sign(keycard *kc, const uint8_t *nonce, size_t nonce_len,
                                          keycard_audit_head *out);

/*
 * AUDIT ACKNOWLEDGE: entries with seq < upto have been exported; the key card
 * may overwrite them. Full-log policy: a key card whose log holds too many
 * unacknowledged entries refuses unlock, PIN change, unblock, provisioning and
 * issuance with KEYCARD_ERR_CARD_MEMORY (6A84) until then. Needs the admin key.
 * Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_WRONG_DATA (upto beyond the
 * log), transport errors.
 */
KEYCARD_API keycard_rc keycard_audit_ack(keycard *kc, uint32_t upto);

/*
 * Read the identity (GET DATA DF02) without checking it: needs the issuer and
 * holder PINs or the admin key. Errors: KEYCARD_ERR_NOT_VERIFIED,
 * KEYCARD_ERR_BLANK, KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_identity_read(keycard *kc, keycard_identity *out);

/* What keycard_audit_verify found wrong. */
typedef enum keycard_audit_fault {
    KEYCARD_AUDIT_FAULT_NONE = 0,
    KEYCARD_AUDIT_FAULT_IDENTITY, /* identity not signed by the issuer key */
    KEYCARD_AUDIT_FAULT_HEAD,     /* head signature wrong (or head altered) */
    KEYCARD_AUDIT_FAULT_ENTRY,    /* entry *bad_seq altered or out of place */
    KEYCARD_AUDIT_FAULT_MISSING   /* entry *bad_seq (and maybe more) missing */
} keycard_audit_fault;

/*
 * Check a read-out audit log offline: the identity against issuer_pub (PEM or
 * DER SubjectPublicKeyInfo, or a raw 65-byte point), the head signature
 * against the identity's device key, and the hash chain of entries (the whole
 * log as the card keeps it, oldest first: from max(0, next - 128) to
 * next - 1) up to the signed head. No key card needed.
 * fault and bad_seq (either may be NULL) receive what is wrong and the seq of
 * the first bad or missing entry (the seq the entry at that place should have).
 * Returns KEYCARD_OK when everything verifies.
 * Errors: KEYCARD_ERR_NOT_GENUINE (*fault says what), KEYCARD_ERR_KEY_FORMAT
 * (issuer_pub), KEYCARD_ERR_ARG, KEYCARD_ERR_CRYPTO.
 */
KEYCARD_API keycard_rc keycard_audit_verify(const keycard_audit_entry *entries, size_t n,
                                            const keycard_audit_head *head,
                                            const keycard_identity *id,
                                            const uint8_t *issuer_pub, size_t issuer_pub_len,
                                            keycard_audit_fault *fault, uint32_t *bad_seq);

/*
 * Provisioning (used by kc-admin). A session: begin, any puts, generate the
 * device key, put the issuer's signature of the identity, commit. Nothing is
 * changed on the card before commit; close, abort or a card pulled earlier
 * leave it as it was. On a provisioned card begin needs the admin key.
 *
 * keycard_provision_put: tag is a KC_TAG_* of keycard_proto.h.
 * keycard_provision_generate: the card makes its device key; out receives the
 * identity to be signed (serial and device public key).
 * Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_CONDITIONS, KEYCARD_ERR_WRONG_DATA,
 * KEYCARD_ERR_CARD_MEMORY, transport errors.
 */
KEYCARD_API keycard_rc keycard_provision_begin(keycard *kc);
KEYCARD_API keycard_rc keycard_provision_put(keycard *kc, uint16_t tag, const uint8_t *data,
                                             size_t len);
KEYCARD_API keycard_rc keycard_provision_generate(keycard *kc, keycard_identity *out);
KEYCARD_API keycard_rc keycard_provision_commit(keycard *kc);
KEYCARD_API keycard_rc keycard_provision_abort(keycard *kc);

/*
 * With the admin key verified and no provisioning session open: the card
 * makes numbered key number (1..254) of type (KEYCARD_KEY_AES128 / _AES256)
 * and usage flags (KEYCARD_KEYF_*), labelled label (printable ASCII, at most
 * 32), from its own RNG; kcv receives its check value (AES-ECB of 16 x 01,
 * first 3 bytes). The key value never leaves the card. The key and a
 * key-generated audit entry are one commit; for a number that holds a key it
 * is the next version (the old one retired, "Key versions"), and an open
 * issuance session ends. Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_NOT_VERIFIED (no admin key), KEYCARD_ERR_CONDITIONS (inside a
 * provisioning session), KEYCARD_ERR_WRONG_DATA, KEYCARD_ERR_CARD_MEMORY
 * (audit log full, flash full), transport errors.
 */
KEYCARD_API keycard_rc keycard_key_generate(keycard *kc, uint8_t number, uint8_t type,
                                            uint8_t flags, const char *label, uint8_t kcv[3]);

/*
 * A key's check value as the card computes it: the first 3 bytes of AES-ECB
 * of 16 x 01 under key (16 or 32 bytes). Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_CRYPTO.
 */
KEYCARD_API keycard_rc keycard_key_check_value(const uint8_t *key, size_t len, uint8_t kcv[3]);

/*
 * A key from components under dual control, with the admin key verified and
 * no provisioning session open. keycard_key_component sends one custodian's
 * component (len: the key's length) with the check value the custodian read
 * out (component_kcv); the card refuses a component whose KCV differs
 * (KEYCARD_ERR_WRONG_DATA), keeps the XOR in RAM only and writes an audit
 * entry naming the custodian (1..32 characters) and the component's KCV.
 * Every component of one key gives the same number, type, flags and label.
 * keycard_key_combine stores the XOR of the n (2..8) components as key
 * number, with an audit entry, in one commit; kcv receives its check value.
 * A SELECT, a reset or a power cut before it forgets the components.
 * Components travel only inside the secure channel. Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_CONDITIONS (a provisioning session
 * open; combine: fewer than two components, or not n, or another number),
 * KEYCARD_ERR_WRONG_DATA, KEYCARD_ERR_CARD_MEMORY, transport errors.
 */
KEYCARD_API keycard_rc keycard_key_component(keycard *kc, uint8_t number, uint8_t type,
                                             uint8_t flags, const char *label,
                                             const char *custodian, const uint8_t *component,
                                             size_t len, const uint8_t component_kcv[3]);
KEYCARD_API keycard_rc keycard_key_combine(keycard *kc, uint8_t number, unsigned n,
                                           uint8_t kcv[3]);

/*
 * Sign an identity with the issuer's private key (PEM or DER, P-256) as the
 * provisioning step needs: fills id->issuer_sig. Errors: KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_CRYPTO.
 */
KEYCARD_API keycard_rc keycard_identity_sign(keycard_identity *id, const uint8_t *issuer_priv,
                                             size_t issuer_priv_len);

/*
 * The public half of a P-256 private key (PEM or DER) as the raw 65-byte
 * point that keycard_options.issuer_pub and the checks accept: a tool that
 * holds the issuer's private key (provisioning) checks the card against it.
 * Errors: KEYCARD_ERR_KEY_FORMAT, KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY.
 */
KEYCARD_API keycard_rc keycard_public_key(const uint8_t *priv, size_t priv_len, uint8_t pub[65]);

/*
 * Send a raw APDU and receive the raw response (data and SW1 SW2), for tools
 * and tests. With the secure channel open it travels wrapped in it (the
 * caller sees the plain inner answer); a raw SELECT goes in plain and ends
 * the session (keycard_reopen opens a new one). A command that carries a
 * secret follows the no-downgrade rule above. *resp_len: capacity in,
 * length out.
 * Errors: KEYCARD_ERR_BUFFER, KEYCARD_ERR_CHANNEL, KEYCARD_ERR_SESSION_LOST,
 * KEYCARD_ERR_NO_CHANNEL, transport errors.
 */
KEYCARD_API keycard_rc keycard_transmit(keycard *kc, const uint8_t *apdu, size_t apdu_len,
                                        uint8_t *resp, size_t *resp_len);

/* ==== Numbered keys and templates (provisioned by kc-admin) ============== */

/*
 * Provisioning puts of keys and templates reuse keycard_provision_put:
 *   tag KEYCARD_TAG_KEY(n):      type(1) flags(1) label_len(1) label key(16/32)
 *   tag KEYCARD_TAG_TEMPLATE(n): the binary template of docs/apdu.md
 * with n in 1..254.
 */
#define KEYCARD_TAG_KEY(n) ((uint16_t)(0x2000 | ((n) & 0xFF)))
#define KEYCARD_TAG_TEMPLATE(n) ((uint16_t)(0x3000 | ((n) & 0xFF)))

#define KEYCARD_KEY_AES128 0x01
#define KEYCARD_KEY_AES256 0x02

#define KEYCARD_KEYF_COMMON 0x01   /* patent way 1: same key in every card (weak) */
#define KEYCARD_KEYF_ENVELOPE 0x02 /* may key an issuance session */
#define KEYCARD_KEYF_INJECT 0x04   /* may be written into a target by a KEY slot */
#define KEYCARD_KEYF_STATIC 0x08   /* may be used without a chain (way 1/2) */

#define KEYCARD_LABEL_MAX 32

/* One entry of the key directory. Key values are never readable. */
typedef struct keycard_key_info {
    uint8_t number; /* 1..254 */
    uint8_t type;   /* KEYCARD_KEY_AES128 / KEYCARD_KEY_AES256 */
    uint8_t flags;  /* KEYCARD_KEYF_* */
    uint8_t kcv[3]; /* first 3 bytes of AES(key, 16 x 01), as GlobalPlatform */
    char label[KEYCARD_LABEL_MAX + 1];
} keycard_key_info;

/* One entry of the template directory. Templates are never readable. */
typedef struct keycard_template_info {
    uint8_t number;
    char label[KEYCARD_LABEL_MAX + 1];
} keycard_template_info;

/*
 * The key directory (GET DATA DF05; the admin key verified in this session).
 * *count: capacity in, entries written out.
 * Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_BUFFER (more keys than room),
 * KEYCARD_ERR_PROTOCOL, KEYCARD_ERR_ARG, transport errors.
 */
KEYCARD_API keycard_rc keycard_keys_list(keycard *kc, keycard_key_info *keys, size_t *count);

/* The template directory (GET DATA DF06, admin). Errors as keycard_keys_list. */
KEYCARD_API keycard_rc keycard_templates_list(keycard *kc, keycard_template_info *tpls,
                                              size_t *count);

/*
 * The card key of a target from a master key, as the key card computes it:
 * out = KDF(master, "keycard/diversify", serial, 8*len) (NIST SP 800-108
 * counter mode, AES-CMAC). len is 16 or 32; out receives len bytes and may
 * alias master. Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_CRYPTO.
 */
KEYCARD_API keycard_rc keycard_diversify(const uint8_t *master, size_t len,
                                         const uint8_t serial[8], uint8_t *out);

/* Key check value: first 3 bytes of AES(key, 16 x 01), as GlobalPlatform. Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_CRYPTO. */
KEYCARD_API keycard_rc keycard_key_kcv(const uint8_t *key, size_t len, uint8_t kcv[3]);

/* ==== Key versions ========================================================== */

/*
 * A key made or received for a number that holds one becomes its next
 * version; the one before is retired: kept, listed, never used for issuance,
 * until destroyed. At most two versions per number (destroy the retired one
 * before the next). A wrapped or restored key must bring exactly the next
 * version (a free number: one above every version it held), so an old blob
 * never comes back. docs/apdu.md "Key versions".
 */
typedef struct keycard_key_version {
    uint8_t number;
    uint8_t version;         /* of the current key; 0: none (only a retired one) */
    uint8_t retired_version; /* 0: none */
    uint8_t retired_kcv[3];
    uint8_t destroyed;       /* the highest version destroyed, 0: none */
} keycard_key_version;

/* The versions of every numbered key (GET DATA DF09, admin). Errors as keycard_keys_list. */
KEYCARD_API keycard_rc keycard_key_versions(keycard *kc, keycard_key_version *out,
                                            size_t *count);

/*
 * Destroy the retired version of key number, named by its version and KCV
 * (admin, no provisioning session): deleted with a key-destroyed audit entry
 * in one commit, then erased from the card's flash (a power cut before the
 * erase ends: the next power-up finishes it). Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_NOT_FOUND (no retired version),
 * KEYCARD_ERR_WRONG_DATA (another version or KCV), KEYCARD_ERR_CONDITIONS,
 * KEYCARD_ERR_CARD_MEMORY, transport errors.
 */
KEYCARD_API keycard_rc keycard_key_destroy(keycard *kc, uint8_t number, uint8_t version,
                                           const uint8_t kcv[3]);

/* ==== Wrapped keys: key card to key card, offline preparer ================ */

/*
 * A numbered key leaves a key card only wrapped to another key card's
 * certified channel key (docs/protocol.md section 9a, docs/apdu.md "Wrapped
 * keys"): ECDH with a fresh sender key, then AES-256-GCM with what the key is
 * bound as associated data. Only the recipient card opens it.
 */
#define KEYCARD_CHANNEL_CERT_LEN 143 /* C1 08 serial C4 41 PK.KA C6 40 signature */
#define KEYCARD_WRAPPED_MAX 172      /* the largest blob: 32-byte label, AES-256 key */

/* What a blob says about its key (its header; readable without opening it). */
typedef struct keycard_wrapped_info {
    uint8_t number, type, flags; /* as keycard_key_info */
    uint8_t version;             /* key version, 1..255 */
    uint8_t kcv[3];
    uint8_t from[8]; /* the exporting key card's serial; zero: prepared off-card */
    uint8_t to[8];   /* the recipient key card's serial */
    char label[KEYCARD_LABEL_MAX + 1];
    uint8_t format; /* 1: wrapped to a key card; 2: a backup blob (to: the backup id) */
} keycard_wrapped_info;

/* A channel certificate as bytes (GET DATA DF07), e.g. to write it to a file. */
KEYCARD_API keycard_rc keycard_channel_cert_encode(const keycard_channel_key *ck,
                                                   uint8_t out[KEYCARD_CHANNEL_CERT_LEN]);

/*
 * Read a channel certificate from its bytes; with issuer_pub (PEM, DER or a
 * raw point) check its signature. Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_WRONG_DATA (not a certificate), KEYCARD_ERR_KEY_FORMAT,
 * KEYCARD_ERR_NOT_GENUINE (not signed by that issuer key).
 */
KEYCARD_API keycard_rc keycard_channel_cert_parse(const uint8_t *buf, size_t len,
                                                  const uint8_t *issuer_pub,
                                                  size_t issuer_pub_len, keycard_channel_key *out);

/*
 * The offline preparer: wrap key (16 or 32 bytes, as type) as numbered key
 * number of flags, label and version for the key card of certificate to
 * (check it with keycard_channel_cert_parse and the issuer key first). No
 * card needed; the host's RNG gives the sender key. blob receives at most
 * KEYCARD_WRAPPED_MAX bytes, *len their number. Errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_BUFFER, KEYCARD_ERR_KEY_FORMAT, KEYCARD_ERR_CRYPTO.
 */
KEYCARD_API keycard_rc keycard_key_wrap(const keycard_channel_key *to, uint8_t number,
                                        uint8_t type, uint8_t flags, const char *label,
                                        uint8_t version, const uint8_t *key, size_t key_len,
                                        uint8_t *blob, size_t cap, size_t *len);

/*
 * The header of a blob (a wrapped key, or a backup blob). Errors:
 * KEYCARD_ERR_ARG, KEYCARD_ERR_WRONG_DATA, KEYCARD_ERR_VERSION (a format this
 * library does not know).
 */
KEYCARD_API keycard_rc keycard_wrapped_parse(const uint8_t *blob, size_t len,
                                             keycard_wrapped_info *out);

/*
 * KEY EXPORT (admin key verified, no provisioning session): key number
 * wrapped to the key card of certificate to. The card checks the
 * certificate against the issuer key it holds (put at provisioning) and
 * commits a key-exported audit entry before it answers. Errors:
 * KEYCARD_ERR_ARG, KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_CONDITIONS (a
 * provisioning session open, or the card holds no issuer key),
 * KEYCARD_ERR_WRONG_DATA (the certificate is not from its issuer, or is its
 * own), KEYCARD_ERR_NOT_FOUND (no such key), KEYCARD_ERR_CARD_MEMORY,
 * KEYCARD_ERR_BUFFER, transport errors.
 */
KEYCARD_API keycard_rc keycard_key_export(keycard *kc, uint8_t number,
                                          const keycard_channel_key *to, uint8_t *blob,
                                          size_t cap, size_t *len);

/*
 * KEY IMPORT (admin key verified, no provisioning session): store the key
 * of a blob addressed to this card under the blob's number, as its version
 * (which must be the next one: "Key versions"); kcv receives its check
 * value. Key and key-imported audit entry are one commit. Errors:
 * KEYCARD_ERR_ARG, KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_CONDITIONS (not the
 * next version, two versions held, a provisioning session open),
 * KEYCARD_ERR_WRONG_DATA (not for this card, altered),
 * KEYCARD_ERR_CARD_MEMORY, transport errors.
 */
KEYCARD_API keycard_rc keycard_key_import_wrapped(keycard *kc, const uint8_t *blob, size_t len,
                                                  uint8_t kcv[3]);

/* ==== n-of-m backup of the key set ========================================= */

/*
 * The card makes a backup key BK that exists only in its RAM, hands it out
 * only as N Shamir shares (any M rebuild it, fewer tell nothing) and each key
 * as a backup blob under BK (docs/apdu.md "Backup and restore"). Admin key
 * verified, no provisioning session; a SELECT, reset or power cut forgets BK
 * and any shares given to RESTORE.
 */
#define KEYCARD_BACKUP_ID_LEN 8
#define KEYCARD_BACKUP_SHARE_LEN 42 /* id(8) M(1) x(1) y(32) */
#define KEYCARD_BACKUP_SHARES_MAX 8

/*
 * Start a backup with threshold m of n shares (2 <= m <= n <= 8); id
 * receives the backup's id. The card logs a backup entry first. Errors:
 * KEYCARD_ERR_ARG, KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_CONDITIONS,
 * KEYCARD_ERR_CARD_MEMORY, transport errors.
 */
KEYCARD_API keycard_rc keycard_backup_begin(keycard *kc, unsigned m, unsigned n,
                                            uint8_t id[KEYCARD_BACKUP_ID_LEN]);
/* Share x (1..n) of the backup begun. Errors: as keycard_backup_begin. */
KEYCARD_API keycard_rc keycard_backup_share(keycard *kc, unsigned x,
                                            uint8_t share[KEYCARD_BACKUP_SHARE_LEN]);
/*
 * Key number as a backup blob under BK (at most KEYCARD_WRAPPED_MAX bytes).
 * Errors: KEYCARD_ERR_NOT_FOUND (no such key), KEYCARD_ERR_BUFFER, as above.
 */
KEYCARD_API keycard_rc keycard_backup_key(keycard *kc, uint8_t number, uint8_t *blob, size_t cap,
                                          size_t *len);
/* Forget BK (and shares given to a restore): the end of either. */
KEYCARD_API keycard_rc keycard_backup_end(keycard *kc);

/*
 * Restore: give the card shares of one backup (each checked for its id and
 * threshold, x not given before), then each blob; the card rebuilds BK from
 * the shares, opens the blob and stores the key in its number at its version
 * (the next one, "Key versions"), with a key-restored audit entry. Errors:
 * KEYCARD_ERR_CONDITIONS (fewer shares than the threshold; not the next
 * version),
 * KEYCARD_ERR_WRONG_DATA (a share of another backup or repeated; a blob of
 * another backup, altered, or the shares do not rebuild its key), as above.
 */
KEYCARD_API keycard_rc keycard_restore_share(keycard *kc, const uint8_t *share, size_t len);
KEYCARD_API keycard_rc keycard_restore_key(keycard *kc, const uint8_t *blob, size_t len,
                                           uint8_t kcv[3]);

/* ==== Issuance session on the key card ==================================== */

/*
 * Seeding ways (patent numbering): static (ways 1/2: no chain, counter
 * persisted by the target), the target's own random (way 3), the key card's
 * previous-random chain (way 4).
 */
typedef enum keycard_issue_way {
    KEYCARD_WAY_STATIC = 0x01,
    KEYCARD_WAY_TARGET_SEED = 0x03,
    KEYCARD_WAY_PREVIOUS_RANDOM = 0x04,
    /*
     * OR-ed into a way (keycard_target_issue_begin, keycard_issue_open,
     * keycard_issue_check): a packed session, several inner commands per
     * envelope up to the bucket (docs/protocol.md "Packed envelopes"). Both
     * cards must be asked the same, or the first envelope fails; send its
     * envelopes with keycard_target_envelope_packed.
     */
    KEYCARD_ISSUE_PACKED = 0x80
} keycard_issue_way;

/* END results (also in the audit receipt). */
#define KEYCARD_ISSUE_COMPLETED 0x00 /* the target's completion MAC verified */
#define KEYCARD_ISSUE_MAC_MISMATCH 0x01
#define KEYCARD_ISSUE_ABORTED 0x02

#define KEYCARD_SERIAL_LEN 8
#define KEYCARD_SEED_LEN 16
#define KEYCARD_MAC_LEN 16
#define KEYCARD_ISSUE_MAX_STEPS 64

/* One step of a session: a template number and its parameters. */
typedef struct keycard_step {
    uint8_t template_no;
    const uint8_t *params; /* the parameter bytes the template's items take, in order */
    size_t params_len;
} keycard_step;

#define KEYCARD_NONCE_LEN 16

/*
 * The fresh inputs of one issuance session (protocol v2). Both cards put
 * their own random into it, so no session key can repeat whatever the
 * issuing PC relays; the PC only carries them from one card to the other:
 *   keycard_target_issue_begin  fills target_nonce (and first_ctr, way 01);
 *   keycard_issue_open          reads them, fills keycard_nonce (and seed, way 04);
 *   keycard_target_issue_bind   gives keycard_nonce (and seed) to the target.
 * Nothing in it is secret except the way-04 seed, which the library wipes
 * with keycard_issue_nonces_wipe.
 */
typedef struct keycard_issue_nonces {
    uint8_t target_nonce[KEYCARD_NONCE_LEN];  /* Nt, from the target */
    uint32_t first_ctr;                       /* way 01: the target's next counter */
    uint8_t keycard_nonce[KEYCARD_NONCE_LEN]; /* Nk, from the key card */
    uint8_t seed[KEYCARD_SEED_LEN];           /* way 04: the key card's previous-random seed */
} keycard_issue_nonces;

/* Wipe n (the way-04 seed with it). keycard_issue_nonces_wipe(NULL) does nothing. */
KEYCARD_API void keycard_issue_nonces_wipe(keycard_issue_nonces *n);

/*
 * Open an issuance session for the target with this serial, keyed by key
 * key_no (which must have the ENVELOPE flag; way 01 also STATIC). Needs the
 * issuer and holder PINs verified. bucket: padded inner size of every
 * envelope, 64, 128, 256, 512 or 1024. n: target_nonce (and first_ctr, way
 * 01) as keycard_target_issue_begin gave them; on success the key card's
 * nonce (and, way 04, the seed) are filled in. The key card has then
 * committed an ISSUE-BEGIN audit entry (and its advanced previous-random
 * chain); a session that ends any way but keycard_issue_end leaves an
 * aborted receipt. Any session open before is ended.
 * Errors: KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_NOT_FOUND (no such key),
 * KEYCARD_ERR_CONDITIONS (key lacks ENVELOPE/STATIC), KEYCARD_ERR_CARD_MEMORY
 * (audit log full), KEYCARD_ERR_WRONG_DATA, KEYCARD_ERR_ARG,
 * KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_issue_open(keycard *kc, keycard_issue_way way,
                                          const uint8_t serial[8], uint8_t key_no,
                                          unsigned bucket, keycard_issue_nonces *n);

/*
 * Several target heads on one key card: the key card holds
 * KEYCARD_ISSUE_SESSIONS issuance sessions at once, one per head. This
 * selects the session that the handle's next keycard_issue_open, _wrap,
 * _wrap_size and _end use (0 at open; each session keeps its own bucket in
 * the handle). A card is in one session at a time (keycard_issue_open of a
 * serial another live session holds: KEYCARD_ERR_CONDITIONS); a late END
 * finds the card's session by its serial. The handle is not thread-safe: a
 * program driving heads from threads selects and calls under one lock.
 * Errors: KEYCARD_ERR_ARG (no such session).
 */
#define KEYCARD_ISSUE_SESSIONS 4
KEYCARD_API keycard_rc keycard_issue_session_select(keycard *kc, unsigned session);

/*
 * Protocol v1 calls, kept so that old programs get a clear error:
 * they always return KEYCARD_ERR_VERSION. Use keycard_issue_open and
 * keycard_target_issue_begin / keycard_target_issue_bind.
 */
KEYCARD_API keycard_rc keycard_issue_begin(keycard *kc, keycard_issue_way way,
                                           const uint8_t serial[8], uint8_t key_no,
                                           unsigned bucket, const uint8_t *seed_in,
                                           uint32_t first_ctr, uint8_t *seed_out);

/*
 * Turn steps into finished ENVELOPE APDUs for the target. out receives, for
 * each step in order, length(2, big-endian) || ENVELOPE APDU; *out_len is the
 * capacity in and the length out (walk it with keycard_issue_next). Steps go
 * to the key card in as few exchanges as its buffers allow; the key card
 * checks every step of an exchange before it produces anything, so a step
 * outside its template's schema gives KEYCARD_ERR_WRONG_DATA (6A80).
 * A session holds at most KEYCARD_ISSUE_MAX_STEPS envelopes.
 * Errors: KEYCARD_ERR_WRONG_DATA, KEYCARD_ERR_CONDITIONS (no session),
 * KEYCARD_ERR_BUFFER (out too small; nothing is sent), KEYCARD_ERR_ARG,
 * KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_issue_wrap(keycard *kc, const keycard_step *steps, size_t n,
                                          uint8_t *out, size_t *out_len);

/*
 * The out capacity keycard_issue_wrap needs for n steps in the handle's open
 * session (every envelope of a session has the same length, set by its
 * bucket). Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_CONDITIONS (no session).
 */
KEYCARD_API keycard_rc keycard_issue_wrap_size(const keycard *kc, size_t n, size_t *size);

/*
 * A step's parameter bytes, built without hand-encoding: one call per
 * template item that takes a parameter, in the template's order, each
 * appending to params (capacity cap) at *len (docs/apdu.md "Templates").
 *   keycard_param_int    an INT item of size bytes (1..4), big-endian; value
 *                        must fit in it (the card checks the item's range)
 *   keycard_param_bytes  a BYTES item: [n]_1 || bytes, n <= 255
 *   keycard_param_key    a KEY item: the key number (1..254)
 * FIXED items take nothing. Errors: KEYCARD_ERR_ARG (value out of the
 * item's form), KEYCARD_ERR_BUFFER (no room: nothing appended).
 */
KEYCARD_API keycard_rc keycard_param_int(uint8_t *params, size_t cap, size_t *len,
                                         uint32_t value, unsigned size);
KEYCARD_API keycard_rc keycard_param_bytes(uint8_t *params, size_t cap, size_t *len,
                                           const void *bytes, size_t n);
KEYCARD_API keycard_rc keycard_param_key(uint8_t *params, size_t cap, size_t *len,
                                         uint8_t key_no);

/*
 * Check a profile against the key card before the first card (ISSUE WRAP
 * P1 01): the key for the way, and every step as keycard_issue_wrap would
 * check it (template present, parameters and key slots inside it, inner data
 * within the bucket, the lock last, at most KEYCARD_ISSUE_MAX_STEPS). Needs
 * the PINs, no session; nothing is produced, nothing written, nothing logged.
 * All steps go in one command (their encoding at most 4092 bytes).
 * Returns KEYCARD_OK when all fit; KEYCARD_ERR_WRONG_DATA when the key card
 * refuses: *bad_step (from 0; 0 for a key or log reason) and *reason
 * (KEYCARD_CHECK_*) say why. Other errors: KEYCARD_ERR_ARG,
 * KEYCARD_ERR_BUFFER (the steps do not fit one command: not checked),
 * KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_PROTOCOL, transport errors.
 */
#define KEYCARD_CHECK_NO_KEY 0x01
#define KEYCARD_CHECK_KEY_USE 0x02
#define KEYCARD_CHECK_FRAMING 0x03
#define KEYCARD_CHECK_NO_TEMPLATE 0x04
#define KEYCARD_CHECK_PARAMS 0x05
#define KEYCARD_CHECK_BUCKET 0x06
#define KEYCARD_CHECK_LOCK_NOT_LAST 0x07
#define KEYCARD_CHECK_TOO_MANY 0x08
#define KEYCARD_CHECK_LOG_FULL 0x09 /* the audit log is full: no session until exported */
KEYCARD_API keycard_rc keycard_issue_check(keycard *kc, keycard_issue_way way, uint8_t key_no,
                                           unsigned bucket, const keycard_step *steps, size_t n,
                                           size_t *bad_step, int *reason);

/*
 * Iterate over the output of keycard_issue_wrap: *off starts at 0; each call
 * gives the next APDU (pointing into buf) and advances *off.
 * Errors: KEYCARD_ERR_NOT_FOUND at the end, KEYCARD_ERR_PROTOCOL when
 * malformed, KEYCARD_ERR_ARG.
 */
KEYCARD_API keycard_rc keycard_issue_next(const uint8_t *buf, size_t len, size_t *off,
                                          const uint8_t **apdu, size_t *apdu_len);

/*
 * End the session. inner_sw: the inner status words the target answered, one
 * per envelope produced, in order; mac: the completion MAC the target gave
 * for its lock envelope, or NULL to abort. The key card appends an
 * ISSUE-RECEIPT audit entry and *result receives KEYCARD_ISSUE_*.
 * Errors: KEYCARD_ERR_CONDITIONS (no session), KEYCARD_ERR_WRONG_DATA (n not
 * the number of envelopes produced), KEYCARD_ERR_ARG, KEYCARD_ERR_PROTOCOL,
 * transport errors.
 */
KEYCARD_API keycard_rc keycard_issue_end(keycard *kc, const uint16_t *inner_sw, size_t n,
                                         const uint8_t *mac, int *result);

/* What a locked target kept of the session that locked it (GET DATA DF12). */
#define KEYCARD_LOCK_DATA_MAX 32
typedef struct keycard_completion {
    unsigned steps;    /* envelopes of that session, the lock included */
    uint8_t lock_way;  /* P1 of its COMPLETE ISSUANCE */
    size_t lock_len;
    uint8_t lock_data[KEYCARD_LOCK_DATA_MAX];
    uint8_t mac[KEYCARD_MAC_LEN]; /* the completion MAC it answered then */
} keycard_completion;

/*
 * Late END, for a target that a cut session left locked without a receipt
 * (station killed between the lock and keycard_issue_end, key card reset or
 * pulled at the lock). Until its next ISSUE BEGIN the key card keeps the open
 * session's completion key: given the target's completion c (from
 * keycard_target_completion) and the inner status words of its steps
 * (inner_sw, c->steps of them; NULL: all 9000, as every session of kc-issue
 * that reached the lock), it checks the MAC and writes the receipt, flagged
 * late. c NULL only asks. *result: KEYCARD_ISSUE_COMPLETED or
 * KEYCARD_ISSUE_MAC_MISMATCH (a receipt was written now), or
 * KEYCARD_ISSUE_ON_RECORD (no open session for this serial, but the key
 * card's log keeps a completed receipt for it; nothing written).
 * Errors: KEYCARD_ERR_NOT_FOUND (no open session for this serial and no
 * completed receipt kept: the card cannot be vouched for by this key card),
 * KEYCARD_ERR_CONDITIONS (a session is open: end it with keycard_issue_end),
 * KEYCARD_ERR_NOT_VERIFIED, KEYCARD_ERR_WRONG_DATA, KEYCARD_ERR_ARG,
 * KEYCARD_ERR_PROTOCOL, transport errors.
 */
#define KEYCARD_ISSUE_ON_RECORD 0x03
KEYCARD_API keycard_rc keycard_issue_end_late(keycard *kc, const uint8_t serial[8],
                                              const keycard_completion *c,
                                              const uint16_t *inner_sw, int *result);

/* ==== Target card (the card being issued) ================================= */

/* Opaque handle of a target card. */
typedef struct keycard_target keycard_target;

/* Target states (GET DATA DF10). */
#define KEYCARD_TARGET_VIRGIN 0x00
#define KEYCARD_TARGET_MANUFACTURED 0x01
#define KEYCARD_TARGET_ISSUING 0x02
#define KEYCARD_TARGET_ISSUED 0x03

/* Lock ways applied (bit mask). */
#define KEYCARD_LOCK_KEY 0x01      /* (a) the issuance key is locked */
#define KEYCARD_LOCK_TABLE 0x02    /* (b) table of refused issuance commands */
#define KEYCARD_LOCK_FILE 0x04     /* (c) a completion file exists */
#define KEYCARD_LOCK_EXPLICIT 0x08 /* (d) explicit lock flag */

typedef struct keycard_target_info {
    uint8_t serial[8]; /* zero while VIRGIN */
    int state;         /* KEYCARD_TARGET_* */
    unsigned locks;    /* KEYCARD_LOCK_* */
} keycard_target_info;

/* One key given to a target at manufacture. */
typedef struct keycard_target_key {
    uint8_t number;  /* the key card's key number it matches */
    uint8_t flags;   /* bit0: static use allowed */
    size_t len;      /* 16 or 32 */
    uint8_t key[32]; /* Kcard: diversified for this target, or the common key */
} keycard_target_key;

#define KEYCARD_TARGET_KEYF_STATIC 0x01

/*
 * Open a target card. where:
 *   NULL or ""         every PC/SC reader is tried; the first card that is
 *                      not a key card and answers GET DATA DF10 is used;
 *   "pcsc:NAME"/"NAME" the PC/SC reader NAME (the target slot);
 *   "sim:FILE"         the target card firmware run in this process on the
 *                      flash image FILE (created virgin when missing), once
 *                      the simulator library registered it (keycard_sim.h);
 *   "SCHEME:ARG"       a scheme registered with keycard_register_scheme.
 * Errors: KEYCARD_ERR_ARG, KEYCARD_ERR_MEMORY, KEYCARD_ERR_NO_READER,
 * KEYCARD_ERR_NO_CARD, KEYCARD_ERR_TRANSPORT, KEYCARD_ERR_IO.
 */
KEYCARD_API keycard_rc keycard_target_open(keycard_target **out, const char *where);

/* Disconnect and free. keycard_target_close(NULL) does nothing. */
KEYCARD_API void keycard_target_close(keycard_target *t);

/*
 * keycard_hold / keycard_release / keycard_present for a target card: the
 * same rules (one transaction across many operations, nesting, a local
 * presence check).
 */
KEYCARD_API keycard_rc keycard_target_hold(keycard_target *t);
KEYCARD_API keycard_rc keycard_target_release(keycard_target *t);
KEYCARD_API keycard_rc keycard_target_present(keycard_target *t);

/* Name of the reader in use ("sim:FILE" for the simulator). */
KEYCARD_API const char *keycard_target_reader_name(const keycard_target *t);

/* The status word of the target's last answer (of an envelope: the outer one); 0 before any. */
KEYCARD_API uint16_t keycard_target_last_sw(const keycard_target *t);

/*
 * Serial, state and lock ways (GET DATA DF10, always readable).
 * Errors: KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_target_info_read(keycard_target *t, keycard_target_info *info);

/*
 * The completion a target locked by an envelope keeps with its lock: what a
 * station cut before keycard_issue_end needs for keycard_issue_end_late.
 * Public (only the key card of that session can check the MAC).
 * Errors: KEYCARD_ERR_NOT_FOUND (not locked by an envelope, or a target
 * firmware that keeps none), KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_target_completion(keycard_target *t, keycard_completion *c);

/*
 * Manufacture a virgin target: its serial and its keys (n 1..16).
 * Errors: KEYCARD_ERR_CONDITIONS (not virgin), KEYCARD_ERR_WRONG_DATA,
 * KEYCARD_ERR_ARG, transport errors.
 */
KEYCARD_API keycard_rc keycard_target_manufacture(keycard_target *t, const uint8_t serial[8],
                                                  const keycard_target_key *keys, size_t n);

/*
 * BEGIN ISSUANCE on the target with key key_no (first half): the target
 * answers protocol version 2, its fresh nonce (n->target_nonce) and, way 01,
 * its next counter (n->first_ctr). Give n to keycard_issue_open next.
 * Errors: KEYCARD_ERR_CONDITIONS (issued, or static not allowed),
 * KEYCARD_ERR_NOT_FOUND (no such key), KEYCARD_ERR_VERSION (a target of
 * another protocol version), KEYCARD_ERR_UNSUPPORTED (way with
 * KEYCARD_ISSUE_PACKED: the target takes no packed sessions; BEGIN again
 * without it), KEYCARD_ERR_ARG, KEYCARD_ERR_PROTOCOL, transport errors.
 */
KEYCARD_API keycard_rc keycard_target_issue_begin(keycard_target *t, keycard_issue_way way,
                                                  uint8_t key_no, keycard_issue_nonces *n);

/*
 * BIND (second half): give the target the key card's nonce (and, way 04, the
 * seed) from n as keycard_issue_open filled it. The target then derives the
 * session keys and accepts envelopes.
 * Errors: KEYCARD_ERR_CONDITIONS (no BEGIN before), KEYCARD_ERR_ARG,
 * transport errors.
 */
KEYCARD_API keycard_rc keycard_target_issue_bind(keycard_target *t, const keycard_issue_nonces *n);

/* Protocol v1 call: always KEYCARD_ERR_VERSION (see keycard_target_issue_begin). */
KEYCARD_API keycard_rc keycard_target_begin(keycard_target *t, keycard_issue_way way,
                                            uint8_t key_no, const uint8_t *seed_in,
                                            uint8_t *seed_out, uint32_t *ctr);

/*
 * Send one ENVELOPE APDU (as keycard_issue_wrap made it) and split the
 * answer: *inner_sw the inner status word, inner_data (capacity *inner_len,
 * may be NULL when 0) the inner response data, mac (may be NULL) the
 * response MAC. The host cannot check the MAC; the key card checks the
 * completion MAC at keycard_issue_end.
 * Errors: KEYCARD_ERR_ENVELOPE (6988: the session is over),
 * KEYCARD_ERR_CONDITIONS (6985: no session, stale counter, locked),
 * KEYCARD_ERR_BUFFER, KEYCARD_ERR_PROTOCOL, KEYCARD_ERR_ARG, transport errors.
 */
KEYCARD_API keycard_rc keycard_target_envelope(keycard_target *t, const uint8_t *apdu,
                                               size_t len, uint16_t *inner_sw,
                                               uint8_t *inner_data, size_t *inner_len,
                                               uint8_t *mac);

/*
 * Send one envelope of a packed session and split the answer: sws
 * (capacity *n) gets the status word of each inner command the target ran,
 * in order, and *n their number (it stops after the first one refused);
 * data (capacity *data_len, may be NULL when 0) the last one's answer data
 * (the completion MAC after COMPLETE ISSUANCE), *data_len its length.
 * Errors as keycard_target_envelope; KEYCARD_ERR_PROTOCOL for an answer
 * that is not a packed one.
 */
KEYCARD_API keycard_rc keycard_target_envelope_packed(keycard_target *t, const uint8_t *apdu,
                                                      size_t len, uint16_t *sws, size_t *n,
                                                      uint8_t *data, size_t *data_len);

/*
 * Raw APDU to the target (operational commands). *resp_len: capacity in,
 * length out; the answer ends with SW1 SW2.
 * Errors: KEYCARD_ERR_BUFFER, KEYCARD_ERR_ARG, transport errors.
 */
KEYCARD_API keycard_rc keycard_target_transmit(keycard_target *t, const uint8_t *apdu,
                                               size_t apdu_len, uint8_t *resp,
                                               size_t *resp_len);

#ifdef __cplusplus
}
#endif

#endif /* KEYCARD_H */
