/*
 * kc-startup.c - example: the start-up flow of an issuing station (the
 * patent's "insert key card -> issuer PIN -> holder PIN -> record holder ->
 * check identity -> ready"), one libkeycard call per step.
 *
 *   kc-startup --config STATION.json [--reader NAME | --sim FILE]
 *
 * The station config (docs/profile.md) holds the issuer PIN of this station
 * and the issuer's public key; the operator types the holder PIN. Exit 0 when
 * the station is ready, 1 when the card refuses (a wrong PIN, with the tries
 * left), 2 for bad usage or a bad config.
 *
 * The argument and config handling lives in tools/common (kct_*); the key
 * card API calls are all in main() below, in order.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kct.h"
#include "keycard_sim.h"
#include "kct_cli.h"
#include "station.h"

static const char usage[] =
    "usage: kc-startup --config STATION.json [--reader NAME | --sim FILE]\n"
    "                  [--holder-pin SOURCE] [--trace]\n"
    "       kc-startup --help | --version\n"
    "\n"
    "Start an issuing station: find the key card, verify the station's issuer\n"
    "PIN, ask the operator for the holder PIN (no echo; --holder-pin SOURCE takes\n"
    "file:PATH, env:VAR or fd:N instead, and KEYCARD_HOLDER_PIN is read when set,\n"
    "for automation only), show the holder, check\n"
    "that the key card is genuine against the issuer public key, and report ready.\n"
    "Exit status: 0 ready, 1 the card refused (wrong PIN: tries left are shown),\n"
    "2 bad usage or bad config.\n";

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* results keep their order with stderr's */
    (void)keycard_sim_enable(); /* "sim:FILE" cards (libkeycard-sim) */
    kct_harden_process(); /* holds PINs and keys: no core dump, no ptrace */
    kct_set_prog("kc-startup");
    kct_json_init();

    static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
                                       {"reader", required_argument, NULL, 'r'},
                                       {"sim", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"trace", no_argument, NULL, 'v'},
                                       {"holder-pin", required_argument, NULL, 'H'},
                                       {NULL, 0, NULL, 0}};
    const char *config = NULL;
    kct_where where = {{0}, 0, 0};
    const char *holder_source = NULL; /* --holder-pin SOURCE */
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:hv", lo, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'r':
        case 's':
            if (kct_where_set(&where, opt, optarg) != 0)
                return KCT_EXIT_USAGE;
            break;
        case 'h':
            fputs(usage, stdout);
            return KCT_EXIT_OK;
        case 'v':
            kct_trace_on();
            break;
        case 'H':
            holder_source = optarg;
            break;
        case 'V':
            kct_cli_version("kc-startup", keycard_version());
            return KCT_EXIT_OK;
        default:
            return kct_cli_bad_option("kc-startup", argv[optind - 1], lo);
        }
    }
    if (!config || optind != argc) {
        return kct_cli_usage("kc-startup", "give --config STATION.json and nothing else");
    }

    kci_station st; /* the station config (docs/profile.md "Station config") */
    if (kci_station_load(config, &st) != 0) {
        kci_station_free(&st);
        return KCT_EXIT_USAGE;
    }
    if (!where.set && st.reader[0])
        kct_where_set(&where, 'r', st.reader);

    keycard *kc = NULL;
    keycard_rc rc;
    int ex, tries = -1;

    /* Step 1: a key card is present (SELECT by AID) and provisioned. */
    /* The certificate is checked against the station's issuer key before any PIN goes out. */
    if ((ex = kct_open_issuer(&where, st.issuer_pub, kct_key_len(st.issuer_pub, st.issuer_pub_len),
                              &kc)) != 0)
        goto out;
    keycard_status status;
    if ((rc = keycard_status_read(kc, &status)) != KEYCARD_OK) {
        ex = kct_fail(rc, "read key card status", -1);
        goto out;
    }
    char serial[2 * KC_SERIAL_LEN + 1];
    kct_hex_format(status.serial, KC_SERIAL_LEN, serial);
    printf("[1/6] key card present: reader '%s', serial %s\n", keycard_reader_name(kc), serial);
    /* Whether the PINs below travel encrypted, and whether the card proved its certificate. */
    keycard_channel_state ch = keycard_channel_status(kc);
    printf("      secure channel: %s\n",
           ch == KEYCARD_CHANNEL_GENUINE
               ? "open; certificate signed by the issuer key, key agreement proved it"
               : ch == KEYCARD_CHANNEL_ENCRYPTED ? "open (certificate not checked)"
                                                 : "none: this key card offers no channel, "
                                                   "PINs travel in clear");
    if (status.lifecycle != KEYCARD_LIFECYCLE_PROVISIONED) {
        kct_err("the key card is blank; provision it first (kc-admin provision PROFILE)");
        ex = KCT_EXIT_FAIL;
        goto out;
    }

    /* Step 2: the issuer (issuing machine) PIN, from the station config. */
    rc = keycard_verify_pin(kc, KEYCARD_PIN_ISSUER, st.issuer_pin.text, &tries);
    kct_secret_wipe(&st.issuer_pin);
    if (rc != KEYCARD_OK) {
        ex = kct_fail_cred(rc, "issuer PIN (station config)", KEYCARD_PIN_ISSUER, tries);
        goto out;
    }
    printf("[2/6] issuer PIN verified (station config)\n");

    /* Step 3: the holder (operator) PIN, typed without echo. */
    kct_secret holder_pin;
    if (!holder_source && getenv("KEYCARD_HOLDER_PIN"))
        kct_err("holder PIN taken from KEYCARD_HOLDER_PIN (for automation only)");
    if (kct_secret_source("holder PIN", "--holder-pin", holder_source, "KEYCARD_HOLDER_PIN",
                          "Holder PIN", 0, &holder_pin) != 0) {
        ex = KCT_EXIT_USAGE;
        goto out;
    }
    if (!kct_pin_ok(holder_pin.text)) {
        kct_secret_wipe(&holder_pin);
        kct_err("holder PIN: must be 4 to 16 digits (0-9)");
        ex = KCT_EXIT_USAGE;
        goto out;
    }
    rc = keycard_verify_pin(kc, KEYCARD_PIN_HOLDER, holder_pin.text, &tries);
    kct_secret_wipe(&holder_pin);
    if (rc != KEYCARD_OK) {
        ex = kct_fail_cred(rc, "holder PIN", KEYCARD_PIN_HOLDER, tries);
        goto out;
    }
    printf("[3/6] holder PIN verified\n");

    /* Step 4: who holds the card; the card logged this unlock in its audit. */
    keycard_holder holder;
    if ((rc = keycard_holder_info(kc, &holder)) != KEYCARD_OK) {
        ex = kct_fail(rc, "read holder", -1);
        goto out;
    }
    printf("[4/6] holder recorded: %s (%s); the key card logged the unlock in its audit log\n",
           holder.name, holder.number);

    /* Step 5: the key card is genuine: issuer signature + fresh challenge. */
    keycard_identity id;
    rc = keycard_identity_check(kc, st.issuer_pub, kct_key_len(st.issuer_pub, st.issuer_pub_len),
                                &id);
    if (rc != KEYCARD_OK) {
        ex = kct_fail(rc, "identity check", -1);
        goto out;
    }
    printf("[5/6] identity verified against the issuer public key %s\n", st.issuer_pub_path);

    /* Step 6: the station may now ask the key card for issuance commands. */
    printf("[6/6] ready: key card %s, operator %s\n", serial, holder.number);
    ex = KCT_EXIT_OK;
out:
    keycard_close(kc);
    kci_station_free(&st);
    return ex;
}
