/* cfo_outcome.h -- what a finished task yields: status, figures, output. */
#ifndef CFO_OUTCOME_H
#define CFO_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

#include "cfo_record.h"

typedef struct cfo_outcome {
    bool done; /* false: the task never finished (not run) */
    cfo_status status;
    int64_t count;
    int64_t findings;
    double duration; /* seconds */
    bool has_usage;  /* cpu and max_rss_kb are known */
    double cpu;      /* CPU seconds */
    int64_t max_rss_kb;
    char *crashes; /* the findings the fuzzer named: compact JSON array, or NULL */
    int64_t end_wall_ms;
    int exit_code;    /* -1 when it did not exit normally */
    int term_signal;  /* 0 unless killed by a signal it did not get from us */
    char *summary;    /* one line: the fuzzer's own, or what happened */
    char *tail;       /* the end of its output */
    char *log_path;   /* where the full output was saved, or NULL */
    char *command;    /* the shell-quoted command that reproduces it, or NULL */
    char *worker;     /* who ran it, or NULL */
    uint32_t attempt; /* which attempt this is (1 first) */
} cfo_outcome;

/* Reads the figures a task wrote to CFO_RESULT_FD, {"count": N,
 * "findings": M, "summary": "...", "crashes": [...]}, into o; absent or
 * malformed parts leave o's values. Returns false when the text is not such
 * an object. */
bool cfo_outcome_parse_figures(cfo_outcome *o, const char *json);
/* The findings list (JSON text from a task, a worker or a journal) as the
 * dataset keeps it: compact, an array of flat objects, at most
 * CFO_RECORD_MAX_CRASHES bytes. NULL, with a warning, for anything else,
 * so hostile text never reaches the dataset. */
char *cfo_outcome_compact_crashes(const char *json);
/* A task cut by the budget before it started. */
void cfo_outcome_cancelled(cfo_outcome *o, const char *why);
/* A task that could not be run at all (no worktree, no such fuzzer...). */
void cfo_outcome_error(cfo_outcome *o, const char *why);
/* Gives an outcome that never reached a worker (error before it ran) the
 * runner command that reproduces its task, since a record always has one. */
void cfo_outcome_fill_command(cfo_outcome *o, const char *fuzzer, const char *target);
void cfo_outcome_fini(cfo_outcome *o);

#endif
