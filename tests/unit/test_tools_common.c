/*
 * test_tools_common.c - the tools' shared helpers (tools/common): hex and
 * credential forms, paths, key lengths, secrets from files, and JSON secret
 * specs with the JSON path of each error; host hygiene (kct_host.c): the
 * length-checked appender, secrets taken out of the environment, process
 * hardening, private files.
 *
 * It links the tools' common objects (Makefile), as the tools do.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kct.h"
#include "kct_cli.h"

/* ---- hex --------------------------------------------------------------------- */

static const struct hex_case {
    const char *in;
    int want; /* byte count, -1 for an error */
    const char *bytes;
} hex_cases[] = {
    {"", 0, ""},
    {"00", 1, "\x00"},
    {"0aFf", 2, "\x0a\xff"},
    {"01 02:03", 3, "\x01\x02\x03"},
    {"0", -1, NULL},
    {"0g", -1, NULL},
    {"0 1", -1, NULL},
    {"zz", -1, NULL},
    {"0102030405", -1, NULL}, /* more than the 4-byte capacity */
};

START_TEST(test_hex_table)
{
    const struct hex_case *c = &hex_cases[_i];
    uint8_t out[4];
    int n = kct_hex_parse(c->in, out, sizeof out);
    ck_assert_msg(n == c->want, "'%s': got %d want %d", c->in, n, c->want);
    if (n > 0)
        ck_assert_mem_eq(out, c->bytes, (size_t)n);
}
END_TEST

START_TEST(test_hex_format)
{
    char s[9];
    kct_hex_format((const uint8_t *)"\x00\x9a\xbc\xff", 4, s);
    ck_assert_str_eq(s, "009abcff");
}
END_TEST

/* ---- credential forms -------------------------------------------------------- */

static const struct pin_case {
    const char *pin;
    int ok;
} pin_cases[] = {
    {"1234", 1},          {"0000000000000000", 1}, {"123", 0},  {"12345678901234567", 0},
    {"12a4", 0},          {"", 0},                 {" 1234", 0}, {"1234\n", 0},
    {"246810", 1},
};

START_TEST(test_pin_table)
{
    ck_assert_msg(kct_pin_ok(pin_cases[_i].pin) == pin_cases[_i].ok, "'%s'", pin_cases[_i].pin);
    ck_assert_msg((kct_check_pin(pin_cases[_i].pin) == NULL) == pin_cases[_i].ok, "'%s'",
                  pin_cases[_i].pin);
}
END_TEST

static const struct key_case {
    const char *hex;
    int len;
} key_cases[] = {
    {"000102030405060708090A0B0C0D0E0F", 16},
    {"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", 32},
    {"00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f", 16},
    {"0001020304050607", -1},
    {"000102030405060708090A0B0C0D0E0F00", -1},
    {"000102030405060708090A0B0C0D0E0G", -1},
};

START_TEST(test_admin_key_table)
{
    uint8_t k[32];
    int n = kct_admin_key_parse(key_cases[_i].hex, k);
    ck_assert_int_eq(n, key_cases[_i].len);
    ck_assert((kct_check_admin_key(key_cases[_i].hex) == NULL) == (key_cases[_i].len > 0));
}
END_TEST

/* ---- paths and files ---------------------------------------------------------- */

static const struct path_case {
    const char *file, *dir, *name, *joined;
} path_cases[] = {
    {"demo.json", ".", "k.pem", "k.pem"},
    {"examples/profiles/demo.json", "examples/profiles", "k.pem", "examples/profiles/k.pem"},
    {"/etc/p.json", "/etc", "/abs/k.pem", "/abs/k.pem"},
    {"/p.json", "/", "k.pem", "//k.pem"},
};

START_TEST(test_path_table)
{
    const struct path_case *c = &path_cases[_i];
    char dir[64], joined[64];
    ck_assert_int_eq(kct_dirname(c->file, dir, sizeof dir), 0);
    ck_assert_str_eq(dir, c->dir);
    ck_assert_int_eq(kct_path_join(dir, c->name, joined, sizeof joined), 0);
    ck_assert_str_eq(joined, c->joined);
    char tiny[4];
    ck_assert_int_eq(kct_path_join("longdir", "name", tiny, sizeof tiny), -1);
}
END_TEST

