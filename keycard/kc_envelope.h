/*
 * kc_envelope.h - the issuance crypto core shared by the key card and the
 * target card: key diversification, the random chain, the ENVELOPE APDU
 * (seal and open), response MACs, the completion MAC and the previous-random
 * chain. Pure functions over caller-owned buffers; docs/protocol.md gives
 * every byte, tests/vectors/ the known answers.
 *
 * Notation: serial is the target card's 8-byte serial number; c is the
 * envelope counter (1, 2, ...); R_c is the 32-byte per-envelope chain value.
 * Every function wipes its temporaries; the caller wipes what it passed in.
 */
#ifndef KC_ENVELOPE_H
#define KC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "kc_crypto.h"
#include "keycard_proto.h"

#define KC_ENV_SERIAL_LEN 8
#define KC_ENV_R_LEN 32    /* chain value R_c */
#define KC_ENV_SCTX_BASE_LEN 56 /* session context serial || Nt || Nk || seed */
/* Its buffer: one more byte for the options (0: none, KDF input 56 bytes). */
#define KC_ENV_SCTX_LEN (KC_ENV_SCTX_BASE_LEN + 1)
#define KC_ENV_KENV_LEN 64  /* AES-256-SIV key (K1 || K2) of one envelope */
#define KC_ENV_KRESP_LEN 16


/* Largest inner command data: it must leave room for the overhead in the bucket. */
#define KC_ENV_INNER_MAX (KC_ENV_BUCKET_MAX - KC_ENV_INNER_OVERHEAD)
/* Worst case ENVELOPE: extended header (7) + counter + bucket 1024 + tag + Le (2). */
#define KC_ENV_APDU_MAX (7 + KC_ENV_CTR_LEN + KC_ENV_BUCKET_MAX + KC_ENV_TAG_LEN + 2)
/* Response data overhead: counter (4) + inner SW (2) + MAC (16). */
#define KC_ENV_RESP_OVERHEAD (KC_ENV_CTR_LEN + 2 + KC_ENV_MAC_LEN)

/* 1 when b is one of 64, 128, 256, 512, 1024, else 0 (kc_env_bucket_ok). */
int kc_env_bucket_valid(size_t bucket);

/*
 * Card key from a master key: Kcard = KDF(master, "keycard/diversify", serial,
 * 8*master_len). kcard receives master_len bytes (16 or 32) and may alias master.
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_diversify(const uint8_t *master, size_t master_len, const uint8_t serial[8],
                     uint8_t *kcard);

/*
 * Session context of protocol v2, bound into every key of the session:
 * sctx = serial || Nt || Nk || seed, Nt the target's fresh nonce, Nk the key
 * card's fresh nonce, seed the previous-random seed of way 04 (NULL: 16 zero
 * bytes, ways 01 and 03). Because both cards put fresh random into it, no
 * key of a session can repeat whatever the host relays.
 */
void kc_env_session_ctx(uint8_t out[KC_ENV_SCTX_LEN], const uint8_t serial[8],
                        const uint8_t nt[16], const uint8_t nk[16], const uint8_t seed[16]);

/*
 * The same with session options (KC_ENV_OPT_PACKED): opts 0 gives the
 * 56-byte context above; any other value is appended as a 57th byte, so a
 * packed session's keys all differ from an unpacked one's with the same
 * nonces. Every derivation from sctx takes kc_env_sctx_len(sctx) bytes.
 */
void kc_env_session_ctx_opts(uint8_t out[KC_ENV_SCTX_LEN], const uint8_t serial[8],
                             const uint8_t nt[16], const uint8_t nk[16], const uint8_t seed[16],
                             uint8_t opts);

/* 56, or 57 when the context carries options. */
size_t kc_env_sctx_len(const uint8_t sctx[KC_ENV_SCTX_LEN]);

