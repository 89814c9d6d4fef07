/* cfo_taskexec.h -- what a worker does with one task: prepare its working
 * directory, build its argv from the worker's own registry (never from the
 * wire), run it with the executor, and describe how it ended. */
#ifndef CFO_TASKEXEC_H
#define CFO_TASKEXEC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfo_config.h"
#include "cfo_exec.h"
#include "cfo_outcome.h"
#include "cfo_proto.h"
#include "cfo_runner.h"

/* Where and how a worker runs tasks; shared by all its task threads. */
typedef struct cfo_task_env {
    const char *repo;          /* top-level directory of the worker's clone */
    const char *workdir;       /* worktrees are made here, one per commit */
    const cfo_config *config;  /* the worker's registry */
    const char *runner;        /* absolute path of cfo-fuzz */
    const char *logs_dir;      /* keep each task's output here, or NULL */
    int64_t grace_ms;          /* SIGTERM to SIGKILL; 0: default */
    uint32_t slots;            /* tasks it runs at once: each gets its share of the CPUs */
    pthread_mutex_t *git_lock; /* serializes worktree creation */
    /* cfo_task_retire_worktrees does nothing: the user said so, or someone
     * else (cfo's run, which knows every task) decides what goes. */
    bool keep_worktrees;
} cfo_task_env;

/* The argv that runs target of fuzzer f, and the shell-quoted command that
 * reproduces it from the worktree's root (the runner named "cfo-fuzz", its
 * --config left out when the config is the repository's own cfo.ini, which
 * the worktree has). */
cfo_err cfo_task_argv(const cfo_fuzzer *f, const char *target, const char *runner,
                      const cfo_config *config, const char *repo, cfo_strv *argv, char **command,
                      cfo_diag *d);

/* Runs task t to its end and fills out (a done outcome in every case: a task
 * that cannot be prepared is an error outcome saying why). deadline_ms is an
 * absolute cfo_now_ms() deadline (0: none); *cancel stops it. */
void cfo_task_execute(const cfo_task_env *env, const cfo_msg_task *t, int64_t deadline_ms,
                      const atomic_bool *cancel, cfo_outcome *out);

/* Removes the worktrees of env's workdir whose commit is not in keep (the
 * commits of the run that just ended), except those a running task holds,
 * wherever it runs; unless env->keep_worktrees. What fails is warned about. */
void cfo_task_retire_worktrees(const cfo_task_env *env, const cfo_strv *keep);

/* Fills o from an executor result: exit 0 pass, 1 fail, other exit error;
 * killed by a signal it did not get from us: error, named in the summary;
 * stopped at its timeout: timeout; killed at its memory limit: oom;
 * stopped at the run's deadline or by a stop request: cancelled. The figures
 * come from the JSON the task wrote to CFO_RESULT_FD ({"count", "findings",
 * "summary", "crashes"}); without it, count is 1 and findings is 1 for
 * fail/timeout/oom, else 0. */
void cfo_outcome_from_exec(cfo_outcome *o, const cfo_exec_result *res, const char *log_path);

#endif
