/*
 * keycard_proto.h - the key card's wire protocol: every constant that both the
 * card firmware (keycard/) and the host library (libkeycard/) must agree on.
 *
 * One header for both sides so the two cannot drift. docs/apdu.md describes
 * each command byte by byte; this file is its machine-readable twin.
 */
#ifndef KEYCARD_PROTO_H
#define KEYCARD_PROTO_H

#include <stddef.h>

/* Application identifier: F0 'K' 'E' 'Y' 'C' 'A' 'R' 'D' 00 01 (proprietary RID). */
#define KC_AID_BYTES 0xF0, 0x4B, 0x45, 0x59, 0x43, 0x41, 0x52, 0x44, 0x00, 0x01
#define KC_AID_LEN 10

/*
 * The key card's ATR without its TCK (the card appends the XOR of T0 .. the
 * last historical byte): TS 3B, T0 8C (TD1 follows, 12 historical bytes), TD1
 * 80 (TD2 follows, T=0 announced as ISO 7816-3 requires before T=1), TD2 01
 * (T=1), then the historical bytes: category 80 (compact-TLV), 57 "KEYCARD"
 * (card issuer's data, tag 5), 82 90 00 (status indicator). The host tells a
 * key card by it without sending a byte.
 */
#define KC_ATR_BODY \
    { 0x3B, 0x8C, 0x80, 0x01, 0x80, 0x57, 'K', 'E', 'Y', 'C', 'A', 'R', 'D', 0x82, 0x90, 0x00 }

/*
 * Protocol version reported by GET DATA DF03 (major.minor). Version 2: both
 * cards put fresh nonces into every issuance session, AES-SIV envelopes, the
 * lock bound into the completion MAC, every ISSUE BEGIN audited.
 */
#define KC_PROTO_VERSION_MAJOR 2
#define KC_PROTO_VERSION_MINOR 0

/* Class bytes. Bit 0x10 (command chaining) may be added to either. */
#define KC_CLA_ISO 0x00
#define KC_CLA_PROP 0x80
#define KC_CLA_CHAIN 0x10

/* Instructions, ISO 7816-4 (CLA 00). */
#define KC_INS_SELECT 0xA4
#define KC_INS_VERIFY 0x20
#define KC_INS_CHANGE_REFERENCE_DATA 0x24
#define KC_INS_RESET_RETRY_COUNTER 0x2C
#define KC_INS_GET_DATA 0xCA
#define KC_INS_INTERNAL_AUTHENTICATE 0x88

/* Instructions, proprietary (CLA 80). */
#define KC_INS_AUDIT_READ 0xA0
#define KC_INS_AUDIT_SIGN 0xA2 /* data: nonce (8..32); answer: signed head */
#define KC_INS_AUDIT_ACK 0xA4  /* data: seq (u32 BE): entries below it are exported */
#define KC_INS_PROVISION_BEGIN 0xE0
#define KC_INS_PROVISION_PUT 0xE2
#define KC_INS_PROVISION_GENERATE 0xE4
#define KC_INS_PROVISION_COMMIT 0xE6
#define KC_INS_PROVISION_ABORT 0xE8
#define KC_INS_OPEN_CHANNEL 0x40 /* secure channel (docs/protocol.md "Secure channel") */

/* SELECT parameters. */
#define KC_SELECT_P1_BY_AID 0x04
#define KC_SELECT_P2_FIRST_FCI 0x00
#define KC_SELECT_P2_NO_RESPONSE 0x0C

/* Credential references (P2 of VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER). */
#define KC_REF_ISSUER_PIN 0x81
#define KC_REF_HOLDER_PIN 0x82
#define KC_REF_ADMIN_KEY 0x83

/* RESET RETRY COUNTER P1 (ISO 7816-4 meaning). Admin key verified beforehand. */
#define KC_RRC_P1_NEW_PIN 0x02  /* data: new PIN; tries reset */
#define KC_RRC_P1_RESET_ONLY 0x03 /* no data; tries reset, PIN kept */

/* Credential limits. 63Cx can express at most 15 tries. */
#define KC_PIN_MIN_LEN 4
#define KC_PIN_MAX_LEN 16
#define KC_ADMIN_KEY_LEN_128 16
#define KC_ADMIN_KEY_LEN_256 32
#define KC_TRIES_MIN 1
#define KC_TRIES_MAX 15

