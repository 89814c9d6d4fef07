/* cfo_sched.h -- the coordinator's scheduler: serves tasks to workers over
 * ZeroMQ ROUTER sockets by credit, tracks which worker holds which attempt,
 * declares silent workers dead and re-queues their tasks, and commits each
 * result exactly once. Single-host and distributed runs both go through it. */
#ifndef CFO_SCHED_H
#define CFO_SCHED_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cfo_outcome.h"
#include "cfo_task.h"

#define CFO_SCHED_DEFAULT_HEARTBEAT_MS 1000
#define CFO_SCHED_LIVENESS 3     /* silent intervals before a peer is dead */
#define CFO_SCHED_MAX_ATTEMPTS 4 /* a task that killed this many workers is an error */
#define CFO_SCHED_MAX_WORKERS 1024
#define CFO_SCHED_PREFETCH_MAX 64 /* --prefetch, and the default's most */

typedef struct cfo_sched_opts {
    void *sockets[2]; /* ROUTER sockets set up by the caller (tcp, inproc) */
    int nsockets;
    const char *name; /* the program, for progress lines */
    const char *run_id;
    int64_t budget_ms;       /* the run's wall-clock budget */
    int64_t heartbeat_ms;    /* 0: default */
    int64_t wait_workers_ms; /* give up when no worker came by then; 0: never */
    int64_t grace_ms;        /* how long stopped tasks take to report back */
    uint32_t prefetch;       /* tasks a worker may hold beyond its slots */
    bool prefetch_auto;      /* instead: one per slot, for short tasks only */
    uint32_t max_running;    /* tasks out at once across workers; 0: their slots */
    const char *logs_dir;    /* single host: where the worker keeps logs */
    FILE *progress;          /* progress lines; NULL: none */
    bool progress_tty;       /* redraw one line in place */
    bool progress_json;      /* one JSON object per update */
    bool local_worker;       /* single host: the one worker is cfo's own */
    /* Per-task events: a GNU parallel joblog line per finished task (NULL:
     * none), and with events_json a JSON object on stderr when each task
     * starts and ends. */
    FILE *joblog;
    bool events_json;
    int64_t progress_every_ms;
    volatile sig_atomic_t *stop; /* set from a signal handler to stop */
    /* CURVE: the ZAP handler that admitted the workers (NULL: no CURVE), and a
     * flag set from SIGHUP to re-read its allow-dir. */
    struct cfo_zap *zap;
    volatile sig_atomic_t *reload;
    /* The run's journal (NULL: none): each result is made durable there
     * before it is acknowledged. */
    struct cfo_journal *journal;
    /* When the run started (wall clock, ms; 0: now): a resumed run keeps the
     * budget of its first start. */
    int64_t started_wall_ms;
    /* --metrics (NULL: none): the scheduler's figures, published as they
     * change. */
    struct cfo_metrics *metrics;
} cfo_sched_opts;

typedef struct cfo_sched_stats {
    size_t workers_seen;
    size_t sessions_dropped; /* protocol violations and dead workers */
    size_t requeued;         /* attempts re-queued after a worker died */
    bool no_worker;          /* no worker came within wait_workers_ms */
    bool journal_failed;     /* a result could not be made durable: the run stopped */
} cfo_sched_stats;

/* Runs every task of ts with whatever workers connect and fills
 * outcomes[i]; an outcome already done on entry (resumed from a journal) is
 * not run again. Every outcome is done on return ( tasks cut by the budget or a stop are
 * cancelled, tasks whose workers kept dying are errors). Returns when all
 * are done, after telling live workers the run is over. */
void cfo_sched_run(const cfo_taskset *ts, const cfo_sched_opts *opts, cfo_outcome *outcomes,
                   cfo_sched_stats *stats);

#endif