/*
 * Start of the chain: R_0 = KDF(kcard, "keycard/v2/chain-seed", sctx, 256).
 * kcard_len is 16 or 32. Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_chain_seed(const uint8_t *kcard, size_t kcard_len, const uint8_t sctx[KC_ENV_SCTX_LEN],
                      uint8_t r0[32]);

/*
 * Static-mode session key: B = KDF(kcard, "keycard/v2/static-base", sctx, 256);
 * R_c = kc_env_static_key(B, 32, serial, c). Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_static_base(const uint8_t *kcard, size_t kcard_len,
                       const uint8_t sctx[KC_ENV_SCTX_LEN], uint8_t base[32]);

/*
 * One chain step in place: r holds R_{c-1} on entry and R_c on return,
 * R_c = KDF(R_{c-1}, "keycard/chain-step", serial || [c]_4, 256); the old value
 * is gone. c >= 1. Returns 0, KC_ERR_ARG (c == 0), KC_ERR_CRYPTO (r wiped).
 */
int kc_env_chain_step(uint8_t r[32], const uint8_t serial[8], uint32_t c);

/*
 * R_c of static mode (no chain; patent ways 1 and 2), from the session's
 * static base B (kc_env_static_base):
 * R_c = KDF(B, "keycard/static", serial || [c]_4, 256). c >= 1.
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_static_key(const uint8_t *kcard, size_t kcard_len, const uint8_t serial[8],
                      uint32_t c, uint8_t r[32]);

/*
 * The two keys of envelope c: Kenv = KDF(R_c, "keycard/v2/envelope", serial || [c]_4, 512)
 * (an AES-256-SIV key), Kresp = KDF(R_c, "keycard/response", serial || [c]_4, 128).
 * Either output may be NULL when not wanted. Returns 0, KC_ERR_CRYPTO.
 */
int kc_env_keys(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                uint8_t kenv[KC_ENV_KENV_LEN], uint8_t kresp[16]);

/*
 * Build the ENVELOPE APDU of counter c for the inner command hdr (CLA INS P1 P2)
 * with data (data_len bytes, may be 0): plaintext padded to bucket bytes,
 * AES-256-GCM under Kenv. *apdu_len is the capacity of apdu on entry and the
 * APDU length on return (bucket + 26 for 64/128, bucket + 29 otherwise).
 * Returns 0; KC_ERR_ARG (bucket not allowed, c == 0, NULL pointers);
 * KC_ERR_TOO_BIG (7 + data_len > bucket, or apdu too small); KC_ERR_CRYPTO
 * (apdu wiped).
 */
int kc_env_seal(const uint8_t r[32], const uint8_t serial[8], uint32_t c, size_t bucket,
                const uint8_t hdr[4], const uint8_t *data, size_t data_len, uint8_t *apdu,
                size_t *apdu_len);

/*
 * Append one item of a packed envelope, inner header (4) || [Lc]_2 || data,
 * to items[*len .. cap). Returns 0, KC_ERR_ARG, KC_ERR_TOO_BIG (no room;
 * nothing written).
 */
int kc_env_item_put(uint8_t *items, size_t cap, size_t *len, const uint8_t hdr[4],
                    const uint8_t *data, size_t data_len);

/*
 * Build the packed ENVELOPE APDU of counter c: plaintext [count]_1 || items
 * (items_len bytes of kc_env_item_put items) || 80 00..00 to bucket bytes,
 * sealed as kc_env_seal seals. count 1..255. Returns 0; KC_ERR_ARG;
 * KC_ERR_TOO_BIG (items_len + 2 > bucket, or apdu too small); KC_ERR_CRYPTO.
 */
int kc_env_seal_packed(const uint8_t r[32], const uint8_t serial[8], uint32_t c, size_t bucket,
                       const uint8_t *items, size_t items_len, size_t count, uint8_t *apdu,
                       size_t *apdu_len);

/*
 * The same over a plaintext the caller built in place (no copy: one bucket
 * of stack less on a card): pt[0] the count (>= 1), the items after it,
 * used bytes in all; pt (bucket bytes) is padded in place and stays the
 * caller's to wipe. Returns 0; KC_ERR_ARG; KC_ERR_TOO_BIG (used + 1 >
 * bucket, or apdu too small); KC_ERR_CRYPTO.
 */