/* GET DATA tags (P1P2) and PROVISION PUT items (P1P2). */
#define KC_TAG_HOLDER_NAME 0x5F20   /* UTF-8, 1..64 bytes; issuer+holder PIN */
#define KC_TAG_HOLDER_NUMBER 0xDF01 /* printable ASCII, 1..32; issuer+holder PIN */
#define KC_TAG_IDENTITY 0xDF02      /* identity blob (TLV below); issuer+holder PIN */
#define KC_TAG_STATUS 0xDF03        /* card status (TLV below); always readable */
#define KC_TAG_ID_SIGNATURE 0xDF04  /* PUT only: issuer's signature of the identity */
#define KC_TAG_ISSUER_PIN 0x0181    /* PUT only: tries(1) || PIN digits */
#define KC_TAG_HOLDER_PIN 0x0182    /* PUT only: tries(1) || PIN digits */
#define KC_TAG_ADMIN_KEY 0x0183     /* PUT only: tries(1) || key (16 or 32 bytes) */
#define KC_TAG_CHANNEL_CERT 0xDF07  /* channel certificate (TLV below); always readable */
#define KC_TAG_CHANNEL_SIG 0xDF08   /* PUT only: issuer's signature of the channel key */
#define KC_TAG_CHANNEL_POLICY 0x00C0 /* PUT only: 1 byte, KC_CHANNEL_* */

#define KC_HOLDER_NAME_MAX 64
#define KC_HOLDER_NUMBER_MAX 32

/* Inner tags of the identity blob (GET DATA DF02). */
#define KC_ID_TAG_SERIAL 0xC1     /* 8 bytes: key card serial */
#define KC_ID_TAG_DEVICE_PUB 0xC2 /* 65 bytes: uncompressed P-256 point */
#define KC_ID_TAG_SIGNATURE 0xC3  /* 64 bytes: issuer ECDSA P-256 r||s */

/* Inner tags of the channel certificate (GET DATA DF07): C1 serial, C4, C6. */
#define KC_CH_TAG_KA_PUB 0xC4    /* 65 bytes: the key-agreement key PK.KA */
#define KC_CH_TAG_SIGNATURE 0xC6 /* 64 bytes: issuer ECDSA P-256 r||s */

/*
 * Secure channel (docs/protocol.md): CLA bit 0x04 marks a wrapped command;
 * PROVISION GENERATE P1=01 makes the key-agreement key; policy values.
 */
#define KC_CLA_SM 0x04
#define KC_GENERATE_P1_DEVICE 0x00
#define KC_GENERATE_P1_CHANNEL 0x01
/*
 * PROVISION GENERATE P1=20, P2=number, outside a provisioning session and
 * under the admin key: a numbered key from the card's own RNG (docs/apdu.md
 * "Keys made on the card"). data: type flags label_len label (as PUT P1=20
 * without the key); answer: its KCV (3 bytes). The key value never leaves
 * the card; the key and its audit entry are one commit.
 */
#define KC_GENERATE_P1_KEY 0x20
#define KC_GENERATE_KEY_LC_MIN 3
/*
 * Keys from components under dual control (docs/apdu.md "Keys from
 * components"), outside a provisioning session, under the admin key:
 * PROVISION PUT P1=22, P2=number, data type flags label_len label name_len
 * custodian component component_kcv(3): one component, checked against its
 * KCV, XORed into the card's RAM (an audit entry of its own, no key byte in
 * flash); PROVISION GENERATE P1=21, P2=number, data n(1): the n components
 * combined into the numbered key, stored with its audit entry in one commit;
 * answer: the key's KCV. At most 8 components; a custodian name at most 32.
 */
#define KC_PUT_P1_COMPONENT 0x22
#define KC_GENERATE_P1_COMBINE 0x21
#define KC_COMPONENTS_MAX 8
#define KC_CUSTODIAN_MAX 32
/*
 * Wrapped keys (docs/protocol.md section 9a, docs/apdu.md "Wrapped keys"),
 * outside a provisioning session, under the admin key. KEY EXPORT, P2 =
 * number, data: the recipient key card's channel certificate (GET DATA DF07,
 * 143 bytes), checked against the issuer key this card holds (PUT 00C1);
 * answer: the blob. KEY IMPORT, P2 = number, data: a blob addressed to this
 * card; answer: the key's KCV. Each writes an audit entry in the commit.
 */
