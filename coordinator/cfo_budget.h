/* cfo_budget.h -- time for tasks that fuzz for as long as they are given
 * (coverage-guided engines): a fuzzer's budget_share of the run's slot time,
 * divided among its targets in proportion to their recent yield, never
 * below a floor, so a productive target gets more and none starves. */
#ifndef CFO_BUDGET_H
#define CFO_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "cfo_record.h"
#include "cfo_task.h"

/* A target's floor: this percent of what an even split would give it. */
#define CFO_BUDGET_FLOOR_PERCENT 25
/* No task is given less fuzzing time than this. */
#define CFO_BUDGET_MIN_TASK_MS 5000

/* Whether tasks of f fill the time they are given rather than end by
 * themselves. */
typedef bool (*cfo_fills_time_fn)(const cfo_fuzzer *f);

/* The engines' answer: coverage-guided fuzzers run until their time is up. */
bool cfo_budget_engine_fills_time(const cfo_fuzzer *f);

/* A target's recent yield: the findings of its records (any commit of the
 * branch within the dataset's window) of that fuzzer and branch. */
int64_t cfo_budget_yield(const cfo_recset *prior, const char *fuzzer, const char *branch,
                         const char *target);

/* For each fuzzer that fills_time and has a budget_share: its pool,
 * share x budget_ms x slots, goes to its tasks as
 *   floor + rest x (1 + yield_i) / sum(1 + yield_j),
 * floor = CFO_BUDGET_FLOOR_PERCENT of pool / ntasks, and each task's
 * timeout_ms becomes min(timeout_ms, max(that, CFO_BUDGET_MIN_TASK_MS) +
 * room), room being what the task needs beyond fuzzing: the fuzzer's
 * triage_time. Tasks of other fuzzers keep their timeouts. prior may be
 * NULL. */
void cfo_budget_allocate(cfo_taskset *ts, const cfo_recset *prior, int64_t budget_ms,
                         uint32_t slots, cfo_fills_time_fn fills_time);

#endif
