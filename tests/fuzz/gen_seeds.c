/*
 * gen_seeds.c - writes the seed corpora of tests/fuzz/corpus/ from real
 * traces: the libkeycard API script of scenario.c runs against the real key
 * card and target card firmware through a recording transport (linked in
 * place of the PC/SC one), and every exchange is saved in each fuzz
 * target's input format. A few hand-written inputs complete them (sealed
 * issuance commands for the target card, templates, vpcd streams).
 *
 * Usage: gen_seeds DIR (writes DIR/<target>/<name>). Deterministic: the
 * cards run on RAM flash with seeded RNGs, the same states the fuzz targets
 * start from (see fuzz_keycard.c and fuzz_target.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kc_test_card.h"
#include "keycard_proto.h"
#include "scenario.h"
#include "tc_card.h"
#include "transport.h"

static const char *outdir;

/* ---- growing byte buffers ---------------------------------------------- */

typedef struct bbuf {
    uint8_t b[1 << 16];
    size_t n;
} bbuf;

static void add(bbuf *b, const void *p, size_t n)
{
    if (b->n + n > sizeof b->b)
        abort();
    if (n)
        memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void add8(bbuf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    add(b, &c, 1);
}
static void addrec(bbuf *b, const void *p, size_t n)
{
    add8(b, (unsigned)(n >> 8));
    add8(b, (unsigned)n);
    add(b, p, n);
}

static void save(const char *target, const char *name, const bbuf *b)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", outdir, target);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(b->b, 1, b->n, f) != b->n || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
}

/* ---- the two cards and the recording transport ------------------------- */

static kc_test_card kcard;
static struct {
    uint8_t *mem;
    void *ctx;
    kc_hw_ram ram;
    kc_hw hw;
} tcard;

static int recording;
static bbuf rec_resp, rec_kc, rec_tc; /* libkeycard answers; key card / target commands */

typedef struct rt {
    kcl_transport base;
    int target;
} rt;

static keycard_rc rt_open(const char *arg, kcl_transport **out);

static keycard_rc rt_transmit(kcl_transport *t, const uint8_t *cmd, size_t len, uint8_t *resp,
                              size_t *resp_len)
{
    static uint8_t r[KC_APDU_MAX_RESP + 2];
    int target = ((rt *)t)->target;
    size_t n = target ? kc_target_card.process(tcard.ctx, cmd, len, r, sizeof r)
                      : kc_keycard_card.process(kcard.ctx, cmd, len, r, sizeof r);
    if (recording) {
        addrec(&rec_resp, r, n);
        bbuf *c = target ? &rec_tc : &rec_kc;
        if (target)
            add8(c, 0); /* fuzz_target: a raw APDU */
        addrec(c, cmd, len);
    }
    if (n > *resp_len)
        return KEYCARD_ERR_PROTOCOL;
    memcpy(resp, r, n);
    *resp_len = n;
    return KEYCARD_OK;
}

static keycard_rc rt_ok(kcl_transport *t)
{
    (void)t;
    return KEYCARD_OK;
}
static const char *rt_name(const kcl_transport *t)
{
    return ((const rt *)t)->target ? "tc" : "kc";
}
static void rt_close(kcl_transport *t)
{
    free(t);
}

const kcl_transport_ops kcl_transport_pcsc = {
    "pcsc", rt_open, rt_transmit, rt_ok, rt_ok, rt_ok, rt_name, rt_close, rt_ok,
};

static keycard_rc rt_open(const char *arg, kcl_transport **out)
{
    rt *r = calloc(1, sizeof *r);
    if (!r)
        return KEYCARD_ERR_MEMORY;
    r->base.ops = &kcl_transport_pcsc;
    r->target = strcmp(arg, "tc") == 0;
    *out = &r->base;
    return KEYCARD_OK;
}

keycard_rc kcl_pcsc_list(char *buf, size_t cap)
{
    if (cap < 6)
        return KEYCARD_ERR_BUFFER;
    memcpy(buf, "kc\ntc", 6);
    return KEYCARD_OK;
}

/* Reader probes (keycard_reader_probe) see empty readers here: nothing to fuzz in them. */
keycard_rc kcl_pcsc_probe(const char *reader, int *present, int *in_use, uint8_t *atr,
                          size_t *atr_len)
{
    (void)reader, (void)atr;
    *present = *in_use = 0;
    *atr_len = 0;
    return KEYCARD_OK;
}

static void sign(const uint8_t *tbs, size_t len, uint8_t sig[64])
{
    kc_test_issuer_sign(tbs, len, sig);
}