#define KC_INS_KEY_EXPORT 0xEA
#define KC_INS_KEY_IMPORT 0xEC
#define KC_TAG_ISSUER_PUB 0x00C1 /* PUT only: the issuer's public key (65 bytes), written once */
#define KC_KEYWRAP_MAGIC 0x4B57  /* "KW" */
#define KC_KEYWRAP_FORMAT 0x01
#define KC_KEYWRAP_HDR_LEN 27 /* without the label */
#define KC_KEYWRAP_BODY_LEN (KC_P256_PUB_LEN + 16) /* ePK.W and the GCM tag */
#define KC_KEYWRAP_MIN (KC_KEYWRAP_HDR_LEN + KC_KEYWRAP_BODY_LEN + 16)
#define KC_KEYWRAP_MAX (KC_KEYWRAP_HDR_LEN + KC_LABEL_MAX + KC_KEYWRAP_BODY_LEN + 32)
#define KC_KEYWRAP_KX_LABEL "keycard/keywrap/v1"
#define KC_KEYWRAP_KDF_LABEL "keycard/keywrap"
/*
 * Key versions (docs/apdu.md "Key versions"): a key made or received for a
 * number that holds one becomes its next version; the one before is retired
 * (kept, never used for issuance) until KEY DESTROY, P2 = number, data:
 * version(1) kcv(3), erases it from flash. GET DATA DF09 lists the versions.
 */
#define KC_INS_KEY_DESTROY 0xEE
#define KC_TAG_KEY_VERSIONS 0xDF09 /* repeated: n version retired_version retired_kcv(3) destroyed */
#define KC_KEY_VERSIONS_ENTRY_LEN 7
/*
 * n-of-m backup (docs/apdu.md "Backup and restore"), outside a provisioning
 * session, under the admin key. BACKUP P1 00 (data M N): the card makes a
 * backup key BK and an id in RAM, logs BACKUP, answers the id; P1 01 (P2 =
 * x, 1..N): share x of BK (Shamir, GF(2^8) x^8+x^4+x^3+x^2+1, threshold M);
 * P1 02 (P2 = number): the key as a backup blob under BK; P1 03: forget BK.
 * RESTORE P1 01 (data: a share): kept in RAM; P1 02 (P2 = number, data: a
 * backup blob): with M shares of one backup, BK rebuilt, the key stored in a
 * free number with a KEY_RESTORED entry; P1 03: forget the shares.
 */
#define KC_INS_BACKUP 0xF0
#define KC_INS_RESTORE 0xF2
#define KC_BACKUP_P1_BEGIN 0x00
#define KC_BACKUP_P1_SHARE 0x01
#define KC_BACKUP_P1_KEY 0x02
#define KC_BACKUP_P1_END 0x03
#define KC_BACKUP_SHARES_MAX 8
#define KC_BACKUP_ID_LEN 8
#define KC_BACKUP_SHARE_LEN (KC_BACKUP_ID_LEN + 2 + 32) /* id M x y(32) */
#define KC_BACKUP_FORMAT 0x02 /* the blob's format byte (header as KC_KEYWRAP_*, "to" = id) */
#define KC_BACKUP_MIN (KC_KEYWRAP_HDR_LEN + 16 + 16)
#define KC_BACKUP_MAX (KC_KEYWRAP_HDR_LEN + KC_LABEL_MAX + 16 + 32)
#define KC_BACKUP_KDF_LABEL "keycard/backup"
#define KC_BACKUP_POLY_LABEL "keycard/backup/poly"
 /* every stored key today (docs/apdu.md "Wrapped keys") */
