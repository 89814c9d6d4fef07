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
    CFO_KIND_LIBFUZZER, /* coverage-guided: a binary built with -fsanitize=fuzzer */
    CFO_KIND_AFL,       /* coverage-guided: AFL++ (afl-fuzz) */
    CFO_KIND_GOFUZZ,    /* coverage-guided: Go's native fuzzing (go test -fuzz) */
} cfo_kind;
#define CFO_KIND_COUNT 6

/* Whether tasks of kind run a coverage-guided engine (libfuzzer, afl,
 * gofuzz). */
bool cfo_kind_is_engine(cfo_kind kind);

/* Finding kinds an engine fuzzer may fail on (fail_on), one bit each, in the
 * order of cfo_crash_kind (fuzz_tests/cfo_triage.h): 1u << kind. */
#define CFO_FAIL_ON_CRASH (1u << 0)
#define CFO_FAIL_ON_TIMEOUT (1u << 1)
#define CFO_FAIL_ON_OOM (1u << 2)
#define CFO_FAIL_ON_LEAK (1u << 3)
#define CFO_FAIL_ON_ALL                                                                            \
    (CFO_FAIL_ON_CRASH | CFO_FAIL_ON_TIMEOUT | CFO_FAIL_ON_OOM | CFO_FAIL_ON_LEAK)

/* The defaults of an engine fuzzer's keys (cfo.ini), all in one place. */
#define CFO_ENGINE_DEFAULT_BUILD "./build.sh"
#define CFO_ENGINE_DEFAULT_TARGETS_DIR_LIBFUZZER "out/libfuzzer"
#define CFO_ENGINE_DEFAULT_TARGETS_DIR_AFL "out/afl"
#define CFO_ENGINE_DEFAULT_INPUT_TIMEOUT_MS 2000LL
#define CFO_ENGINE_DEFAULT_INPUT_MEMORY_KB (2048LL * 1024)
#define CFO_ENGINE_DEFAULT_FUZZ_TIME_MS 60000LL
#define CFO_ENGINE_DEFAULT_FAIL_ON CFO_FAIL_ON_ALL
#define CFO_ENGINE_DEFAULT_REPRODUCE_RUNS 3
#define CFO_ENGINE_DEFAULT_SYNC_INTERVAL_MS 30000LL
#define CFO_ENGINE_DEFAULT_TRIAGE_TIME_MS 60000LL
#define CFO_ENGINE_DEFAULT_MAX_CRASHES 16
#define CFO_ENGINE_DEFAULT_PRUNE_FACTOR 4
#define CFO_ENGINE_MAX_PRUNE_FACTOR 1000
/* A line coverage drop of more than this many percent fails the task. */
#define CFO_ENGINE_DEFAULT_COVERAGE_DROP 1
#define CFO_ENGINE_MAX_REPRODUCE_RUNS 100
#define CFO_ENGINE_MAX_MAX_CRASHES 1000
#define CFO_ENGINE_MAX_PERSISTENT_RECORD 100000

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
    /* A target that already passed on the same commit is not run again
     * (--force runs it). Off by default: drift happens outside git. */
    bool skip_passed;
    bool critical;
    cfo_merge_strategy merge;
    int64_t task_timeout_ms; /* 0: the run's --task-timeout */
    /* Resident memory one task may use, all its processes together; over it
     * the task is killed and recorded as oom. 0: no limit. */
    int64_t memory_limit_kb;
    /* Percent of the run's budget (in slot time) this fuzzer's tasks may
     * take while others still wait; 0: no share of its own. */
    int budget_share;
    /* "NAME=VALUE" added to the environment of its tasks (env = ...) */
    cfo_strv env;
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
    /* libfuzzer, afl (defaults: CFO_ENGINE_DEFAULT_*) */
    char *build;              /* shell command run once per commit in the worktree; "" none */
    char *targets_dir;        /* where discovery looks for target executables */
    char *cmplog_dir;         /* afl: CmpLog builds; "" = <targets_dir>-cmplog when present */
    int64_t input_timeout_ms; /* per input */
    int64_t input_memory_kb;  /* per input */
    int64_t fuzz_time_ms;     /* per task, capped by the task's timeout */
    /* Corpus root URL: <corpus>/corpus/<NAME>/<target>/ and
     * <corpus>/crashes/<NAME>/<target>/. Set from the dataset's folder when
     * the config does not give one. */
    char *corpus;
    unsigned fail_on;         /* CFO_FAIL_ON_* bits */
    int reproduce_runs;       /* re-runs of a new finding to rate reproducibility */
    int64_t sync_interval_ms; /* corpus sharing while the engine runs */
    char *seeds;              /* seed folders in the worktree, white-space separated; "" none */
    int64_t triage_time_ms;   /* part of the task's timeout kept for triage */
    int max_crashes;      /* crash inputs replayed in triage per task (first of each kind first) */
    cfo_strv engine_args; /* extra arguments for the engine (libFuzzer flags, afl-fuzz options) */
    /* A task merges the stored corpus once it holds more than this many
     * times the inputs its last minimization left; 0: never. */
    int prune_factor;
    /* Coverage: where the coverage build leaves its targets ("" = coverage
     * off), the command that makes it ("" = build, run with
     * CFO_SANITIZER=coverage), and the drop in percent of lines between two
     * tested commits of a branch that fails the task. */
    char *coverage_dir;
    char *coverage_build;
    int coverage_drop;
    /* afl: AFL_PERSISTENT_RECORD (inputs kept before a crash of a persistent
     * target; needs an afl-fuzz built with it); 0: off */
    int persistent_record;
} cfo_fuzzer;

/* Whether f's tasks measure coverage: gofuzz always (go test -cover), the
 * other engines with a coverage build (coverage_dir). */
bool cfo_fuzzer_has_coverage(const cfo_fuzzer *f);

void cfo_fuzzer_init(cfo_fuzzer *f, const char *name, cfo_kind kind);
void cfo_fuzzer_fini(cfo_fuzzer *f);

#endif
