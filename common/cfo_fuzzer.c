/* cfo_fuzzer.c -- the table of fuzzer kinds and instance lifecycle. */
#include "cfo_fuzzer.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_names.h"

/* Indexed by cfo_kind; cfo_kind_info_of's switch keeps it exhaustive. */
#define ACC CFO_MERGE_ACCUMULATE
#define SUP CFO_MERGE_SUPERSEDE
/* clang-format off */
static const cfo_kind_info kinds[CFO_KIND_COUNT] = {
    /*                        name,          working_dir, seed, critical, merge, runs_in_runner */
    [CFO_KIND_CANARY]      = {"canary",      false,       false, false,   ACC,   true},
    [CFO_KIND_INFRA_DRIFT] = {"infra_drift", true,        true,  true,    SUP,   true},
    [CFO_KIND_EXEC]        = {"exec",        true,        false, true,    SUP,   false},
    [CFO_KIND_LIBFUZZER]   = {"libfuzzer",   true,        false, true,    ACC,   true},
    [CFO_KIND_AFL]         = {"afl",         true,        false, true,    ACC,   true},
    [CFO_KIND_GOFUZZ]      = {"gofuzz",      true,        false, true,    ACC,   true},
};
/* clang-format on */
#undef ACC
#undef SUP

const cfo_kind_info *cfo_kind_info_of(cfo_kind kind)
{
    switch (kind) {
    case CFO_KIND_CANARY:
    case CFO_KIND_INFRA_DRIFT:
    case CFO_KIND_EXEC:
    case CFO_KIND_LIBFUZZER:
    case CFO_KIND_AFL:
    case CFO_KIND_GOFUZZ:
        return &kinds[kind];
    }
    abort(); /* not a cfo_kind: a programming error */
}

bool cfo_fuzzer_has_coverage(const cfo_fuzzer *f)
{
    /* Go measures coverage with its own toolchain; clang's needs a build. */
    return f->kind == CFO_KIND_GOFUZZ ||
           (cfo_kind_is_engine(f->kind) && f->coverage_dir != NULL && f->coverage_dir[0] != '\0');
}

bool cfo_kind_is_engine(cfo_kind kind)
{
    switch (kind) {
    case CFO_KIND_LIBFUZZER:
    case CFO_KIND_AFL:
    case CFO_KIND_GOFUZZ:
        return true;
    case CFO_KIND_CANARY:
    case CFO_KIND_INFRA_DRIFT:
    case CFO_KIND_EXEC:
        return false;
    }
    return false;
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

static const char *const merge_names[] = {
    [CFO_MERGE_SUPERSEDE] = "supersede",
    [CFO_MERGE_ACCUMULATE] = "accumulate",
};

const char *cfo_merge_name(cfo_merge_strategy m)
{
    return cfo_name_of(merge_names, CFO_NELEM(merge_names), (int)m, "unknown");
}

int cfo_merge_parse(const char *name, cfo_merge_strategy *out)
{
    int m = cfo_name_find(merge_names, CFO_NELEM(merge_names), name);
    if (m >= 0)
        *out = (cfo_merge_strategy)m;
    return m >= 0 ? 0 : -1;
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
    cfo_strv_init(&f->env);
    /* go test builds what it fuzzes. */
    f->build = cfo_xstrdup(kind == CFO_KIND_GOFUZZ ? "" : CFO_ENGINE_DEFAULT_BUILD);
    f->targets_dir = cfo_xstrdup(kind == CFO_KIND_AFL ? CFO_ENGINE_DEFAULT_TARGETS_DIR_AFL
                                                      : CFO_ENGINE_DEFAULT_TARGETS_DIR_LIBFUZZER);
    f->cmplog_dir = cfo_xstrdup("");
    f->input_timeout_ms = CFO_ENGINE_DEFAULT_INPUT_TIMEOUT_MS;
    f->input_memory_kb = CFO_ENGINE_DEFAULT_INPUT_MEMORY_KB;
    f->fuzz_time_ms = CFO_ENGINE_DEFAULT_FUZZ_TIME_MS;
    f->corpus = cfo_xstrdup("");
    f->fail_on = CFO_ENGINE_DEFAULT_FAIL_ON;
    f->reproduce_runs = CFO_ENGINE_DEFAULT_REPRODUCE_RUNS;
    f->sync_interval_ms = CFO_ENGINE_DEFAULT_SYNC_INTERVAL_MS;
    f->seeds = cfo_xstrdup("");
    f->triage_time_ms = CFO_ENGINE_DEFAULT_TRIAGE_TIME_MS;
    f->max_crashes = CFO_ENGINE_DEFAULT_MAX_CRASHES;
    f->prune_factor = CFO_ENGINE_DEFAULT_PRUNE_FACTOR;
    cfo_strv_init(&f->engine_args);
    f->coverage_dir = cfo_xstrdup("");
    f->coverage_build = cfo_xstrdup("");
    f->coverage_drop = CFO_ENGINE_DEFAULT_COVERAGE_DROP;
}

void cfo_fuzzer_fini(cfo_fuzzer *f)
{
    cfo_free_all(f->name, f->terraform, f->root, f->build, f->targets_dir, f->cmplog_dir, f->corpus,
                 f->seeds, f->coverage_dir, f->coverage_build);
    cfo_strv *lists[] = {&f->branches,      &f->include,     &f->exclude,
                         &f->discover_argv, &f->run_argv,    &f->path_globs,
                         &f->path_targets,  &f->engine_args, &f->env};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        cfo_strv_fini(lists[i]);
    memset(f, 0, sizeof *f);
}