#define KC_CHANNEL_OPTIONAL 0x00
#define KC_CHANNEL_REQUIRED 0x01
#define KC_CHANNEL_KDF_LABEL "keycard/channel"
/* Fixed info of the one-step KDF (SP 800-56C) that gives the channel's KDF key Kx. */
#define KC_CHANNEL_KX_LABEL "keycard/channel/v2"
#define KC_CHANNEL_RECEIPT_LEN 16
/* OPEN CHANNEL answer: the card's ephemeral key ePK.C || receipt (81 bytes). */
#define KC_CHANNEL_OPEN_RESP_LEN (KC_P256_PUB_LEN + KC_CHANNEL_RECEIPT_LEN)
/* KDF context ePK.H || ePK.C || PK.KA (195 bytes), also the message of the receipt. */
#define KC_CHANNEL_CTX_LEN (3 * KC_P256_PUB_LEN)
#define KC_CHANNEL_TAG_LEN 16
#define KC_CHANNEL_CTR_LEN 4
#define KC_CHANNEL_CMD_OVERHEAD (KC_CHANNEL_CTR_LEN + KC_CHANNEL_TAG_LEN) /* 20 */
#define KC_CHANNEL_RESP_OVERHEAD (2 + KC_CHANNEL_TAG_LEN) /* inner SW + tag: 18 */

/* Inner tags of the status blob (GET DATA DF03). */
#define KC_ST_TAG_SERIAL 0xC1    /* 8 bytes */
#define KC_ST_TAG_LIFECYCLE 0xC5 /* 1 byte, KC_LIFECYCLE_* */
#define KC_ST_TAG_VERSION 0xC6   /* 2 bytes: major, minor */
#define KC_ST_TAG_TRIES 0xC7     /* 3 bytes: tries left for 81, 82, 83 */
#define KC_ST_TAG_AUDIT 0xC8     /* 6 bytes: next sequence (u32 BE), capacity (u16 BE) */
#define KC_ST_TAG_STAGING 0xC9   /* 1 byte: 1 while a provisioning session is open */

#define KC_SERIAL_LEN 8
#define KC_P256_PUB_LEN 65
#define KC_P256_SIG_LEN 64
#define KC_P256_PRIV_LEN 32

/* Life cycle states. */
#define KC_LIFECYCLE_BLANK 0x01
#define KC_LIFECYCLE_PROVISIONED 0x07

/* INTERNAL AUTHENTICATE challenge bounds. */
#define KC_IA_CHALLENGE_MIN 8
#define KC_IA_CHALLENGE_MAX 64

/*
 * Signature domains. Every ECDSA signature is over SHA-256(label || message),
 * the label including its terminating NUL, so a signature made for one purpose
 * can never be presented as one made for another.
 */
#define KC_SIG_LABEL_IDENTITY "keycard identity v1"
#define KC_SIG_LABEL_INTERNAL_AUTH "keycard internal-authenticate v1"
/* AUDIT SIGN: over next(4) || head(32) || lost(4) || nonce. */
#define KC_SIG_LABEL_AUDIT_HEAD "keycard audit head v1"
#define KC_SIG_LABEL_CHANNEL "keycard channel v1"

/*
 * Audit log (docs/apdu.md "Audit log"). A wire entry is
 * seq(4) time(4) event(1) len(1) data(len) prev(32), prev being the chain head
 * before the entry: head_0 = 32 zero bytes,
 * head_i = SHA-256(KC_AUDIT_CHAIN_LABEL NUL || head_{i-1} || seq..data of entry i).
 */
#define KC_AUDIT_CAPACITY 128
#define KC_AUDIT_DATA_MAX 72
#define KC_AUDIT_HDR_LEN 10 /* seq(4) time(4) event(1) len(1) */
#define KC_AUDIT_PREV_LEN 32
#define KC_AUDIT_ENTRY_MAX (KC_AUDIT_HDR_LEN + KC_AUDIT_DATA_MAX + KC_AUDIT_PREV_LEN)
#define KC_AUDIT_CHAIN_LABEL "keycard audit v1"
/*
 * Full-log policy: unacknowledged entries (seq >= the acknowledged mark) are
 * never overwritten. Events that start something (unlock, provisioning, PIN
 * change, unblock, ISSUE BEGIN) are refused (6A84) once CAPACITY - RESERVE
 * entries are unacknowledged; receipts and security events (PIN blocked,
 * channel failure) may use the reserve. A security event that finds even the
 * reserve full is counted as lost in the signed head (it cannot be refused:
 * it already happened).
 */
