/* cfo_runfindings.h -- what a run does with findings: which of its crashes a
 * pull request's base already has (--changed-since), the findings of its
 * targets for the reports, notify_command after an upload, and SARIF. */
#ifndef CFO_RUNFINDINGS_H
#define CFO_RUNFINDINGS_H

#include <stdbool.h>
#include <stdio.h>

#include "cfo_config.h"
#include "cfo_findings.h"
#include "cfo_outcome.h"
#include "cfo_record.h"
#include "cfo_storage.h"
#include "cfo_task.h"
#include "cfo_util.h"

/* The findings a run reports: those of the (fuzzer, target) pairs it ran. */
typedef struct cfo_run_findings {
    cfo_findings v;
    /* Signatures (crash state text) that also reproduce on the base of a
     * --changed-since run: pre-existing, listed but not failing the run. */
    cfo_strv preexisting;
    char *base; /* that base commit, when one was checked */
} cfo_run_findings;

void cfo_run_findings_init(cfo_run_findings *rf);
void cfo_run_findings_fini(cfo_run_findings *rf);

/* With --changed-since ref: replays each crash the engine tasks found (a
 * bundle each) in a worktree of the merge base of ref and the task's commit
 * under workdir, with cfo-crash (beside runner) and its reproduce.sh, which
 * builds that commit once and reuses the build for the other bundles.
 * preexisting[i] is set for a failed engine task whose every crash
 * reproduced there; the signatures go to rf->preexisting. */
void cfo_run_findings_check_base(cfo_run_findings *rf, const char *runner, const char *top,
                                 const char *workdir, const char *ref, const cfo_taskset *ts,
                                 const cfo_outcome *outcomes, int64_t timeout_ms,
                                 bool *preexisting);

/* Fills rf->v with the findings of the run's targets: the dataset's after
 * the upload (uploaded), else the dataset's moved by the run's records as an
 * upload would have moved them. A dataset that cannot be read leaves it
 * empty, with a warning. */
void cfo_run_findings_collect(cfo_run_findings *rf, cfo_storage *st, bool uploaded,
                              const cfo_recset *records, const cfo_config *config,
                              const cfo_taskset *ts);

/* Runs config's notify_command with events (JSON lines) on stdin. A command
 * that fails is a warning: the dataset is already written. */
void cfo_run_findings_notify(const cfo_config *config, const cfo_buf *events);

/* The findings section of the end-of-run table. */
void cfo_run_findings_print(FILE *out, const cfo_run_findings *rf);
/* The same as markdown for the step summary (text escaped). */
void cfo_run_findings_markdown(cfo_buf *out, const cfo_run_findings *rf);

/* The findings as a JSON array (each finding as the dataset holds it, plus
 * "shown": open, fixed, regressed or pre-existing). */
void cfo_run_findings_json(cfo_buf *out, const cfo_run_findings *rf);
/* A JUnit <testsuite name="findings">: a testcase per finding, a failure
 * per open finding that is not pre-existing. */
void cfo_run_findings_junit(cfo_buf *out, const cfo_run_findings *rf);

/* Whether f is pre-existing (its crash reproduced on the base). */
bool cfo_run_findings_is_preexisting(const cfo_run_findings *rf, const cfo_finding *f);

#endif
