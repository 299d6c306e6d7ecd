/*
 * kc_jbench.c - the journal's cost per card (make bench): what kc-issue
 * --journal adds to each card, measured on the journal code itself
 * (tools/kc-issue/journal.c over SQLite or PostgreSQL): a record claimed,
 * its card started ("issuing", committed before the first command) and
 * settled, three transactions with their commits and syncs.
 *
 *     kc_jbench --journal FILE.db|postgresql://... --cards N --out JSON --tag NAME
 *
 * The journal is filled with N records first (not timed); then N cards are
 * timed, one after the other as a station runs them. Prints and writes
 * {"journal_<tag>_ms_per_card": ms, "journal_<tag>_cards": N}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "kct.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const char *where = NULL, *out = NULL, *tag = "journal";
    long cards = 50;
    char err[1024];
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--journal") == 0)
            where = argv[i + 1];
        else if (strcmp(argv[i], "--cards") == 0)
            cards = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[i + 1];
        else if (strcmp(argv[i], "--tag") == 0)
            tag = argv[i + 1];
    }
    if (!where || !out || cards < 1 || cards > 100000) {
        fprintf(stderr, "usage: kc_jbench --journal FILE.db|postgresql://... --cards N --out "
                        "JSON --tag NAME\n");
        return 2;
    }
    kct_set_prog("kc_jbench");
    kct_json_init();
    kcj *j;
    if (kcj_open(where, 1, 0, &j, err, sizeof err) != 0) {
        fprintf(stderr, "kc_jbench: %s\n", err);
        return 1;
    }
    /* N records, one column, as kc-issue journal import queues them. */
    kci_csv c;
    memset(&c, 0, sizeof c);
    c.n_cols = 1;
    c.n_rows = (size_t)cards;
    c.head = calloc(1, sizeof *c.head);
    c.rows = calloc((size_t)cards, sizeof *c.rows);
    c.head[0] = strdup("name");
    for (long i = 0; i < cards; i++) {
        char v[32];
        snprintf(v, sizeof v, "BENCH-%ld", i + 1);
        c.rows[i] = calloc(1, sizeof *c.rows[i]);
        c.rows[i][0] = strdup(v);
    }
    size_t added;
    if (kcj_import(j, &c, "bench", &added, err, sizeof err) != 0) {
        fprintf(stderr, "kc_jbench: %s\n", err);
        return 1;
    }
    kci_csv_free(&c);
    double t0 = now_ms();
    for (long i = 0; i < cards; i++) {
        char serial[17];
        long id, att;
        kci_csv row;
        snprintf(serial, sizeof serial, "4A42454E%08lX", (unsigned long)i + 1);
        if (kcj_claim(j, "bench", serial, &id, &row, err, sizeof err) != 0 || id == 0 ||
            kcj_issuing(j, id, "bench", serial, "00000000000000aa", "head 0", &att, err,
                        sizeof err) != 0 ||
            kcj_settle(j, id, att, "issued", NULL, "00112233445566778899aabbccddeeff", err,
                       sizeof err) != 0) {
            fprintf(stderr, "kc_jbench: card %ld: %s\n", i + 1, id ? err : "no record claimed");
            return 1;
        }
        kci_csv_free(&row);
    }
    double ms = (now_ms() - t0) / (double)cards;
    kcj_close(j);
    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    fprintf(f, "{\"journal_%s_ms_per_card\": %.3f, \"journal_%s_cards\": %ld}\n", tag, ms, tag,
            cards);
    fclose(f);
    printf("journal %s: %.2f ms per card (claim, issuing, settle; %ld cards)\n", tag, ms, cards);
    return 0;
}
