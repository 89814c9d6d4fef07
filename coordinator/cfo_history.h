/* cfo_history.h -- a dataset as history: its commits in window order, and per
 * (fuzzer, branch, target) what happened on each, with the regression range
 * that answers "since when is this broken?". */
#ifndef CFO_HISTORY_H
#define CFO_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_record.h"

#define CFO_HISTORY_NONE SIZE_MAX /* no such commit index */

typedef struct cfo_history_commit {
    const char *sha;
    int64_t newest_ms; /* its newest record's time, when has_time */
    bool has_time;
    size_t nrecords;
    /* Series whose newest record on this commit is fail, timeout, error. */
    size_t by_status[CFO_STATUS_COUNT];
} cfo_history_commit;

typedef struct cfo_history_cell {
    size_t commit; /* index into the history's commits */
    const cfo_record *rec;
} cfo_history_cell;

typedef struct cfo_history_series {
    const char *fuzzer, *branch, *target;
    /* The commits it was tested on, oldest first, each with its newest
     * record there. */
    cfo_history_cell *cells;
    size_t ncells;
    /* Every record of the series, in window order (then time). */
    const cfo_record **records;
    size_t nrecords;
    /* Its newest tested commit did not pass (fail, timeout or error). */
    bool failing;
    /* failing: the oldest commit of the failing streak that reaches the
     * newest tested commit; else CFO_HISTORY_NONE. */
    size_t first_bad;
    /* failing: the last commit it passed on before first_bad; passing: the
     * newest commit it passed on. CFO_HISTORY_NONE when the window holds no
     * such pass (failing since before the window began). */
    size_t last_good;
} cfo_history_series;

typedef struct cfo_history {
    cfo_history_commit *commits; /* oldest first, like the merge's window rule */
    size_t ncommits;
    cfo_history_series *series; /* sorted by fuzzer, branch, target */
    size_t nseries;
    size_t nrecords;       /* records used: all but cancelled */
    const cfo_record **rs; /* storage behind the series' records */
    cfo_history_cell *cs;  /* storage behind the series' cells */
} cfo_history;

/* Builds the history of rs, which is borrowed and must outlive it.
 * Commit order is the window rule's: by the newest record's time (records
 * without a time are older than any with one), equal times by sha. The
 * newest record of a cell is the merge's: time, then attempt, then run.
 * Cancelled records are ignored: they say nothing about the target. */
cfo_history *cfo_history_new(const cfo_recset *rs);
void cfo_history_destroy(cfo_history **self_p);

/* The index of the series, or CFO_HISTORY_NONE. */
size_t cfo_history_find(const cfo_history *self, const char *fuzzer, const char *branch,
                        const char *target);

/* fail, timeout and error break a target; pass does not; cancelled says
 * nothing. */
bool cfo_history_status_bad(cfo_status s);

#endif
