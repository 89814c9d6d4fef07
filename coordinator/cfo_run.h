/* cfo_run.h -- one run of the orchestrator, shared by cfo and
 * cfo-coordinator, in phases: load (configuration, dataset), plan (tasks,
 * their order, the budget), execute (the scheduler), commit (records, the
 * upload, the journal) and report. */
#ifndef CFO_RUN_H
#define CFO_RUN_H

#include <signal.h>
#include <stdint.h>

#include "cfo_config.h"
#include "cfo_error.h"

/* What cfo's local worker is started with. */
typedef struct cfo_local_worker_spec {
    void *zctx;           /* the scheduler's ZeroMQ context */
    const char *endpoint; /* its inproc:// endpoint */
    const char *worker_id;
    uint32_t slots;
    const char *repo;    /* the repository's top folder */
    const char *workdir; /* where worktrees are made (absolute) */
    const char *runner;  /* cfo-fuzz */
    const char *logs_dir;
    const cfo_config *config;
    int64_t grace_ms, heartbeat_ms;
    volatile sig_atomic_t *stop; /* set when the run is stopped */
} cfo_local_worker_spec;

/* How cfo joins a worker to the run: the coordinator calls these hooks and
 * so includes nothing of the worker layer. */
typedef struct cfo_local_worker_hooks {
    /* Starts the worker (on its own thread); returns its handle, or NULL
     * with d saying why. spec lives until join returns. */
    void *(*start)(const cfo_local_worker_spec *spec, cfo_diag *d);
    /* Waits until the worker has left (the scheduler said BYE, or *stop was
     * set) and frees it. */
    void (*join)(void *handle);
} cfo_local_worker_hooks;

/* Runs the orchestrator with argv's options: as cfo, whose tasks a local
 * worker started through local runs, or as cfo-coordinator (local NULL),
 * serving workers that connect. Returns the exit status DESIGN.md gives. */
int cfo_orchestrator_main(int argc, char **argv, const cfo_local_worker_hooks *local);

#endif
