/*
 * kcs_proto.h - the operation instructions a PC sends to the reader/writer
 * station (kc-station) and the operation results it answers, as in the
 * patent's figure 32: start code, length, operation type code, execution
 * parameters, processing data, end code. docs/station.md is the reference,
 * byte by byte. The codec and the client side live in
 * issuance/station_client.c; kc-station links the same object.
 *
 * Nothing of the card exchange crosses this line: no envelope, no template,
 * no PIN, no key or key check value. Only instructions and results.
 */
#ifndef KCS_PROTO_H
#define KCS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define KCS_STX 0x02 /* start code */
#define KCS_ETX 0x03 /* end code */
#define KCS_DATA_MAX 8192 /* processing data of one frame */
/* LEN counts operation type code, the two execution parameters and the data. */
#define KCS_LEN_MAX (3 + KCS_DATA_MAX)

/* Operation type codes (instruction); the result carries code | 0x80. */
#define KCS_OP_STATUS 0x01
#define KCS_OP_STARTUP 0x02
#define KCS_OP_ISSUE 0x10
#define KCS_OP_READBACK 0x11
#define KCS_OP_EJECT 0x20
#define KCS_OP_DISPLAY 0x30
#define KCS_OP_SHUTDOWN 0x7F
#define KCS_OP_RESULT 0x80 /* bit set in every result; 0x80 alone: busy */

/* Instruction data tags. */
#define KCS_T_PROFILE 0x01 /* issuance profile name */
#define KCS_T_FIELD 0x02   /* per-card record field: name_len(1) name value */
#define KCS_T_TEXT 0x03    /* message for the station's display */

/* Result data tags. */
#define KCS_R_READY 0x81     /* 1 byte: 1 started up (key card ready), 0 not */
#define KCS_R_KC_SERIAL 0x82 /* 8 bytes */
#define KCS_R_OPERATOR 0x83  /* text: holder name */
#define KCS_R_OPNUMBER 0x84  /* text: holder number */
#define KCS_R_LEFT 0x85      /* 2 bytes: blank cards left in the stack, FFFF unknown */
#define KCS_R_SERIAL 0x86    /* 8 bytes: the card in the target slot */
#define KCS_R_TSTATE 0x87    /* 1 byte: target state (KEYCARD_TARGET_*) */
#define KCS_R_LOCKS 0x88     /* 1 byte: lock ways (KEYCARD_LOCK_*) */
#define KCS_R_OUTCOME 0x89   /* 1 byte: KCS_OUT_* */
#define KCS_R_STEP 0x8A      /* 1 byte: the step that failed, 0 before the steps */
#define KCS_R_WHY 0x8B       /* text: one line */
#define KCS_R_MS 0x8C        /* 4 bytes: milliseconds spent on the card */
#define KCS_R_COUNTS 0x8D    /* 12 bytes: issued, failed, skipped this shift (4 each) */
#define KCS_R_LINE 0x8E      /* text: one line of a read-back tree (repeated) */
#define KCS_R_MESSAGE 0x8F   /* text: what went wrong, for a person */

/* Issue outcomes. */
#define KCS_OUT_ISSUED 0
#define KCS_OUT_WRITTEN 1
#define KCS_OUT_SKIPPED 2
#define KCS_OUT_FAILED 3

/* Result codes (execution parameters of a result). */
#define KCS_RES_OK 0x9000
#define KCS_RES_NOT_ISSUED 0x6300  /* the card failed; not counted as issued */
#define KCS_RES_WRONG_PIN 0x63C0   /* | tries left: holder PIN refused */
#define KCS_RES_BUSY 0x6600        /* another client is being served */
#define KCS_RES_LENGTH 0x6700      /* framing or length wrong */
#define KCS_RES_NO_PIN 0x6983      /* holder PIN blocked, or not entered at the console */
#define KCS_RES_NOT_READY 0x6985   /* no start-up yet (or the key card went away) */
#define KCS_RES_BAD_DATA 0x6A80    /* processing data malformed or not allowed */
#define KCS_RES_NO_PROFILE 0x6A82  /* no such issuance profile, or not valid */
#define KCS_RES_NO_CARD 0x6A83     /* no card in the target slot */
#define KCS_RES_NO_STACKER 0x6A84  /* the reader refused the eject */
#define KCS_RES_BAD_OP 0x6D00      /* unknown operation type code */
#define KCS_RES_KEYCARD 0x6F00     /* the key card failed; start up again */