int kc_env_seal_packed_pt(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                          size_t bucket, uint8_t *pt, size_t used, uint8_t *apdu,
                          size_t *apdu_len);

/*
 * The item at pt[*off]: hdr its inner header, data/data_len its data (inside
 * pt); *off moves past it. Returns 0, KC_ERR_ARG, KC_ERR_BAD_DATA (the item
 * does not fit in pt[0 .. len)).
 */
int kc_env_item_next(const uint8_t *pt, size_t len, size_t *off, uint8_t hdr[4],
                     const uint8_t **data, size_t *data_len);

/*
 * Check and decrypt an ENVELOPE APDU (the whole command, header to Le) sealed
 * with R_c for counter expected_c. On success hdr gets the inner CLA INS P1 P2,
 * data the inner command data and *data_len (capacity in) its length; *bucket,
 * when not NULL, the bucket of the envelope. Checks, in order: outer header and
 * length encoding (canonical: short Lc/Le up to 255 data bytes, else extended),
 * data length = 4 + bucket + 16 for an allowed bucket; counter; tag; padding.
 * Never reads outside apdu[0..apdu_len). On any error hdr and data (its
 * *data_len capacity) are wiped, unless a pointer argument is NULL.
 * Returns 0; KC_ERR_ARG (NULL pointers, expected_c == 0); KC_ERR_ENV_FORMAT
 * (malformed outer APDU); KC_ERR_ENV_COUNTER (counter != expected_c);
 * KC_ERR_AUTH (tag fails: wrong key, serial, counter or altered bytes);
 * KC_ERR_BAD_DATA (authentic but inner length or padding malformed);
 * KC_ERR_TOO_BIG (data capacity too small); KC_ERR_CRYPTO.
 */
int kc_env_open(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                const uint8_t *apdu, size_t apdu_len, uint8_t hdr[4], uint8_t *data,
                size_t *data_len, size_t *bucket);

/*
 * As kc_env_open, for an APDU layer that has already checked the outer header
 * (84 C2 00 00) and the Lc/Le encoding: body is the command data field
 * [c]_4 || C || T, body_len must be 4 + bucket + 16. Errors as kc_env_open.
 */
int kc_env_open_body(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                     const uint8_t *body, size_t body_len, uint8_t hdr[4], uint8_t *data,
                     size_t *data_len, size_t *bucket);

/*
 * Both keys of one counter, derived together (kc_env_keys) once: a card that
 * opens envelope c and answers it uses one keyset for both, instead of
 * deriving from R_c twice. Wipe it (kc_wipe) when the answer is built.
 */
typedef struct kc_env_keyset {
    uint8_t kenv[KC_ENV_KENV_LEN];
    uint8_t kresp[16];
} kc_env_keyset;

/* Kenv and Kresp of envelope c from R_c. Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO. */
int kc_env_keyset_derive(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                         kc_env_keyset *k);

/* kc_env_open_body with the keyset of expected_c. Errors as kc_env_open. */
int kc_env_open_keyed(const kc_env_keyset *k, const uint8_t serial[8], uint32_t expected_c,
                      const uint8_t *body, size_t body_len, uint8_t hdr[4], uint8_t *data,
                      size_t *data_len, size_t *bucket);

/*
 * Open a packed envelope body ([c]_4 || C || T, checked as kc_env_open_body
 * checks it) into pt (capacity *pt_len, at least the bucket): on success
 * pt[0 .. *pt_len) is [count]_1 || the items, *count >= 1 of them, walked
 * with kc_env_item_next from offset 1; the items end exactly at the padding
 * mark. Errors as kc_env_open_keyed; KC_ERR_BAD_DATA when authentic but
 * malformed (count 0, an item past the end, bad padding). After an error pt
 * holds no plaintext (what was decrypted is wiped).
 */
int kc_env_open_packed_keyed(const kc_env_keyset *k, const uint8_t serial[8],
                             uint32_t expected_c, const uint8_t *body, size_t body_len,
                             uint8_t *pt, size_t *pt_len, size_t *count);

