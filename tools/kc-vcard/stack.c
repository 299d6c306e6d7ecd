/*
 * stack.c - the stacker's directory handling and the reader commands
 * (see stack.h).
 */
#include "stack.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keycard_proto.h"

int kc_stack_is_image(const char *name)
{
    size_t n, s = strlen(KC_STACK_SUFFIX);

    if (name == NULL || name[0] == '.' || name[0] == '\0')
        return 0;
    n = strlen(name);
    return n > s && strcmp(name + n - s, KC_STACK_SUFFIX) == 0;
}

/* Scan dir: count the images and keep the smallest name. */
static int scan(const char *dir, char *first, size_t cap, int *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char best[256] = "";
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;

        if (!kc_stack_is_image(e->d_name))
            continue;
        /* Only regular files: a directory named X.card is not a card. */
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        n++;
        if (best[0] == '\0' || strcmp(e->d_name, best) < 0)
            snprintf(best, sizeof(best), "%s", e->d_name);
    }
    closedir(d);
    *count = n;
    if (first != NULL && n > 0) {
        if (strlen(best) >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(first, best, strlen(best) + 1);
    }
    return 0;
}

int kc_stack_next(const char *dir, char *name, size_t cap)
{
    int n = 0;

    if (dir == NULL || name == NULL || cap == 0) {
        errno = EINVAL;
        return -1;
    }
    if (scan(dir, name, cap, &n) != 0)
        return -1;
    return n > 0 ? 1 : 0;
}

int kc_stack_count(const char *dir)
{
    int n = 0;

    if (dir == NULL || scan(dir, NULL, 0, &n) != 0)
        return -1;
    return n;
}

int kc_stack_retire(const char *dir, const char *name, const char *tray)
{
    char from[4096], to_dir[4096], to[4200];
    int i;

    if (dir == NULL || name == NULL || strchr(name, '/') != NULL || tray == NULL ||
        strchr(tray, '/') != NULL) {
        errno = EINVAL;
        return -1;
    }
    if (snprintf(from, sizeof(from), "%s/%s", dir, name) >= (int)sizeof(from) ||
        snprintf(to_dir, sizeof(to_dir), "%s/%s", dir, tray) >= (int)sizeof(to_dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mkdir(to_dir, 0755) != 0 && errno != EEXIST)
        return -1;
    /* link + unlink: never replaces an issued card already there. */
    for (i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(to, sizeof(to), "%s/%s", to_dir, name);
        else
            snprintf(to, sizeof(to), "%s/%s.%d", to_dir, name, i);
        if (link(from, to) == 0)
            return unlink(from);
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

int kc_stack_reject(const char *dir, const char *name)
{
    char from[4096], to[4100];

    if (dir == NULL || name == NULL || strchr(name, '/') != NULL) {
        errno = EINVAL;
        return -1;
    }
    if (snprintf(from, sizeof(from), "%s/%s", dir, name) >= (int)sizeof(from) ||
        snprintf(to, sizeof(to), "%s.bad", from) >= (int)sizeof(to)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return rename(from, to);
}

int kc_reader_command(const uint8_t *apdu, size_t len)
{
    if (apdu == NULL || len < 4 || apdu[0] != KC_READER_CLA)
        return KC_READER_NOT_MINE;
    if (apdu[1] != KC_READER_INS_EJECT && apdu[1] != KC_READER_INS_COUNT)
        return KC_SW_INS_NOT_SUPPORTED;
    if (len > 5)
        return KC_SW_WRONG_LENGTH; /* neither takes data */
    if (apdu[1] == KC_READER_INS_EJECT && apdu[2] == 0x01 && apdu[3] == 0)
        return KC_READER_EJECT_SPOILED;
    if (apdu[2] != 0 || apdu[3] != 0)
        return KC_SW_WRONG_P1P2;
    return apdu[1] == KC_READER_INS_EJECT ? KC_READER_EJECT : KC_READER_COUNT;
}
