/*
 * target_state.c - print what target card images hold, for the kill trials
 * (46-kill-trials.sh): one line per FILE, "SERIAL STATE LOCKS FILE" with
 * STATE the GET DATA DF10 state (0 virgin, 1 manufactured, 2 issuing,
 * 3 issued) and LOCKS its lock bits in hex, or "? error TEXT FILE".
 * The image is read through libkeycard's simulated target ("sim:FILE").
 * Exit 0 when every image was read, else 1.
 */
#include <stdio.h>

#include "keycard.h"
#include "keycard_sim.h"

int main(int argc, char **argv)
{
    (void)keycard_sim_enable(); /* sim: cards (libkeycard-sim) */
    int bad = 0;

    for (int i = 1; i < argc; i++) {
        char where[4200];
        keycard_target *t = NULL;
        keycard_target_info info;
        keycard_rc rc;

        snprintf(where, sizeof where, "sim:%s", argv[i]);
        rc = keycard_target_open(&t, where);
        if (rc == KEYCARD_OK)
            rc = keycard_target_info_read(t, &info);
        if (rc != KEYCARD_OK) {
            printf("? error %s %s\n", keycard_strerror(rc), argv[i]);
            bad = 1;
        } else {
            for (int k = 0; k < KEYCARD_SERIAL_LEN; k++)
                printf("%02X", info.serial[k]);
            printf(" %d %02X %s\n", info.state, info.locks, argv[i]);
        }
        keycard_target_close(t);
    }
    return bad;
}
