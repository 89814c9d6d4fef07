/* cfo_covcheck.h -- what the coordinator does with the coverage records
 * carry: a drop between two tested commits of a branch fails the task, and
 * a change-focused run skips engine targets whose coverage misses the
 * change. */
#ifndef CFO_COVCHECK_H
#define CFO_COVCHECK_H

#include <stdbool.h>

#include "cfo_config.h"
#include "cfo_outcome.h"
#include "cfo_record.h"
#include "cfo_task.h"
#include "cfo_util.h"

/* The newest record (time, then attempt) of fuzzer, branch (NULL: any) and
 * target that carries coverage, or NULL. */
const cfo_record *cfo_covcheck_latest(const cfo_recset *prior, const char *fuzzer,
                                      const char *branch, const char *target);

/* For each task that ran to its end with coverage, compares its line
 * coverage with the newest earlier record of its fuzzer, branch and target
 * on another commit: a drop of more than the fuzzer's coverage_drop percent
 * makes the outcome a failure naming the range OLD..NEW, in its summary and
 * as a "coverage_drop" entry of its findings list. A task on the commit of
 * that newest record has nothing to compare with. Returns how many tasks
 * it failed. */
size_t cfo_covcheck_drops(const cfo_taskset *ts, cfo_outcome *outcomes, const cfo_recset *prior);

/* Whether the newest coverage report of fuzzer f's target covers one of
 * files (repository paths): read from CFO_COVERAGE_FILES beside the report
 * the record names. A target with no coverage record, or whose list cannot
 * be read (with a warning), counts as touched: it runs. */
bool cfo_covcheck_touches(const cfo_recset *prior, const cfo_fuzzer *f, const char *target,
                          const cfo_strv *files);

#endif