/*
 * Response MAC of envelope c: M = AES-CMAC(Kresp, [c]_4 || sw[0] sw[1] || data).
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_resp_mac(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                    const uint8_t sw[2], const uint8_t *data, size_t data_len, uint8_t mac[16]);

/*
 * Build the response data of envelope c: [c]_4 || SW1 SW2 || data || M
 * (the outer status word 9000 is the caller's). *out_len is capacity in,
 * length (data_len + 22) out. out must not overlap data.
 * Returns 0, KC_ERR_ARG, KC_ERR_TOO_BIG (out too small), KC_ERR_CRYPTO.
 */
int kc_env_resp_build(const uint8_t r[32], const uint8_t serial[8], uint32_t c,
                      const uint8_t sw[2], const uint8_t *data, size_t data_len, uint8_t *out,
                      size_t *out_len);

/* kc_env_resp_build with the keyset of envelope c. Errors as kc_env_resp_build. */
int kc_env_resp_build_keyed(const kc_env_keyset *k, uint32_t c, const uint8_t sw[2],
                            const uint8_t *data, size_t data_len, uint8_t *out, size_t *out_len);

/*
 * Verify response data of envelope expected_c (as kc_env_resp_build made it).
 * On success sw gets the inner status word and the inner data is
 * resp[*data_off .. *data_off + *data_len). The MAC is compared in constant time.
 * Returns 0; KC_ERR_ARG; KC_ERR_ENV_FORMAT (shorter than 22 bytes);
 * KC_ERR_ENV_COUNTER; KC_ERR_AUTH; KC_ERR_CRYPTO.
 */
int kc_env_resp_verify(const uint8_t r[32], const uint8_t serial[8], uint32_t expected_c,
                       const uint8_t *resp, size_t resp_len, uint8_t sw[2], size_t *data_off,
                       size_t *data_len);

/* Running transcript of a session for the completion MAC (caller-owned, no malloc). */
typedef struct kc_env_transcript {
    kc_sha256_ctx h; /* SHA-256 over [c]_4 || SW1 SW2 of every envelope */
    uint32_t n;      /* envelopes recorded */
} kc_env_transcript;

/*
 * Completion key: Kcomp = KDF(kcard, "keycard/v2/completion", sctx, 128).
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_completion_key(const uint8_t *kcard, size_t kcard_len,
                          const uint8_t sctx[KC_ENV_SCTX_LEN], uint8_t kcomp[16]);

/* Start an empty transcript. Returns 0 or KC_ERR_CRYPTO. */
int kc_env_transcript_init(kc_env_transcript *t);

/*
 * Record envelope c and its inner status word. Returns 0, KC_ERR_ARG,
 * KC_ERR_TOO_BIG (2^32 - 1 envelopes already), KC_ERR_CRYPTO.
 */
int kc_env_transcript_update(kc_env_transcript *t, uint32_t c, const uint8_t sw[2]);

/*
 * Completion MAC = AES-CMAC(kcomp, serial || [n]_4 || H || lock_way || [len]_1 ||
 * lock_data), H the transcript hash, n the number of envelopes recorded,
 * lock_way (P1) and lock_data (at most KC_ENV_LOCK_DATA_MAX bytes) those of
 * the COMPLETE ISSUANCE that locked the card: the lock is bound into the
 * proof. Ends the transcript (its state is wiped, also on error).
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO.
 */
int kc_env_transcript_final(kc_env_transcript *t, const uint8_t kcomp[16],
                            const uint8_t serial[8], uint8_t lock_way, const uint8_t *lock_data,
                            size_t lock_len, uint8_t mac[16]);

/*
 * Previous-random chain step of the key card for the card with this serial:
 * seed = KDF(p, "keycard/previous-random/seed", serial, 128) and
 * next = KDF(p, "keycard/previous-random/next", serial, 256). next may alias p.
 * (The key card must commit next before seed leaves it.)
 * Returns 0, KC_ERR_ARG, KC_ERR_CRYPTO (outputs wiped).
 */
int kc_env_prev_random(const uint8_t p[32], const uint8_t serial[8], uint8_t seed[16],
                       uint8_t next[32]);

#endif /* KC_ENVELOPE_H */