/* Fresh cards: blank key card or the provisioned one of fuzz_keycard state 1; virgin target. */
static void cards(int provisioned)
{
    if (kcard.mem)
        kc_test_card_free(&kcard);
    kc_test_card_new(&kcard, 0x6b6579636172642eULL);
    if (provisioned && (kc_test_card_provision_demo(&kcard) != 0x9000 ||
                        kc_test_card_provision_issuance(&kcard) != 0x9000))
        abort();
    if (!tcard.mem) {
        tcard.mem = malloc(kc_target_card.flash_size);
        tcard.ctx = malloc(kc_target_card.ctx_size);
    }
    memset(tcard.mem, 0xFF, kc_target_card.flash_size);
    memset(tcard.ctx, 0, kc_target_card.ctx_size);
    if (kc_hw_ram_init(&tcard.ram, tcard.mem, kc_target_card.flash_size,
                       kc_target_card.page_size, &tcard.hw) != 0)
        abort();
    kc_hw_ram_seed(&tcard.ram, 0x7461726765742eULL);
    if (kc_target_card.init(tcard.ctx, &tcard.hw) != 0)
        abort();
    kc_target_card.power(tcard.ctx, KC_POWER_ON);
}

static void record_run(const char *name, int provisioned, uint32_t setup, uint32_t mask)
{
    cards(provisioned);
    sc_ctx c = {NULL, NULL, sign, NULL};
    sc_run(&c, setup);
    rec_resp.n = rec_kc.n = rec_tc.n = 0;
    add8(&rec_resp, mask >> 8);
    add8(&rec_resp, mask);
    add8(&rec_kc, provisioned ? 1 : 0);
    add8(&rec_tc, (setup & (1u << SC_MANUFACTURE)) ? 1 : 0);
    recording = 1;
    sc_run(&c, mask);
    recording = 0;
    save("fuzz_libkeycard_resp", name, &rec_resp);
    if (rec_kc.n > 1)
        save("fuzz_keycard", name, &rec_kc);
    if (rec_tc.n > 1)
        save("fuzz_target", name, &rec_tc);
}

/* ---- hand-written inputs ------------------------------------------------ */

static void sealed(bbuf *b, const char *hex)
{
    uint8_t d[512];
    size_t n = kc_test_hex(hex, d, sizeof d);
    add8(b, 1);
    addrec(b, d, n);
}
/* fuzz_target kind 4: one packed envelope, items given as hex strings (INS P1 P2 data). */
static void packed(bbuf *b, const char *const *items, size_t n)
{
    uint8_t d[512], one[128];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = kc_test_hex(items[i], one, sizeof one);
        d[o++] = (uint8_t)k;
        memcpy(d + o, one, k);
        o += k;
    }
    add8(b, 4);
    addrec(b, d, o);
}
static void raw(bbuf *b, const char *hex)
{
    uint8_t d[512];
    size_t n = kc_test_hex(hex, d, sizeof d);
    add8(b, 0);
    addrec(b, d, n);
}

static void target_seeds(void)
{
    static const char *const locks[] = {"1E0100", "1E0200", "1E0200 E0D8", "1E0300 3F10",
                                        "1E0400"};
    for (int way = 2; way <= 4; way++) {
        for (size_t l = 0; l < sizeof locks / sizeof locks[0]; l++) {
            bbuf *b = calloc(1, sizeof *b);
            add8(b, (unsigned)way);
            sealed(b, "E00100 1000 3F00 0400 00 11 04 53484F50");  /* folder 1000 "SHOP" */
            sealed(b, "E00200 1001 1000 00");                      /* key file */
            sealed(b, "E00300 1002 1000 03 0020 12 00");           /* transparent 32, read PIN 2 */
            sealed(b, "E00300 1003 1000 04 0804 00 00");           /* records 8 x 4 */
            sealed(b, "D80201 1001 03 31323334");                  /* PIN key 2 */
            sealed(b, "D80302 1001 000102030405060708090A0B0C0D0E0F"); /* AES key 3 */
            sealed(b, "D60000 1002 0000 68656C6C6F");              /* write "hello" */
            sealed(b, "DC0000 1003 01020304");                     /* a record */
            sealed(b, "E0FF00 00");                                /* bad P1 */
            sealed(b, locks[l]);
            raw(b, "00A4000002 1002");
            raw(b, "00B0000005");
            raw(b, "0020000204 31323334");
            raw(b, "00B0000005");
            raw(b, "00A4000002 1003");
            raw(b, "00B2010404");
            raw(b, "00E2000004 05060708");
            raw(b, "0084000010");
            raw(b, "0082000310 00000000000000000000000000000000");
            raw(b, "80CADF1000");
            raw(b, "80CADF1100");
            raw(b, "8010010100");
            char name[32];
            snprintf(name, sizeof name, "sealed-way%d-lock%zu", way, l);
            save("fuzz_target", name, b);
            free(b);
        }
    }
    /* A corrupted envelope (kind 2: position 9, mask 01), then a good one. */
    bbuf *b = calloc(1, sizeof *b);
    add8(b, 2);
    uint8_t d[] = {9, 1, 0xE0, 0x02, 0x00, 0x10, 0x01, 0x3F, 0x00, 0x00};
    add8(b, 2);
    addrec(b, d, sizeof d);
    sealed(b, "E00200 1001 3F00 00");
    add8(b, 3);
    addrec(b, NULL, 0); /* warm reset */
    raw(b, "80CADF1000");
    save("fuzz_target", "corrupt-reset", b);
    free(b);
    /* Packed sessions (states 5 and 6): the same card in two envelopes, the lock last. */
    static const char *const first[] = {"E00100 1000 3F00 0400 00 11 04 53484F50", "E00200 1001 1000 00",
                                        "E00300 1002 1000 03 0020 12 00", "D80201 1001 03 31323334"};
    static const char *const second[] = {"D60000 1002 0000 68656C6C6F", "E0FF00 00", "1E0400"};
    static const char *const lock_early[] = {"1E0400", "E00200 1001 1000 00"};
    for (int st = 5; st <= 6; st++) {
        b = calloc(1, sizeof *b);
        add8(b, (unsigned)st);
        packed(b, first, 4);
        packed(b, second, 3);
        packed(b, second + 2, 1);
        packed(b, lock_early, 2);
        raw(b, "80CADF1000");
        raw(b, "80CADF1200");
        char name[32];
        snprintf(name, sizeof name, "packed-state%d", st);
        save("fuzz_target", name, b);
        free(b);
    }
}

