/*
 * fuzz_target.c - libFuzzer target: the target card's APDU dispatcher
 * (kc_target_card.process), its issuance session and the inner issuance
 * commands behind the envelopes.
 *
 * Input: byte 0 picks the starting state (modulo 7): 0 virgin,
 * 1 manufactured (serial 5447000000000001, key 1 = key 1 of the demo key
 * card diversified, static allowed; key 2 = the demo common key), 2..4 the
 * same with an issuance session open: 2 static way (key 1), 3 target-seed
 * way (key 2), 4 host-seed way (key 1), 5 and 6 packed sessions (BEGIN P1
 * bit 80): target-seed way (key 2), static way (key 1). Then commands, each
 * a kind byte and a record (fuzz_input.h); kind modulo 5:
 *   0  the record is a raw command APDU
 *   1  the record is INS P1 P2 data of an inner issuance command (CLA 80),
 *      sealed into an ENVELOPE with the open session's keys, as the key
 *      card does, so the fuzzer reaches the inner commands past the MAC
 *   2  byte 0 = position, byte 1 = XOR mask, the rest as in 1: the sealed
 *      envelope is corrupted at that position before it is sent
 *   3  warm reset (the session is lost, on both sides)
 *   4  the record is items of one packed envelope, each len(1) || INS P1
 *      P2 data, sealed with the open packed session's keys (the items up to
 *      the bucket; a len past the record ends them)
 *
 * The states are built once through the APDUs and snapshot (flash image,
 * RAM context, simulated hardware, host half of the session).
 *
 * Checks beyond the sanitizers: every answer is 2..cap bytes; an envelope
 * the card accepts (outer 9000) carries a response MAC that verifies for
 * the counter sent; a packed one's answer lists 1..count items, ending
 * exactly before the MAC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "hw/kc_hw_ram.h"
#include "kc_card.h"
#include "kc_bytes.h"
#include "kc_envelope.h"
#include "keycard_proto.h"
#include "tc_card.h"

#define N_STATES 7
#define MAX_CMDS 48

static const uint8_t serial[8] = {0x54, 0x47, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t key1m[16] = {0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                  0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F};
static uint8_t key1[16]; /* key1m diversified for serial */
static uint8_t key2[32];

/* The key card's half of a session. */
typedef struct host {
    int open;
    int packed;
    uint8_t way;
    const uint8_t *kcard;
    size_t kcard_len;
    uint8_t r[32];      /* chain: R_{c-1} */
    uint8_t base[32];   /* static: the session base */
    uint32_t c;         /* counter of the last envelope sealed */
    uint8_t last_r[32]; /* R of the last sealed envelope */
} host;

static struct {
    uint8_t *mem;
    void *ctx;
    kc_hw_ram ram;
    kc_hw hw;
    host h;
} card;

static struct {
    uint8_t *mem;
    uint8_t *ctx;
    kc_hw_ram ram;
    host h;
} snap[N_STATES];

static uint8_t resp[KC_APDU_MAX_RESP + 2];

static size_t send(const uint8_t *apdu, size_t len, uint16_t *sw)
{
    size_t r = kc_target_card.process(card.ctx, apdu, len, resp, sizeof resp);
    if (r < 2 || r > sizeof resp) {
        fprintf(stderr, "fuzz_target: answer of %zu bytes\n", r);
        abort();
    }
    *sw = (uint16_t)(resp[r - 2] << 8 | resp[r - 1]);
    return r - 2;
}

static void die(const char *what, uint16_t sw)
{
    fprintf(stderr, "fuzz_target: setup %s gave %04X\n", what, sw);
    abort();
}

static void take(int i)
{
    snap[i].mem = malloc(kc_target_card.flash_size);
    snap[i].ctx = malloc(kc_target_card.ctx_size);
    if (!snap[i].mem || !snap[i].ctx)
        abort();
    memcpy(snap[i].mem, card.mem, kc_target_card.flash_size);
    memcpy(snap[i].ctx, card.ctx, kc_target_card.ctx_size);
    snap[i].ram = card.ram;
    snap[i].h = card.h;
}

static void restore(int i)
{
    memcpy(card.mem, snap[i].mem, kc_target_card.flash_size);
    memcpy(card.ctx, snap[i].ctx, kc_target_card.ctx_size);
    card.ram = snap[i].ram;
    card.h = snap[i].h;
}

