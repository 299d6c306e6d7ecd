/*
 * fuzz_profile.c - libFuzzer target: kc-admin's provisioning profile parser
 * (tools/kc-admin/profile.c, with the JSON helpers of tools/common) on
 * arbitrary JSON text.
 *
 * kca_profile_load reads a file, so each input is written to a private
 * temporary file first. Secrets given as "file" are read relative to the
 * profile's directory (a fresh one holding only the demo issuer key, copied
 * from examples/profiles/ when run from the top of the tree); there
 * is no terminal, so "prompt" is refused without blocking. The parser
 * reports problems on stderr: run it with -close_fd_mask=2 (run.sh does).
 *
 * Checks beyond the sanitizers (leaks included): a profile that loads has
 * its lengths within their buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tools/kc-admin/profile.h"

static char dir[] = "/tmp/kc-fuzz-profile-XXXXXX";
static char path[64], pem[64];

static void cleanup(void)
{
    unlink(path);
    unlink(pem);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/p.json", dir);
    snprintf(pem, sizeof pem, "%s/demo-issuer.key.pem", dir);
    atexit(cleanup);
    /* The demo profile's issuer key beside the profile, so the seeds load whole. */
    FILE *in = fopen("examples/profiles/demo-issuer.key.pem", "rb");
    if (in) {
        static char b[8192];
        size_t n = fread(b, 1, sizeof b, in);
        fclose(in);
        FILE *out = fopen(pem, "wb");
        if (!out || fwrite(b, 1, n, out) != n || fclose(out) != 0)
            abort();
    }
    setsid(); /* no controlling terminal: "prompt" sources are refused, never wait */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    kca_profile p;
    if (kca_profile_load(path, &p) == 0) {
        if (p.name_len > KC_HOLDER_NAME_MAX || p.number_len > KC_HOLDER_NUMBER_MAX ||
            p.admin_key_len > sizeof p.admin_key || (p.n_keys && !p.keys) ||
            (p.n_templates && !p.templates) || p.n_keys > KCA_NUMBERED_MAX ||
            p.n_templates > KCA_NUMBERED_MAX)
            abort();
        for (size_t i = 0; i < p.n_keys; i++)
            if (p.keys[i].len > sizeof p.keys[i].value || p.keys[i].label_len > KEYCARD_LABEL_MAX)
                abort();
        for (size_t i = 0; i < p.n_templates; i++)
            if (p.templates[i].len > KCA_TEMPLATE_MAX)
                abort();
    }
    kca_profile_free(&p);
    return 0;
}
