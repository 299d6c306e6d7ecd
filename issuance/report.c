/*
 * report.c - a batch's report (station.h, kci_report): card lines and the
 * summary as text or JSON lines, and the progress bar with rate and ETA.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "station.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *const result_word[] = {"ISSUED", "WRITTEN", "SKIPPED", "FAILED"};
static const char *const result_json[] = {"issued", "written", "skipped", "failed"};

/*
 * "[#######.......] 3/10  2.5 cards/min  ETA 2:48" and the rest of the line
 * cleared, for cards done of total (-1 unknown), the first and the last
 * card's end and the batch's start t0.
 */
static void bar_line(size_t cards, long total, long t_first, long t_last, long t0)
{
    enum { W = 24 };
    /*
     * Time per card: between the first card's end and the last one's (a
     * whole cycle: issuance, eject, the next card fed), or the first card's
     * own time while there is only one.
     */
    long per = cards > 1 ? (t_last - t_first) / (long)(cards - 1) : t_first - t0;
    int fill = total > 0 ? (int)(W * (long)cards / total) : 0;
    if (fill > W)
        fill = W;
    putchar('[');
    for (int i = 0; i < W; i++)
        putchar(i < fill ? '#' : '.');
    if (total >= 0)
        printf("] %zu/%ld", cards, total);
    else
        printf("] %zu", cards);
    if (cards > 0 && per > 0) {
        printf("  %.1f cards/min", 60000.0 / (double)per);
        if (total > (long)cards) {
            long eta = (per * (total - (long)cards) + 999) / 1000;
            printf("  ETA %ld:%02ld", eta / 60, eta % 60);
        }
    }
    printf("\033[K");
}

/* The bar (one head), or a bar per head on as many lines (the cursor left on the last). */
static void bar_draw(kci_report *r)
{
    putchar('\r');
    if (r->heads == 0) {
        bar_line(r->cards, r->total, r->t_first_ms, r->t_last_ms, r->t0_ms);
    } else {
        for (int h = 0; h < r->heads; h++) {
            printf("%shead %d ", h ? "\n" : "", h + 1);
            bar_line(r->head[h].cards, r->head[h].total, r->head[h].t_first_ms,
                     r->head[h].t_last_ms, r->t0_ms);
        }
    }
    fflush(stdout);
    r->bar_shown = 1;
}

void kci_report_init(kci_report *r, int json, int all)
{
    const char *term = getenv("TERM");
    memset(r, 0, sizeof *r);
    r->json = json;
    r->total = -1;
    r->t0_ms = now_ms();
    /* Escape codes only for a terminal that takes them. */
    r->bar = all && !json && isatty(STDOUT_FILENO) && term && *term && strcmp(term, "dumb") != 0;
}

FILE *kci_report_notice(kci_report *r)
{
    if (r->bar_shown) {
        /* Back to the first bar's line, and everything from there cleared. */
        putchar('\r');
        for (int h = 1; h < r->heads; h++)
            printf("\033[A");
        printf("\033[J");
        r->bar_shown = 0;
    }
    return r->json ? stderr : stdout;
}

void kci_report_card(kci_report *r, const char *serial, kci_result res, const char *why, long ms)
{
    if ((unsigned)res > KCI_FAILED)
        res = KCI_FAILED;
    r->t_last_ms = now_ms();
    if (r->cards == 0)
        r->t_first_ms = r->t_last_ms;
    if (ms >= 0 && (r->t_start_ms == 0 || r->t_last_ms - ms < r->t_start_ms))
        r->t_start_ms = r->t_last_ms - ms;
    r->cards++;
    if (res == KCI_ISSUED || res == KCI_WRITTEN)
        r->issued++;
    else if (res == KCI_SKIPPED)
        r->skipped++;
    else
        r->failed++;
    FILE *f = kci_report_notice(r);
    if (r->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "type", "card", "serial", serial, "result",
                              result_json[res], "detail", why);
        if (o && ms >= 0)
            json_object_set_new(o, "ms", json_integer(ms));
        (void)kct_json_print(o);
    } else if (ms >= 0 && res != KCI_SKIPPED) {
        fprintf(f, "card %s: %s %s (%ld ms)\n", serial, result_word[res], why, ms);
    } else {
        fprintf(f, "card %s: %s %s\n", serial, result_word[res], why);
    }
    fflush(stdout);
    if (r->bar)
        bar_draw(r);
}

void kci_report_retry(kci_report *r, kci_result res)
{
    r->cards--;
    if (res == KCI_ISSUED || res == KCI_WRITTEN)
        r->issued--;
    else if (res == KCI_SKIPPED)
        r->skipped--;
    else
        r->failed--;
}

void kci_report_left(kci_report *r, long left)
{
    r->total = left >= 0 ? (long)r->cards + left : -1;
    if (r->bar)
        bar_draw(r);
}

void kci_report_summary(kci_report *r, const char *stop)
{
    /* Cards per hour from the earliest card's start to the last card's end (two cards or more). */
    double rate = r->cards >= 2 && r->t_start_ms && r->t_last_ms > r->t_start_ms
                      ? 3600e3 * (double)r->cards / (double)(r->t_last_ms - r->t_start_ms)
                      : -1;
    (void)kci_report_notice(r);
    if (r->json) {
        (void)kct_json_print(json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "type", "summary",
                                       "cards", (json_int_t)r->cards, "issued",
                                       (json_int_t)r->issued, "failed", (json_int_t)r->failed,
                                       "skipped", (json_int_t)r->skipped, "stopped",
                                       stop ? json_string(stop) : json_null(), "cards_per_hour",
                                       rate < 0 ? json_null() : json_real(rate)));
        return;
    }
    char rs[48] = "";
    if (rate >= 0)
        snprintf(rs, sizeof rs, ", %.0f cards/h", rate);
    printf("summary: %zu card%s, %zu issued, %zu failed, %zu skipped (already issued)%s%s%s\n",
           r->cards, r->cards == 1 ? "" : "s", r->issued, r->failed, r->skipped, rs,
           stop ? "; " : "", stop ? stop : "");
    fflush(stdout);
}

void kci_report_heads(kci_report *r, int n)
{
    if (n < 2 || n > KCI_REPORT_HEADS_MAX)
        return;
    r->heads = n;
    for (int h = 0; h < n; h++) {
        memset(&r->head[h], 0, sizeof r->head[h]);
        r->head[h].total = -1;
    }
}

void kci_report_card_head(kci_report *r, int head, const char *serial, kci_result res,
                          const char *why, long ms)
{
    if (head >= 0 && head < r->heads) {
        long t = now_ms();
        if (r->head[head].cards++ == 0)
            r->head[head].t_first_ms = t;
        r->head[head].t_last_ms = t;
    }
    kci_report_card(r, serial, res, why, ms);
}

void kci_report_left_head(kci_report *r, int head, long left)
{
    if (head < 0 || head >= r->heads)
        return;
    r->head[head].total = left >= 0 ? (long)r->head[head].cards + left : -1;
    if (r->bar) {
        (void)kci_report_notice(r);
        bar_draw(r);
    }
}
