/* cfo_shard.h -- --shard K/N: runner K of N runs its share of the tasks, for
 * CI matrices whose jobs cannot reach each other. Every runner computes the
 * same division from the same inputs, so the N shares are disjoint and
 * together are the whole set; the shares are balanced by the durations the
 * dataset's history expects, not by count. */
#ifndef CFO_SHARD_H
#define CFO_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "cfo_record.h"
#include "cfo_task.h"
#include "cfo_util.h"

typedef struct cfo_shard {
    uint32_t k; /* 1..n: this runner */
    uint32_t n; /* 0: no sharding */
} cfo_shard;

/* The most shards a run may be divided into. */
#define CFO_SHARD_MAX 4096

/* Parses "K/N" (1 <= K <= N <= CFO_SHARD_MAX) or "auto", which reads CircleCI's
 * CIRCLE_NODE_INDEX (0-based) and CIRCLE_NODE_TOTAL. CFO_EINVAL with the
 * reason for anything else, or for "auto" without those variables. */
cfo_err cfo_shard_parse(const char *spec, cfo_shard *out, cfo_diag *d);

/* The expected duration of each task, in seconds, for dividing the set: the
 * mean duration of its target's records of that fuzzer and branch on commits
 * this set does not test (records on the tested commits are what the other
 * shards of this very run write, and must not change the division); a task
 * with none is given the mean of the others (1 s when none is known). */
void cfo_shard_expected(const cfo_taskset *ts, const cfo_recset *prior, double *expected);

/* Which shard (1..n) each task belongs to: longest expected first, ties by
 * (fuzzer, branch, target), each to the shard with the least expected time
 * so far (the lowest numbered on a tie); canary tasks all go to shard 1, so
 * the canary runs once per run. */
void cfo_shard_assign(const cfo_taskset *ts, const double *expected, uint32_t n, uint32_t *owner);

/* Keeps in ts only shard s's tasks (ids renumbered, generation order kept),
 * then leaves out those marked passed (counted in ts->skipped). Returns the
 * expected seconds of the share kept in *share_s and of the whole set in
 * *total_s (either may be NULL). */
void cfo_shard_select(cfo_taskset *ts, const cfo_recset *prior, const cfo_shard *s, double *share_s,
                      double *total_s);

#endif