/* BEGIN ISSUANCE and BIND on the card and the host half. Returns the SW. */
static uint16_t begin(uint8_t way, uint8_t key_no)
{
    uint8_t apdu[5 + 32], sctx[KC_ENV_SCTX_LEN];
    static const uint8_t bind[32] = {0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
                                     0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60,
                                     0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
                                     0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70};
    int packed = (way & TC_BEGIN_PACKED) != 0;
    uint16_t sw;
    apdu[0] = 0x80;
    apdu[1] = TC_INS_BEGIN;
    apdu[2] = way;
    way &= (uint8_t)~TC_BEGIN_PACKED;
    size_t blen = way == TC_WAY_HOST_SEED ? 32 : 16;
    apdu[3] = key_no;
    apdu[4] = 0;
    size_t n = send(apdu, 5, &sw);
    if (sw != 0x9000)
        return sw;
    if (n != (way == TC_WAY_STATIC ? 21u : 17u))
        die("begin answer", sw);
    host *h = &card.h;
    memset(h, 0, sizeof *h);
    h->way = way;
    h->packed = packed;
    h->kcard = key_no == 1 ? key1 : key2;
    h->kcard_len = key_no == 1 ? sizeof key1 : sizeof key2;
    kc_env_session_ctx_opts(sctx, serial, resp + 1, bind, way == TC_WAY_HOST_SEED ? bind + 16 : NULL,
                            packed ? KC_ENV_OPT_PACKED : 0);
    if (way == TC_WAY_STATIC) {
        h->c = get_be32(resp + 17) - 1;
        if (kc_env_static_base(h->kcard, h->kcard_len, sctx, h->base) != 0)
            die("static base", 0);
    } else if (kc_env_chain_seed(h->kcard, h->kcard_len, sctx, h->r) != 0) {
        die("chain seed", 0);
    }
    apdu[1] = TC_INS_BIND;
    apdu[2] = 0;
    apdu[3] = 0;
    apdu[4] = (uint8_t)blen;
    memcpy(apdu + 5, bind, blen);
    (void)send(apdu, 5 + blen, &sw);
    if (sw != 0x9000)
        return sw;
    h->open = 1;
    return sw;
}

/* R of the next counter (h->c advanced) into h->last_r. 0 or -1. */
static int next_r(host *h)
{
    h->c++;
    if (h->way == TC_WAY_STATIC)
        return kc_env_static_key(h->base, 32, serial, h->c, h->last_r) != 0 ? -1 : 0;
    if (kc_env_chain_step(h->r, serial, h->c) != 0)
        return -1;
    memcpy(h->last_r, h->r, 32);
    return 0;
}

/* Seal INS P1 P2 data (rec) for the next counter into apdu. Returns its length or 0. */
static size_t seal(const uint8_t *rec, size_t n, uint8_t *apdu, size_t cap)
{
    host *h = &card.h;
    if (!h->open || h->packed || n < 3)
        return 0;
    uint8_t hdr[4] = {0x80, rec[0], rec[1], rec[2]};
    size_t len = cap;
    if (next_r(h) != 0 ||
        kc_env_seal(h->last_r, serial, h->c, 128, hdr, rec + 3, n - 3, apdu, &len) != 0)
        return 0;
    return len;
}

/*
 * Packed: the record's items (len(1) || INS P1 P2 data each) in one envelope
 * of the next counter. Returns its length or 0; *count the items sealed.
 */