START_TEST(test_key_len)
{
    const uint8_t pem[] = "-----BEGIN PUBLIC KEY-----\n";
    const uint8_t der[] = {0x30, 0x59, 0x30};
    ck_assert_uint_eq(kct_key_len(pem, sizeof pem - 1), sizeof pem);
    ck_assert_uint_eq(kct_key_len(der, sizeof der), sizeof der);
}
END_TEST

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kc-test-tools-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    write_file("pin", "246810\r\nsecond line\n");
    write_file("key", "000102030405060708090A0B0C0D0E0F\n");
    write_file("badpin", "24a810\n");
}

static void teardown_tmp(void)
{
    const char *names[] = {"pin", "key", "badpin"};
    char p[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

START_TEST(test_secret_file)
{
    kct_secret s;
    char p[128], err[256];
    snprintf(p, sizeof p, "%s/pin", tmpdir);
    ck_assert_int_eq(kct_secret_file(p, &s, err, sizeof err), 0);
    ck_assert_str_eq(s.text, "246810"); /* first line, CR LF removed */
    ck_assert_uint_eq(s.len, 6);
    kct_secret_wipe(&s);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(s.text[0], 0);
    snprintf(p, sizeof p, "%s/missing", tmpdir);
    ck_assert_int_eq(kct_secret_file(p, &s, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
}
END_TEST

/* ---- JSON secret specs: each error names its JSON path ---------------------------- */

static const struct spec_case {
    const char *json;
    const char *value_key;
    int allow_tries;
    int rc;
    int errors;
    const char *text;
    int tries;
} spec_cases[] = {
    {"{\"p\":{\"value\":\"246810\",\"tries\":5}}", "value", 1, 0, 0, "246810", 5},
    {"{\"p\":{\"value\":\"246810\"}}", "value", 1, 0, 0, "246810", 3},
    {"{\"p\":{\"file\":\"pin\"}}", "value", 1, 0, 0, "246810", 3},
    {"{\"p\":{\"hex\":\"000102030405060708090A0B0C0D0E0F\"}}", "hex", 1, 0, 0,
     "000102030405060708090A0B0C0D0E0F", 3},
    {"{\"p\":{\"file\":\"key\"}}", "hex", 1, 0, 0, "000102030405060708090A0B0C0D0E0F", 3},
    {"{\"p\":{\"value\":\"24a\"}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"file\":\"badpin\"}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"file\":\"missing\"}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"value\":\"246810\",\"tries\":16}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"value\":\"246810\",\"tries\":3}}", "value", 0, -1, 1, NULL, 0},
    {"{\"p\":{\"value\":\"246810\",\"file\":\"pin\"}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"value\":246810}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"value\":\"246810\",\"x\":1}}", "value", 1, -1, 1, NULL, 0},
    {"{\"q\":{}}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":\"246810\"}", "value", 1, -1, 1, NULL, 0},
    {"{\"p\":{\"prompt\":false}}", "value", 1, -1, 1, NULL, 0},
};

START_TEST(test_spec_table)
{
    const struct spec_case *c = &spec_cases[_i];
    json_error_t je;
    json_t *root = json_loads(c->json, 0, &je);
    ck_assert_ptr_nonnull(root);
    kct_errs e = {NULL, 0};
    kct_secret s;
    int tries = 0;
    int rc = kct_json_secret(&e, "$", root, "p", c->value_key, c->allow_tries, tmpdir, "PIN", 0,
                             strcmp(c->value_key, "hex") == 0 ? kct_check_admin_key
                                                              : kct_check_pin,
                             &s, &tries);
    ck_assert_msg(rc == c->rc, "%s: rc %d", c->json, rc);
    ck_assert_msg(e.count == c->errors, "%s: %d errors", c->json, e.count);
    if (c->text) {
        ck_assert_str_eq(s.text, c->text);
        ck_assert_int_eq(tries, c->tries);
    } else {
        ck_assert_uint_eq(s.len, 0); /* nothing left behind on failure */
    }
    kct_secret_wipe(&s);
    json_decref(root);
}
END_TEST

/* The path printed is the path of the field at fault. */
START_TEST(test_error_paths)
{
    static const struct {
        const char *json, *path;
    } cases[] = {
        {"{\"p\":{\"value\":\"24a\"}}", "$.p.value: "},
        {"{\"p\":{\"value\":\"246810\",\"tries\":0}}", "$.p.tries: "},
        {"{\"p\":{\"value\":\"246810\",\"nmae\":1}}", "$.p.nmae: unknown field"},
        {"{\"q\":1}", "$.p: missing"},
        {"{\"p\":{\"file\":\"badpin\"}}", "$.p.file: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512] = "";
        FILE *old = stderr;
        FILE *mem = fmemopen(buf, sizeof buf - 1, "w");
        ck_assert_ptr_nonnull(mem);
        stderr = mem;
        json_t *root = json_loads(cases[i].json, 0, NULL);
        kct_errs e = {"f.json", 0};
        kct_secret s;
        int tries;
        kct_json_secret(&e, "$", root, "p", "value", 1, tmpdir, "PIN", 0, kct_check_pin, &s,
                        &tries);
        json_decref(root);
        fclose(mem);
        stderr = old;
        ck_assert_msg(strstr(buf, cases[i].path) != NULL, "%s: got '%s'", cases[i].json, buf);
        ck_assert_msg(strstr(buf, "f.json: ") != NULL, "file not named: '%s'", buf);
    }
}
END_TEST

START_TEST(test_json_wipe_alloc)
{
    /* The wiping allocator must hand out usable memory and take it back. */
    kct_json_init();
    json_t *j = json_pack("{s:s, s:[i, s]}", "a", "secret", "b", 1, "x");
    ck_assert_ptr_nonnull(j);
    kct_json_wipe(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "a")), "");
    json_decref(j);
}
END_TEST

/* ---- host hygiene -------------------------------------------------------------- */

START_TEST(test_buf_bounds)
{
    char mem[8];
    kct_buf b;

    memset(mem, 'x', sizeof mem);
    kct_buf_init(&b, mem, 6);
    ck_assert_int_eq(kct_buf_adds(&b, "abcd"), 0);
    ck_assert_int_eq(kct_buf_adds(&b, "efg"), -1); /* does not fit: nothing written */
    ck_assert_int_eq(b.len, 4);
    ck_assert_int_eq(b.over, 1);
    ck_assert_int_eq(kct_buf_addc(&b, 'e'), -1); /* sticky */
    ck_assert_int_eq(kct_buf_nul(&b), -1);
    ck_assert_mem_eq(mem, "abcdxxxx", 8);

    kct_buf_init(&b, mem, 6);
    ck_assert_int_eq(kct_buf_add(&b, "abcdef", 6), 0); /* exactly full */
    ck_assert_int_eq(kct_buf_nul(&b), -1);             /* no room for the NUL */
    ck_assert_mem_eq(mem, "abcdefxx", 8);              /* never past cap */
    kct_buf_wipe(&b);
    ck_assert_mem_eq(mem, "\0\0\0\0\0\0xx", 8);
    ck_assert_int_eq(b.len, 0);
}
END_TEST

START_TEST(test_buf_csv)
{
    char mem[16];
    kct_buf b;

    kct_buf_init(&b, mem, sizeof mem);
    ck_assert_int_eq(kct_buf_add_csv(&b, "a\"b", 3), 0);
    ck_assert_int_eq(kct_buf_addc(&b, ','), 0);
    ck_assert_int_eq(kct_buf_add_csv(&b, "", 0), 0);
    ck_assert_int_eq(kct_buf_nul(&b), 0);
    ck_assert_str_eq(mem, "\"a\"\"b\",\"\"");
    /* Quotes double: 7 quotes need 2 + 14 bytes, one more than 15. */
    kct_buf_init(&b, mem, 15);
    ck_assert_int_eq(kct_buf_add_csv(&b, "\"\"\"\"\"\"\"", 7), -1);
    ck_assert_int_eq(b.over, 1);
    ck_assert_uint_le(b.len, 15);
    kct_buf_init(&b, mem, 16);
    ck_assert_int_eq(kct_buf_add_csv(&b, "\"\"\"\"\"\"\"", 7), 0);
    ck_assert_int_eq(b.len, 16);
}
END_TEST

START_TEST(test_secret_env_taken_once)
{
    kct_secret s;

    ck_assert_int_eq(setenv("KEYCARD_TEST_PIN", "13579135", 1), 0);
    char *raw = getenv("KEYCARD_TEST_PIN");
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(kct_secret_get("test PIN", "--pin", NULL, "KEYCARD_TEST_PIN", "PIN", 0, &s), 0);
    ck_assert_str_eq(s.text, "13579135");
    ck_assert_ptr_null(getenv("KEYCARD_TEST_PIN"));
    for (char **e = environ; *e; e++)
        ck_assert_msg(strstr(*e, "13579135") == NULL, "value left in environ: %s", *e);
    kct_secret_wipe(&s);

    /* A value too long is refused, and still removed. */
    char longv[KCT_SECRET_MAX + 2];
    memset(longv, '7', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    ck_assert_int_eq(setenv("KEYCARD_TEST_PIN", longv, 1), 0);
    FILE *old = stderr, *mem = fopen("/dev/null", "w");
    stderr = mem;
    int r = kct_secret_get("test PIN", "--pin", NULL, "KEYCARD_TEST_PIN", "PIN", 0, &s);
    stderr = old;
    fclose(mem);
    ck_assert_int_eq(r, -1);
    ck_assert_ptr_null(getenv("KEYCARD_TEST_PIN"));
}
END_TEST

/* Every source form; what each refuses says what the option takes. */
START_TEST(test_secret_sources)
{
    kct_secret s;
    char path[] = "/tmp/kc-test-src-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "24681012\nrest\n", 14), 14);
    close(fd);
    char src[64];
    snprintf(src, sizeof src, "file:%s", path);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", src, NULL, "PIN", 0, &s), 0);
    ck_assert_str_eq(s.text, "24681012");
    /* kct_secret_get's file: a plain path is file:PATH */
    ck_assert_int_eq(kct_secret_get("PIN", "--pin-file", path, NULL, "PIN", 0, &s), 0);
    ck_assert_str_eq(s.text, "24681012");
    unlink(path);
    /* env:VAR, taken once */
    ck_assert_int_eq(setenv("KC_TEST_SRC", "1357", 1), 0);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", "env:KC_TEST_SRC", NULL, "PIN", 0,
                                       &s), 0);
    ck_assert_str_eq(s.text, "1357");
    ck_assert_ptr_null(getenv("KC_TEST_SRC"));
    /* fd:N, the first line, the descriptor closed */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "97531\r\nmore", 11), 11);
    close(p[1]);
    snprintf(src, sizeof src, "fd:%d", p[0]);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", src, NULL, "PIN", 0, &s), 0);
    ck_assert_str_eq(s.text, "97531");
    ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
    kct_secret_wipe(&s);
    /* Refused, each with the accepted forms named. */
    char errp[] = "/tmp/kc-test-err-XXXXXX";
    int efd = mkstemp(errp);
    fflush(stderr);
    int saved = dup(2);
    dup2(efd, 2);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", "1234", NULL, "PIN", 0, &s), -1);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", "env:KC_TEST_UNSET", NULL, "PIN", 0,
                                       &s), -1);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", "fd:x", NULL, "PIN", 0, &s), -1);
    ck_assert_int_eq(kct_secret_source("PIN", "--holder-pin", "fd:999", NULL, "PIN", 0, &s), -1);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char out[2048];
    ssize_t n = pread(efd, out, sizeof out - 1, 0);
    close(efd);
    unlink(errp);
    out[n > 0 ? n : 0] = '\0';
    ck_assert_ptr_nonnull(strstr(out, "--holder-pin takes prompt, file:PATH, env:VAR or fd:N "
                                      "(a secret is never given on the command line)"));
    ck_assert_ptr_null(strstr(out, "1234")); /* a PIN typed as the source is not echoed */
    ck_assert_ptr_nonnull(strstr(out, "KC_TEST_UNSET is not set"));
    ck_assert_ptr_nonnull(strstr(out, "fd:x is not a file descriptor number"));
    ck_assert_ptr_nonnull(strstr(out, "fd:999: Bad file descriptor"));
    /* The refused value never appears in a message but as the user wrote it. */
    ck_assert_ptr_null(strstr(out, "24681012"));
}
END_TEST