static void keycard_seeds(void)
{
    /* Malformed-ish sequences on the unlocked card (state 2). */
    static const char *const cmds[] = {
        "00A4040C0AF04B4559434152440001", "00CADF0300", "00CADF0200", "00CA5F2000",
        "80500300 0A 11223344556677880100", "802000810831333537393133", "0020008200",
        "00CADF05 01 03 00", "80E6000000", "00C0000000",
    };
    bbuf *b = calloc(1, sizeof *b);
    add8(b, 2);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        uint8_t d[512];
        addrec(b, d, kc_test_hex(cmds[i], d, sizeof d));
        if (i == 4)
            addrec(b, NULL, 0); /* warm reset */
    }
    save("fuzz_keycard", "hand-mixed", b);
    free(b);
}

static void template_seeds(void)
{
    static const struct {
        const char *name, *tpl, *params;
    } v[] = {
        {"folder", KC_TEST_TPL1_HEX, "1000 04 53484F50"},
        {"set-key", KC_TEST_TPL2_HEX, "03"},
        {"write", KC_TEST_TPL3_HEX, "1000 0010 68656C6C6F"},
        {"lock", KC_TEST_TPL4_HEX, ""},
        {"any-key", KC_TEST_TPL5_HEX, "04"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bbuf *b = calloc(1, sizeof *b);
        uint8_t t[512], p[256];
        size_t tl = kc_test_hex(v[i].tpl, t, sizeof t);
        size_t pl = kc_test_hex(v[i].params, p, sizeof p);
        add8(b, (unsigned)(tl >> 8));
        add8(b, (unsigned)tl);
        add(b, t, tl);
        add(b, p, pl);
        save("fuzz_template", v[i].name, b);
        free(b);
    }
}

static void vpcd_seeds(void)
{
    static const char *const v[][2] = {
        {"power-atr-apdu", "00 0001 01 0001 04 000F 00A4040C0AF04B4559434152440001 0001 02 0001 00"},
        {"select-getdata", "00 0005 00CADF0300 0004 80E60000"},
        {"too-big", "02 0005 00CADF0300 0001 04"},
        {"empty-partial", "00 0000 0001 01 00 09 00A4"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bbuf *b = calloc(1, sizeof *b);
        uint8_t d[512];
        add(b, d, kc_test_hex(v[i][1], d, sizeof d));
        save("fuzz_vpcd", v[i][0], b);
        free(b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0755);
    const uint32_t all = (1u << SC_COUNT) - 1;
    const uint32_t ready = 1u << SC_MANUFACTURE;
    record_run("full-from-blank", 0, 0, all);
    static const char *const names[SC_COUNT] = {
        "provision", "manufacture", "status", "unlock", "audit", "dirs", "target-info",
        "issue-static", "issue-target-seed", "issue-prev-random", "pins", "raw", "abort",
        "key-lifecycle"};
    for (int s = SC_STATUS; s < SC_COUNT; s++)
        record_run(names[s], 1, ready, 1u << s);
    record_run("provision", 0, 0, 1u << SC_PROVISION);
    record_run("manufacture", 1, 0, 1u << SC_MANUFACTURE);
    target_seeds();
    keycard_seeds();
    template_seeds();
    vpcd_seeds();
    kc_test_card_free(&kcard);
    free(tcard.mem);
    free(tcard.ctx);
    return 0;
}
