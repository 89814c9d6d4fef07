/* cfo_fuzzer.c -- the table of fuzzer kinds and instance lifecycle. */
#include "cfo_fuzzer.h"

#include <stdlib.h>
#include <string.h>

/* Indexed by cfo_kind; cfo_kind_info_of's switch keeps it exhaustive. */
static const cfo_kind_info kinds[CFO_KIND_COUNT] = {
    [CFO_KIND_CANARY] = {.name = "canary",
                         .needs_working_dir = false,
                         .needs_seed = false,
                         .critical = false,
                         .merge = CFO_MERGE_ACCUMULATE,
                         .runs_in_runner = true},
    [CFO_KIND_INFRA_DRIFT] = {.name = "infra_drift",
                              .needs_working_dir = true,
                              .needs_seed = true,
                              .critical = true,
                              .merge = CFO_MERGE_SUPERSEDE,
                              .runs_in_runner = true},
    [CFO_KIND_EXEC] = {.name = "exec",
                       .needs_working_dir = true,
                       .needs_seed = false,
                       .critical = true,
                       .merge = CFO_MERGE_SUPERSEDE,
                       .runs_in_runner = false},
};

const cfo_kind_info *cfo_kind_info_of(cfo_kind kind)
{
    switch (kind) {
    case CFO_KIND_CANARY:
    case CFO_KIND_INFRA_DRIFT:
    case CFO_KIND_EXEC:
        return &kinds[kind];
    }
    abort(); /* not a cfo_kind: a programming error */
}

int cfo_kind_parse(const char *name, cfo_kind *out)
{
    for (int i = 0; i < CFO_KIND_COUNT; i++) {
        if (strcmp(kinds[i].name, name) == 0) {
            *out = (cfo_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *cfo_merge_name(cfo_merge_strategy m)
{
    switch (m) {
    case CFO_MERGE_SUPERSEDE:
        return "supersede";
    case CFO_MERGE_ACCUMULATE:
        return "accumulate";
    }
    return "unknown";
}

int cfo_merge_parse(const char *name, cfo_merge_strategy *out)
{
    if (strcmp(name, "supersede") == 0)
        *out = CFO_MERGE_SUPERSEDE;
    else if (strcmp(name, "accumulate") == 0)
        *out = CFO_MERGE_ACCUMULATE;
    else
        return -1;
    return 0;
}

void cfo_fuzzer_init(cfo_fuzzer *f, const char *name, cfo_kind kind)
{
    memset(f, 0, sizeof *f);
    const cfo_kind_info *k = cfo_kind_info_of(kind);
    f->name = cfo_xstrdup(name);
    f->kind = kind;
    f->needs_working_dir = k->needs_working_dir;
    f->needs_seed = k->needs_seed;
    f->critical = k->critical;
    f->merge = k->merge;
    f->terraform = cfo_xstrdup("terraform");
    f->root = cfo_xstrdup("");
    cfo_strv_init(&f->branches);
    cfo_strv_init(&f->include);
    cfo_strv_init(&f->exclude);
    cfo_strv_init(&f->discover_argv);
    cfo_strv_init(&f->run_argv);
    cfo_strv_init(&f->path_globs);
    cfo_strv_init(&f->path_targets);
}

void cfo_fuzzer_fini(cfo_fuzzer *f)
{
    free(f->name);
    free(f->terraform);
    free(f->root);
    cfo_strv_fini(&f->branches);
    cfo_strv_fini(&f->include);
    cfo_strv_fini(&f->exclude);
    cfo_strv_fini(&f->discover_argv);
    cfo_strv_fini(&f->run_argv);
    cfo_strv_fini(&f->path_globs);
    cfo_strv_fini(&f->path_targets);
    memset(f, 0, sizeof *f);
}
