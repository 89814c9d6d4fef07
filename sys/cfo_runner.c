/* cfo_runner.c -- finding and calling the fuzz runner, cfo-fuzz. */
#include "cfo_runner.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cfo_find_runner(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            char *p = cfo_xasprintf("%s/cfo-fuzz", self);
            if (access(p, X_OK) == 0)
                return p;
            free(p);
        }
    }
    return cfo_which("cfo-fuzz");
}

void cfo_runner_argv(cfo_strv *argv, const char *runner, const cfo_config *config,
                     const char *fuzzer)
{
    cfo_strv_push(argv, runner);
    if (config != NULL && config->path != NULL) {
        cfo_strv_push(argv, "--config");
        char abs[PATH_MAX];
        cfo_strv_push(argv, realpath(config->path, abs) ? abs : config->path);
    }
    cfo_strv_push(argv, fuzzer);
}

char *cfo_task_log_path(const char *dir, const char *fuzzer, const char *branch, const char *target)
{
    char *f = cfo_safe_name(fuzzer);
    char *b = cfo_safe_name(branch);
    char *g = cfo_safe_name(target);
    char *p = cfo_xasprintf("%s/%s/%s/%s.log", dir, f, b, g);
    free(f);
    free(b);
    free(g);
    return p;
}
