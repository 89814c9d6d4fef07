/* cfo_progress.h -- how a running orchestrator shows its progress: a line in
 * place on a terminal, plain lines in a log. */
#ifndef CFO_PROGRESS_H
#define CFO_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfo_util.h"

typedef struct cfo_progress_worker {
    const char *id;
    size_t done; /* tasks it finished (cancelled ones left out) */
    size_t busy; /* tasks it holds now */
    bool live;
} cfo_progress_worker;

/* What the scheduler knows at one moment. elapsed_ms counts from the run's
 * start, discovery included: the clock the budget is counted on. done
 * counts finished tasks; cancelled ones (cut by the budget or a stop) are
 * counted apart. */
typedef struct cfo_progress_snapshot {
    int64_t elapsed_ms;
    int64_t budget_left_ms;
    size_t total, done, cancelled, running, queued, failed;
    size_t slots; /* of the live workers */
    const cfo_progress_worker *workers;
    size_t nworkers; /* live and gone */
} cfo_progress_snapshot;

typedef struct cfo_progress {
    FILE *out;        /* NULL: say nothing */
    const char *name; /* the program */
    bool tty;         /* redraw one line in place */
    bool json;        /* one JSON object per update, for machines */
    bool local;       /* single host: the one worker is cfo's own, "local worker" */
} cfo_progress;

/* Prints one update; final closes the line on a terminal and adds a line per
 * worker. On a terminal the line is redrawn in place ("\r", erase to the end
 * of the line) and cut to the terminal's width; in a log it is one plain line
 * "NAME: elapsed: 3s, done: 4/10 (1.33 tasks/s), cancelled: 0, ..."; json: one
 * object per line with the snapshot's figures and tasks_per_s. */
void cfo_progress_print(const cfo_progress *p, const cfo_progress_snapshot *s, bool final);

/* Appends the text of one update, without "\r" or newline: the bar line
 * (tty) or the log line. */
void cfo_progress_format(const cfo_progress_snapshot *s, bool tty, const char *name, cfo_buf *out);

/* Tasks finished per second of elapsed time (0 before any time passed). */
double cfo_progress_rate(const cfo_progress_snapshot *s);

#endif
