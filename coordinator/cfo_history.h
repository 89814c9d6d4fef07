/* cfo_history.h -- a dataset as history: its commits in the order git history
 * puts them (record time when git cannot tell), and per (fuzzer, branch,
 * target) what happened on each, with the regression range that answers
 * "since when is this broken?". */
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
    /* Placed by git history, with its parents' shas (space-separated);
     * else NULL, and placed by record time before every commit git placed. */
    const char *parents;
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
     * such pass: first_bad is then its first record. */
    size_t last_good;
    /* The target's own records behind those two: the oldest of the failing
     * streak's records on first_bad, and the newest pass on last_good (NULL
     * with no such commit). Their times are the target's, not the commit's. */
    const cfo_record *first_bad_rec, *last_good_rec;
    /* Failing with no earlier pass of its own: a pass of the same fuzzer and
     * target on a git parent of first_bad (its own branch first, then any),
     * which dates the break exactly; else NULL. */
    const cfo_record *parent_pass;
    /* A canary's series (cfo_history_mark_canary): its planned failure is the
     * harness working, so it is never failing. canary_last is its newest
     * record by time (the harness's latest word, whatever commit it ran
     * on); canary_broken when that is not the failure it must be. */
    bool canary, canary_broken;
    const cfo_record *canary_last;
} cfo_history_series;

typedef struct cfo_history {
    cfo_history_commit *commits; /* oldest first */
    size_t ncommits;
    size_t ngit;                /* commits placed by git history (the last ngit) */
    cfo_history_series *series; /* sorted by fuzzer, branch, target */
    size_t nseries;
    size_t nrecords; /* records used: all but cancelled */
    size_t ncanary;  /* canary series, and of them those broken */
    size_t ncanary_broken;
    const cfo_record **rs; /* storage behind the series' records */
    cfo_history_cell *cs;  /* storage behind the series' cells */
} cfo_history;

/* A commit's place in git history, for cfo_history_new_git. */
typedef struct cfo_history_git {
    const char *sha;     /* full sha */
    const char *parents; /* its parents' full shas, space-separated */
} cfo_history_git;

/* Builds the history of rs, which is borrowed and must outlive it.
 * Commit order is record time, the window rule's: by the newest record's
 * time (records without a time are older than any with one), equal times
 * by sha. The newest record of a cell is the merge's: time, then attempt,
 * then run. Cancelled records are ignored: they say nothing about the
 * target. */
cfo_history *cfo_history_new(const cfo_recset *rs);

/* The same with the commits git knows in git's order: git (borrowed, must
 * outlive the history) lists commits oldest first. A commit re-tested
 * after a newer one keeps its place. Commits of rs that git does not list
 * come first, in record-time order. */
cfo_history *cfo_history_new_git(const cfo_recset *rs, const cfo_history_git *git, size_t ngit);
void cfo_history_destroy(cfo_history **self_p);

/* Marks every series of fuzzer, a canary, as the harness check it is: not
 * failing, with no range, left out of the commits' by_status counts;
 * canary_broken when its newest record by time is not a failure. */
void cfo_history_mark_canary(cfo_history *self, const char *fuzzer);

/* A history of some of the records of full (narrowed to a fuzzer or a
 * branch) has its series failing since their first record date the break
 * by the parent passes their series have in full, which sees the other
 * branches. full's records must outlive self. */
void cfo_history_parents_from(cfo_history *self, const cfo_history *full);

/* Series that fail now, canaries left out. */
size_t cfo_history_failing(const cfo_history *self);

/* The index of the series, or CFO_HISTORY_NONE. */
size_t cfo_history_find(const cfo_history *self, const char *fuzzer, const char *branch,
                        const char *target);

/* The newest record of series s on commit sha that carries coverage, or
 * NULL. */
const cfo_record *cfo_history_coverage_on(const cfo_history_series *s, const char *sha);

/* fail, timeout and error break a target; pass does not; cancelled says
 * nothing. */
bool cfo_history_status_bad(cfo_status s);

#endif
