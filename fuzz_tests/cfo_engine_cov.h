/* cfo_engine_cov.h -- an engine task's coverage step: the corpus replayed
 * through the coverage build, measured with llvm-profdata and llvm-cov,
 * and the HTML report stored beside the corpora. */
#ifndef CFO_ENGINE_COV_H
#define CFO_ENGINE_COV_H

#include "cfo_coverage.h"
#include "cfo_engine.h"

/* Measures r's target: the coverage build (cfo_engine_coverage_build),
 * then <coverage_dir>/<target> run once over every input of the ndirs
 * folders dirs (-runs=0), llvm-profdata merge, llvm-cov export
 * -summary-only for the figures, llvm-cov show -format=html for the
 * report. The report and CFO_COVERAGE_FILES go to
 * <corpus>/coverage/<FUZZER>/<target>/<commit>/ (replacing what an earlier
 * run of that commit stored). Fills *out (seconds: the whole step; report:
 * the stored index.html). Ends by deadline_ms (cfo_now_ms(); 0: none). */
cfo_err cfo_engine_coverage(const cfo_engine_run *r, const char *const *dirs, size_t ndirs,
                            const char *commit, int64_t deadline_ms, cfo_coverage *out,
                            cfo_diag *d);

/* The commit the task runs on: $CFO_COMMIT when it is a hex sha, else the
 * worktree's HEAD (git rev-parse); NULL with d saying why (free it). */
char *cfo_engine_commit(cfo_diag *d);

/* Reads llvm-cov export's JSON (-summary-only): the totals into out, and
 * into files (when not NULL) the source files with a covered line, with
 * the prefix root + "/" taken off those under root. CFO_EPARSE when the
 * text is not such a report. */
cfo_err cfo_engine_coverage_parse(const char *json, size_t len, const char *root, cfo_coverage *out,
                                  cfo_strv *files, cfo_diag *d);

/* Stores the report folder html_dir and CFO_COVERAGE_FILES (files, one a
 * line) under <corpus>/coverage/<FUZZER>/<target_name>/<commit>/,
 * replacing what an earlier run of that commit stored; sets out->report
 * (the stored index.html) and out->seconds (since start_ms, cfo_now_ms()). */
cfo_err cfo_engine_coverage_store(const cfo_fuzzer *f, const char *target_name, const char *commit,
                                  const char *html_dir, const cfo_strv *files, int64_t start_ms,
                                  cfo_coverage *out, cfo_diag *d);

/* What a coverage step ended with, into the task's result: cov as its
 * coverage object when err is CFO_OK, else d's reason in its summary (the
 * fuzzing's verdict stands either way); both said in the log. */
void cfo_engine_coverage_result(cfo_err err, const cfo_coverage *cov, const cfo_diag *d,
                                cfo_fuzz_result *res);

/* Time a coverage step's tool gets: what is left until deadline_ms, at
 * least a second; 0 (no limit) without a deadline. */
int64_t cfo_engine_coverage_left_ms(int64_t deadline_ms);

#endif
