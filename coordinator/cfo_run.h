/* cfo_run.h -- running a task set on this machine under a budget. */
#ifndef CFO_RUN_H
#define CFO_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cfo_outcome.h"
#include "cfo_task.h"

typedef struct cfo_run_opts {
    int concurrency;      /* tasks at once, >= 1 */
    int64_t budget_ms;    /* the whole run's wall-clock budget */
    int64_t grace_ms;     /* SIGTERM to SIGKILL; 0: default */
    const char *logs_dir; /* keep each task's output here; NULL: do not */
    FILE *progress;       /* where progress goes; NULL: nowhere */
    bool progress_tty;    /* redraw one line in place instead of printing lines */
    int64_t progress_every_ms;
    /* Set (from a signal handler) to stop: running tasks are cancelled. */
    volatile sig_atomic_t *stop;
} cfo_run_opts;

/* Runs every task of ts and fills outcomes[i] for ts->v[i]. Tasks still
 * queued when the budget ends, or when *stop is set, are cancelled without
 * running; running ones are stopped (their process groups killed). */
void cfo_run_local(const cfo_taskset *ts, const cfo_run_opts *opts, cfo_outcome *outcomes);

/* The log file of a task under dir: dir/<fuzzer>/<branch>/<target>.log with
 * each part made safe as a file name. */
char *cfo_task_log_path(const char *dir, const cfo_task *t);

#endif