/* A frame as parsed. */
typedef struct kcs_frame {
    uint8_t op;
    uint8_t p1, p2;
    size_t len; /* of data */
    uint8_t data[KCS_DATA_MAX];
} kcs_frame;

/* Start an empty frame. */
void kcs_frame_init(kcs_frame *f, uint8_t op, uint8_t p1, uint8_t p2);

/* Append one item tag(1) len(1) value. Returns 0 or -1 when it does not fit. */
int kcs_put(kcs_frame *f, uint8_t tag, const void *v, size_t len);
int kcs_put_str(kcs_frame *f, uint8_t tag, const char *s); /* cut at 255 bytes */
int kcs_put_u8(kcs_frame *f, uint8_t tag, unsigned v);
int kcs_put_u16(kcs_frame *f, uint8_t tag, unsigned v);
int kcs_put_u32(kcs_frame *f, uint8_t tag, uint32_t v);

/*
 * Walk the items: *off starts at 0. Returns 1 with the next item, 0 at the
 * end, -1 when the data is malformed.
 */
int kcs_next(const kcs_frame *f, size_t *off, uint8_t *tag, const uint8_t **v, size_t *len);

/* The first item with tag (0 when found, -1 not). */
int kcs_find(const kcs_frame *f, uint8_t tag, const uint8_t **v, size_t *len);
/* The first item with tag as a NUL-terminated string into out (cap). 0 or -1. */
int kcs_find_str(const kcs_frame *f, uint8_t tag, char *out, size_t cap);
/* Big-endian unsigned of the first item with tag, def when absent. */
unsigned long kcs_find_uint(const kcs_frame *f, uint8_t tag, unsigned long def);

/*
 * Send a frame on fd (whole, MSG_NOSIGNAL). Returns 0 or -1 (peer gone).
 */
int kcs_send(int fd, const kcs_frame *f);

/*
 * Receive one frame from fd, waiting at most timeout_ms for each read
 * (-1: forever). Returns 0, 1 at a clean end of stream before any byte, or
 * -1 on a malformed frame, a timeout or an error (reason in err).
 */
int kcs_recv(int fd, kcs_frame *f, int timeout_ms, char *err, size_t errcap);

/* The result code of a result frame (p1 p2). */
#define KCS_RES(f) ((unsigned)(f)->p1 << 8 | (f)->p2)

/* One line naming a result code ("busy: another client is being served"). */
const char *kcs_res_name(unsigned res);

/* Connect to the station's socket. Returns the fd or -1 (errno set). */
int kcs_connect(const char *path);

/*
 * kc-issue --station: the issuance of the target card (or, with all, the
 * stack) through the station at sock_path with the profile named profile,
 * records (may be NULL) giving per-card data. show: print each issued card's
 * tree as the station read it back; json: the report as JSON lines
 * (kci_report). Returns the exit code (0 every card
 * issued, 1 a failure or busy, 2 bad input).
 */
int kci_station_client(const char *sock_path, const char *profile, const char *records,
                       int all, int show, long wait_s, int json);

/*
 * kc-issue --station SOCKET --status: what the station says of itself
 * (started up, key card and operator, the card in the target slot, blank
 * cards left, this shift's counts), as text or one JSON document
 * (docs/json.md). Returns the exit code.
 */
int kci_station_status(const char *sock_path, int json);

#endif /* KCS_PROTO_H */
