/* replay_main.c -- runs a libFuzzer target over its corpus without a fuzzing
 * engine: every regular file of the directories (or the files) named on the
 * command line goes through LLVMFuzzerTestOneInput once, so the corpus is an
 * ordinary regression test in any build. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfo_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger than any corpus entry is meant to be; a bigger file is a mistake. */
#define REPLAY_MAX_INPUT ((size_t)16 << 20)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_file(const char *path)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_diag d = {{0}};
    if (cfo_read_file(path, REPLAY_MAX_INPUT, &b, &d) != CFO_OK) {
        fprintf(stderr, "replay: %s\n", d.msg);
        cfo_buf_fini(&b);
        return -1;
    }
    /* An exact-size copy, so a read past the input's end is caught. */
    uint8_t *input = cfo_xmalloc(b.len ? b.len : 1);
    if (b.len)
        memcpy(input, b.data, b.len);
    LLVMFuzzerTestOneInput(input, b.len);
    free(input);
    cfo_buf_fini(&b);
    return 0;
}

/* Replays every regular file of dir in name order; returns how many, or -1. */
static long replay_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (dp == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    cfo_strv paths;
    cfo_strv_init(&paths);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = cfo_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            cfo_strv_push_owned(&paths, path);
        else
            free(path);
    }
    closedir(dp);
    if (paths.n > 1)
        qsort(paths.v, paths.n, sizeof *paths.v, cmp_str);
    long n = 0;
    for (size_t i = 0; i < paths.n && n >= 0; i++)
        n = replay_file(paths.v[i]) == 0 ? n + 1 : -1;
    cfo_strv_fini(&paths);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        long n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0)
            return 2;
        printf("replay: %s: %ld input%s\n", argv[i], n, n == 1 ? "" : "s");
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 2;
    }
    printf("replay: %ld inputs, no crash\n", total);
    return 0;
}
