/* cfo_report.h -- what a run tells people and CI: the summary table, the
 * JSON run report, JUnit XML and the GitHub step summary. */
#ifndef CFO_REPORT_H
#define CFO_REPORT_H

#include <stdio.h>

#include "cfo_outcome.h"
#include "cfo_task.h"

typedef struct cfo_run_info {
    const char *run_id;
    const char *worker;
    int64_t started_wall_ms;
    int64_t finished_wall_ms;
    int exit_code;
    const char *verdict; /* one sentence: why the run exits as it does */
    /* The findings of the run's targets, rendered for each report (NULL:
     * none): a JSON array, a JUnit <testsuite>, a markdown section. */
    const char *findings_json, *findings_junit, *findings_markdown;
} cfo_run_info;

/* The record a finished task contributes to the dataset: the task's names,
 * run_id, worker when the outcome names none, and the rest from the outcome
 * (cfo_record_from_outcome). Strings borrowed. */
void cfo_task_record(const cfo_task *t, const cfo_outcome *o, const char *run_id,
                     const char *worker, cfo_record *out);

/* Per fuzzer: tasks, passed, failed, timeouts, errors, cancelled, and the
 * slowest target; then the CFO_REPORT_SLOWEST slowest tasks of the run;
 * then every task that did not pass, with its summary. */
#define CFO_REPORT_SLOWEST 5
void cfo_report_summary(FILE *out, const cfo_taskset *ts, const cfo_outcome *outcomes);

/* {"run":..., "exit_code":..., "totals":{...}, "tasks":[{record..., "summary",
 * "log", "output_tail"}]}; written to a temp file then renamed. */
cfo_err cfo_report_json(const char *path, const cfo_taskset *ts, const cfo_outcome *outcomes,
                        const cfo_run_info *info, cfo_diag *d);

/* One <testsuite> per fuzzer, one <testcase> per task; fail and timeout are
 * <failure>, error is <error>, cancelled is <skipped>, with the output tail. */
cfo_err cfo_report_junit(const char *path, const cfo_taskset *ts, const cfo_outcome *outcomes,
                         const cfo_run_info *info, cfo_diag *d);

/* Appends a markdown summary to path (GitHub Actions shows the file named by
 * GITHUB_STEP_SUMMARY on the run's page): a heading with the run id, the
 * exit code and verdict, the per-fuzzer table, and every task that did not
 * pass with its summary and the command that reproduces it (the first
 * CFO_STEP_SUMMARY_MAX_TASKS of them; the JUnit file has all). Text from tasks
 * is escaped so it cannot break the table or inject HTML. */
#define CFO_STEP_SUMMARY_MAX_TASKS 50
cfo_err cfo_report_step_summary(const char *path, const cfo_taskset *ts,
                                const cfo_outcome *outcomes, const cfo_run_info *info, cfo_diag *d);

#endif
