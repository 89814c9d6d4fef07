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
#include "cfo_outcome.h"
#include "cfo_proto.h"

/* Where and how a worker runs tasks; shared by all its task threads. */
typedef struct cfo_task_env {
    const char *repo;          /* top-level directory of the worker's clone */
    const char *workdir;       /* worktrees are made here, one per commit */
    const cfo_config *config;  /* the worker's registry */
    const char *runner;        /* absolute path of cfo-fuzz */
    const char *logs_dir;      /* keep each task's output here, or NULL */
    int64_t grace_ms;          /* SIGTERM to SIGKILL; 0: default */
    pthread_mutex_t *git_lock; /* serializes worktree creation */
} cfo_task_env;

/* Appends the runner's argv for fuzzer: runner [--config PATH] NAME. */
void cfo_runner_argv(cfo_strv *argv, const char *runner, const cfo_config *config,
                     const char *fuzzer);

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

/* The log file of a task under dir: dir/<fuzzer>/<branch>/<target>.log with
 * each part made safe as a file name. */
char *cfo_task_log_path(const char *dir, const char *fuzzer, const char *branch,
                        const char *target);

#endif
