/* cfo_fuzzer.h -- fuzzer kinds (compiled in) and fuzzer instances (configured). */
#ifndef CFO_FUZZER_H
#define CFO_FUZZER_H

#include <stdbool.h>
#include <stdint.h>

#include "cfo_util.h"

/* A fuzzer kind is compiled in. Every switch over it is checked by
 * -Werror=switch-enum, so adding a kind makes the compiler name each place
 * that must learn about it. Each kind has one implementation file,
 * fuzz_tests/fz_<name>.c. */
typedef enum cfo_kind {
    CFO_KIND_CANARY,
    CFO_KIND_INFRA_DRIFT,
    CFO_KIND_EXEC,
} cfo_kind;
#define CFO_KIND_COUNT 3

typedef enum cfo_merge_strategy {
    CFO_MERGE_SUPERSEDE,
    CFO_MERGE_ACCUMULATE,
} cfo_merge_strategy;

/* The defaults a kind gives an instance that does not override them. */
typedef struct cfo_kind_info {
    const char *name; /* as written in cfo.ini: kind = <name> */
    bool needs_working_dir;
    bool needs_seed;
    bool critical;
    cfo_merge_strategy merge;
    /* true when tasks are run by `cfo-fuzz NAME TARGET`; false when the
     * configured run command is executed directly (no runner in between). */
    bool runs_in_runner;
} cfo_kind_info;

const cfo_kind_info *cfo_kind_info_of(cfo_kind kind);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int cfo_kind_parse(const char *name, cfo_kind *out);
const char *cfo_merge_name(cfo_merge_strategy m);
int cfo_merge_parse(const char *name, cfo_merge_strategy *out);

/* A fuzzer instance, as declared in a [fuzzer "NAME"] section. */
typedef struct cfo_fuzzer {
    char *name; /* upper-case by convention: CANARY, INFRA_DRIFT */
    cfo_kind kind;
    cfo_strv branches; /* empty: the repository's current branch */
    bool needs_working_dir;
    bool needs_seed;
    bool critical;
    cfo_merge_strategy merge;
    int64_t task_timeout_ms; /* 0: the run's --task-timeout */
    /* Resident memory one task may use, all its processes together; over it
     * the task is killed and recorded as oom. 0: no limit. */
    int64_t memory_limit_kb;
    /* Percent of the run's budget (in slot time) this fuzzer's tasks may
     * take while others still wait; 0: no share of its own. */
    int budget_share;
    /* infra_drift */
    char *terraform;  /* "terraform" (default) or "tofu", or a path */
    char *root;       /* subdirectory of the worktree holding the tree ("" = all) */
    cfo_strv include; /* globs over module paths; empty = all */
    cfo_strv exclude;
    /* exec: argv templates; "{target}" in a word is replaced by the target */
    cfo_strv discover_argv;
    cfo_strv run_argv;
    /* exec: which targets a change touches (--changed-since): a changed file
     * matching path_globs[i] touches path_targets[i] */
    cfo_strv path_globs;
    cfo_strv path_targets;
} cfo_fuzzer;

void cfo_fuzzer_init(cfo_fuzzer *f, const char *name, cfo_kind kind);
void cfo_fuzzer_fini(cfo_fuzzer *f);

#endif
