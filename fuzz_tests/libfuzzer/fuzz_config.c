/* fuzz_config.c -- libFuzzer target for cfo_config_parse, the reader of
 * cfo.ini, a file that comes with whatever repository CFO is pointed at.
 *
 * Input: the file's text (cut at its first NUL, as a C string is). A config
 * that parses must hold only valid, distinct fuzzer names that
 * cfo_config_find finds again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfo_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s: %s\n", what, detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = cfo_xstrndup((const char *)data, size);

    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    if (cfo_config_parse(text, "fuzz.ini", &cfg, &d) == CFO_OK) {
        if (cfg == NULL || cfg->nfuzzers == 0 || cfg->dataset == NULL)
            check_failed("a parsed config is incomplete", NULL);
        for (size_t i = 0; i < cfg->nfuzzers; i++) {
            const cfo_fuzzer *f = &cfg->fuzzers[i];
            if (f->name == NULL || f->name[0] == '\0')
                check_failed("a fuzzer has no name", NULL);
            if (cfo_config_find(cfg, f->name) != f)
                check_failed("fuzzer names are not distinct", f->name);
            if (f->kind == CFO_KIND_EXEC && f->run_argv.n == 0)
                check_failed("an exec fuzzer has no run command", f->name);
        }
        if (cfg->budget_ms <= 0 || cfg->task_timeout_ms <= 0 || cfg->window <= 0)
            check_failed("a parsed config has a non-positive limit", NULL);
    } else {
        if (cfg != NULL)
            check_failed("a rejected config was handed out", NULL);
        if (d.msg[0] == '\0')
            check_failed("a rejected config has no reason", NULL);
    }
    cfo_config_destroy(&cfg);
    free(text);
    return 0;
}
