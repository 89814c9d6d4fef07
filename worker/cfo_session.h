/* cfo_session.h -- a worker's session with the coordinator: HELLO, tasks by
 * credit, results kept until ACKed and re-offered after a reconnect,
 * heartbeats, reconnection with backoff. */
#ifndef CFO_SESSION_H
#define CFO_SESSION_H

#include <signal.h>
#include <stdint.h>

#include "cfo_taskexec.h"

#define CFO_SESSION_BACKOFF_MAX_MS 32000
#define CFO_SESSION_LIVENESS 3 /* silent heartbeat intervals before reconnecting */

typedef struct cfo_session_opts {
    void *zctx;           /* the ZeroMQ context (shared with an inproc coordinator) */
    const char *endpoint; /* tcp://host:port or inproc://name */
    const char *worker_id;
    uint32_t slots;
    const cfo_task_env *env;
    int64_t heartbeat_ms;        /* until the coordinator says otherwise; 0: default */
    volatile sig_atomic_t *stop; /* set from a signal handler: cancel, report, leave */
    /* CURVE (both or neither): this worker's secret key and the coordinator's
     * public key, which pins the server it will talk to. */
    const char *curve_secret;
    const char *server_key;
    /* Give up (exit 3) when no coordinator has accepted this worker within
     * this long; 0: keep trying. */
    int64_t connect_timeout_ms;
    /* The worker of a single-host cfo, on an inproc:// endpoint: joining and
     * leaving are no news there, so they are not logged. */
    bool local;
} cfo_session_opts;

/* Serves the coordinator until it says the run is over (BYE) or *stop is
 * set. Returns 0 after a BYE, 3 when it could not start or no coordinator
 * accepted it within connect_timeout_ms. */
int cfo_session_run(const cfo_session_opts *opts);

#endif