#define KC_AUDIT_RESERVE 16
#define KC_AUDIT_NONCE_MIN 8
#define KC_AUDIT_NONCE_MAX 32
#define KC_AUDIT_SIGNED_LEN 104 /* AUDIT SIGN answer: next(4) head(32) lost(4) sig(64) */
#define KC_AUDIT_EVT_UNLOCK 0x01      /* data: holder number */
#define KC_AUDIT_EVT_PROVISIONED 0x02 /* data: none */
#define KC_AUDIT_EVT_PIN_BLOCKED 0x03 /* data: reference (1 byte) */
#define KC_AUDIT_EVT_UNBLOCKED 0x04   /* data: reference (1 byte) */
#define KC_AUDIT_EVT_PIN_CHANGED 0x05 /* data: reference (1 byte) */
/*
 * Channel failures need no credential, so they are counted, not logged one
 * by one (else anyone on the line could fill the log): event 07 carries a
 * summary, count(4) first(4) last(4) (times of the first and last failure)
 * then the count of each reason 01..04 (4 each), last reason(1) last INS(1),
 * all u32 BE (KC_AUDIT_CHF_SUMMARY_LEN bytes). It is written once, just
 * before the next entry of another event or at the next admin-key VERIFY,
 * and the count starts again. A 2-byte event 07 (reason INS) is one failure
 * as firmware before the summary logged it.
 */
#define KC_AUDIT_EVT_CHANNEL_FAILURE 0x07
#define KC_AUDIT_CHF_MAC 0x01     /* a secure messaging tag did not verify */
#define KC_AUDIT_CHF_COUNTER 0x02 /* replayed, reordered or skipped counter */
#define KC_AUDIT_CHF_PLAIN 0x03   /* a plain command while the channel was open */
#define KC_AUDIT_CHF_FORMAT 0x04  /* malformed secure messaging command */
#define KC_AUDIT_CHF_REASONS 4
#define KC_AUDIT_CHF_SUMMARY_LEN (12 + 4 * KC_AUDIT_CHF_REASONS + 2) /* 30 */

/* ---- ENVELOPE (docs/protocol.md): the one wire form of an issuance command ---- */

#define KC_ENV_CLA 0x84
#define KC_ENV_INS 0xC2
#define KC_ENV_CTR_LEN 4    /* counter c in front of the ciphertext */
#define KC_ENV_TAG_LEN 16   /* AES-SIV tag after it */
#define KC_ENV_MAC_LEN 16   /* response MAC, completion MAC */
#define KC_ENV_NONCE_LEN 16 /* Nt (target) and Nk (key card): fresh per session */
#define KC_ENV_SEED_LEN 16  /* way 04 seed */
#define KC_ENV_LOCK_DATA_MAX 32 /* data of a COMPLETE ISSUANCE bound in the completion MAC */
/* Plaintext sizes allowed (the bucket); one per session so every envelope looks alike. */
#define KC_ENV_BUCKET_MIN 64
#define KC_ENV_BUCKET_MAX 1024
/* Inner header (4) + inner Lc (2) + the 0x80 padding mark (1). */
#define KC_ENV_INNER_OVERHEAD 7
/*
 * Packed sessions (docs/protocol.md "Packed envelopes"): P1 bit 80 of the
 * key card's ISSUE BEGIN and the target's BEGIN ISSUANCE asks for them, and
 * the session context ends with KC_ENV_OPT_PACKED. One envelope then carries
 * P = [k]_1 || k items (inner header (4) || [Lc]_2 || data) || 80 00..00, so
 * one item alone needs 8 bytes beside its data; the answer data is
 * [k']_1 || k' times (SW1 SW2 [len]_1 data), k' the items run.
 */
#define KC_ISSUE_BEGIN_PACKED 0x80
#define KC_ENV_OPT_PACKED 0x01
#define KC_ENV_PACKED_OVERHEAD 8 /* count (1) + inner header (4) + [Lc]_2 + padding mark (1) */
#define KC_ENV_ITEM_HDR 6        /* inner header (4) + [Lc]_2 of one item */
#define KC_ENV_ANSWER_ITEM 3     /* SW1 SW2 [len]_1 of one item's answer */

