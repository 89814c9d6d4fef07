/* cfo_preflight.c -- the tools of each fuzzer kind, looked up on PATH. */
#include "cfo_preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tool a kind needs: the names that serve (any one of them) and how to
 * get one. */
typedef struct tool {
    const char *names[3];
    const char *how;
} tool;

static const tool terraform = {{"terraform", NULL},
                               "install HashiCorp's Terraform, or OpenTofu "
                               "and set terraform = tofu"};
static const tool clang = {{"clang", NULL}, "apt-get install clang libclang-rt-14-dev"};
static const tool symbolizer = {{"llvm-symbolizer", "llvm-symbolizer-14", NULL},
                                "apt-get install llvm"};
static const tool afl = {{"afl-fuzz", NULL}, "apt-get install afl++"};
static const tool go = {{"go", NULL}, "apt-get install golang-go"};

static bool on_path(const char *name)
{
    char *p = cfo_which(name);
    free(p);
    return p != NULL;
}

static cfo_err need(const cfo_fuzzer *f, const tool *t, const char *name, cfo_diag *d)
{
    if (name != NULL) {
        if (on_path(name))
            return CFO_OK;
        return cfo_diag_set(d, CFO_ENOTFOUND, "fuzzer %s needs %s, which is not on PATH: %s",
                            f->name, name, t->how);
    }
    for (int i = 0; t->names[i] != NULL; i++)
        if (on_path(t->names[i]))
            return CFO_OK;
    return cfo_diag_set(d, CFO_ENOTFOUND, "fuzzer %s needs %s, which is not on PATH: %s", f->name,
                        t->names[0], t->how);
}

static cfo_err check_fuzzer(const cfo_fuzzer *f, cfo_diag *d)
{
    cfo_err err = CFO_OK;
    switch (f->kind) {
    case CFO_KIND_CANARY:
    case CFO_KIND_EXEC:
        break;
    case CFO_KIND_INFRA_DRIFT:
        err = need(f, &terraform, f->terraform ? f->terraform : "terraform", d);
        break;
    case CFO_KIND_LIBFUZZER:
        err = need(f, &clang, NULL, d);
        if (err == CFO_OK)
            err = need(f, &symbolizer, NULL, d);
        break;
    case CFO_KIND_AFL:
        err = need(f, &afl, NULL, d);
        if (err == CFO_OK)
            err = need(f, &symbolizer, NULL, d);
        break;
    case CFO_KIND_GOFUZZ:
        err = need(f, &go, NULL, d);
        break;
    }
    return err;
}

cfo_err cfo_preflight(const cfo_config *config, const cfo_strv *only, cfo_diag *d)
{
    for (size_t i = 0; i < config->nfuzzers; i++) {
        const cfo_fuzzer *f = &config->fuzzers[i];
        if (only != NULL && only->n > 0 && !cfo_strv_contains(only, f->name))
            continue;
        cfo_err err = check_fuzzer(f, d);
        if (err != CFO_OK)
            return err;
    }
    return CFO_OK;
}
