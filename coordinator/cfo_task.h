/* cfo_task.h -- tasks: one fuzzer x branch x target, and their generation. */
#ifndef CFO_TASK_H
#define CFO_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_config.h"
#include "cfo_record.h"
#include "cfo_util.h"

typedef struct cfo_task {
    size_t id;
    const cfo_fuzzer *fuzzer; /* borrowed from the config */
    char *branch;
    char *commit; /* full sha, resolved once per run */
    char *target;
    int64_t timeout_ms;
    /* Already passed on this commit (skip_passed) and kept only because the
     * generator was asked to (cfo_taskgen_opts.keep_passed). */
    bool passed;
} cfo_task;

typedef struct cfo_taskset {
    cfo_task *v;
    size_t n, cap;
    size_t skipped;   /* targets already passing on their commit (needs_seed) */
    size_t unchanged; /* targets the change does not touch (--changed-since) */
} cfo_taskset;

void cfo_taskset_init(cfo_taskset *ts);
void cfo_taskset_fini(cfo_taskset *ts);

typedef struct cfo_taskgen_opts {
    const char *repo; /* a path inside the repository */
    const cfo_config *config;
    const cfo_strv *only;      /* --fuzzer names; empty: all */
    const char *workdir;       /* where worktrees are made (absolute or cwd-relative) */
    const char *runner;        /* absolute path of cfo-fuzz */
    const cfo_recset *prior;   /* the dataset, for skip_passed; may be NULL */
    bool force;                /* run targets that already passed (skip_passed) */
    int64_t task_timeout_ms;   /* the run's --task-timeout */
    const char *changed_since; /* only targets touched since this ref; NULL: all */
    /* A dry run: discovery looks at an exported copy of each commit in a
     * temporary folder, so nothing is created in the repository or workdir. */
    bool dry_run;
    /* Keep the targets skip_passed would leave out, marked passed: --shard
     * divides the whole set, whatever another shard already ran, and leaves
     * them out of its own share afterwards. */
    bool keep_passed;
} cfo_taskgen_opts;

/* Generates every task: for each selected fuzzer, each of its branches
 * (resolved to a sha), each target its discovery lists. Fuzzers that need a
 * working directory get a worktree per commit, shared by their tasks.
 * Errors: CFO_EINVAL for what the user got wrong (not a repository, an
 * unknown branch or fuzzer name), CFO_ECHILD for a discovery that failed. */
cfo_err cfo_taskgen(const cfo_taskgen_opts *opts, cfo_taskset *out, cfo_diag *d);

#endif