/* KDF labels of the issuance keys (docs/protocol.md; NIST SP 800-108, AES-CMAC). */
#define KC_KDF_LABEL_DIVERSIFY "keycard/diversify" /* card key from a master key */
#define KC_KDF_LABEL_CHAIN_SEED "keycard/v2/chain-seed" /* R_0 of a session (ways 03, 04) */
#define KC_KDF_LABEL_STATIC_BASE "keycard/v2/static-base" /* the static session base B (way 01) */
#define KC_KDF_LABEL_CHAIN_STEP "keycard/chain-step" /* R_c from R_{c-1} */
#define KC_KDF_LABEL_STATIC "keycard/static" /* R_c from B (way 01) */
#define KC_KDF_LABEL_ENVELOPE "keycard/v2/envelope" /* the AES-256-SIV key of envelope c */
#define KC_KDF_LABEL_RESPONSE "keycard/response" /* the response MAC key of envelope c */
#define KC_KDF_LABEL_COMPLETION "keycard/v2/completion" /* the completion MAC key */
#define KC_KDF_LABEL_PREV_SEED "keycard/previous-random/seed" /* way 04 seed from P */
#define KC_KDF_LABEL_PREV_NEXT "keycard/previous-random/next" /* way 04 next P */

/* 1 when b is a bucket: 64, 128, 256, 512 or 1024. */
static inline int kc_env_bucket_ok(size_t b)
{
    return b >= KC_ENV_BUCKET_MIN && b <= KC_ENV_BUCKET_MAX && (b & (b - 1)) == 0;
}

/*
 * Length of every ENVELOPE APDU of a bucket: short (5 + data + Le 00) while
 * the data field counter || ciphertext || tag fits 255 bytes, else extended
 * (7 + data + Le 00 00).
 */
static inline size_t kc_env_apdu_len(size_t bucket)
{
    size_t n = KC_ENV_CTR_LEN + bucket + KC_ENV_TAG_LEN;
    return n <= 255 ? 5 + n + 1 : 7 + n + 2;
}

/* ---- Issuance (docs/apdu.md "Issuance"): keys, templates, sessions ---- */

/* Instructions, proprietary (CLA 80). */
#define KC_INS_ISSUE_BEGIN 0x50
#define KC_INS_ISSUE_WRAP 0x52
/*
 * ISSUE WRAP P1 01, "check": data key(1) way(1) bucket(2) steps, no session
 * needed, nothing produced or written: the key and every step checked as
 * ISSUE BEGIN and WRAP would. Answer: result(1: 00 all fit, 01 refused)
 * step(1: index of the refused step, from 0) reason(1: KC_ISSUE_CHECK_*).
 * A station runs it once before the first card, so that a profile the key
 * card cannot serve stops the batch before any card is touched.
 */
#define KC_ISSUE_WRAP_P1_CHECK 0x01
#define KC_ISSUE_CHECK_NO_KEY 0x01        /* no such key */
#define KC_ISSUE_CHECK_KEY_USE 0x02       /* key without ENVELOPE (or STATIC, way 01) */
#define KC_ISSUE_CHECK_FRAMING 0x03       /* steps not template(1) len(2) params */
#define KC_ISSUE_CHECK_NO_TEMPLATE 0x04   /* no such template */
#define KC_ISSUE_CHECK_PARAMS 0x05        /* parameters outside the template, or a key slot */
#define KC_ISSUE_CHECK_BUCKET 0x06        /* inner data longer than the bucket allows */
#define KC_ISSUE_CHECK_LOCK_NOT_LAST 0x07 /* a step after COMPLETE ISSUANCE */
#define KC_ISSUE_CHECK_TOO_MANY 0x08      /* more than KC_ISSUE_MAX_STEPS steps */
#define KC_ISSUE_CHECK_LOG_FULL 0x09      /* audit log full: export and acknowledge it */
#define KC_INS_ISSUE_END 0x54
/*
 * ISSUE END P1 01, "late END" for a target locked in a session that was cut
 * before its END (station killed, key card reset or pulled): data serial(8)
 * [n(1) n SWs(2 each) MAC(16) lock_way(1) lock_len(1) lock_data], the
 * completion the target kept (TC GET DATA DF12) with the inner SWs the host
 * saw. The key card still holds that session's open mark (its completion key
 * and first counter) until the next ISSUE BEGIN: it checks the MAC and writes
 * the receipt (flag LATE). Without a mark for the serial it answers
 * KC_ISSUE_ON_RECORD when its log keeps a completed receipt for it, else 6A88.
 */
#define KC_ISSUE_END_P1_LATE 0x01

