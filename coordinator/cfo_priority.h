/* cfo_priority.h -- the order a run's tasks are handed out in, learned from
 * the dataset's history, so that a budget cut loses the least. */
#ifndef CFO_PRIORITY_H
#define CFO_PRIORITY_H

#include <stddef.h>

#include "cfo_record.h"
#include "cfo_task.h"

/* In the order of --schedule's words. */
typedef enum cfo_schedule {
    CFO_SCHEDULE_HISTORY, /* failing first, then never run, then longest first */
    CFO_SCHEDULE_FIFO,    /* in the order the tasks were generated */
} cfo_schedule;

/* The words of the orders, indexed by cfo_schedule, NULL-terminated. */
extern const char *const cfo_schedule_names[];

/* Returns 0 and sets *out for "fifo" or "history", else -1. */
int cfo_schedule_parse(const char *name, cfo_schedule *out);

/* The class a task falls in, most urgent first. */
typedef enum cfo_priority_class {
    CFO_PRIORITY_FAILING, /* its target's newest record did not pass: confirm or clear */
    CFO_PRIORITY_NEW,     /* no record of the target yet */
    CFO_PRIORITY_KNOWN,   /* passed last time */
} cfo_priority_class;

/* Reorders ts (and renumbers its ids) by history: failing targets first,
 * then targets never run, then the rest; within each class the longest
 * expected duration first (the mean duration of the target's records of
 * that fuzzer and branch), ties in generation order. A target is the same
 * target on any commit of its branch. prior may be NULL (nothing known). */
void cfo_prioritize(cfo_taskset *ts, const cfo_recset *prior);

/* What cfo_prioritize decided for task i after it ran (for reports and
 * tests): its class and expected duration in seconds (0 when unknown). */
typedef struct cfo_priority_info {
    cfo_priority_class klass;
    double expected;
} cfo_priority_info;

/* Fills info[i] for every task of ts (ts in any order). */
void cfo_priority_classify(const cfo_taskset *ts, const cfo_recset *prior, cfo_priority_info *info);

/* The makespan of list scheduling: tasks taken in the given order, each to
 * the slot that frees first. The benchmark of an order against LPT. */
double cfo_list_makespan(const double *durations, size_t n, size_t slots);

#endif
