/* cfo_metrics.h -- the coordinator's figures in Prometheus text format at
 * /metrics (cfo-coordinator --metrics HOST:PORT). libmicrohttpd serves them
 * on a thread of its own; the scheduler only writes numbers under a mutex
 * held for a copy, so no scrape, however slow its client, holds it up. */
#ifndef CFO_METRICS_H
#define CFO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_outcome.h"
#include "cfo_task.h"
#include "cfo_util.h"

typedef struct cfo_metrics cfo_metrics;

/* Where to listen: "PORT" or ":PORT" is 127.0.0.1 (0.0.0.0 with insecure),
 * "HOST:PORT" and "[V6]:PORT" are that address. CFO_EINVAL with the reason
 * for anything else. */
cfo_err cfo_metrics_parse_address(const char *spec, bool insecure, char *host, size_t hostlen,
                                  uint16_t *port, cfo_diag *d);

/* Starts serving spec (see above) for the fuzzers of ts (their names and
 * kinds are kept; ts may change afterwards). *out is NULL on error. */
cfo_err cfo_metrics_start(const char *spec, bool insecure, const cfo_taskset *ts,
                          const char *run_id, cfo_metrics **out, cfo_diag *d);
/* Stops the server and frees m; accepts NULL. */
void cfo_metrics_stop(cfo_metrics **m);

/* Where it listens, "HOST:PORT" (the port chosen when 0 was asked). */
const char *cfo_metrics_address(const cfo_metrics *m);

/* The scheduler's view, published whole. fuzzer_* arrays are indexed like the
 * fuzzer names given to cfo_metrics_set_fuzzers. */
typedef struct cfo_metrics_gauges {
    size_t workers, slots, slots_busy;
    int64_t budget_left_ms;
} cfo_metrics_gauges;

void cfo_metrics_publish(cfo_metrics *m, const cfo_metrics_gauges *g);
/* Tasks of fuzzer now queued and running. */
void cfo_metrics_set_pending(cfo_metrics *m, const char *fuzzer, size_t queued, size_t running);
/* One attempt of a task of fuzzer given to a worker. */
void cfo_metrics_attempt(cfo_metrics *m, const char *fuzzer);
/* A task that ended: its status, duration and figures (count is executions
 * for engine fuzzers). A result of a worker (not a cancellation by the run)
 * counts as committed. */
void cfo_metrics_task_done(cfo_metrics *m, const char *fuzzer, const cfo_outcome *o,
                           bool committed);
/* A dataset write: ok or not, after attempts read-merge-write rounds. */
void cfo_metrics_dataset_write(cfo_metrics *m, bool ok, int attempts);

/* The text /metrics answers with (caller frees): for tests and for a file. */
char *cfo_metrics_render(cfo_metrics *m);

#endif