/* GET DATA tags (admin key). Data: optional first number (1 byte) to list from. */
#define KC_TAG_KEY_DIR 0xDF05      /* repeated: n type flags kcv(3) label_len label */
#define KC_TAG_TEMPLATE_DIR 0xDF06 /* repeated: n label_len label */

/* PROVISION PUT P1 of numbered items; P2 = number 1..254. */
#define KC_PUT_P1_KEY 0x20             /* data: type flags label_len label key */
#define KC_PUT_P1_KEY_DELETE 0x21      /* no data */
#define KC_PUT_P1_TEMPLATE 0x30        /* data: the binary template */
#define KC_PUT_P1_TEMPLATE_DELETE 0x31 /* no data */
#define KC_NUMBER_MIN 1
#define KC_NUMBER_MAX 254

/* Numbered keys. */
#define KC_KEY_TYPE_AES128 0x01
#define KC_KEY_TYPE_AES256 0x02
#define KC_KEYF_COMMON 0x01   /* same key in every target (patent way 1): Kcard = key */
#define KC_KEYF_ENVELOPE 0x02 /* may key an issuance session */
#define KC_KEYF_INJECT 0x04   /* may be written into a target by a template KEY slot */
#define KC_KEYF_STATIC 0x08   /* may be used without a chain (way 01) */
#define KC_KEYF_ALL 0x0F
#define KC_LABEL_MAX 32
#define KC_KCV_LEN 3

/* Binary templates (validated whole at PUT). */
#define KC_TPL_VERSION 0x01
#define KC_TPL_MAX_LEN 512
#define KC_TPL_ITEM_FIXED 0x01 /* len(1) bytes */
#define KC_TPL_ITEM_INT 0x02   /* size(1: 1,2,4) min(4) max(4) */
#define KC_TPL_ITEM_BYTES 0x03 /* min(2) max(2) prefix(1: 0 none, 1 one-byte length) */
#define KC_TPL_ITEM_KEY 0x04   /* form(1) */
#define KC_TPL_KEY_FORM_DIVERSIFIED 0x01

/* ISSUE BEGIN P1: seeding way. */
#define KC_WAY_STATIC 0x01
#define KC_WAY_TARGET_SEED 0x03
#define KC_WAY_PREVIOUS_RANDOM 0x04

/*
 * The target card's COMPLETE ISSUANCE (inner CLA 80, INS 1E, P1 the lock way):
 * its template must be fixed at provisioning (no host parameter) with at most
 * KC_ISSUE_LOCK_DATA_MAX data bytes, nothing may follow it in a session, and
 * its P1 and data are bound into the completion MAC and the receipt.
 */
#define KC_TGT_INS_COMPLETE 0x1E

/* ISSUE BEGIN: the target's nonce in, the key card's nonce out (16 bytes each). */
#define KC_ISSUE_NONCE_LEN 16

/* ISSUE END result byte (also in the receipt). */
#define KC_ISSUE_COMPLETED 0x00
#define KC_ISSUE_MAC_MISMATCH 0x01
#define KC_ISSUE_ABORTED 0x02
#define KC_ISSUE_ON_RECORD 0x03 /* ISSUE END P1 01: a completed receipt for the card is kept */
#define KC_ISSUE_MAX_STEPS 64
/*
 * Issuance sessions a key card holds open at once (one per target head):
 * P2 of ISSUE BEGIN, WRAP and END names the session, 0..KC_ISSUE_SESSIONS-1.
 */
#define KC_ISSUE_SESSIONS 4
#define KC_ISSUE_RECEIPT_TPL_MAX 40
#define KC_RECEIPT_FLAG_COMMON 0x01
#define KC_RECEIPT_FLAG_UNCLEAN 0x02 /* ended without ISSUE END (new BEGIN, SELECT, reset, power loss) */
#define KC_RECEIPT_FLAG_LATE 0x04 /* written by ISSUE END P1 01 after the session was cut */
#define KC_RECEIPT_STEPS_UNKNOWN 0xFF /* steps of a session cut by a reset or power loss */
#define KC_ISSUE_LOCK_DATA_MAX 16 /* data of a COMPLETE ISSUANCE template (way b: its table) */

