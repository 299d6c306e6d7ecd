/*
 * station.h - kc-issue's pieces beyond the profile: the station config, the
 * per-card issuance against key card and target card, and the read-back of
 * an issued card's tree with operational commands.
 */
#ifndef KCI_STATION_H
#define KCI_STATION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kct.h"
#include "profile.h"

/* What the station config says (docs/issuance-profile.md, "Station config"). */
#define KCI_STATION_HEADS_MAX 8
typedef struct kci_station {
    kct_secret issuer_pin;
    uint8_t *issuer_pub; /* PEM or DER as read */
    size_t issuer_pub_len;
    char issuer_pub_path[4096];
    char reader[1024];        /* key card reader; "" when not given */
    char target_reader[1024]; /* target reader; "" when not given */
    /* "target_readers": several target heads on the key card (kc-issue), in order */
    char target_readers[KCI_STATION_HEADS_MAX][1024];
    int n_target_readers;
} kci_station;

/* Read and check; problems are printed with JSON paths. Returns 0 or -1. */
int kci_station_load(const char *file, kci_station *s);
void kci_station_free(kci_station *s);

/* How one card went. */
typedef enum kci_result {
    KCI_ISSUED = 0,  /* locked, completion MAC verified by the key card */
    KCI_WRITTEN,     /* all steps done, profile without a lock step */
    KCI_SKIPPED,     /* already issued: nothing sent */
    KCI_FAILED       /* stopped; never counted as issued */
} kci_result;

typedef struct kci_outcome {
    kci_result result;
    uint8_t serial[8];
    size_t step;        /* 1-based step that failed; 0 = before the steps */
    char why[256];      /* what happened, one line */
    long ms;            /* time spent on the card */
    int batch_fatal;    /* the same failure awaits every further card (audit log full,
                           key or template the key card lacks): stop the batch */
    uint8_t mac[16];    /* the completion MAC the key card verified (have_mac) */
    int have_mac;
} kci_outcome;

/*
 * Issue the card in t with profile p (records c, row picked by serial or
 * *next_row, which advances when a record is used). The key card kc has its
 * PINs verified. Fills out; returns 0, or a negative keycard_rc when the key
 * card itself failed (the run cannot go on).
 */
int kci_issue_card(keycard *kc, keycard_target *t, const kci_profile *p, const kci_csv *c,
                   size_t *next_row, kci_outcome *out);

/*
 * One of several target heads sharing one key card (kc-issue with several
 * target readers): the key card's calls of a card go through these hooks.
 * take: before ISSUE BEGIN, a free issuance session of the key card for this
 * head (it may wait for one; returns 0, or -1: none, the card is not begun);
 * give: after END (or the BEGIN that failed). enter/leave: around every call
 * to the key card, one key-card exchange at a time across the heads, with
 * this head's session selected (keycard_issue_session_select). The key card
 * is not held for the whole card (the heads interleave); the caller has it
 * reserved for the run.
 */
typedef struct kci_head {
    int (*take)(struct kci_head *h);
    void (*give)(struct kci_head *h);
    void (*enter)(struct kci_head *h);
    void (*leave)(struct kci_head *h);
    void *arg;
    unsigned session; /* set by take */
    unsigned index;   /* the head's number (0..) */
} kci_head;

/* kci_issue_card for head h (NULL: as kci_issue_card). */
int kci_issue_card_head(kci_head *h, keycard *kc, keycard_target *t, const kci_profile *p,
                        const kci_csv *c, size_t *next_row, kci_outcome *out);

/*
 * Before the first card: the profile's key and steps (with the first record,
 * when it uses records) checked by the key card (keycard_issue_check).
 * Returns 0 (fits, or cannot be checked ahead: each card is still checked),
 * 1 with one line said when the key card refuses the profile, or a negative
 * keycard_rc when the key card itself failed.
 */
int kci_profile_check(keycard *kc, const kci_profile *p, const kci_csv *c);

/*
 * A batch's report, one implementation for kc-issue and its station client
 * (docs/json.md). Text: a line per card and a summary on stdout, with a
 * progress bar (cards done/expected, rate, ETA) from the first card when
 * --all runs on a terminal whose TERM is not "dumb". JSON (--json): one object
 * per line on stdout - {"type":"card",...} per card, {"type":"summary",...}
 * last - and every notice on stderr. The bar appears with the first card's
 * line; rate and ETA come from the time per card (one card: its own time;
 * then the cycle between cards, feeding included).
 */
#define KCI_REPORT_HEADS_MAX 8
typedef struct kci_report {
    int json;
    int bar;            /* drawing a bar */
    int bar_shown;      /* a bar is on the current line */
    long t0_ms;         /* the batch's start */
    long t_first_ms, t_last_ms; /* the first and the last card's end */
    long t_start_ms;    /* the earliest card's start (its end less its time), 0: none */
    long total;         /* cards expected (done + left in the stacker), -1 unknown */
    size_t cards, issued, failed, skipped;
    int heads;          /* several target heads: a bar per head (kci_report_heads), else 0 */
    struct {
        size_t cards;
        long total, t_first_ms, t_last_ms;
    } head[KCI_REPORT_HEADS_MAX];
} kci_report;

void kci_report_init(kci_report *r, int json, int all);
/* Where a notice goes (stdout, or stderr with --json); the bar's line is cleared first. */
FILE *kci_report_notice(kci_report *r);
/* One card's outcome; serial in hex, why one line, ms its time (< 0: none). */
void kci_report_card(kci_report *r, const char *serial, kci_result res, const char *why, long ms);
/* Take back the last card's count (it is tried again after a new session). */
void kci_report_retry(kci_report *r, kci_result res);
/* After an eject: left cards in the stacker (-1 unknown); redraws the bar. */
void kci_report_left(kci_report *r, long left);
/*
 * Several target heads (2..KCI_REPORT_HEADS_MAX): on a terminal a bar per
 * head ("head N [###...] done/total rate ETA"), the card lines above them;
 * piped, one line per card as always. Then report a head's card with
 * kci_report_card_head and its stacker with kci_report_left_head.
 */
void kci_report_heads(kci_report *r, int n);
void kci_report_card_head(kci_report *r, int head, const char *serial, kci_result res,
                          const char *why, long ms);
void kci_report_left_head(kci_report *r, int head, long left);
/* The summary line (stop: NULL, or why the batch ended early). */
void kci_report_summary(kci_report *r, const char *stop);

/*
 * Print the tree of the card in t as read back with operational commands
 * (GET DATA DF11, SELECT, READ BINARY / READ RECORD), indented by indent.
 * Files the access rights protect are named, not read.
 * Returns 0 or a negative keycard_rc.
 */
int kci_show_tree(keycard_target *t, FILE *f, const char *indent);

#endif /* KCI_STATION_H */
