/* replay_main.c -- runs a libFuzzer target over its corpus without a fuzzing
 * engine: every regular file of the directories (or the files) named on the
 * command line goes through LLVMFuzzerTestOneInput once, so the corpus is an
 * ordinary regression test in any build. */
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
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_diag d = {{0}};
    long n = 0;
    if (cfo_list_files(dir, &names, &d) != CFO_OK) {
        fprintf(stderr, "replay: %s\n", d.msg);
        n = -1;
    }
    for (size_t i = 0; i < names.n && n >= 0; i++) {
        char *path = cfo_xasprintf("%s/%s", dir, names.v[i]);
        n = replay_file(path) == 0 ? n + 1 : -1;
        free(path);
    }
    cfo_strv_fini(&names);
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