/*
 * Audit event of ISSUE END (or of a session that ended without it):
 * serial(8) key(1) way(1) flags(1) result(1) steps(1) mac(16) lock_way(1)
 * lock_len(1) lock_data(lock_len) templates(as many as fit). mac: the
 * completion MAC the key card verified (result 00), the one presented that
 * did not verify (01), zeros (02 aborted). lock_way 0: no COMPLETE ISSUANCE
 * was wrapped; else its P1 and data, bound into the completion MAC.
 */
#define KC_AUDIT_EVT_ISSUE_RECEIPT 0x06
#define KC_RECEIPT_MAC_OFF 13
#define KC_RECEIPT_LOCK_OFF 29
#define KC_RECEIPT_TPL_OFF(lock_len) (31 + (lock_len))
/*
 * Audit event of ISSUE BEGIN, in the commit that opens the session:
 * serial(8) key(1) way(1) flags(1) bucket(2) key card nonce(16).
 */
#define KC_AUDIT_EVT_ISSUE_BEGIN 0x08
#define KC_ISSUE_BEGIN_EVT_LEN 29
/*
 * Audit event of a key made on the card (PROVISION GENERATE P1=20), in the
 * commit that stores the key: number(1) type(1) flags(1) kcv(3).
 */
#define KC_AUDIT_EVT_KEY_GENERATED 0x09
#define KC_KEY_EVT_LEN 7 /* number type flags kcv(3) version (6 bytes before versions) */
/* A key component received: number(1) index(1, from 1) component kcv(3) custodian. */
#define KC_AUDIT_EVT_KEY_COMPONENT 0x0A
/* Components combined into a key: number(1) type(1) flags(1) kcv(3) components(1) version(1). */
#define KC_AUDIT_EVT_KEY_COMBINED 0x0B
/*
 * A key exported to another key card / imported from a blob:
 * number(1) type(1) flags(1) kcv(3) version(1) serial(8) (to / from; 00 x 8:
 * prepared off-card).
 */
#define KC_AUDIT_EVT_KEY_EXPORTED 0x0C
#define KC_AUDIT_EVT_KEY_IMPORTED 0x0D
#define KC_KEY_MOVE_EVT_LEN 15
/* A backup made: id(8) M(1) N(1) keys(1). A key restored: as KEY_IMPORTED, backup id for serial. */
#define KC_AUDIT_EVT_BACKUP 0x0E
#define KC_AUDIT_EVT_KEY_RESTORED 0x0F
#define KC_BACKUP_EVT_LEN 11
/* A retired key version destroyed (zeroized in flash): number type flags kcv(3) version. */
#define KC_AUDIT_EVT_KEY_DESTROYED 0x10

/* Largest command data field the card accepts (after chaining). */
#define KC_APDU_MAX_DATA 4096
/*
 * Largest response data field the card returns: room for a whole card's
 * batched WRAP (standard.json: 31 envelopes of 2 + 285 bytes, 18 more for the
 * secure channel, ~9 KiB). The firmware writes it into the caller's I/O
 * buffer; nothing of the card's own RAM is sized by it.
 */
#define KC_APDU_MAX_RESP 16384

/* Status words. */
#define KC_SW_OK 0x9000
#define KC_SW_TRIES_LEFT(x) (0x63C0 | ((x) & 0x0F))
#define KC_SW_MEMORY_FAILURE 0x6581
#define KC_SW_WRONG_LENGTH 0x6700
#define KC_SW_LAST_CMD_EXPECTED 0x6883
#define KC_SW_SM_INCORRECT 0x6988 /* secure channel: bad or missing wrapping; channel ended */
#define KC_SW_SECURITY_STATUS 0x6982
#define KC_SW_AUTH_BLOCKED 0x6983
#define KC_SW_CONDITIONS 0x6985
#define KC_SW_WRONG_DATA 0x6A80
#define KC_SW_FILE_NOT_FOUND 0x6A82
#define KC_SW_NOT_ENOUGH_MEMORY 0x6A84
#define KC_SW_WRONG_P1P2 0x6A86
#define KC_SW_REF_NOT_FOUND 0x6A88
#define KC_SW_INS_NOT_SUPPORTED 0x6D00
#define KC_SW_CLA_NOT_SUPPORTED 0x6E00
#define KC_SW_UNKNOWN 0x6F00

#endif /* KEYCARD_PROTO_H */
