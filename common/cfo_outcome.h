/* cfo_outcome.h -- what a finished task yields: status, figures, output.
 *
 * The one result type: the worker fills it from the executor's result, the
 * wire carries it (cfo_msg_result), the coordinator keeps and journals it,
 * and cfo_record_from_outcome makes the dataset's record of it. A new figure
 * is a member here plus its encoders (cfo_proto.c, cfo_journal.c) and its
 * line in cfo_record_from_outcome. */
#ifndef CFO_OUTCOME_H
#define CFO_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
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
    char *crashes;  /* the findings the fuzzer named: compact JSON array, or NULL */
    char *coverage; /* what an engine measured (cfo_coverage_format's text), or NULL */
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
 * "findings": M, "summary": "...", "crashes": [...], "coverage": {...}}, into o; absent or
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

/* Makes n bytes of a task's output text in place, for JSON, XML and the
 * terminal: a NUL becomes '?', and so does what cfo_utf8_sanitize replaces.
 * tail[n] must be the NUL that ends it. */
void cfo_outcome_tail_to_text(char *tail, size_t n);

/* Fills what the outcome knows of rec: figures, status, command, findings
 * list, attempt (1 when unknown), end time, and worker when o names one. The
 * task's names (commit, fuzzer, branch, target), run, and a worker o does
 * not name are the caller's: set them before or after. rec borrows o's
 * strings. */
void cfo_record_from_outcome(cfo_record *rec, const cfo_outcome *o);

#endif