/* What kct_cli_bad_option writes for arg, captured from stderr. */
static const char *bad_option(const char *help_cmd, const char *arg, int *rc)
{
    static const struct option lo[] = {
        {"config", required_argument, NULL, 'c'}, {"profile", required_argument, NULL, 'p'},
        {"all", no_argument, NULL, 'a'},          {"target-reader", required_argument, NULL, 't'},
        {"target-sim", required_argument, NULL, 'T'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    static char out[512];
    char path[] = "/tmp/kc-test-cli-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    *rc = kct_cli_bad_option(help_cmd, arg, lo);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    unlink(path);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

START_TEST(test_cli_usage_errors)
{
    int rc;
    ck_assert_str_eq(bad_option("kc-issue", "--profle", &rc),
                     "kc-issue: unknown option '--profle' (did you mean '--profile'?); "
                     "see 'kc-issue --help'\n");
    ck_assert_int_eq(rc, 2);
    ck_assert_str_eq(bad_option("kc-issue", "--verison", &rc),
                     "kc-issue: unknown option '--verison' (did you mean '--version'?); "
                     "see 'kc-issue --help'\n");
    ck_assert_str_eq(bad_option("kc-admin keys", "--config", &rc),
                     "kc-admin: keys: option '--config' needs a value; "
                     "see 'kc-admin keys --help'\n");
    ck_assert_str_eq(bad_option("kc-issue", "--al=1", &rc),
                     "kc-issue: option '--all' takes no value; see 'kc-issue --help'\n");
    ck_assert_str_eq(bad_option("kc-issue", "--target=x", &rc),
                     "kc-issue: option '--target' is ambiguous; see 'kc-issue --help'\n");
    /* Far from every option: no guess. */
    ck_assert_str_eq(bad_option("kc-issue", "--xyzzy", &rc),
                     "kc-issue: unknown option '--xyzzy'; see 'kc-issue --help'\n");
    ck_assert_int_eq(rc, 2);
    static const char *const cmds[] = {"info", "keys", "templates", "audit", NULL};
    ck_assert_str_eq(kct_cli_suggest("infp", cmds), "info");
    ck_assert_str_eq(kct_cli_suggest("tempaltes", cmds), "templates");
    ck_assert_ptr_null(kct_cli_suggest("provision", cmds));
    ck_assert_ptr_null(kct_cli_suggest("", cmds));
}
END_TEST

START_TEST(test_harden_process)
{
    /* In a child: the test process itself stays dumpable for debuggers. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl;
        int ok = kct_harden_process() == 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 &&
                 getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "not hardened");
}
END_TEST

START_TEST(test_private_file)
{
    char p[160];
    struct stat st;
    kct_private pf;

    snprintf(p, sizeof p, "%s/export", tmpdir);
    write_file("export", "old contents\n"); /* an earlier file, 0644 */
    chmod(p, 0644);
    mode_t old = umask(022);
    ck_assert_int_eq(kct_private_create(&pf, p), 0);
    fputs("new contents\n", pf.f);
    /* Until the commit the final name holds the old file, whole. */
    ck_assert_int_eq(stat(pf.tmp, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(kct_private_commit(&pf), 0);
    umask(old);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(access(pf.tmp, F_OK), -1);
    FILE *f = fopen(p, "r");
    char line[64] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "new contents\n");

    /* Abort: the temporary file goes, the final name is untouched. */
    ck_assert_int_eq(kct_private_create(&pf, p), 0);
    fputs("half", pf.f);
    kct_private_abort(&pf);
    ck_assert_int_eq(access(pf.tmp, F_OK), -1);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "new contents\n");
    unlink(p);

    /* A directory that does not exist: -1, nothing created. */
    snprintf(p, sizeof p, "%s/no/such/export", tmpdir);
    ck_assert_int_eq(kct_private_create(&pf, p), -1);
}
END_TEST

static Suite *tools_suite(void)
{
    Suite *s = suite_create("tools_common");
    TCase *tc = tcase_create("tools_common");
    tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
    tcase_add_loop_test(tc, test_hex_table, 0, sizeof hex_cases / sizeof hex_cases[0]);
    tcase_add_test(tc, test_hex_format);
    tcase_add_loop_test(tc, test_pin_table, 0, sizeof pin_cases / sizeof pin_cases[0]);
    tcase_add_loop_test(tc, test_admin_key_table, 0, sizeof key_cases / sizeof key_cases[0]);
    tcase_add_loop_test(tc, test_path_table, 0, sizeof path_cases / sizeof path_cases[0]);
    tcase_add_test(tc, test_key_len);
    tcase_add_test(tc, test_secret_file);
    tcase_add_loop_test(tc, test_spec_table, 0, sizeof spec_cases / sizeof spec_cases[0]);
    tcase_add_test(tc, test_error_paths);
    tcase_add_test(tc, test_json_wipe_alloc);
    tcase_add_test(tc, test_buf_bounds);
    tcase_add_test(tc, test_buf_csv);
    tcase_add_test(tc, test_secret_env_taken_once);
    tcase_add_test(tc, test_cli_usage_errors);
    tcase_add_test(tc, test_secret_sources);
    tcase_add_test(tc, test_harden_process);
    tcase_add_test(tc, test_private_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    kct_set_prog("test");
    SRunner *sr = srunner_create(tools_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
