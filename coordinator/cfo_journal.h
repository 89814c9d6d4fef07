/* cfo_journal.h -- the coordinator's append-only journal of a run (its id,
 * task set and every committed outcome), so a coordinator started again
 * with the same --state-dir resumes the run instead of throwing it away. */
#ifndef CFO_JOURNAL_H
#define CFO_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cfo_config.h"
#include "cfo_error.h"
#include "cfo_outcome.h"
#include "cfo_task.h"

/* The file is a magic, then entries of a checksummed header (length, body
 * checksum) and a JSON body. An end cut short (or zero-filled, or a last
 * body failing its checksum) is the torn tail of a crash and is removed when
 * the journal is opened; damage anywhere before it is refused, and the file
 * is left as it is. */
typedef struct cfo_journal cfo_journal;

/* What a journal says about the run it holds. */
typedef struct cfo_journal_run {
    char *run_id;
    int64_t started_wall_ms;
    int64_t budget_ms;
    bool finished; /* uploaded (or ended without --upload): nothing to resume */
    size_t committed;
} cfo_journal_run;

/* Opens (creating) DIR/journal and reads what it holds. */
cfo_err cfo_journal_open(const char *dir, cfo_journal **out, cfo_diag *d);
void cfo_journal_close(cfo_journal **self_p);

/* Reads a journal's bytes as cfo_journal_open reads its file: CFO_OK with
 * *intact the length before the torn tail and *committed the commits of
 * its run, or CFO_EPARSE for damage (what fuzzing and tests of the reader
 * call). */
cfo_err cfo_journal_check(const void *data, size_t len, size_t *intact, size_t *committed,
                          cfo_diag *d);

/* The run the journal holds, or NULL when it holds none. */
const cfo_journal_run *cfo_journal_run_info(const cfo_journal *self);

/* Starts a new run: the journal is emptied, then holds the run's header and
 * task set (fsynced). */
cfo_err cfo_journal_begin(cfo_journal *self, const char *run_id, int64_t started_wall_ms,
                          int64_t budget_ms, const cfo_taskset *ts, cfo_diag *d);

/* Rebuilds the journal's task set (fuzzers looked up in config) and fills
 * outcomes[i] of every committed task; outcomes has room for ts->n after
 * this returns (allocated here, calloc'd). */
cfo_err cfo_journal_restore(const cfo_journal *self, const cfo_config *config, cfo_taskset *ts,
                            cfo_outcome **outcomes, cfo_diag *d);

/* Appends task's outcome and makes it durable (fdatasync) before returning:
 * call it before acknowledging the result. */
cfo_err cfo_journal_commit(cfo_journal *self, size_t task, const cfo_outcome *o, cfo_diag *d);

/* Notes that task was given to worker at attempt, so that a restarted
 * coordinator believes that worker, and only it, when it re-offers the
 * task's result at that attempt. Not synced. */
cfo_err cfo_journal_give(cfo_journal *self, size_t task, uint32_t attempt, const char *worker,
                         cfo_diag *d);

/* The last attempt of task given out in the journal's run, and to whom;
 * false when none was. */
bool cfo_journal_given(const cfo_journal *self, size_t task, uint32_t *attempt,
                       const char **worker);

/* Records that the run's results are in the dataset (or that the run ended
 * without --upload): a later start begins a new run. */
cfo_err cfo_journal_finish(cfo_journal *self, cfo_diag *d);

#endif