static size_t seal_packed(const uint8_t *rec, size_t n, uint8_t *apdu, size_t cap, size_t *count)
{
    host *h = &card.h;
    uint8_t items[128];
    size_t il = 0, o = 0;
    *count = 0;
    if (!h->open || !h->packed)
        return 0;
    while (o < n && rec[o] >= 3 && n - o - 1 >= rec[o] && *count < 255) {
        uint8_t hdr[4] = {0x80, rec[o + 1], rec[o + 2], rec[o + 3]};
        size_t save = il;
        if (kc_env_item_put(items, sizeof items - 1, &il, hdr, rec + o + 4, rec[o] - 3) != 0) {
            il = save;
            break;
        }
        ++*count;
        o += 1 + rec[o];
    }
    size_t len = cap;
    if (*count == 0 || next_r(h) != 0 ||
        kc_env_seal_packed(h->last_r, serial, h->c, 128, items, il, *count, apdu, &len) != 0)
        return 0;
    return len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < 32; i++)
        key2[i] = (uint8_t)(0x50 + i);
    if (kc_env_diversify(key1m, sizeof key1m, serial, key1) != 0)
        die("diversify", 0);
    card.mem = malloc(kc_target_card.flash_size);
    card.ctx = calloc(1, kc_target_card.ctx_size);
    if (!card.mem || !card.ctx)
        abort();
    memset(card.mem, 0xFF, kc_target_card.flash_size);
    if (kc_hw_ram_init(&card.ram, card.mem, kc_target_card.flash_size, kc_target_card.page_size,
                       &card.hw) != 0)
        die("ram", 0);
    kc_hw_ram_seed(&card.ram, 0x7461726765742eULL);
    if (kc_target_card.init(card.ctx, &card.hw) != 0)
        die("init", 0);
    kc_target_card.power(card.ctx, KC_POWER_ON);
    take(0);

    /* MANUFACTURE: serial, n, then number flags len key for each key. */
    uint8_t m[5 + 8 + 1 + 3 + 16 + 3 + 32];
    size_t n = 0;
    m[n++] = 0x80;
    m[n++] = TC_INS_MANUFACTURE;
    m[n++] = 0;
    m[n++] = 0;
    m[n++] = (uint8_t)(sizeof m - 5);
    memcpy(m + n, serial, 8);
    n += 8;
    m[n++] = 2;
    m[n++] = 1;
    m[n++] = TC_IKEY_STATIC;
    m[n++] = 16;
    memcpy(m + n, key1, 16);
    n += 16;
    m[n++] = 2;
    m[n++] = 0;
    m[n++] = 32;
    memcpy(m + n, key2, 32);
    n += 32;
    uint16_t sw;
    send(m, n, &sw);
    if (sw != 0x9000)
        die("manufacture", sw);
    take(1);
    static const uint8_t ways[5][2] = {{TC_WAY_STATIC, 1}, {TC_WAY_TARGET_SEED, 2},
                                       {TC_WAY_HOST_SEED, 1},
                                       {TC_WAY_TARGET_SEED | TC_BEGIN_PACKED, 2},
                                       {TC_WAY_STATIC | TC_BEGIN_PACKED, 1}};
    for (int i = 0; i < 5; i++) {
        restore(1);
        if ((sw = begin(ways[i][0], ways[i][1])) != 0x9000)
            die("begin", sw);
        take(2 + i);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    int ok = 1;
    uint8_t start = fz_byte(&in, &ok);
    if (!ok)
        return 0;
    restore(start % N_STATES);

    static uint8_t apdu[KC_ENV_APDU_MAX + 8];
    for (int i = 0; i < MAX_CMDS; i++) {
        uint8_t kind = fz_byte(&in, &ok);
        const uint8_t *rec;
        size_t n;
        if (!ok || !fz_record(&in, &rec, &n))
            break;
        uint16_t sw;
        switch (kind % 5) {
        case 0:
            if (n > 0)
                send(rec, n, &sw);
            break;
        case 1:
        case 2: {
            size_t pos = 0;
            uint8_t mask = 0;
            if (kind % 4 == 2) {
                if (n < 2)
                    break;
                pos = rec[0];
                mask = rec[1];
                rec += 2;
                n -= 2;
            }
            host saved = card.h;
            size_t len = seal(rec, n, apdu, sizeof apdu);
            if (len == 0) {
                card.h = saved;
                break;
            }
            if (mask)
                apdu[pos % len] ^= mask;
            size_t rl = send(apdu, len, &sw);
            if (sw == 0x9000 && !mask) {
                uint8_t isw[2];
                size_t off, dl;
                if (kc_env_resp_verify(card.h.last_r, serial, card.h.c, resp, rl, isw, &off,
                                       &dl) != 0) {
                    fprintf(stderr, "fuzz_target: accepted envelope, bad response MAC\n");
                    abort();
                }
            }
            if (sw != 0x9000 || mask)
                card.h = saved; /* the card did not take it: the same counter comes again */
            break;
        }
        case 4: {
            host saved = card.h;
            size_t count;
            size_t len = seal_packed(rec, n, apdu, sizeof apdu, &count);
            if (len == 0) {
                card.h = saved;
                break;
            }
            size_t rl = send(apdu, len, &sw);
            if (sw == 0x9000) {
                /* [c]_4 SW || [k]_1 k x (SW1 SW2 [len]_1 data) || MAC: k items, exactly */
                uint8_t isw[2];
                size_t off, dl, o = 1;
                if (kc_env_resp_verify(card.h.last_r, serial, card.h.c, resp, rl, isw, &off,
                                       &dl) != 0 || dl < 1) {
                    fprintf(stderr, "fuzz_target: accepted packed envelope, bad response\n");
                    abort();
                }
                const uint8_t *a = resp + off;
                for (size_t k = 0; k < a[0] && o + 3 <= dl; k++)
                    o += 3 + a[o + 2];
                if (a[0] == 0 || a[0] > count || o != dl) {
                    fprintf(stderr, "fuzz_target: packed answer of %u items for %zu\n", a[0],
                            count);
                    abort();
                }
            } else {
                card.h = saved; /* the card did not take it */
            }
            break;
        }
        default:
            kc_target_card.power(card.ctx, KC_POWER_RESET);
            card.h.open = 0;
            break;
        }
    }
    return 0;
}
